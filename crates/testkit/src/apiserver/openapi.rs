//! The built-in kinds' schemas for the OpenAPI v3 documents, from k8s-openapi's
//! `schemars` implementations: named as kube-apiserver names them
//! (`io.k8s.api.apps.v1.Deployment`), each kind's with its group-version-kind, so `kubectl
//! explain deployment.spec` finds it. Made once per group version.
//!
//! And `/openapi/v2`: the same schemas, built-in and CRDs', as one Swagger 2.0 document,
//! in JSON or as the protobuf `openapi_v2.Document` (gnostic's) that kubectl asks for
//! (`kubectl explain --output=plaintext-openapiv2`). It has no paths: kubectl reads the
//! patch types of a kind from a v2 document's paths, and without them it computes a
//! strategic merge patch from its own Go types, as it does for a real server's.

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
        ("networking.k8s.io", "ingressclasses") => one::<networking::v1::IngressClass>(generator),
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

/// `/openapi/v2` in JSON: every schema of every served group version, with references
/// rewritten to `#/definitions/`.
pub fn v2_document(types: &[ResourceType]) -> Value {
    let mut versions: Vec<String> = types.iter().map(ResourceType::api_version).collect();
    versions.sort();
    versions.dedup();
    let mut definitions = Map::new();
    for gv in versions {
        let served: Vec<&ResourceType> = types.iter().filter(|t| t.api_version() == gv).collect();
        let doc = super::types::openapi_v3_group_version(&served);
        if let Some(Value::Object(schemas)) = doc.pointer("/components/schemas") {
            for (name, schema) in schemas {
                definitions.entry(name.clone()).or_insert_with(|| v2_refs(schema.clone()));
            }
        }
    }
    json!({"swagger": "2.0", "info": {"title": "Kubernetes", "version": "v1.33.0"},
        "paths": {}, "definitions": definitions})
}

/// A v3 schema as v2 writes it: `#/definitions/` references, and a reference wrapped in a
/// one-item `allOf` (v3's way to give it a description) made direct, as in v2.
fn v2_refs(mut v: Value) -> Value {
    match &mut v {
        Value::Object(m) => {
            let single = m.get("allOf").and_then(Value::as_array).filter(|a| a.len() == 1);
            if let Some(r) = single.and_then(|a| a[0].get("$ref")).cloned() {
                m.remove("allOf");
                m.insert("$ref".into(), r);
            }
            for (k, child) in m.iter_mut() {
                match (k.as_str(), &child) {
                    ("$ref", Value::String(r)) => {
                        *child = Value::String(r.replace("#/components/schemas/", "#/definitions/"))
                    }
                    _ => *child = v2_refs(std::mem::take(child)),
                }
            }
        }
        Value::Array(items) => {
            for i in items.iter_mut() {
                *i = v2_refs(std::mem::take(i));
            }
        }
        _ => {}
    }
    v
}

/// The protobuf messages of gnostic's `openapi_v2` package that a schema document needs
/// (field numbers as in its OpenAPIv2.proto; the fields left out are never written).
mod gnostic {
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Document {
        #[prost(string, tag = "1")]
        pub swagger: String,
        #[prost(message, optional, tag = "2")]
        pub info: Option<Info>,
        #[prost(message, optional, tag = "8")]
        pub paths: Option<Paths>,
        #[prost(message, optional, tag = "9")]
        pub definitions: Option<Definitions>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Info {
        #[prost(string, tag = "1")]
        pub title: String,
        #[prost(string, tag = "2")]
        pub version: String,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Paths {}

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Definitions {
        #[prost(message, repeated, tag = "1")]
        pub additional_properties: Vec<NamedSchema>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct NamedSchema {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(message, optional, tag = "2")]
        pub value: Option<Schema>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Schema {
        #[prost(string, tag = "1")]
        pub r#ref: String,
        #[prost(string, tag = "2")]
        pub format: String,
        #[prost(string, tag = "4")]
        pub description: String,
        #[prost(string, repeated, tag = "19")]
        pub required: Vec<String>,
        #[prost(message, optional, tag = "21")]
        pub additional_properties: Option<AdditionalProperties>,
        #[prost(message, optional, tag = "22")]
        pub r#type: Option<TypeItem>,
        #[prost(message, optional, tag = "23")]
        pub items: Option<ItemsItem>,
        #[prost(message, repeated, tag = "24")]
        pub all_of: Vec<Schema>,
        #[prost(message, optional, tag = "25")]
        pub properties: Option<Properties>,
        #[prost(message, repeated, tag = "31")]
        pub vendor_extension: Vec<NamedAny>,
    }

    /// `AdditionalPropertiesItem`: a oneof of a schema (1) or a boolean (2).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct AdditionalProperties {
        #[prost(message, optional, boxed, tag = "1")]
        pub schema: Option<Box<Schema>>,
        #[prost(bool, optional, tag = "2")]
        pub boolean: Option<bool>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct TypeItem {
        #[prost(string, repeated, tag = "1")]
        pub value: Vec<String>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct ItemsItem {
        #[prost(message, repeated, tag = "1")]
        pub schema: Vec<Schema>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Properties {
        #[prost(message, repeated, tag = "1")]
        pub additional_properties: Vec<NamedSchema>,
    }

    #[derive(Clone, PartialEq, prost::Message)]
    pub struct NamedAny {
        #[prost(string, tag = "1")]
        pub name: String,
        #[prost(message, optional, tag = "2")]
        pub value: Option<Any>,
    }

    /// A vendor extension's value, as YAML (JSON is YAML).
    #[derive(Clone, PartialEq, prost::Message)]
    pub struct Any {
        #[prost(string, tag = "2")]
        pub yaml: String,
    }
}

/// [`v2_document`] as the protobuf `openapi_v2.Document` kubectl asks for.
pub fn v2_protobuf(doc: &Value) -> Vec<u8> {
    let text = |k: &str| doc.pointer(k).and_then(Value::as_str).unwrap_or_default().to_string();
    let definitions = doc["definitions"].as_object().map(named).unwrap_or_default();
    let d = gnostic::Document {
        swagger: text("/swagger"),
        info: Some(gnostic::Info { title: text("/info/title"), version: text("/info/version") }),
        paths: Some(gnostic::Paths {}),
        definitions: Some(gnostic::Definitions { additional_properties: definitions }),
    };
    prost::Message::encode_to_vec(&d)
}

fn named(m: &Map<String, Value>) -> Vec<gnostic::NamedSchema> {
    m.iter()
        .map(|(k, v)| gnostic::NamedSchema { name: k.clone(), value: Some(v2_schema(v)) })
        .collect()
}

fn v2_schema(v: &Value) -> gnostic::Schema {
    let mut s = gnostic::Schema::default();
    let Some(m) = v.as_object() else { return s };
    let text = |x: &Value| x.as_str().unwrap_or_default().to_string();
    for (k, x) in m {
        match k.as_str() {
            "$ref" => s.r#ref = text(x),
            "format" => s.format = text(x),
            "description" => s.description = text(x),
            "required" => {
                s.required = x.as_array().into_iter().flatten().map(text).collect();
            }
            "type" => s.r#type = Some(gnostic::TypeItem { value: vec![text(x)] }),
            "items" => s.items = Some(gnostic::ItemsItem { schema: vec![v2_schema(x)] }),
            "allOf" => s.all_of = x.as_array().into_iter().flatten().map(v2_schema).collect(),
            "properties" => {
                let props = x.as_object().map(named).unwrap_or_default();
                s.properties = Some(gnostic::Properties { additional_properties: props });
            }
            "additionalProperties" => {
                s.additional_properties = Some(match x {
                    Value::Bool(b) => {
                        gnostic::AdditionalProperties { schema: None, boolean: Some(*b) }
                    }
                    _ => gnostic::AdditionalProperties {
                        schema: Some(Box::new(v2_schema(x))),
                        boolean: None,
                    },
                });
            }
            ext if ext.starts_with("x-") => s.vendor_extension.push(gnostic::NamedAny {
                name: ext.to_string(),
                value: Some(gnostic::Any { yaml: x.to_string() }),
            }),
            _ => {}
        }
    }
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_v2_document_has_every_kind_under_definitions() {
        let types = super::super::types::builtins();
        let doc = v2_document(&types);
        let d = &doc["definitions"]["io.k8s.api.apps.v1.Deployment"];
        assert_eq!(d["x-kubernetes-group-version-kind"][0]["kind"], "Deployment");
        assert_eq!(
            d["properties"]["spec"]["$ref"],
            "#/definitions/io.k8s.api.apps.v1.DeploymentSpec"
        );
        assert!(doc["definitions"]["io.k8s.api.core.v1.Secret"].is_object());
        assert!(!doc.to_string().contains("#/components/"), "every reference rewritten");
        // The protobuf form reads back with the same definitions.
        let pb: gnostic::Document = prost::Message::decode(&v2_protobuf(&doc)[..]).unwrap();
        let defs = pb.definitions.unwrap().additional_properties;
        assert_eq!(defs.len(), doc["definitions"].as_object().unwrap().len());
        let deployment = defs.iter().find(|n| n.name == "io.k8s.api.apps.v1.Deployment").unwrap();
        let schema = deployment.value.as_ref().unwrap();
        let gvk =
            schema.vendor_extension.iter().find(|e| e.name == "x-kubernetes-group-version-kind");
        assert!(gvk.unwrap().value.as_ref().unwrap().yaml.contains(r#""kind":"Deployment""#));
        assert_eq!(pb.swagger, "2.0");
    }

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
