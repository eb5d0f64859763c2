//! Stage 4, storage: provisions, adopts or checks the registry's storage through its
//! driver (Managed), or removes the storage the operator created (Removed, or the
//! finalizer), giving one typed [`StorageOutcome`]. What a driver settles in the spec
//! (management state, names, encrypt) is written back, conditional on the version read.

use api::imageregistry::{CLUSTER, ImageRegistryConfigStorage};
use api::{ConditionStatus, Config, Infrastructure, ManagementState};
use k8s_openapi::api::core::v1::{ConfigMap, PersistentVolumeClaim, Secret};
use kube::api::{Api, Patch};
use render::conditions::Cond;
use render::conditions::Reason;
use render::names::*;
use render::registry::{self, RenderError};
use render::storage::StorageContribution;
use serde_json::json;
use storage::credentials::Source;
use storage::provision::{CaTrust, Outcome};

use crate::observe::{ObserveError, Snapshot, get_opt};
use crate::sync::{Context, patch_params, post};

#[derive(Debug, thiserror::Error)]
pub enum ProvisionError {
    #[error(transparent)]
    Api(#[from] kube::Error),
    #[error(transparent)]
    Observe(#[from] ObserveError),
}

/// What becomes of `status.storage`.
#[derive(Debug, Default, Clone, Copy, PartialEq, Eq)]
pub enum StorageStatus {
    /// Left as it is (nothing applied, or a step failed).
    #[default]
    Keep,
    /// The spec's storage was applied.
    Set,
    /// The storage was removed (or was not the operator's to remove).
    Clear,
}

/// What the stage did.
#[derive(Debug, Default)]
pub struct StorageOutcome {
    /// Conditions the driver reported.
    pub conditions: Vec<Cond>,
    pub applied: StorageStatus,
    /// A failure to retry (the workload is not applied in this pass).
    pub error: Option<String>,
    /// Why the spec cannot be rendered (nothing was provisioned).
    pub render_error: Option<RenderError>,
    /// What the storage adds to the registry's workload.
    pub contribution: StorageContribution,
    pub writes: usize,
}

/// The cloud credentials for the configured backend: the user's override secret first,
/// else the cluster's (§e), and which one was used.
pub async fn credentials(
    ctx: &Context,
    spec: Option<&ImageRegistryConfigStorage>,
    infra: &Infrastructure,
) -> Result<(storage::Credentials, Source), ObserveError> {
    let Ok(backend) = render::storage::select(spec) else { return Ok(Default::default()) };
    if matches!(backend, render::storage::Backend::EmptyDir | render::storage::Backend::Pvc) {
        return Ok(Default::default());
    }
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), NAMESPACE);
    let decode = |s: Option<Secret>| {
        s.map(|s| {
            let mut data: storage::credentials::SecretData = s
                .data
                .unwrap_or_default()
                .into_iter()
                .map(|(k, v)| (k, String::from_utf8_lossy(&v.0).into_owned()))
                .collect();
            data.extend(s.string_data.unwrap_or_default());
            data
        })
    };
    let user = decode(get_opt(ctx, &secrets, storage::credentials::USER_SECRET).await?);
    let cluster = decode(get_opt(ctx, &secrets, storage::credentials::CLUSTER_SECRET).await?);
    let cloud = infra
        .platform_status()
        .and_then(|p| p.openstack.as_ref())
        .map(|o| o.cloud_name.clone())
        .filter(|c| !c.is_empty())
        .unwrap_or_else(|| "openstack".into());
    let mut found =
        storage::credentials::resolve_in(backend, user.as_ref(), cluster.as_ref(), &cloud);
    found.0.problem =
        storage::credentials::problem(backend, user.as_ref(), cluster.as_ref(), &cloud);
    let azure = spec.and_then(|s| s.azure.as_ref()).map(|a| storage::azure::effective(a, infra));
    if azure.is_some_and(|a| storage::azure::is_azure_stack(&a.cloud_name)) {
        // Azure Stack Hub: its endpoints, as the AzureStackCloud controller keeps them.
        let endpoints = config_map_key(ctx, OPENSHIFT_CONFIG, CLOUD_PROVIDER_CONFIG, "endpoints");
        found.0.azure_stack = Some(match endpoints.await? {
            Some(json) => storage::azure::AzureEnvironment::parse(&json),
            None => Err(format!(
                "Azure Stack Hub's endpoints are not known: {} is missing",
                storage::azure::AZURE_STACK_ENDPOINTS
            )),
        });
    }
    if backend == render::storage::Backend::Swift && found.0.swift.ca_cert.is_empty() {
        // No `cacert` in the cloud credentials: the cloud provider's CA bundle, if any.
        let pem = config_map_key(ctx, OPENSHIFT_CONFIG, CLOUD_PROVIDER_CONFIG, CA_BUNDLE_PEM);
        found.0.swift.ca_cert = pem.await?.unwrap_or_default();
    }
    Ok(found)
}

/// The cloud provider's config map in `openshift-config` (its CA bundle for Swift).
const CLOUD_PROVIDER_CONFIG: &str = "cloud-provider-config";
/// The cloud CA config map in `openshift-config-managed` (its CA bundle for S3).
const KUBE_CLOUD_CONFIG: &str = "kube-cloud-config";
/// The key of both cloud CA bundles.
const CA_BUNDLE_PEM: &str = "ca-bundle.pem";

/// A non-blank value of `key` in config map `namespace/name`, if both exist.
async fn config_map_key(
    ctx: &Context,
    namespace: &str,
    name: &str,
    key: &str,
) -> Result<Option<String>, ObserveError> {
    let cms: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), namespace);
    let cm = get_opt(ctx, &cms, name).await?;
    Ok(cm.and_then(|c| c.data).and_then(|mut d| d.remove(key)).filter(|v| !v.trim().is_empty()))
}

/// The stage for a Managed registry: the storage checked against the spec and the
/// cluster, then provisioned and its claim ensured.
pub async fn managed(
    ctx: &Context,
    snap: &Snapshot,
    config: &mut Config,
) -> Result<StorageOutcome, ProvisionError> {
    let infra = &snap.infra;
    let mut credentials = credentials(ctx, config.spec.storage.as_ref(), infra).await?;
    let mut out = StorageOutcome::default();
    let (contribution, storage_error) = contribution(config, infra, &credentials.0);
    out.contribution = contribution;
    let check = match storage_error {
        Some(m) => Err(RenderError::Spec(render::verify::SpecError {
            reason: render::verify::VERIFICATION_FAILED,
            message: format!("unable to complete resource: {m}"),
        })),
        None => registry::check(&crate::plan::inputs(snap, config, &out.contribution)),
    };
    if let Err(e) = check {
        out.render_error = Some(e);
        return Ok(out);
    }
    let spec = config.spec.storage.clone().unwrap_or_default();
    let ca = match storage_ca(ctx, &spec, &spec, &credentials.0).await? {
        Ok(ca) => ca,
        Err(missing) => {
            (out.conditions, out.error) = (missing.conditions, missing.error);
            return Ok(out);
        }
    };
    out.contribution.ca_bundle = ca.bundle().to_string();
    let before = config.spec.storage.clone();
    let provisioned =
        provision(ctx, config, infra, (&credentials, ca.clone()), &mut out.writes).await?;
    out.conditions = provisioned.conditions;
    if let Some(e) = provisioned.error {
        out.error = Some(e);
        return Ok(out);
    }
    // What the driver settled (encrypt, names, keys it obtained) reaches the workload in
    // this pass, not one rollout later.
    if config.spec.storage != before
        || provisioned.credentials_file.is_some()
        || provisioned.account_key.is_some()
    {
        if let Some(file) = provisioned.credentials_file {
            credentials.0.s3_credentials_file = Some(file);
        }
        if let Some(key) = provisioned.account_key {
            credentials.0.azure = storage::azure::AzureAuth::AccountKey(key);
        }
        if let Ok(c) = storage::contribution(config, infra, &credentials.0) {
            out.contribution = StorageContribution { ca_bundle: ca.bundle().to_string(), ..c };
        }
    }
    let claim = ensure_claim(ctx, config, &mut out.writes).await?;
    out.conditions.extend(claim.conditions);
    match claim.error {
        Some(e) => out.error = Some(e),
        None => out.applied = StorageStatus::Set,
    }
    Ok(out)
}

/// What the storage adds to the workload; a configuration it cannot use is a spec error
/// (no single backend is reported by the verification).
fn contribution(
    config: &Config,
    infra: &Infrastructure,
    credentials: &storage::Credentials,
) -> (StorageContribution, Option<String>) {
    match storage::contribution(config, infra, credentials) {
        Ok(c) => (c, None),
        Err(storage::ContributionError::Config(m)) => (Default::default(), Some(m)),
        Err(storage::ContributionError::Select(_)) => (Default::default(), None),
    }
}

/// The certificate authorities of the storage server of `storage` (§e): for S3 the
/// bundle `storage.s3.trustedCA` names (instead of the system's roots), else the
/// `kube-cloud-config` bundle (besides them); for Swift the OpenStack CA of `credentials`.
/// When `trustedCA` names a bundle that cannot be read, the step's outcome for `spec`
/// saying so: nothing is sent to the storage server without the trust the user asked for.
async fn storage_ca(
    ctx: &Context,
    storage: &ImageRegistryConfigStorage,
    spec: &ImageRegistryConfigStorage,
    credentials: &storage::Credentials,
) -> Result<Result<CaTrust, Outcome>, ObserveError> {
    if storage.swift.is_some() && !credentials.swift.ca_cert.is_empty() {
        return Ok(Ok(CaTrust::only(credentials.swift.ca_cert.clone())));
    }
    let Some(s3) = &storage.s3 else { return Ok(Ok(CaTrust::default())) };
    let Some(name) = s3.trusted_ca.as_ref().map(|t| t.name.clone()).filter(|n| !n.is_empty())
    else {
        let pem = config_map_key(ctx, OPENSHIFT_CONFIG_MANAGED, KUBE_CLOUD_CONFIG, CA_BUNDLE_PEM);
        return Ok(Ok(CaTrust { instead: None, besides: pem.await? }));
    };
    let cms: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), OPENSHIFT_CONFIG);
    let problem = match get_opt(ctx, &cms, &name).await? {
        Some(cm) => match cm.data.and_then(|d| d.get("ca-bundle.crt").cloned()) {
            Some(pem) if !pem.trim().is_empty() => return Ok(Ok(CaTrust::only(pem))),
            _ => format!("config map {OPENSHIFT_CONFIG}/{name} has no key ca-bundle.crt"),
        },
        None => format!("config map {OPENSHIFT_CONFIG}/{name} (storage.s3.trustedCA) not found"),
    };
    let mut out = Outcome::new(spec);
    out.conditions.push(Cond::new(
        "StorageExists",
        ConditionStatus::Unknown,
        Reason::TrustedCANotFound,
        &problem,
    ));
    out.error = Some(problem);
    Ok(Err(out))
}

/// Cloud storage provisioned, adopted or checked by its driver; what the driver settled
/// in the spec is written back.
async fn provision(
    ctx: &Context,
    config: &mut Config,
    infra: &Infrastructure,
    (credentials, ca): (&(storage::Credentials, Source), CaTrust),
    writes: &mut usize,
) -> Result<Outcome, ProvisionError> {
    let spec = config.spec.storage.clone().unwrap_or_default();
    let applied = config.status.as_ref().map(|s| s.storage.clone()).unwrap_or_default();
    let req = storage::provision::Request {
        spec: &spec,
        applied: &applied,
        infrastructure: infra,
        credentials: &credentials.0,
        source: credentials.1,
        ca,
    };
    let Some(out) = ctx.provisioner.ensure(&req).await else { return Ok(Outcome::new(&spec)) };
    if out.storage != spec {
        write_back(ctx, config, &out.storage).await?;
        *writes += 1;
    }
    Ok(out)
}

/// Writes `storage` into the Config's spec, conditional on the version read.
async fn write_back(
    ctx: &Context,
    config: &mut Config,
    storage: &ImageRegistryConfigStorage,
) -> Result<(), kube::Error> {
    let configs: Api<Config> = Api::all(ctx.client.clone());
    let old = json!({"spec": {"storage": config.spec.storage}});
    let new = json!({"spec": {"storage": storage}});
    let mut patch = crate::apply::merge_diff(&old, &new);
    patch["metadata"] = json!({"resourceVersion": config.metadata.resource_version});
    let status = config.status.clone();
    let base = config.metadata.resource_version.clone();
    *config = configs.patch(CLUSTER, &patch_params(), &Patch::Merge(&patch)).await?;
    crate::report::wrote(ctx, &configs, config, base.as_deref());
    // The status of this pass is computed against the one read at its start.
    config.status = status;
    Ok(())
}

/// The claim of a Managed registry on a PVC (§e.6): the default claim is created when
/// missing (and must be the operator's when present); a named claim must exist; either
/// must allow the registry's replicas and rollout strategy. Reported in `StorageExists`.
async fn ensure_claim(
    ctx: &Context,
    config: &Config,
    writes: &mut usize,
) -> Result<Outcome, ProvisionError> {
    let spec = config.spec.storage.clone().unwrap_or_default();
    let mut out = Outcome::new(&spec);
    let Some(pvc) = spec.pvc.as_ref() else { return Ok(out) };
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), NAMESPACE);
    let default = pvc.claim.is_empty();
    let name = if default { render::storage::PVC_NAME } else { pvc.claim.as_str() };
    let claim = match get_opt(ctx, &pvcs, name).await? {
        Some(c) if default && !operators(&c) => {
            let m =
                "could not create default PVC, it already exists and is not owned by the operator";
            claim_condition(&mut out, ConditionStatus::False, Reason::PvcAlreadyExists, m);
            return Ok(out);
        }
        Some(c) => {
            let m = format!("The claim {name} exists");
            claim_condition(&mut out, ConditionStatus::True, Reason::PvcExists, &m);
            c
        }
        None if default => {
            let created = pvcs.create(&post(), &default_claim(name)).await?;
            *writes += 1;
            let m = format!("The claim {name} was created");
            claim_condition(&mut out, ConditionStatus::True, Reason::PvcCreated, &m);
            created
        }
        None => {
            let m = format!("persistentvolumeclaim \"{name}\" not found");
            claim_condition(&mut out, ConditionStatus::False, Reason::PvcDoesNotExist, &m);
            return Ok(out);
        }
    };
    let modes = claim.spec.and_then(|s| s.access_modes).unwrap_or_default();
    let (replicas, strategy) = (config.spec.replicas, &config.spec.rollout_strategy);
    if let Err(m) = render::storage::check_claim(name, &modes, replicas, strategy) {
        claim_condition(&mut out, ConditionStatus::False, Reason::PvcIssuesFound, &m);
    }
    Ok(out)
}

/// The claim's `StorageExists`; one that is not True fails the step.
fn claim_condition(out: &mut Outcome, status: ConditionStatus, reason: Reason, message: &str) {
    out.conditions = vec![Cond::new("StorageExists", status, reason.clone(), message)];
    if status != ConditionStatus::True {
        out.error = Some(format!("{reason}: {message}"));
    }
}

/// Whether the operator made the claim (its ownership annotation).
fn operators(c: &PersistentVolumeClaim) -> bool {
    c.metadata
        .annotations
        .as_ref()
        .is_some_and(|a| a.get(ROUTE_OWNER_ANNOTATION).is_some_and(|v| v == "true"))
}

/// The default claim: ReadWriteMany, 100Gi, marked as the operator's.
fn default_claim(name: &str) -> PersistentVolumeClaim {
    serde_json::from_value(json!({
        "metadata": {"name": name, "namespace": NAMESPACE, "annotations": {ROUTE_OWNER_ANNOTATION: "true"}},
        "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "100Gi"}}}
    }))
    .expect("a valid claim")
}

/// The stage for a Removed registry (and the finalizer): the storage the operator
/// created, as recorded in `status.storage`, is removed — the default claim, or the
/// cloud bucket or container through its driver. Storage not Managed is left alone.
pub async fn removed(
    ctx: &Context,
    config: &mut Config,
    infra: &Infrastructure,
) -> Result<StorageOutcome, ProvisionError> {
    let mut writes = 0;
    let removed = remove(ctx, config, infra, &mut writes).await?;
    let applied = if removed.error.is_none() { StorageStatus::Clear } else { StorageStatus::Keep };
    Ok(StorageOutcome {
        conditions: removed.conditions,
        applied,
        error: removed.error,
        writes,
        ..Default::default()
    })
}

async fn remove(
    ctx: &Context,
    config: &mut Config,
    infra: &Infrastructure,
    writes: &mut usize,
) -> Result<Outcome, ProvisionError> {
    let applied = config.status.as_ref().map(|s| s.storage.clone()).unwrap_or_default();
    let spec = config.spec.storage.clone().unwrap_or_default();
    let ours = applied.state() == ManagementState::Managed;
    if ours && let Some(pvc) = &applied.pvc {
        let name = if pvc.claim.is_empty() { render::storage::PVC_NAME } else { &pvc.claim };
        let r = registry::ObjectRef {
            kind: "PersistentVolumeClaim",
            namespace: Some(NAMESPACE),
            name: name.to_string(),
        };
        *writes += usize::from(ctx.applier.delete(&r).await?);
        return Ok(Outcome::new(&spec));
    }
    let credentials = credentials(ctx, Some(&applied), infra).await?;
    // The trust of the bucket being removed (the one recorded in the status); storage that
    // is not the operator's is left alone without a request, so it needs none.
    let ca = if ours {
        match storage_ca(ctx, &applied, &spec, &credentials.0).await? {
            Ok(ca) => ca,
            Err(missing) => return Ok(missing),
        }
    } else {
        CaTrust::default()
    };
    let req = storage::provision::Request {
        spec: &spec,
        applied: &applied,
        infrastructure: infra,
        credentials: &credentials.0,
        source: credentials.1,
        ca,
    };
    let Some(out) = ctx.provisioner.remove(&req).await else { return Ok(Outcome::new(&spec)) };
    if out.error.is_none() && out.storage != spec && config.metadata.deletion_timestamp.is_none() {
        write_back(ctx, config, &out.storage).await?;
        *writes += 1;
    }
    Ok(out)
}
