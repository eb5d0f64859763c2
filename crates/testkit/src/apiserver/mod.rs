//! An in-memory Kubernetes API server.
//!
//! It serves the REST API of the built-in types the operator uses and of every CRD
//! registered with it, over real HTTP on loopback ([`ApiServer::serve`]) or in-process
//! ([`ApiServer::client`] hands the same router to `kube::Client` without a socket). The
//! semantics are kube-apiserver's on the paths the operator uses; see [`store`] for the
//! list and the sources. Tests can inject faults and read a request log.
//!
//! Not implemented, with a clear error: server-side apply and strategic merge patch
//! (415), deletecollection (405).

pub mod builtin;
mod http;
pub mod jsonpath;
pub mod logs;
pub mod openapi;
pub mod patch;
pub mod pods;
pub mod protobuf;
pub mod scale;
pub mod selector;
pub mod simulator;
pub mod store;
pub mod strategic;
pub mod table;
pub mod types;

use std::net::SocketAddr;
use std::path::Path;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use axum::Router;
use axum::response::Response;
use serde_json::Value;
use tokio::sync::broadcast;

use store::{ApiError, Store};
use types::ResourceType;

/// One request as the server saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RequestRecord {
    /// get, list, watch, create, update, patch, delete, ...
    pub verb: String,
    /// The resource's plural name (empty for discovery).
    pub resource: String,
    pub method: String,
    /// Path and query.
    pub path: String,
    pub user_agent: String,
    pub status: u16,
}

impl RequestRecord {
    /// Whether the request changed (or tried to change) something.
    pub fn is_write(&self) -> bool {
        matches!(self.verb.as_str(), "create" | "update" | "patch" | "delete" | "deletecollection")
    }
}

/// An injected error: answer `status` to a share `rate` of matching requests.
#[derive(Debug, Clone)]
pub struct FaultRule {
    /// Verb to match (`None`: every verb).
    pub verb: Option<String>,
    /// Resource (plural) to match (`None`: every resource).
    pub resource: Option<String>,
    /// Share of matching requests that fail, 0.0 to 1.0.
    pub rate: f64,
    /// 500, 503, 429, ...
    pub status: u16,
    /// `Retry-After` seconds (sent with 429).
    pub retry_after: Option<u32>,
}

#[derive(Debug, Default)]
struct Faults {
    rules: Vec<FaultRule>,
    latency: Duration,
    /// Conflicts to answer to the next writes.
    conflicts: u32,
    /// How late watch events reach their clients.
    watch_delay: Duration,
    rng: u64,
}

impl Faults {
    fn next_f64(&mut self) -> f64 {
        // xorshift64*: deterministic for a given seed.
        let mut x = self.rng.max(1);
        x ^= x >> 12;
        x ^= x << 25;
        x ^= x >> 27;
        self.rng = x;
        (x.wrapping_mul(0x2545_f491_4f6c_dd1d) >> 11) as f64 / (1u64 << 53) as f64
    }
}

/// Settings of a server.
#[derive(Debug, Clone)]
pub struct Options {
    /// Events kept for watches that resume from a resource version.
    pub event_log: usize,
    /// How often a watch that asked for bookmarks gets one.
    pub bookmark_interval: Duration,
    /// Seed of the fault injector.
    pub seed: u64,
}

impl Default for Options {
    fn default() -> Self {
        Options { event_log: 10_000, bookmark_interval: Duration::from_secs(5), seed: 1 }
    }
}

pub(crate) struct Shared {
    pub(crate) store: Mutex<Store>,
    pub(crate) events: broadcast::Sender<Arc<store::Event>>,
    pub(crate) closes: tokio::sync::watch::Sender<u64>,
    pub(crate) requests: Mutex<Vec<RequestRecord>>,
    faults: Mutex<Faults>,
    pub(crate) bookmark_interval: Duration,
    pub(crate) logs: logs::LogSources,
    /// RBAC enforced on the requests of one user agent (a service account's client).
    authorizer: Mutex<Option<Authorizer>>,
}

/// Who is authorized, and by what.
struct Authorizer {
    user_agent: String,
    user: String,
    grants: Arc<crate::rbac::Grants>,
}

/// The server. Cheap to clone; clones share the data.
#[derive(Clone)]
pub struct ApiServer {
    pub(crate) shared: Arc<Shared>,
}

impl Default for ApiServer {
    fn default() -> Self {
        Self::new(Options::default())
    }
}

/// A server listening on a socket.
pub struct Running {
    pub addr: SocketAddr,
    pub handle: tokio::task::JoinHandle<std::io::Result<()>>,
}

impl Running {
    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://{}", self.addr)
    }
}

/// The namespaces kube-apiserver creates at start (its system namespaces controller).
pub const SYSTEM_NAMESPACES: [&str; 4] =
    ["default", "kube-system", "kube-public", "kube-node-lease"];

impl ApiServer {
    /// A server with the built-in types, and nothing stored but the system namespaces.
    pub fn new(options: Options) -> Self {
        let (events, _) = broadcast::channel(65_536);
        let (closes, _) = tokio::sync::watch::channel(0);
        let server = ApiServer {
            shared: Arc::new(Shared {
                store: Mutex::new(Store::new(types::builtins(), options.event_log)),
                events,
                closes,
                requests: Mutex::new(Vec::new()),
                faults: Mutex::new(Faults { rng: options.seed, ..Default::default() }),
                bookmark_interval: options.bookmark_interval,
                logs: Default::default(),
                authorizer: Mutex::default(),
            }),
        };
        server.write(|s| {
            let namespaces = s.find_type("", "v1", "namespaces").cloned().expect("built in");
            for name in SYSTEM_NAMESPACES {
                let ns = serde_json::json!({"metadata": {"name": name}});
                s.create(&namespaces, "", ns, false).expect("a fresh store takes them");
            }
        });
        server
    }

    /// The log of the Pods of `owner` (a Deployment or DaemonSet in `namespace`): what is
    /// pushed to it is what `kubectl logs` shows for them.
    pub fn attach_log(&self, namespace: &str, owner: &str) -> logs::LogSource {
        self.shared.logs.attach(namespace, owner)
    }

    /// Runs `f` on the store and hands the events it produced to the watchers.
    pub fn write<T>(&self, f: impl FnOnce(&mut Store) -> T) -> T {
        let mut store = self.shared.store.lock().expect("store lock");
        let out = f(&mut store);
        for e in store.pending.drain(..) {
            // No receiver is not an error: nobody watches.
            let _receivers = self.shared.events.send(e);
        }
        out
    }

    /// Reads the store.
    pub fn read<T>(&self, f: impl FnOnce(&Store) -> T) -> T {
        f(&self.shared.store.lock().expect("store lock"))
    }

    /// Registers a CRD (given as JSON) as the API would: stores it and serves its type.
    pub fn register_crd(&self, crd: Value) -> Result<(), String> {
        let t = ResourceType::from_crd(&crd)?;
        let crd_type = self
            .read(|s| {
                s.find_type("apiextensions.k8s.io", "v1", "customresourcedefinitions").cloned()
            })
            .expect("built in");
        let name = crd.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string();
        let mut crd = crd;
        crd["status"] = established();
        self.write(|s| {
            s.register(t);
            match s.create(&crd_type, "", crd.clone(), false) {
                Ok(_) => Ok(()),
                Err(e) if e.code == 409 => s
                    .get(&crd_type, "", &name)
                    .and_then(|old| {
                        let mut next = crd;
                        next["metadata"] = old["metadata"].clone();
                        s.update(&crd_type, "", &name, next, false, false).map(|_| ())
                    })
                    .map_err(|e| e.message),
                Err(e) => Err(e.message),
            }
        })
    }

    /// Registers every CRD in the YAML files of `dir`; returns how many.
    pub fn register_crds_from_dir(&self, dir: &Path) -> Result<usize, String> {
        let mut n = 0;
        let mut entries: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(Result::ok)
            .map(|e| e.path())
            .collect();
        entries.sort();
        for path in
            entries.iter().filter(|p| p.extension().is_some_and(|e| e == "yaml" || e == "yml"))
        {
            let text =
                std::fs::read_to_string(path).map_err(|e| format!("{}: {e}", path.display()))?;
            for doc in crate::yaml_docs(&text).map_err(|e| format!("{}: {e}", path.display()))? {
                if doc.get("kind").and_then(Value::as_str) == Some("CustomResourceDefinition") {
                    self.register_crd(doc).map_err(|e| format!("{}: {e}", path.display()))?;
                    n += 1;
                }
            }
        }
        Ok(n)
    }

    pub(crate) fn register_type_from_crd(&self, crd: &Value) -> Result<(), String> {
        let t = ResourceType::from_crd(crd)?;
        let name = crd.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string();
        let crd_type = self
            .read(|s| {
                s.find_type("apiextensions.k8s.io", "v1", "customresourcedefinitions").cloned()
            })
            .expect("built in");
        self.write(|s| {
            s.register(t);
            s.set_status(&crd_type, "", &name, established());
        });
        Ok(())
    }

    pub(crate) fn unregister_type_of_crd(&self, crd: &Value) {
        if let Ok(t) = ResourceType::from_crd(crd) {
            self.write(|s| s.unregister(&t.group, &t.plural));
        }
    }

    /// Creates `obj` with `dryRun=All`, as `kubectl apply --dry-run=server` would: its type
    /// is found from `apiVersion` and `kind`, its namespace from `metadata.namespace`. The
    /// answer is what the server would store (defaults filled in), or its error.
    pub fn dry_run_create(&self, obj: Value) -> Result<Value, ApiError> {
        let api_version = obj.get("apiVersion").and_then(Value::as_str).unwrap_or("");
        let kind = obj.get("kind").and_then(Value::as_str).unwrap_or("");
        let t = self
            .read(|s| {
                s.types.iter().find(|t| t.api_version() == api_version && t.kind == kind).cloned()
            })
            .ok_or_else(|| {
                ApiError::new(404, "NotFound", format!("no type {api_version} {kind} is served"))
            })?;
        let ns =
            obj.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("").to_string();
        self.write(|s| s.create(&t, &ns, obj, true))
    }

    /// The router serving the API.
    pub fn router(&self) -> Router {
        Router::new().fallback(http::handle).with_state(self.clone())
    }

    /// A client talking to this server in-process.
    pub fn client(&self) -> kube::Client {
        kube::Client::new(self.router(), "default")
    }

    /// Serves on `addr` (port 0 picks a free one) until the task is aborted.
    pub async fn serve(&self, addr: SocketAddr) -> std::io::Result<Running> {
        let listener = tokio::net::TcpListener::bind(addr).await?;
        let addr = listener.local_addr()?;
        let router = self.router();
        let handle = tokio::spawn(async move { axum::serve(listener, router).await });
        Ok(Running { addr, handle })
    }

    /// From now on, requests with user agent `user_agent` are authorized as `user` (a
    /// service account, `system:serviceaccount:<ns>:<name>`) holding `grants`: what RBAC
    /// denies is answered 403 Forbidden, as kube-apiserver's authorizer answers it.
    pub fn authorize(&self, user_agent: &str, user: &str, grants: crate::rbac::Grants) {
        *self.shared.authorizer.lock().expect("authorizer") = Some(Authorizer {
            user_agent: user_agent.to_string(),
            user: user.to_string(),
            grants: Arc::new(grants),
        });
    }

    /// The 403 for a request RBAC denies (`None`: allowed, or not checked).
    pub(crate) fn forbidden(&self, user_agent: &str, verb: &str, path: &str) -> Option<ApiError> {
        let guard = self.shared.authorizer.lock().expect("authorizer");
        let a = guard.as_ref().filter(|a| a.user_agent == user_agent)?;
        let attrs = crate::rbac::attributes(verb, path)?;
        if a.grants.allowing(&attrs).is_some() {
            return None;
        }
        Some(crate::rbac::forbidden(&a.user, &attrs))
    }

    /// Every request so far.
    pub fn requests(&self) -> Vec<RequestRecord> {
        self.shared.requests.lock().expect("request log").clone()
    }

    /// Forgets the request log.
    pub fn clear_requests(&self) {
        self.shared.requests.lock().expect("request log").clear();
    }

    /// Keeps only the newest `keep` events: watches from older versions get 410 Gone.
    pub fn compact(&self, keep: usize) {
        self.write(|s| s.compact(keep));
    }

    /// Adds an error rule.
    pub fn inject(&self, rule: FaultRule) {
        self.shared.faults.lock().expect("faults").rules.push(rule);
    }

    /// Removes every fault.
    pub fn clear_faults(&self) {
        let mut f = self.shared.faults.lock().expect("faults");
        f.rules.clear();
        f.latency = Duration::ZERO;
        f.conflicts = 0;
        f.watch_delay = Duration::ZERO;
    }

    /// Adds latency to every request.
    pub fn set_latency(&self, latency: Duration) {
        self.shared.faults.lock().expect("faults").latency = latency;
    }

    /// Delays every watch event by `delay` before it reaches its client, as a busy real
    /// server's watch lags its writes (a create's own answer is not delayed).
    pub fn set_watch_delay(&self, delay: Duration) {
        self.shared.faults.lock().expect("faults").watch_delay = delay;
    }

    pub(crate) fn watch_delay(&self) -> Duration {
        self.shared.faults.lock().expect("faults").watch_delay
    }

    /// Answers 409 Conflict to the next `n` updates and patches.
    pub fn conflict_next_writes(&self, n: u32) {
        self.shared.faults.lock().expect("faults").conflicts = n;
    }

    /// Closes every open watch stream (clients reconnect from their last version).
    pub fn close_watches(&self) {
        self.shared.closes.send_modify(|n| *n += 1);
    }

    pub(crate) fn fault(&self, verb: &str, resource: &str) -> Option<Response> {
        let mut f = self.shared.faults.lock().expect("faults");
        let rules: Vec<FaultRule> = f.rules.clone();
        for rule in rules {
            if rule.verb.as_deref().is_some_and(|v| v != verb)
                || rule.resource.as_deref().is_some_and(|r| r != resource)
            {
                continue;
            }
            if f.next_f64() < rule.rate {
                let (reason, message) = match rule.status {
                    429 => (
                        "TooManyRequests",
                        "the server has received too many requests and has asked us to try again later",
                    ),
                    503 => (
                        "ServiceUnavailable",
                        "the server is currently unable to handle the request",
                    ),
                    _ => (
                        "InternalError",
                        "an error on the server (\"injected fault\") has prevented the request from succeeding",
                    ),
                };
                let e = ApiError::new(rule.status, reason, message);
                let mut r = Response::new(axum::body::Body::from(
                    serde_json::to_vec(&e.status()).expect("JSON"),
                ));
                *r.status_mut() = ::http::StatusCode::from_u16(rule.status)
                    .unwrap_or(::http::StatusCode::INTERNAL_SERVER_ERROR);
                r.headers_mut().insert(
                    ::http::header::CONTENT_TYPE,
                    ::http::HeaderValue::from_static("application/json"),
                );
                if let Some(s) = rule.retry_after {
                    r.headers_mut()
                        .insert(::http::header::RETRY_AFTER, ::http::HeaderValue::from(s));
                }
                return Some(r);
            }
        }
        None
    }

    pub(crate) async fn delay(&self) {
        let latency = self.shared.faults.lock().expect("faults").latency;
        if !latency.is_zero() {
            tokio::time::sleep(latency).await;
        }
    }

    pub(crate) fn take_conflict(&self, t: &ResourceType, name: &str) -> Option<ApiError> {
        let mut f = self.shared.faults.lock().expect("faults");
        if f.conflicts == 0 {
            return None;
        }
        f.conflicts -= 1;
        Some(ApiError::new(
            409,
            "Conflict",
            format!(
                "Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again",
                t.qualified()
            ),
        ))
    }
}

fn established() -> Value {
    serde_json::json!({"conditions": [
        {"type": "NamesAccepted", "status": "True", "reason": "NoConflicts", "message": "no conflicts found"},
        {"type": "Established", "status": "True", "reason": "InitialNamesAccepted", "message": "the initial names have been accepted"}
    ]})
}

/// A kubeconfig for `server_url` with one context, `testkit`, and no credentials.
pub fn kubeconfig(server_url: &str) -> String {
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: testkit\n  cluster:\n    server: {server_url}\ncontexts:\n- name: testkit\n  context:\n    cluster: testkit\n    user: testkit\n    namespace: default\ncurrent-context: testkit\nusers:\n- name: testkit\n  user: {{}}\npreferences: {{}}\n"
    )
}
