//! One pass of the operator, as a pipeline of stages, each a module with one entry point
//! and its own error type: [`observe`](crate::observe) the cluster into a snapshot,
//! [`bootstrap`](crate::bootstrap) what is missing, complete the [`spec`](crate::spec),
//! [`provision`](crate::provision) or remove the storage, [`plan`](crate::plan) the
//! objects (pure), [`apply`](crate::apply) them through the single writer, and
//! [`report`](crate::report) the status — each written only when it changed.

use std::sync::{Arc, Mutex};

use api::imageregistry::{CLUSTER, FINALIZER, ImageRegistryConfigStorage};
use api::{ConditionStatus, Config, ManagementState};
use jiff::Timestamp;
use kube::Client;
use kube::api::{Api, Patch, PatchParams, PostParams};
use render::OperatorEnv;
use render::conditions::ApplyResult;
use render::registry::RenderError;
use serde_json::json;

use crate::apply::{Applier, FIELD_MANAGER};
use crate::observe::{ConfigRead, Snapshot};
use crate::provision::StorageOutcome;
use crate::report::{INVALID_CONFIG, PassResult};
use crate::{bootstrap, observe, plan, provision, report, spec};

/// A source of randomness for httpSecret and storage names.
pub type Random = Arc<Mutex<dyn FnMut() -> u8 + Send>>;

/// What a pass needs.
#[derive(Clone)]
pub struct Context {
    pub client: Client,
    pub applier: Applier,
    pub env: OperatorEnv,
    /// The clock (tests move it).
    pub now: Arc<dyn Fn() -> Timestamp + Send + Sync>,
    pub random: Random,
    /// When applying the node-ca DaemonSet started failing, if it is failing.
    pub node_ca_failing_since: Arc<Mutex<Option<Timestamp>>>,
    /// When writing the image config's status started failing, if it is failing.
    pub image_config_failing_since: Arc<Mutex<Option<Timestamp>>>,
    /// When applying the registry's objects started failing on the API server's side (5xx,
    /// throttling, no answer), if it is failing.
    pub registry_failing_since: Arc<Mutex<Option<Timestamp>>>,
    /// What the watches have seen (reads fall back to the API server for the rest).
    pub cache: crate::cache::Cache,
    /// The storage drivers (cloud clients and what they last applied).
    pub provisioner: storage::provision::Provisioner,
    /// The feature gates of this release (read at start; a change ends the process).
    pub gates: crate::gates::Gates,
    /// Where the Azure Stack Hub endpoints go (`AZURE_ENVIRONMENT_FILEPATH`; `run` leaves it
    /// unset when the variable is, which the Config then reports).
    pub azure_environment_file: Option<std::path::PathBuf>,
    /// Which of OpenShift's APIs the cluster serves (all, unless `run` found otherwise).
    pub openshift: crate::kubernetes::OpenShiftApis,
    /// `--platform`: the platform of a cluster without an Infrastructure.
    pub platform: Option<String>,
    /// Without `--platform`: the platform the Nodes' provider names, read at the first
    /// pass (a cluster's provider does not change under a running operator).
    pub node_platform: Arc<tokio::sync::OnceCell<Option<String>>>,
    /// Plain Kubernetes: whether an image for the pruner was given (`IMAGE_PRUNER`); the
    /// pruner (`oc adm prune images`) is off without one.
    pub pruner_image_given: bool,
    /// Without `route.openshift.io`: the IngressClass of the registry's Ingresses
    /// (`--ingress-class`; `None`: the cluster's default class).
    pub ingress_class: Option<String>,
}

/// `AZURE_ENVIRONMENT_FILEPATH`, or for in-process runs (`local`, tests) without it a file
/// of each context's own.
fn azure_environment_file() -> std::path::PathBuf {
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    std::env::var_os("AZURE_ENVIRONMENT_FILEPATH").map(Into::into).unwrap_or_else(|| {
        let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        std::env::temp_dir()
            .join(format!("imageregistry-azurestackcloud-{}-{n}.json", std::process::id()))
    })
}

impl Context {
    /// A context with the system clock and OS randomness.
    pub fn new(client: Client, env: OperatorEnv) -> Self {
        use rand::{Rng as _, SeedableRng as _};
        // Seeded from the OS; without one (never on Linux), from the clock.
        let mut rng =
            rand::rngs::StdRng::try_from_rng(&mut rand::rngs::SysRng).unwrap_or_else(|_| {
                rand::rngs::StdRng::seed_from_u64(Timestamp::now().as_nanosecond() as u64)
            });
        let random: Random = Arc::new(Mutex::new(move || (rng.next_u32() >> 24) as u8));
        Context {
            applier: Applier::new(client.clone()),
            client,
            env,
            now: Arc::new(Timestamp::now),
            random,
            node_ca_failing_since: Arc::default(),
            image_config_failing_since: Arc::default(),
            registry_failing_since: Arc::default(),
            cache: Default::default(),
            provisioner: Default::default(),
            gates: Default::default(),
            azure_environment_file: Some(azure_environment_file()),
            openshift: Default::default(),
            platform: None,
            node_platform: Arc::default(),
            pruner_image_given: false,
            ingress_class: None,
        }
        .with_cache(Default::default())
    }

    /// Uses `cache` for reads and for the applier's comparisons.
    pub fn with_cache(mut self, cache: crate::cache::Cache) -> Self {
        self.applier = Applier::new(self.client.clone()).with_cache(cache.clone());
        self.cache = cache;
        self
    }

    pub(crate) fn byte(&self) -> u8 {
        (self.random.lock().expect("random"))()
    }
}

/// Why a pass must be retried (with backoff), by stage.
#[derive(Debug, thiserror::Error)]
pub enum PassError {
    #[error("observe: {0}")]
    Observe(#[from] observe::ObserveError),
    #[error("bootstrap: {0}")]
    Bootstrap(#[from] bootstrap::BootstrapError),
    #[error("spec: {0}")]
    Spec(#[from] spec::SpecError),
    #[error("storage: {0}")]
    Storage(#[from] provision::ProvisionError),
    #[error("report: {0}")]
    Report(#[from] report::ReportError),
    #[error("{0}")]
    Api(#[from] kube::Error),
    /// A step that failed after the status was written (apply, storage, removal).
    #[error("{0}")]
    Failed(String),
}

/// What a pass found.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Summary {
    pub management_state: String,
    /// The ClusterOperator's Available, Progressing and Degraded.
    pub cluster_operator: Vec<(String, ConditionStatus, String)>,
    /// Writes made in this pass.
    pub writes: usize,
    /// The storage backend in use (metrics name), when Managed.
    pub storage_type: Option<&'static str>,
    /// The storage backend changed from the last applied one in this pass.
    pub storage_reconfigured: bool,
    /// Whether the pruner is suspended.
    pub pruner_suspended: bool,
    /// When a pass is due without any event (an unavailable registry turning Degraded).
    pub next_change: Option<Timestamp>,
}

pub(crate) fn post() -> PostParams {
    PostParams { field_manager: Some(FIELD_MANAGER.to_string()), ..Default::default() }
}

pub(crate) fn patch_params() -> PatchParams {
    PatchParams { field_manager: Some(FIELD_MANAGER.to_string()), ..Default::default() }
}

/// Runs one pass.
pub async fn sync(ctx: &Context) -> Result<Summary, PassError> {
    let mut snap = observe::observe(ctx).await?;
    let mut writes = bootstrap::bootstrap(ctx, &mut snap).await?;
    let mut config = match snap.config.clone() {
        ConfigRead::Found(c) => *c,
        ConfigRead::Invalid(m) => return invalid(ctx, &m).await,
        ConfigRead::Missing => return Err(PassError::Failed("the Config was not created".into())),
    };
    if config.metadata.deletion_timestamp.is_some() {
        let Some(fresh) = finalize(ctx, &mut snap, &mut writes).await? else {
            // Other finalizers hold it: its deletion is a watch event away.
            let management_state = config.spec.management_state;
            return Ok(Summary { management_state, writes, ..Default::default() });
        };
        config = fresh;
    }
    crate::logging::set(config.spec.operator_log_level);
    writes += spec::complete(ctx, &mut config, &snap.infra, snap.apiserver.as_ref()).await?;
    let storage = match config.spec.state() {
        ManagementState::Managed => provision::managed(ctx, &snap, &mut config).await?,
        ManagementState::Removed => provision::removed(ctx, &mut config, &snap.infra).await?,
        _ => StorageOutcome::default(),
    };
    let workload = plan::plan(&snap, &config, &storage);
    let applied = crate::apply::apply_plan(ctx, &config, &workload).await;
    let apply = apply_result(&storage, &workload, &applied);
    let missing = match render_error(&storage, &workload) {
        Some(RenderError::Missing(m)) => Some(m),
        _ => None,
    };
    if let Some(e) = unreported_failure(ctx, &storage, &applied) {
        // The API server erred (not the input): retried at once, the status unchanged.
        return Err(PassError::Failed(e));
    }
    let pass = PassResult { apply, storage: &storage, applied: &applied, missing };
    let reported = report::report(ctx, &snap, &config, &pass).await?;
    writes += storage.writes + applied.writes + reported.writes;
    if let Some(e) = storage.error.clone().or_else(|| applied.error()) {
        return Err(PassError::Failed(e));
    }
    Ok(Summary {
        next_change: reported.next_change,
        ..summary(&snap, &config, reported.cluster_operator, writes)
    })
}

/// How long the API server may fail the registry's writes (5xx, throttling, no answer)
/// before the Config says so: a retry a moment later usually succeeds, and a condition
/// that flips for it would be noise.
const UNREPORTED_FOR: jiff::SignedDuration = jiff::SignedDuration::from_mins(1);

/// The registry part's failure when it is the API server's and younger than
/// [`UNREPORTED_FOR`]: the pass then ends without a report. A refusal (the input) is
/// reported at once.
fn unreported_failure(
    ctx: &Context,
    storage: &StorageOutcome,
    applied: &crate::apply::Applied,
) -> Option<String> {
    let mut since = ctx.registry_failing_since.lock().expect("registry state");
    let failure = applied.registry.as_ref().filter(|_| !applied.registry_refused);
    let Some(e) = failure.filter(|_| storage.error.is_none()) else {
        *since = None;
        return None;
    };
    let now = (ctx.now)();
    let first = *since.get_or_insert(now);
    (now.duration_since(first) < UNREPORTED_FOR).then(|| format!("registry: {e}"))
}

/// Why the registry's objects could not be rendered, found before provisioning or after.
fn render_error(
    storage: &StorageOutcome,
    workload: &render::plan::Workload,
) -> Option<RenderError> {
    storage.render_error.clone().or_else(|| workload.registry.clone().and_then(Result::err))
}

/// The registry part's result, for the Config's conditions.
fn apply_result(
    storage: &StorageOutcome,
    workload: &render::plan::Workload,
    applied: &crate::apply::Applied,
) -> ApplyResult {
    match (render_error(storage, workload), &storage.error, &applied.registry) {
        (Some(RenderError::Spec(e)), _, _) => ApplyResult::Permanent(e),
        (Some(RenderError::Missing(m)), _, _) => ApplyResult::Error(m),
        (None, Some(e), _) | (None, None, Some(e)) => ApplyResult::Error(e.clone()),
        (None, None, None) => ApplyResult::Ok,
    }
}

/// A Config that cannot be read: reported once, and the pass ends.
async fn invalid(ctx: &Context, message: &str) -> Result<Summary, PassError> {
    let reported = report::invalid_config(ctx, &format!("{INVALID_CONFIG}: {message}")).await?;
    Ok(Summary {
        cluster_operator: vec![("Degraded".into(), ConditionStatus::True, INVALID_CONFIG.into())],
        writes: usize::from(reported),
        ..Default::default()
    })
}

/// A deleted Config: the finalizer's teardown (the registry's objects, and storage the
/// operator created), the finalizer removed, and a fresh Config bootstrapped once the old
/// one is gone. `None` while other finalizers hold it.
async fn finalize(
    ctx: &Context,
    snap: &mut Snapshot,
    writes: &mut usize,
) -> Result<Option<Config>, PassError> {
    let Some(mut config) = snap.config().cloned() else { return Ok(None) };
    crate::apply::remove_registry(ctx, &config, writes).await.map_err(PassError::Failed)?;
    let removed = provision::removed(ctx, &mut config, &snap.infra).await?;
    *writes += removed.writes;
    if let Some(e) = removed.error {
        *writes += report::remove_failed(ctx, &config, &e).await?;
        return Err(PassError::Failed(format!("removing the registry's storage: {e}")));
    }
    if let Some(i) = config.metadata.finalizers.iter().flatten().position(|f| f == FINALIZER) {
        let patch: json_patch::Patch = serde_json::from_value(json!([
            {"op": "test", "path": format!("/metadata/finalizers/{i}"), "value": FINALIZER},
            {"op": "remove", "path": format!("/metadata/finalizers/{i}")}
        ]))
        .expect("a valid JSON patch");
        Api::<Config>::all(ctx.client.clone())
            .patch(CLUSTER, &patch_params(), &Patch::<()>::Json(patch))
            .await?;
        *writes += 1;
    }
    snap.config = observe::read_config(ctx).await?;
    *writes += bootstrap::bootstrap(ctx, snap).await?;
    Ok(snap.config().filter(|c| c.metadata.deletion_timestamp.is_none()).cloned())
}

/// What the pass found, for the controller and its metrics.
fn summary(
    snap: &Snapshot,
    config: &Config,
    cluster_operator: Vec<(String, ConditionStatus, String)>,
    writes: usize,
) -> Summary {
    let managed = config.spec.state() == ManagementState::Managed;
    let backend = |s: Option<&ImageRegistryConfigStorage>| render::storage::select(s).ok();
    let storage_type = managed.then(|| backend(config.spec.storage.as_ref())).flatten();
    let applied_before = config.status.as_ref().map(|s| &s.storage);
    let storage_reconfigured = managed
        && applied_before.is_some_and(|before| {
            backend(Some(before)).is_some()
                && config
                    .spec
                    .storage
                    .as_ref()
                    .is_some_and(|now| storage_identity(before) != storage_identity(now))
        });
    Summary {
        management_state: config.spec.management_state.clone(),
        cluster_operator,
        writes,
        storage_type: storage_type.map(|b| b.name()),
        storage_reconfigured,
        pruner_suspended: snap.pruner.as_ref().and_then(|p| p.spec.suspend).unwrap_or(false),
        next_change: None,
    }
}

/// What identifies where the registry's data lives (a change is a reconfiguration).
fn storage_identity(s: &ImageRegistryConfigStorage) -> Option<(String, String)> {
    let backend = render::storage::select(Some(s)).ok()?;
    let location = if let Some(x) = &s.s3 {
        format!("{}/{}/{}", x.region_endpoint, x.region, x.bucket)
    } else if let Some(x) = &s.gcs {
        x.bucket.clone()
    } else if let Some(x) = &s.azure {
        format!("{}/{}", x.account_name, x.container)
    } else if let Some(x) = &s.swift {
        format!("{}/{}", x.auth_url, x.container)
    } else if let Some(x) = &s.ibmcos {
        format!("{}/{}", x.location, x.bucket)
    } else if let Some(x) = &s.pvc {
        x.claim.clone()
    } else {
        String::new()
    };
    Some((backend.name().to_string(), location))
}
