//! What kube-apiserver's decoding does to a built-in object before defaulting: a value of
//! the wrong JSON type is a 400 BadRequest ("cannot be handled as a Deployment"), as is a
//! malformed quantity, base64 string or timestamp; unknown fields are dropped (and named,
//! for the `fieldValidation` warnings or Strict refusal); fields that Go leaves out when
//! empty (`omitempty` maps and lists, nil pointers) are left out, and struct-valued fields
//! Go always writes (`resources: {}`, a template's `metadata: {}`) are written.
//!
//! The shape of each kind comes from k8s-openapi's schemas (its `schemars` feature), so
//! the walk knows every field of every built-in type without a list of our own.

use serde_json::{Map, Value};

use super::quantity::Quantity;
use crate::field;

/// Fields that Go writes even when nobody set them, because they are struct values rather
/// than pointers (`encoding/json` never omits a struct): `(type, field)`.
const ALWAYS_WRITTEN: &[(&str, &str)] = &[
    ("io.k8s.api.core.v1.Container", "resources"),
    ("io.k8s.api.core.v1.PodTemplateSpec", "metadata"),
    ("io.k8s.api.batch.v1.JobTemplateSpec", "metadata"),
    ("io.k8s.api.core.v1.PersistentVolumeClaimSpec", "resources"),
    ("io.k8s.api.core.v1.ServiceStatus", "loadBalancer"),
    ("io.k8s.api.networking.v1.NetworkPolicySpec", "podSelector"),
    ("io.k8s.api.core.v1.Event", "involvedObject"),
    ("io.k8s.api.core.v1.Event", "source"),
    ("io.k8s.api.coordination.v1.Lease", "spec"),
];

/// List fields Go writes even when empty (no `omitempty`), though optional in the schema.
const KEPT_EMPTY: &[(&str, &str)] =
    &[("io.k8s.api.rbac.v1.ClusterRole", "rules"), ("io.k8s.api.rbac.v1.Role", "rules")];

pub(super) struct Decoder<'a> {
    defs: &'a Map<String, Value>,
    /// Paths of the fields dropped as unknown.
    pub unknown: Vec<String>,
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "bool",
        Value::Number(_) => "number",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// The error for a value of the wrong JSON type at `path`, as Go's `encoding/json` words it.
pub(crate) fn wrong(path: &str, want: &str, v: &Value) -> String {
    let at = if path.is_empty() { "<root>" } else { path };
    format!("json: cannot unmarshal {} into Go struct field {at} of type {want}", type_name(v))
}

/// The types apimachinery decodes itself: a Quantity (rewritten in canonical form), an
/// IntOrString, a Time or MicroTime. `None` for any other type.
fn well_known(name: Option<&str>, v: &mut Value, path: &str) -> Option<Result<(), String>> {
    match name? {
        "io.k8s.apimachinery.pkg.api.resource.Quantity" => {
            let q = match v {
                Value::String(s) => Quantity::parse(s),
                Value::Number(n) => Quantity::parse(&n.to_string()),
                _ => return Some(Err(wrong(path, "resource.Quantity", v))),
            };
            Some(q.map(|q| *v = Value::String(q.canonical())))
        }
        "io.k8s.apimachinery.pkg.util.intstr.IntOrString" => Some(match v {
            Value::String(_) => Ok(()),
            Value::Number(n) if n.as_i64().is_some_and(|i| i32::try_from(i).is_ok()) => Ok(()),
            _ => Err(wrong(path, "intstr.IntOrString", v)),
        }),
        "io.k8s.apimachinery.pkg.apis.meta.v1.Time"
        | "io.k8s.apimachinery.pkg.apis.meta.v1.MicroTime" => {
            let Value::String(t) = v else { return Some(Err(wrong(path, "metav1.Time", v))) };
            Some(
                t.parse::<jiff::Timestamp>()
                    .map(|_| ())
                    .map_err(|e| format!("parsing time {t:?}: {e}")),
            )
        }
        _ => None,
    }
}

/// A string; with `format: byte`, one that decodes as base64.
fn string(s: &Value, v: &Value, path: &str) -> Result<(), String> {
    let Value::String(text) = v else { return Err(wrong(path, "string", v)) };
    if s.get("format").and_then(Value::as_str) == Some("byte") {
        use base64::Engine as _;
        base64::engine::general_purpose::STANDARD.decode(text.as_bytes()).map_err(|e| match e {
            base64::DecodeError::InvalidByte(at, _)
            | base64::DecodeError::InvalidLastSymbol(at, _) => {
                format!("illegal base64 data at input byte {at}")
            }
            _ => format!("illegal base64 data at input byte {}", text.len()),
        })?;
    }
    Ok(())
}

/// An integer, number or boolean of schema type `ty` (anything else passes).
fn scalar(ty: Option<&str>, v: &Value, path: &str) -> Result<(), String> {
    match ty {
        Some("integer") => match v {
            Value::Number(n) if n.is_i64() || n.is_u64() => Ok(()),
            _ => Err(wrong(path, "int", v)),
        },
        Some("number") if !v.is_number() => Err(wrong(path, "float64", v)),
        Some("boolean") if !v.is_boolean() => Err(wrong(path, "bool", v)),
        _ => Ok(()),
    }
}

impl<'a> Decoder<'a> {
    pub fn new(root: &'a Value) -> Self {
        static EMPTY: std::sync::LazyLock<Map<String, Value>> = std::sync::LazyLock::new(Map::new);
        let defs = root.get("$defs").and_then(Value::as_object).unwrap_or(&EMPTY);
        Decoder { defs, unknown: Vec::new() }
    }

    /// The schema behind a `$ref`, and the referenced type's name.
    fn resolve<'s>(&self, s: &'s Value) -> (&'s Value, Option<&'s str>)
    where
        'a: 's,
    {
        match s.get("$ref").and_then(Value::as_str) {
            Some(r) => {
                let name = r.rsplit('/').next().unwrap_or(r);
                match self.defs.get(name) {
                    Some(d) => (d, Some(name)),
                    None => (s, Some(name)),
                }
            }
            None => (s, None),
        }
    }

    /// Walks `v` against `schema`; `Err` is the reason for a 400.
    pub fn walk(&mut self, schema: &Value, v: &mut Value, path: &str) -> Result<(), String> {
        let (s, name) = self.resolve(schema);
        if v.is_null() {
            return Ok(());
        }
        if let Some(r) = well_known(name, v, path) {
            return r;
        }
        match s.get("type").and_then(Value::as_str) {
            Some("object") => self
                .object(s, name, v, path)
                .map_err(|e| if e.is_empty() { wrong(path, "struct", v) } else { e }),
            Some("array") => {
                let Some(items) = v.as_array_mut() else { return Err(wrong(path, "[]", v)) };
                if let Some(item_schema) = s.get("items") {
                    for (i, item) in items.iter_mut().enumerate() {
                        self.walk(item_schema, item, &field::index(path, i))?;
                    }
                }
                Ok(())
            }
            Some("string") => string(s, v, path),
            other => scalar(other, v, path),
        }
    }

    fn object(
        &mut self,
        s: &Value,
        name: Option<&str>,
        v: &mut Value,
        path: &str,
    ) -> Result<(), String> {
        let Some(map) = v.as_object_mut() else { return Err(String::new()) };
        let props = s.get("properties").and_then(Value::as_object);
        let extra = s.get("additionalProperties").filter(|a| a.is_object());
        let Some(props) = props else {
            if let Some(extra) = extra {
                for (k, child) in map.iter_mut() {
                    self.walk(extra, child, &field::child(path, k))?;
                }
                map.retain(|_, c| !c.is_null());
            }
            return Ok(());
        };
        let required: Vec<&str> = s
            .get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let keys: Vec<String> = map.keys().cloned().collect();
        for k in keys {
            let here = field::child(path, &k);
            let Some(cs) = props.get(&k) else {
                self.unknown.push(here);
                map.remove(&k);
                continue;
            };
            if let Some(child) = map.get_mut(&k) {
                self.walk(cs, child, &here)?;
            }
            let keep_empty = required.contains(&k.as_str())
                || name.is_some_and(|n| KEPT_EMPTY.contains(&(n, k.as_str())));
            let drop = match map.get(&k) {
                Some(Value::Null) => true,
                Some(Value::Array(a)) => a.is_empty() && !keep_empty,
                Some(Value::Object(o)) => o.is_empty() && !keep_empty && self.is_map(cs),
                _ => false,
            };
            if drop {
                map.remove(&k);
            }
        }
        for (ty, f) in ALWAYS_WRITTEN {
            if name == Some(*ty) && !map.contains_key(*f) {
                let mut empty = Value::Object(Map::new());
                if let Some(cs) = props.get(*f) {
                    self.walk(cs, &mut empty, &field::child(path, f))?;
                }
                map.insert((*f).to_string(), empty);
            }
        }
        Ok(())
    }

    /// Whether a schema is a Go map (free keys) rather than a struct.
    fn is_map(&self, s: &Value) -> bool {
        let (s, _) = self.resolve(s);
        s.get("properties").is_none() && s.get("additionalProperties").is_some()
    }
}
