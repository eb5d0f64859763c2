//! The registry workload (reference §d.1–§d.6): RBAC, ServiceAccount, Secrets, Service,
//! Deployment, PDB, NetworkPolicy and Routes, in the order the operator applies them.

use std::collections::BTreeMap;

use api::imageregistry::{ImageRegistryConfigRoute, LogLevel};
use api::route::{RouteSpec, RouteTargetReference, TlsConfig};
use api::{Config, Route};
use k8s_openapi::api::apps::v1::{
    Deployment, DeploymentSpec, DeploymentStrategy, RollingUpdateDeployment,
};
use k8s_openapi::api::core::v1::Affinity;
use k8s_openapi::api::core::v1::{
    ConfigMapVolumeSource, Container, ContainerPort, EmptyDirVolumeSource, EnvVar, EnvVarSource,
    ExecAction, HTTPGetAction, KeyToPath, Lifecycle, LifecycleHandler, PodAffinityTerm,
    PodAntiAffinity, PodSecurityContext, PodSpec, PodTemplateSpec, Probe, ProjectedVolumeSource,
    ResourceRequirements, Secret, SecretKeySelector, SecretProjection, SecretVolumeSource,
    SecurityContext, Service, ServiceAccount, ServiceAccountTokenProjection, ServicePort,
    ServiceSpec, TopologySpreadConstraint, Volume, VolumeMount, VolumeProjection,
};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::policy::v1::{PodDisruptionBudget, PodDisruptionBudgetSpec};
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding, PolicyRule, RoleRef, Subject};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::LabelSelector;
use k8s_openapi::apimachinery::pkg::util::intstr::IntOrString;

use crate::names::*;
use crate::object::{Object, meta};
use crate::verify::{SpecError, VERIFICATION_FAILED};
use crate::{Inputs, godur};

/// Why the registry objects could not be rendered.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum RenderError {
    /// The spec is wrong; a retry will not help.
    #[error(transparent)]
    Spec(#[from] SpecError),
    /// A fact the objects need is not in the cluster yet (retry later).
    #[error("{0}")]
    Missing(String),
}

/// Labels (and selector) of the registry pods.
pub const REGISTRY_LABELS: &[(&str, &str)] = &[("docker-registry", "default")];

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

fn selector() -> LabelSelector {
    LabelSelector { match_labels: Some(labels(REGISTRY_LABELS)), ..Default::default() }
}

/// A policy rule.
pub fn rule(groups: &[&str], resources: &[&str], verbs: &[&str]) -> PolicyRule {
    let v = |s: &[&str]| s.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    PolicyRule {
        api_groups: Some(v(groups)),
        resources: Some(v(resources)),
        verbs: v(verbs),
        ..Default::default()
    }
}

/// ClusterRole `system:registry` (§d.6).
pub fn cluster_role() -> ClusterRole {
    ClusterRole {
        metadata: meta(CLUSTER_ROLE, None, &[], &[]),
        rules: Some(vec![
            rule(&[""], &["limitranges", "resourcequotas"], &["list"]),
            rule(
                &["image.openshift.io"],
                &["imagestreamimages", "imagestreams/layers", "imagestreams/secrets"],
                &["get"],
            ),
            rule(&["image.openshift.io"], &["imagestreams"], &["get", "update"]),
            rule(&["image.openshift.io"], &["imagestreamtags"], &["delete"]),
            rule(&["image.openshift.io"], &["images"], &["get", "update", "create"]),
            rule(&["image.openshift.io"], &["imagestreammappings"], &["create"]),
            rule(&["operator.openshift.io"], &["imagecontentsourcepolicies"], &["list"]),
            rule(
                &["config.openshift.io"],
                &["imagedigestmirrorsets", "imagetagmirrorsets"],
                &["list"],
            ),
            rule(&["authorization.k8s.io"], &["subjectaccessreviews"], &["create"]),
        ]),
        aggregation_rule: None,
    }
}

/// A ClusterRoleBinding of `role` to a ServiceAccount in the operand namespace.
pub fn binding(name: &str, role: &str, service_account: &str) -> ClusterRoleBinding {
    ClusterRoleBinding {
        metadata: meta(name, None, &[], &[]),
        role_ref: RoleRef {
            api_group: "rbac.authorization.k8s.io".to_string(),
            kind: "ClusterRole".to_string(),
            name: role.to_string(),
        },
        subjects: Some(vec![Subject {
            kind: "ServiceAccount".to_string(),
            name: service_account.to_string(),
            namespace: Some(NAMESPACE.to_string()),
            ..Default::default()
        }]),
    }
}

/// A ServiceAccount in the operand namespace.
pub fn service_account(name: &str) -> ServiceAccount {
    ServiceAccount { metadata: meta(name, Some(NAMESPACE), &[], &[]), ..Default::default() }
}

/// What `installation-pull-secrets` holds when the cluster has no pull secret: a Docker
/// config without credentials. (The reference writes no data, which kube-apiserver
/// refuses for this type: `data[.dockerconfigjson]: Required value`.)
pub const EMPTY_DOCKER_CONFIG: &[u8] = br#"{"auths":{}}"#;

/// Secret `installation-pull-secrets`: the cluster pull secret's data, or a Docker config
/// without credentials.
pub fn pull_secret(inputs: &Inputs) -> Secret {
    let config = inputs
        .pull_secret
        .clone()
        .unwrap_or_else(|| k8s_openapi::ByteString(EMPTY_DOCKER_CONFIG.to_vec()));
    let data = BTreeMap::from([(".dockerconfigjson".to_string(), config)]);
    Secret {
        metadata: meta(PULL_SECRET, Some(NAMESPACE), &[], &[]),
        type_: Some("kubernetes.io/dockerconfigjson".to_string()),
        data: Some(data),
        ..Default::default()
    }
}

/// Secret `image-registry-private-configuration`: the storage's secret values.
pub fn private_configuration(inputs: &Inputs) -> Secret {
    Secret {
        metadata: meta(PRIVATE_CONFIGURATION, Some(NAMESPACE), &[], &[]),
        string_data: Some(inputs.storage.private_configuration()),
        ..Default::default()
    }
}

/// Service `image-registry` (§d.3).
pub fn service() -> Service {
    Service {
        metadata: meta(
            SERVICE,
            Some(NAMESPACE),
            REGISTRY_LABELS,
            &[("service.alpha.openshift.io/serving-cert-secret-name", TLS_SECRET)],
        ),
        spec: Some(ServiceSpec {
            selector: Some(labels(REGISTRY_LABELS)),
            ports: Some(vec![ServicePort {
                name: Some(format!("{PORT}-tcp")),
                port: PORT,
                protocol: Some("TCP".to_string()),
                target_port: Some(IntOrString::Int(PORT)),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        status: None,
    }
}

/// PodDisruptionBudget `image-registry` (§d.5).
pub fn pod_disruption_budget(config: &Config) -> PodDisruptionBudget {
    let min = if config.spec.replicas <= 1 { 0 } else { 1 };
    PodDisruptionBudget {
        metadata: meta(REGISTRY, Some(NAMESPACE), &[], &[]),
        spec: Some(PodDisruptionBudgetSpec {
            min_available: Some(IntOrString::Int(min)),
            selector: Some(selector()),
            unhealthy_pod_eviction_policy: Some("AlwaysAllow".to_string()),
            ..Default::default()
        }),
        status: None,
    }
}

/// NetworkPolicy `image-registry-networkpolicy`.
pub fn network_policy() -> NetworkPolicy {
    static PARSED: std::sync::LazyLock<NetworkPolicy> = std::sync::LazyLock::new(|| {
        serde_saphyr::from_str(include_str!("manifests/image-registry-networkpolicy.yaml"))
            .expect("embedded NetworkPolicy parses")
    });
    PARSED.clone()
}

/// The Routes of the spec: `default-route` when `defaultRoute`, then `spec.routes`.
pub fn route_specs(config: &Config) -> Vec<ImageRegistryConfigRoute> {
    let mut out = Vec::new();
    if config.spec.default_route {
        out.push(ImageRegistryConfigRoute {
            name: DEFAULT_ROUTE.to_string(),
            ..Default::default()
        });
    }
    out.extend(config.spec.routes.iter().cloned());
    out
}

/// One route as the cluster exposes it: a Route, or on plain Kubernetes an Ingress.
pub fn exposed(spec: &ImageRegistryConfigRoute, inputs: &Inputs) -> Result<Object, RenderError> {
    Ok(match &inputs.exposure {
        crate::Exposure::Routes => Object::Route(Box::new(route(spec, inputs)?)),
        crate::Exposure::Ingresses { class } => {
            Object::Ingress(Box::new(crate::ingress::ingress(spec, inputs, class.as_deref())?))
        }
    })
}

/// The TLS material of the secret a route names (`None` when it names none). A secret that
/// does not exist (yet) is an error, and so is half a pair: a certificate without its key,
/// or a key alone, is no TLS a router or ingress controller can serve. With `both`
/// (Ingresses, which have no default certificate of the route's) an empty pair is too.
pub fn route_tls<'a>(
    spec: &ImageRegistryConfigRoute,
    inputs: &'a Inputs,
    both: bool,
) -> Result<Option<&'a crate::RouteTls>, RenderError> {
    let (name, route) = (&spec.secret_name, &spec.name);
    if name.is_empty() {
        return Ok(None);
    }
    let material = inputs.route_tls.get(name).ok_or_else(|| {
        RenderError::Missing(format!("secret \"{name}\" not found (route {route})"))
    })?;
    let (no_crt, no_key) = (material.certificate.trim().is_empty(), material.key.trim().is_empty());
    let missing = match (no_crt, no_key) {
        (false, true) => Some("tls.key"),
        (true, false) => Some("tls.crt"),
        (true, true) if both => Some("tls.crt"),
        _ => None,
    };
    match missing {
        Some(key) => Err(RenderError::Missing(format!(
            "secret \"{name}\" has no {key} (route {route}): it needs both tls.crt and tls.key"
        ))),
        None => Ok(Some(material)),
    }
}

/// One Route (§d.4). A `secretName` that does not exist (yet) is an error.
pub fn route(spec: &ImageRegistryConfigRoute, inputs: &Inputs) -> Result<Route, RenderError> {
    let mut tls = TlsConfig { termination: "reencrypt".to_string(), ..Default::default() };
    if let Some(material) = route_tls(spec, inputs, false)? {
        tls.certificate = material.certificate.clone();
        tls.key = material.key.clone();
        tls.ca_certificate = material.ca_certificate.clone();
    }
    Ok(Route {
        metadata: meta(&spec.name, Some(NAMESPACE), &[], &[(ROUTE_OWNER_ANNOTATION, "true")]),
        spec: RouteSpec {
            host: spec.hostname.clone(),
            to: RouteTargetReference {
                kind: "Service".to_string(),
                name: SERVICE.to_string(),
                weight: None,
            },
            tls: Some(tls),
            ..Default::default()
        },
        status: None,
    })
}

/// `REGISTRY_LOG_LEVEL` from `logLevel`, or from the deprecated `logging` when Normal.
pub fn registry_log_level(config: &Config) -> &'static str {
    match config.spec.log_level {
        LogLevel::Debug | LogLevel::Trace | LogLevel::TraceAll => return "debug",
        LogLevel::Normal | LogLevel::Unset => {}
    }
    match config.spec.logging.unwrap_or(0) {
        1 => "warn",
        0 | 2 | 3 => "info",
        _ => "debug",
    }
}

/// TLS versions and cipher suites the registry (Go's crypto/tls) understands.
const TLS_VERSIONS: &[&str] = &["VersionTLS10", "VersionTLS11", "VersionTLS12", "VersionTLS13"];

/// `REGISTRY_HTTP_TLS_MINVERSION` and `OPENSHIFT_REGISTRY_HTTP_TLS_CIPHERSUITES` from
/// `spec.observedConfig.servingInfo`.
pub fn tls_env(config: &Config) -> Result<Vec<EnvVar>, SpecError> {
    let bad = |m: String| SpecError {
        reason: VERIFICATION_FAILED,
        message: format!("unable to generate tls config: {m}"),
    };
    let mut out = Vec::new();
    let Some(serving) = config.spec.observed_config.as_ref().and_then(|o| o.get("servingInfo"))
    else {
        return Ok(out);
    };
    if let Some(v) = serving.get("minTLSVersion") {
        let v =
            v.as_str().ok_or_else(|| bad("servingInfo.minTLSVersion is not a string".into()))?;
        if !v.is_empty() {
            if !TLS_VERSIONS.contains(&v) {
                return Err(bad(format!("invalid TLS version: unknown tls version {v:?}")));
            }
            out.push(env("REGISTRY_HTTP_TLS_MINVERSION", v));
        }
    }
    if let Some(list) = serving.get("cipherSuites") {
        let list = list
            .as_array()
            .and_then(|a| a.iter().map(|c| c.as_str()).collect::<Option<Vec<_>>>())
            .ok_or_else(|| bad("servingInfo.cipherSuites is not a list of strings".into()))?;
        if let Some(unknown) = list.iter().find(|c| !crate::tls::known_iana(c)) {
            return Err(bad(format!("invalid cipher suite: unknown cipher name {unknown:?}")));
        }
        if !list.is_empty() {
            out.push(env("OPENSHIFT_REGISTRY_HTTP_TLS_CIPHERSUITES", &list.join(",")));
        }
    }
    Ok(out)
}

fn env(name: &str, value: &str) -> EnvVar {
    EnvVar { name: name.to_string(), value: Some(value.to_string()), value_from: None }
}

/// The `deployment` block of `unsupportedConfigOverrides`.
#[derive(Debug, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct DeploymentOverrides {
    #[serde(default)]
    annotations: BTreeMap<String, String>,
    #[serde(default)]
    runtime_class_name: Option<String>,
}

fn overrides(config: &Config) -> Result<DeploymentOverrides, SpecError> {
    #[derive(serde::Deserialize)]
    struct Overrides {
        #[serde(default)]
        deployment: Option<DeploymentOverrides>,
    }
    let Some(raw) = &config.spec.unsupported_config_overrides else {
        return Ok(DeploymentOverrides::default());
    };
    let o: Overrides = serde_json::from_value(raw.clone()).map_err(|e| SpecError {
        reason: VERIFICATION_FAILED,
        message: format!("invalid unsupportedConfigOverrides: {e}"),
    })?;
    Ok(o.deployment.unwrap_or_default())
}

/// The request-limit env vars (limits were checked by [`crate::verify::verify`]).
fn request_env(config: &Config) -> Vec<EnvVar> {
    let mut out = Vec::new();
    let Some(r) = &config.spec.requests else { return out };
    for (dir, limits) in [("READ", &r.read), ("WRITE", &r.write)] {
        let Some(l) = limits else { continue };
        let (running, queue) = (l.max_running.unwrap_or(0), l.max_in_queue.unwrap_or(0));
        if running == 0 && queue == 0 {
            continue;
        }
        let wait = l
            .max_wait_in_queue
            .as_deref()
            .and_then(|w| godur::normalize(w).ok())
            .unwrap_or_else(|| "0s".to_string());
        out.push(env(
            &format!("REGISTRY_OPENSHIFT_REQUESTS_{dir}_MAXRUNNING"),
            &running.to_string(),
        ));
        out.push(env(&format!("REGISTRY_OPENSHIFT_REQUESTS_{dir}_MAXINQUEUE"), &queue.to_string()));
        out.push(env(&format!("REGISTRY_OPENSHIFT_REQUESTS_{dir}_MAXWAITINQUEUE"), &wait));
    }
    out
}

/// A storage setting as registry env: its value, or a reference to the private
/// configuration Secret for a secret one.
fn storage_env(e: &crate::storage::EnvEntry) -> EnvVar {
    if !e.secret {
        return env(&e.name, &e.value.encode());
    }
    EnvVar {
        name: e.name.clone(),
        value: None,
        value_from: Some(EnvVarSource {
            secret_key_ref: Some(SecretKeySelector {
                name: PRIVATE_CONFIGURATION.to_string(),
                key: e.name.clone(),
                optional: None,
            }),
            ..Default::default()
        }),
    }
}

/// The registry container's environment, in the reference's order (§d.2).
pub fn registry_env(inputs: &Inputs) -> Result<Vec<EnvVar>, SpecError> {
    let config = &inputs.config;
    let mut out: Vec<EnvVar> = inputs.storage.env.iter().map(storage_env).collect();
    out.extend([
        env("REGISTRY_HTTP_ADDR", &format!(":{PORT}")),
        env("REGISTRY_HTTP_NET", "tcp"),
        env("REGISTRY_HTTP_SECRET", &config.spec.http_secret),
        env("REGISTRY_LOG_LEVEL", registry_log_level(config)),
        env("REGISTRY_OPENSHIFT_QUOTA_ENABLED", "true"),
        env("REGISTRY_STORAGE_CACHE_BLOBDESCRIPTOR", "inmemory"),
        env("REGISTRY_STORAGE_DELETE_ENABLED", "true"),
        env("REGISTRY_HEALTH_STORAGEDRIVER_ENABLED", "true"),
        env("REGISTRY_HEALTH_STORAGEDRIVER_INTERVAL", "10s"),
        env("REGISTRY_HEALTH_STORAGEDRIVER_THRESHOLD", "1"),
        env("REGISTRY_OPENSHIFT_METRICS_ENABLED", "true"),
        env("REGISTRY_OPENSHIFT_SERVER_ADDR", &format!("{SERVICE}.{NAMESPACE}.svc:{PORT}")),
    ]);
    if config.spec.read_only {
        out.push(env("REGISTRY_STORAGE_MAINTENANCE_READONLY", "{enabled: true}"));
    }
    if config.spec.disable_redirect {
        out.push(env("REGISTRY_STORAGE_REDIRECT_DISABLE", "true"));
    }
    let spec_proxy = config.spec.proxy.clone().unwrap_or_default();
    let cluster = inputs.cluster_proxy.clone().unwrap_or_default();
    for (name, ours, theirs) in [
        ("HTTP_PROXY", &spec_proxy.http, &cluster.http_proxy),
        ("HTTPS_PROXY", &spec_proxy.https, &cluster.https_proxy),
        ("NO_PROXY", &spec_proxy.no_proxy, &cluster.no_proxy),
    ] {
        let v = if !ours.is_empty() { ours } else { theirs };
        if !v.is_empty() {
            out.push(env(name, v));
        }
    }
    out.extend(request_env(config));
    out.push(env("REGISTRY_HTTP_TLS_CERTIFICATE", "/etc/secrets/tls.crt"));
    out.push(env("REGISTRY_HTTP_TLS_KEY", "/etc/secrets/tls.key"));
    out.extend(tls_env(config)?);
    Ok(out)
}

fn mount(name: &str, path: &str, read_only: bool) -> VolumeMount {
    VolumeMount {
        name: name.to_string(),
        mount_path: path.to_string(),
        read_only: read_only.then_some(true),
        ..Default::default()
    }
}

/// Volumes and mounts of the registry pod: the storage's, then the common ones (§d.2).
pub fn registry_volumes(inputs: &Inputs) -> (Vec<Volume>, Vec<VolumeMount>) {
    let mut volumes = inputs.storage.volumes.clone();
    let mut mounts = inputs.storage.mounts.clone();
    let projected = |name: &str, source: VolumeProjection| Volume {
        name: name.to_string(),
        projected: Some(ProjectedVolumeSource {
            sources: Some(vec![source]),
            ..Default::default()
        }),
        ..Default::default()
    };
    let tls = VolumeProjection {
        secret: Some(SecretProjection { name: TLS_SECRET.to_string(), ..Default::default() }),
        ..Default::default()
    };
    volumes.push(projected("registry-tls", tls));
    mounts.push(mount("registry-tls", "/etc/secrets", false));
    volumes.push(Volume {
        name: "ca-trust-extracted".to_string(),
        empty_dir: Some(EmptyDirVolumeSource::default()),
        ..Default::default()
    });
    mounts.push(mount("ca-trust-extracted", "/etc/pki/ca-trust/extracted", false));
    volumes.push(Volume {
        name: "registry-certificates".to_string(),
        config_map: Some(ConfigMapVolumeSource {
            name: CERTIFICATES.to_string(),
            ..Default::default()
        }),
        ..Default::default()
    });
    mounts.push(mount("registry-certificates", "/etc/pki/ca-trust/source/anchors", false));
    volumes.extend(optional_trust_volumes());
    mounts.push(mount(TRUSTED_CA, "/usr/share/pki/ca-trust-source", false));
    mounts.push(mount(PULL_SECRET, "/var/lib/kubelet/", false));
    let token = VolumeProjection {
        service_account_token: Some(ServiceAccountTokenProjection {
            audience: Some("openshift".to_string()),
            path: "token".to_string(),
            expiration_seconds: None,
        }),
        ..Default::default()
    };
    volumes.push(projected("bound-sa-token", token));
    mounts.push(mount("bound-sa-token", "/var/run/secrets/openshift/serviceaccount", true));
    (volumes, mounts)
}

/// The cluster's trusted CA bundle and the pull secret, each optional: one key of each.
fn optional_trust_volumes() -> [Volume; 2] {
    let item = |key: &str, path: &str| {
        Some(vec![KeyToPath { key: key.to_string(), path: path.to_string(), mode: None }])
    };
    [
        Volume {
            name: TRUSTED_CA.to_string(),
            config_map: Some(ConfigMapVolumeSource {
                name: TRUSTED_CA.to_string(),
                items: item("ca-bundle.crt", "anchors/ca-bundle.crt"),
                optional: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        },
        Volume {
            name: PULL_SECRET.to_string(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(PULL_SECRET.to_string()),
                items: item(".dockerconfigjson", "config.json"),
                optional: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        },
    ]
}

/// The names of the ConfigMaps and Secrets whose content the pods depend on, as
/// `configmap:<name>` / `secret:<name>`, sorted.
pub fn dependencies(inputs: &Inputs) -> Vec<String> {
    let mut deps = std::collections::BTreeSet::new();
    if inputs.storage.env.iter().any(|e| e.secret) {
        deps.insert(format!("secret:{PRIVATE_CONFIGURATION}"));
    }
    for v in &inputs.storage.volumes {
        if let Some(s) = v.secret.as_ref().and_then(|s| s.secret_name.as_ref()) {
            deps.insert(format!("secret:{s}"));
        }
        if let Some(c) = &v.config_map {
            deps.insert(format!("configmap:{}", c.name));
        }
    }
    deps.insert(format!("secret:{TLS_SECRET}"));
    deps.insert(format!("configmap:{CERTIFICATES}"));
    deps.insert(format!("configmap:{TRUSTED_CA}"));
    deps.insert(format!("secret:{PULL_SECRET}"));
    deps.into_iter().collect()
}

/// The digest of a Secret's content as the API server stores it (`stringData` folded into
/// `data`, type `Opaque` when unset): what the Deployment's dependency checksum covers.
pub fn secret_digest(s: &Secret) -> String {
    let mut data: BTreeMap<String, k8s_openapi::ByteString> = s.data.clone().unwrap_or_default();
    for (k, v) in s.string_data.iter().flatten() {
        data.insert(k.clone(), k8s_openapi::ByteString(v.clone().into_bytes()));
    }
    let type_ = s.type_.clone().unwrap_or_else(|| "Opaque".to_string());
    let body = serde_json::json!({"data": data, "type": type_});
    crate::checksum(body.to_string().as_bytes())
}

/// The digest of a ConfigMap's content.
pub fn config_map_digest(cm: &k8s_openapi::api::core::v1::ConfigMap) -> String {
    let data = cm.data.clone().unwrap_or_default();
    let binary = cm.binary_data.clone().unwrap_or_default();
    let body = serde_json::json!({"data": data, "binaryData": binary});
    crate::checksum(body.to_string().as_bytes())
}

/// Digests of the Secrets and ConfigMaps among `objects` (what this pass applies), keyed
/// as the dependency list names them: the Deployment can then carry the checksum of what
/// it will run with, instead of rolling once more when the next pass reads them back.
pub fn rendered_digests<'a>(
    objects: impl IntoIterator<Item = &'a Object>,
) -> BTreeMap<String, String> {
    let mut out = BTreeMap::new();
    for o in objects {
        match o {
            Object::Secret(s) if s.metadata.namespace.as_deref() == Some(NAMESPACE) => {
                let name = s.metadata.name.clone().unwrap_or_default();
                out.insert(format!("secret:{name}"), secret_digest(s));
            }
            Object::ConfigMap(cm) if cm.metadata.namespace.as_deref() == Some(NAMESPACE) => {
                let name = cm.metadata.name.clone().unwrap_or_default();
                out.insert(format!("configmap:{name}"), config_map_digest(cm));
            }
            _ => {}
        }
    }
    out
}

/// Checksum over the digests of the dependencies that exist.
pub fn dependencies_checksum(inputs: &Inputs) -> String {
    let parts: Vec<String> = dependencies(inputs)
        .into_iter()
        .filter_map(|d| inputs.dependency_digests.get(&d).map(|digest| format!("{d}:{digest}")))
        .collect();
    crate::checksum(parts.join("\n").as_bytes())
}

fn spread(key: &str) -> TopologySpreadConstraint {
    TopologySpreadConstraint {
        max_skew: 1,
        topology_key: key.to_string(),
        when_unsatisfiable: "DoNotSchedule".to_string(),
        label_selector: Some(selector()),
        match_label_keys: Some(vec!["pod-template-hash".to_string()]),
        node_affinity_policy: Some("Honor".to_string()),
        node_taints_policy: Some("Honor".to_string()),
        ..Default::default()
    }
}

/// fsGroup: the first number of `openshift.io/sa.scc.supplemental-groups` (`N/M`).
pub fn fs_group(inputs: &Inputs) -> Result<i64, RenderError> {
    let missing = |m: String| {
        RenderError::Missing(format!("generate security context for deployment config: {m}"))
    };
    let Some(range) = &inputs.supplemental_groups else {
        return Err(missing(format!(
            "namespace \"{NAMESPACE}\" doesn't have annotation {SUPPLEMENTAL_GROUPS_ANNOTATION}"
        )));
    };
    let Some((first, _)) = range.split_once('/') else {
        return Err(missing(format!(
            "annotation {SUPPLEMENTAL_GROUPS_ANNOTATION} in namespace \"{NAMESPACE}\" doesn't contain '/'"
        )));
    };
    first.parse::<i64>().map_err(|e| {
        missing(format!(
            "unable to parse annotation {SUPPLEMENTAL_GROUPS_ANNOTATION} in namespace \"{NAMESPACE}\": {e}"
        ))
    })
}

fn probe(initial_delay: i32) -> Probe {
    Probe {
        http_get: Some(HTTPGetAction {
            path: Some("/healthz".to_string()),
            port: IntOrString::Int(PORT),
            scheme: Some("HTTPS".to_string()),
            ..Default::default()
        }),
        initial_delay_seconds: Some(initial_delay),
        timeout_seconds: Some(5),
        ..Default::default()
    }
}

/// Default requests of the registry container.
pub fn default_resources() -> ResourceRequirements {
    ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("cpu".to_string(), Quantity("100m".to_string())),
            ("memory".to_string(), Quantity("256Mi".to_string())),
        ])),
        ..Default::default()
    }
}

/// Command of the registry container: refresh the CA trust, then run the registry.
pub const REGISTRY_COMMAND: &str = "mkdir -p /etc/pki/ca-trust/extracted/edk2 /etc/pki/ca-trust/extracted/java /etc/pki/ca-trust/extracted/openssl /etc/pki/ca-trust/extracted/pem && update-ca-trust extract --output /etc/pki/ca-trust/extracted/ && exec /usr/bin/dockerregistry";

/// Deployment `image-registry` (§d.2).
pub fn deployment(inputs: &Inputs) -> Result<Deployment, RenderError> {
    let config = &inputs.config;
    let spec = &config.spec;
    let env = registry_env(inputs)?;
    let (volumes, mounts) = registry_volumes(inputs);
    let fs_group = fs_group(inputs)?;
    let overrides = overrides(config)?;
    let (topology, affinity, node_selector) = placement(inputs);
    let (annotations, pod_annotations) = deployment_annotations(inputs, &overrides);
    let mut metadata = meta(REGISTRY, Some(NAMESPACE), REGISTRY_LABELS, &[]);
    metadata.annotations = Some(annotations);
    let mut pod = PodSpec {
        containers: vec![registry_container(inputs, env, mounts)],
        volumes: Some(volumes),
        service_account_name: Some(SERVICE_ACCOUNT.to_string()),
        priority_class_name: Some("system-cluster-critical".to_string()),
        termination_grace_period_seconds: Some(55),
        node_selector: Some(node_selector),
        tolerations: (!spec.tolerations.is_empty()).then(|| spec.tolerations.clone()),
        affinity,
        topology_spread_constraints: (!topology.is_empty()).then_some(topology),
        security_context: Some(PodSecurityContext {
            fs_group: Some(fs_group),
            fs_group_change_policy: Some("OnRootMismatch".to_string()),
            ..Default::default()
        }),
        runtime_class_name: overrides.runtime_class_name,
        ..Default::default()
    };
    if inputs.restricted_security_context {
        restricted(&mut pod);
    }
    Ok(Deployment {
        metadata,
        spec: Some(DeploymentSpec {
            progress_deadline_seconds: Some(120),
            replicas: Some(spec.replicas),
            selector: selector(),
            strategy: Some(strategy(spec)),
            template: PodTemplateSpec {
                metadata: Some(k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                    labels: Some(labels(REGISTRY_LABELS)),
                    annotations: Some(pod_annotations),
                    ..Default::default()
                }),
                spec: Some(pod),
            },
            ..Default::default()
        }),
        status: None,
    })
}

/// The user the registry and pruner images run as (their `USER`), given on plain
/// Kubernetes so that `runAsNonRoot` holds whatever the image says.
pub const IMAGE_USER: i64 = 1001;

/// Plain Kubernetes, where no SCC fills them in: the fields the restricted Pod Security
/// Standard asks of a Pod and its containers (non-root, no privilege escalation, every
/// capability dropped, the runtime's default seccomp profile), kept with what is set.
pub fn restricted(pod: &mut PodSpec) {
    let sc = pod.security_context.get_or_insert_with(Default::default);
    sc.run_as_non_root = Some(true);
    sc.run_as_user.get_or_insert(IMAGE_USER);
    sc.seccomp_profile = Some(k8s_openapi::api::core::v1::SeccompProfile {
        type_: "RuntimeDefault".to_string(),
        localhost_profile: None,
    });
    let containers = pod.init_containers.iter_mut().flatten().chain(pod.containers.iter_mut());
    for c in containers {
        let sc = c.security_context.get_or_insert_with(Default::default);
        sc.allow_privilege_escalation = Some(false);
        sc.capabilities = Some(k8s_openapi::api::core::v1::Capabilities {
            drop: Some(vec!["ALL".to_string()]),
            add: None,
        });
    }
}

/// Where the registry pods go: topology spread (by host and worker role, and zone when
/// nodes have zones; none with a node selector; the spec's own when given), the
/// 2-replica anti-affinity (unless the spec gives affinity), and the node selector.
fn placement(
    inputs: &Inputs,
) -> (Vec<TopologySpreadConstraint>, Option<Affinity>, BTreeMap<String, String>) {
    let spec = &inputs.config.spec;
    let mut topology =
        vec![spread("kubernetes.io/hostname"), spread("node-role.kubernetes.io/worker")];
    if inputs.nodes_have_zones {
        topology.push(spread("topology.kubernetes.io/zone"));
    }
    if !spec.node_selector.is_empty() {
        topology.clear();
    }
    if !spec.topology_spread_constraints.is_empty() {
        topology = spec.topology_spread_constraints.clone();
    }
    let affinity = spec.affinity.clone().or_else(|| {
        (spec.replicas == 2).then(|| Affinity {
            pod_anti_affinity: Some(PodAntiAffinity {
                required_during_scheduling_ignored_during_execution: Some(vec![PodAffinityTerm {
                    topology_key: "kubernetes.io/hostname".to_string(),
                    namespaces: Some(vec![NAMESPACE.to_string()]),
                    label_selector: Some(selector()),
                    ..Default::default()
                }]),
                ..Default::default()
            }),
            ..Default::default()
        })
    });
    let mut node_selector = spec.node_selector.clone();
    node_selector.entry("kubernetes.io/os".to_string()).or_insert_with(|| "linux".to_string());
    (topology, affinity, node_selector)
}

/// The Deployment's annotations and its pods': release version, workload management,
/// dependency checksum, SCC, and the overrides' annotations on both.
fn deployment_annotations(
    inputs: &Inputs,
    overrides: &DeploymentOverrides,
) -> (BTreeMap<String, String>, BTreeMap<String, String>) {
    let mut pod_annotations = BTreeMap::from([
        (WORKLOAD_ANNOTATION.to_string(), WORKLOAD_ANNOTATION_VALUE.to_string()),
        (DEPENDENCIES_CHECKSUM_ANNOTATION.to_string(), dependencies_checksum(inputs)),
        (REQUIRED_SCC_ANNOTATION.to_string(), "restricted-v2".to_string()),
    ]);
    let mut annotations =
        BTreeMap::from([(VERSION_ANNOTATION.to_string(), inputs.env.release_version.clone())]);
    for (k, v) in &overrides.annotations {
        annotations.insert(k.clone(), v.clone());
        pod_annotations.insert(k.clone(), v.clone());
    }
    (annotations, pod_annotations)
}

/// The rollout: RollingUpdate (one down and one extra at a time with two replicas,
/// else replicas-1 down and 25 % extra), or the spec's `Recreate`.
fn strategy(spec: &api::ImageRegistrySpec) -> DeploymentStrategy {
    let strategy_type =
        if spec.rollout_strategy.is_empty() { "RollingUpdate" } else { &spec.rollout_strategy };
    let rolling_update = (strategy_type == "RollingUpdate").then(|| {
        if spec.replicas == 2 {
            RollingUpdateDeployment {
                // Integers: kube-apiserver refuses a string that is not a percent.
                max_unavailable: Some(IntOrString::Int(1)),
                max_surge: Some(IntOrString::Int(1)),
            }
        } else {
            RollingUpdateDeployment {
                // The reference writes replicas-1, which the API server rejects at 0.
                max_unavailable: Some(IntOrString::Int((spec.replicas - 1).max(0))),
                max_surge: Some(IntOrString::String("25%".to_string())),
            }
        }
    });
    DeploymentStrategy { type_: Some(strategy_type.to_string()), rolling_update }
}

/// The registry container.
fn registry_container(inputs: &Inputs, env: Vec<EnvVar>, mounts: Vec<VolumeMount>) -> Container {
    let spec = &inputs.config.spec;
    Container {
        name: "registry".to_string(),
        image: Some(inputs.env.image.clone()),
        command: Some(vec!["/bin/sh".to_string(), "-c".to_string(), REGISTRY_COMMAND.to_string()]),
        ports: Some(vec![ContainerPort {
            container_port: PORT,
            protocol: Some("TCP".to_string()),
            ..Default::default()
        }]),
        env: Some(env),
        volume_mounts: Some(mounts),
        liveness_probe: Some(probe(5)),
        readiness_probe: Some(probe(15)),
        resources: Some(spec.resources.clone().unwrap_or_else(default_resources)),
        lifecycle: Some(Lifecycle {
            pre_stop: Some(LifecycleHandler {
                exec: Some(ExecAction {
                    command: Some(vec!["sleep".to_string(), "25".to_string()]),
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        termination_message_policy: Some("FallbackToLogsOnError".to_string()),
        security_context: Some(SecurityContext {
            read_only_root_filesystem: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Every object of a Managed registry, in apply order: ClusterRole, ClusterRoleBinding,
/// ServiceAccount, pull Secret, private-configuration Secret, Service, Deployment, PDB,
/// NetworkPolicy, Routes.
pub fn objects(inputs: &Inputs) -> Result<Vec<Object>, RenderError> {
    let mut out = vec![
        Object::ClusterRole(cluster_role()),
        Object::ClusterRoleBinding(binding(CLUSTER_ROLE_BINDING, CLUSTER_ROLE, SERVICE_ACCOUNT)),
        Object::ServiceAccount(service_account(SERVICE_ACCOUNT)),
        Object::Secret(pull_secret(inputs)),
        Object::Secret(private_configuration(inputs)),
        Object::Service(service()),
        Object::Deployment(Box::new(deployment(inputs)?)),
        Object::PodDisruptionBudget(pod_disruption_budget(&inputs.config)),
        Object::NetworkPolicy(network_policy()),
    ];
    for spec in route_specs(&inputs.config) {
        out.push(exposed(&spec, inputs)?);
    }
    Ok(out)
}

/// What would make [`objects`] fail for `inputs`, found without rendering: a spec error
/// (verification, overrides, TLS settings) or something missing from the cluster (the
/// namespace's supplemental groups, a route's TLS secret). The storage stage checks it
/// before it provisions anything.
pub fn check(inputs: &Inputs) -> Result<(), RenderError> {
    crate::verify::verify(&inputs.config.spec)?;
    overrides(&inputs.config)?;
    registry_env(inputs)?;
    fs_group(inputs)?;
    for spec in route_specs(&inputs.config) {
        if !spec.secret_name.is_empty() {
            exposed(&spec, inputs)?;
        }
    }
    Ok(())
}

/// The registry's objects, in apply order, rendered once: the Secrets and the
/// certificates ConfigMap the pods depend on first, so that the Deployment carries the
/// digests of what this pass applies (it then rolls once, not again when the next pass
/// reads them back).
pub fn planned(
    inputs: &Inputs,
    certificates: &k8s_openapi::api::core::v1::ConfigMap,
) -> Result<Vec<Object>, RenderError> {
    let pull = Object::Secret(pull_secret(inputs));
    let private = Object::Secret(private_configuration(inputs));
    let certs = Object::ConfigMap(certificates.clone());
    let deps = dependencies(inputs);
    let mut digests = inputs.dependency_digests.clone();
    for (k, v) in rendered_digests([&pull, &private, &certs]) {
        if deps.contains(&k) {
            digests.insert(k, v);
        }
    }
    let with_digests = Inputs { dependency_digests: digests, ..inputs.clone() };
    let mut out = vec![
        Object::ClusterRole(cluster_role()),
        Object::ClusterRoleBinding(binding(CLUSTER_ROLE_BINDING, CLUSTER_ROLE, SERVICE_ACCOUNT)),
        Object::ServiceAccount(service_account(SERVICE_ACCOUNT)),
        pull,
        private,
        Object::Service(service()),
        Object::Deployment(Box::new(deployment(&with_digests)?)),
        Object::PodDisruptionBudget(pod_disruption_budget(&inputs.config)),
        Object::NetworkPolicy(network_policy()),
    ];
    for spec in route_specs(&inputs.config) {
        out.push(exposed(&spec, inputs)?);
    }
    Ok(out)
}

/// A reference to an object the operator deletes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectRef {
    pub kind: &'static str,
    pub namespace: Option<&'static str>,
    pub name: String,
}

/// What the Removed state and the finalizer delete (§f), in order. Routes (Ingresses on
/// plain Kubernetes: `route_kind`) are those of the spec; the node-ca DaemonSet, the CA
/// ConfigMaps and the pruner's objects stay.
pub fn removed_objects(config: &Config, route_kind: &'static str) -> Vec<ObjectRef> {
    let r = |kind, namespace, name: &str| ObjectRef { kind, namespace, name: name.to_string() };
    let mut out = vec![
        r("ClusterRole", None, CLUSTER_ROLE),
        r("ClusterRoleBinding", None, CLUSTER_ROLE_BINDING),
        r("ServiceAccount", Some(NAMESPACE), SERVICE_ACCOUNT),
        r("Secret", Some(NAMESPACE), PULL_SECRET),
        r("Secret", Some(NAMESPACE), PRIVATE_CONFIGURATION),
        r("Service", Some(NAMESPACE), SERVICE),
        r("Deployment", Some(NAMESPACE), REGISTRY),
        r("PodDisruptionBudget", Some(NAMESPACE), REGISTRY),
        r("NetworkPolicy", Some(NAMESPACE), NETWORK_POLICY),
    ];
    for spec in route_specs(config) {
        out.push(r(route_kind, Some(NAMESPACE), &spec.name));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::storage;

    fn inputs() -> Inputs {
        let mut i = Inputs {
            storage: storage::empty_dir(),
            supplemental_groups: Some("1000/10000".into()),
            ..Default::default()
        };
        i.config.spec.replicas = 1;
        i
    }

    #[test]
    fn plain_kubernetes_pods_set_the_restricted_fields_and_openshift_ones_do_not() {
        let pod = |restricted: bool| {
            let i = Inputs { restricted_security_context: restricted, ..inputs() };
            deployment(&i).unwrap().spec.unwrap().template.spec.unwrap()
        };
        let openshift = pod(false);
        let sc = openshift.security_context.unwrap();
        assert_eq!((sc.run_as_non_root, sc.seccomp_profile), (None, None), "the SCC sets them");
        let plain = pod(true);
        let sc = plain.security_context.unwrap();
        assert_eq!((sc.run_as_non_root, sc.run_as_user), (Some(true), Some(IMAGE_USER)));
        assert_eq!(sc.fs_group, Some(1000), "kept");
        assert_eq!(sc.seccomp_profile.unwrap().type_, "RuntimeDefault");
        let c = plain.containers[0].security_context.clone().unwrap();
        assert_eq!(c.allow_privilege_escalation, Some(false));
        assert_eq!(c.capabilities.unwrap().drop, Some(vec!["ALL".to_string()]));
        assert_eq!(c.read_only_root_filesystem, Some(true), "kept");
    }

    #[test]
    fn log_level_table() {
        let cases = [
            (LogLevel::Normal, None, "info"),
            (LogLevel::Normal, Some(1), "warn"),
            (LogLevel::Normal, Some(2), "info"),
            (LogLevel::Normal, Some(3), "info"),
            (LogLevel::Normal, Some(4), "debug"),
            (LogLevel::Unset, Some(1), "warn"),
            (LogLevel::Debug, Some(1), "debug"),
            (LogLevel::Trace, None, "debug"),
            (LogLevel::TraceAll, None, "debug"),
        ];
        for (level, logging, want) in cases {
            let mut c = Config::default();
            c.spec.log_level = level;
            c.spec.logging = logging;
            assert_eq!(registry_log_level(&c), want, "{level:?} {logging:?}");
        }
    }

    #[test]
    fn tls_env_from_observed_config() {
        let mut c = Config::default();
        assert!(tls_env(&c).unwrap().is_empty());
        c.spec.observed_config = Some(crate::tls::observed_config(None));
        let env = tls_env(&c).unwrap();
        assert_eq!(env[0].value.as_deref(), Some("VersionTLS12"));
        assert!(
            env[1]
                .value
                .as_deref()
                .unwrap()
                .starts_with("TLS_AES_128_GCM_SHA256,TLS_AES_256_GCM_SHA384,")
        );
        c.spec.observed_config =
            Some(serde_json::json!({"servingInfo": {"minTLSVersion": "VersionTLS99"}}));
        let e = tls_env(&c).unwrap_err();
        assert_eq!(e.reason, VERIFICATION_FAILED);
        assert!(e.message.contains("invalid TLS version"), "{}", e.message);
        c.spec.observed_config =
            Some(serde_json::json!({"servingInfo": {"cipherSuites": ["NOPE"]}}));
        assert!(tls_env(&c).unwrap_err().message.contains("invalid cipher suite"));
        c.spec.observed_config = Some(serde_json::json!({"servingInfo": {"cipherSuites": "x"}}));
        assert!(tls_env(&c).is_err());
    }

    #[test]
    fn fs_group_errors() {
        let mut i = inputs();
        assert_eq!(fs_group(&i), Ok(1000));
        for (value, want) in [
            (None, "doesn't have annotation"),
            (Some("1000"), "doesn't contain '/'"),
            (Some("x/1"), "unable to parse annotation"),
        ] {
            i.supplemental_groups = value.map(str::to_string);
            match fs_group(&i) {
                Err(RenderError::Missing(m)) => assert!(m.contains(want), "{m}"),
                other => panic!("{value:?}: {other:?}"),
            }
        }
    }

    #[test]
    fn overrides_and_strategy() {
        let mut i = inputs();
        i.config.spec.unsupported_config_overrides = Some(serde_json::json!({
            "deployment": {"annotations": {"a": "b"}, "runtimeClassName": "kata"}
        }));
        let d = deployment(&i).unwrap();
        assert_eq!(d.metadata.annotations.as_ref().unwrap()["a"], "b");
        let tmpl = d.spec.as_ref().unwrap().template.clone();
        assert_eq!(tmpl.metadata.unwrap().annotations.unwrap()["a"], "b");
        assert_eq!(tmpl.spec.unwrap().runtime_class_name.as_deref(), Some("kata"));
        i.config.spec.unsupported_config_overrides =
            Some(serde_json::json!({"deployment": {"annotations": "nope"}}));
        match deployment(&i) {
            Err(RenderError::Spec(e)) => {
                assert!(e.message.starts_with("invalid unsupportedConfigOverrides"))
            }
            other => panic!("{other:?}"),
        }
        i.config.spec.unsupported_config_overrides = None;
        i.config.spec.replicas = 0;
        let d = deployment(&i).unwrap();
        let ru = d.spec.unwrap().strategy.unwrap().rolling_update.unwrap();
        assert_eq!(ru.max_unavailable, Some(IntOrString::Int(0)), "never negative");
        // Two replicas: one down and one extra at a time, as integers (a string that is
        // not a percent is refused by kube-apiserver).
        i.config.spec.replicas = 2;
        let d = deployment(&i).unwrap();
        let ru = d.spec.unwrap().strategy.unwrap().rolling_update.unwrap();
        assert_eq!(ru.max_unavailable, Some(IntOrString::Int(1)));
        assert_eq!(ru.max_surge, Some(IntOrString::Int(1)));
    }

    #[test]
    fn route_tls_and_missing_secret() {
        let mut i = inputs();
        let spec = ImageRegistryConfigRoute {
            name: "r".into(),
            hostname: "h".into(),
            secret_name: "s".into(),
        };
        assert!(matches!(route(&spec, &i), Err(RenderError::Missing(_))));
        i.route_tls.insert(
            "s".into(),
            crate::RouteTls {
                certificate: "C".into(),
                key: "K".into(),
                ca_certificate: "CA".into(),
            },
        );
        let r = route(&spec, &i).unwrap();
        let tls = r.spec.tls.unwrap();
        assert_eq!(
            (
                tls.termination.as_str(),
                tls.certificate.as_str(),
                tls.key.as_str(),
                tls.ca_certificate.as_str()
            ),
            ("reencrypt", "C", "K", "CA")
        );
        assert_eq!(r.spec.host, "h");
        assert_eq!(r.metadata.annotations.unwrap()["imageregistry.openshift.io"], "true");
        // Half a pair is refused; neither is the router's default certificate.
        let half = |certificate: &str, key: &str| {
            let mut i = inputs();
            let tls = crate::RouteTls {
                certificate: certificate.into(),
                key: key.into(),
                ..Default::default()
            };
            i.route_tls.insert("s".into(), tls);
            route(&spec, &i).map(drop).map_err(|e| e.to_string())
        };
        assert!(half("C", "").unwrap_err().starts_with("secret \"s\" has no tls.key (route r)"));
        assert!(half("", "K").unwrap_err().starts_with("secret \"s\" has no tls.crt (route r)"));
        assert_eq!(half("", ""), Ok(()));
    }

    #[test]
    fn dependencies_follow_the_storage() {
        let mut i = inputs();
        let base = dependencies(&i);
        assert_eq!(
            base,
            [
                "configmap:image-registry-certificates",
                "configmap:trusted-ca",
                "secret:image-registry-tls",
                "secret:installation-pull-secrets",
            ]
        );
        i.storage.env.push(storage::EnvEntry::secret("KEY", "v"));
        assert!(
            dependencies(&i).contains(&"secret:image-registry-private-configuration".to_string())
        );
        let before = dependencies_checksum(&i);
        i.dependency_digests.insert("secret:image-registry-tls".into(), "abc".into());
        assert_ne!(dependencies_checksum(&i), before, "a dependency's change rolls the pods");
    }

    #[test]
    fn removed_objects_include_spec_routes() {
        let mut c = Config::default();
        c.spec.default_route = true;
        c.spec.routes =
            vec![ImageRegistryConfigRoute { name: "extra".into(), ..Default::default() }];
        let names: Vec<String> =
            removed_objects(&c, "Route").iter().map(|r| format!("{} {}", r.kind, r.name)).collect();
        assert_eq!(names.len(), 11);
        assert!(names.contains(&"Route default-route".to_string()));
        assert!(names.contains(&"Route extra".to_string()));
        assert!(!names.iter().any(|n| n.contains("node-ca")));
    }
}
