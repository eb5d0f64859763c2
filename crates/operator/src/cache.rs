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
    /// Versions the operator's own writes returned, by resource URL and name, until their
    /// watch event comes back: that event tells a pass nothing it does not already know.
    written: Arc<Mutex<OwnWrites>>,
}

/// Resource versions of own writes by (resource URL, name).
type OwnWrites = HashMap<(String, String), Vec<String>>;

/// Own writes remembered per object: a pass writes one object a few times at most
/// (spec, then status), and an echo that never comes must not grow the record.
const WRITES_KEPT: usize = 4;

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
        Cache { inner: Arc::default(), written: self.written.clone() }
    }

    /// The operator wrote `obj` (as the API server returned it) under `url`.
    pub fn wrote(&self, url: &str, obj: &Value) {
        let Some(rv) = resource_version(obj) else { return };
        let mut w = self.written.lock().expect("cache");
        let versions = w.entry((url.to_string(), name(obj))).or_default();
        if versions.len() == WRITES_KEPT {
            versions.remove(0);
        }
        versions.push(rv.to_string());
    }

    /// Whether a watch event carries a version the operator wrote itself (each is
    /// recognised once).
    pub fn echo(&self, url: &str, obj: &Value) -> bool {
        let Some(rv) = resource_version(obj) else { return false };
        let mut w = self.written.lock().expect("cache");
        let key = (url.to_string(), name(obj));
        let Some(versions) = w.get_mut(&key) else { return false };
        let Some(i) = versions.iter().position(|v| v == rv) else { return false };
        versions.remove(i);
        if versions.is_empty() {
            w.remove(&key);
        }
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

    /// An object was added or changed.
    pub fn put(&self, url: &str, obj: Value) {
        self.inner
            .write()
            .expect("cache")
            .entry(url.to_string())
            .or_default()
            .objects
            .insert(name(&obj), Arc::new(obj));
    }

    /// An object the operator wrote, when `url` is answered from memory (a resource no
    /// watch lists is never cached).
    pub fn put_if_listed(&self, url: &str, obj: Value) {
        if let Some(r) = self.inner.write().expect("cache").get_mut(url).filter(|r| r.ready) {
            r.objects.insert(name(&obj), Arc::new(obj));
        }
    }

    /// An object was deleted.
    pub fn remove(&self, url: &str, obj: &Value) {
        if let Some(r) = self.inner.write().expect("cache").get_mut(url) {
            r.objects.remove(&name(obj));
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
        c.wrote(url, &at("5"));
        c.wrote(url, &at("6"));
        assert!(!c.echo(url, &at("7")), "another writer's version");
        assert!(!c.echo("/api/v1/namespaces/n/secrets", &at("5")), "another resource");
        assert!(c.echo(url, &at("5")));
        assert!(!c.echo(url, &at("5")), "recognised once");
        let detached = c.detached();
        assert!(detached.echo(url, &at("6")), "the record is shared");
        assert!(!c.echo(url, &at("6")));
        for rv in 10..20 {
            c.wrote(url, &at(&rv.to_string()));
        }
        assert!(!c.echo(url, &at("10")), "only the last few are kept");
        assert!(c.echo(url, &at("19")));
        assert!(!c.echo(url, &json!({"metadata": {"name": "d"}})), "no version, no echo");
    }

    #[test]
    fn writes_are_remembered_only_for_listed_resources() {
        let c = Cache::default();
        let (listed, unwatched) = ("/api/v1/namespaces/n/secrets", "/api/v1/nodes");
        c.restart(listed);
        c.ready(listed);
        c.put_if_listed(listed, json!({"metadata": {"name": "a"}, "data": {"k": "1"}}));
        c.put_if_listed(unwatched, json!({"metadata": {"name": "n"}}));
        assert_eq!(
            c.get(listed, "a"),
            Some(Some(Arc::new(json!({"metadata": {"name": "a"}, "data": {"k": "1"}}))))
        );
        assert_eq!(c.get(unwatched, "n"), None, "still read from the API server");
        c.restart(listed);
        c.put_if_listed(listed, json!({"metadata": {"name": "b"}}));
        c.ready(listed);
        assert_eq!(c.get(listed, "b"), Some(None), "a relist decides, not a write during it");
    }
}
