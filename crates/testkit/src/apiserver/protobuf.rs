//! Protobuf request bodies (`application/vnd.kubernetes.protobuf`), which kubectl's typed
//! commands send (`kubectl create secret|configmap|namespace|serviceaccount|role|
//! clusterrole|rolebinding|clusterrolebinding`): the `k8s\0`
//! envelope holding a `runtime.Unknown`, whose `raw` is the object, decoded with kube-rs's
//! `k8s-pb` types and turned into the JSON object the JSON path would receive. The kinds
//! those commands create are decoded; another kind is a 415 that says to send JSON.

use base64::Engine as _;
use k8s_pb::api::core::v1 as core;
use k8s_pb::api::rbac::v1 as rbac;
use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
use prost::Message as _;
use serde_json::{Map, Value, json};

use super::store::ApiError;
use super::types::ResourceType;

const RBAC: &str = "rbac.authorization.k8s.io";

/// The media type of Kubernetes protobuf.
pub const MEDIA_TYPE: &str = "application/vnd.kubernetes.protobuf";

/// The envelope's magic prefix.
const MAGIC: &[u8] = b"k8s\0";

/// Whether a request's Content-Type is protobuf.
pub fn is_protobuf(content_type: &str) -> bool {
    content_type.split(';').next().is_some_and(|m| m.trim() == MEDIA_TYPE)
}

fn bad(message: impl Into<String>) -> ApiError {
    ApiError::bad_request(message)
}

/// The JSON object a protobuf body of type `t` holds.
pub fn decode(t: &ResourceType, body: &[u8]) -> Result<Value, ApiError> {
    let rest = body.strip_prefix(MAGIC).ok_or_else(|| {
        bad("the request body is not a Kubernetes protobuf message: no k8s\\0 prefix")
    })?;
    let unknown = k8s_pb::apimachinery::pkg::runtime::Unknown::decode(rest)
        .map_err(|e| bad(format!("the request body is not a valid protobuf envelope: {e}")))?;
    let type_meta = unknown.type_meta.unwrap_or_default();
    let raw = unknown.raw.unwrap_or_default();
    let invalid = |e: prost::DecodeError| {
        bad(format!("the {} in the request body is not valid protobuf: {e}", t.kind))
    };
    let mut obj = match (t.group.as_str(), t.plural.as_str()) {
        ("", "secrets") => secret(core::Secret::decode(raw.as_slice()).map_err(invalid)?),
        ("", "configmaps") => config_map(core::ConfigMap::decode(raw.as_slice()).map_err(invalid)?),
        ("", "namespaces") => namespace(core::Namespace::decode(raw.as_slice()).map_err(invalid)?),
        ("", "serviceaccounts") => {
            service_account(core::ServiceAccount::decode(raw.as_slice()).map_err(invalid)?)
        }
        (RBAC, "roles") => {
            let r = rbac::Role::decode(raw.as_slice()).map_err(invalid)?;
            role(r.metadata, r.rules, None)
        }
        (RBAC, "clusterroles") => {
            let r = rbac::ClusterRole::decode(raw.as_slice()).map_err(invalid)?;
            role(r.metadata, r.rules, r.aggregation_rule)
        }
        (RBAC, "rolebindings") => {
            let b = rbac::RoleBinding::decode(raw.as_slice()).map_err(invalid)?;
            binding(b.metadata, b.subjects, b.role_ref)
        }
        (RBAC, "clusterrolebindings") => {
            let b = rbac::ClusterRoleBinding::decode(raw.as_slice()).map_err(invalid)?;
            binding(b.metadata, b.subjects, b.role_ref)
        }
        _ => {
            return Err(ApiError::new(
                415,
                "UnsupportedMediaType",
                format!(
                    "this server decodes protobuf bodies of Secrets, ConfigMaps, Namespaces, ServiceAccounts and RBAC objects only; send the {} as JSON (kubectl apply -f)",
                    t.kind
                ),
            ));
        }
    };
    for (k, v) in [("apiVersion", type_meta.api_version), ("kind", type_meta.kind)] {
        if let Some(v) = v.filter(|v| !v.is_empty()) {
            obj.insert(k.into(), json!(v));
        }
    }
    Ok(Value::Object(obj))
}

/// Puts `v` under `k` when it is set (protobuf's unset is JSON's absent).
fn put(m: &mut Map<String, Value>, k: &str, v: Option<Value>) {
    if let Some(v) = v {
        m.insert(k.into(), v);
    }
}

fn non_empty<T: serde::Serialize>(v: &T, empty: bool) -> Option<Value> {
    (!empty).then(|| json!(v))
}

fn base64_map(m: &std::collections::BTreeMap<String, Vec<u8>>) -> Value {
    let b64 = base64::engine::general_purpose::STANDARD;
    Value::Object(m.iter().map(|(k, v)| (k.clone(), json!(b64.encode(v)))).collect())
}

fn object_meta(m: Option<meta::ObjectMeta>) -> Value {
    let m = m.unwrap_or_default();
    let mut out = Map::new();
    put(&mut out, "name", m.name.map(Value::from));
    put(&mut out, "generateName", m.generate_name.map(Value::from));
    put(&mut out, "namespace", m.namespace.map(Value::from));
    put(&mut out, "uid", m.uid.map(Value::from));
    put(&mut out, "resourceVersion", m.resource_version.map(Value::from));
    put(&mut out, "labels", non_empty(&m.labels, m.labels.is_empty()));
    put(&mut out, "annotations", non_empty(&m.annotations, m.annotations.is_empty()));
    put(&mut out, "finalizers", non_empty(&m.finalizers, m.finalizers.is_empty()));
    let owners: Vec<Value> = m
        .owner_references
        .into_iter()
        .map(|o| {
            let mut r = Map::new();
            put(&mut r, "apiVersion", o.api_version.map(Value::from));
            put(&mut r, "kind", o.kind.map(Value::from));
            put(&mut r, "name", o.name.map(Value::from));
            put(&mut r, "uid", o.uid.map(Value::from));
            put(&mut r, "controller", o.controller.map(Value::from));
            put(&mut r, "blockOwnerDeletion", o.block_owner_deletion.map(Value::from));
            Value::Object(r)
        })
        .collect();
    put(&mut out, "ownerReferences", (!owners.is_empty()).then_some(Value::Array(owners)));
    Value::Object(out)
}

fn secret(s: core::Secret) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("metadata".into(), object_meta(s.metadata));
    put(&mut out, "immutable", s.immutable.map(Value::from));
    put(&mut out, "data", (!s.data.is_empty()).then(|| base64_map(&s.data)));
    put(&mut out, "stringData", non_empty(&s.string_data, s.string_data.is_empty()));
    put(&mut out, "type", s.r#type.map(Value::from));
    out
}

fn config_map(c: core::ConfigMap) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("metadata".into(), object_meta(c.metadata));
    put(&mut out, "immutable", c.immutable.map(Value::from));
    put(&mut out, "data", non_empty(&c.data, c.data.is_empty()));
    put(&mut out, "binaryData", (!c.binary_data.is_empty()).then(|| base64_map(&c.binary_data)));
    out
}

fn namespace(n: core::Namespace) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("metadata".into(), object_meta(n.metadata));
    if let Some(spec) = n.spec.filter(|s| !s.finalizers.is_empty()) {
        out.insert("spec".into(), json!({"finalizers": spec.finalizers}));
    }
    out
}

fn service_account(a: core::ServiceAccount) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("metadata".into(), object_meta(a.metadata));
    let secrets: Vec<Value> = a
        .secrets
        .into_iter()
        .map(|r| {
            let mut m = Map::new();
            put(&mut m, "kind", r.kind.map(Value::from));
            put(&mut m, "namespace", r.namespace.map(Value::from));
            put(&mut m, "name", r.name.map(Value::from));
            put(&mut m, "uid", r.uid.map(Value::from));
            put(&mut m, "apiVersion", r.api_version.map(Value::from));
            put(&mut m, "resourceVersion", r.resource_version.map(Value::from));
            put(&mut m, "fieldPath", r.field_path.map(Value::from));
            Value::Object(m)
        })
        .collect();
    put(&mut out, "secrets", (!secrets.is_empty()).then_some(Value::Array(secrets)));
    let pulls: Vec<Value> = a
        .image_pull_secrets
        .into_iter()
        .map(|r| json!({"name": r.name.unwrap_or_default()}))
        .collect();
    put(&mut out, "imagePullSecrets", (!pulls.is_empty()).then_some(Value::Array(pulls)));
    put(
        &mut out,
        "automountServiceAccountToken",
        a.automount_service_account_token.map(Value::from),
    );
    out
}

fn strings(v: Vec<String>) -> Option<Value> {
    (!v.is_empty()).then(|| json!(v))
}

fn role(
    metadata: Option<meta::ObjectMeta>,
    rules: Vec<rbac::PolicyRule>,
    aggregation: Option<rbac::AggregationRule>,
) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("metadata".into(), object_meta(metadata));
    let rules: Vec<Value> = rules
        .into_iter()
        .map(|r| {
            let mut m = Map::new();
            put(&mut m, "verbs", Some(json!(r.verbs)));
            put(&mut m, "apiGroups", strings(r.api_groups));
            put(&mut m, "resources", strings(r.resources));
            put(&mut m, "resourceNames", strings(r.resource_names));
            put(&mut m, "nonResourceURLs", strings(r.non_resource_ur_ls));
            Value::Object(m)
        })
        .collect();
    // Go writes `rules: null` for none; the JSON path stores it as absent too.
    put(&mut out, "rules", (!rules.is_empty()).then_some(Value::Array(rules)));
    if let Some(a) = aggregation {
        let selectors: Vec<Value> =
            a.cluster_role_selectors.into_iter().map(label_selector).collect();
        out.insert("aggregationRule".into(), json!({"clusterRoleSelectors": selectors}));
    }
    out
}

fn label_selector(s: meta::LabelSelector) -> Value {
    let mut m = Map::new();
    put(&mut m, "matchLabels", non_empty(&s.match_labels, s.match_labels.is_empty()));
    let exprs: Vec<Value> = s
        .match_expressions
        .into_iter()
        .map(|e| {
            let mut x = Map::new();
            put(&mut x, "key", e.key.map(Value::from));
            put(&mut x, "operator", e.operator.map(Value::from));
            put(&mut x, "values", strings(e.values));
            Value::Object(x)
        })
        .collect();
    put(&mut m, "matchExpressions", (!exprs.is_empty()).then_some(Value::Array(exprs)));
    Value::Object(m)
}

fn binding(
    metadata: Option<meta::ObjectMeta>,
    subjects: Vec<rbac::Subject>,
    role_ref: Option<rbac::RoleRef>,
) -> Map<String, Value> {
    let mut out = Map::new();
    out.insert("metadata".into(), object_meta(metadata));
    let subjects: Vec<Value> = subjects
        .into_iter()
        .map(|s| {
            let mut m = Map::new();
            put(&mut m, "kind", s.kind.map(Value::from));
            put(&mut m, "apiGroup", s.api_group.filter(|g| !g.is_empty()).map(Value::from));
            put(&mut m, "name", s.name.map(Value::from));
            put(&mut m, "namespace", s.namespace.filter(|n| !n.is_empty()).map(Value::from));
            Value::Object(m)
        })
        .collect();
    put(&mut out, "subjects", (!subjects.is_empty()).then_some(Value::Array(subjects)));
    let r = role_ref.unwrap_or_default();
    out.insert(
        "roleRef".into(),
        json!({"apiGroup": r.api_group.unwrap_or_default(), "kind": r.kind.unwrap_or_default(),
            "name": r.name.unwrap_or_default()}),
    );
    out
}

/// A body as kubectl sends one: the envelope around `raw` (for tests and the benchmark).
pub fn envelope(api_version: &str, kind: &str, raw: Vec<u8>) -> Vec<u8> {
    let unknown = k8s_pb::apimachinery::pkg::runtime::Unknown {
        type_meta: Some(k8s_pb::apimachinery::pkg::runtime::TypeMeta {
            api_version: Some(api_version.into()),
            kind: Some(kind.into()),
        }),
        raw: Some(raw),
        content_encoding: Some(String::new()),
        content_type: Some(String::new()),
    };
    [MAGIC.to_vec(), unknown.encode_to_vec()].concat()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn secrets() -> ResourceType {
        super::super::types::builtins().into_iter().find(|t| t.plural == "secrets").unwrap()
    }

    #[test]
    fn a_secret_decodes_to_the_json_object() {
        let s = core::Secret {
            metadata: Some(meta::ObjectMeta {
                name: Some("image-registry-private-configuration-user".into()),
                namespace: Some("openshift-image-registry".into()),
                labels: [("a".to_string(), "b".to_string())].into(),
                ..Default::default()
            }),
            data: [("REGISTRY_STORAGE_S3_ACCESSKEY".to_string(), b"key".to_vec())].into(),
            r#type: Some("Opaque".into()),
            ..Default::default()
        };
        let body = envelope("v1", "Secret", s.encode_to_vec());
        assert_eq!(
            decode(&secrets(), &body).unwrap(),
            json!({"apiVersion": "v1", "kind": "Secret", "type": "Opaque",
                "metadata": {"name": "image-registry-private-configuration-user",
                    "namespace": "openshift-image-registry", "labels": {"a": "b"}},
                "data": {"REGISTRY_STORAGE_S3_ACCESSKEY": "a2V5"}})
        );
    }

    #[test]
    fn bad_bodies_are_400_and_other_kinds_415() {
        let t = secrets();
        assert_eq!(decode(&t, b"{}").unwrap_err().code, 400, "no envelope");
        assert_eq!(decode(&t, b"k8s\0\xff\xff\xff").unwrap_err().code, 400, "garbage");
        let truncated = &envelope("v1", "Secret", vec![0x0a, 0x05, 0x0a])[..];
        assert_eq!(decode(&t, truncated).unwrap_err().code, 400, "a truncated object");
        let deployments = super::super::types::builtins()
            .into_iter()
            .find(|t| t.plural == "deployments")
            .unwrap();
        assert_eq!(
            decode(&deployments, &envelope("apps/v1", "Deployment", vec![])).unwrap_err().code,
            415
        );
        assert!(is_protobuf("application/vnd.kubernetes.protobuf"));
        assert!(!is_protobuf("application/json"));
    }
}
