//! CEL validation rules of CRD schemas (`x-kubernetes-validations`), evaluated as
//! apiextensions-apiserver does: each rule at its schema node with `self` bound to the
//! node's value, transition rules (those naming `oldSelf`) only on update where an old
//! value exists, a false result a cause at the node's path (its `fieldPath` appended) with
//! the rule's `reason` (`FieldValueInvalid` when none) and `message` (else "failed rule:
//! <rule>"). The Kubernetes library functions the OpenShift CRDs use (`isIP`, `isCIDR`,
//! `isURL`) and the strings extension (`lowerAscii`, ...) are available.

use std::collections::HashMap;
use std::sync::{Arc, LazyLock, Mutex};

use cel::{Context, Env, Program};
use serde_json::Value;

use crate::field::{self, Cause};

static ENV: LazyLock<Arc<Env>> = LazyLock::new(|| {
    let mut env = Env::stdlib();
    // The strings extension, as Kubernetes enables it.
    let _ = env.add_extension(cel::extensions::strings);
    Arc::new(env)
});

/// A rule compiled once per process; `None` when this CEL implementation cannot read it.
fn compiled(rule: &str) -> Option<Arc<Program>> {
    static CACHE: LazyLock<Mutex<HashMap<String, Option<Arc<Program>>>>> =
        LazyLock::new(Default::default);
    let mut c = CACHE.lock().unwrap_or_else(|e| e.into_inner());
    c.entry(rule.to_string()).or_insert_with(|| ENV.compile(rule).ok().map(Arc::new)).clone()
}

/// Whether `rule` compiles here (every rule of the reference CRDs must: a test checks).
pub fn compiles(rule: &str) -> bool {
    compiled(rule).is_some()
}

fn is_ip(s: Arc<String>) -> bool {
    s.parse::<std::net::IpAddr>().is_ok()
}

fn is_cidr(s: Arc<String>) -> bool {
    let Some((ip, bits)) = s.split_once('/') else { return false };
    let Ok(ip) = ip.parse::<std::net::IpAddr>() else { return false };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    bits.parse::<u8>().is_ok_and(|b| b <= max)
}

fn is_url(s: Arc<String>) -> bool {
    url::Url::parse(&s).is_ok()
}

fn context() -> Context<'static, 'static> {
    let mut ctx = Context::with_env(ENV.clone());
    let _ = ctx.add_function("isIP", is_ip);
    let _ = ctx.add_function("isCIDR", is_cidr);
    let _ = ctx.add_function("isURL", is_url);
    ctx
}

/// What one rule says of a value: `Ok(true)` when it holds.
pub fn evaluate(rule: &str, new: &Value, old: Option<&Value>) -> Result<bool, String> {
    let program = compiled(rule).ok_or_else(|| format!("rule compile error: {rule}"))?;
    let mut ctx = context();
    ctx.add_variable("self", new.clone()).map_err(|e| e.to_string())?;
    if let Some(old) = old {
        ctx.add_variable("oldSelf", old.clone()).map_err(|e| e.to_string())?;
    }
    match program.execute(&ctx) {
        Ok(cel::Value::Bool(b)) => Ok(b),
        Ok(other) => Err(format!("rule did not evaluate to a bool: {other:?}")),
        Err(e) => Err(e.to_string()),
    }
}

fn type_name(schema: &Value) -> &str {
    schema.get("type").and_then(Value::as_str).unwrap_or("object")
}

/// Evaluates every rule of `schema` on `new` (with `old` on update), adding a cause per
/// rule that does not hold.
pub fn validate(
    schema: &Value,
    new: &Value,
    old: Option<&Value>,
    path: &str,
    out: &mut Vec<Cause>,
) {
    if new.is_null() {
        return;
    }
    for r in schema.get("x-kubernetes-validations").and_then(Value::as_array).into_iter().flatten()
    {
        check_rule(schema, r, new, old, path, out);
    }
    match new {
        Value::Object(m) => validate_properties(schema, m, old, path, out),
        Value::Array(items) => validate_items(schema, items, old, path, out),
        _ => {}
    }
}

/// One entry `r` of `x-kubernetes-validations` on the node's value: skipped when it is a
/// transition rule without an old value (unless `optionalOldSelf`) or does not compile
/// here, else a cause when it does not hold or fails to evaluate.
fn check_rule(
    schema: &Value,
    r: &Value,
    new: &Value,
    old: Option<&Value>,
    path: &str,
    out: &mut Vec<Cause>,
) {
    let Some(rule) = r.get("rule").and_then(Value::as_str) else { return };
    let transition = rule.contains("oldSelf");
    let optional_old = r.get("optionalOldSelf") == Some(&Value::Bool(true));
    if transition && old.is_none() && !optional_old {
        return;
    }
    if !compiles(rule) {
        // Not readable here: accepted rather than refused (a test keeps the reference
        // CRDs' rules readable).
        return;
    }
    let at = match r.get("fieldPath").and_then(Value::as_str) {
        Some(fp) => {
            format!("{path}{}", if path.is_empty() { fp.trim_start_matches('.') } else { fp })
        }
        None => path.to_string(),
    };
    let shown = Value::String(type_name(schema).to_string());
    match evaluate(rule, new, old) {
        Ok(true) => {}
        Ok(false) => {
            let message = r
                .get("message")
                .and_then(Value::as_str)
                .map(str::to_string)
                .unwrap_or_else(|| format!("failed rule: {rule}"));
            let cause = match r.get("reason").and_then(Value::as_str) {
                Some("FieldValueForbidden") => Cause::forbidden(&at, &message),
                Some("FieldValueRequired") => Cause::required(&at, &message),
                Some("FieldValueDuplicate") => Cause::duplicate(&at, &shown),
                _ => Cause::invalid(&at, &shown, &message),
            };
            out.push(cause);
        }
        Err(e) => out.push(Cause::invalid(&at, &shown, &e)),
    }
}

/// The rules below an object: each field against its `properties` entry or
/// `additionalProperties`, with the old object's field of the same name.
fn validate_properties(
    schema: &Value,
    m: &serde_json::Map<String, Value>,
    old: Option<&Value>,
    path: &str,
    out: &mut Vec<Cause>,
) {
    let props = schema.get("properties").and_then(Value::as_object);
    let extra = schema.get("additionalProperties").filter(|a| a.is_object());
    for (k, v) in m {
        let Some(s) = props.and_then(|p| p.get(k)).or(extra) else { continue };
        let o = old.and_then(|o| o.get(k));
        validate(s, v, o, &field::child(path, k), out);
    }
}

/// The rules below an array: each item against `items`; an old item correlates only in
/// map lists (`x-kubernetes-list-type: map`), by its `x-kubernetes-list-map-keys`.
fn validate_items(
    schema: &Value,
    items: &[Value],
    old: Option<&Value>,
    path: &str,
    out: &mut Vec<Cause>,
) {
    let Some(s) = schema.get("items") else { return };
    let keys = crate::schema::list_map_keys(schema);
    let is_map = schema.get("x-kubernetes-list-type").and_then(Value::as_str) == Some("map");
    for (i, v) in items.iter().enumerate() {
        let o = if is_map {
            old.and_then(Value::as_array)
                .and_then(|olds| olds.iter().find(|x| keys.iter().all(|k| x.get(*k) == v.get(*k))))
        } else {
            None
        };
        validate(s, v, o, &field::index(path, i), out);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn kubernetes_rules_evaluate() {
        let t = |rule: &str, v: Value| evaluate(rule, &v, None).unwrap();
        assert!(t("isIP(self)", json!("10.0.0.1")));
        assert!(!t("isIP(self)", json!("abc")));
        assert!(t("isCIDR(self)", json!("10.0.0.0/8")));
        assert!(t("self.lowerAscii() != 'cookie'", json!("X-Forwarded")));
        assert!(!t("self.lowerAscii() != 'cookie'", json!("Cookie")));
        assert!(t("self.all(x, self.exists_one(y, x == y))", json!(["a", "b"])));
        assert!(!t("self.all(x, self.exists_one(y, x == y))", json!(["a", "a"])));
        assert!(t("has(self.a) ? self.a > 1 : true", json!({"b": 1})));
        assert!(t("!self.startsWith('openshift-io')", json!("team")));
        assert!(evaluate("self == oldSelf", &json!(1), Some(&json!(1))).unwrap());
        assert!(
            !evaluate("oldSelf == '' || self == oldSelf", &json!("b"), Some(&json!("a"))).unwrap()
        );
    }

    #[test]
    fn failures_are_causes_at_the_rule_node() {
        let schema = json!({"type": "object", "properties": {"spec": {"type": "object",
            "x-kubernetes-validations": [{"rule": "!(has(self.a) && has(self.b))", "message": "a and b are exclusive"}],
            "properties": {"a": {"type": "string"}, "b": {"type": "string"},
                "ip": {"type": "string", "x-kubernetes-validations": [{"rule": "isIP(self)", "reason": "FieldValueForbidden", "message": "not an IP"}]},
                "frozen": {"type": "string", "x-kubernetes-validations": [{"rule": "self == oldSelf", "message": "immutable"}]}}}}});
        let mut out = Vec::new();
        validate(
            &schema,
            &json!({"spec": {"a": "1", "b": "2", "ip": "x", "frozen": "v"}}),
            None,
            "",
            &mut out,
        );
        let got: Vec<(&str, &str)> = out.iter().map(|c| (c.reason, c.field.as_str())).collect();
        assert_eq!(got, vec![("FieldValueInvalid", "spec"), ("FieldValueForbidden", "spec.ip")]);
        assert!(out[0].message.ends_with("a and b are exclusive"), "{:?}", out[0]);
        let mut out = Vec::new();
        let old = json!({"spec": {"frozen": "v"}});
        validate(&schema, &json!({"spec": {"frozen": "w"}}), Some(&old), "", &mut out);
        assert_eq!(out.len(), 1, "transition rule on update: {out:?}");
        assert_eq!(out[0].field, "spec.frozen");
    }
}
