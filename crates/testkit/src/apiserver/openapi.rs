//! The built-in kinds' schemas for the OpenAPI v3 documents, from k8s-openapi's
//! `schemars` implementations: named as kube-apiserver names them
//! (`io.k8s.api.apps.v1.Deployment`), each kind's with its group-version-kind, so `kubectl
//! explain deployment.spec` finds it. Made once per group version.

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

use k8s_openapi::api::{apps, batch, coordination, core, networking, policy, rbac};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1 as apiextensions;
use schemars::{JsonSchema, SchemaGenerator, generate::SchemaSettings};
use serde_json::{Map, Value, json};

use super::types::ResourceType;

/// Adds `t`'s schema (and those it refers to) to `generator`; returns its name, or `None`
/// for a kind without one here.
fn add(generator: &mut SchemaGenerator, t: &ResourceType) -> Option<String> {
    fn one<T: JsonSchema>(g: &mut SchemaGenerator) -> Option<String> {
        g.subschema_for::<T>();
        Some(T::schema_name().into_owned())
    }
    match (t.group.as_str(), t.plural.as_str()) {
        ("", "namespaces") => one::<core::v1::Namespace>(generator),
        ("", "configmaps") => one::<core::v1::ConfigMap>(generator),
        ("", "secrets") => one::<core::v1::Secret>(generator),
        ("", "services") => one::<core::v1::Service>(generator),
        ("", "serviceaccounts") => one::<core::v1::ServiceAccount>(generator),
        ("", "persistentvolumeclaims") => one::<core::v1::PersistentVolumeClaim>(generator),
        ("", "pods") => one::<core::v1::Pod>(generator),
        ("", "nodes") => one::<core::v1::Node>(generator),
        ("", "events") => one::<core::v1::Event>(generator),
        ("", "endpoints") => one::<core::v1::Endpoints>(generator),
        ("apps", "deployments") => one::<apps::v1::Deployment>(generator),
        ("apps", "daemonsets") => one::<apps::v1::DaemonSet>(generator),
        ("apps", "replicasets") => one::<apps::v1::ReplicaSet>(generator),
        ("apps", "statefulsets") => one::<apps::v1::StatefulSet>(generator),
        ("batch", "jobs") => one::<batch::v1::Job>(generator),
        ("batch", "cronjobs") => one::<batch::v1::CronJob>(generator),
        ("rbac.authorization.k8s.io", "roles") => one::<rbac::v1::Role>(generator),
        ("rbac.authorization.k8s.io", "rolebindings") => one::<rbac::v1::RoleBinding>(generator),
        ("rbac.authorization.k8s.io", "clusterroles") => one::<rbac::v1::ClusterRole>(generator),
        ("rbac.authorization.k8s.io", "clusterrolebindings") => {
            one::<rbac::v1::ClusterRoleBinding>(generator)
        }
        ("policy", "poddisruptionbudgets") => one::<policy::v1::PodDisruptionBudget>(generator),
        ("networking.k8s.io", "networkpolicies") => one::<networking::v1::NetworkPolicy>(generator),
        ("networking.k8s.io", "ingresses") => one::<networking::v1::Ingress>(generator),
        ("coordination.k8s.io", "leases") => one::<coordination::v1::Lease>(generator),
        ("events.k8s.io", "events") => one::<k8s_openapi::api::events::v1::Event>(generator),
        ("apiextensions.k8s.io", "customresourcedefinitions") => {
            one::<apiextensions::CustomResourceDefinition>(generator)
        }
        _ => None,
    }
}

/// The schemas of the built-in kinds among `types` (one group version), with every
/// schema they refer to.
pub fn builtin_schemas(group_version: &str, types: &[&ResourceType]) -> Map<String, Value> {
    static MADE: OnceLock<Mutex<HashMap<String, Map<String, Value>>>> = OnceLock::new();
    let made = MADE.get_or_init(Default::default);
    if let Some(m) = made.lock().expect("schemas").get(group_version) {
        return m.clone();
    }
    let mut generator = SchemaSettings::openapi3().into_generator();
    let mut kinds = Vec::new();
    for t in types.iter().filter(|t| t.builtin()) {
        if let Some(name) = add(&mut generator, t) {
            kinds.push((name, json!([{"group": t.group, "version": t.version, "kind": t.kind}])));
        }
    }
    let mut schemas = generator.take_definitions(true);
    for (name, gvk) in kinds {
        if let Some(Value::Object(s)) = schemas.get_mut(&name) {
            s.insert("x-kubernetes-group-version-kind".into(), gvk);
        }
    }
    made.lock().expect("schemas").insert(group_version.to_string(), schemas.clone());
    schemas
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn deployments_have_their_schema_and_its_references() {
        let types = super::super::types::builtins();
        let apps: Vec<&ResourceType> = types.iter().filter(|t| t.group == "apps").collect();
        let schemas = builtin_schemas("apps/v1", &apps);
        let d = &schemas["io.k8s.api.apps.v1.Deployment"];
        assert_eq!(
            d["x-kubernetes-group-version-kind"],
            json!([{"group": "apps", "version": "v1", "kind": "Deployment"}])
        );
        assert!(schemas.contains_key("io.k8s.api.apps.v1.DeploymentSpec"));
        assert!(schemas.contains_key("io.k8s.apimachinery.pkg.apis.meta.v1.ObjectMeta"));
        let spec_ref = d
            .pointer("/properties/spec/$ref")
            .or_else(|| d.pointer("/properties/spec/allOf/0/$ref"));
        assert_eq!(
            spec_ref,
            Some(&json!("#/components/schemas/io.k8s.api.apps.v1.DeploymentSpec"))
        );
    }
}
