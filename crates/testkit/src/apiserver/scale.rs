//! The `/scale` subresource, as kube-apiserver serves it: an `autoscaling/v1` Scale read
//! from the object's replicas and selector, and written back into the object's replicas
//! (Deployments, ReplicaSets, StatefulSets, and CRDs that declare `subresources.scale`).

use serde_json::{Value, json};

use super::store::{ApiError, Store};
use super::types::ResourceType;
use crate::field::Cause;

/// Where a kind keeps what its Scale shows: JSON pointers (`/spec/replicas`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScalePaths {
    pub spec_replicas: String,
    pub status_replicas: String,
    pub selector: Selector,
}

/// Where the selector a Scale reports comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selector {
    /// A `metav1.LabelSelector` object (built-in kinds: `/spec/selector`), printed.
    LabelSelector(String),
    /// A string field (a CRD's `labelSelectorPath`).
    Text(String),
    /// None declared: the Scale has no selector.
    None,
}

impl ScalePaths {
    /// The paths of the apps/v1 workloads.
    pub fn workload() -> Self {
        ScalePaths {
            spec_replicas: "/spec/replicas".into(),
            status_replicas: "/status/replicas".into(),
            selector: Selector::LabelSelector("/spec/selector".into()),
        }
    }

    /// A CRD version's `subresources.scale`, if it declares one.
    pub fn from_crd_version(version: &Value) -> Option<Self> {
        let scale = version.pointer("/subresources/scale")?;
        let path = |k: &str| scale.get(k).and_then(Value::as_str).map(json_path_pointer);
        Some(ScalePaths {
            spec_replicas: path("specReplicasPath")?,
            status_replicas: path("statusReplicasPath")?,
            selector: path("labelSelectorPath").map_or(Selector::None, Selector::Text),
        })
    }
}

/// `.spec.replicas` -> `/spec/replicas`.
fn json_path_pointer(path: &str) -> String {
    path.trim_start_matches('.').split('.').fold(String::new(), |p, seg| p + "/" + seg)
}

/// The type whose name an invalid Scale is reported under.
fn scale_type() -> ResourceType {
    ResourceType {
        group: "autoscaling".into(),
        version: "v1".into(),
        plural: "scales".into(),
        singular: "scale".into(),
        kind: "Scale".into(),
        namespaced: true,
        status: false,
        generation: false,
        short_names: Vec::new(),
        schema: None,
        scale: None,
        printer_columns: None,
        categories: Vec::new(),
    }
}

/// A label selector as `labels.Selector.String()` prints it: requirements sorted by key.
pub fn selector_string(s: &Value) -> String {
    let mut reqs: Vec<(String, String)> = Vec::new();
    for (k, v) in s.get("matchLabels").and_then(Value::as_object).into_iter().flatten() {
        reqs.push((k.clone(), format!("{k}={}", v.as_str().unwrap_or(""))));
    }
    for e in s.get("matchExpressions").and_then(Value::as_array).into_iter().flatten() {
        let key = e.get("key").and_then(Value::as_str).unwrap_or("").to_string();
        let mut values: Vec<&str> = e
            .get("values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        values.sort_unstable();
        let text = match e.get("operator").and_then(Value::as_str).unwrap_or("") {
            "In" => format!("{key} in ({})", values.join(",")),
            "NotIn" => format!("{key} notin ({})", values.join(",")),
            "Exists" => key.clone(),
            _ => format!("!{key}"),
        };
        reqs.push((key, text));
    }
    reqs.sort();
    reqs.into_iter().map(|(_, t)| t).collect::<Vec<_>>().join(",")
}

/// The Scale of `obj`.
pub fn scale_of(paths: &ScalePaths, obj: &Value) -> Value {
    let int = |p: &str| obj.pointer(p).and_then(Value::as_i64).unwrap_or(0);
    let meta = &obj["metadata"];
    let mut metadata = json!({});
    for k in ["name", "namespace", "uid", "resourceVersion", "creationTimestamp"] {
        if let Some(v) = meta.get(k).filter(|v| !v.is_null()) {
            metadata[k] = v.clone();
        }
    }
    let mut spec = json!({});
    if int(&paths.spec_replicas) != 0 {
        spec["replicas"] = json!(int(&paths.spec_replicas));
    }
    let mut status = json!({"replicas": int(&paths.status_replicas)});
    let selector = match &paths.selector {
        Selector::LabelSelector(p) => obj.pointer(p).map(selector_string),
        Selector::Text(p) => obj.pointer(p).and_then(Value::as_str).map(str::to_string),
        Selector::None => None,
    };
    if let Some(s) = selector.filter(|s| !s.is_empty()) {
        status["selector"] = json!(s);
    }
    json!({"kind": "Scale", "apiVersion": "autoscaling/v1", "metadata": metadata, "spec": spec, "status": status})
}

/// Writes a Scale into `obj`: its replicas, with its resourceVersion as a precondition.
/// The Scale is validated as `ValidateScale` does.
pub fn write(
    store: &mut Store,
    t: &ResourceType,
    ns: &str,
    name: &str,
    scale: &Value,
    dry_run: bool,
) -> Result<Value, ApiError> {
    let paths = t.scale.clone().ok_or_else(|| ApiError::not_found(t, name))?;
    let replicas = match scale.pointer("/spec/replicas") {
        None | Some(Value::Null) => 0,
        Some(v) => v.as_i64().filter(|n| i32::try_from(*n).is_ok()).ok_or_else(|| {
            let why = super::builtin::decode::wrong("ScaleSpec.spec.replicas", "int32", v);
            ApiError::bad_request(format!(
                "Scale in version \"v1\" cannot be handled as a Scale: {why}"
            ))
        })?,
    };
    if replicas < 0 {
        let cause =
            Cause::invalid("spec.replicas", &json!(replicas), "must be greater than or equal to 0");
        return Err(ApiError::invalid(&scale_type(), name, vec![cause]));
    }
    let mut obj = store.get(t, ns, name)?;
    match scale.pointer("/metadata/resourceVersion").and_then(Value::as_str) {
        Some(rv) if !rv.is_empty() => obj["metadata"]["resourceVersion"] = json!(rv),
        _ => {
            if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
                m.remove("resourceVersion");
            }
        }
    }
    set_pointer(&mut obj, &paths.spec_replicas, json!(replicas));
    let updated = store.update(t, ns, name, obj, false, dry_run)?;
    Ok(scale_of(&paths, &updated))
}

/// Sets the value at a JSON pointer, creating the objects on the way.
fn set_pointer(obj: &mut Value, pointer: &str, value: Value) {
    let mut at = obj;
    let segs: Vec<&str> = pointer.trim_start_matches('/').split('/').collect();
    for (i, seg) in segs.iter().enumerate() {
        if !at.is_object() {
            *at = json!({});
        }
        let map = at.as_object_mut().expect("made an object");
        if i + 1 == segs.len() {
            map.insert(seg.to_string(), value);
            return;
        }
        at = map.entry(seg.to_string()).or_insert_with(|| json!({}));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn selectors_print_as_labels_selector_string() {
        let s = json!({"matchLabels": {"b": "2", "a": "1"},
            "matchExpressions": [{"key": "c", "operator": "In", "values": ["y", "x"]},
                {"key": "d", "operator": "Exists"}, {"key": "e", "operator": "DoesNotExist"},
                {"key": "f", "operator": "NotIn", "values": ["z"]}]});
        assert_eq!(selector_string(&s), "a=1,b=2,c in (x,y),d,!e,f notin (z)");
        assert_eq!(selector_string(&json!({})), "");
    }

    #[test]
    fn a_scale_shows_replicas_and_selector() {
        let d = json!({"metadata": {"name": "d", "namespace": "n", "uid": "u", "resourceVersion": "7",
            "creationTimestamp": "2026-01-01T00:00:00Z", "labels": {"x": "y"}},
            "spec": {"replicas": 3, "selector": {"matchLabels": {"app": "r"}}}, "status": {"replicas": 2}});
        let s = scale_of(&ScalePaths::workload(), &d);
        assert_eq!(
            s,
            json!({"kind": "Scale", "apiVersion": "autoscaling/v1",
            "metadata": {"name": "d", "namespace": "n", "uid": "u", "resourceVersion": "7", "creationTimestamp": "2026-01-01T00:00:00Z"},
            "spec": {"replicas": 3}, "status": {"replicas": 2, "selector": "app=r"}})
        );
        let zero = scale_of(&ScalePaths::workload(), &json!({"metadata": {"name": "d"}}));
        assert_eq!(zero["spec"], json!({}), "replicas 0 is omitted");
        assert_eq!(zero["status"], json!({"replicas": 0}));
    }

    #[test]
    fn crd_scale_paths() {
        let v = json!({"subresources": {"scale": {"specReplicasPath": ".spec.size",
            "statusReplicasPath": ".status.size", "labelSelectorPath": ".status.selector"}}});
        let p = ScalePaths::from_crd_version(&v).unwrap();
        assert_eq!(p.spec_replicas, "/spec/size");
        assert_eq!(p.selector, Selector::Text("/status/selector".into()));
        assert_eq!(ScalePaths::from_crd_version(&json!({"subresources": {"status": {}}})), None);
        let mut o = json!({});
        set_pointer(&mut o, "/spec/size", json!(4));
        assert_eq!(o, json!({"spec": {"size": 4}}));
    }
}
