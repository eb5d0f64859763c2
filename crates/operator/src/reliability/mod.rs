//! The reliability runs behind `operator-bench reliability` and the short tests of
//! `crates/operator/tests/reliability.rs`: loopback only, bounded, stopping by themselves.
//!
//! * [`corpus`]: bad inputs kept as files (`crates/operator/tests/bad-input/`), each applied
//!   to a running operator, each to give a condition with a clear reason and message and an
//!   Event, with no panic, no delete and no secret shown;
//! * [`faults`]: API fault runs against a fault-free one (`RELIABILITY_DEBUG=1` prints the
//!   Config's condition states they went through);
//! * [`edits`]: a user's edits while the operator writes the Config back;
//! * [`crashes`]: the operator binary killed and restarted at drawn moments, against
//!   storage servers on loopback;
//! * [`storage_faults`]: the S3 endpoint down (refusing, 500, throttling) through an
//!   install, then back;
//! * [`Watchdog`]: what every run checks besides: panics, and secret values in log lines,
//!   Events and statuses.

use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use kube::Api;
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use serde::Deserialize;
use serde_json::Value;
use testkit::apiserver::ApiServer;
use tokio::sync::watch;

use crate::local_cmd::{Storage, seeded_server_with};
use crate::sync::Context;

pub mod crashes;
pub mod storage_faults;

const NS: &str = render::names::NAMESPACE;

/// The next number of a xorshift sequence (the runs' drawn moments: cheap, and the same
/// for a seed everywhere).
pub(crate) fn xorshift(state: &mut u64) -> u64 {
    *state ^= *state << 13;
    *state ^= *state >> 7;
    *state ^= *state << 17;
    *state
}

/// Panics and log lines of this process, for the checks of every run.
pub struct Watchdog {
    panics: AtomicUsize,
    lines: Mutex<Vec<String>>,
}

impl Watchdog {
    /// The process's watchdog: installed once (a panic hook that counts, a log tee).
    pub fn get() -> &'static Watchdog {
        static DOG: OnceLock<&'static Watchdog> = OnceLock::new();
        DOG.get_or_init(|| {
            let dog: &'static Watchdog = Box::leak(Box::new(Watchdog {
                panics: AtomicUsize::new(0),
                lines: Mutex::new(Vec::new()),
            }));
            let previous = std::panic::take_hook();
            std::panic::set_hook(Box::new(move |info| {
                dog.panics.fetch_add(1, Ordering::Relaxed);
                previous(info);
            }));
            crate::logging::tee(move |line| {
                dog.lines.lock().expect("log lines").push(line.to_string())
            });
            dog
        })
    }

    pub fn panics(&self) -> usize {
        self.panics.load(Ordering::Relaxed)
    }

    /// How many lines were logged so far (a mark for [`Watchdog::lines_since`]).
    pub fn mark(&self) -> usize {
        self.lines.lock().expect("log lines").len()
    }

    pub fn lines_since(&self, mark: usize) -> Vec<String> {
        self.lines.lock().expect("log lines").get(mark..).unwrap_or_default().to_vec()
    }
}

/// Where each of `secrets` (values of at least 6 bytes) shows in `texts`: one line per
/// leak, naming the place, never the value.
pub fn leaks(secrets: &[String], texts: &[(String, String)]) -> Vec<String> {
    let mut out = Vec::new();
    for (place, text) in texts {
        for (i, s) in secrets.iter().enumerate().filter(|(_, s)| s.len() >= 6) {
            if text.contains(s.as_str()) {
                out.push(format!("secret value #{i} shown in {place}"));
            }
        }
    }
    out
}

/// What a run shows a user: the log lines, the Events, and the statuses of the Config,
/// the ImagePruner and the ClusterOperator, each with where it is. An error when they
/// cannot be read: a scan of nothing would find no leak.
pub async fn shown(server: &ApiServer, lines: &[String]) -> Result<Vec<(String, String)>, String> {
    let unread = |e: kube::Error| format!("what the run shows could not be read: {e}");
    let mut out: Vec<(String, String)> =
        lines.iter().map(|l| ("the operator's log".to_string(), l.clone())).collect();
    let events: Api<k8s_openapi::api::core::v1::Event> = Api::all(server.client());
    for e in events.list(&Default::default()).await.map_err(unread)?.items {
        let place = format!("Event {}", e.reason.clone().unwrap_or_default());
        out.push((place, e.message.unwrap_or_default()));
    }
    let objects = [
        ("imageregistry.operator.openshift.io", "configs"),
        ("imageregistry.operator.openshift.io", "imagepruners"),
        ("config.openshift.io", "clusteroperators"),
    ];
    for (group, plural) in objects {
        let r = ApiResource {
            group: group.into(),
            version: "v1".into(),
            api_version: format!("{group}/v1"),
            kind: String::new(),
            plural: plural.into(),
        };
        let api: Api<DynamicObject> = Api::all_with(server.client(), &r);
        for o in api.list(&Default::default()).await.map_err(unread)?.items {
            let status = o.data.get("status").map(Value::to_string).unwrap_or_default();
            out.push((format!("{plural}/{} status", o.metadata.name.unwrap_or_default()), status));
        }
    }
    Ok(out)
}

/// The controller on `server`, in this process.
pub struct Running {
    stop: watch::Sender<bool>,
    task: tokio::task::JoinHandle<()>,
    pub results: watch::Receiver<Option<Result<crate::sync::Summary, String>>>,
    provisioner: storage::provision::Provisioner,
}

impl Running {
    pub fn start(server: &ApiServer, storage: &Storage) -> Running {
        let client = crate::client::in_process(server);
        let mut ctx = Context::new(client, crate::render_cmd::operator_env());
        let provisioner = storage.provisioner();
        ctx.provisioner = provisioner.clone();
        let (stop, stop_rx) = watch::channel(false);
        let (results_tx, results) = watch::channel(None);
        let metrics = Arc::new(crate::metrics::Metrics::default());
        let task = tokio::spawn(crate::controller::run(ctx, stop_rx, results_tx, metrics));
        Running { stop, task, results, provisioner }
    }

    /// Requests the controller sent to storage servers so far (every attempt).
    pub fn storage_requests(&self) -> u64 {
        self.provisioner.round_trips()
    }

    /// Waits for a finished pass, successful or not (`limit` at most); whether one finished.
    pub async fn passed(&mut self, limit: Duration) -> bool {
        let done = self.results.wait_for(Option::is_some);
        tokio::time::timeout(limit, done).await.is_ok_and(|r| r.is_ok())
    }

    /// Whether the controller is still running (it ends only when stopped, or by a panic).
    pub fn alive(&self) -> bool {
        !self.task.is_finished()
    }

    pub async fn stop(self) {
        let _ = self.stop.send(true);
        let _ = self.task.await;
    }
}

pub mod corpus {
    //! The bad-input corpus: one YAML file per input, saying what it applies and what a
    //! user must see.

    use super::*;

    /// What a file expects.
    #[derive(Debug, Clone, Deserialize)]
    pub struct Expect {
        /// The API server refuses the input itself (it never reaches the operator).
        #[serde(default)]
        pub refused: bool,
        /// Whose condition: `Config` or `ImagePruner`.
        #[serde(default)]
        pub object: Option<String>,
        /// `Type=Status`.
        #[serde(default)]
        pub condition: Option<String>,
        #[serde(default)]
        pub reason: Option<String>,
        /// A part of the condition's message (or of the refusal).
        pub message: String,
        /// The reason of the Warning Event that says it.
        #[serde(default)]
        pub event: Option<String>,
    }

    /// One file of the corpus.
    #[derive(Debug, Clone, Deserialize)]
    pub struct Case {
        #[serde(skip)]
        pub name: String,
        #[serde(default = "none")]
        pub platform: String,
        pub apply: Vec<Value>,
        pub expect: Expect,
    }

    fn none() -> String {
        "None".to_string()
    }

    /// `{"$repeat": {"text": T, "times": N}}` anywhere in `v` becomes T repeated N times
    /// (oversized values without oversized files).
    fn expand(v: &mut Value) {
        if let Some(r) = v.get("$repeat") {
            let text = r.get("text").and_then(Value::as_str).unwrap_or_default();
            let times = r.get("times").and_then(Value::as_u64).unwrap_or(0) as usize;
            *v = Value::String(text.repeat(times));
            return;
        }
        match v {
            Value::Object(m) => m.values_mut().for_each(expand),
            Value::Array(a) => a.iter_mut().for_each(expand),
            _ => {}
        }
    }

    /// The corpus in `dir`, by file name.
    pub fn load(dir: &std::path::Path) -> Result<Vec<Case>, String> {
        let mut files: Vec<_> = std::fs::read_dir(dir)
            .map_err(|e| format!("{}: {e}", dir.display()))?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .filter(|p| p.extension().is_some_and(|x| x == "yaml"))
            .collect();
        files.sort();
        files
            .iter()
            .map(|f| {
                let text =
                    std::fs::read_to_string(f).map_err(|e| format!("{}: {e}", f.display()))?;
                let mut case: Case =
                    serde_saphyr::from_str(&text).map_err(|e| format!("{}: {e}", f.display()))?;
                case.apply.iter_mut().for_each(expand);
                case.name = f.file_stem().unwrap_or_default().to_string_lossy().into_owned();
                Ok(case)
            })
            .collect()
    }

    /// What one input gave.
    #[derive(Debug, Clone)]
    pub struct Verdict {
        pub name: String,
        /// Every point held.
        pub handled: bool,
        /// What did not hold.
        pub problems: Vec<String>,
    }

    /// A storage endpoint where nothing listens: the cloud calls fail at once, on
    /// loopback.
    fn closed_endpoint() -> String {
        let port = std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .unwrap_or(9);
        format!("https://127.0.0.1:{port}")
    }

    fn resource_of(o: &Value) -> Option<(ApiResource, bool)> {
        let av = o.get("apiVersion")?.as_str()?;
        let kind = o.get("kind")?.as_str()?;
        let (plural, namespaced) = match kind {
            "Config" => ("configs", false),
            "ImagePruner" => ("imagepruners", false),
            "Infrastructure" => ("infrastructures", false),
            "Image" => ("images", false),
            "Secret" => ("secrets", true),
            "ConfigMap" => ("configmaps", true),
            _ => return None,
        };
        let (group, version) = av.split_once('/').unwrap_or(("", av));
        let r = ApiResource {
            group: group.into(),
            version: version.into(),
            api_version: av.into(),
            kind: kind.into(),
            plural: plural.into(),
        };
        Some((r, namespaced))
    }

    /// Applies one object as a user would: a merge patch of what exists (its status
    /// through the status subresource), else a create.
    async fn apply(server: &ApiServer, o: &Value) -> Result<(), String> {
        let (r, namespaced) =
            resource_of(o).ok_or_else(|| format!("the corpus cannot apply {o}"))?;
        let name = o.pointer("/metadata/name").and_then(Value::as_str).unwrap_or_default();
        let api: Api<DynamicObject> = match namespaced {
            true => {
                let ns = o.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or(NS);
                Api::namespaced_with(server.client(), ns, &r)
            }
            false => Api::all_with(server.client(), &r),
        };
        let err = |e: kube::Error| match e {
            kube::Error::Api(s) => format!("{} {}: {}", s.code, s.reason, s.message),
            e => e.to_string(),
        };
        let exists = api.get_opt(name).await.map_err(err)?.is_some();
        let mut body = o.clone();
        let status = body.as_object_mut().and_then(|m| m.remove("status"));
        if exists {
            let pp = PatchParams::default();
            api.patch(name, &pp, &Patch::Merge(&body)).await.map_err(err)?;
        } else {
            let obj: DynamicObject = serde_json::from_value(body).map_err(|e| e.to_string())?;
            api.create(&PostParams::default(), &obj).await.map_err(err)?;
        }
        if let Some(status) = status {
            let patch = serde_json::json!({ "status": status });
            api.patch_status(name, &PatchParams::default(), &Patch::Merge(&patch))
                .await
                .map_err(err)?;
        }
        Ok(())
    }

    /// The secret values a case puts in the cluster, and the seeded credentials.
    fn secret_values(case: &Case) -> Vec<String> {
        use base64::Engine as _;
        let mut out = vec![
            crate::local_cmd::LOCAL_AWS_KEYS.1.to_string(),
            crate::local_cmd::LOCAL_AZURE_ACCOUNT.1.to_string(),
        ];
        for o in case.apply.iter().filter(|o| o.get("kind").is_some_and(|k| k == "Secret")) {
            for v in
                o.get("stringData").and_then(Value::as_object).into_iter().flat_map(|m| m.values())
            {
                out.extend(v.as_str().map(str::to_string));
            }
            for v in o.get("data").and_then(Value::as_object).into_iter().flat_map(|m| m.values()) {
                let decoded = v
                    .as_str()
                    .and_then(|s| base64::engine::general_purpose::STANDARD.decode(s).ok());
                out.extend(decoded.map(|b| String::from_utf8_lossy(&b).into_owned()));
            }
        }
        out
    }

    /// The condition `type_` of the Config or the ImagePruner, as `(status, reason, message)`.
    async fn condition(
        server: &ApiServer,
        object: &str,
        type_: &str,
    ) -> Option<(String, String, String)> {
        let status = match object {
            "ImagePruner" => {
                let api: Api<api::ImagePruner> = Api::all(server.client());
                serde_json::to_value(api.get_opt("cluster").await.ok()??.status?).ok()?
            }
            _ => {
                let api: Api<api::Config> = Api::all(server.client());
                serde_json::to_value(api.get_opt("cluster").await.ok()??.status?).ok()?
            }
        };
        let c = status.get("conditions")?.as_array()?.iter().find(|c| c["type"] == type_)?.clone();
        let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
        Some((s("status"), s("reason"), s("message")))
    }

    /// The reasons and messages of the Warning Events in the namespace.
    async fn warnings(server: &ApiServer) -> Vec<(String, String)> {
        let events: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(server.client(), NS);
        let list = events.list(&Default::default()).await.map(|l| l.items).unwrap_or_default();
        list.into_iter()
            .filter(|e| e.type_.as_deref() == Some("Warning"))
            .map(|e| (e.reason.unwrap_or_default(), e.message.unwrap_or_default()))
            .collect()
    }

    /// Whether the case's expectation holds now; else what is there instead.
    async fn met(
        server: &ApiServer,
        e: &Expect,
        before: &[(String, String)],
    ) -> Result<(), String> {
        let object = e.object.as_deref().unwrap_or("Config");
        let (type_, status) = e
            .condition
            .as_deref()
            .unwrap_or("Degraded=True")
            .split_once('=')
            .unwrap_or(("Degraded", "True"));
        let found = condition(server, object, type_).await;
        let ok = found.as_ref().is_some_and(|(s, r, m)| {
            s == status && e.reason.as_ref().is_none_or(|want| want == r) && m.contains(&e.message)
        });
        if !ok {
            return Err(format!("{object} {type_}: {found:?}"));
        }
        let Some(reason) = &e.event else { return Ok(()) };
        let now = warnings(server).await;
        let new: Vec<_> = now.iter().filter(|w| !before.contains(w)).collect();
        match new.iter().any(|(r, _)| r == reason) {
            true => Ok(()),
            false => Err(format!("no new Warning Event {reason}; new ones: {new:?}")),
        }
    }

    /// Applies the case's objects and waits (15 s at most) for what it expects: the API
    /// server's refusal, or the condition and the Event. What did not hold, if anything.
    async fn applied_as_expected(server: &ApiServer, case: &Case) -> Option<String> {
        let before = warnings(server).await;
        let mut refusal = None;
        for o in &case.apply {
            if let Err(e) = apply(server, o).await {
                refusal = Some(e);
                break;
            }
        }
        let e = &case.expect;
        match (&refusal, e.refused) {
            (Some(r), true) if r.contains(&e.message) => None,
            (Some(r), true) => Some(format!("refused, but not for {:?}: {r}", e.message)),
            (None, true) => Some("the API server accepted it".to_string()),
            (Some(r), false) => Some(format!("the API server refused it: {r}")),
            (None, false) => {
                let deadline = tokio::time::Instant::now() + Duration::from_secs(15);
                loop {
                    match met(server, e, &before).await {
                        Ok(()) => return None,
                        Err(m) if tokio::time::Instant::now() > deadline => {
                            return Some(format!("expected {e:?}, found {m}"));
                        }
                        Err(_) => tokio::time::sleep(Duration::from_millis(50)).await,
                    }
                }
            }
        }
    }

    /// Applies one bad input to a freshly converged operator and checks what a user sees.
    pub async fn run(case: &Case) -> Verdict {
        let dog = Watchdog::get();
        let mut problems = Vec::new();
        let storage = match case.platform.as_str() {
            "AWS" => Storage { s3_endpoint: Some(closed_endpoint()), ..Default::default() },
            "GCP" => Storage { gcs_endpoint: Some(closed_endpoint()), ..Default::default() },
            "Azure" => Storage { azure_endpoint: Some(closed_endpoint()), ..Default::default() },
            // No Swift: the Config bootstraps a PVC, and the case names its Swift.
            _ => Storage::default(),
        };
        let server = match seeded_server_with(&case.platform, &storage) {
            Ok(s) => s,
            Err(e) => {
                return Verdict { name: case.name.clone(), handled: false, problems: vec![e] };
            }
        };
        let _sim = server.simulate_workloads(Default::default());
        let mut running = Running::start(&server, &storage);
        let bootstrapped =
            config_until(&server, Duration::from_secs(20), |c| c.get("status").is_some()).await;
        if !running.passed(Duration::from_secs(20)).await || !bootstrapped {
            problems.push("no pass reported a Config before the input".to_string());
        }
        let (panics, lines) = (dog.panics(), dog.mark());
        let requests = server.requests().len();
        problems.extend(applied_as_expected(&server, case).await);
        // A moment more for what a wrong reaction would do (a delete, a crash).
        tokio::time::sleep(Duration::from_millis(200)).await;
        if !running.alive() {
            problems.push("the controller stopped".to_string());
        }
        if dog.panics() != panics {
            problems.push(format!("{} panics", dog.panics() - panics));
        }
        let ua = crate::client::user_agent();
        let deletes: Vec<String> = server.requests()[requests..]
            .iter()
            .filter(|r| r.user_agent == ua && r.verb == "delete")
            .map(|r| r.path.clone())
            .collect();
        if !deletes.is_empty() {
            problems.push(format!("the operator deleted {deletes:?}"));
        }
        match shown(&server, &dog.lines_since(lines)).await {
            Ok(shown) => problems.extend(leaks(&secret_values(case), &shown)),
            Err(e) => problems.push(e),
        }
        running.stop().await;
        Verdict { name: case.name.clone(), handled: problems.is_empty(), problems }
    }
}

/// The Config as the store has it (no request: faults do not touch it).
fn stored_config(server: &ApiServer) -> Option<Value> {
    server.read(|s| {
        let t = s.find_type("imageregistry.operator.openshift.io", "v1", "configs")?.clone();
        s.get(&t, "", "cluster").ok()
    })
}

/// `(status, reason)` of the Config's condition `type_`.
fn stored_condition(config: &Value, type_: &str) -> Option<(String, String)> {
    let c =
        config.pointer("/status/conditions")?.as_array()?.iter().find(|c| c["type"] == type_)?;
    let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    Some((s("status"), s("reason")))
}

/// A user's merge patch of the Config, retried as a user (or kubectl) would through
/// injected faults; `false` after `limit`.
async fn user_patch(server: &ApiServer, patch: &Value, limit: Duration) -> bool {
    let configs: Api<api::Config> = Api::all(server.client());
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if configs.patch("cluster", &PatchParams::default(), &Patch::Merge(patch)).await.is_ok() {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    false
}

/// Waits (`limit` at most) until the stored Config satisfies `done`.
async fn config_until(server: &ApiServer, limit: Duration, done: impl Fn(&Value) -> bool) -> bool {
    let deadline = tokio::time::Instant::now() + limit;
    while tokio::time::Instant::now() < deadline {
        if stored_config(server).is_some_and(|c| done(&c)) {
            return true;
        }
        tokio::time::sleep(Duration::from_millis(25)).await;
    }
    false
}

/// Available, not Progressing, not Degraded, with the registry Deployment there.
fn settled(c: &Value) -> bool {
    let is = |t: &str, s: &str| stored_condition(c, t).is_some_and(|(status, _)| status == s);
    is("Available", "True") && is("Progressing", "False") && is("Degraded", "False")
}

/// How often the Config's Available, Progressing and Degraded changed status, over every
/// version of the run; `None` when the store's event log no longer holds them all.
fn condition_flips(server: &ApiServer) -> Option<usize> {
    let versions: Vec<Value> = server.read(|s| {
        let all = s.events_since(s.log_floor())?;
        let configs: Vec<_> = all.iter().filter(|e| e.type_key.ends_with("/configs")).collect();
        // The log still starts with the Config's creation: no version was dropped.
        let whole = configs.first().is_some_and(|e| e.kind.as_str() == "ADDED");
        whole.then(|| configs.iter().map(|e| e.object.clone()).collect())
    })?;
    let state = |c: &Value| {
        ["Available", "Progressing", "Degraded"].map(|t| stored_condition(c, t).map(|(s, _)| s))
    };
    let versions: Vec<&Value> =
        versions.iter().filter(|v| state(v).iter().all(Option::is_some)).collect();
    let states: Vec<_> = versions.iter().map(|v| state(v)).collect();
    if std::env::var_os("RELIABILITY_DEBUG").is_some() {
        for (v, st) in versions.iter().zip(&states) {
            let c = v
                .pointer("/status/conditions")
                .and_then(Value::as_array)
                .and_then(|a| a.iter().find(|c| c["type"] == "Progressing").cloned());
            eprintln!("{st:?} {:?}", c.map(|c| (c["reason"].clone(), c["message"].clone())));
        }
    }
    Some(states.windows(2).filter(|w| w[0] != w[1]).count())
}

pub mod faults {
    //! The API fault runs: an install, a storage change, Removed and back, with 10 % of
    //! requests answered 500, 503 or 429 (with Retry-After), watches dropped and 50 ms on
    //! every request, against the same run without faults.

    use super::*;
    use testkit::apiserver::FaultRule;

    /// What one run gave.
    #[derive(Debug, Clone)]
    pub struct Run {
        /// Every phase settled in time.
        pub converged: bool,
        /// The phase that did not, if one did not.
        pub stuck: Option<&'static str>,
        /// Status changes of Available, Progressing and Degraded.
        pub flips: usize,
        pub took: Duration,
    }

    /// A step of a run: its name, the user's patch (`null`: none), and when it is done.
    type Phase = (&'static str, Value, fn(&Value) -> bool);

    /// The faults of a run: 10 % of requests answered 500, 503 or 429, 50 ms on each, and
    /// every watch dropped every 0.5 to 2 s (drawn from `seed`) by the task returned.
    fn inject(server: &ApiServer, seed: u64) -> tokio::task::JoinHandle<()> {
        for (status, rate, retry_after) in
            [(500, 0.04, None), (503, 0.03, None), (429, 0.03, Some(1))]
        {
            server.inject(FaultRule { verb: None, resource: None, rate, status, retry_after });
        }
        server.set_latency(Duration::from_millis(50));
        let server = server.clone();
        tokio::spawn(async move {
            let mut rng = seed.max(1);
            loop {
                tokio::time::sleep(Duration::from_millis(500 + xorshift(&mut rng) % 1500)).await;
                server.close_watches();
            }
        })
    }

    /// An install, a storage change (emptyDir to a PVC), Removed, and Managed again.
    fn phases() -> [Phase; 4] {
        [
            ("install", Value::Null, settled),
            (
                "storage change",
                serde_json::json!({"spec": {"storage": {"emptyDir": null, "pvc": {"claim": ""}}}}),
                |c| settled(c) && c.pointer("/status/storage/pvc").is_some(),
            ),
            ("Removed", serde_json::json!({"spec": {"managementState": "Removed"}}), |c| {
                stored_condition(c, "Available") == Some(("True".into(), "Removed".into()))
                    && stored_condition(c, "Progressing").is_some_and(|p| p.0 == "False")
            }),
            ("Managed again", serde_json::json!({"spec": {"managementState": "Managed"}}), settled),
        ]
    }

    /// One run on a Libvirt cluster (emptyDir, then a PVC); `faults` with `seed`.
    pub async fn run(faults: bool, seed: u64) -> Run {
        let started = std::time::Instant::now();
        let server = match crate::local_cmd::seeded_server("Libvirt") {
            Ok(s) => s,
            Err(_) => {
                return Run {
                    converged: false,
                    stuck: Some("seeding"),
                    flips: 0,
                    took: started.elapsed(),
                };
            }
        };
        let _sim = server.simulate_workloads(Default::default());
        let running = Running::start(&server, &Storage::default());
        let dropper = faults.then(|| inject(&server, seed));
        let limit = Duration::from_secs(if faults { 90 } else { 30 });
        let mut stuck = None;
        for (name, patch, done) in phases() {
            let applied = patch.is_null() || user_patch(&server, &patch, limit).await;
            if !applied || !config_until(&server, limit, done).await {
                stuck = Some(name);
                break;
            }
        }
        if let Some(d) = dropper {
            d.abort();
        }
        server.clear_faults();
        let flips = condition_flips(&server);
        if flips.is_none() {
            stuck = stuck.or(Some("counting: the event log dropped versions of the Config"));
        }
        running.stop().await;
        let flips = flips.unwrap_or(0);
        Run { converged: stuck.is_none(), stuck, flips, took: started.elapsed() }
    }
}

pub mod edits {
    //! Concurrent edits: a user editing the Config while the operator writes it back (at a
    //! Removed teardown and the Managed state after it), at drawn moments.

    use super::*;

    /// Rounds whose edit was kept, of `rounds`.
    pub async fn run(rounds: usize, seed: u64) -> (usize, usize) {
        let Ok(server) = crate::local_cmd::seeded_server("Libvirt") else { return (0, rounds) };
        let _sim = server.simulate_workloads(Default::default());
        let running = Running::start(&server, &Storage::default());
        let limit = Duration::from_secs(30);
        if !config_until(&server, limit, settled).await {
            running.stop().await;
            return (0, rounds);
        }
        let mut rng = seed.max(1);
        let mut kept = 0;
        for round in 0..rounds {
            let moment = xorshift(&mut rng) % 41;
            let state = if round % 2 == 0 { "Removed" } else { "Managed" };
            user_patch(&server, &serde_json::json!({"spec": {"managementState": state}}), limit)
                .await;
            // The edit lands at a drawn moment of the operator's pass (0 to 40 ms in).
            tokio::time::sleep(Duration::from_millis(moment)).await;
            let mark = serde_json::json!({"spec": {"nodeSelector": {"reliability.example.com/round": round.to_string()}}});
            user_patch(&server, &mark, limit).await;
            let done = |c: &Value| {
                let s = c.pointer("/status/conditions").is_some()
                    && stored_condition(c, "Progressing").is_some_and(|p| p.0 == "False");
                s && c.pointer("/spec/managementState").and_then(Value::as_str) == Some(state)
            };
            config_until(&server, limit, done).await;
            let now = stored_config(&server);
            let seen = now
                .as_ref()
                .and_then(|c| c.pointer("/spec/nodeSelector/reliability.example.com~1round"));
            kept += usize::from(seen.and_then(Value::as_str) == Some(round.to_string().as_str()));
        }
        running.stop().await;
        (kept, rounds)
    }
}
