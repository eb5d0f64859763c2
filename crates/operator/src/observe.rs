//! Stage 1, observe: what a pass knows of the cluster, read once into a [`Snapshot`].
//! Everything comes from the watch cache except the Config, read fresh (its spec
//! write-back is conditional on the version read), and the one-node zone check.

use api::imageregistry::CLUSTER;
use api::{ClusterOperator, Config, ImagePruner, Infrastructure};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace, Node, Secret, Service};
use kube::api::{Api, ListParams};
use render::Inputs;
use render::names::*;
use serde_json::Value;
use std::collections::BTreeMap;

use crate::sync::Context;

/// A read that failed.
#[derive(Debug, thiserror::Error)]
pub enum ObserveError {
    #[error(transparent)]
    Api(#[from] kube::Error),
    /// An object in the watch cache that does not deserialize.
    #[error("cached {what}: {message}")]
    Cache { what: String, message: String },
}

/// The Config as read.
#[derive(Debug, Clone)]
pub enum ConfigRead {
    Found(Box<Config>),
    Missing,
    /// It exists but does not deserialize: the message says why.
    Invalid(String),
}

/// What a pass starts from.
#[derive(Debug, Clone)]
pub struct Snapshot {
    /// `infrastructures.config.openshift.io/cluster`, or the default when missing.
    pub infra: Infrastructure,
    /// What the cluster does not say (written into the Config's status).
    pub infra_gap: Option<String>,
    pub config: ConfigRead,
    pub pruner: Option<ImagePruner>,
    pub cluster_operator: Option<ClusterOperator>,
    pub image: Option<api::Image>,
    /// `apiservers.config.openshift.io/cluster`: the cluster's TLS profile.
    pub apiserver: Option<api::APIServer>,
    /// `clusterversions.config.openshift.io/version`, read only with the
    /// ImageStreamImportMode gate (its architecture picks the import mode).
    pub cluster_version: Option<api::ClusterVersion>,
    /// The cluster facts the renderers need; its Config, pruner and storage are filled
    /// in by the plan.
    pub facts: Inputs,
}

impl Snapshot {
    /// The Config, once bootstrapped.
    pub fn config(&self) -> Option<&Config> {
        match &self.config {
            ConfigRead::Found(c) => Some(c),
            _ => None,
        }
    }
}

/// One object: from the watch cache when it has the resource, else from the API server.
pub async fn get_opt<K>(ctx: &Context, api: &Api<K>, name: &str) -> Result<Option<K>, ObserveError>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    if let Some(cached) = ctx.cache.get(api.resource_url(), name) {
        return match cached {
            None => Ok(None),
            Some(v) => K::deserialize(&*v)
                .map(Some)
                .map_err(|e| ObserveError::Cache { what: name.into(), message: e.to_string() }),
        };
    }
    Ok(api.get_opt(name).await?)
}

/// Every object of `api` with `label` (`key=value`): from the watch cache when it has the
/// resource, else from the API server.
pub async fn list<K>(
    ctx: &Context,
    api: &Api<K>,
    label: Option<(&str, &str)>,
) -> Result<Vec<K>, ObserveError>
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
            .map_err(|e| ObserveError::Cache {
                what: api.resource_url().into(),
                message: e.to_string(),
            })?;
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

/// Reads the snapshot of one pass.
pub async fn observe(ctx: &Context) -> Result<Snapshot, ObserveError> {
    let c = &ctx.client;
    if !ctx.openshift.config {
        return observe_kubernetes(ctx).await;
    }
    let found = get_opt(ctx, &Api::<Infrastructure>::all(c.clone()), CLUSTER).await?;
    let infra_gap = match &found {
        None => Some(
            "infrastructures.config.openshift.io/cluster does not exist: the platform is unknown, so the default storage is emptyDir",
        ),
        Some(i) if i.platform_type().is_empty() => Some(
            "infrastructures.config.openshift.io/cluster names no platform (status.platformStatus.type): the default storage is emptyDir",
        ),
        Some(_) => None,
    };
    let config = read_config(ctx).await?;
    let image = get_opt(ctx, &Api::<api::Image>::all(c.clone()), CLUSTER).await?;
    let facts = facts(ctx, config_of(&config), image.as_ref()).await?;
    Ok(Snapshot {
        infra: found.unwrap_or_default(),
        infra_gap: infra_gap.map(str::to_string),
        pruner: get_opt(ctx, &Api::<ImagePruner>::all(c.clone()), CLUSTER).await?,
        cluster_operator: get_opt(ctx, &Api::all(c.clone()), CLUSTER_OPERATOR).await?,
        apiserver: get_opt(ctx, &Api::<api::APIServer>::all(c.clone()), CLUSTER).await?,
        cluster_version: match ctx.gates.import_mode() {
            true => get_opt(ctx, &Api::<api::ClusterVersion>::all(c.clone()), "version").await?,
            false => None,
        },
        image,
        config,
        facts,
    })
}

/// The snapshot of a plain Kubernetes cluster ([`crate::kubernetes`]): the Infrastructure
/// from `--platform` or the Nodes' provider, named after the namespace; nothing of
/// `config.openshift.io` is read.
async fn observe_kubernetes(ctx: &Context) -> Result<Snapshot, ObserveError> {
    let c = &ctx.client;
    let platform = match &ctx.platform {
        Some(p) => Some(p.clone()),
        None => {
            let nodes = Api::<k8s_openapi::api::core::v1::Node>::all(c.clone());
            let from_nodes = ctx.node_platform.get_or_try_init(|| async {
                let listed = nodes.list(&kube::api::ListParams::default().limit(20)).await?;
                Ok::<_, kube::Error>(
                    listed
                        .items
                        .iter()
                        .filter_map(|n| n.spec.as_ref()?.provider_id.as_deref())
                        .find_map(crate::kubernetes::platform_of_provider_id)
                        .map(str::to_string),
                )
            });
            from_nodes.await?.clone()
        }
    };
    let namespaces = Api::<k8s_openapi::api::core::v1::Namespace>::all(c.clone());
    let uid = get_opt(ctx, &namespaces, render::names::NAMESPACE)
        .await?
        .and_then(|n| n.metadata.uid)
        .unwrap_or_default();
    let name = format!(
        "kubernetes-{}",
        uid.chars().filter(char::is_ascii_alphanumeric).take(5).collect::<String>()
    );
    let (infra, infra_gap) = crate::kubernetes::infrastructure(platform.as_deref(), &name);
    let config = read_config(ctx).await?;
    let mut facts = facts(ctx, config_of(&config), None).await?;
    if facts.service_ca.is_none() {
        // No service CA: the CA of the registry's certificate (cert-manager's `ca.crt`), or
        // the self-signed certificate itself, is what clients (and the hostname keys of
        // image-registry-certificates) trust.
        let secrets: Api<Secret> = Api::namespaced(c.clone(), NAMESPACE);
        let tls = get_opt(ctx, &secrets, render::names::TLS_SECRET).await?;
        facts.service_ca = tls
            .and_then(|s| {
                let mut data = s.data?;
                data.remove("ca.crt").filter(|b| !b.0.is_empty()).or_else(|| data.remove("tls.crt"))
            })
            .map(|b| String::from_utf8_lossy(&b.0).into_owned());
    }
    Ok(Snapshot {
        infra,
        infra_gap,
        pruner: get_opt(ctx, &Api::<ImagePruner>::all(c.clone()), CLUSTER).await?,
        cluster_operator: None,
        apiserver: None,
        cluster_version: None,
        image: None,
        config,
        facts,
    })
}

fn config_of(c: &ConfigRead) -> Option<&Config> {
    match c {
        ConfigRead::Found(c) => Some(c),
        _ => None,
    }
}

/// The Config, read fresh.
pub async fn read_config(ctx: &Context) -> Result<ConfigRead, ObserveError> {
    match Api::<Config>::all(ctx.client.clone()).get_opt(CLUSTER).await {
        Ok(Some(c)) => Ok(ConfigRead::Found(Box::new(c))),
        Ok(None) => Ok(ConfigRead::Missing),
        Err(kube::Error::SerdeError(e)) => Ok(ConfigRead::Invalid(e.to_string())),
        Err(e) => Err(e.into()),
    }
}

/// The TLS material of the Secrets the Config's routes name.
async fn route_tls(
    ctx: &Context,
    config: Option<&Config>,
) -> Result<BTreeMap<String, render::RouteTls>, ObserveError> {
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), NAMESPACE);
    let mut out = BTreeMap::new();
    let routes = config.map(|c| c.spec.routes.as_slice()).unwrap_or_default();
    for r in routes.iter().filter(|r| !r.secret_name.is_empty()) {
        if let Some(s) = get_opt(ctx, &secrets, &r.secret_name).await? {
            let data = s.data.unwrap_or_default();
            let text = |k: &str| {
                data.get(k).map(|b| String::from_utf8_lossy(&b.0).into_owned()).unwrap_or_default()
            };
            out.insert(
                r.secret_name.clone(),
                render::RouteTls {
                    certificate: text("tls.crt"),
                    key: text("tls.key"),
                    ca_certificate: text("tls.cacrt"),
                },
            );
        }
    }
    Ok(out)
}

/// Digests of the config maps and secrets the registry pods depend on, as they are now.
fn digests(
    config_maps: [(&str, Option<ConfigMap>); 2],
    secrets: [(&str, Option<Secret>); 3],
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for (name, cm) in config_maps {
        if let Some(cm) = cm {
            out.insert(format!("configmap:{name}"), render::registry::config_map_digest(&cm));
        }
    }
    for (name, s) in secrets {
        if let Some(s) = s {
            out.insert(format!("secret:{name}"), render::registry::secret_digest(&s));
        }
    }
    out
}

/// The config map the image config's `additionalTrustedCA` names, when it exists.
async fn additional_ca(
    ctx: &Context,
    image: Option<&api::Image>,
) -> Result<Option<render::ConfigMapData>, ObserveError> {
    let Some(r) = image.and_then(|i| i.spec.additional_trusted_ca.as_ref()) else {
        return Ok(None);
    };
    if r.name.is_empty() {
        return Ok(None);
    }
    let cms: Api<ConfigMap> = Api::namespaced(ctx.client.clone(), OPENSHIFT_CONFIG);
    Ok(get_opt(ctx, &cms, &r.name).await?.map(|cm| render::ConfigMapData {
        data: cm.data.unwrap_or_default(),
        binary_data: cm.binary_data.unwrap_or_default(),
    }))
}

/// The cluster facts the renderers need, independent reads concurrently.
async fn facts(
    ctx: &Context,
    config: Option<&Config>,
    image: Option<&api::Image>,
) -> Result<Inputs, ObserveError> {
    let c = &ctx.client;
    let config_maps: Api<ConfigMap> = Api::namespaced(c.clone(), NAMESPACE);
    let secrets: Api<Secret> = Api::namespaced(c.clone(), NAMESPACE);
    let zone_nodes = ListParams::default().labels("topology.kubernetes.io/zone").limit(1);
    let nodes: Api<Node> = Api::all(c.clone());
    let namespaces: Api<Namespace> = Api::all(c.clone());
    let config_secrets: Api<Secret> = Api::namespaced(c.clone(), OPENSHIFT_CONFIG);
    let services: Api<Service> = Api::namespaced(c.clone(), NAMESPACE);
    let proxies: Api<api::Proxy> = Api::all(c.clone());
    let (namespace, zoned, pull, service_ca, service, certs, trusted, tls, pull_copy) = tokio::try_join!(
        get_opt(ctx, &namespaces, NAMESPACE),
        async {
            // The watch of zoned nodes, when it has listed; else one node from the server.
            match ctx.cache.list(nodes.resource_url()) {
                Some(cached) => Ok(!cached.is_empty()),
                None => Ok(!nodes.list_metadata(&zone_nodes).await?.items.is_empty()),
            }
        },
        get_opt(ctx, &config_secrets, "pull-secret"),
        get_opt(ctx, &config_maps, SERVICE_CA),
        get_opt(ctx, &services, SERVICE),
        get_opt(ctx, &config_maps, CERTIFICATES),
        get_opt(ctx, &config_maps, TRUSTED_CA),
        get_opt(ctx, &secrets, TLS_SECRET),
        get_opt(ctx, &secrets, PULL_SECRET),
    )?;
    let (private, proxy) =
        tokio::try_join!(get_opt(ctx, &secrets, PRIVATE_CONFIGURATION), async {
            // Plain Kubernetes has no cluster proxy object.
            match ctx.openshift.config {
                true => get_opt(ctx, &proxies, CLUSTER).await,
                false => Ok(None),
            }
        },)?;
    let additional_trusted_ca = additional_ca(ctx, image).await?;
    let read = Read {
        namespace,
        zoned,
        pull,
        service_ca,
        service,
        certs,
        trusted,
        tls,
        pull_copy,
        private,
        proxy,
    };
    Ok(inputs(ctx, read, route_tls(ctx, config).await?, additional_trusted_ca, image))
}

/// What `facts` read, before it becomes the renderers' inputs.
struct Read {
    namespace: Option<Namespace>,
    zoned: bool,
    pull: Option<Secret>,
    service_ca: Option<ConfigMap>,
    service: Option<Service>,
    certs: Option<ConfigMap>,
    trusted: Option<ConfigMap>,
    tls: Option<Secret>,
    pull_copy: Option<Secret>,
    private: Option<Secret>,
    proxy: Option<api::Proxy>,
}

/// The renderers' inputs from what was read; the Config and storage are filled in later.
fn inputs(
    ctx: &Context,
    r: Read,
    route_tls: BTreeMap<String, render::RouteTls>,
    additional_trusted_ca: Option<render::ConfigMapData>,
    image: Option<&api::Image>,
) -> Inputs {
    Inputs {
        config: Default::default(),
        infrastructure: Default::default(),
        cluster_proxy: r.proxy.and_then(|p| p.status),
        pruner: Default::default(),
        env: ctx.env.clone(),
        storage: Default::default(),
        supplemental_groups: r
            .namespace
            .and_then(|n| n.metadata.annotations)
            .and_then(|a| a.get(SUPPLEMENTAL_GROUPS_ANNOTATION).cloned())
            // Plain Kubernetes has no SCC to annotate the namespace: the registry's own
            // group (the image runs as 1001).
            .or_else(|| (!ctx.openshift.config).then(|| "1001/1".to_string())),
        nodes_have_zones: r.zoned,
        pull_secret: r.pull.and_then(|s| s.data?.get(".dockerconfigjson").cloned()),
        route_tls,
        service_ca: r.service_ca.and_then(|cm| cm.data?.get("service-ca.crt").cloned()),
        service_exists: r.service.is_some(),
        additional_trusted_ca,
        exposure: match ctx.openshift.routes {
            true => render::Exposure::Routes,
            false => render::Exposure::Ingresses { class: ctx.ingress_class.clone() },
        },
        restricted_security_context: !ctx.openshift.config,
        internal_registry_hostname: image
            .and_then(|i| i.status.clone())
            .map(|s| s.internal_registry_hostname)
            .unwrap_or_default(),
        dependency_digests: digests(
            [(CERTIFICATES, r.certs), (TRUSTED_CA, r.trusted)],
            [(TLS_SECRET, r.tls), (PULL_SECRET, r.pull_copy), (PRIVATE_CONFIGURATION, r.private)],
        ),
    }
}
