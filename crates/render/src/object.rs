//! A desired object of any kind the operator writes.

use api::{Config, ImagePruner, Route};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment};
use k8s_openapi::api::batch::v1::CronJob;
use k8s_openapi::api::core::v1::{
    ConfigMap, PersistentVolumeClaim, Secret, Service, ServiceAccount,
};
use k8s_openapi::api::networking::v1::{Ingress, NetworkPolicy};
use k8s_openapi::api::policy::v1::PodDisruptionBudget;
use k8s_openapi::api::rbac::v1::{ClusterRole, ClusterRoleBinding};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

/// One object the operator wants to exist.
#[derive(Debug, Clone, PartialEq)]
pub enum Object {
    Config(Box<Config>),
    ImagePruner(Box<ImagePruner>),
    ClusterRole(ClusterRole),
    ClusterRoleBinding(ClusterRoleBinding),
    ServiceAccount(ServiceAccount),
    Secret(Secret),
    ConfigMap(ConfigMap),
    Service(Service),
    Deployment(Box<Deployment>),
    DaemonSet(Box<DaemonSet>),
    CronJob(Box<CronJob>),
    PodDisruptionBudget(PodDisruptionBudget),
    NetworkPolicy(NetworkPolicy),
    Route(Box<Route>),
    Ingress(Box<Ingress>),
    Certificate(Box<api::cert_manager::Certificate>),
    Issuer(Box<api::cert_manager::Issuer>),
    PersistentVolumeClaim(PersistentVolumeClaim),
}

impl Object {
    /// The object's metadata.
    pub fn meta(&self) -> &ObjectMeta {
        match self {
            Object::Config(o) => &o.metadata,
            Object::ImagePruner(o) => &o.metadata,
            Object::ClusterRole(o) => &o.metadata,
            Object::ClusterRoleBinding(o) => &o.metadata,
            Object::ServiceAccount(o) => &o.metadata,
            Object::Secret(o) => &o.metadata,
            Object::ConfigMap(o) => &o.metadata,
            Object::Service(o) => &o.metadata,
            Object::Deployment(o) => &o.metadata,
            Object::DaemonSet(o) => &o.metadata,
            Object::CronJob(o) => &o.metadata,
            Object::PodDisruptionBudget(o) => &o.metadata,
            Object::NetworkPolicy(o) => &o.metadata,
            Object::Route(o) => &o.metadata,
            Object::Ingress(o) => &o.metadata,
            Object::Certificate(o) => &o.metadata,
            Object::Issuer(o) => &o.metadata,
            Object::PersistentVolumeClaim(o) => &o.metadata,
        }
    }

    /// The object's kind.
    pub fn kind(&self) -> &'static str {
        match self {
            Object::Config(_) => "Config",
            Object::ImagePruner(_) => "ImagePruner",
            Object::ClusterRole(_) => "ClusterRole",
            Object::ClusterRoleBinding(_) => "ClusterRoleBinding",
            Object::ServiceAccount(_) => "ServiceAccount",
            Object::Secret(_) => "Secret",
            Object::ConfigMap(_) => "ConfigMap",
            Object::Service(_) => "Service",
            Object::Deployment(_) => "Deployment",
            Object::DaemonSet(_) => "DaemonSet",
            Object::CronJob(_) => "CronJob",
            Object::PodDisruptionBudget(_) => "PodDisruptionBudget",
            Object::NetworkPolicy(_) => "NetworkPolicy",
            Object::Route(_) => "Route",
            Object::Ingress(_) => "Ingress",
            Object::Certificate(_) => "Certificate",
            Object::Issuer(_) => "Issuer",
            Object::PersistentVolumeClaim(_) => "PersistentVolumeClaim",
        }
    }

    /// `Kind namespace/name` (or `Kind name` when cluster-scoped), for messages.
    pub fn describe(&self) -> String {
        let m = self.meta();
        let name = m.name.as_deref().unwrap_or("");
        match m.namespace.as_deref() {
            Some(ns) => format!("{} {ns}/{name}", self.kind()),
            None => format!("{} {name}", self.kind()),
        }
    }

    /// The object as JSON, with `apiVersion` and `kind`.
    pub fn to_value(&self) -> serde_json::Value {
        let v = match self {
            Object::Config(o) => serde_json::to_value(o),
            Object::ImagePruner(o) => serde_json::to_value(o),
            Object::ClusterRole(o) => serde_json::to_value(o),
            Object::ClusterRoleBinding(o) => serde_json::to_value(o),
            Object::ServiceAccount(o) => serde_json::to_value(o),
            Object::Secret(o) => serde_json::to_value(o),
            Object::ConfigMap(o) => serde_json::to_value(o),
            Object::Service(o) => serde_json::to_value(o),
            Object::Deployment(o) => serde_json::to_value(o),
            Object::DaemonSet(o) => serde_json::to_value(o),
            Object::CronJob(o) => serde_json::to_value(o),
            Object::PodDisruptionBudget(o) => serde_json::to_value(o),
            Object::NetworkPolicy(o) => serde_json::to_value(o),
            Object::Route(o) => serde_json::to_value(o),
            Object::Ingress(o) => serde_json::to_value(o),
            Object::Certificate(o) => serde_json::to_value(o),
            Object::Issuer(o) => serde_json::to_value(o),
            Object::PersistentVolumeClaim(o) => serde_json::to_value(o),
        };
        v.expect("Kubernetes objects serialize to JSON")
    }
}

/// Metadata with a name, an optional namespace, labels and annotations.
pub fn meta(
    name: &str,
    namespace: Option<&str>,
    labels: &[(&str, &str)],
    annotations: &[(&str, &str)],
) -> ObjectMeta {
    let map = |pairs: &[(&str, &str)]| {
        (!pairs.is_empty())
            .then(|| pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect())
    };
    ObjectMeta {
        name: Some(name.to_string()),
        namespace: namespace.map(str::to_string),
        labels: map(labels),
        annotations: map(annotations),
        ..Default::default()
    }
}
