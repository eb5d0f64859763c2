//! Admission of built-in objects as kube-apiserver does it: decoding (type errors are 400
//! BadRequest, unknown fields dropped or, with `fieldValidation=Strict`, refused),
//! defaults, validation (422 Invalid with one cause per problem) and, on update, the
//! fields that may not change.

pub(crate) mod decode;
pub mod defaults;
mod kinds;
pub mod networking;
mod pod;
pub mod pod_security;
pub mod quantity;
pub mod rules;

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use serde_json::{Value, json};

use super::store::ApiError;
use super::types::ResourceType;
pub use kinds::cron;

/// How unknown fields are answered (`fieldValidation`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum FieldValidation {
    Ignore,
    /// The server's default: drop them, with a warning.
    #[default]
    Warn,
    Strict,
}

impl FieldValidation {
    pub fn from_query(v: Option<&str>) -> Self {
        match v {
            Some("Ignore") => FieldValidation::Ignore,
            Some("Strict") => FieldValidation::Strict,
            _ => FieldValidation::Warn,
        }
    }
}

fn schema_of<T: schemars::JsonSchema>() -> Value {
    serde_json::to_value(schemars::schema_for!(T)).expect("schemas serialize")
}

fn generate(key: &str) -> Option<Value> {
    use k8s_openapi::api::{
        apps::v1 as apps, batch::v1 as batch, coordination::v1 as coordination, core::v1 as core,
        networking::v1 as networking, policy::v1 as policy, rbac::v1 as rbac,
    };
    Some(match key {
        "/pods" => schema_of::<core::Pod>(),
        "/services" => schema_of::<core::Service>(),
        "/secrets" => schema_of::<core::Secret>(),
        "/configmaps" => schema_of::<core::ConfigMap>(),
        "/serviceaccounts" => schema_of::<core::ServiceAccount>(),
        "/persistentvolumeclaims" => schema_of::<core::PersistentVolumeClaim>(),
        "/namespaces" => schema_of::<core::Namespace>(),
        "/events" => schema_of::<core::Event>(),
        "/nodes" => schema_of::<core::Node>(),
        "apps/deployments" => schema_of::<apps::Deployment>(),
        "apps/replicasets" => schema_of::<apps::ReplicaSet>(),
        "apps/daemonsets" => schema_of::<apps::DaemonSet>(),
        "batch/cronjobs" => schema_of::<batch::CronJob>(),
        "batch/jobs" => schema_of::<batch::Job>(),
        "policy/poddisruptionbudgets" => schema_of::<policy::PodDisruptionBudget>(),
        "networking.k8s.io/networkpolicies" => schema_of::<networking::NetworkPolicy>(),
        "networking.k8s.io/ingresses" => schema_of::<networking::Ingress>(),
        "networking.k8s.io/ingressclasses" => schema_of::<networking::IngressClass>(),
        "rbac.authorization.k8s.io/roles" => schema_of::<rbac::Role>(),
        "rbac.authorization.k8s.io/rolebindings" => schema_of::<rbac::RoleBinding>(),
        "rbac.authorization.k8s.io/clusterroles" => schema_of::<rbac::ClusterRole>(),
        "rbac.authorization.k8s.io/clusterrolebindings" => schema_of::<rbac::ClusterRoleBinding>(),
        "coordination.k8s.io/leases" => schema_of::<coordination::Lease>(),
        // Stored without admission here; their schemas shape protobuf bodies only.
        "/endpoints" => schema_of::<core::Endpoints>(),
        "apps/statefulsets" => schema_of::<apps::StatefulSet>(),
        "events.k8s.io/events" => schema_of::<k8s_openapi::api::events::v1::Event>(),
        "apiextensions.k8s.io/customresourcedefinitions" => schema_of::<
            k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition,
        >(),
        _ => return None,
    })
}

/// The schema of a built-in type, generated once per process.
fn schema(key: &str) -> Option<Arc<Value>> {
    static CACHE: LazyLock<Mutex<HashMap<String, Option<Arc<Value>>>>> =
        LazyLock::new(Default::default);
    let mut cache = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    cache.entry(key.to_string()).or_insert_with(|| generate(key).map(Arc::new)).clone()
}

/// The built-in kinds stored as sent: decoding, defaults and validation are not modelled.
const NOT_ADMITTED: &[&str] = &[
    "/endpoints",
    "apps/statefulsets",
    "events.k8s.io/events",
    // Defaulted by `defaults::custom_resource_definition`; their schemas are checked when
    // the kind is registered.
    "apiextensions.k8s.io/customresourcedefinitions",
];

/// Whether objects of `t` are admitted here (built-in types with a known shape).
pub fn handles(t: &ResourceType) -> bool {
    let key = t.key();
    t.schema.is_none() && !NOT_ADMITTED.contains(&key.as_str()) && schema(&key).is_some()
}

/// The schema of a built-in kind (admitted here or not), by [`ResourceType::key`].
pub(crate) fn shape_schema(key: &str) -> Option<Arc<Value>> {
    schema(key)
}

/// Decodes, defaults and validates `obj` (a create when `old` is `None`). Returns the
/// warnings to send (unknown fields under `Warn`).
pub fn admit(
    t: &ResourceType,
    obj: &mut Value,
    old: Option<&Value>,
    validation: FieldValidation,
) -> Result<Vec<String>, ApiError> {
    let key = t.key();
    let Some(root) = schema(&key) else { return Ok(Vec::new()) };
    let mut decoder = decode::Decoder::new(&root);
    decoder.walk(&root, obj, "").map_err(|e| {
        ApiError::bad_request(format!(
            "{} in version \"{}\" cannot be handled as a {}: {e}",
            t.kind, t.version, t.kind
        ))
    })?;
    let unknown: Vec<String> =
        decoder.unknown.iter().map(|f| format!("unknown field \"{f}\"")).collect();
    if validation == FieldValidation::Strict && !unknown.is_empty() {
        return Err(ApiError::bad_request(format!(
            "strict decoding error: {}",
            unknown.join(", ")
        )));
    }
    if let Some(old) = old {
        keep_allocated(&key, obj, old);
    }
    defaults::apply(&key, obj, old.is_none());
    if key == "apps/daemonsets" {
        template_generation(obj, old);
    }
    let name = obj.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string();
    let mut causes = Vec::new();
    // ValidateIngressClassUpdate checks the immutable controller before the rest.
    let update_first = key == "networking.k8s.io/ingressclasses";
    if let Some(old) = old.filter(|_| update_first) {
        kinds::update(&key, obj, old, &mut causes);
    }
    kinds::meta(&key, obj, &mut causes);
    kinds::validate(&key, obj, &mut causes);
    let mut warnings = if validation == FieldValidation::Warn { unknown } else { Vec::new() };
    if key == "networking.k8s.io/ingresses" {
        networking::ingress(obj, old.is_none(), &mut causes);
        if old.is_none() {
            warnings.extend(networking::ingress_warnings(obj));
        }
    }
    if let Some(old) = old.filter(|_| !update_first) {
        kinds::update(&key, obj, old, &mut causes);
    }
    if !causes.is_empty() {
        return Err(ApiError::invalid(t, &name, causes));
    }
    Ok(warnings)
}

/// What the server allocated and an update that leaves it out keeps (a Service's cluster
/// IPs, as the Service registry's `patchAllocatedValues` does).
fn keep_allocated(key: &str, obj: &mut Value, old: &Value) {
    if key != "/services" {
        return;
    }
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else { return };
    let external = spec.get("type").is_some_and(|t| t == "ExternalName");
    if external {
        return;
    }
    // normalizeClusterIPs and patchAllocatedValues: a client that leaves the cluster IP
    // out keeps it; one that changes it gets its own list, which validation then refuses.
    let empty = |v: Option<&Value>| {
        v.is_none_or(|v| v.is_null() || v == "" || v.as_array().is_some_and(Vec::is_empty))
    };
    if empty(spec.get("clusterIP"))
        && let Some(ip) = old.pointer("/spec/clusterIP")
    {
        spec.insert("clusterIP".into(), ip.clone());
    }
    let same_ip = spec.get("clusterIP") == old.pointer("/spec/clusterIP");
    for k in ["clusterIPs", "ipFamilies", "ipFamilyPolicy"] {
        if (same_ip || k != "clusterIPs")
            && empty(spec.get(k))
            && let Some(v) = old.pointer(&format!("/spec/{k}"))
        {
            spec.insert(k.into(), v.clone());
        }
    }
}

/// A DaemonSet's `deprecated.daemonset.template.generation`: 1 at creation, one more each
/// time the template changes.
fn template_generation(obj: &mut Value, old: Option<&Value>) {
    const ANNOTATION: &str = "deprecated.daemonset.template.generation";
    let generation = match old {
        None => 1,
        Some(old) => {
            let prev = old
                .pointer("/metadata/annotations")
                .and_then(|a| a.get(ANNOTATION))
                .and_then(Value::as_str)
                .and_then(|s| s.parse::<i64>().ok())
                .unwrap_or(1);
            if old.pointer("/spec/template") == obj.pointer("/spec/template") {
                prev
            } else {
                prev + 1
            }
        }
    };
    if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
        let a = m.entry("annotations").or_insert_with(|| json!({}));
        if let Some(a) = a.as_object_mut() {
            a.insert(ANNOTATION.into(), json!(generation.to_string()));
        }
    }
}

/// Allocates a Service's cluster IP (and families) on create, as the Service registry does.
pub fn allocate(key: &str, obj: &mut Value, next: &mut impl FnMut() -> String) {
    if key != "/services" {
        return;
    }
    let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut) else { return };
    if spec.get("type").is_some_and(|t| t == "ExternalName") {
        return;
    }
    if spec.get("clusterIP").is_none_or(|v| v.is_null() || v == "") {
        let ip = next();
        spec.insert("clusterIP".into(), json!(ip));
        spec.insert("clusterIPs".into(), json!([ip]));
    }
    spec.entry("ipFamilies").or_insert_with(|| json!(["IPv4"]));
    spec.entry("ipFamilyPolicy").or_insert_with(|| json!("SingleStack"));
}
