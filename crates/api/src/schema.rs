//! Schema helpers used by the derives, and the CRDs generated from our types.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
    CustomResourceDefinition, JSONSchemaProps, JSONSchemaPropsOrArray, JSONSchemaPropsOrBool,
};
use kube::CustomResourceExt;
use schemars::Schema;

/// Free-form object: any fields, and null allowed.
pub fn preserve_unknown_nullable(_: &mut schemars::SchemaGenerator) -> Schema {
    schemars::json_schema!({
        "type": "object",
        "nullable": true,
        "x-kubernetes-preserve-unknown-fields": true
    })
}

/// Drops the `format` schemars derives from a Rust integer type (Go `int` has none).
pub fn drop_format(schema: &mut Schema) {
    schema.remove("format");
}

/// Drops the `default` that `#[serde(default)]` makes schemars emit where the CRD has none.
pub fn drop_default(schema: &mut Schema) {
    schema.remove("default");
}

/// A `SecretKeySelector` as the Go API declares it: `name` optional, defaulting to "".
pub fn secret_key_selector(schema: &mut Schema) {
    if let Some(required) = schema.get_mut("required").and_then(|r| r.as_array_mut()) {
        required.retain(|r| r != "name");
    }
    if let Some(name) =
        schema.get_mut("properties").and_then(|p| p.get_mut("name")).and_then(|n| n.as_object_mut())
    {
        name.insert("default".into(), serde_json::json!(""));
    }
}

/// The registry status requires `storage` and `storageManaged`.
pub fn registry_status_required(schema: &mut Schema) {
    schema.insert("required".into(), serde_json::json!(["storage", "storageManaged"]));
}

/// The CRDs of the resources this project defines, in the order `crdgen` prints them.
pub fn crds() -> Vec<CustomResourceDefinition> {
    vec![
        finish(crate::imageregistry::Config::crd()),
        finish(crate::imageregistry::ImagePruner::crd()),
    ]
}

/// Adjusts a derived CRD where the derive cannot express the published one: the list
/// kind, the standard top-level properties (with `metadata` and `spec` required), and no
/// `nullable` on optional fields (the derive marks every `Option` nullable; the published
/// CRDs allow null only on free-form objects).
fn finish(mut crd: CustomResourceDefinition) -> CustomResourceDefinition {
    crd.spec.names.list_kind = Some(format!("{}List", crd.spec.names.kind));
    for version in &mut crd.spec.versions {
        if let Some(root) = version.schema.as_mut().and_then(|s| s.open_api_v3_schema.as_mut()) {
            let required = root.required.get_or_insert_with(Vec::new);
            for field in ["metadata", "spec"] {
                if !required.iter().any(|r| r == field) {
                    required.push(field.to_string());
                }
            }
            required.sort();
            let props = root.properties.get_or_insert_with(Default::default);
            for (name, type_) in
                [("apiVersion", "string"), ("kind", "string"), ("metadata", "object")]
            {
                props.entry(name.to_string()).or_insert_with(|| JSONSchemaProps {
                    type_: Some(type_.to_string()),
                    ..Default::default()
                });
            }
            normalize(root, "");
        }
    }
    crd
}

/// The pattern the API server's OpenAPI gives `resource.Quantity`; k8s-openapi's schema
/// for it has none.
const QUANTITY_PATTERN: &str = r"^(\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))(([KMGTPE]i)|[numkMGTPE]|([eE](\+|-)?(([0-9]+(\.[0-9]*)?)|(\.[0-9]+))))?$";

/// Walks a schema: drops `nullable` except on free-form objects, and gives the quantity
/// maps of `ResourceRequirements` (`limits`, `requests`) the quantity pattern.
fn normalize(schema: &mut JSONSchemaProps, key: &str) {
    if schema.x_kubernetes_preserve_unknown_fields != Some(true) {
        schema.nullable = None;
    }
    for (name, child) in schema.properties.iter_mut().flat_map(|p| p.iter_mut()) {
        normalize(child, name);
    }
    if let Some(JSONSchemaPropsOrArray::Schema(items)) = schema.items.as_mut() {
        normalize(items, "");
    }
    if let Some(JSONSchemaPropsOrBool::Schema(extra)) = schema.additional_properties.as_mut() {
        if matches!(key, "limits" | "requests") && extra.x_kubernetes_int_or_string == Some(true) {
            extra.pattern = Some(QUANTITY_PATTERN.to_string());
        }
        normalize(extra, "");
    }
}

/// All CRDs as one multi-document YAML stream.
pub fn crds_yaml() -> String {
    let mut out = String::new();
    for crd in crds() {
        out.push_str("---\n");
        out.push_str(&serde_saphyr::to_string(&crd).expect("CRD serializes"));
    }
    out
}

/// The CRDs as `manifests/` ships them to the cluster-version operator: file name and
/// YAML, with openshift/api's release annotations (which clusters install them, and the
/// API review that approved each group).
pub fn release_crd_files() -> Vec<(String, String)> {
    crds()
        .into_iter()
        .map(|mut crd| {
            let (file, review) = match crd.spec.names.plural.as_str() {
                "configs" => ("00-configs", "https://github.com/openshift/api/pull/519"),
                _ => ("00-imagepruners", "https://github.com/openshift/api/pull/555"),
            };
            let annotations = crd.metadata.annotations.get_or_insert_with(Default::default);
            annotations.insert("api-approved.openshift.io".into(), review.into());
            for profile in ["ibm-cloud-managed", "self-managed-high-availability"] {
                annotations
                    .insert(format!("include.release.openshift.io/{profile}"), "true".into());
            }
            let text = serde_saphyr::to_string(&crd).expect("CRD serializes");
            (format!("0000_50_cluster-image-registry-operator_{file}.crd.yaml"), text)
        })
        .collect()
}

/// CRDs for the OpenShift types the operator reads and writes (ClusterOperator,
/// Infrastructure, Proxy, Image, APIServer, ClusterVersion, FeatureGate, Route), for a
/// local stand-in cluster. The config kinds validate as openshift/api's CRDs do (their
/// schemas without descriptions, `crates/api/schemas/`, written by
/// `scripts/gen-openshift-schemas.py`): an object the real cluster refuses is refused.
pub fn openshift_crds() -> Vec<CustomResourceDefinition> {
    use crate::config::*;
    let crds = vec![
        with_schema(ClusterOperator::crd(), include_str!("../schemas/clusteroperators.json")),
        with_schema(Infrastructure::crd(), include_str!("../schemas/infrastructures.json")),
        with_schema(Proxy::crd(), include_str!("../schemas/proxies.json")),
        with_schema(Image::crd(), include_str!("../schemas/images.json")),
        with_schema(APIServer::crd(), include_str!("../schemas/apiservers.json")),
        with_schema(ClusterVersion::crd(), include_str!("../schemas/clusterversions.json")),
        with_schema(FeatureGate::crd(), include_str!("../schemas/featuregates.json")),
        route_crd(),
    ];
    crds.into_iter().map(published_names).collect()
}

/// `crd` validated by `schema` (an openAPIV3Schema, JSON).
fn with_schema(mut crd: CustomResourceDefinition, schema: &str) -> CustomResourceDefinition {
    let schema: serde_json::Value = serde_json::from_str(schema).expect("a schema in JSON");
    for v in &mut crd.spec.versions {
        v.schema = serde_json::from_value(serde_json::json!({ "openAPIV3Schema": schema }))
            .expect("an openAPIV3Schema");
    }
    crd
}

/// The Route CRD, keeping what it does not model, with openshift/api's rule for
/// `spec.host` (a DNS-952 subdomain of at most 253 characters): a Route the route API
/// refuses is refused here too.
fn route_crd() -> CustomResourceDefinition {
    let mut crd = crate::route::Route::crd();
    let schema = serde_json::json!({
        "type": "object",
        "x-kubernetes-preserve-unknown-fields": true,
        "properties": {"spec": {
            "type": "object",
            "x-kubernetes-preserve-unknown-fields": true,
            "properties": {"host": {
                "type": "string",
                "maxLength": 253,
                "pattern": "^([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\\-]{0,61}[a-zA-Z0-9])(\\.([a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9\\-]{0,61}[a-zA-Z0-9]))*$"
            }}
        }}
    });
    for v in &mut crd.spec.versions {
        v.schema =
            serde_json::from_value(serde_json::json!({ "openAPIV3Schema": schema.clone() })).ok();
    }
    crd
}

/// What the derive leaves out of openshift/api's definitions: the list kind, and a status
/// subresource on every version (our APIServer type reads no status, the published CRD
/// serves one).
fn published_names(mut crd: CustomResourceDefinition) -> CustomResourceDefinition {
    use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::{
        CustomResourceSubresourceStatus, CustomResourceSubresources,
    };
    crd.spec.names.list_kind = Some(format!("{}List", crd.spec.names.kind));
    for v in &mut crd.spec.versions {
        let sub = v.subresources.get_or_insert_with(CustomResourceSubresources::default);
        sub.status.get_or_insert(CustomResourceSubresourceStatus(serde_json::json!({})));
    }
    crd
}
