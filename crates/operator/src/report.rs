//! Stage 7, report: the status of the Config, the ImagePruner, the image config and the
//! ClusterOperator, each computed from what the pass did and written only when it
//! changed; Warning Events for problems when they first show. Each write is attempted
//! even when another failed.

use api::imageregistry::CLUSTER;
use api::{ClusterOperator, ConditionStatus, Config, ImagePruner, ManagementState, Route};
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, Patch};
use render::conditions::Reason;
use render::conditions::{self, ApplyResult, Cond, PrunerFacts};
use render::names::*;
use render::registry;
use serde_json::json;

use crate::apply::{Applied, FIELD_MANAGER};
use crate::observe::{ObserveError, Snapshot, get_opt, list};
use crate::provision::{StorageOutcome, StorageStatus};
use crate::sync::{Context, patch_params, post};

#[derive(Debug, thiserror::Error)]
pub enum ReportError {
    #[error(transparent)]
    Api(#[from] kube::Error),
    #[error(transparent)]
    Observe(#[from] ObserveError),
}

/// What the pass did, for the status.
pub struct PassResult<'a> {
    pub apply: ApplyResult,
    pub storage: &'a StorageOutcome,
    pub applied: &'a Applied,
    /// What the registry's objects wait for in the cluster (a Secret a route names, or its
    /// `tls.crt`...), which someone must add: said with an Event.
    pub missing: Option<String>,
}

/// What the report wrote.
#[derive(Debug, Default)]
pub struct Reported {
    pub writes: usize,
    /// The ClusterOperator's Available, Progressing and Degraded.
    pub cluster_operator: Vec<(String, ConditionStatus, String)>,
    /// When the Config's conditions change without any event (the 5-minute rule).
    pub next_change: Option<Timestamp>,
}

/// Writes every status of the pass; the first error comes back after all were tried.
pub async fn report(
    ctx: &Context,
    snap: &Snapshot,
    config: &Config,
    pass: &PassResult<'_>,
) -> Result<Reported, ReportError> {
    let mut out = Reported::default();
    let image = image_config_status(ctx, snap).await;
    {
        let mut since = ctx.image_config_failing_since.lock().expect("image config state");
        match &image {
            Ok(_) => *since = None,
            Err(_) => {
                since.get_or_insert((ctx.now)());
            }
        }
    }
    let image_error = image.as_ref().err().map(ToString::to_string);
    let config_status = config_status(ctx, snap, config, pass, image_error.as_deref()).await;
    let pruner = pruner_status(ctx, snap, pass.applied).await;
    let (config_conditions, n) = config_status?;
    out.writes += n;
    out.next_change = conditions::next_change(&config_conditions, (ctx.now)());
    let (pruner_conditions, n) = pruner?;
    out.writes += n;
    let (co, n) =
        cluster_operator(ctx, snap, config, &config_conditions, &pruner_conditions).await?;
    out.writes += n + image?;
    out.cluster_operator = co;
    Ok(out)
}

/// `images.config.openshift.io/cluster` status: the registry's internal hostname while its
/// Service exists, and the hosts its Routes were admitted with (the default route first).
async fn image_config_status(ctx: &Context, snap: &Snapshot) -> Result<usize, ReportError> {
    let Some(image) = &snap.image else { return Ok(0) };
    let services: Api<Service> = Api::namespaced(ctx.client.clone(), NAMESPACE);
    let routes: Api<Route> = Api::namespaced(ctx.client.clone(), NAMESPACE);
    let internal = if get_opt(ctx, &services, SERVICE).await?.is_some() {
        format!("{SERVICE}.{NAMESPACE}.svc:{PORT}")
    } else {
        String::new()
    };
    let mut external: Vec<String> = list(ctx, &routes, None)
        .await?
        .into_iter()
        .filter(|r| {
            r.metadata
                .annotations
                .as_ref()
                .is_some_and(|a| a.get(ROUTE_OWNER_ANNOTATION).is_some_and(|v| v == "true"))
        })
        .flat_map(|r| r.status.map(|s| s.ingress).unwrap_or_default())
        .map(|i| i.host)
        .filter(|h| !h.is_empty())
        .collect();
    external.sort();
    external.dedup();
    if let Some(i) =
        external.iter().position(|h| h.starts_with("default-route-openshift-image-registry"))
    {
        let first = external.remove(i);
        external.insert(0, first);
    }
    let mut status = image.status.clone().unwrap_or_default();
    status.internal_registry_hostname = internal;
    status.external_registry_hostnames = external;
    if ctx.gates.import_mode() {
        status.image_stream_import_mode =
            crate::gates::import_mode(image, snap.cluster_version.as_ref());
    }
    if Some(&status) == image.status.as_ref() {
        return Ok(0);
    }
    let base = image.metadata.resource_version.as_deref();
    write_status::<api::Image, _>(ctx, (CLUSTER, base), &image.status, &status).await?;
    Ok(1)
}

/// Remembers what a write over version `base` returned, so that its watch event wakes no
/// pass.
pub(crate) fn wrote<K: kube::Resource + serde::Serialize>(
    ctx: &Context,
    api: &Api<K>,
    obj: &K,
    base: Option<&str>,
) {
    ctx.cache.wrote(api.resource_url(), serde_json::to_value(obj).expect("JSON"), base);
}

/// Merge-patches the status of cluster-scoped `name` (read at version `base`) with
/// `{"status": <diff>}`, and remembers the answer (its echo wakes no pass).
async fn write_status<K, S>(
    ctx: &Context,
    (name, base): (&str, Option<&str>),
    old: &Option<S>,
    new: &S,
) -> Result<(), kube::Error>
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::ClusterResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + serde::Serialize
        + std::fmt::Debug,
    S: serde::Serialize,
{
    let api = Api::<K>::all(ctx.client.clone());
    let patch = Patch::Merge(status_patch(old, new));
    wrote(ctx, &api, &api.patch_status(name, &patch_params(), &patch).await?, base);
    Ok(())
}

/// `{"status": <merge diff of the old and new status>}`.
fn status_patch<T: serde::Serialize>(old: &Option<T>, new: &T) -> serde_json::Value {
    let old =
        old.as_ref().map(|o| serde_json::to_value(o).expect("JSON")).unwrap_or_else(|| json!({}));
    let new = serde_json::to_value(new).expect("JSON");
    json!({"status": crate::apply::merge_diff(&old, &new)})
}

/// Reason of a Config the operator cannot read.
pub const INVALID_CONFIG: &str = "InvalidConfig";

/// A Config that does not deserialize: a Degraded condition written into its raw status
/// (once), an Event, and no retry until it changes. Returns whether it wrote.
pub async fn invalid_config(ctx: &Context, message: &str) -> Result<bool, ReportError> {
    let r = kube::api::ApiResource {
        group: api::imageregistry::GROUP.into(),
        version: "v1".into(),
        api_version: format!("{}/v1", api::imageregistry::GROUP),
        kind: "Config".into(),
        plural: "configs".into(),
    };
    let raw: Api<kube::api::DynamicObject> = Api::all_with(ctx.client.clone(), &r);
    let Some(obj) = raw.get_opt(CLUSTER).await? else { return Ok(false) };
    let mut conditions: Vec<serde_json::Value> = obj
        .data
        .pointer("/status/conditions")
        .and_then(|c| c.as_array())
        .cloned()
        .unwrap_or_default();
    let already = conditions.iter().any(|c| {
        c["type"] == "Degraded" && c["reason"] == INVALID_CONFIG && c["message"] == message
    });
    if already {
        return Ok(false);
    }
    crate::logging::log(0, &format!("the Config cannot be read: {message}"));
    let now = (ctx.now)().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    conditions.retain(|c| c["type"] != "Degraded");
    conditions.push(json!({"type": "Degraded", "status": "True", "reason": INVALID_CONFIG, "message": message, "lastTransitionTime": now}));
    warn(ctx, INVALID_CONFIG, message).await?;
    raw.patch_status(
        CLUSTER,
        &patch_params(),
        &Patch::Merge(json!({"status": {"conditions": conditions}})),
    )
    .await?;
    Ok(true)
}

/// The operator's own Deployment (the original's release manifests name it so).
const OPERATOR_DEPLOYMENT: &str = "cluster-image-registry-operator";

/// Records a Warning Event in the operand namespace about the operator's Deployment, as the
/// reference does. (An Event about the cluster-scoped Config would have to live in
/// `default`: kube-apiserver refuses one whose namespace differs from its object's.)
pub async fn warn(ctx: &Context, reason: &str, message: &str) -> Result<(), kube::Error> {
    let events: Api<k8s_openapi::api::core::v1::Event> =
        Api::namespaced(ctx.client.clone(), NAMESPACE);
    let now = (ctx.now)().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
    let event: k8s_openapi::api::core::v1::Event = serde_json::from_value(json!({
        "metadata": {"generateName": "cluster.", "namespace": NAMESPACE},
        "involvedObject": {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": NAMESPACE, "name": OPERATOR_DEPLOYMENT},
        "reason": reason, "message": message, "type": "Warning", "count": 1,
        "firstTimestamp": now, "lastTimestamp": now,
        "source": {"component": "image-registry-operator"},
        "reportingComponent": "image-registry-operator", "reportingInstance": FIELD_MANAGER,
    }))
    .expect("a valid Event");
    events.create(&post(), &event).await?;
    Ok(())
}

/// Degraded `RemoveFailed` and Progressing `Removing`, as the reference writes them when
/// removing the registry fails.
fn removal_conditions(error: &str) -> [Cond; 2] {
    let message = format!("Unable to remove registry: {error}");
    [
        Cond::new("Degraded", ConditionStatus::True, Reason::RemoveFailed, &message),
        Cond::new(
            "Progressing",
            ConditionStatus::True,
            Reason::Removing,
            "The registry is being removed",
        ),
    ]
}

/// A teardown that failed (the finalizer's): the removal conditions on the Config, and
/// an Event when they first show. Returns the writes made.
pub async fn remove_failed(
    ctx: &Context,
    config: &Config,
    error: &str,
) -> Result<usize, ReportError> {
    let now = (ctx.now)();
    let mut status = config.status.clone().unwrap_or_default();
    for c in removal_conditions(error) {
        conditions::set(&mut status.conditions, &c, now);
    }
    if Some(&status) == config.status.as_ref() {
        return Ok(0);
    }
    warn(ctx, "RemoveFailed", error).await?;
    Api::<Config>::all(ctx.client.clone())
        .patch_status(
            CLUSTER,
            &patch_params(),
            &Patch::Merge(status_patch(&config.status, &status)),
        )
        .await?;
    Ok(1)
}

/// The S3 settings conditions, which describe a bucket the operator manages.
const S3_SETTING_CONDITIONS: [&str; 4] = [
    storage::provision::s3::TAGGED,
    storage::provision::s3::ENCRYPTED,
    storage::provision::s3::PUBLIC_ACCESS_BLOCKED,
    storage::provision::s3::CLEANUP_ENABLED,
];

/// The storage part of the Config's status: the driver's conditions and `status.storage`.
fn storage_status(
    status: &mut api::ImageRegistryStatus,
    config: &Config,
    storage: &StorageOutcome,
    now: Timestamp,
) {
    let spec_storage = config.spec.storage.clone().unwrap_or_default();
    let backend = render::storage::select(Some(&spec_storage)).ok();
    if config.spec.state() == ManagementState::Managed {
        if backend == Some(render::storage::Backend::EmptyDir)
            && storage.applied == StorageStatus::Set
        {
            let c = Cond::new(
                "StorageExists",
                ConditionStatus::True,
                Reason::CreationSuccessful,
                "Storage was created",
            );
            conditions::set(&mut status.conditions, &c, now);
        }
        if backend != Some(render::storage::Backend::S3) {
            for t in S3_SETTING_CONDITIONS {
                conditions::remove(&mut status.conditions, t);
            }
        }
    }
    for c in &storage.conditions {
        conditions::set(&mut status.conditions, c, now);
    }
    match storage.applied {
        StorageStatus::Keep => {}
        StorageStatus::Set => {
            status.storage_managed = spec_storage.state() == ManagementState::Managed;
            status.storage = spec_storage;
        }
        StorageStatus::Clear => {
            // Nothing removed in this pass: a StorageExists that reports an earlier removal
            // stays; one about storage in use goes.
            let reports_removal = status.conditions.iter().any(|c| {
                c.type_ == "StorageExists"
                    && c.status == ConditionStatus::False
                    && c.reason.ends_with("Deleted")
            });
            if storage.conditions.is_empty() && !reports_removal {
                conditions::remove(&mut status.conditions, "StorageExists");
            }
            for t in S3_SETTING_CONDITIONS {
                conditions::remove(&mut status.conditions, t);
            }
            status.storage = Default::default();
            status.storage_managed = false;
        }
    }
}

/// The generations of the workloads the operator wrote (§c.3).
fn generations(
    deployment: Option<&Deployment>,
    ds: Option<&DaemonSet>,
) -> Vec<api::imageregistry::GenerationStatus> {
    [
        ("deployments", REGISTRY, deployment.and_then(|d| d.metadata.generation)),
        ("daemonsets", NODE_CA, ds.and_then(|d| d.metadata.generation)),
    ]
    .into_iter()
    .filter_map(|(resource, name, g)| {
        Some(api::imageregistry::GenerationStatus {
            group: "apps".into(),
            resource: resource.into(),
            namespace: NAMESPACE.into(),
            name: name.into(),
            last_generation: g?,
            hash: String::new(),
        })
    })
    .collect()
}

/// The node-ca daemon set's Available and Progressing conditions.
/// Plain Kubernetes without a pruner image: the pruner is off, and its conditions say so.
fn pruner_off() -> Vec<Cond> {
    let m = "plain Kubernetes: the image pruner is not deployed: it runs `oc adm prune images`, which needs OpenShift's image API; set IMAGE_PRUNER to an image with oc to deploy it";
    let reason = || Reason::Other("NotDeployed".into());
    vec![
        Cond::new("Available", ConditionStatus::True, reason(), m),
        Cond::new("Scheduled", ConditionStatus::False, reason(), m),
        Cond::new("Failed", ConditionStatus::False, reason(), m),
    ]
}

/// Plain Kubernetes: node-ca is not deployed, and the conditions say so.
fn node_ca_skipped() -> [Cond; 2] {
    let m = "plain Kubernetes: node-ca is not deployed (nodes there have no /etc/docker/certs.d convention to rely on); give the nodes' container runtime the CA of configmap image-registry-certificates to pull from the registry";
    let reason = || Reason::Other("NotDeployed".into());
    [
        Cond::new("NodeCADaemonAvailable", ConditionStatus::True, reason(), m),
        Cond::new("NodeCADaemonProgressing", ConditionStatus::False, reason(), m),
    ]
}

fn node_ca_conditions(ds: Option<&DaemonSet>) -> [Cond; 2] {
    let missing = "The daemon set node-ca does not exist";
    let Some(s) = ds.and_then(|d| d.status.as_ref()) else {
        return [
            Cond::new("NodeCADaemonAvailable", ConditionStatus::False, Reason::NotFound, missing),
            Cond::new("NodeCADaemonProgressing", ConditionStatus::True, Reason::NotFound, missing),
        ];
    };
    let available = if s.number_available.unwrap_or(0) > 0 {
        Cond::new(
            "NodeCADaemonAvailable",
            ConditionStatus::True,
            Reason::AsExpected,
            "The daemon set node-ca has available replicas",
        )
    } else {
        Cond::new(
            "NodeCADaemonAvailable",
            ConditionStatus::False,
            Reason::NoAvailableReplicas,
            "The daemon set node-ca does not have available replicas",
        )
    };
    let progressing = if s.updated_number_scheduled.unwrap_or(0) < s.desired_number_scheduled
        || s.number_misscheduled > 0
    {
        Cond::new(
            "NodeCADaemonProgressing",
            ConditionStatus::True,
            Reason::Progressing,
            "The daemon set node-ca is deploying node pods",
        )
    } else {
        Cond::new(
            "NodeCADaemonProgressing",
            ConditionStatus::False,
            Reason::AsExpected,
            "The daemon set node-ca is deployed",
        )
    };
    [available, progressing]
}

/// NodeCADaemonControllerDegraded: True only after two minutes of failures to apply.
fn node_ca_degraded(failing_since: Option<Timestamp>, now: Timestamp) -> Cond {
    match failing_since {
        Some(since) if now.duration_since(since) > jiff::SignedDuration::from_mins(2) => Cond::new(
            "NodeCADaemonControllerDegraded",
            ConditionStatus::True,
            Reason::Error,
            "unable to apply the node-ca daemon set for more than two minutes",
        ),
        _ => Cond::new(
            "NodeCADaemonControllerDegraded",
            ConditionStatus::False,
            Reason::AsExpected,
            "",
        ),
    }
}

/// The `…ControllerDegraded` conditions of the parts the reference runs as controllers
/// of their own, each from its own outcome: the image config (True after two minutes of
/// failures), the certificates (True at once), and the config observation (the TLS
/// profile, read at bootstrap, cannot fail on its own). `AsExpected` when healthy.
fn controller_conditions(
    certificates: Option<&str>,
    image_config: Option<&str>,
    image_failing_since: Option<Timestamp>,
    azure_stack: Option<&str>,
    now: Timestamp,
) -> [Cond; 4] {
    let ok = |t: &str| Cond::new(t, ConditionStatus::False, Reason::AsExpected, "");
    let image_for_long = image_failing_since
        .is_some_and(|since| now.duration_since(since) > jiff::SignedDuration::from_mins(2));
    let image = match image_config {
        Some(e) if image_for_long => {
            Cond::new("ImageConfigControllerDegraded", ConditionStatus::True, Reason::Error, e)
        }
        _ => ok("ImageConfigControllerDegraded"),
    };
    let certificates = match certificates {
        Some(e) => Cond::new(
            "ImageRegistryCertificatesControllerDegraded",
            ConditionStatus::True,
            Reason::Error,
            e,
        ),
        None => ok("ImageRegistryCertificatesControllerDegraded"),
    };
    let azure_stack = match azure_stack {
        Some(e) => {
            Cond::new("AzureStackCloudControllerDegraded", ConditionStatus::True, Reason::Error, e)
        }
        None => ok("AzureStackCloudControllerDegraded"),
    };
    [image, certificates, ok("ConfigObservationDegraded"), azure_stack]
}

/// Computes and writes the Config's status; returns its conditions and the writes made.
async fn config_status(
    ctx: &Context,
    snap: &Snapshot,
    config: &Config,
    pass: &PassResult<'_>,
    image_error: Option<&str>,
) -> Result<(Vec<api::OperatorCondition>, usize), ReportError> {
    let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), NAMESPACE);
    let daemonsets: Api<DaemonSet> = Api::namespaced(ctx.client.clone(), NAMESPACE);
    let deployment = get_opt(ctx, &deployments, REGISTRY).await?;
    let not_served = routes_not_served(ctx, config).await?;
    let ds = get_opt(ctx, &daemonsets, NODE_CA).await?;
    let now = (ctx.now)();
    let mut next = config.clone();
    let (d, apply) = (deployment.as_ref(), &pass.apply);
    conditions::sync_registry_status(&mut next, d, &not_served, apply, now);
    let status = next.status.get_or_insert_with(Default::default);
    status.observed_generation = config.metadata.generation;
    storage_status(status, config, pass.storage, now);
    status.generations = generations(deployment.as_ref(), ds.as_ref());
    let node_ca = match ctx.openshift.config {
        true => node_ca_conditions(ds.as_ref()),
        false => node_ca_skipped(),
    };
    for c in node_ca {
        conditions::set(&mut status.conditions, &c, now);
    }
    parts_status(ctx, snap, config, pass, status, image_error);
    if snap.infra.is_azure_cloud() {
        // Left by the AzurePathFix controller of older releases.
        let legacy = render::plan::AZURE_PATH_FIX_CONDITIONS;
        status.conditions.retain(|c| !legacy.contains(&c.type_.as_str()));
    }
    let written = next.status.clone().unwrap_or_default();
    if next.status == config.status {
        return Ok((written.conditions, 0));
    }
    events(ctx, config, &written.conditions, pass).await?;
    let base = config.metadata.resource_version.as_deref();
    write_status::<Config, _>(ctx, (CLUSTER, base), &config.status, &written).await?;
    Ok((written.conditions, 1))
}

/// Why the spec's routes are not served: the Routes' refusals by routers or, on plain
/// Kubernetes, the lack of an IngressClass for the Ingresses.
async fn routes_not_served(ctx: &Context, config: &Config) -> Result<Vec<String>, ReportError> {
    let names: Vec<String> = registry::route_specs(config).into_iter().map(|r| r.name).collect();
    if names.is_empty() {
        return Ok(Vec::new());
    }
    if !ctx.openshift.routes {
        let classes: Api<k8s_openapi::api::networking::v1::IngressClass> =
            Api::all(ctx.client.clone());
        let classes = list(ctx, &classes, None).await?;
        let problem = render::ingress::class_problem(ctx.ingress_class.as_deref(), &classes);
        return Ok(problem.map(|p| render::ingress::not_served(&names, &p)).into_iter().collect());
    }
    let routes: Api<Route> = Api::namespaced(ctx.client.clone(), NAMESPACE);
    let mut found = Vec::new();
    for name in &names {
        found.extend(get_opt(ctx, &routes, name).await?);
    }
    Ok(conditions::routes_not_admitted(&found))
}

/// The conditions of the pass's parts besides the registry and its storage: a failed
/// removal, the Infrastructure gap, and each part's `…ControllerDegraded`.
fn parts_status(
    ctx: &Context,
    snap: &Snapshot,
    config: &Config,
    pass: &PassResult<'_>,
    status: &mut api::ImageRegistryStatus,
    image_error: Option<&str>,
) {
    let now = (ctx.now)();
    let removal_error = pass.storage.error.as_ref().or(pass.applied.registry.as_ref());
    if config.spec.state() == ManagementState::Removed
        && let Some(e) = removal_error
    {
        for c in removal_conditions(e) {
            conditions::set(&mut status.conditions, &c, now);
        }
    }
    match &snap.infra_gap {
        Some(m) => {
            let c = Cond::new(
                "InfrastructureKnown",
                ConditionStatus::False,
                Reason::PlatformUnknown,
                m,
            );
            conditions::set(&mut status.conditions, &c, now);
        }
        None => {
            conditions::remove(&mut status.conditions, "InfrastructureKnown");
        }
    }
    let failing_since = *ctx.node_ca_failing_since.lock().expect("node-ca state");
    conditions::set(&mut status.conditions, &node_ca_degraded(failing_since, now), now);
    let image_since = *ctx.image_config_failing_since.lock().expect("image config state");
    let bad_cas = render::certificates::not_certificates(&snap.facts);
    let not_pem = (!bad_cas.is_empty()).then(|| {
        format!(
            "the additionalTrustedCA config map of images.config.openshift.io/cluster holds no PEM certificate under {}: left out of {CERTIFICATES}",
            bad_cas.join(", ")
        )
    });
    let certificates = pass.applied.certificates.as_deref().or(not_pem.as_deref());
    let azure_stack = pass.applied.azure_stack.as_deref();
    for c in controller_conditions(certificates, image_error, image_since, azure_stack, now) {
        conditions::set(&mut status.conditions, &c, now);
    }
}

/// Warning Events for a spec error, what the objects wait for, routes not served, an
/// unknown platform and storage problems, when they first show.
async fn events(
    ctx: &Context,
    config: &Config,
    next: &[api::OperatorCondition],
    pass: &PassResult<'_>,
) -> Result<(), kube::Error> {
    // One Event per distinct problem: the same condition with another message is another.
    let had = |type_: &str, status: ConditionStatus, reason: &Reason, message: &str| {
        config.status.iter().flat_map(|s| &s.conditions).any(|c| {
            c.type_ == type_
                && c.status == status
                && *reason == c.reason.as_str()
                && c.message == message
        })
    };
    if let ApplyResult::Permanent(e) = &pass.apply
        && !had("Degraded", ConditionStatus::True, &e.reason, &conditions::spec_error_message(e))
    {
        warn(ctx, e.reason.as_str(), &e.message).await?;
    }
    let refused = pass.applied.registry.as_ref().filter(|_| pass.applied.registry_refused);
    if let Some(m) = pass.missing.as_ref().or(refused)
        && !had(
            "Progressing",
            ConditionStatus::True,
            &Reason::Error,
            &format!("Unable to apply resources: {m}"),
        )
    {
        warn(ctx, "ApplyFailed", m).await?;
    }
    // Conditions the user acts on, each said once per message.
    let problems = [
        ("Degraded", "RouteDegraded"),
        ("InfrastructureKnown", "PlatformUnknown"),
        ("ImageRegistryCertificatesControllerDegraded", "Error"),
    ];
    for c in next.iter().filter(|c| problems.contains(&(c.type_.as_str(), c.reason.as_str()))) {
        let seen = config.status.iter().flat_map(|s| &s.conditions).any(|o| {
            (&o.type_, o.status, &o.reason, &o.message)
                == (&c.type_, c.status, &c.reason, &c.message)
        });
        if !seen {
            let reason = if c.reason == "Error" { &c.type_ } else { &c.reason };
            warn(ctx, reason, &c.message).await?;
        }
    }
    for c in pass.storage.conditions.iter().filter(|c| c.status != ConditionStatus::True) {
        if !had(&c.type_, c.status, &c.reason, &c.message)
            && !c.reason.as_str().ends_with("Deleted")
        {
            let reason = format!("{}{}", c.type_, c.status.as_str());
            warn(ctx, &reason, &format!("{}: {}", c.reason, c.message)).await?;
        }
    }
    Ok(())
}

/// Computes and writes the ImagePruner's status; returns its conditions and the writes.
async fn pruner_status(
    ctx: &Context,
    snap: &Snapshot,
    applied: &Applied,
) -> Result<(Vec<api::OperatorCondition>, usize), ReportError> {
    let apply_error = applied.pruner.clone();
    let Some(pruner_cr) = &snap.pruner else { return Ok((Vec::new(), 0)) };
    let cron_jobs: Api<CronJob> = Api::namespaced(ctx.client.clone(), NAMESPACE);
    let jobs: Api<Job> = Api::namespaced(ctx.client.clone(), NAMESPACE);
    let cron_job_exists = get_opt(ctx, &cron_jobs, PRUNER).await?.is_some();
    let job_list = list(ctx, &jobs, Some(("created-by", "image-pruner"))).await?;
    let facts = PrunerFacts {
        cron_job_exists,
        suspended: pruner_cr.spec.suspend.unwrap_or(false),
        jobs: &job_list,
        apply_error,
    };
    let now = (ctx.now)();
    let mut status = pruner_cr.status.clone().unwrap_or_default();
    let before = status.clone();
    let wanted = match crate::apply::pruner_deployed(ctx) {
        true => conditions::pruner_conditions(&facts),
        false => pruner_off(),
    };
    for c in wanted {
        conditions::set(&mut status.conditions, &c, now);
    }
    status.observed_generation = pruner_cr.metadata.generation;
    if status == before {
        return Ok((status.conditions, 0));
    }
    // A spec the pruner refuses, or one the API server refuses its objects for: said once.
    let degraded = |s: &api::ImagePrunerStatus| {
        s.conditions.iter().find(|c| c.type_ == "Degraded").map(|c| (c.status, c.message.clone()))
    };
    if applied.pruner_refused
        && let Some((ConditionStatus::True, message)) = degraded(&status)
        && degraded(&before) != Some((ConditionStatus::True, message.clone()))
    {
        warn(ctx, "ImagePrunerSyncError", &message).await?;
    }
    let base = pruner_cr.metadata.resource_version.as_deref();
    write_status::<ImagePruner, _>(ctx, (CLUSTER, base), &Some(before), &status).await?;
    Ok((status.conditions, 1))
}

/// Writes the ClusterOperator summary; returns it and the writes.
async fn cluster_operator(
    ctx: &Context,
    snap: &Snapshot,
    config: &Config,
    config_conditions: &[api::OperatorCondition],
    pruner_conditions: &[api::OperatorCondition],
) -> Result<(Vec<(String, ConditionStatus, String)>, usize), ReportError> {
    let desired = conditions::cluster_operator_conditions(config_conditions, pruner_conditions);
    let summary =
        desired.iter().map(|c| (c.type_.clone(), c.status, c.reason.to_string())).collect();
    let Some(co) = &snap.cluster_operator else { return Ok((summary, 0)) };
    let mut status = co.status.clone().unwrap_or_default();
    conditions::merge_cluster_operator_conditions(&mut status.conditions, &desired, (ctx.now)());
    let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), NAMESPACE);
    let deployment = get_opt(ctx, &deployments, REGISTRY).await?;
    if let Some(v) = conditions::cluster_operator_version(
        &config.spec.management_state,
        deployment.as_ref(),
        &ctx.env.release_version,
    ) {
        status.versions = v;
    }
    status.related_objects = conditions::related_objects();
    if Some(&status) == co.status.as_ref() {
        return Ok((summary, 0));
    }
    replace_status(ctx, co, status).await?;
    Ok((summary, 1))
}

/// Writes the ClusterOperator's status with an update (PUT `/status` at the version read),
/// the verb the original's RBAC grants on `clusteroperators/status` (it grants no patch),
/// so that the operator also runs under the ClusterRole a cluster keeps from the original.
/// The operator owns that status whole, so on a conflict (a version the watch had not
/// shown yet) it writes the same status again on the version the server has, as client-go's
/// retry-on-conflict does, a few times before it lets the pass fail.
async fn replace_status(
    ctx: &Context,
    co: &ClusterOperator,
    status: api::ClusterOperatorStatus,
) -> Result<(), kube::Error> {
    let api = Api::<ClusterOperator>::all(ctx.client.clone());
    let mut next = co.clone();
    next.status = Some(status);
    let pp =
        kube::api::PostParams { field_manager: Some(FIELD_MANAGER.into()), ..Default::default() };
    let mut attempts = 0;
    let written = loop {
        match api.replace_status(CLUSTER_OPERATOR, &pp, &next).await {
            Err(kube::Error::Api(e)) if e.code == 409 && attempts < 3 => {
                attempts += 1;
                next.metadata.resource_version =
                    api.get(CLUSTER_OPERATOR).await?.metadata.resource_version;
            }
            other => break other?,
        }
    };
    let value = serde_json::to_value(&written).expect("JSON");
    ctx.cache.wrote(api.resource_url(), value, next.metadata.resource_version.as_deref());
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The node-ca part alone, on hand-made daemon sets.
    #[test]
    fn node_ca_conditions_follow_the_daemon_set() {
        let [a, p] = node_ca_conditions(None);
        assert_eq!((a.reason.as_str(), p.status), ("NotFound", ConditionStatus::True));
        let ds: DaemonSet = serde_json::from_value(json!({"metadata": {"name": "node-ca"},
            "status": {"currentNumberScheduled": 2, "desiredNumberScheduled": 2, "numberMisscheduled": 0,
                "numberReady": 2, "numberAvailable": 2, "updatedNumberScheduled": 2}}))
        .unwrap();
        let [a, p] = node_ca_conditions(Some(&ds));
        assert_eq!((a.status, p.status), (ConditionStatus::True, ConditionStatus::False));
        let now = Timestamp::UNIX_EPOCH + jiff::SignedDuration::from_mins(10);
        assert_eq!(
            node_ca_degraded(Some(Timestamp::UNIX_EPOCH), now).status,
            ConditionStatus::True
        );
        assert_eq!(node_ca_degraded(Some(now), now).status, ConditionStatus::False);
    }

    /// The controllers' Degraded conditions alone: AsExpected when healthy, the
    /// certificates at once, the image config only after two minutes.
    #[test]
    fn controller_conditions_follow_their_parts() {
        let now = Timestamp::UNIX_EPOCH + jiff::SignedDuration::from_mins(10);
        let healthy = controller_conditions(None, None, None, None, now);
        assert!(
            healthy.iter().all(|c| c.status == ConditionStatus::False && c.reason == "AsExpected")
        );
        let [image, certs, _, azure] =
            controller_conditions(Some("boom"), Some("nope"), Some(now), Some("unset"), now);
        assert_eq!((azure.status, azure.message.as_str()), (ConditionStatus::True, "unset"));
        assert_eq!((certs.status, certs.message.as_str()), (ConditionStatus::True, "boom"));
        assert_eq!(image.status, ConditionStatus::False, "not yet two minutes");
        let [image, _, _, _] =
            controller_conditions(None, Some("nope"), Some(Timestamp::UNIX_EPOCH), None, now);
        assert_eq!((image.status, image.reason.as_str()), (ConditionStatus::True, "Error"));
    }
}
