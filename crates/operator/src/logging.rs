//! The operator's log verbosity, set from `spec.operatorLogLevel` as klog's `-v` is in the
//! reference: Normal 2, Debug 4, Trace 6, TraceAll 8.

use std::sync::OnceLock;
use std::sync::atomic::{AtomicU8, Ordering};

use api::LogLevel;

static VERBOSITY: AtomicU8 = AtomicU8::new(2);

/// The verbosity of a log level.
pub fn verbosity_of(level: LogLevel) -> u8 {
    match level {
        LogLevel::Debug => 4,
        LogLevel::Trace => 6,
        LogLevel::TraceAll => 8,
        LogLevel::Normal | LogLevel::Unset => 2,
    }
}

/// Sets the verbosity from `spec.operatorLogLevel`; says so when it changes.
pub fn set(level: LogLevel) {
    let v = verbosity_of(level);
    let before = VERBOSITY.swap(v, Ordering::Relaxed);
    if before != v {
        log(0, &format!("log verbosity set to {v} ({level:?})"));
    }
}

/// The current verbosity.
pub fn verbosity() -> u8 {
    VERBOSITY.load(Ordering::Relaxed)
}

/// Where log lines go besides stderr (`local`: the operator Pod's log).
type Sink = Box<dyn Fn(&str) + Send + Sync>;
static SINK: OnceLock<Sink> = OnceLock::new();

/// Sends every line logged from now on to `sink` too (once per process; later calls are
/// ignored).
pub fn tee(sink: impl Fn(&str) + Send + Sync + 'static) {
    let _first = SINK.set(Box::new(sink));
}

/// Logs `line` on stderr when the verbosity is at least `v`.
pub fn log(v: u8, line: &str) {
    if v <= verbosity() {
        let line = format!("{} {line}", jiff::Timestamp::now().strftime("%H:%M:%S%.3f"));
        eprintln!("{line}");
        if let Some(sink) = SINK.get() {
            sink(&line);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels() {
        assert_eq!(
            [
                LogLevel::Unset,
                LogLevel::Normal,
                LogLevel::Debug,
                LogLevel::Trace,
                LogLevel::TraceAll
            ]
            .map(verbosity_of),
            [2, 2, 4, 6, 8]
        );
        set(LogLevel::Trace);
        assert_eq!(verbosity(), 6);
        set(LogLevel::Normal);
        assert_eq!(verbosity(), 2);
    }
}
