//! Crash trials: the operator binary killed with SIGKILL at a drawn moment of bootstrap,
//! provisioning, the Config's deletion or a Removed teardown, and started again at once,
//! against moto, gcp-storage-emulator and Azurite on loopback.
//!
//! A trial runs the four steps in that order (the deletion comes while the storage
//! exists, so that its finalizer has something to remove) and checks after each:
//! * the registry's storage is one bucket (container), the one `status.storage` names;
//! * none is left after Removed, nor after the deletion of the Config that made it;
//! * a user's bucket, and the object in it, are never deleted;
//! * the Deployment was written at most twice in each install;
//! * no panic, and no secret value in the operator's log, Events or statuses.
//!
//! The storage servers are read from outside, not through the operator's drivers: S3 and
//! GCS list their buckets, so that an orphan under a name nobody recorded is seen. Azurite
//! has no storage-account (Resource Manager) API, so on Azure the container, with the
//! account key, is always the user's, and the containers checked are the ones a Config
//! names.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use kube::Api;
use serde_json::{Value, json};
use testkit::apiserver::ApiServer;
use testkit::emulators::{Emulator, Unavailable};

use super::{settled, stored_condition, stored_config, user_patch, xorshift};
use crate::local_cmd::{LOCAL_AWS_KEYS, LOCAL_AZURE_ACCOUNT, LOCAL_RELEASE, Storage};

/// How long a step may take, restart included.
const STEP_LIMIT: Duration = Duration::from_secs(90);

/// The object kept in a user's bucket.
const USERS_OBJECT: &str = "docker/registry/v2/keep-me";

/// The seeded GCP cluster's project.
const GCP_PROJECT: &str = "local-project";

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Cloud {
    Aws,
    Gcp,
    Azure,
}

impl Cloud {
    pub const ALL: [Cloud; 3] = [Cloud::Aws, Cloud::Gcp, Cloud::Azure];

    pub fn name(self) -> &'static str {
        match self {
            Cloud::Aws => "AWS (moto)",
            Cloud::Gcp => "GCP (gcp-storage-emulator)",
            Cloud::Azure => "Azure (Azurite)",
        }
    }

    fn platform(self) -> &'static str {
        match self {
            Cloud::Aws => "AWS",
            Cloud::Gcp => "GCP",
            Cloud::Azure => "Azure",
        }
    }

    /// Where `spec.storage` and `status.storage` name the bucket.
    fn field(self) -> &'static str {
        match self {
            Cloud::Aws => "/s3/bucket",
            Cloud::Gcp => "/gcs/bucket",
            Cloud::Azure => "/azure/container",
        }
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Step {
    Bootstrap,
    Provisioning,
    Deletion,
    Removed,
}

impl Step {
    pub const ALL: [Step; 4] = [Step::Bootstrap, Step::Provisioning, Step::Deletion, Step::Removed];

    pub fn name(self) -> &'static str {
        match self {
            Step::Bootstrap => "bootstrap",
            Step::Provisioning => "provisioning",
            Step::Deletion => "Config deletion",
            Step::Removed => "Removed teardown",
        }
    }
}

/// A trial: the cloud, whether the Config names a bucket of the user's, and the moment of
/// the kill: in `step`, at `at` (0 to 1) of that step's length in an uninterrupted run.
#[derive(Debug, Clone, Copy)]
pub struct Trial {
    pub cloud: Cloud,
    pub users: bool,
    pub step: Step,
    pub at: f64,
}

/// `n` trials drawn from `seed`, the clouds in turn; on Azure the container is the user's.
pub fn draw(n: usize, seed: u64) -> Vec<Trial> {
    let mut rng = seed.max(1);
    (0..n)
        .map(|i| {
            let cloud = Cloud::ALL[i % Cloud::ALL.len()];
            let step = Step::ALL[(xorshift(&mut rng) % 4) as usize];
            let at = (xorshift(&mut rng) % 1000) as f64 / 1000.0;
            let users = cloud == Cloud::Azure || xorshift(&mut rng).is_multiple_of(4);
            Trial { cloud, users, step, at }
        })
        .collect()
}

/// The storage servers of a run, one per cloud, started once (moto over HTTPS, with the
/// certificate the cluster trusts).
pub struct Clouds(Vec<(Cloud, Emulator, Option<String>)>);

impl Clouds {
    pub fn start(clouds: &[Cloud]) -> Result<Clouds, Unavailable> {
        let mut out = Vec::new();
        for &c in clouds {
            let (e, ca) = match c {
                Cloud::Aws => {
                    let https = testkit::emulators::moto_https()?;
                    (https.emulator, Some(https.cert_pem))
                }
                Cloud::Gcp => (testkit::emulators::gcs()?, None),
                Cloud::Azure => (testkit::emulators::azurite()?, None),
            };
            out.push((c, e, ca));
        }
        Ok(Clouds(out))
    }

    /// The cloud's endpoint, and the CA of its certificate when it has one.
    fn endpoint(&self, cloud: Cloud) -> Option<(&str, Option<&str>)> {
        let (_, e, ca) = self.0.iter().find(|(c, ..)| *c == cloud)?;
        Some((e.endpoint.as_str(), ca.as_deref()))
    }
}

/// What a trial gave.
#[derive(Debug, Clone)]
pub struct Verdict {
    pub trial: Trial,
    /// What did not hold (empty: every check held and every step converged).
    pub problems: Vec<String>,
    /// From the restart to the end of the step it interrupted.
    pub recovery: Duration,
    /// How long each step took.
    pub lengths: [Duration; 4],
}

impl Verdict {
    pub fn held(&self) -> bool {
        self.problems.is_empty()
    }
}

/// Runs `trial` (number `index`, which names its buckets) with the operator binary `bin`;
/// `lengths` are the steps' lengths of an uninterrupted run (none: no kill).
pub async fn run(
    bin: &Path,
    clouds: &Clouds,
    trial: Trial,
    index: usize,
    lengths: Option<[Duration; 4]>,
) -> Verdict {
    let mut v = Verdict {
        trial,
        problems: Vec::new(),
        recovery: Duration::ZERO,
        lengths: [Duration::ZERO; 4],
    };
    let Some((endpoint, ca)) = clouds.endpoint(trial.cloud) else {
        v.problems.push(format!("no storage server for {}", trial.cloud.name()));
        return v;
    };
    let bed = match Bed::new(bin, trial, (endpoint, ca), index).await {
        Ok(b) => b,
        Err(e) => {
            v.problems.push(format!("setting up: {e}"));
            return v;
        }
    };
    let kill = lengths.map(|l| l[Step::ALL.iter().position(|s| *s == trial.step).unwrap_or(0)]);
    let kill = kill.map(|l| l.mul_f64(trial.at));
    if let Err(e) = bed.drive(kill, &mut v).await {
        v.problems.push(e);
    }
    v.problems.extend(bed.shown_problems().await);
    if v.held() {
        let _ = std::fs::remove_dir_all(&bed.dir);
    } else {
        v.problems.push(format!("the operator's log: {}", bed.log().display()));
    }
    v
}

/// The operator process, killed when dropped.
struct Process(Child);

impl Drop for Process {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// A trial's cluster: an API server on loopback seeded as `cloud`, its storage server, and
/// the names of the trial.
struct Bed {
    server: ApiServer,
    _served: testkit::apiserver::Running,
    _workloads: testkit::apiserver::simulator::Simulator,
    bin: PathBuf,
    dir: PathBuf,
    cloud: Cloud,
    endpoint: String,
    /// The Infrastructure's name: every name the operator generates starts with it.
    infra: String,
    /// The user's bucket, when the Config names one.
    users: Option<String>,
    http: reqwest::Client,
}

impl Bed {
    async fn new(
        bin: &Path,
        trial: Trial,
        (endpoint, ca): (&str, Option<&str>),
        index: usize,
    ) -> Result<Bed, String> {
        let cloud = trial.cloud;
        let mut storage = Storage { s3_ca: ca.map(str::to_string), ..Default::default() };
        let url = Some(endpoint.to_string());
        match cloud {
            Cloud::Aws => storage.s3_endpoint = url,
            Cloud::Gcp => storage.gcs_endpoint = url,
            Cloud::Azure => storage.azure_endpoint = url,
        }
        let server = crate::local_cmd::seeded_server_with(cloud.platform(), &storage)?;
        let infra = format!("crash-{index:03}");
        name_infrastructure(&server, &infra)?;
        let served = server.serve(([127, 0, 0, 1], 0).into()).await.map_err(|e| e.to_string())?;
        let dir = std::env::temp_dir()
            .join(format!("imageregistry-crash-{}-{index:03}", std::process::id()));
        std::fs::create_dir_all(&dir).map_err(|e| e.to_string())?;
        let kubeconfig = testkit::apiserver::kubeconfig(&served.url());
        std::fs::write(dir.join("kubeconfig"), kubeconfig).map_err(|e| e.to_string())?;
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut http = reqwest::Client::builder();
        if let Some(pem) = ca {
            let cert = reqwest::Certificate::from_pem(pem.as_bytes()).map_err(|e| e.to_string())?;
            http = http.add_root_certificate(cert);
        }
        let http = http.build().map_err(|e| e.to_string())?;
        let mut bed = Bed {
            _workloads: server.simulate_workloads(Default::default()),
            server,
            _served: served,
            bin: bin.to_path_buf(),
            dir,
            cloud,
            endpoint: endpoint.to_string(),
            users: trial.users.then(|| format!("{infra}-users")),
            infra,
            http,
        };
        if trial.users {
            bed.seed_users_bucket().await?;
        }
        Ok(bed)
    }

    fn log(&self) -> PathBuf {
        self.dir.join("operator.log")
    }

    /// Starts the operator binary, its log appended to the trial's.
    fn spawn(&self) -> Result<Process, String> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log())
            .map_err(|e| e.to_string())?;
        let mut c = Command::new(&self.bin);
        c.args(["run", "--listen", "127.0.0.1:0", "--kubeconfig"])
            .arg(self.dir.join("kubeconfig"))
            .env("POD_NAME", "crash-trial")
            .env("RELEASE_VERSION", LOCAL_RELEASE)
            .env_remove("STORAGE_EMULATOR_HOST")
            .env_remove(storage::provision::AZURE_BLOB_ENDPOINT_ENV)
            .stdout(Stdio::null())
            .stderr(log);
        match self.cloud {
            Cloud::Gcp => c.env("STORAGE_EMULATOR_HOST", &self.endpoint),
            Cloud::Azure => c.env(storage::provision::AZURE_BLOB_ENDPOINT_ENV, &self.endpoint),
            Cloud::Aws => &mut c,
        };
        let what = self.bin.display();
        c.spawn().map(Process).map_err(|e| format!("cannot start {what}: {e}"))
    }

    /// The steps in order, the kill `kill` into the trial's step.
    async fn drive(&self, kill: Option<Duration>, v: &mut Verdict) -> Result<(), String> {
        let mut op = self.spawn()?;
        let mut uid = String::new();
        for (i, step) in Step::ALL.into_iter().enumerate() {
            let started = Instant::now();
            if step == Step::Deletion {
                self.server.clear_requests();
            }
            self.trigger(step).await?;
            let kill = kill.filter(|_| v.trial.step == step);
            let restarted = self
                .until_done(step, &uid, kill, &mut op)
                .await
                .map_err(|e| format!("{}: {e}", step.name()))?;
            v.lengths[i] = started.elapsed();
            if let Some(r) = restarted {
                v.recovery = r;
            }
            v.problems.extend(
                self.check(step).await.into_iter().map(|p| format!("after {}: {p}", step.name())),
            );
            if step == Step::Provisioning {
                uid = stored_config(&self.server)
                    .and_then(|c| {
                        c.pointer("/metadata/uid").and_then(Value::as_str).map(str::to_string)
                    })
                    .unwrap_or_default();
            }
        }
        Ok(())
    }

    /// What the user does to start `step`: delete the Config, or set it Removed.
    async fn trigger(&self, step: Step) -> Result<(), String> {
        match step {
            Step::Bootstrap | Step::Provisioning => Ok(()),
            Step::Deletion => {
                let configs: Api<api::Config> = Api::all(self.server.client());
                configs
                    .delete("cluster", &Default::default())
                    .await
                    .map(|_| ())
                    .map_err(|e| format!("deleting the Config: {e}"))
            }
            Step::Removed => {
                let patch = json!({"spec": {"managementState": "Removed"}});
                let done = user_patch(&self.server, &patch, STEP_LIMIT).await;
                if done { Ok(()) } else { Err("the Config could not be set Removed".into()) }
            }
        }
    }

    /// Waits until `step` is done, killing and restarting the operator `kill` into it (at
    /// the latest when the step is done); the time from the restart to the step's end.
    async fn until_done(
        &self,
        step: Step,
        old_uid: &str,
        kill: Option<Duration>,
        op: &mut Process,
    ) -> Result<Option<Duration>, String> {
        let started = Instant::now();
        let mut restarted: Option<Instant> = None;
        loop {
            // An operator that exits by itself is a crash (loop), not a trial's kill.
            if let Ok(Some(exit)) = op.0.try_wait() {
                return Err(format!("the operator exited by itself ({exit})"));
            }
            let done = stored_config(&self.server).is_some_and(|c| self.done(step, old_uid, &c));
            if kill.is_some_and(|k| restarted.is_none() && (done || started.elapsed() >= k)) {
                // SIGKILL: no shutdown, no Lease release; the same identity takes it back.
                op.0.kill().map_err(|e| format!("cannot kill the operator: {e}"))?;
                op.0.wait().map_err(|e| format!("the killed operator: {e}"))?;
                *op = self.spawn()?;
                restarted = Some(Instant::now());
                continue;
            }
            if done {
                return Ok(restarted.map(|r| r.elapsed()));
            }
            if started.elapsed() > STEP_LIMIT {
                let state = stored_config(&self.server).map(|c| conditions(&c)).unwrap_or_default();
                return Err(format!("not done within {} s: {state}", STEP_LIMIT.as_secs()));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Whether the stored Config `c` shows `step` done.
    fn done(&self, step: Step, old_uid: &str, c: &Value) -> bool {
        let provisioned = || settled(c) && named(c, self.cloud, "status").is_some();
        match step {
            Step::Bootstrap => true,
            Step::Provisioning => provisioned(),
            Step::Deletion => {
                let recreated = c.pointer("/metadata/uid").and_then(Value::as_str) != Some(old_uid);
                // Azure's default Config names no account (Azurite has no Resource
                // Manager to make one): the step ends with the storage's condition.
                recreated
                    && match self.cloud {
                        Cloud::Azure => stored_condition(c, "StorageExists").is_some(),
                        _ => provisioned(),
                    }
            }
            Step::Removed => {
                stored_condition(c, "Available") == Some(("True".into(), "Removed".into()))
                    && stored_condition(c, "Progressing").is_some_and(|p| p.0 == "False")
            }
        }
    }

    /// What does not hold after `step`.
    async fn check(&self, step: Step) -> Vec<String> {
        let mut out = Vec::new();
        let config = stored_config(&self.server).unwrap_or(Value::Null);
        let status_names = named(&config, self.cloud, "status");
        let theirs = match self.operators_buckets(&config).await {
            Ok(b) => b,
            Err(e) => return vec![format!("the storage server could not be read: {e}")],
        };
        let users_config = step == Step::Provisioning && self.users.is_some();
        let expected: Vec<String> = match step {
            Step::Bootstrap | Step::Removed => Vec::new(),
            _ if users_config || self.cloud == Cloud::Azure => Vec::new(),
            _ => status_names.iter().cloned().collect(),
        };
        if step != Step::Bootstrap && theirs != expected {
            out.push(format!(
                "the operator's buckets are {theirs:?}, and status.storage names {status_names:?}"
            ));
        }
        if users_config && status_names != self.users {
            out.push(format!("status.storage names {status_names:?}, not the user's bucket"));
        }
        if step == Step::Provisioning || step == Step::Deletion {
            out.extend(self.deployment_writes());
        }
        if let Some(u) = &self.users {
            match self.users_bucket_kept(u).await {
                Ok(true) => {}
                Ok(false) => out.push(format!("the user's bucket {u} or its object is gone")),
                Err(e) => out.push(format!("the user's bucket could not be read: {e}")),
            }
        }
        out
    }

    /// More than two writes of the Deployment since the install began.
    fn deployment_writes(&self) -> Option<String> {
        let writes = self
            .server
            .requests()
            .into_iter()
            .filter(|r| r.resource == "deployments" && r.is_write() && r.verb != "delete")
            .filter(|r| r.status < 300)
            .count();
        (writes > 2).then(|| format!("the Deployment was written {writes} times in one install"))
    }

    /// Secret values in what the trial showed, and panics in the operator's log.
    async fn shown_problems(&self) -> Vec<String> {
        // A log that cannot be read would pass a scan of nothing.
        let log = match std::fs::read_to_string(self.log()) {
            Ok(l) => l,
            Err(e) => return vec![format!("the operator's log could not be read: {e}")],
        };
        let lines: Vec<String> = log.lines().map(str::to_string).collect();
        let mut out: Vec<String> = lines
            .iter()
            .filter(|l| l.contains("panicked at"))
            .map(|l| format!("the operator panicked: {l}"))
            .collect();
        let mut secrets = vec![LOCAL_AWS_KEYS.1.to_string(), LOCAL_AZURE_ACCOUNT.1.to_string()];
        if let Some(s) = stored_config(&self.server)
            .and_then(|c| c.pointer("/spec/httpSecret").and_then(Value::as_str).map(str::to_string))
        {
            secrets.push(s);
        }
        match super::shown(&self.server, &lines).await {
            Ok(texts) => out.extend(super::leaks(&secrets, &texts)),
            Err(e) => out.push(e),
        }
        out
    }
}

/// Gives the seeded Infrastructure the trial's name.
pub(super) fn name_infrastructure(server: &ApiServer, name: &str) -> Result<(), String> {
    server.write(|s| {
        let t = s
            .find_type("config.openshift.io", "v1", "infrastructures")
            .cloned()
            .ok_or("infrastructures not served")?;
        let mut status = s.get(&t, "", "cluster").map_err(|e| e.message)?["status"].clone();
        status["infrastructureName"] = json!(name);
        s.set_status(&t, "", "cluster", status).map(|_| ()).ok_or("no Infrastructure".to_string())
    })
}

/// The bucket that `part` (`spec` or `status`) of the Config's storage names.
fn named(c: &Value, cloud: Cloud, part: &str) -> Option<String> {
    let v = c.pointer(&format!("/{part}/storage{}", cloud.field()))?.as_str()?;
    (!v.is_empty()).then(|| v.to_string())
}

/// The Config's conditions, shortly: `Type=Status(Reason)`.
fn conditions(c: &Value) -> String {
    let all =
        c.pointer("/status/conditions").and_then(Value::as_array).cloned().unwrap_or_default();
    let s = |c: &Value, k: &str| c.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let shown: Vec<String> = all
        .iter()
        .map(|c| format!("{}={}({})", s(c, "type"), s(c, "status"), s(c, "reason")))
        .collect();
    shown.join(" ")
}

/// The storage server seen from outside: the operator's buckets and the user's.
impl Bed {
    /// The buckets of this trial that are not the user's, sorted. On Azure, the
    /// containers a Config names (Azurite cannot be listed without the account's key
    /// signing a service request, which its SDK here does not do).
    async fn operators_buckets(&self, config: &Value) -> Result<Vec<String>, String> {
        let prefix = format!("{}-", self.infra);
        let mut all = match self.cloud {
            Cloud::Aws => self.s3_buckets().await?,
            Cloud::Gcp => self.gcs_buckets().await?,
            Cloud::Azure => {
                let mut found = Vec::new();
                for n in ["spec", "status"].iter().filter_map(|p| named(config, self.cloud, p)) {
                    let (account, key) = LOCAL_AZURE_ACCOUNT;
                    if self.azure().azure().container_exists(account, key, &n).await? {
                        found.push(n);
                    }
                }
                found
            }
        };
        all.retain(|b| b.starts_with(&prefix) && Some(b) != self.users.as_ref());
        all.sort();
        all.dedup();
        Ok(all)
    }

    /// The storage drivers sending Azure Blob calls to Azurite (its account-key helpers
    /// stand for the user).
    fn azure(&self) -> storage::provision::Provisioner {
        Storage { azure_endpoint: Some(self.endpoint.clone()), ..Default::default() }.provisioner()
    }

    async fn get(&self, url: &str) -> Result<(u16, String), String> {
        let r = self.http.get(url).send().await.map_err(|e| format!("GET {url}: {e}"))?;
        let status = r.status().as_u16();
        Ok((status, r.text().await.map_err(|e| e.to_string())?))
    }

    /// A list the server must answer (an error answer would read as no bucket at all).
    async fn listed(&self, url: &str) -> Result<String, String> {
        match self.get(url).await? {
            (200, body) => Ok(body),
            (status, body) => Err(format!("GET {url}: {status}: {body}")),
        }
    }

    /// moto's bucket list (moto checks no signature).
    async fn s3_buckets(&self) -> Result<Vec<String>, String> {
        let body = self.listed(&format!("{}/", self.endpoint)).await?;
        Ok(body
            .split("<Name>")
            .skip(1)
            .filter_map(|s| s.split("</Name>").next())
            .map(str::to_string)
            .collect())
    }

    /// The emulator's bucket list of the project.
    async fn gcs_buckets(&self) -> Result<Vec<String>, String> {
        let url = format!("{}/storage/v1/b?project={GCP_PROJECT}", self.endpoint);
        let body = self.listed(&url).await?;
        let list: Value = serde_json::from_str(&body).map_err(|e| format!("{url}: {e}"))?;
        let items = list["items"].as_array().cloned().unwrap_or_default();
        Ok(items.iter().filter_map(|b| b["name"].as_str().map(str::to_string)).collect())
    }

    /// Whether the user's bucket and its object are still there.
    async fn users_bucket_kept(&self, bucket: &str) -> Result<bool, String> {
        let url = match self.cloud {
            // moto refuses an unsigned read of a private object, not the listing.
            Cloud::Aws => {
                let url = format!("{}/{bucket}?list-type=2&prefix={USERS_OBJECT}", self.endpoint);
                let (status, body) = self.get(&url).await?;
                return Ok(status == 200 && body.contains(&format!("<Key>{USERS_OBJECT}</Key>")));
            }
            Cloud::Gcp => {
                let object = USERS_OBJECT.replace('/', "%2F");
                format!("{}/storage/v1/b/{bucket}/o/{object}", self.endpoint)
            }
            Cloud::Azure => {
                let (account, key) = LOCAL_AZURE_ACCOUNT;
                return self.azure().azure().container_exists(account, key, bucket).await;
            }
        };
        Ok(self.get(&url).await?.0 == 200)
    }

    /// Makes the user's bucket with an object in it, and a Config that names it.
    async fn seed_users_bucket(&mut self) -> Result<(), String> {
        let bucket = self.users.clone().unwrap_or_default();
        let ok = |r: reqwest::Response| {
            if r.status().is_success() {
                Ok(())
            } else {
                Err(format!("{}: {}", r.url(), r.status()))
            }
        };
        let send = |r: reqwest::RequestBuilder| async move {
            ok(r.send().await.map_err(|e| e.to_string())?)
        };
        match self.cloud {
            Cloud::Aws => {
                send(self.http.put(format!("{}/{bucket}", self.endpoint))).await?;
                let object = format!("{}/{bucket}/{USERS_OBJECT}", self.endpoint);
                send(self.http.put(object).body("kept")).await?;
            }
            Cloud::Gcp => {
                let create = format!("{}/storage/v1/b?project={GCP_PROJECT}", self.endpoint);
                send(self.http.post(create).json(&json!({"name": bucket}))).await?;
                let upload = format!(
                    "{}/upload/storage/v1/b/{bucket}/o?uploadType=media&name={USERS_OBJECT}",
                    self.endpoint
                );
                send(self.http.post(upload).body("kept")).await?;
            }
            Cloud::Azure => {
                let (account, key) = LOCAL_AZURE_ACCOUNT;
                self.azure().azure().create_container(account, key, &bucket).await?;
            }
        }
        self.users_config(&bucket)
    }

    /// The Config naming the user's bucket, in the store before the operator starts (on
    /// Azure the seeded one, which names the account, with the trial's container).
    fn users_config(&self, bucket: &str) -> Result<(), String> {
        let storage = match self.cloud {
            Cloud::Aws => json!({"s3": {"bucket": bucket}}),
            Cloud::Gcp => json!({"gcs": {"bucket": bucket}}),
            Cloud::Azure => {
                json!({"azure": {"accountName": LOCAL_AZURE_ACCOUNT.0, "container": bucket}})
            }
        };
        let config = json!({"apiVersion": "imageregistry.operator.openshift.io/v1", "kind": "Config",
            "metadata": {"name": "cluster"},
            "spec": {"managementState": "Managed", "replicas": 2, "storage": storage}});
        self.server.write(|s| {
            let t = s
                .find_type("imageregistry.operator.openshift.io", "v1", "configs")
                .cloned()
                .ok_or("configs not served")?;
            match s.get(&t, "", "cluster") {
                Ok(mut c) => {
                    c["spec"]["storage"] = storage;
                    s.update(&t, "", "cluster", c, false, false).map_err(|e| e.message)?;
                }
                Err(_) => {
                    s.create(&t, "", config, false).map_err(|e| e.message)?;
                }
            }
            Ok(())
        })
    }
}

/// What a set of trials gave, with the uninterrupted run of each cloud they used.
pub struct Figures {
    /// One run per cloud without a kill (the steps' lengths the kills are drawn in).
    pub baselines: Vec<Verdict>,
    pub verdicts: Vec<Verdict>,
}

impl Figures {
    /// Trials in which every step converged and every check held.
    pub fn held(&self) -> usize {
        self.verdicts.iter().filter(|v| v.held()).count()
    }

    /// The longest time from a restart to the end of the step it interrupted.
    pub fn worst_recovery(&self) -> Duration {
        self.verdicts.iter().map(|v| v.recovery).max().unwrap_or_default()
    }
}

/// Runs `trials` with the operator binary `bin`: first an uninterrupted run on each cloud
/// they use, then each trial with its kill.
pub async fn trials(bin: &Path, clouds: &Clouds, trials: &[Trial]) -> Figures {
    let mut baselines: Vec<Verdict> = Vec::new();
    for cloud in Cloud::ALL.into_iter().filter(|c| trials.iter().any(|t| t.cloud == *c)) {
        let plain = Trial { cloud, users: cloud == Cloud::Azure, step: Step::Bootstrap, at: 0.0 };
        baselines.push(run(bin, clouds, plain, baselines.len(), None).await);
    }
    let mut verdicts = Vec::new();
    for (i, t) in trials.iter().enumerate() {
        let lengths = baselines.iter().find(|b| b.trial.cloud == t.cloud).map(|b| b.lengths);
        verdicts.push(run(bin, clouds, *t, 100 + i, lengths).await);
    }
    Figures { baselines, verdicts }
}
