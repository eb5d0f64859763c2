//! One pass of the operator: read the cluster, bootstrap what is missing, apply the
//! desired objects for the management state, and write the status of the Config, the
//! ImagePruner and the ClusterOperator — each only when it changed.

use std::sync::{Arc, Mutex};

use api::imageregistry::{CLUSTER, FINALIZER, ImageRegistryConfigStorage};
use api::{ClusterOperator, ConditionStatus, Config, ImagePruner, Infrastructure, Route};
use jiff::Timestamp;
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::batch::v1::{CronJob, Job};
use k8s_openapi::api::core::v1::{
    ConfigMap, Namespace, Node, PersistentVolumeClaim, Secret, Service,
};
use kube::Client;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};
use render::conditions::{self, ApplyResult, Cond, PrunerFacts};
use render::names::*;
use render::registry::RenderError;
use render::{
    Inputs, Object, OperatorEnv, bootstrap, certificates, nodeca, pruner, registry, verify,
};
use serde_json::{Value, json};

use crate::apply::{Applier, FIELD_MANAGER};

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
    /// What the watches have seen (reads fall back to the API server for the rest).
    pub cache: crate::cache::Cache,
    /// The storage drivers (cloud clients and what they last applied).
    pub provisioner: storage::provision::Provisioner,
}

impl Context {
    /// A context with the system clock and OS randomness.
    pub fn new(client: Client, env: OperatorEnv) -> Self {
        let mut state = os_seed();
        let random: Random = Arc::new(Mutex::new(move || {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            (state >> 32) as u8
        }));
        Context {
            applier: Applier::new(client.clone()),
            client,
            env,
            now: Arc::new(Timestamp::now),
            random,
            node_ca_failing_since: Arc::default(),
            cache: Default::default(),
            provisioner: Default::default(),
        }
        .with_cache(Default::default())
    }

    /// Uses `cache` for reads and for the applier's comparisons.
    pub fn with_cache(mut self, cache: crate::cache::Cache) -> Self {
        self.applier = Applier::new(self.client.clone()).with_cache(cache.clone());
        self.cache = cache;
        self
    }

    fn byte(&self) -> u8 {
        (self.random.lock().expect("random"))()
    }
}

fn os_seed() -> u64 {
    use std::io::Read;
    let mut b = [0u8; 8];
    if std::fs::File::open("/dev/urandom").and_then(|mut f| f.read_exact(&mut b)).is_err() {
        // No /dev/urandom: the clock is a weak but working seed.
        return Timestamp::now().as_nanosecond() as u64 | 1;
    }
    u64::from_le_bytes(b) | 1
}

/// A pass that must be retried.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct Transient(pub String);

impl From<kube::Error> for Transient {
    fn from(e: kube::Error) -> Self {
        Transient(e.to_string())
    }
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
}

/// One object: from the watch cache when it has the resource, else from the API server.
async fn get_opt<K>(ctx: &Context, api: &Api<K>, name: &str) -> Result<Option<K>, Transient>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    if let Some(cached) = ctx.cache.get(api.resource_url(), name) {
        return match cached {
            None => Ok(None),
            Some(v) => {
                K::deserialize(&*v).map(Some).map_err(|e| Transient(format!("cached {name}: {e}")))
            }
        };
    }
    Ok(api.get_opt(name).await?)
}

/// Every object of `api` with `label` (`key=value`): from the watch cache when it has the
/// resource, else from the API server.
async fn list<K>(
    ctx: &Context,
    api: &Api<K>,
    label: Option<(&str, &str)>,
) -> Result<Vec<K>, Transient>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    if let Some(cached) = ctx.cache.list(api.resource_url()) {
        let has_label = |v: &Value| {
            label.is_none_or(|(k, want)| {
                v.pointer("/metadata/labels").and_then(|l| l.get(k)).and_then(Value::as_str)
                    == Some(want)
            })
        };
        let mut items = cached
            .into_iter()
            .filter(|v| has_label(v))
            .map(|v| K::deserialize(&*v))
            .collect::<Result<Vec<K>, _>>()
            .map_err(|e| Transient(format!("cached {}: {e}", api.resource_url())))?;
        // The API server's order, so that what is derived from the list is stable.
        items.sort_by(|a, b| a.meta().name.cmp(&b.meta().name));
        return Ok(items);
    }
    let params = match label {
        Some((k, v)) => ListParams::default().labels(&format!("{k}={v}")),
        None => ListParams::default(),
    };
    Ok(api.list(&params).await?.items)
}

/// The registry's Config, bootstrapped when missing.
async fn config(
    ctx: &Context,
    infra: &Infrastructure,
    writes: &mut usize,
) -> Result<Config, Transient> {
    let configs: Api<Config> = Api::all(ctx.client.clone());
    match configs.get_opt(CLUSTER).await {
        Ok(Some(c)) => return Ok(c),
        Ok(None) => {}
        Err(kube::Error::SerdeError(e)) => return Err(Transient(format!("{INVALID_CONFIG}: {e}"))),
        Err(e) => return Err(e.into()),
    }
    let apiservers: Api<api::APIServer> = Api::all(ctx.client.clone());
    let profile =
        get_opt(ctx, &apiservers, CLUSTER).await?.and_then(|a| a.spec.tls_security_profile);
    // On OpenStack, Swift when the cluster's credentials reach it, else a claim.
    let swift = infra.platform_type() == "OpenStack" && {
        let stub =
            ImageRegistryConfigStorage { swift: Some(Default::default()), ..Default::default() };
        let credentials = storage_credentials(ctx, Some(&stub), infra).await?;
        ctx.provisioner.swift_available(&credentials.0).await
    };
    let b = bootstrap::config(infra, swift, Some(render::tls::observed_config(profile.as_ref())));
    if let Some(pvc) = b.pvc {
        let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), NAMESPACE);
        if get_opt(ctx, &pvcs, &pvc.metadata.name.clone().unwrap_or_default()).await?.is_none() {
            pvcs.create(&post(), &pvc).await?;
            *writes += 1;
        }
    }
    let created = configs.create(&post(), &b.config).await?;
    *writes += 1;
    Ok(created)
}

fn post() -> PostParams {
    PostParams { field_manager: Some(FIELD_MANAGER.to_string()), ..Default::default() }
}

fn patch_params() -> PatchParams {
    PatchParams { field_manager: Some(FIELD_MANAGER.to_string()), ..Default::default() }
}

/// Cluster facts the renderers need.
async fn inputs(
    ctx: &Context,
    config: &Config,
    infra: &Infrastructure,
    pruner: &ImagePruner,
    storage: render::storage::StorageContribution,
) -> Result<Inputs, Transient> {
    let c = &ctx.client;
    let proxies: Api<api::Proxy> = Api::all(c.clone());
    let namespaces: Api<Namespace> = Api::all(c.clone());
    let nodes: Api<Node> = Api::all(c.clone());
    let config_secrets: Api<Secret> = Api::namespaced(c.clone(), OPENSHIFT_CONFIG);
    let secrets: Api<Secret> = Api::namespaced(c.clone(), NAMESPACE);
    let config_maps: Api<ConfigMap> = Api::namespaced(c.clone(), NAMESPACE);
    let openshift_config_maps: Api<ConfigMap> = Api::namespaced(c.clone(), OPENSHIFT_CONFIG);
    let services: Api<Service> = Api::namespaced(c.clone(), NAMESPACE);
    let images: Api<api::Image> = Api::all(c.clone());

    // Independent reads, concurrently.
    let zone_nodes = ListParams::default().labels("topology.kubernetes.io/zone").limit(1);
    let (
        namespace,
        zoned,
        pull,
        service_ca_cm,
        service,
        image,
        certs_cm,
        trusted_cm,
        tls,
        pull_copy,
        private,
        proxy,
    ) = tokio::try_join!(
        get_opt(ctx, &namespaces, NAMESPACE),
        async { nodes.list(&zone_nodes).await.map_err(Transient::from) },
        get_opt(ctx, &config_secrets, "pull-secret"),
        get_opt(ctx, &config_maps, SERVICE_CA),
        get_opt(ctx, &services, SERVICE),
        get_opt(ctx, &images, CLUSTER),
        get_opt(ctx, &config_maps, CERTIFICATES),
        get_opt(ctx, &config_maps, TRUSTED_CA),
        get_opt(ctx, &secrets, TLS_SECRET),
        get_opt(ctx, &secrets, PULL_SECRET),
        get_opt(ctx, &secrets, PRIVATE_CONFIGURATION),
        get_opt(ctx, &proxies, CLUSTER),
    )?;
    let supplemental_groups = namespace
        .and_then(|n| n.metadata.annotations)
        .and_then(|a| a.get(SUPPLEMENTAL_GROUPS_ANNOTATION).cloned());
    let nodes_have_zones = !zoned.items.is_empty();
    let pull_secret = pull.and_then(|s| s.data?.get(".dockerconfigjson").cloned());
    let mut route_tls = std::collections::BTreeMap::new();
    for r in config.spec.routes.iter().filter(|r| !r.secret_name.is_empty()) {
        if let Some(s) = get_opt(ctx, &secrets, &r.secret_name).await? {
            let data = s.data.unwrap_or_default();
            let text = |k: &str| {
                data.get(k).map(|b| String::from_utf8_lossy(&b.0).into_owned()).unwrap_or_default()
            };
            route_tls.insert(
                r.secret_name.clone(),
                render::RouteTls {
                    certificate: text("tls.crt"),
                    key: text("tls.key"),
                    ca_certificate: text("tls.cacrt"),
                },
            );
        }
    }
    let service_ca = service_ca_cm.and_then(|cm| cm.data?.get("service-ca.crt").cloned());
    let service_exists = service.is_some();
    let additional_trusted_ca =
        match image.as_ref().and_then(|i| i.spec.additional_trusted_ca.as_ref()) {
            Some(r) if !r.name.is_empty() => get_opt(ctx, &openshift_config_maps, &r.name)
                .await?
                .map(|cm| render::ConfigMapData {
                    data: cm.data.unwrap_or_default(),
                    binary_data: cm.binary_data.unwrap_or_default(),
                }),
            _ => None,
        };
    let internal_registry_hostname =
        image.and_then(|i| i.status).map(|s| s.internal_registry_hostname).unwrap_or_default();
    let mut dependency_digests = std::collections::BTreeMap::new();
    for (name, cm) in [(CERTIFICATES, certs_cm), (TRUSTED_CA, trusted_cm)] {
        if let Some(cm) = cm {
            dependency_digests
                .insert(format!("configmap:{name}"), registry::config_map_digest(&cm));
        }
    }
    for (name, secret) in
        [(TLS_SECRET, tls), (PULL_SECRET, pull_copy), (PRIVATE_CONFIGURATION, private)]
    {
        if let Some(s) = secret {
            dependency_digests.insert(format!("secret:{name}"), registry::secret_digest(&s));
        }
    }
    Ok(Inputs {
        config: config.clone(),
        infrastructure: infra.clone(),
        cluster_proxy: proxy.and_then(|p| p.status),
        pruner: pruner.clone(),
        env: ctx.env.clone(),
        storage,
        supplemental_groups,
        nodes_have_zones,
        pull_secret,
        route_tls,
        service_ca,
        service_exists,
        additional_trusted_ca,
        internal_registry_hostname,
        dependency_digests,
    })
}

/// Spec write-back for a Managed registry: finalizer, httpSecret, storage (refilled from
/// the platform when unset, with generated names and its management state).
fn complete_spec(ctx: &Context, config: &mut Config, infra: &Infrastructure) {
    let finalizers = config.metadata.finalizers.get_or_insert_with(Vec::new);
    if !finalizers.iter().any(|f| f == FINALIZER) {
        finalizers.push(FINALIZER.to_string());
    }
    if render::storage::select(config.spec.storage.as_ref())
        == Err(render::storage::SelectError::NotConfigured)
    {
        let platform = bootstrap::platform_storage(infra.platform_type(), false);
        if let Some(storage) = platform.storage {
            let state = config
                .spec
                .storage
                .as_ref()
                .map(|s| s.management_state.clone())
                .unwrap_or_default();
            config.spec.storage =
                Some(ImageRegistryConfigStorage { management_state: state, ..storage });
        }
    }
    if verify::verify(&config.spec).is_err() {
        return;
    }
    if config.spec.http_secret.is_empty() {
        let bytes: [u8; 64] = std::array::from_fn(|_| ctx.byte());
        config.spec.http_secret = verify::http_secret(&bytes);
    }
    storage::names::fill(config, infra, || {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        char::from(ALPHABET[ctx.byte() as usize % ALPHABET.len()])
    });
    if let Some(s) = config.spec.storage.as_mut()
        && s.management_state.is_empty()
    {
        // Ephemeral storage is the operator's; a named claim (the bootstrap's too, as in
        // the reference) is the user's. Cloud drivers set it when they provision.
        if s.empty_dir.is_some() || s.pvc.as_ref().is_some_and(|p| p.claim.is_empty()) {
            s.management_state = "Managed".to_string();
        } else if s.pvc.is_some() {
            s.management_state = "Unmanaged".to_string();
        }
    }
}

/// Runs one pass.
pub async fn sync(ctx: &Context) -> Result<Summary, Transient> {
    let mut writes = 0;
    let infras: Api<Infrastructure> = Api::all(ctx.client.clone());
    let found = get_opt(ctx, &infras, CLUSTER).await?;
    // What the cluster does not say is written into the status (the defaults go on).
    let infra_gap = match &found {
        None => Some(
            "infrastructures.config.openshift.io/cluster does not exist: the platform is unknown, so the default storage is emptyDir",
        ),
        Some(i) if i.platform_type().is_empty() => Some(
            "infrastructures.config.openshift.io/cluster names no platform (status.platformStatus.type): the default storage is emptyDir",
        ),
        Some(_) => None,
    };
    let infra = found.unwrap_or_default();
    let configs: Api<Config> = Api::all(ctx.client.clone());
    let mut config = match config(ctx, &infra, &mut writes).await {
        Err(Transient(m)) if m.starts_with(INVALID_CONFIG) => {
            let reported = report_invalid_config(ctx, &m).await?;
            return Ok(Summary {
                cluster_operator: vec![(
                    "Degraded".into(),
                    ConditionStatus::True,
                    INVALID_CONFIG.into(),
                )],
                writes: usize::from(reported),
                ..Default::default()
            });
        }
        other => other?,
    };

    if config.metadata.deletion_timestamp.is_some() {
        teardown(ctx, &mut config, &infra, &mut writes).await?;
        if let Some(i) = config.metadata.finalizers.iter().flatten().position(|f| f == FINALIZER) {
            let patch: json_patch::Patch = serde_json::from_value(json!([
                {"op": "test", "path": format!("/metadata/finalizers/{i}"), "value": FINALIZER},
                {"op": "remove", "path": format!("/metadata/finalizers/{i}")}
            ]))
            .expect("a valid JSON patch");
            configs.patch(CLUSTER, &patch_params(), &Patch::<()>::Json(patch)).await?;
            writes += 1;
        }
        // A fresh default Config right away, when the old one is gone.
        config = self::config(ctx, &infra, &mut writes).await?;
        if config.metadata.deletion_timestamp.is_some() {
            // Other finalizers hold it: wait for its deletion (a watch event).
            return Ok(Summary {
                management_state: config.spec.management_state,
                writes,
                ..Default::default()
            });
        }
    }

    crate::logging::set(config.spec.operator_log_level);
    let state = config.spec.management_state.clone();
    let before = config.clone();
    if state == "Managed" {
        complete_spec(ctx, &mut config, &infra);
        if config.metadata.finalizers != before.metadata.finalizers || config.spec != before.spec {
            let old = json!({"metadata": {"finalizers": before.metadata.finalizers},
                "spec": {"httpSecret": before.spec.http_secret, "storage": before.spec.storage}});
            let new = json!({"metadata": {"finalizers": config.metadata.finalizers},
                "spec": {"httpSecret": config.spec.http_secret, "storage": config.spec.storage}});
            let mut patch = crate::apply::merge_diff(&old, &new);
            // Conditional on the version read, so that a concurrent edit is not overwritten.
            patch["metadata"]["resourceVersion"] = json!(before.metadata.resource_version);
            config = configs.patch(CLUSTER, &patch_params(), &Patch::Merge(&patch)).await?;
            writes += 1;
        }
    }

    let pruners: Api<ImagePruner> = Api::all(ctx.client.clone());
    let pruner_cr = match get_opt(ctx, &pruners, CLUSTER).await? {
        Some(p) => p,
        None => {
            writes += 1;
            pruners.create(&post(), &bootstrap::pruner()).await?
        }
    };
    // The cloud credentials (user's override secret first), for the workload and the driver.
    let credentials = if state == "Managed" {
        storage_credentials(ctx, config.spec.storage.as_ref(), &infra).await?
    } else {
        Default::default()
    };
    // What the storage adds to the workload; a configuration it cannot use is a spec error
    // (no single backend is reported by the verification).
    let (contribution, storage_error) = if state == "Managed" {
        match storage::contribution(&config, &infra, &credentials.0) {
            Ok(c) => (c, None),
            Err(storage::ContributionError::Config(m)) => (Default::default(), Some(m)),
            Err(storage::ContributionError::Select(_)) => (Default::default(), None),
        }
    } else {
        (Default::default(), None)
    };
    let mut inputs = inputs(ctx, &config, &infra, &pruner_cr, contribution).await?;
    let mut credentials = credentials;

    let mut apply_result = ApplyResult::Ok;
    let mut step = StorageStep::default();
    match state.as_str() {
        "Managed" => match verify::verify(&config.spec)
            .and_then(|()| match storage_error {
                Some(m) => Err(render::verify::SpecError {
                    reason: render::verify::VERIFICATION_FAILED,
                    message: format!("unable to complete resource: {m}"),
                }),
                None => Ok(()),
            })
            .map_err(RenderError::from)
            .and_then(|()| registry::objects(&inputs))
        {
            Ok(mut objects) => {
                let before = config.spec.storage.clone();
                let provisioned =
                    provision(ctx, &mut config, &infra, &credentials, &mut writes).await?;
                step.conditions = provisioned.conditions;
                // What the driver settled (encrypt, names, keys it obtained) reaches the
                // workload in this pass, not one rollout later.
                if provisioned.error.is_none()
                    && (config.spec.storage != before
                        || provisioned.credentials_file.is_some()
                        || provisioned.account_key.is_some())
                {
                    if let Some(file) = provisioned.credentials_file {
                        credentials.0.s3_credentials_file = Some(file);
                    }
                    if let Some(key) = provisioned.account_key {
                        credentials.0.azure = storage::azure::AzureAuth::AccountKey(key);
                    }
                    if let Ok(c) = storage::contribution(&config, &infra, &credentials.0) {
                        inputs.storage = c;
                    }
                    inputs.config = config.clone();
                    objects = registry::objects(&inputs).map_err(|e| Transient(e.to_string()))?;
                }
                // The Deployment carries the checksum of the secrets and config maps this
                // pass applies (not of what the cache saw before), so it rolls once.
                // The Service is applied in this pass: the CA config map can name it now.
                if objects.iter().any(|o| matches!(o, Object::Service(_))) {
                    inputs.service_exists = true;
                }
                let certificates_cm = certificates::image_registry_certificates(&inputs);
                let deps = registry::dependencies(&inputs);
                let mut owned = registry::rendered_digests(
                    objects.iter().chain([&Object::ConfigMap(certificates_cm)]),
                );
                owned.retain(|k, _| deps.contains(k));
                if owned.iter().any(|(k, v)| inputs.dependency_digests.get(k) != Some(v)) {
                    inputs.dependency_digests.extend(owned);
                    objects = registry::objects(&inputs).map_err(|e| Transient(e.to_string()))?;
                }
                if let Some(e) = provisioned.error {
                    apply_result = ApplyResult::Error(e);
                } else if let Some(e) = {
                    let claim = ensure_claim(ctx, &config, &mut writes).await?;
                    step.conditions.extend(claim.conditions);
                    claim.error
                } {
                    apply_result = ApplyResult::Error(e);
                } else {
                    step.applied = StorageStatus::Set;
                    for o in &objects {
                        writes += count(ctx.applier.apply(o).await?);
                    }
                    writes += remove_obsolete_routes(ctx, &config).await?;
                }
            }
            Err(RenderError::Spec(e)) => apply_result = ApplyResult::Permanent(e),
            Err(RenderError::Missing(m)) => apply_result = ApplyResult::Error(m),
        },
        "Removed" => {
            writes += remove_registry(ctx, &config).await?;
            let removed = remove_storage(ctx, &mut config, &infra, &mut writes).await?;
            step.conditions = removed.conditions;
            match removed.error {
                Some(e) => apply_result = ApplyResult::Error(e),
                None => step.applied = StorageStatus::Clear,
            }
        }
        _ => {}
    }
    // Always: the CA config maps and the node-ca daemon set.
    for o in [
        Object::ConfigMap(certificates::image_registry_certificates(&inputs)),
        Object::ConfigMap(certificates::image_registry_ca(&inputs)),
    ] {
        writes += count(ctx.applier.apply(&o).await?);
    }
    let node_ca_error =
        match ctx.applier.apply(&Object::DaemonSet(Box::new(nodeca::daemon_set(&inputs)))).await {
            Ok(o) => {
                writes += count(o);
                *ctx.node_ca_failing_since.lock().expect("node-ca state") = None;
                None
            }
            Err(e) => {
                ctx.node_ca_failing_since.lock().expect("node-ca state").get_or_insert((ctx.now)());
                Some(e.to_string())
            }
        };
    let pruner_error = match apply_all(ctx, &pruner::objects(&inputs)).await {
        Ok(n) => {
            writes += n;
            None
        }
        Err(e) => Some(e.0),
    };
    let pruner_status_error = pruner_error.clone();

    writes += write_image_config_status(ctx).await?;
    let (config_conditions, n) =
        write_config_status(ctx, &config, &apply_result, infra_gap, &step).await?;
    writes += n;
    let pruner_conditions = write_pruner_status(ctx, &pruner_cr, pruner_status_error).await?;
    writes += pruner_conditions.1;
    let (co, n) =
        write_cluster_operator(ctx, &config, &config_conditions, &pruner_conditions.0).await?;
    writes += n;
    if let ApplyResult::Error(e) = apply_result {
        return Err(Transient(e));
    }
    if let Some(e) = node_ca_error {
        return Err(Transient(format!("node-ca: {e}")));
    }
    if let Some(e) = pruner_error {
        return Err(Transient(format!("image pruner: {e}")));
    }
    let backend = |s: Option<&ImageRegistryConfigStorage>| render::storage::select(s).ok();
    let storage_type =
        (state == "Managed").then(|| backend(config.spec.storage.as_ref())).flatten();
    let applied_before = config.status.as_ref().map(|s| &s.storage);
    let reconfigured = state == "Managed"
        && applied_before.is_some_and(|before| {
            backend(Some(before)).is_some()
                && config
                    .spec
                    .storage
                    .as_ref()
                    .is_some_and(|now| storage_identity(before) != storage_identity(now))
        });
    Ok(Summary {
        management_state: state,
        cluster_operator: co,
        writes,
        storage_type: storage_type.map(|b| b.name()),
        storage_reconfigured: reconfigured,
        pruner_suspended: pruner_cr.spec.suspend.unwrap_or(false),
    })
}

fn count(o: crate::apply::Outcome) -> usize {
    usize::from(o != crate::apply::Outcome::Unchanged)
}

async fn apply_all(ctx: &Context, objects: &[Object]) -> Result<usize, Transient> {
    let mut n = 0;
    for o in objects {
        n += count(ctx.applier.apply(o).await?);
    }
    Ok(n)
}

/// The claim of a Managed registry on a PVC (§e.6): the default claim is created when
/// missing (and must be the operator's when present); a named claim must exist; either
/// must allow the registry's replicas and rollout strategy. Reported in `StorageExists`.
async fn ensure_claim(
    ctx: &Context,
    config: &Config,
    writes: &mut usize,
) -> Result<storage::provision::Outcome, Transient> {
    let spec = config.spec.storage.clone().unwrap_or_default();
    let mut out = storage::provision::Outcome::new(&spec);
    let Some(pvc) = spec.pvc.as_ref() else { return Ok(out) };
    let mut report = |status, reason: &str, message: &str, failed: bool| {
        out.conditions = vec![Cond::new("StorageExists", status, reason, message)];
        if failed {
            out.error = Some(format!("{reason}: {message}"));
        }
    };
    let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(ctx.client.clone(), NAMESPACE);
    let name = if pvc.claim.is_empty() { render::storage::PVC_NAME } else { pvc.claim.as_str() };
    let claim = match get_opt(ctx, &pvcs, name).await? {
        Some(c) => {
            let ours = c
                .metadata
                .annotations
                .as_ref()
                .is_some_and(|a| a.get(ROUTE_OWNER_ANNOTATION).is_some_and(|v| v == "true"));
            if pvc.claim.is_empty() && !ours {
                report(
                    ConditionStatus::False,
                    "PVC Already Exists",
                    "could not create default PVC, it already exists and is not owned by the operator",
                    true,
                );
                return Ok(out);
            }
            report(ConditionStatus::True, "PVC Exists", &format!("The claim {name} exists"), false);
            c
        }
        None if pvc.claim.is_empty() => {
            let claim: PersistentVolumeClaim = serde_json::from_value(json!({
                "metadata": {"name": name, "namespace": NAMESPACE, "annotations": {ROUTE_OWNER_ANNOTATION: "true"}},
                "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "100Gi"}}}
            }))
            .expect("a valid claim");
            let created = pvcs.create(&post(), &claim).await?;
            *writes += 1;
            report(
                ConditionStatus::True,
                "PVC Created",
                &format!("The claim {name} was created"),
                false,
            );
            created
        }
        None => {
            report(
                ConditionStatus::False,
                "PVC does not exist",
                &format!("persistentvolumeclaim \"{name}\" not found"),
                true,
            );
            return Ok(out);
        }
    };
    let modes = claim.spec.and_then(|s| s.access_modes).unwrap_or_default();
    if let Err(m) = render::storage::check_claim(
        name,
        &modes,
        config.spec.replicas,
        &config.spec.rollout_strategy,
    ) {
        report(ConditionStatus::False, "PVC Issues Found", &m, true);
    }
    Ok(out)
}

/// Deletes Routes the operator made that the spec no longer names.
async fn remove_obsolete_routes(ctx: &Context, config: &Config) -> Result<usize, Transient> {
    let routes: Api<Route> = Api::namespaced(ctx.client.clone(), NAMESPACE);
    let wanted: Vec<String> = registry::route_specs(config).into_iter().map(|r| r.name).collect();
    let mut n = 0;
    for r in list(ctx, &routes, None).await? {
        let ours = r
            .metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.get(ROUTE_OWNER_ANNOTATION).is_some_and(|v| v == "true"));
        let name = r.metadata.name.clone().unwrap_or_default();
        if ours && !wanted.contains(&name) {
            let gone = ctx
                .applier
                .delete(&registry::ObjectRef { kind: "Route", namespace: Some(NAMESPACE), name })
                .await?;
            n += usize::from(gone);
        }
    }
    Ok(n)
}

/// Deletes the registry's objects (the Removed state).
async fn remove_registry(ctx: &Context, config: &Config) -> Result<usize, Transient> {
    let mut n = 0;
    for r in registry::removed_objects(config) {
        n += usize::from(ctx.applier.delete(&r).await?);
    }
    n += remove_obsolete_routes(ctx, config).await?;
    Ok(n)
}

/// The finalizer's work: the registry's objects, and storage the operator created.
async fn teardown(
    ctx: &Context,
    config: &mut Config,
    infra: &Infrastructure,
    writes: &mut usize,
) -> Result<(), Transient> {
    *writes += remove_registry(ctx, config).await?;
    let removed = remove_storage(ctx, config, infra, writes).await?;
    if let Some(e) = removed.error {
        warn(ctx, "RemoveFailed", &e).await?;
        return Err(Transient(format!("removing the registry's storage: {e}")));
    }
    Ok(())
}

/// What a pass did to the storage, for the Config's status.
#[derive(Default)]
struct StorageStep {
    /// Conditions the driver reported.
    conditions: Vec<Cond>,
    /// What becomes of `status.storage`.
    applied: StorageStatus,
}

#[derive(Default, PartialEq, Eq)]
enum StorageStatus {
    /// Left as it is (nothing applied, or a step failed).
    #[default]
    Keep,
    /// The spec's storage was applied.
    Set,
    /// The storage was removed (or was not the operator's to remove).
    Clear,
}

/// The S3 settings conditions, which describe a bucket the operator manages.
const S3_SETTING_CONDITIONS: [&str; 4] = [
    storage::provision::s3::TAGGED,
    storage::provision::s3::ENCRYPTED,
    storage::provision::s3::PUBLIC_ACCESS_BLOCKED,
    storage::provision::s3::CLEANUP_ENABLED,
];

/// The credentials for the configured backend: the user's override secret first, else the
/// cluster's (§e), and which one was used.
async fn storage_credentials(
    ctx: &Context,
    spec: Option<&ImageRegistryConfigStorage>,
    infra: &Infrastructure,
) -> Result<(storage::Credentials, storage::credentials::Source), Transient> {
    let Ok(backend) = render::storage::select(spec) else {
        return Ok(Default::default());
    };
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
    Ok(storage::credentials::resolve_in(backend, user.as_ref(), cluster.as_ref(), &cloud))
}

/// The S3 `trustedCA` bundle (config map in openshift-config, key `ca-bundle.crt`).
/// The CA bundle that `storage.s3.trustedCA` of `storage` names, if any; when it names
/// one that cannot be read, the step's outcome for `spec` saying so (nothing is sent to
/// the storage server without the trust the user asked for).
async fn trusted_ca(
    ctx: &Context,
    storage: &ImageRegistryConfigStorage,
    spec: &ImageRegistryConfigStorage,
) -> Result<Result<Option<String>, storage::provision::Outcome>, Transient> {
    let Some(name) = storage
        .s3
        .as_ref()
        .and_then(|s| s.trusted_ca.as_ref())
        .map(|t| t.name.clone())
        .filter(|n| !n.is_empty())
    else {
        return Ok(Ok(None));
    };
    let cms: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), OPENSHIFT_CONFIG);
    let problem = match get_opt(ctx, &cms, &name).await? {
        Some(cm) => match cm.data.and_then(|d| d.get("ca-bundle.crt").cloned()) {
            Some(pem) if !pem.trim().is_empty() => return Ok(Ok(Some(pem))),
            _ => format!("config map {OPENSHIFT_CONFIG}/{name} has no key ca-bundle.crt"),
        },
        None => format!("config map {OPENSHIFT_CONFIG}/{name} (storage.s3.trustedCA) not found"),
    };
    let mut out = storage::provision::Outcome::new(spec);
    out.conditions.push(Cond::new(
        "StorageExists",
        ConditionStatus::Unknown,
        "TrustedCANotFound",
        &problem,
    ));
    out.error = Some(problem);
    Ok(Err(out))
}

/// Cloud storage for a Managed registry: provisioned, adopted or checked by its driver;
/// what the driver settled in the spec (management state, names, encrypt) is written back.
async fn provision(
    ctx: &Context,
    config: &mut Config,
    infra: &Infrastructure,
    credentials: &(storage::Credentials, storage::credentials::Source),
    writes: &mut usize,
) -> Result<storage::provision::Outcome, Transient> {
    let spec = config.spec.storage.clone().unwrap_or_default();
    let applied = config.status.as_ref().map(|s| s.storage.clone()).unwrap_or_default();
    let trusted_ca = match trusted_ca(ctx, &spec, &spec).await? {
        Ok(ca) => ca,
        Err(missing) => return Ok(missing),
    };
    let req = storage::provision::Request {
        spec: &spec,
        applied: &applied,
        infrastructure: infra,
        credentials: &credentials.0,
        source: credentials.1,
        trusted_ca,
    };
    let Some(out) = ctx.provisioner.ensure(&req).await else {
        return Ok(storage::provision::Outcome::new(&spec));
    };
    if out.storage != spec {
        write_back_storage(ctx, config, &out.storage).await?;
        *writes += 1;
    }
    Ok(out)
}

/// Writes `storage` into the Config's spec, conditional on the version read.
async fn write_back_storage(
    ctx: &Context,
    config: &mut Config,
    storage: &ImageRegistryConfigStorage,
) -> Result<(), Transient> {
    let configs: Api<Config> = Api::all(ctx.client.clone());
    let old = json!({"spec": {"storage": config.spec.storage}});
    let new = json!({"spec": {"storage": storage}});
    let mut patch = crate::apply::merge_diff(&old, &new);
    patch["metadata"] = json!({"resourceVersion": config.metadata.resource_version});
    let status = config.status.clone();
    *config = configs.patch(CLUSTER, &patch_params(), &Patch::Merge(&patch)).await?;
    // The status of this pass is computed against the one read at its start.
    config.status = status;
    Ok(())
}

/// Removes the storage the operator created, as recorded in `status.storage`: the default
/// claim, or the cloud bucket or container through its driver. Storage not Managed is left
/// alone.
async fn remove_storage(
    ctx: &Context,
    config: &mut Config,
    infra: &Infrastructure,
    writes: &mut usize,
) -> Result<storage::provision::Outcome, Transient> {
    let applied = config.status.as_ref().map(|s| s.storage.clone()).unwrap_or_default();
    let spec = config.spec.storage.clone().unwrap_or_default();
    let mut out = storage::provision::Outcome::new(&spec);
    if applied.management_state == "Managed"
        && let Some(pvc) = &applied.pvc
    {
        let name = if pvc.claim.is_empty() { render::storage::PVC_NAME } else { &pvc.claim };
        *writes += usize::from(
            ctx.applier
                .delete(&registry::ObjectRef {
                    kind: "PersistentVolumeClaim",
                    namespace: Some(NAMESPACE),
                    name: name.to_string(),
                })
                .await?,
        );
        return Ok(out);
    }
    let credentials = storage_credentials(ctx, Some(&applied), infra).await?;
    // The trust of the bucket being removed (the one recorded in the status); storage that
    // is not the operator's is left alone without a request, so it needs none.
    let trusted_ca = if applied.management_state == "Managed" {
        match trusted_ca(ctx, &applied, &spec).await? {
            Ok(ca) => ca,
            Err(missing) => return Ok(missing),
        }
    } else {
        None
    };
    let req = storage::provision::Request {
        spec: &spec,
        applied: &applied,
        infrastructure: infra,
        credentials: &credentials.0,
        source: credentials.1,
        trusted_ca,
    };
    if let Some(removed) = ctx.provisioner.remove(&req).await {
        out = removed;
        if out.error.is_none()
            && out.storage != spec
            && config.metadata.deletion_timestamp.is_none()
        {
            write_back_storage(ctx, config, &out.storage).await?;
            *writes += 1;
        }
    }
    Ok(out)
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

/// `images.config.openshift.io/cluster` status: the registry's internal hostname while its
/// Service exists, and the hosts its Routes were admitted with (the default route first).
async fn write_image_config_status(ctx: &Context) -> Result<usize, Transient> {
    let images: Api<api::Image> = Api::all(ctx.client.clone());
    let services: Api<Service> = Api::namespaced(ctx.client.clone(), NAMESPACE);
    let routes: Api<Route> = Api::namespaced(ctx.client.clone(), NAMESPACE);
    let mut writes = 0;
    let image = match get_opt(ctx, &images, CLUSTER).await? {
        Some(i) => i,
        None => {
            writes += 1;
            let fresh: api::Image = serde_json::from_value(
                json!({"apiVersion": "config.openshift.io/v1", "kind": "Image",
                "metadata": {"name": CLUSTER}, "spec": {}}),
            )
            .expect("a valid Image");
            images.create(&post(), &fresh).await?
        }
    };
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
    if Some(&status) != image.status.as_ref() {
        let patch = status_patch(&image.status, &status);
        images.patch_status(CLUSTER, &patch_params(), &Patch::Merge(patch)).await?;
        writes += 1;
    }
    Ok(writes)
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
async fn report_invalid_config(ctx: &Context, message: &str) -> Result<bool, Transient> {
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
async fn warn(ctx: &Context, reason: &str, message: &str) -> Result<(), Transient> {
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

/// Computes and writes the Config's status; returns the writes made.
async fn write_config_status(
    ctx: &Context,
    config: &Config,
    apply: &ApplyResult,
    infra_gap: Option<&str>,
    step: &StorageStep,
) -> Result<(Vec<api::OperatorCondition>, usize), Transient> {
    let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), NAMESPACE);
    let routes: Api<Route> = Api::namespaced(ctx.client.clone(), NAMESPACE);
    let daemonsets: Api<DaemonSet> = Api::namespaced(ctx.client.clone(), NAMESPACE);
    let deployment = get_opt(ctx, &deployments, REGISTRY).await?;
    let mut route_objects = Vec::new();
    for r in registry::route_specs(config) {
        if let Some(o) = get_opt(ctx, &routes, &r.name).await? {
            route_objects.push(o);
        }
    }
    let now = (ctx.now)();
    let mut next = config.clone();
    conditions::sync_registry_status(&mut next, deployment.as_ref(), &route_objects, apply, now);
    let status = next.status.get_or_insert_with(Default::default);
    status.observed_generation = config.metadata.generation;
    let spec_storage = config.spec.storage.clone().unwrap_or_default();
    let backend = render::storage::select(Some(&spec_storage)).ok();
    if config.spec.management_state == "Managed" {
        if backend == Some(render::storage::Backend::EmptyDir) && step.applied == StorageStatus::Set
        {
            conditions::set(
                &mut status.conditions,
                &Cond::new(
                    "StorageExists",
                    ConditionStatus::True,
                    "Creation Successful",
                    "Storage was created",
                ),
                now,
            );
        }
        if backend != Some(render::storage::Backend::S3) {
            for t in S3_SETTING_CONDITIONS {
                conditions::remove(&mut status.conditions, t);
            }
        }
    }
    for c in &step.conditions {
        conditions::set(&mut status.conditions, c, now);
    }
    match step.applied {
        StorageStatus::Keep => {}
        StorageStatus::Set => {
            status.storage_managed = spec_storage.management_state == "Managed";
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
            if step.conditions.is_empty() && !reports_removal {
                conditions::remove(&mut status.conditions, "StorageExists");
            }
            for t in S3_SETTING_CONDITIONS {
                conditions::remove(&mut status.conditions, t);
            }
            status.storage = Default::default();
            status.storage_managed = false;
        }
    }
    // The node-ca daemon set's conditions.
    let ds = get_opt(ctx, &daemonsets, NODE_CA).await?;
    match infra_gap {
        Some(m) => {
            conditions::set(
                &mut status.conditions,
                &Cond::new("InfrastructureKnown", ConditionStatus::False, "PlatformUnknown", m),
                now,
            );
        }
        None => {
            conditions::remove(&mut status.conditions, "InfrastructureKnown");
        }
    }
    // The generations of the workloads the operator wrote (§c.3).
    let mut generations = Vec::new();
    for (resource, name, generation) in [
        ("deployments", REGISTRY, deployment.as_ref().and_then(|d| d.metadata.generation)),
        ("daemonsets", NODE_CA, ds.as_ref().and_then(|d| d.metadata.generation)),
    ] {
        if let Some(g) = generation {
            generations.push(api::imageregistry::GenerationStatus {
                group: "apps".into(),
                resource: resource.into(),
                namespace: NAMESPACE.into(),
                name: name.into(),
                last_generation: g,
                hash: String::new(),
            });
        }
    }
    status.generations = generations;
    let (available, progressing) = match ds.as_ref().and_then(|d| d.status.as_ref()) {
        None => (
            Cond::new(
                "NodeCADaemonAvailable",
                ConditionStatus::False,
                "NotFound",
                "The daemon set node-ca does not exist",
            ),
            Cond::new(
                "NodeCADaemonProgressing",
                ConditionStatus::True,
                "NotFound",
                "The daemon set node-ca does not exist",
            ),
        ),
        Some(s) => (
            if s.number_available.unwrap_or(0) > 0 {
                Cond::new(
                    "NodeCADaemonAvailable",
                    ConditionStatus::True,
                    "AsExpected",
                    "The daemon set node-ca has available replicas",
                )
            } else {
                Cond::new(
                    "NodeCADaemonAvailable",
                    ConditionStatus::False,
                    "NoAvailableReplicas",
                    "The daemon set node-ca does not have available replicas",
                )
            },
            if s.updated_number_scheduled.unwrap_or(0) < s.desired_number_scheduled
                || s.number_misscheduled > 0
            {
                Cond::new(
                    "NodeCADaemonProgressing",
                    ConditionStatus::True,
                    "Progressing",
                    "The daemon set node-ca is deploying node pods",
                )
            } else {
                Cond::new(
                    "NodeCADaemonProgressing",
                    ConditionStatus::False,
                    "AsExpected",
                    "The daemon set node-ca is deployed",
                )
            },
        ),
    };
    conditions::set(&mut status.conditions, &available, now);
    conditions::set(&mut status.conditions, &progressing, now);
    // Degraded only after two minutes of failures to apply the daemon set.
    let failing_since = *ctx.node_ca_failing_since.lock().expect("node-ca state");
    let degraded = match failing_since {
        Some(since) if now.duration_since(since) > jiff::SignedDuration::from_mins(2) => Cond::new(
            "NodeCADaemonControllerDegraded",
            ConditionStatus::True,
            "Error",
            "unable to apply the node-ca daemon set for more than two minutes",
        ),
        _ => Cond::new("NodeCADaemonControllerDegraded", ConditionStatus::False, "AsExpected", ""),
    };
    conditions::set(&mut status.conditions, &degraded, now);
    let written = next.status.clone().unwrap_or_default();
    if next.status == config.status {
        return Ok((written.conditions, 0));
    }
    // A spec error gets an Event when it first shows (not on every pass).
    if let ApplyResult::Permanent(e) = apply {
        let was = config.status.iter().flat_map(|s| &s.conditions).any(|c| {
            c.type_ == "Degraded" && c.reason == e.reason && c.status == ConditionStatus::True
        });
        if !was {
            warn(ctx, e.reason, &e.message).await?;
        }
    }
    // A storage problem gets an Event when it first shows with that reason.
    for c in step.conditions.iter().filter(|c| c.status != ConditionStatus::True) {
        let was = config
            .status
            .iter()
            .flat_map(|s| &s.conditions)
            .any(|x| x.type_ == c.type_ && x.status == c.status && x.reason == c.reason);
        let removal = c.reason.ends_with("Deleted");
        if !was && !removal {
            warn(
                ctx,
                &format!("{}{}", c.type_, c.status.as_str()),
                &format!("{}: {}", c.reason, c.message),
            )
            .await?;
        }
    }
    let configs: Api<Config> = Api::all(ctx.client.clone());
    configs
        .patch_status(
            CLUSTER,
            &patch_params(),
            &Patch::Merge(status_patch(&config.status, &written)),
        )
        .await?;
    Ok((written.conditions, 1))
}

/// Computes and writes the ImagePruner's status; returns its conditions and the writes.
async fn write_pruner_status(
    ctx: &Context,
    pruner_cr: &ImagePruner,
    apply_error: Option<String>,
) -> Result<(Vec<api::OperatorCondition>, usize), Transient> {
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
    for c in conditions::pruner_conditions(&facts) {
        conditions::set(&mut status.conditions, &c, now);
    }
    status.observed_generation = pruner_cr.metadata.generation;
    if status == before {
        return Ok((status.conditions, 0));
    }
    let pruners: Api<ImagePruner> = Api::all(ctx.client.clone());
    pruners
        .patch_status(CLUSTER, &patch_params(), &Patch::Merge(status_patch(&Some(before), &status)))
        .await?;
    Ok((status.conditions, 1))
}

/// Writes the ClusterOperator summary; returns it and the writes.
async fn write_cluster_operator(
    ctx: &Context,
    config: &Config,
    config_conditions: &[api::OperatorCondition],
    pruner_conditions: &[api::OperatorCondition],
) -> Result<(Vec<(String, ConditionStatus, String)>, usize), Transient> {
    let cos: Api<ClusterOperator> = Api::all(ctx.client.clone());
    let deployments: Api<Deployment> = Api::namespaced(ctx.client.clone(), NAMESPACE);
    let mut writes = 0;
    let co = match get_opt(ctx, &cos, CLUSTER_OPERATOR).await? {
        Some(co) => co,
        None => {
            writes += 1;
            let fresh: ClusterOperator = serde_json::from_value(json!({
                "apiVersion": "config.openshift.io/v1", "kind": "ClusterOperator",
                "metadata": {"name": CLUSTER_OPERATOR}, "spec": {}
            }))
            .expect("a valid ClusterOperator");
            cos.create(&post(), &fresh).await?
        }
    };
    let desired = conditions::cluster_operator_conditions(config_conditions, pruner_conditions);
    let mut status = co.status.clone().unwrap_or_default();
    conditions::merge_cluster_operator_conditions(&mut status.conditions, &desired, (ctx.now)());
    let deployment = get_opt(ctx, &deployments, REGISTRY).await?;
    if let Some(v) = conditions::cluster_operator_version(
        &config.spec.management_state,
        deployment.as_ref(),
        &ctx.env.release_version,
    ) {
        status.versions = v;
    }
    status.related_objects = conditions::related_objects();
    let summary = desired.iter().map(|c| (c.type_.clone(), c.status, c.reason.clone())).collect();
    if Some(&status) != co.status.as_ref() {
        cos.patch_status(
            CLUSTER_OPERATOR,
            &patch_params(),
            &Patch::Merge(status_patch(&co.status, &status)),
        )
        .await?;
        writes += 1;
    }
    Ok((summary, writes))
}
