//! `route.openshift.io/v1` Route: how the registry is exposed outside the cluster.
//!
//! The operator writes whole Routes it owns (marked with an annotation) and reads their
//! `status.ingress` for admission; fields it does not model are not used on its Routes.

use kube::CustomResource;
use serde::{Deserialize, Serialize};

/// The desired state of a Route.
#[derive(CustomResource, Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[kube(
    group = "route.openshift.io",
    version = "v1",
    kind = "Route",
    plural = "routes",
    namespaced,
    status = "RouteStatus",
    printcolumn = r#"{"jsonPath": ".status.ingress[0].host", "name": "Host", "type": "string"}"#,
    printcolumn = r#"{"jsonPath": ".status.ingress[0].conditions[?(@.type==\"Admitted\")].status", "name": "Admitted", "type": "string"}"#,
    printcolumn = r#"{"jsonPath": ".spec.to.name", "name": "Service", "type": "string"}"#,
    printcolumn = r#"{"jsonPath": ".spec.tls.type", "name": "TLS", "type": "string"}"#,
    schema = "disabled",
    derive = "PartialEq",
    derive = "Default"
)]
#[serde(rename_all = "camelCase")]
pub struct RouteSpec {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub path: String,
    pub to: RouteTargetReference,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub port: Option<RoutePort>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tls: Option<TlsConfig>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub wildcard_policy: String,
}

/// The Service a Route points at.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct RouteTargetReference {
    pub kind: String,
    pub name: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i32>,
}

/// The target port.
#[derive(Serialize, Deserialize, Clone, Debug, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RoutePort {
    pub target_port: k8s_openapi::apimachinery::pkg::util::intstr::IntOrString,
}

/// TLS termination.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct TlsConfig {
    pub termination: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub certificate: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub key: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub ca_certificate: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub destination_ca_certificate: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub insecure_edge_termination_policy: String,
}

/// Where the Route was admitted.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
pub struct RouteStatus {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub ingress: Vec<RouteIngress>,
}

/// One router's view of a Route.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RouteIngress {
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub host: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub router_name: String,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub conditions: Vec<RouteIngressCondition>,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub wildcard_policy: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub router_canonical_hostname: String,
}

/// Admission state of a Route on a router.
#[derive(Serialize, Deserialize, Clone, Debug, Default, PartialEq)]
#[serde(rename_all = "camelCase")]
pub struct RouteIngressCondition {
    #[serde(rename = "type")]
    pub type_: String,
    pub status: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub reason: String,
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub message: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub last_transition_time: Option<k8s_openapi::apimachinery::pkg::apis::meta::v1::Time>,
}
