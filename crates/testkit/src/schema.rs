//! OpenAPI v3 structural schemas as the API server applies them to custom resources:
//! validation of an object against a CRD schema, and a comparison of two CRD schemas.
//!
//! Validation covers what a structural schema declares without CEL: `type` (with
//! `x-kubernetes-int-or-string` and `nullable`), `required`, `enum`, `pattern`,
//! `minimum`/`maximum`, `minLength`/`maxLength`, `minItems`/`maxItems`, `properties`,
//! `items` and `additionalProperties`. Unknown fields are pruned, not rejected, as the API
//! server does for schemas without `x-kubernetes-preserve-unknown-fields`; a null on a
//! non-nullable field is likewise pruned (Kubernetes docs, "Defaulting and Nullable").
//! `x-kubernetes-validations` (CEL) rules are not evaluated.

use std::collections::BTreeSet;

use regex::Regex;
use serde_json::Value;

use crate::field::Cause;

/// The `openAPIV3Schema` of the first version of a CRD given as JSON.
pub fn crd_schema(crd: &Value) -> Option<&Value> {
    crd.pointer("/spec/versions/0/schema/openAPIV3Schema")
}

/// Validates `obj` against `schema`; returns every violation as a field cause, with the
/// reasons and paths kube-apiserver gives (apiextensions-apiserver's schema validation).
/// When the schema carries CEL rules and a violation is one that stops CEL evaluation
/// (an unsupported value or a wrong type), the extra cause the API server adds for the
/// unchecked rules (field `<nil>`) is added too.
pub fn validate(schema: &Value, obj: &Value) -> Result<(), Vec<Cause>> {
    let mut errors = Vec::new();
    check(schema, obj, "", &mut errors);
    let blocking = errors
        .iter()
        .any(|c| matches!(c.reason, "FieldValueNotSupported" | "FieldValueTypeInvalid"));
    if blocking && has_cel_rules(schema) {
        errors.push(Cause::invalid(
            "",
            &Value::Null,
            "some validation rules were not checked because the object was invalid; correct the existing errors to complete validation",
        ));
    }
    if errors.is_empty() { Ok(()) } else { Err(errors) }
}

/// Whether any part of `schema` has `x-kubernetes-validations`.
pub fn has_cel_rules(schema: &Value) -> bool {
    match schema {
        Value::Object(m) => {
            m.contains_key("x-kubernetes-validations") || m.values().any(has_cel_rules)
        }
        Value::Array(a) => a.iter().any(has_cel_rules),
        _ => false,
    }
}

/// A schema pattern, compiled once per process (CRD patterns are few; compiling one costs
/// more than a whole validation).
fn compiled(pattern: &str) -> Result<Regex, regex::Error> {
    static COMPILED: std::sync::LazyLock<
        std::sync::Mutex<std::collections::HashMap<String, Result<Regex, regex::Error>>>,
    > = std::sync::LazyLock::new(Default::default);
    let mut m = COMPILED.lock().unwrap_or_else(|e| e.into_inner());
    m.entry(pattern.to_string()).or_insert_with(|| Regex::new(pattern)).clone()
}

fn type_ok(expected: &str, v: &Value) -> bool {
    match expected {
        "object" => v.is_object(),
        "array" => v.is_array(),
        "string" => v.is_string(),
        "boolean" => v.is_boolean(),
        "integer" => v.is_i64() || v.is_u64(),
        "number" => v.is_number(),
        _ => true,
    }
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "boolean",
        Value::Number(n) if n.is_f64() => "number",
        Value::Number(_) => "integer",
        Value::String(_) => "string",
        Value::Array(_) => "array",
        Value::Object(_) => "object",
    }
}

/// Checks `v` at `path` against `schema`, pushing every violation onto `errors` in the
/// order kube-apiserver reports them: type first (a wrong type stops the rest), then
/// enum and pattern, number bounds, string lengths, array rules, object rules.
fn check(schema: &Value, v: &Value, path: &str, errors: &mut Vec<Cause>) {
    let here = if path.is_empty() { "<root>" } else { path };
    if v.is_null() {
        // Nulls are pruned before validation unless the field is nullable.
        return;
    }
    if !check_type(schema, v, path, here, errors) {
        return;
    }
    check_enum_pattern(schema, v, path, here, errors);
    if let Some(n) = v.as_f64() {
        check_number(schema, v, n, path, here, errors);
    }
    if let Some(s) = v.as_str() {
        check_string(schema, v, s, path, here, errors);
    }
    if let Some(items) = v.as_array() {
        check_array(schema, v, items, path, here, errors);
    }
    if let Some(map) = v.as_object() {
        check_object(schema, map, path, errors);
    }
}

/// `type` and `x-kubernetes-int-or-string`; false (after pushing the cause) on a mismatch.
fn check_type(schema: &Value, v: &Value, path: &str, here: &str, errors: &mut Vec<Cause>) -> bool {
    if schema.get("x-kubernetes-int-or-string") == Some(&Value::Bool(true)) {
        if !(v.is_string() || v.is_i64() || v.is_u64()) {
            errors.push(Cause::type_invalid(
                path,
                v,
                &format!("{here} in body must be of type integer,string: {:?}", json_type(v)),
            ));
            return false;
        }
    } else if let Some(t) = schema.get("type").and_then(Value::as_str)
        && !type_ok(t, v)
    {
        errors.push(Cause::type_invalid(
            path,
            v,
            &format!("{here} in body must be of type {t}: {:?}", json_type(v)),
        ));
        return false;
    }
    true
}

/// `enum` (any value) and `pattern` (strings).
fn check_enum_pattern(schema: &Value, v: &Value, path: &str, here: &str, errors: &mut Vec<Cause>) {
    if let Some(values) = schema.get("enum").and_then(Value::as_array)
        && !values.contains(v)
    {
        let allowed: Vec<String> = values
            .iter()
            .map(|a| a.as_str().map_or_else(|| a.to_string(), str::to_string))
            .collect();
        let allowed: Vec<&str> = allowed.iter().map(String::as_str).collect();
        errors.push(Cause::not_supported(path, v, &allowed));
    }
    if let (Some(p), Some(s)) = (schema.get("pattern").and_then(Value::as_str), v.as_str()) {
        match compiled(p) {
            Ok(re) if !re.is_match(s) => {
                errors.push(Cause::invalid(path, v, &format!("{here} in body should match '{p}'")));
            }
            Ok(_) => {}
            Err(e) => errors.push(Cause::invalid(path, v, &format!("bad pattern {p:?}: {e}"))),
        }
    }
}

/// `minimum` and `maximum` of a number `n` (the value `v`).
fn check_number(
    schema: &Value,
    v: &Value,
    n: f64,
    path: &str,
    here: &str,
    errors: &mut Vec<Cause>,
) {
    if let Some(min) = schema.get("minimum").and_then(Value::as_f64)
        && n < min
    {
        errors.push(Cause::invalid(
            path,
            v,
            &format!("{here} in body should be greater than or equal to {min}"),
        ));
    }
    if let Some(max) = schema.get("maximum").and_then(Value::as_f64)
        && n > max
    {
        errors.push(Cause::invalid(
            path,
            v,
            &format!("{here} in body should be less than or equal to {max}"),
        ));
    }
}

/// `minLength` and `maxLength` of a string `s` (the value `v`), counted in characters.
fn check_string(
    schema: &Value,
    v: &Value,
    s: &str,
    path: &str,
    here: &str,
    errors: &mut Vec<Cause>,
) {
    let len = s.chars().count() as u64;
    if let Some(min) = schema.get("minLength").and_then(Value::as_u64)
        && len < min
    {
        errors.push(Cause::invalid(
            path,
            v,
            &format!("{here} in body should be at least {min} chars long"),
        ));
    }
    if let Some(max) = schema.get("maxLength").and_then(Value::as_u64)
        && len > max
    {
        errors.push(Cause::too_long(path, max as usize));
    }
}

/// `minItems`, `maxItems`, then each item against `items`, then `x-kubernetes-list-type`.
fn check_array(
    schema: &Value,
    v: &Value,
    items: &[Value],
    path: &str,
    here: &str,
    errors: &mut Vec<Cause>,
) {
    let len = items.len() as u64;
    if let Some(min) = schema.get("minItems").and_then(Value::as_u64)
        && len < min
    {
        errors.push(Cause::invalid(
            path,
            v,
            &format!("{here} in body should have at least {min} items"),
        ));
    }
    if let Some(max) = schema.get("maxItems").and_then(Value::as_u64)
        && len > max
    {
        errors.push(Cause::too_many(path, items.len(), max as usize));
    }
    if let Some(item_schema) = schema.get("items") {
        for (i, item) in items.iter().enumerate() {
            check(item_schema, item, &format!("{path}[{i}]"), errors);
        }
    }
    list_type(schema, items, path, errors);
}

/// `required` (a null counts as missing unless the property is nullable), then each field
/// against its `properties` entry or `additionalProperties`.
fn check_object(
    schema: &Value,
    map: &serde_json::Map<String, Value>,
    path: &str,
    errors: &mut Vec<Cause>,
) {
    for name in schema.get("required").and_then(Value::as_array).into_iter().flatten() {
        let nullable = |n: &str| {
            schema.pointer(&format!("/properties/{n}/nullable")) == Some(&Value::Bool(true))
        };
        if let Some(name) = name.as_str()
            && map.get(name).is_none_or(|v| v.is_null() && !nullable(name))
        {
            errors.push(Cause::required(&join(path, name), ""));
        }
    }
    let props = schema.get("properties").and_then(Value::as_object);
    let extra = schema.get("additionalProperties").filter(|a| a.is_object());
    for (k, child) in map {
        if let Some(s) = props.and_then(|p| p.get(k)) {
            check(s, child, &join(path, k), errors);
        } else if let Some(s) = extra {
            check(s, child, &join(path, k), errors);
        }
    }
}

/// The value at a field path as causes name it (`spec.a[0].b`, `data[key]`).
pub fn at_path<'v>(v: &'v Value, path: &str) -> Option<&'v Value> {
    let mut cur = v;
    for part in path.split('.') {
        let (name, rest) = part.split_once('[').map_or((part, ""), |(n, r)| (n, r));
        if !name.is_empty() {
            cur = cur.get(name)?;
        }
        for idx in rest.split('[').filter(|s| !s.is_empty()) {
            let idx = idx.trim_end_matches(']');
            cur = match idx.parse::<usize>() {
                Ok(i) if cur.is_array() => cur.get(i)?,
                _ => cur.get(idx)?,
            };
        }
    }
    Some(cur)
}

/// The `x-kubernetes-list-map-keys` of a list schema (empty when none).
pub fn list_map_keys(schema: &Value) -> Vec<&str> {
    schema
        .get("x-kubernetes-list-map-keys")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(Value::as_str)
        .collect()
}

/// `x-kubernetes-list-type`: a `set` has no item twice, a `map` no two items with the same
/// values of its `x-kubernetes-list-map-keys` (apiextensions' listtype validation).
fn list_type(schema: &Value, items: &[Value], path: &str, errors: &mut Vec<Cause>) {
    match schema.get("x-kubernetes-list-type").and_then(Value::as_str) {
        Some("set") => {
            for (i, item) in items.iter().enumerate() {
                if items[..i].contains(item) {
                    errors.push(Cause::duplicate(&format!("{path}[{i}]"), item));
                }
            }
        }
        Some("map") => {
            let keys = list_map_keys(schema);
            let key_of = |v: &Value| -> Value {
                keys.iter()
                    .filter_map(|k| v.get(*k).map(|x| ((*k).to_string(), x.clone())))
                    .collect::<serde_json::Map<_, _>>()
                    .into()
            };
            for (i, item) in items.iter().enumerate() {
                let k = key_of(item);
                if items[..i].iter().any(|x| key_of(x) == k) {
                    errors.push(Cause::duplicate(&format!("{path}[{i}]"), &k));
                }
            }
        }
        _ => {}
    }
}

fn join(path: &str, key: &str) -> String {
    if path.is_empty() { key.to_string() } else { format!("{path}.{key}") }
}

/// Applies what the API server does to a custom resource before validation: drops nulls
/// on non-nullable fields, prunes fields the schema does not declare (unless it preserves
/// unknown fields), and fills in defaults. `metadata` at the root is left alone. Returns
/// the paths of the unknown fields it pruned (for `fieldValidation` warnings or refusal).
pub fn prune_and_default(schema: &Value, obj: &mut Value) -> Vec<String> {
    let mut unknown = Vec::new();
    walk(schema, obj, "", &mut unknown);
    unknown
}

fn walk(schema: &Value, v: &mut Value, path: &str, unknown: &mut Vec<String>) {
    let preserve = schema.get("x-kubernetes-preserve-unknown-fields") == Some(&Value::Bool(true));
    if let Some(items) = v.as_array_mut() {
        if let Some(item_schema) = schema.get("items") {
            for (i, item) in items.iter_mut().enumerate() {
                walk(item_schema, item, &format!("{path}[{i}]"), unknown);
            }
        }
        return;
    }
    let Some(map) = v.as_object_mut() else { return };
    let props = schema.get("properties").and_then(Value::as_object);
    let extra = schema.get("additionalProperties").filter(|a| a.is_object());
    let keys: Vec<String> = map.keys().cloned().collect();
    for k in keys {
        if path.is_empty() && matches!(k.as_str(), "apiVersion" | "kind" | "metadata") {
            continue;
        }
        let child_schema = props.and_then(|p| p.get(&k)).or(extra);
        match child_schema {
            Some(cs) => {
                let nullable = cs.get("nullable") == Some(&Value::Bool(true));
                if map.get(&k).is_some_and(Value::is_null) && !nullable {
                    map.remove(&k);
                    continue;
                }
                if let Some(child) = map.get_mut(&k) {
                    walk(cs, child, &join(path, &k), unknown);
                }
            }
            None if !preserve => {
                unknown.push(join(path, &k));
                map.remove(&k);
            }
            None => {}
        }
    }
    if let Some(props) = props {
        for (k, cs) in props {
            if !map.contains_key(k)
                && let Some(d) = cs.get("default")
            {
                let mut d = d.clone();
                walk(cs, &mut d, &join(path, k), &mut Vec::new());
                map.insert(k.clone(), d);
            }
        }
    }
}

/// The attributes compared by [`compare`].
const COMPARED: &[&str] = &[
    "type",
    "format",
    "enum",
    "pattern",
    "default",
    "minimum",
    "maximum",
    "minLength",
    "maxLength",
    "minItems",
    "maxItems",
    "x-kubernetes-int-or-string",
    "x-kubernetes-preserve-unknown-fields",
    "x-kubernetes-validations",
];

/// Compares two schemas property by property: the set of properties, `required`, and the
/// attributes of [`COMPARED`] (numbers compared as numbers). Returns one line per
/// difference. Descriptions, `nullable` and list/map types are not compared.
pub fn compare(reference: &Value, ours: &Value) -> Vec<String> {
    let mut out = Vec::new();
    cmp(reference, ours, "", &mut out);
    out
}

fn norm(v: Option<&Value>) -> Option<Value> {
    v.map(|v| match v.as_f64() {
        Some(f) if v.is_number() => serde_json::json!(f),
        _ => v.clone(),
    })
}

fn cmp(a: &Value, b: &Value, path: &str, out: &mut Vec<String>) {
    let here = if path.is_empty() { "<root>" } else { path };
    for attr in COMPARED {
        let (x, y) = (norm(a.get(*attr)), norm(b.get(*attr)));
        if x != y {
            out.push(format!("{here}: {attr} differs: reference {x:?}, ours {y:?}"));
        }
    }
    let set = |v: &Value| -> BTreeSet<String> {
        v.get("required")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|s| s.as_str().map(str::to_string))
            .collect()
    };
    if set(a) != set(b) {
        out.push(format!("{here}: required differs: reference {:?}, ours {:?}", set(a), set(b)));
    }
    let keys = |v: &Value| -> BTreeSet<String> {
        v.get("properties")
            .and_then(Value::as_object)
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default()
    };
    let (ka, kb) = (keys(a), keys(b));
    for k in ka.symmetric_difference(&kb) {
        let side = if ka.contains(k) { "only in reference" } else { "only in ours" };
        out.push(format!("{}: property {side}", join(path, k)));
    }
    for k in ka.intersection(&kb) {
        cmp(&a["properties"][k], &b["properties"][k], &join(path, k), out);
    }
    match (a.get("items"), b.get("items")) {
        (Some(x), Some(y)) => cmp(x, y, &format!("{path}[]"), out),
        (None, None) => {}
        _ => out.push(format!("{here}: items present on one side only")),
    }
    match (
        a.get("additionalProperties").filter(|x| x.is_object()),
        b.get("additionalProperties").filter(|x| x.is_object()),
    ) {
        (Some(x), Some(y)) => cmp(x, y, &format!("{path}{{}}"), out),
        (None, None) => {}
        _ => out.push(format!("{here}: additionalProperties present on one side only")),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn schema() -> Value {
        json!({
            "type": "object",
            "required": ["spec"],
            "properties": {
                "spec": {
                    "type": "object",
                    "required": ["replicas"],
                    "properties": {
                        "replicas": {"type": "integer", "minimum": 0, "maximum": 5},
                        "level": {"type": "string", "enum": ["", "Normal"]},
                        "name": {"type": "string", "pattern": "^[a-z]+$", "minLength": 2, "maxLength": 4},
                        "list": {"type": "array", "maxItems": 1, "items": {"type": "string"}},
                        "labels": {"type": "object", "additionalProperties": {"type": "string"}},
                        "port": {"x-kubernetes-int-or-string": true}
                    }
                }
            }
        })
    }

    #[test]
    fn accepts_a_valid_object_and_prunes_unknown_fields() {
        let obj = json!({"spec": {"replicas": 2, "level": "", "name": "abc", "list": ["x"],
            "labels": {"a": "b"}, "port": "http", "unknown": {"x": 1}}});
        assert_eq!(validate(&schema(), &obj), Ok(()));
        assert_eq!(validate(&schema(), &json!({"spec": {"replicas": 1, "port": 80}})), Ok(()));
    }

    #[test]
    fn rejects_each_kind_of_violation() {
        let cases = [
            (json!({}), ("FieldValueRequired", "spec")),
            (json!({"spec": {}}), ("FieldValueRequired", "spec.replicas")),
            (json!({"spec": {"replicas": "2"}}), ("FieldValueTypeInvalid", "spec.replicas")),
            (json!({"spec": {"replicas": 1.5}}), ("FieldValueTypeInvalid", "spec.replicas")),
            (json!({"spec": {"replicas": 6}}), ("FieldValueInvalid", "spec.replicas")),
            (json!({"spec": {"replicas": -1}}), ("FieldValueInvalid", "spec.replicas")),
            (
                json!({"spec": {"replicas": 1, "level": "Loud"}}),
                ("FieldValueNotSupported", "spec.level"),
            ),
            (json!({"spec": {"replicas": 1, "name": "AB"}}), ("FieldValueInvalid", "spec.name")),
            (json!({"spec": {"replicas": 1, "name": "a"}}), ("FieldValueInvalid", "spec.name")),
            (json!({"spec": {"replicas": 1, "name": "abcde"}}), ("FieldValueTooLong", "spec.name")),
            (
                json!({"spec": {"replicas": 1, "list": ["a", "b"]}}),
                ("FieldValueTooMany", "spec.list"),
            ),
            (
                json!({"spec": {"replicas": 1, "list": [1]}}),
                ("FieldValueTypeInvalid", "spec.list[0]"),
            ),
            (
                json!({"spec": {"replicas": 1, "labels": {"a": 1}}}),
                ("FieldValueTypeInvalid", "spec.labels.a"),
            ),
            (
                json!({"spec": {"replicas": 1, "port": true}}),
                ("FieldValueTypeInvalid", "spec.port"),
            ),
        ];
        for (obj, (reason, field)) in cases {
            let errs = validate(&schema(), &obj).expect_err(&obj.to_string());
            assert!(
                errs.iter().any(|e| e.reason == reason && e.field == field),
                "{obj}: {errs:?} lacks {reason} at {field}"
            );
        }
    }

    #[test]
    fn prunes_unknown_fields_and_fills_defaults() {
        let s = json!({
            "type": "object",
            "properties": {
                "spec": {"type": "object", "properties": {
                    "level": {"type": "string", "default": "Normal"},
                    "access": {"type": "object", "default": {}, "properties": {
                        "type": {"type": "string", "default": "External"}}},
                    "free": {"type": "object", "x-kubernetes-preserve-unknown-fields": true},
                    "opt": {"type": "string"},
                    "list": {"type": "array", "items": {"type": "object", "properties": {"a": {"type": "string", "default": "x"}}}}
                }}
            }
        });
        let mut o = json!({"apiVersion": "v", "kind": "K", "metadata": {"name": "n", "anything": 1},
            "spec": {"unknown": 1, "free": {"kept": true}, "opt": null, "list": [{}, {"a": "y", "b": 2}]},
            "top": "dropped"});
        prune_and_default(&s, &mut o);
        assert_eq!(
            o,
            json!({"apiVersion": "v", "kind": "K", "metadata": {"name": "n", "anything": 1},
            "spec": {"level": "Normal", "access": {"type": "External"}, "free": {"kept": true},
                "list": [{"a": "x"}, {"a": "y"}]}})
        );
    }

    #[test]
    fn compare_finds_every_kind_of_difference() {
        let a = schema();
        assert!(compare(&a, &a).is_empty());
        let mut b = a.clone();
        b["properties"]["spec"]["properties"]["replicas"]["maximum"] = json!(5.0);
        assert!(compare(&a, &b).is_empty(), "5 and 5.0 are the same bound");
        b["properties"]["spec"]["properties"]["replicas"]["maximum"] = json!(6);
        b["properties"]["spec"]["required"] = json!([]);
        b["properties"]["spec"]["properties"]["level"]["default"] = json!("Normal");
        b["properties"]["spec"]["properties"]["extra"] = json!({"type": "string"});
        b["properties"]["spec"]["properties"]["labels"]["additionalProperties"]["pattern"] =
            json!("x");
        let diffs = compare(&a, &b);
        for want in [
            "spec.replicas: maximum differs",
            "spec: required differs",
            "spec.level: default differs",
            "spec.extra: property only in ours",
            "spec.labels{}: pattern differs",
        ] {
            assert!(diffs.iter().any(|d| d.starts_with(want)), "{diffs:?} lacks {want}");
        }
    }
}
