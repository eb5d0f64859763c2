//! What the operator's watches have seen, so that a pass reads from memory instead of
//! asking the API server again.
//!
//! Objects are keyed by the resource URL of the watch (`/apis/apps/v1/namespaces/<ns>/
//! deployments`) and their name. A resource is answered from the cache only after its
//! watch has listed everything once (and again after every relist); until then reads go to
//! the API server. The watch updates the cache before it asks for a pass, so a pass always
//! sees at least the change that triggered it.

use std::collections::HashMap;
use std::sync::{Arc, Mutex, RwLock};

use serde_json::Value;

#[derive(Default)]
struct Resource {
    ready: bool,
    /// Shared with the passes that read them: a read copies no object.
    objects: HashMap<String, Arc<Value>>,
}

/// The cache, shared by the watches and the passes.
#[derive(Clone, Default)]
pub struct Cache {
    inner: Arc<RwLock<HashMap<String, Resource>>>,
    /// The versions of each object the operator wrote and the watches delivered. Taken
    /// before `inner` whenever both are.
    versions: Arc<Mutex<HashMap<(String, String), Versions>>>,
}

/// What is known of one object's versions (by resource URL and name).
#[derive(Default)]
struct Versions {
    /// Versions the operator's own writes returned, until their watch event comes back:
    /// that event tells a pass nothing it does not already know.
    written: Vec<String>,
    /// The last versions its watch delivered, newest last. A write whose answer is read
    /// after the watch delivered it (and perhaps a newer version) is not news.
    delivered: Vec<String>,
}

/// Versions remembered per object: a pass writes one object a few times at most (spec,
/// then status), and an echo that never comes must not grow the record.
const WRITES_KEPT: usize = 4;
const DELIVERED_KEPT: usize = 8;

/// Appends `v` to `list`, dropping the oldest beyond `keep`.
fn push_bounded(list: &mut Vec<String>, v: &str, keep: usize) {
    if list.len() == keep {
        list.remove(0);
    }
    list.push(v.to_string());
}

fn resource_version(obj: &Value) -> Option<&str> {
    obj.pointer("/metadata/resourceVersion").and_then(Value::as_str)
}

fn name(obj: &Value) -> String {
    obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string()
}

impl Cache {
    /// A cache of its own that shares the record of own writes (the Config's watch: the
    /// Config is read fresh at every pass, but its echoes are still recognised).
    pub fn detached(&self) -> Cache {
        Cache { inner: Arc::default(), versions: self.versions.clone() }
    }

    /// The operator wrote `obj` (as the API server returned it) under `url`, over version
    /// `base`: its echo is expected, and when `url` is answered from memory the next pass
    /// reads this version, not the one the watch has yet to replace. A write that returns
    /// `base` changed nothing and has no event; a version the watch delivered already is
    /// no news, and the cache may hold a newer one.
    pub fn wrote(&self, url: &str, obj: Value, base: Option<&str>) {
        let Some(rv) = resource_version(&obj).map(str::to_string) else { return };
        if Some(rv.as_str()) == base {
            return;
        }
        let mut versions = self.versions.lock().expect("cache");
        let v = versions.entry((url.to_string(), name(&obj))).or_default();
        if v.delivered.contains(&rv) {
            return;
        }
        push_bounded(&mut v.written, &rv, WRITES_KEPT);
        if let Some(r) = self.inner.write().expect("cache").get_mut(url).filter(|r| r.ready) {
            r.objects.insert(name(&obj), Arc::new(obj));
        }
    }

    /// Whether a watch event carries a version the operator wrote itself (each is
    /// recognised once).
    pub fn echo(&self, url: &str, obj: &Value) -> bool {
        let Some(rv) = resource_version(obj) else { return false };
        let mut versions = self.versions.lock().expect("cache");
        let Some(v) = versions.get_mut(&(url.to_string(), name(obj))) else { return false };
        let Some(i) = v.written.iter().position(|w| w == rv) else { return false };
        v.written.remove(i);
        true
    }

    /// A relist starts: `url` is not answered from memory until it is done.
    pub fn restart(&self, url: &str) {
        let mut m = self.inner.write().expect("cache");
        let r = m.entry(url.to_string()).or_default();
        r.ready = false;
        r.objects.clear();
    }

    /// A relist is done.
    pub fn ready(&self, url: &str) {
        self.inner.write().expect("cache").entry(url.to_string()).or_default().ready = true;
    }

    /// The watch delivered `obj` (added or changed).
    pub fn put(&self, url: &str, obj: Value) {
        let mut versions = self.versions.lock().expect("cache");
        if let Some(rv) = resource_version(&obj) {
            let v = versions.entry((url.to_string(), name(&obj))).or_default();
            push_bounded(&mut v.delivered, rv, DELIVERED_KEPT);
        }
        self.inner
            .write()
            .expect("cache")
            .entry(url.to_string())
            .or_default()
            .objects
            .insert(name(&obj), Arc::new(obj));
    }

    /// The watch delivered the deletion of `obj`.
    pub fn remove(&self, url: &str, obj: &Value) {
        let mut versions = self.versions.lock().expect("cache");
        let key = (url.to_string(), name(obj));
        if versions.get(&key).is_some_and(|v| v.written.is_empty()) {
            versions.remove(&key);
        }
        if let Some(r) = self.inner.write().expect("cache").get_mut(url) {
            r.objects.remove(&key.1);
        }
    }

    /// `None` when `url` is not cached (ask the API server); `Some(None)` when the object
    /// does not exist.
    pub fn get(&self, url: &str, name: &str) -> Option<Option<Arc<Value>>> {
        let m = self.inner.read().expect("cache");
        let r = m.get(url).filter(|r| r.ready)?;
        Some(r.objects.get(name).cloned())
    }

    /// Every cached object of `url`, or `None` when it is not cached.
    pub fn list(&self, url: &str) -> Option<Vec<Arc<Value>>> {
        let m = self.inner.read().expect("cache");
        let r = m.get(url).filter(|r| r.ready)?;
        Some(r.objects.values().cloned().collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn answers_only_when_listed() {
        let c = Cache::default();
        let url = "/api/v1/namespaces/n/secrets";
        assert_eq!(c.get(url, "a"), None);
        c.restart(url);
        c.put(url, json!({"metadata": {"name": "a"}}));
        assert_eq!(c.get(url, "a"), None, "not ready during the relist");
        c.ready(url);
        assert_eq!(c.get(url, "a"), Some(Some(Arc::new(json!({"metadata": {"name": "a"}})))));
        assert_eq!(c.get(url, "b"), Some(None), "known to be absent");
        c.remove(url, &json!({"metadata": {"name": "a"}}));
        assert_eq!(c.get(url, "a"), Some(None));
        assert_eq!(c.list(url).map(|l| l.len()), Some(0));
        c.restart(url);
        assert_eq!(c.list(url), None);
    }

    #[test]
    fn own_writes_are_recognised_once() {
        let c = Cache::default();
        let url = "/apis/apps/v1/namespaces/n/deployments";
        let at = |rv: &str| json!({"metadata": {"name": "d", "resourceVersion": rv}});
        c.wrote(url, at("5"), Some("4"));
        c.wrote(url, at("6"), Some("5"));
        c.wrote(url, at("7"), Some("7"));
        assert!(!c.echo(url, &at("7")), "a write that changed nothing has no event of its own");
        assert!(!c.echo(url, &at("8")), "another writer's version");
        assert!(!c.echo("/api/v1/namespaces/n/secrets", &at("5")), "another resource");
        assert!(c.echo(url, &at("5")));
        assert!(!c.echo(url, &at("5")), "recognised once");
        let detached = c.detached();
        assert!(detached.echo(url, &at("6")), "the record is shared");
        assert!(!c.echo(url, &at("6")));
        for rv in 10..20 {
            c.wrote(url, at(&rv.to_string()), None);
        }
        assert!(!c.echo(url, &at("10")), "only the last few are kept");
        assert!(c.echo(url, &at("19")));
        assert!(!c.echo(url, &json!({"metadata": {"name": "d"}})), "no version, no echo");
    }

    /// The answer to a write can be read after the watch delivered the version it returned
    /// and a newer one (another writer's): the newer stays, and it was news.
    #[test]
    fn a_late_answer_neither_hides_nor_replaces_a_newer_version() {
        let c = Cache::default();
        let url = "/apis/apps/v1/namespaces/n/deployments";
        let at = |rv: &str, replicas: u32| {
            json!({"metadata": {"name": "d", "resourceVersion": rv},
                "status": {"availableReplicas": replicas}})
        };
        c.restart(url);
        c.ready(url);
        c.put(url, at("10", 0));
        assert!(!c.echo(url, &at("11", 1)), "the simulator's status wakes a pass");
        c.put(url, at("11", 1));
        c.wrote(url, at("10", 0), None);
        assert_eq!(c.get(url, "d").unwrap().unwrap()["status"]["availableReplicas"], 1);
        c.put(url, at("12", 1));
        assert!(!c.echo(url, &at("10", 0)), "a delivered version is not awaited again");

        // Once deleted and created again, the record starts over.
        c.remove(url, &at("12", 1));
        c.wrote(url, at("10", 0), None);
        assert!(c.echo(url, &at("10", 0)));
    }

    #[test]
    fn writes_are_remembered_only_for_listed_resources() {
        let c = Cache::default();
        let (listed, unwatched) = ("/api/v1/namespaces/n/secrets", "/api/v1/nodes");
        let at = |name: &str, rv: &str| json!({"metadata": {"name": name, "resourceVersion": rv}});
        c.restart(listed);
        c.ready(listed);
        c.wrote(listed, at("a", "1"), None);
        c.wrote(unwatched, at("n", "2"), None);
        assert_eq!(c.get(listed, "a"), Some(Some(Arc::new(at("a", "1")))));
        assert_eq!(c.get(unwatched, "n"), None, "still read from the API server");
        c.restart(listed);
        c.wrote(listed, at("b", "3"), None);
        c.ready(listed);
        assert_eq!(c.get(listed, "b"), Some(None), "a relist decides, not a write during it");
    }
}
