//! `imageregistry.operator.openshift.io/v1`: the registry `Config` and the `ImagePruner`.
//!
//! Field names, optionality and validation follow the published CRDs (see
//! `crates/api/tests/crd.rs`, which compares our generated CRDs with openshift/api's).
//! Go `omitempty` strings and bools are plain values that are skipped when empty; numbers
//! whose zero has a meaning of its own are `Option`s.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::{
    Affinity, ResourceRequirements, SecretKeySelector, Toleration, TopologySpreadConstraint,
};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use schemars::JsonSchema;
use serde::{Deserialize, Serialize};

/// The API group of both resources in this module.
pub const GROUP: &str = "imageregistry.operator.openshift.io";
/// The only instance name the operator acts on.
pub const CLUSTER: &str = "cluster";
/// The finalizer that guards storage teardown.
pub const FINALIZER: &str = "imageregistry.operator.openshift.io/finalizer";

fn is_false(b: &bool) -> bool {
    !*b
}

/// Verbosity of an operand or of the operator itself.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum LogLevel {
    #[serde(rename = "")]
    Unset,
    #[default]
    Normal,
    Debug,
    Trace,
    TraceAll,
}

/// The registry configuration, the singleton `cluster`.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "imageregistry.operator.openshift.io",
    version = "v1",
    kind = "Config",
    plural = "configs",
    status = "ImageRegistryStatus",
    derive = "PartialEq",
    derive = "Default"
)]
#[serde(rename_all = "camelCase")]
pub struct ImageRegistrySpec {
    /// Managed, Unmanaged, Force or Removed.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(regex(pattern = r"^(Managed|Unmanaged|Force|Removed)$"))]
    pub management_state: String,
    /// Log level of the registry pods.
    #[serde(default)]
    pub log_level: LogLevel,
    /// Log level of the operator.
    #[serde(default)]
    pub operator_log_level: LogLevel,
    /// Overrides the operator does not support; only `deployment.annotations` and
    /// `deployment.runtimeClassName` are read.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::preserve_unknown_nullable")]
    pub unsupported_config_overrides: Option<serde_json::Value>,
    /// Configuration observed from the cluster (the APIServer's TLS profile).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(schema_with = "crate::schema::preserve_unknown_nullable")]
    pub observed_config: Option<serde_json::Value>,
    /// The secret the registry uses to sign state between its replicas.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub http_secret: String,
    /// Proxy settings for the registry pods, overriding the cluster Proxy.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub proxy: Option<ImageRegistryConfigProxy>,
    /// Where images are stored.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub storage: Option<ImageRegistryConfigStorage>,
    /// Serve pulls only.
    #[serde(default, skip_serializing_if = "is_false")]
    pub read_only: bool,
    /// Proxy blobs through the registry instead of redirecting clients to storage.
    #[serde(default, skip_serializing_if = "is_false")]
    pub disable_redirect: bool,
    /// Limits on concurrent requests.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-map-type" = "atomic"))]
    pub requests: Option<ImageRegistryConfigRequests>,
    /// Expose the registry through the `default-route` Route.
    #[serde(default, skip_serializing_if = "is_false")]
    pub default_route: bool,
    /// Extra Routes to the registry.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub routes: Vec<ImageRegistryConfigRoute>,
    /// Number of registry pods.
    pub replicas: i32,
    /// Deprecated numeric log level, used when `logLevel` is Normal.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub logging: Option<i64>,
    /// Resources of the registry container.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-map-type" = "atomic"))]
    pub resources: Option<ResourceRequirements>,
    /// Node selector of the registry pods.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub node_selector: BTreeMap<String, String>,
    /// Tolerations of the registry pods.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub tolerations: Vec<Toleration>,
    /// RollingUpdate (default) or Recreate.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(regex(pattern = r"^(RollingUpdate|Recreate)$"))]
    pub rollout_strategy: String,
    /// Scheduling constraints of the registry pods.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    /// Spread constraints of the registry pods; replaces the defaults.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "atomic"))]
    pub topology_spread_constraints: Vec<TopologySpreadConstraint>,
}

/// Proxy overrides for the registry pods.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageRegistryConfigProxy {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub http: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub https: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub no_proxy: String,
}

/// Read and write request limits.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct ImageRegistryConfigRequests {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub read: Option<ImageRegistryConfigRequestsLimits>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub write: Option<ImageRegistryConfigRequestsLimits>,
}

/// One direction's request limits.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageRegistryConfigRequestsLimits {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(transform = crate::schema::drop_format)]
    pub max_running: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(transform = crate::schema::drop_format)]
    pub max_in_queue: Option<i64>,
    /// A Go duration such as `30s` or `1h30m`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "duration"))]
    pub max_wait_in_queue: Option<String>,
}

/// A Route to the registry.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageRegistryConfigRoute {
    pub name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub hostname: String,
    /// Secret in the operand namespace with `tls.crt`, `tls.key` and `tls.cacrt`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub secret_name: String,
}

/// The storage backend: exactly one driver should be set.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageRegistryConfigStorage {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub s3: Option<ImageRegistryConfigStorageS3>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gcs: Option<ImageRegistryConfigStorageGcs>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub swift: Option<ImageRegistryConfigStorageSwift>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub pvc: Option<ImageRegistryConfigStoragePvc>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure: Option<ImageRegistryConfigStorageAzure>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ibmcos: Option<ImageRegistryConfigStorageIbmCos>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub oss: Option<ImageRegistryConfigStorageAlibabaOss>,
    #[serde(default, skip_serializing_if = "Option::is_none", rename = "emptyDir")]
    pub empty_dir: Option<ImageRegistryConfigStorageEmptyDir>,
    /// Managed when the operator created the storage, Unmanaged when it adopted it.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(regex(pattern = r"^(Managed|Unmanaged)$"))]
    pub management_state: String,
}

/// Amazon S3 or an S3-compatible service.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageRegistryConfigStorageS3 {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub bucket: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub region: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub region_endpoint: String,
    /// Multipart chunk size in MiB.
    #[serde(rename = "chunkSizeMiB", default, skip_serializing_if = "Option::is_none")]
    #[schemars(range(min = 5, max = 5120))]
    pub chunk_size_mib: Option<i32>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub encrypt: bool,
    #[serde(rename = "keyID", default, skip_serializing_if = "String::is_empty")]
    pub key_id: String,
    #[serde(rename = "cloudFront", default, skip_serializing_if = "Option::is_none")]
    pub cloud_front: Option<ImageRegistryConfigStorageS3CloudFront>,
    /// Virtual-hosted-style bucket addressing (path style when false).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub virtual_hosted_style: Option<bool>,
    /// ConfigMap in `openshift-config` with the CA bundle (key `ca-bundle.crt`).
    #[serde(rename = "trustedCA", default, skip_serializing_if = "Option::is_none")]
    pub trusted_ca: Option<S3TrustedCASource>,
}

/// CloudFront middleware in front of S3.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct ImageRegistryConfigStorageS3CloudFront {
    #[serde(rename = "baseURL")]
    pub base_url: String,
    #[serde(rename = "privateKey")]
    #[schemars(
        extend("x-kubernetes-map-type" = "atomic"),
        transform = crate::schema::secret_key_selector
    )]
    pub private_key: SecretKeySelector,
    #[serde(rename = "keypairID")]
    pub keypair_id: String,
    /// A Go duration; 20 minutes when unset.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "duration"))]
    pub duration: Option<String>,
}

/// Reference to a ConfigMap holding a CA bundle.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct S3TrustedCASource {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(
        length(max = 253),
        regex(pattern = r"^$|^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
    )]
    pub name: String,
}

/// Google Cloud Storage.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct ImageRegistryConfigStorageGcs {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub bucket: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub region: String,
    #[serde(rename = "projectID", default, skip_serializing_if = "String::is_empty")]
    pub project_id: String,
    #[serde(rename = "keyID", default, skip_serializing_if = "String::is_empty")]
    pub key_id: String,
}

/// OpenStack Swift.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct ImageRegistryConfigStorageSwift {
    #[serde(rename = "authURL", default, skip_serializing_if = "String::is_empty")]
    pub auth_url: String,
    #[serde(rename = "authVersion", default, skip_serializing_if = "String::is_empty")]
    pub auth_version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub container: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub domain: String,
    #[serde(rename = "domainID", default, skip_serializing_if = "String::is_empty")]
    pub domain_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub tenant: String,
    #[serde(rename = "tenantID", default, skip_serializing_if = "String::is_empty")]
    pub tenant_id: String,
    #[serde(rename = "regionName", default, skip_serializing_if = "String::is_empty")]
    pub region_name: String,
}

/// A PersistentVolumeClaim in the operand namespace.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct ImageRegistryConfigStoragePvc {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub claim: String,
}

/// Azure Blob Storage.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageRegistryConfigStorageAzure {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub account_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(length(min = 3, max = 63), regex(pattern = r"^[0-9a-z]+(-[0-9a-z]+)*$"))]
    pub container: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cloud_name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend(
        "default" = {"type": "External"},
        "x-kubernetes-validations" = [{
            "message": "internal is forbidden when type is not Internal",
            "rule": "has(self.type) && self.type == 'Internal' ?  true : !has(self.internal)"
        }]
    ))]
    pub network_access: Option<AzureNetworkAccess>,
}

/// How the registry reaches its storage account.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct AzureNetworkAccess {
    #[serde(rename = "type", default)]
    pub type_: AzureNetworkAccessType,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internal: Option<AzureNetworkAccessInternal>,
}

/// Internal (private endpoint) or External.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum AzureNetworkAccessType {
    Internal,
    #[default]
    External,
}

/// Names used for a private endpoint.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct AzureNetworkAccessInternal {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(
        length(min = 1, max = 90),
        regex(pattern = r"^[0-9A-Za-z_.-](?:[0-9A-Za-z_.-]*[0-9A-Za-z_-])?$")
    )]
    pub network_resource_group_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(
        length(min = 2, max = 64),
        regex(pattern = r"^[0-9A-Za-z][0-9A-Za-z_.-]*[0-9A-Za-z_]$")
    )]
    pub vnet_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(
        length(min = 1, max = 80),
        regex(pattern = r"^[0-9A-Za-z](?:[0-9A-Za-z_.-]*[0-9A-Za-z_])?$")
    )]
    pub subnet_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(
        length(min = 2, max = 64),
        regex(pattern = r"^[0-9A-Za-z][0-9A-Za-z_.-]*[0-9A-Za-z_]$")
    )]
    pub private_endpoint_name: String,
}

/// IBM Cloud Object Storage.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct ImageRegistryConfigStorageIbmCos {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub bucket: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub location: String,
    #[serde(rename = "resourceGroupName", default, skip_serializing_if = "String::is_empty")]
    pub resource_group_name: String,
    #[serde(rename = "resourceKeyCRN", default, skip_serializing_if = "String::is_empty")]
    #[schemars(regex(pattern = r"^crn:.+:.+:.+:cloud-object-storage:.+:.+:.+:resource-key:.+$"))]
    pub resource_key_crn: String,
    #[serde(rename = "serviceInstanceCRN", default, skip_serializing_if = "String::is_empty")]
    #[schemars(regex(pattern = r"^crn:.+:.+:.+:cloud-object-storage:.+:.+:.+::$"))]
    pub service_instance_crn: String,
}

/// Alibaba Cloud OSS (in the API, but no driver implements it).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImageRegistryConfigStorageAlibabaOss {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    #[schemars(length(min = 3, max = 63), regex(pattern = r"^[0-9a-z]+(-[0-9a-z]+)*$"))]
    pub bucket: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub region: String,
    #[serde(default)]
    pub endpoint_accessibility: EndpointAccessibility,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub encryption: Option<ImageRegistryConfigStorageAlibabaOssEncryption>,
}

/// Whether OSS is reached on its internal or public endpoint.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum EndpointAccessibility {
    #[default]
    Internal,
    Public,
    #[serde(rename = "")]
    Unset,
}

/// OSS server-side encryption.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct ImageRegistryConfigStorageAlibabaOssEncryption {
    #[serde(default)]
    pub method: AlibabaEncryptionMethod,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub kms: Option<KmsEncryptionAlibaba>,
}

/// OSS encryption method.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, JsonSchema)]
pub enum AlibabaEncryptionMethod {
    #[serde(rename = "KMS")]
    Kms,
    #[default]
    AES256,
}

/// KMS key for OSS.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct KmsEncryptionAlibaba {
    #[serde(rename = "keyID")]
    #[schemars(length(min = 1))]
    pub key_id: String,
}

/// Ephemeral storage in the pod.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
pub struct ImageRegistryConfigStorageEmptyDir {}

/// Status of the registry `Config`.
///
/// `storage` and `storageManaged` are required by the CRD (so every status write carries
/// them) but read with defaults, since a new object has no status at all.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
#[schemars(transform = crate::schema::registry_status_required)]
pub struct ImageRegistryStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend("x-kubernetes-list-type" = "map", "x-kubernetes-list-map-keys" = ["type"]))]
    pub conditions: Vec<OperatorCondition>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ready_replicas: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("x-kubernetes-validations" = [{"message": "must only increase", "rule": "self >= oldSelf"}]))]
    pub latest_available_revision: Option<i32>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    #[schemars(extend(
        "x-kubernetes-list-type" = "map",
        "x-kubernetes-list-map-keys" = ["group", "resource", "namespace", "name"]
    ))]
    pub generations: Vec<GenerationStatus>,
    /// Deprecated: whether the operator manages the storage.
    #[serde(default)]
    #[schemars(transform = crate::schema::drop_default)]
    pub storage_managed: bool,
    /// The storage configuration last applied successfully.
    #[serde(default)]
    #[schemars(transform = crate::schema::drop_default)]
    pub storage: ImageRegistryConfigStorage,
}

/// A condition of an OpenShift operator resource (not `metav1.Condition`: no
/// `observedGeneration`).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct OperatorCondition {
    #[serde(rename = "type")]
    #[schemars(
        length(max = 316),
        regex(
            pattern = r"^([a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*/)?(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])$"
        )
    )]
    pub type_: String,
    pub status: ConditionStatus,
    pub last_transition_time: Time,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// True, False or Unknown.
#[derive(Serialize, Deserialize, Clone, Copy, Debug, Default, PartialEq, Eq, Hash, JsonSchema)]
pub enum ConditionStatus {
    True,
    False,
    #[default]
    Unknown,
}

impl ConditionStatus {
    /// The value as written in YAML.
    pub fn as_str(self) -> &'static str {
        match self {
            ConditionStatus::True => "True",
            ConditionStatus::False => "False",
            ConditionStatus::Unknown => "Unknown",
        }
    }
}

/// The generation of a workload the operator last wrote.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct GenerationStatus {
    pub group: String,
    pub resource: String,
    pub namespace: String,
    pub name: String,
    #[serde(default)]
    #[schemars(transform = crate::schema::drop_default)]
    pub last_generation: i64,
    #[serde(default)]
    #[schemars(transform = crate::schema::drop_default)]
    pub hash: String,
}

/// The image pruner configuration, the singleton `cluster`.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[kube(
    group = "imageregistry.operator.openshift.io",
    version = "v1",
    kind = "ImagePruner",
    plural = "imagepruners",
    status = "ImagePrunerStatus",
    derive = "PartialEq",
    derive = "Default"
)]
#[serde(rename_all = "camelCase")]
pub struct ImagePrunerSpec {
    /// Cron schedule; `0 0 * * *` when empty.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub schedule: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub suspend: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(transform = crate::schema::drop_format)]
    pub keep_tag_revisions: Option<i64>,
    /// Deprecated: nanoseconds.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub keep_younger_than: Option<i64>,
    /// A Go duration; takes precedence over `keepYoungerThan`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schemars(extend("format" = "duration"))]
    pub keep_younger_than_duration: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<ResourceRequirements>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub affinity: Option<Affinity>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub node_selector: Option<BTreeMap<String, String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tolerations: Option<Vec<Toleration>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub successful_jobs_history_limit: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub failed_jobs_history_limit: Option<i32>,
    #[serde(default, skip_serializing_if = "is_false")]
    pub ignore_invalid_image_references: bool,
    #[serde(default)]
    pub log_level: LogLevel,
}

/// Status of the `ImagePruner`.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, JsonSchema)]
#[serde(rename_all = "camelCase")]
pub struct ImagePrunerStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub observed_generation: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<OperatorCondition>,
}

impl ImageRegistryConfigStorage {
    /// Names of the drivers that are set, in a fixed order.
    pub fn configured_drivers(&self) -> Vec<&'static str> {
        let mut out = Vec::new();
        let pairs: [(&'static str, bool); 8] = [
            ("s3", self.s3.is_some()),
            ("gcs", self.gcs.is_some()),
            ("swift", self.swift.is_some()),
            ("pvc", self.pvc.is_some()),
            ("azure", self.azure.is_some()),
            ("ibmcos", self.ibmcos.is_some()),
            ("oss", self.oss.is_some()),
            ("emptyDir", self.empty_dir.is_some()),
        ];
        for (name, set) in pairs {
            if set {
                out.push(name);
            }
        }
        out
    }
}

/// A `managementState` as the operator acts on it (of the registry, or of its storage).
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub enum ManagementState {
    /// The operator keeps the registry (or the storage it created) in place.
    Managed,
    /// Left as it is (storage: the user's, adopted).
    Unmanaged,
    /// The registry's objects are deleted, with storage the operator created.
    Removed,
    /// Not set (storage whose owner is not decided yet).
    #[default]
    Unset,
    /// What the API allows but the operator does not act on (`Force`), kept as written.
    Other(String),
}

impl ManagementState {
    pub fn parse(s: &str) -> Self {
        match s {
            "Managed" => Self::Managed,
            "Unmanaged" => Self::Unmanaged,
            "Removed" => Self::Removed,
            "" => Self::Unset,
            other => Self::Other(other.to_string()),
        }
    }

    pub fn as_str(&self) -> &str {
        match self {
            Self::Managed => "Managed",
            Self::Unmanaged => "Unmanaged",
            Self::Removed => "Removed",
            Self::Unset => "",
            Self::Other(s) => s,
        }
    }
}

impl ImageRegistrySpec {
    /// The registry's management state.
    pub fn state(&self) -> ManagementState {
        ManagementState::parse(&self.management_state)
    }
}

impl ImageRegistryConfigStorage {
    /// Who owns the storage: Managed (the operator created it), Unmanaged, or Unset.
    pub fn state(&self) -> ManagementState {
        ManagementState::parse(&self.management_state)
    }
}

#[cfg(test)]
mod management_state_tests {
    use super::ManagementState;

    #[test]
    fn round_trips() {
        for s in ["Managed", "Unmanaged", "Removed", "", "Force"] {
            assert_eq!(ManagementState::parse(s).as_str(), s);
        }
        assert_eq!(ManagementState::parse("Force"), ManagementState::Other("Force".into()));
    }
}
