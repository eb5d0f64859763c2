//! The pure core of the image registry operator.
//!
//! Nothing here does I/O, reads a clock or draws random numbers: every fact about the
//! cluster comes in through [`Inputs`], the time through a `now` argument, and randomness
//! through bytes or closures the caller supplies. Given the same inputs the output is the
//! same, which is what makes it testable table by table and printable by `render`.
//!
//! * [`bootstrap`]: the default Config (and PVC) per platform;
//! * [`verify`]: permanent spec errors with the reference's reasons and messages;
//! * [`registry`], [`certificates`], [`nodeca`], [`pruner`]: desired objects;
//! * [`storage`]: what a backend adds to the workload, and storage names;
//! * [`conditions`]: Config, ImagePruner and ClusterOperator status.

pub mod bootstrap;
pub mod cert_manager;
pub mod certificates;
pub mod conditions;
pub mod envvalue;
pub mod godur;
pub mod ingress;
pub mod nodeca;
pub mod object;
pub mod plan;
pub mod pruner;
pub mod registry;
pub mod storage;
pub mod tls;
pub mod verify;

pub use object::Object;

use std::collections::BTreeMap;

/// Names the reference uses, in one place.
pub mod names {
    pub const NAMESPACE: &str = api::NAMESPACE;
    pub const OPENSHIFT_CONFIG: &str = "openshift-config";
    pub const OPENSHIFT_CONFIG_MANAGED: &str = "openshift-config-managed";
    pub const REGISTRY: &str = "image-registry";
    pub const SERVICE: &str = "image-registry";
    pub const SERVICE_ACCOUNT: &str = "registry";
    pub const CLUSTER_ROLE: &str = "system:registry";
    pub const CLUSTER_ROLE_BINDING: &str = "registry-registry-role";
    pub const PULL_SECRET: &str = "installation-pull-secrets";
    pub const PRIVATE_CONFIGURATION: &str = "image-registry-private-configuration";
    pub const PRIVATE_CONFIGURATION_USER: &str = "image-registry-private-configuration-user";
    pub const CLOUD_CREDENTIALS: &str = "installer-cloud-credentials";
    pub const TLS_SECRET: &str = "image-registry-tls";
    pub const CERTIFICATES: &str = "image-registry-certificates";
    pub const REGISTRY_CA: &str = "image-registry-ca";
    pub const TRUSTED_CA: &str = "trusted-ca";
    pub const SERVICE_CA: &str = "serviceca";
    pub const NETWORK_POLICY: &str = "image-registry-networkpolicy";
    pub const DEFAULT_ROUTE: &str = "default-route";
    pub const NODE_CA: &str = "node-ca";
    pub const PRUNER: &str = "image-pruner";
    pub const PRUNER_SERVICE_ACCOUNT: &str = "pruner";
    pub const PRUNER_CLUSTER_ROLE: &str = "system:image-pruner";
    pub const PRUNER_CLUSTER_ROLE_BINDING: &str = "openshift-image-registry-pruner";
    pub const PRUNER_NETWORK_POLICY: &str = "image-pruner-networkpolicy";
    pub const CLUSTER_OPERATOR: &str = "image-registry";
    pub const PORT: i32 = 5000;
    pub const SUPPLEMENTAL_GROUPS_ANNOTATION: &str = "openshift.io/sa.scc.supplemental-groups";
    pub const ROUTE_OWNER_ANNOTATION: &str = "imageregistry.openshift.io";
    pub const VERSION_ANNOTATION: &str = "release.openshift.io/version";
    pub const DEPENDENCIES_CHECKSUM_ANNOTATION: &str =
        "imageregistry.operator.openshift.io/dependencies-checksum";
    pub const OWNING_COMPONENT_ANNOTATION: &str = "openshift.io/owning-component";
    pub const REQUIRED_SCC_ANNOTATION: &str = "openshift.io/required-scc";
    pub const WORKLOAD_ANNOTATION: &str = "target.workload.openshift.io/management";
    pub const WORKLOAD_ANNOTATION_VALUE: &str = r#"{"effect": "PreferredDuringScheduling"}"#;
}

/// Images and version the operator was started with (env `IMAGE`, `IMAGE_PRUNER`,
/// `OPERATOR_IMAGE`, `RELEASE_VERSION`).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct OperatorEnv {
    pub release_version: String,
    pub image: String,
    pub image_pruner: String,
    pub operator_image: String,
}

/// A Secret's TLS material for a Route (`tls.crt`, `tls.key`, `tls.cacrt`).
#[derive(Clone, PartialEq, Eq, Default)]
pub struct RouteTls {
    pub certificate: String,
    pub key: String,
    pub ca_certificate: String,
}

impl std::fmt::Debug for RouteTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("RouteTls(<redacted>)")
    }
}

/// How the spec's routes (`defaultRoute`, `spec.routes`) reach outside the cluster.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum Exposure {
    /// OpenShift Routes (`route.openshift.io`).
    #[default]
    Routes,
    /// Plain Kubernetes: Ingresses of `class` (`--ingress-class`; `None`: the cluster's
    /// default class).
    Ingresses { class: Option<String> },
}

/// A ConfigMap's content.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConfigMapData {
    pub data: BTreeMap<String, String>,
    pub binary_data: BTreeMap<String, k8s_openapi::ByteString>,
}

/// Everything the renderers need to know about the cluster, gathered by the caller.
#[derive(Debug, Clone, Default)]
pub struct Inputs {
    /// The registry Config (after defaults such as httpSecret were filled in).
    pub config: api::Config,
    pub infrastructure: api::Infrastructure,
    /// `proxies.config.openshift.io/cluster` status, when it exists.
    pub cluster_proxy: Option<api::ProxyStatus>,
    pub pruner: api::ImagePruner,
    pub env: OperatorEnv,
    /// What the selected storage backend adds.
    pub storage: storage::StorageContribution,
    /// Value of the operand namespace's `openshift.io/sa.scc.supplemental-groups`.
    pub supplemental_groups: Option<String>,
    /// Whether any Node carries `topology.kubernetes.io/zone`.
    pub nodes_have_zones: bool,
    /// `.dockerconfigjson` of `openshift-config/pull-secret`, when it exists.
    pub pull_secret: Option<k8s_openapi::ByteString>,
    /// TLS material of the Secrets named by `spec.routes[].secretName`, by Secret name.
    pub route_tls: BTreeMap<String, RouteTls>,
    /// `service-ca.crt` of ConfigMap `serviceca`, once the service CA injected it.
    pub service_ca: Option<String>,
    /// Whether Service `image-registry` exists (its hostnames get CA entries).
    pub service_exists: bool,
    /// The ConfigMap named by `images.config.openshift.io/cluster spec.additionalTrustedCA`.
    pub additional_trusted_ca: Option<ConfigMapData>,
    /// `images.config.openshift.io/cluster status.internalRegistryHostname`.
    pub internal_registry_hostname: String,
    /// Routes or, on plain Kubernetes, Ingresses.
    pub exposure: Exposure,
    /// Plain Kubernetes: no SecurityContextConstraints fill in the Pods' security context,
    /// so the registry and pruner Pods set the restricted Pod Security Standard's fields
    /// themselves (non-root, no privilege escalation, no capabilities, RuntimeDefault
    /// seccomp).
    pub restricted_security_context: bool,
    /// Digests of the ConfigMaps and Secrets the registry pods depend on, keyed
    /// `configmap:<name>` / `secret:<name>`; missing ones are left out.
    pub dependency_digests: BTreeMap<String, String>,
}

/// sha256 of `bytes` as `sha256:<hex>`.
pub fn checksum(bytes: &[u8]) -> String {
    use sha2::{Digest, Sha256};
    let digest = Sha256::digest(bytes);
    let mut out = String::with_capacity(7 + 64);
    out.push_str("sha256:");
    for b in digest {
        out.push_str(&format!("{b:02x}"));
    }
    out
}
