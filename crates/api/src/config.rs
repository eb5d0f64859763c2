//! `config.openshift.io/v1`: the cluster-wide configuration the operator reads, and the
//! `ClusterOperator` it reports to.
//!
//! These types model the fields the operator uses; serde ignores the rest on read. The
//! operator never writes these objects whole: it only reads them, or (ClusterOperator and
//! Image status) writes patches that name its own fields, so nothing it does not model is
//! lost. Their CRDs are the upstream ones (`schema = "disabled"`).

use std::collections::BTreeMap;

use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;
use kube::CustomResource;
use serde::{Deserialize, Serialize};

use crate::imageregistry::ConditionStatus;

// ---------------------------------------------------------------------------------------
// ClusterOperator

/// `clusteroperators.config.openshift.io`: an operator's summary for the cluster.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "config.openshift.io",
    version = "v1",
    kind = "ClusterOperator",
    plural = "clusteroperators",
    status = "ClusterOperatorStatus",
    shortname = "co",
    printcolumn = r#"{"description": "The version the operator is at.", "jsonPath": ".status.versions[?(@.name==\"operator\")].version", "name": "Version", "type": "string"}"#,
    printcolumn = r#"{"description": "Whether the operator is running and stable.", "jsonPath": ".status.conditions[?(@.type==\"Available\")].status", "name": "Available", "type": "string"}"#,
    printcolumn = r#"{"description": "Whether the operator is processing changes.", "jsonPath": ".status.conditions[?(@.type==\"Progressing\")].status", "name": "Progressing", "type": "string"}"#,
    printcolumn = r#"{"description": "Whether the operator is degraded.", "jsonPath": ".status.conditions[?(@.type==\"Degraded\")].status", "name": "Degraded", "type": "string"}"#,
    printcolumn = r#"{"description": "The time the operator's Available status last changed.", "jsonPath": ".status.conditions[?(@.type==\"Available\")].lastTransitionTime", "name": "Since", "type": "date"}"#,
    schema = "disabled",
    derive = "PartialEq",
    derive = "Default"
)]
pub struct ClusterOperatorSpec {}

/// What a ClusterOperator reports.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClusterOperatorStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<ClusterOperatorStatusCondition>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub versions: Vec<OperandVersion>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub related_objects: Vec<ObjectReference>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extension: Option<serde_json::Value>,
}

/// A ClusterOperator condition (Available, Progressing, Degraded, Upgradeable, ...).
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClusterOperatorStatusCondition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: ConditionStatus,
    pub last_transition_time: Time,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
}

/// A named version.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct OperandVersion {
    pub name: String,
    pub version: String,
}

/// A resource related to an operator, for must-gather.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct ObjectReference {
    pub group: String,
    pub resource: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub namespace: String,
    pub name: String,
}

// ---------------------------------------------------------------------------------------
// Infrastructure

/// `infrastructures.config.openshift.io/cluster`: which cloud the cluster runs on.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "config.openshift.io",
    version = "v1",
    kind = "Infrastructure",
    plural = "infrastructures",
    status = "InfrastructureStatus",
    schema = "disabled",
    derive = "PartialEq",
    derive = "Default"
)]
#[serde(rename_all = "camelCase")]
pub struct InfrastructureSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_spec: Option<serde_json::Value>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cloud_config: Option<serde_json::Value>,
}

/// Facts about the cluster's infrastructure.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct InfrastructureStatus {
    /// Unique, human-friendly cluster name used to tag cloud resources.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub infrastructure_name: String,
    /// Deprecated platform name; `platformStatus.type` is authoritative.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub platform: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub platform_status: Option<PlatformStatus>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub etcd_discovery_domain: String,
    #[serde(default, skip_serializing_if = "String::is_empty", rename = "apiServerURL")]
    pub api_server_url: String,
    #[serde(default, skip_serializing_if = "String::is_empty", rename = "apiServerInternalURI")]
    pub api_server_internal_uri: String,
    /// HighlyAvailable, HighlyAvailableArbiter, SingleReplica or External.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub control_plane_topology: String,
    /// HighlyAvailable or SingleReplica.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub infrastructure_topology: String,
}

/// Platform-specific facts; `type` selects which block is meaningful.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PlatformStatus {
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    pub type_: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub aws: Option<AwsPlatformStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub azure: Option<AzurePlatformStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub gcp: Option<GcpPlatformStatus>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub openstack: Option<OpenStackPlatformStatus>,
    #[serde(rename = "ibmcloud", default, skip_serializing_if = "Option::is_none")]
    pub ibm_cloud: Option<IbmCloudPlatformStatus>,
    #[serde(rename = "powervs", default, skip_serializing_if = "Option::is_none")]
    pub power_vs: Option<PowerVsPlatformStatus>,
    /// Other platforms (baremetal, vsphere, ovirt, ...) are kept as they are.
    #[serde(flatten)]
    pub other: BTreeMap<String, serde_json::Value>,
}

/// A key/value pair (AWS and Azure resource tags, GCP labels and tags).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct KeyValue {
    pub key: String,
    pub value: String,
}

/// GCP resource-manager tag.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct GcpResourceTag {
    #[serde(rename = "parentID")]
    pub parent_id: String,
    pub key: String,
    pub value: String,
}

/// A named endpoint override.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct ServiceEndpoint {
    pub name: String,
    pub url: String,
}

/// AWS facts.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AwsPlatformStatus {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub region: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_endpoints: Vec<ServiceEndpoint>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_tags: Vec<KeyValue>,
}

/// Azure facts.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct AzurePlatformStatus {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource_group_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub network_resource_group_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cloud_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub arm_endpoint: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_tags: Vec<KeyValue>,
}

/// GCP facts.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct GcpPlatformStatus {
    #[serde(rename = "projectID", default, skip_serializing_if = "String::is_empty")]
    pub project_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub region: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_labels: Vec<KeyValue>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub resource_tags: Vec<GcpResourceTag>,
}

/// OpenStack facts.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct OpenStackPlatformStatus {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub cloud_name: String,
}

/// IBM Cloud facts.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct IbmCloudPlatformStatus {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub location: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource_group_name: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub provider_type: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_endpoints: Vec<ServiceEndpoint>,
}

/// IBM Power Virtual Server facts.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct PowerVsPlatformStatus {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub region: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub zone: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub resource_group: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub service_endpoints: Vec<ServiceEndpoint>,
}

impl Infrastructure {
    /// `status.platformStatus.type`, falling back to the deprecated `status.platform`.
    pub fn platform_type(&self) -> &str {
        let Some(status) = &self.status else {
            return "";
        };
        match &status.platform_status {
            Some(ps) if !ps.type_.is_empty() => &ps.type_,
            _ => &status.platform,
        }
    }

    /// `status.infrastructureName`, empty when unknown.
    pub fn infrastructure_name(&self) -> &str {
        self.status.as_ref().map_or("", |s| s.infrastructure_name.as_str())
    }

    /// The platform status block, if any.
    pub fn platform_status(&self) -> Option<&PlatformStatus> {
        self.status.as_ref().and_then(|s| s.platform_status.as_ref())
    }

    /// Whether the cluster runs on Azure's public or sovereign clouds (not Azure Stack Hub,
    /// `cloudName: AzureStackCloud`).
    pub fn is_azure_cloud(&self) -> bool {
        let stack = self
            .platform_status()
            .and_then(|p| p.azure.as_ref())
            .is_some_and(|a| a.cloud_name == "AzureStackCloud");
        self.platform_type() == "Azure" && !stack
    }

    /// Whether the workers run as a single replica.
    pub fn is_single_replica(&self) -> bool {
        self.status.as_ref().is_some_and(|s| s.infrastructure_topology == "SingleReplica")
    }
}

// ---------------------------------------------------------------------------------------
// Proxy

/// `proxies.config.openshift.io/cluster`: the cluster-wide egress proxy.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "config.openshift.io",
    version = "v1",
    kind = "Proxy",
    plural = "proxies",
    status = "ProxyStatus",
    schema = "disabled",
    derive = "PartialEq",
    derive = "Default"
)]
#[serde(rename_all = "camelCase")]
pub struct ProxySpec {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub http_proxy: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub https_proxy: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub no_proxy: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub readiness_endpoints: Vec<String>,
    #[serde(rename = "trustedCA", default, skip_serializing_if = "Option::is_none")]
    pub trusted_ca: Option<ConfigMapNameReference>,
}

/// The effective proxy settings (what the operator uses).
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ProxyStatus {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub http_proxy: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub https_proxy: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub no_proxy: String,
}

/// A ConfigMap in `openshift-config`, by name.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct ConfigMapNameReference {
    pub name: String,
}

// ---------------------------------------------------------------------------------------
// Image

/// `images.config.openshift.io/cluster`: cluster image policy; its status carries the
/// registry hostnames this operator publishes.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "config.openshift.io",
    version = "v1",
    kind = "Image",
    plural = "images",
    status = "ImageStatus",
    schema = "disabled",
    derive = "PartialEq",
    derive = "Default"
)]
#[serde(rename_all = "camelCase")]
pub struct ImageSpec {
    #[serde(rename = "additionalTrustedCA", default, skip_serializing_if = "Option::is_none")]
    pub additional_trusted_ca: Option<ConfigMapNameReference>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image_stream_import_mode: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external_registry_hostnames: Vec<String>,
}

/// Registry hostnames as the cluster should use them.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ImageStatus {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub internal_registry_hostname: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub external_registry_hostnames: Vec<String>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image_stream_import_mode: String,
}

// ---------------------------------------------------------------------------------------
// APIServer

/// `apiservers.config.openshift.io/cluster`: read for its TLS security profile.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "config.openshift.io",
    version = "v1",
    kind = "APIServer",
    plural = "apiservers",
    schema = "disabled",
    derive = "PartialEq",
    derive = "Default"
)]
#[serde(rename_all = "camelCase")]
pub struct APIServerSpec {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls_security_profile: Option<TlsSecurityProfile>,
}

/// Old, Intermediate, Modern or Custom TLS settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TlsSecurityProfile {
    #[serde(rename = "type", default, skip_serializing_if = "String::is_empty")]
    pub type_: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub custom: Option<CustomTlsProfile>,
}

/// The Custom profile's explicit settings.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct CustomTlsProfile {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ciphers: Vec<String>,
    #[serde(rename = "minTLSVersion", default, skip_serializing_if = "String::is_empty")]
    pub min_tls_version: String,
}

// ---------------------------------------------------------------------------------------
// ClusterVersion

/// `clusterversions.config.openshift.io/version`: read for the desired release.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "config.openshift.io",
    version = "v1",
    kind = "ClusterVersion",
    plural = "clusterversions",
    status = "ClusterVersionStatus",
    printcolumn = r#"{"jsonPath": ".status.history[?(@.state==\"Completed\")].version", "name": "Version", "type": "string"}"#,
    printcolumn = r#"{"jsonPath": ".status.conditions[?(@.type==\"Available\")].status", "name": "Available", "type": "string"}"#,
    printcolumn = r#"{"jsonPath": ".status.conditions[?(@.type==\"Progressing\")].status", "name": "Progressing", "type": "string"}"#,
    printcolumn = r#"{"jsonPath": ".status.conditions[?(@.type==\"Progressing\")].lastTransitionTime", "name": "Since", "type": "date"}"#,
    printcolumn = r#"{"jsonPath": ".status.conditions[?(@.type==\"Progressing\")].message", "name": "Status", "type": "string"}"#,
    schema = "disabled",
    derive = "PartialEq",
    derive = "Default"
)]
#[serde(rename_all = "camelCase")]
pub struct ClusterVersionSpec {
    #[serde(rename = "clusterID", default)]
    pub cluster_id: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub channel: String,
}

/// The release the cluster is at or moving to.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct ClusterVersionStatus {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub desired: Option<Release>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub history: Vec<UpdateHistory>,
}

/// A release.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct Release {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image: String,
    /// `Multi` for a multi-architecture payload.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub architecture: String,
}

/// One entry of the update history.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct UpdateHistory {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub state: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub version: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub image: String,
}

// ---------------------------------------------------------------------------------------
// FeatureGate

/// `featuregates.config.openshift.io/cluster`: which gates are on per release version.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "config.openshift.io",
    version = "v1",
    kind = "FeatureGate",
    plural = "featuregates",
    status = "FeatureGateStatus",
    schema = "disabled",
    derive = "PartialEq",
    derive = "Default"
)]
#[serde(rename_all = "camelCase")]
pub struct FeatureGateSpec {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub feature_set: String,
}

/// Gate sets per version.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct FeatureGateStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub feature_gates: Vec<FeatureGateDetails>,
}

/// The gates of one version.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct FeatureGateDetails {
    pub version: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub enabled: Vec<FeatureGateAttributes>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub disabled: Vec<FeatureGateAttributes>,
}

/// A gate by name.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq, Eq)]
pub struct FeatureGateAttributes {
    pub name: String,
}

impl FeatureGate {
    /// Whether `gate` is enabled for `version`; `None` when the version is not listed.
    pub fn is_enabled(&self, version: &str, gate: &str) -> Option<bool> {
        let details = self.status.as_ref()?.feature_gates.iter().find(|d| d.version == version)?;
        Some(details.enabled.iter().any(|g| g.name == gate))
    }
}
