//! Protobuf request bodies (`application/vnd.kubernetes.protobuf`), which kubectl's typed
//! commands send (`kubectl create secret|configmap|namespace|deployment|job|cronjob|service|
//! poddisruptionbudget|ingress|...`): the `k8s\0` envelope holding a `runtime.Unknown`,
//! whose `raw` is the object, decoded with kube-rs's `k8s-pb` types and turned into the JSON
//! object the JSON path would receive for the same object.
//!
//! Two facts make that JSON the same as Go's encoding of the object:
//! - field names: k8s-pb's are snake case; the kind's schema (k8s-openapi's) has the JSON
//!   names (`hostIPC`, `podIPs`), matched letter for letter with case and `_` ignored;
//! - zeros: Go's protobuf encoder writes every value field, zero or not, while its JSON
//!   encoder leaves out a zero `omitempty` value. [`zero::ZERO_IS_ABSENT`] lists those fields
//!   (from the Go struct tags); a zero in any other field (a pointer: `replicas: 0`,
//!   `runAsUser: 0`) is kept;
//! - inlining: JSON inlines some embedded structs (`json:",inline"`: a Volume's source, a
//!   key selector's `name`) that protobuf carries as a field; [`zero::INLINED`] lists them.
//!
//! Every message type behind the stored built-in kinds is listed in `messages.rs`, generated
//! from k8s-pb by `scripts/gen-protobuf-messages.py`; each is destructured field by field, so
//! a field the list lacks is a compile error. Custom resources are 415 (send JSON), as on a
//! real server.

use std::collections::{BTreeMap, HashMap};
use std::sync::LazyLock;

use base64::Engine as _;
use prost::Message;
use serde_json::{Map, Value};

use super::store::ApiError;
use super::types::ResourceType;

#[rustfmt::skip]
mod messages;
mod zero;

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
    let Some(object) = object(t, &raw) else {
        return Err(ApiError::new(
            415,
            "UnsupportedMediaType",
            format!(
                "this server decodes protobuf bodies of built-in kinds only; send the {} as JSON (kubectl apply -f)",
                t.kind
            ),
        ));
    };
    let mut obj = object.map_err(|e| {
        bad(format!("the {} in the request body is not valid protobuf: {e}", t.kind))
    })?;
    if let Some(schema) = super::builtin::shape_schema(&t.key()) {
        Shaper::new(&schema).walk(&schema, Some(&go_type(t)), &mut obj);
    }
    if let Value::Object(map) = &mut obj {
        for (k, v) in [("apiVersion", type_meta.api_version), ("kind", type_meta.kind)] {
            if let Some(v) = v.filter(|v| !v.is_empty()) {
                map.insert(k.into(), Value::String(v));
            }
        }
    }
    Ok(obj)
}

/// `raw` decoded as the message type of `t`; `None` for a type with none here.
fn object(t: &ResourceType, raw: &[u8]) -> Option<Result<Value, prost::DecodeError>> {
    use k8s_pb::api::{
        apps::v1 as apps, batch::v1 as batch, coordination::v1 as coordination, core::v1 as core,
        events::v1 as events, networking::v1 as networking, policy::v1 as policy, rbac::v1 as rbac,
    };
    Some(match (t.group.as_str(), t.plural.as_str()) {
        ("", "pods") => as_json::<core::Pod>(raw),
        ("", "services") => as_json::<core::Service>(raw),
        ("", "secrets") => as_json::<core::Secret>(raw),
        ("", "configmaps") => as_json::<core::ConfigMap>(raw),
        ("", "serviceaccounts") => as_json::<core::ServiceAccount>(raw),
        ("", "persistentvolumeclaims") => as_json::<core::PersistentVolumeClaim>(raw),
        ("", "namespaces") => as_json::<core::Namespace>(raw),
        ("", "events") => as_json::<core::Event>(raw),
        ("", "nodes") => as_json::<core::Node>(raw),
        ("", "endpoints") => as_json::<core::Endpoints>(raw),
        ("apps", "deployments") => as_json::<apps::Deployment>(raw),
        ("apps", "replicasets") => as_json::<apps::ReplicaSet>(raw),
        ("apps", "daemonsets") => as_json::<apps::DaemonSet>(raw),
        ("apps", "statefulsets") => as_json::<apps::StatefulSet>(raw),
        ("batch", "jobs") => as_json::<batch::Job>(raw),
        ("batch", "cronjobs") => as_json::<batch::CronJob>(raw),
        ("policy", "poddisruptionbudgets") => as_json::<policy::PodDisruptionBudget>(raw),
        ("networking.k8s.io", "networkpolicies") => as_json::<networking::NetworkPolicy>(raw),
        ("networking.k8s.io", "ingresses") => as_json::<networking::Ingress>(raw),
        ("networking.k8s.io", "ingressclasses") => as_json::<networking::IngressClass>(raw),
        ("rbac.authorization.k8s.io", "roles") => as_json::<rbac::Role>(raw),
        ("rbac.authorization.k8s.io", "rolebindings") => as_json::<rbac::RoleBinding>(raw),
        ("rbac.authorization.k8s.io", "clusterroles") => as_json::<rbac::ClusterRole>(raw),
        ("rbac.authorization.k8s.io", "clusterrolebindings") => {
            as_json::<rbac::ClusterRoleBinding>(raw)
        }
        ("coordination.k8s.io", "leases") => as_json::<coordination::Lease>(raw),
        ("events.k8s.io", "events") => as_json::<events::Event>(raw),
        ("apiextensions.k8s.io", "customresourcedefinitions") => as_json::<
            k8s_pb::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
        >(raw),
        _ => return None,
    })
}

fn as_json<M: Message + Default + ToJson>(raw: &[u8]) -> Result<Value, prost::DecodeError> {
    Ok(M::decode(raw)?.to_json().unwrap_or_else(|| Value::Object(Map::new())))
}

/// The OpenAPI name of the Go type behind `t` (`io.k8s.api.apps.v1.Deployment`).
fn go_type(t: &ResourceType) -> String {
    let package = match t.group.split('.').next() {
        Some("") | None => "core",
        Some(p) => p,
    };
    format!("io.k8s.api.{package}.{}.{}", t.version, t.kind)
}

/// A protobuf value as JSON; `None` for what Go's JSON leaves out (unset, empty list or map).
pub(crate) trait ToJson {
    fn to_json(self) -> Option<Value>;
}

impl ToJson for String {
    fn to_json(self) -> Option<Value> {
        Some(Value::String(self))
    }
}

impl ToJson for bool {
    fn to_json(self) -> Option<Value> {
        Some(Value::Bool(self))
    }
}

impl ToJson for i32 {
    fn to_json(self) -> Option<Value> {
        Some(Value::from(self))
    }
}

impl ToJson for i64 {
    fn to_json(self) -> Option<Value> {
        Some(Value::from(self))
    }
}

impl ToJson for f64 {
    fn to_json(self) -> Option<Value> {
        Some(Value::from(self))
    }
}

/// `bytes` are base64 in JSON, as Go's `[]byte`.
impl ToJson for Vec<u8> {
    fn to_json(self) -> Option<Value> {
        Some(Value::String(base64::engine::general_purpose::STANDARD.encode(self)))
    }
}

impl<T: ToJson> ToJson for Option<T> {
    fn to_json(self) -> Option<Value> {
        self.and_then(ToJson::to_json)
    }
}

impl<T: ToJson> ToJson for Box<T> {
    fn to_json(self) -> Option<Value> {
        (*self).to_json()
    }
}

impl<T: ToJson> ToJson for Vec<T> {
    fn to_json(self) -> Option<Value> {
        (!self.is_empty())
            .then(|| Value::Array(self.into_iter().filter_map(ToJson::to_json).collect()))
    }
}

impl<V: ToJson> ToJson for BTreeMap<String, V> {
    fn to_json(self) -> Option<Value> {
        (!self.is_empty()).then(|| {
            Value::Object(self.into_iter().filter_map(|(k, v)| Some((k, v.to_json()?))).collect())
        })
    }
}

/// Puts field `name` (a Rust field name, `r#type` or `host_ipc`) into `m` in camel case;
/// the schema walk settles acronyms (`hostIpc` to `hostIPC`).
pub(crate) fn field(m: &mut Map<String, Value>, name: &str, v: impl ToJson) {
    let Some(v) = v.to_json() else { return };
    let name = name.trim_start_matches("r#");
    let mut key = String::with_capacity(name.len());
    let mut upper = false;
    for c in name.chars() {
        if c == '_' {
            upper = true;
        } else if upper {
            key.extend(c.to_uppercase());
            upper = false;
        } else {
            key.push(c);
        }
    }
    m.insert(key, v);
}

/// `ToJson` for a k8s-pb message: an object of its set fields, every field named so that a
/// missing one does not compile.
macro_rules! message {
    ($($ty:ident)::+ { $($f:ident),* $(,)? }) => {
        impl $crate::apiserver::protobuf::ToJson for $($ty)::+ {
            fn to_json(self) -> Option<serde_json::Value> {
                let $($ty)::+ { $($f),* } = self;
                #[allow(unused_mut)]
                let mut m = serde_json::Map::new();
                $($crate::apiserver::protobuf::field(&mut m, stringify!($f), $f);)*
                Some(serde_json::Value::Object(m))
            }
        }
    };
}
use message;

mod special {
    //! The types whose JSON is not an object of their fields.
    use k8s_pb::apiextensions_apiserver::pkg::apis::apiextensions::v1 as ext;
    use k8s_pb::apimachinery::pkg::{api::resource, apis::meta::v1 as meta, util::intstr};
    use serde_json::{Map, Value};

    use super::ToJson;

    impl ToJson for resource::Quantity {
        fn to_json(self) -> Option<Value> {
            self.string.map(Value::String)
        }
    }

    impl ToJson for intstr::IntOrString {
        fn to_json(self) -> Option<Value> {
            Some(match self.r#type {
                Some(1) => Value::String(self.str_val.unwrap_or_default()),
                _ => Value::from(self.int_val.unwrap_or_default()),
            })
        }
    }

    /// A time as Go's `metav1.Time` writes it (RFC 3339, seconds); the zero time (an empty
    /// message) is absent.
    fn timestamp(seconds: Option<i64>, nanos: Option<i32>, format: &str) -> Option<Value> {
        if seconds.is_none() && nanos.is_none() {
            return None;
        }
        let t =
            jiff::Timestamp::new(seconds.unwrap_or_default(), nanos.unwrap_or_default()).ok()?;
        Some(Value::String(t.strftime(format).to_string()))
    }

    impl ToJson for meta::Time {
        fn to_json(self) -> Option<Value> {
            timestamp(self.seconds, None, "%Y-%m-%dT%H:%M:%SZ")
        }
    }

    impl ToJson for meta::MicroTime {
        fn to_json(self) -> Option<Value> {
            timestamp(self.seconds, self.nanos, "%Y-%m-%dT%H:%M:%S%.6fZ")
        }
    }

    /// A CRD schema: each field under its JSON name (`$ref`, `x-kubernetes-list-type`);
    /// the zeros of the value fields Go leaves out are left out (`type: ""`, `nullable:
    /// false`), those of its pointers kept (`x-kubernetes-preserve-unknown-fields: false`).
    impl ToJson for ext::JsonSchemaProps {
        fn to_json(self) -> Option<Value> {
            // Every field by name: one the list misses does not compile.
            #[rustfmt::skip]
            let ext::JsonSchemaProps {
                id, schema, r#ref, description, r#type, format, title, default, maximum,
                exclusive_maximum, minimum, exclusive_minimum, max_length, min_length, pattern,
                max_items, min_items, unique_items, multiple_of, r#enum, max_properties,
                min_properties, required, items, all_of, one_of, any_of, not, properties,
                additional_properties, pattern_properties, dependencies, additional_items,
                definitions, external_docs, example, nullable,
                x_kubernetes_preserve_unknown_fields, x_kubernetes_embedded_resource,
                x_kubernetes_int_or_string, x_kubernetes_list_map_keys, x_kubernetes_list_type,
                x_kubernetes_map_type, x_kubernetes_validations,
            } = self;
            let value = |v: Option<Value>| v.filter(|v| !super::is_zero(v));
            let fields = [
                ("id", value(id.to_json())),
                ("$schema", value(schema.to_json())),
                ("$ref", r#ref.to_json()),
                ("description", value(description.to_json())),
                ("type", value(r#type.to_json())),
                ("format", value(format.to_json())),
                ("title", value(title.to_json())),
                ("default", default.to_json()),
                ("maximum", maximum.to_json()),
                ("exclusiveMaximum", value(exclusive_maximum.to_json())),
                ("minimum", minimum.to_json()),
                ("exclusiveMinimum", value(exclusive_minimum.to_json())),
                ("maxLength", max_length.to_json()),
                ("minLength", min_length.to_json()),
                ("pattern", value(pattern.to_json())),
                ("maxItems", max_items.to_json()),
                ("minItems", min_items.to_json()),
                ("uniqueItems", value(unique_items.to_json())),
                ("multipleOf", multiple_of.to_json()),
                ("enum", r#enum.to_json()),
                ("maxProperties", max_properties.to_json()),
                ("minProperties", min_properties.to_json()),
                ("required", required.to_json()),
                ("items", items.to_json()),
                ("allOf", all_of.to_json()),
                ("oneOf", one_of.to_json()),
                ("anyOf", any_of.to_json()),
                ("not", not.to_json()),
                ("properties", properties.to_json()),
                ("additionalProperties", additional_properties.to_json()),
                ("patternProperties", pattern_properties.to_json()),
                ("dependencies", dependencies.to_json()),
                ("additionalItems", additional_items.to_json()),
                ("definitions", definitions.to_json()),
                ("externalDocs", external_docs.to_json()),
                ("example", example.to_json()),
                ("nullable", value(nullable.to_json())),
                (
                    "x-kubernetes-preserve-unknown-fields",
                    x_kubernetes_preserve_unknown_fields.to_json(),
                ),
                ("x-kubernetes-embedded-resource", value(x_kubernetes_embedded_resource.to_json())),
                ("x-kubernetes-int-or-string", value(x_kubernetes_int_or_string.to_json())),
                ("x-kubernetes-list-map-keys", x_kubernetes_list_map_keys.to_json()),
                ("x-kubernetes-list-type", x_kubernetes_list_type.to_json()),
                ("x-kubernetes-map-type", x_kubernetes_map_type.to_json()),
                ("x-kubernetes-validations", x_kubernetes_validations.to_json()),
            ];
            let m: Map<String, Value> =
                fields.into_iter().filter_map(|(k, v)| Some((k.to_string(), v?))).collect();
            Some(Value::Object(m))
        }
    }

    /// `default`, `example` and `enum` items: the JSON they carry.
    impl ToJson for ext::Json {
        fn to_json(self) -> Option<Value> {
            serde_json::from_slice(&self.raw?).ok()
        }
    }

    /// `items`: a list of schemas if it has several, else the one.
    impl ToJson for ext::JsonSchemaPropsOrArray {
        fn to_json(self) -> Option<Value> {
            self.j_son_schemas.to_json().or_else(|| self.schema.to_json())
        }
    }

    /// `additionalProperties`: a schema, or whether any is allowed.
    impl ToJson for ext::JsonSchemaPropsOrBool {
        fn to_json(self) -> Option<Value> {
            self.schema.to_json().or(Some(Value::Bool(self.allows.unwrap_or_default())))
        }
    }

    /// `dependencies` values: the property names, or a schema.
    impl ToJson for ext::JsonSchemaPropsOrStringArray {
        fn to_json(self) -> Option<Value> {
            self.property.to_json().or_else(|| self.schema.to_json())
        }
    }

    /// `managedFields[].fieldsV1`: the JSON document it carries.
    impl ToJson for meta::FieldsV1 {
        fn to_json(self) -> Option<Value> {
            serde_json::from_slice(&self.raw?).ok()
        }
    }
}

/// Renames fields to the schema's JSON names and drops the zeros Go's JSON leaves out.
struct Shaper<'a> {
    defs: &'a Map<String, Value>,
}

/// [`zero::ZERO_IS_ABSENT`] by type name.
static ZERO: LazyLock<HashMap<&'static str, &'static [&'static str]>> =
    LazyLock::new(|| zero::ZERO_IS_ABSENT.iter().copied().collect());

/// [`zero::INLINED`] by type name.
static INLINED: LazyLock<HashMap<&'static str, &'static [&'static str]>> =
    LazyLock::new(|| zero::INLINED.iter().copied().collect());

/// Moves the fields of each inlined message (`volumeSource`) up into `map`, as JSON has them.
fn lift(map: &mut Map<String, Value>, inlined: &[&str]) {
    for field in inlined {
        let want = loose(field);
        let Some(key) = map.keys().find(|k| loose(k) == want).cloned() else { continue };
        if let Some(Value::Object(inner)) = map.remove(&key) {
            map.extend(inner);
        }
    }
}

/// A name with case and anything but letters and digits ignored.
fn loose(name: &str) -> String {
    name.chars().filter(char::is_ascii_alphanumeric).map(|c| c.to_ascii_lowercase()).collect()
}

fn is_zero(v: &Value) -> bool {
    match v {
        Value::String(s) => s.is_empty(),
        Value::Bool(b) => !b,
        Value::Number(n) => n.as_f64() == Some(0.0),
        _ => false,
    }
}

impl<'a> Shaper<'a> {
    fn new(root: &'a Value) -> Self {
        static EMPTY: LazyLock<Map<String, Value>> = LazyLock::new(Map::new);
        Shaper { defs: root.get("$defs").and_then(Value::as_object).unwrap_or(&EMPTY) }
    }

    fn walk(&self, schema: &Value, name: Option<&str>, v: &mut Value) {
        let (s, name) = match schema.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let n = r.rsplit('/').next().unwrap_or(r);
                (self.defs.get(n).unwrap_or(schema), Some(n))
            }
            None => (schema, name),
        };
        match v {
            Value::Array(items) => {
                if let Some(item) = s.get("items") {
                    items.iter_mut().for_each(|i| self.walk(item, None, i));
                }
            }
            Value::Object(map) => {
                if let Some(props) = s.get("properties").and_then(Value::as_object) {
                    if let Some(fields) = name.and_then(|n| INLINED.get(n)) {
                        lift(map, fields);
                    }
                    rename(map, props);
                    if let Some(zeros) = name.and_then(|n| ZERO.get(n)) {
                        map.retain(|k, v| !(zeros.contains(&k.as_str()) && is_zero(v)));
                    }
                    for (k, child) in map.iter_mut() {
                        if let Some(cs) = props.get(k) {
                            self.walk(cs, None, child);
                        }
                    }
                } else if let Some(extra) = s.get("additionalProperties").filter(|a| a.is_object())
                {
                    map.values_mut().for_each(|c| self.walk(extra, None, c));
                }
            }
            _ => {}
        }
    }
}

/// Gives each key of `map` the spelling of the property it matches (`hostIpc`: `hostIPC`).
fn rename(map: &mut Map<String, Value>, props: &Map<String, Value>) {
    let misspelt: Vec<String> = map.keys().filter(|k| !props.contains_key(*k)).cloned().collect();
    for k in misspelt {
        let want = loose(&k);
        if let Some(p) = props.keys().find(|p| loose(p) == want)
            && let Some(v) = map.remove(&k)
        {
            map.insert(p.clone(), v);
        }
    }
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
    use k8s_pb::api::core::v1 as core;
    use k8s_pb::apimachinery::pkg::apis::meta::v1 as meta;
    use serde_json::json;

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

    fn builtin(plural: &str) -> ResourceType {
        super::super::types::builtins().into_iter().find(|t| t.plural == plural).unwrap()
    }

    #[test]
    fn a_deployment_keeps_meaningful_zeros_and_drops_go_omitted_ones() {
        use k8s_pb::api::apps::v1 as apps;
        let pod = core::PodSpec {
            containers: vec![core::Container {
                name: Some("registry".into()),
                image: Some("registry.example/r:1".into()),
                working_dir: Some(String::new()),
                tty: Some(false),
                ports: vec![core::ContainerPort {
                    container_port: Some(5000),
                    host_port: Some(0),
                    protocol: Some("TCP".into()),
                    ..Default::default()
                }],
                ..Default::default()
            }],
            host_network: Some(false),
            host_ipc: Some(true),
            automount_service_account_token: Some(false),
            ..Default::default()
        };
        let d = apps::Deployment {
            metadata: Some(meta::ObjectMeta {
                name: Some("r".into()),
                creation_timestamp: Some(meta::Time::default()),
                generation: Some(0),
                ..Default::default()
            }),
            spec: Some(apps::DeploymentSpec {
                replicas: Some(0),
                min_ready_seconds: Some(0),
                paused: Some(false),
                template: Some(core::PodTemplateSpec {
                    metadata: Some(meta::ObjectMeta::default()),
                    spec: Some(pod),
                }),
                strategy: Some(apps::DeploymentStrategy::default()),
                ..Default::default()
            }),
            status: Some(apps::DeploymentStatus::default()),
        };
        let body = envelope("apps/v1", "Deployment", d.encode_to_vec());
        assert_eq!(
            decode(&builtin("deployments"), &body).unwrap(),
            json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "r"},
                "spec": {"replicas": 0, "strategy": {}, "template": {"metadata": {},
                    "spec": {"hostIPC": true, "automountServiceAccountToken": false,
                        "containers": [{"name": "registry", "image": "registry.example/r:1",
                            "ports": [{"containerPort": 5000, "protocol": "TCP"}]}]}}},
                "status": {}})
        );
    }

    #[test]
    fn inlined_structs_are_lifted_into_their_parent() {
        let pod = core::Pod {
            metadata: Some(meta::ObjectMeta { name: Some("p".into()), ..Default::default() }),
            spec: Some(core::PodSpec {
                volumes: vec![core::Volume {
                    name: Some("ca".into()),
                    volume_source: Some(core::VolumeSource {
                        config_map: Some(core::ConfigMapVolumeSource {
                            local_object_reference: Some(core::LocalObjectReference {
                                name: Some("image-registry-certificates".into()),
                            }),
                            default_mode: Some(420),
                            ..Default::default()
                        }),
                        ..Default::default()
                    }),
                }],
                containers: vec![core::Container {
                    name: Some("c".into()),
                    env: vec![core::EnvVar {
                        name: Some("KEY".into()),
                        value: Some(String::new()),
                        value_from: Some(core::EnvVarSource {
                            secret_key_ref: Some(core::SecretKeySelector {
                                local_object_reference: Some(core::LocalObjectReference {
                                    name: Some("s".into()),
                                }),
                                key: Some("k".into()),
                                optional: Some(false),
                            }),
                            ..Default::default()
                        }),
                    }],
                    readiness_probe: Some(core::Probe {
                        handler: Some(core::ProbeHandler {
                            http_get: Some(core::HttpGetAction {
                                path: Some("/healthz".into()),
                                host: Some(String::new()),
                                ..Default::default()
                            }),
                            ..Default::default()
                        }),
                        timeout_seconds: Some(5),
                        period_seconds: Some(0),
                        ..Default::default()
                    }),
                    ..Default::default()
                }],
                ..Default::default()
            }),
            status: None,
        };
        let body = envelope("v1", "Pod", pod.encode_to_vec());
        let got = decode(&builtin("pods"), &body).unwrap();
        assert_eq!(
            got["spec"]["volumes"][0],
            json!({"name": "ca", "configMap": {"name": "image-registry-certificates", "defaultMode": 420}})
        );
        let c = &got["spec"]["containers"][0];
        assert_eq!(
            c["env"][0],
            json!({"name": "KEY", "valueFrom": {"secretKeyRef": {"name": "s", "key": "k", "optional": false}}})
        );
        assert_eq!(
            c["readinessProbe"],
            json!({"httpGet": {"path": "/healthz"}, "timeoutSeconds": 5})
        );
    }

    #[test]
    fn times_and_int_or_strings_read_as_go_writes_them() {
        use k8s_pb::api::policy::v1 as policy;
        use k8s_pb::apimachinery::pkg::util::intstr::IntOrString;
        let pdb = policy::PodDisruptionBudget {
            metadata: Some(meta::ObjectMeta {
                name: Some("p".into()),
                deletion_timestamp: Some(meta::Time { seconds: Some(1_700_000_000), nanos: None }),
                ..Default::default()
            }),
            spec: Some(policy::PodDisruptionBudgetSpec {
                min_available: Some(IntOrString {
                    r#type: Some(1),
                    int_val: Some(0),
                    str_val: Some("50%".into()),
                }),
                max_unavailable: Some(IntOrString {
                    r#type: Some(0),
                    int_val: Some(0),
                    str_val: None,
                }),
                ..Default::default()
            }),
            status: None,
        };
        let body = envelope("policy/v1", "PodDisruptionBudget", pdb.encode_to_vec());
        let got = decode(&builtin("poddisruptionbudgets"), &body).unwrap();
        assert_eq!(got["metadata"]["deletionTimestamp"], "2023-11-14T22:13:20Z");
        assert_eq!(got["spec"], json!({"minAvailable": "50%", "maxUnavailable": 0}));
    }

    /// The loose match of field names is safe only if no type has two fields that match.
    #[test]
    fn no_schema_has_two_fields_alike() {
        let mut checked = 0;
        for t in super::super::types::builtins() {
            let Some(schema) = super::super::builtin::shape_schema(&t.key()) else { continue };
            let defs = schema["$defs"].as_object().cloned().unwrap_or_default();
            for (name, def) in defs.iter().chain([(&t.kind, &*schema)]) {
                let Some(props) = def["properties"].as_object() else { continue };
                let mut seen = std::collections::HashSet::new();
                for p in props.keys() {
                    assert!(seen.insert(loose(p)), "{name}: {p} matches another field");
                }
                checked += 1;
            }
        }
        assert!(checked > 200, "the types behind every built-in kind: {checked}");
    }

    #[test]
    fn bad_bodies_are_400_and_other_kinds_415() {
        let t = secrets();
        assert_eq!(decode(&t, b"{}").unwrap_err().code, 400, "no envelope");
        assert_eq!(decode(&t, b"k8s\0\xff\xff\xff").unwrap_err().code, 400, "garbage");
        let truncated = &envelope("v1", "Secret", vec![0x0a, 0x05, 0x0a])[..];
        assert_eq!(decode(&t, truncated).unwrap_err().code, 400, "a truncated object");
        // A custom resource is 415, as on a real server (CRs have no protobuf form).
        let things = ResourceType::from_crd(&json!({"metadata": {"name": "things.example.com"},
            "spec": {"group": "example.com", "scope": "Cluster",
                "names": {"plural": "things", "kind": "Thing"},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object"}}}]}}))
        .unwrap();
        let body = envelope("example.com/v1", "Thing", vec![]);
        assert_eq!(decode(&things, &body).unwrap_err().code, 415);
        assert!(is_protobuf("application/vnd.kubernetes.protobuf"));
        assert!(!is_protobuf("application/json"));
    }
}
