//! `pods/<name>/log`: what `kubectl logs` reads. A Pod's log comes from a source attached
//! to its owner's name (the in-process operator of `local`), else it is the one line that
//! says the workload is simulated.

use std::sync::{Arc, Mutex};

use tokio::sync::broadcast;

/// Log lines written by something running in this process, kept for `kubectl logs` and
/// sent to followers as they come.
#[derive(Clone)]
pub struct LogSource {
    lines: Arc<Mutex<Vec<String>>>,
    tx: broadcast::Sender<String>,
}

/// Lines kept for readers that come later (the oldest go first).
const KEPT: usize = 10_000;

impl Default for LogSource {
    fn default() -> Self {
        LogSource { lines: Arc::default(), tx: broadcast::channel(1024).0 }
    }
}

impl LogSource {
    /// Adds a line (without its newline).
    pub fn push(&self, line: &str) {
        let mut lines = self.lines.lock().expect("log lines");
        if lines.len() == KEPT {
            lines.remove(0);
        }
        lines.push(line.to_string());
        // Nobody following is not an error.
        let _followers = self.tx.send(line.to_string());
    }

    /// The lines so far (the last `tail` when given), and a receiver of those to come.
    pub fn read(&self, tail: Option<usize>) -> (Vec<String>, broadcast::Receiver<String>) {
        let lines = self.lines.lock().expect("log lines");
        let from = tail.map_or(0, |t| lines.len().saturating_sub(t));
        (lines[from..].to_vec(), self.tx.subscribe())
    }
}

/// The sources, by (namespace, owner name): a Pod named `<owner>-...` reads its owner's.
#[derive(Default)]
pub(crate) struct LogSources(Mutex<Vec<(String, String, LogSource)>>);

impl LogSources {
    pub(crate) fn attach(&self, namespace: &str, owner: &str) -> LogSource {
        let source = LogSource::default();
        let mut all = self.0.lock().expect("log sources");
        all.retain(|(n, o, _)| !(n == namespace && o == owner));
        all.push((namespace.to_string(), owner.to_string(), source.clone()));
        source
    }

    /// The source of Pod `pod`: the longest owner name it starts with.
    pub(crate) fn of(&self, namespace: &str, pod: &str) -> Option<LogSource> {
        let all = self.0.lock().expect("log sources");
        all.iter()
            .filter(|(n, o, _)| n == namespace && pod.starts_with(&format!("{o}-")))
            .max_by_key(|(_, o, _)| o.len())
            .map(|(_, _, s)| s.clone())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_by_owner_and_tail() {
        let sources = LogSources::default();
        let op = sources.attach("ns", "operator");
        op.push("one");
        op.push("two");
        let found = sources.of("ns", "operator-6d4f-x2b9z").expect("the owner's");
        assert_eq!(found.read(None).0, ["one", "two"]);
        assert_eq!(found.read(Some(1)).0, ["two"]);
        assert!(sources.of("ns", "image-registry-1").is_none());
        assert!(sources.of("other", "operator-1").is_none());
        let (_, mut rx) = found.read(None);
        op.push("three");
        assert_eq!(rx.try_recv().unwrap(), "three");
    }
}
