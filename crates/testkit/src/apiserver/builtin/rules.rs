//! The value rules kube-apiserver's validation is built from (names, label keys and values,
//! selectors, ports, percents), with upstream's messages
//! (k8s.io/apimachinery/pkg/util/validation, apimachinery's metav1 validation).

use std::sync::LazyLock;

use regex::Regex;
use serde_json::Value;

use crate::field::{self, Cause};

fn re(p: &str) -> Regex {
    Regex::new(p).expect("pattern")
}

static DNS1123_LABEL: LazyLock<Regex> = LazyLock::new(|| re("^[a-z0-9]([-a-z0-9]*[a-z0-9])?$"));
static DNS1123_SUBDOMAIN: LazyLock<Regex> =
    LazyLock::new(|| re(r"^[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$"));
static DNS1035_LABEL: LazyLock<Regex> = LazyLock::new(|| re("^[a-z]([-a-z0-9]*[a-z0-9])?$"));
static QUALIFIED_NAME: LazyLock<Regex> =
    LazyLock::new(|| re("^([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]$"));
static LABEL_VALUE: LazyLock<Regex> =
    LazyLock::new(|| re("^(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?$"));
static CONFIG_KEY: LazyLock<Regex> = LazyLock::new(|| re("^[-._a-zA-Z0-9]+$"));
static PERCENT: LazyLock<Regex> = LazyLock::new(|| re("^[0-9]+%$"));
static IANA_SVC_NAME: LazyLock<Regex> = LazyLock::new(|| re("^[-a-z0-9]+$"));
static LETTER: LazyLock<Regex> = LazyLock::new(|| re("[a-z]"));

pub const DNS1123_LABEL_MSG: &str = "a lowercase RFC 1123 label must consist of lower case alphanumeric characters or '-', and must start and end with an alphanumeric character (e.g. 'my-name',  or '123-abc', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?')";
pub const DNS1123_SUBDOMAIN_MSG: &str = "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.', and must start and end with an alphanumeric character (e.g. 'example.com', regex used for validation is '[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
pub const DNS1035_LABEL_MSG: &str = "a DNS-1035 label must consist of lower case alphanumeric characters or '-', start with an alphabetic character, and end with an alphanumeric character (e.g. 'my-name',  or 'abc-123', regex used for validation is '[a-z]([-a-z0-9]*[a-z0-9])?')";
const QUALIFIED_NAME_MSG: &str = "name part must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]')";
const QUALIFIED_FULL_MSG: &str = "a qualified name must consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyName',  or 'my.name',  or '123-abc', regex used for validation is '([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9]') with an optional DNS subdomain prefix and '/' (e.g. 'example.com/MyName')";
const LABEL_VALUE_MSG: &str = "a valid label must be an empty string or consist of alphanumeric characters, '-', '_' or '.', and must start and end with an alphanumeric character (e.g. 'MyValue',  or 'my_value',  or '12345', regex used for validation is '(([A-Za-z0-9][-A-Za-z0-9_.]*)?[A-Za-z0-9])?')";
pub const CONFIG_KEY_MSG: &str = "a valid config key must consist of alphanumeric characters, '-', '_' or '.' (e.g. 'key.name',  or 'KEY_NAME',  or 'key-name', regex used for validation is '[-._a-zA-Z0-9]+')";
pub const PERCENT_MSG: &str = "a valid percent string must be a numeric string followed by an ending '%' (e.g. '1%',  or '93%', regex used for validation is '[0-9]+%')";

fn too_long(max: usize) -> String {
    format!("must be no more than {max} characters")
}

/// A name checker: the messages of what is wrong with a name (empty: valid).
pub type NameRule = fn(&str) -> Vec<String>;

pub fn dns1123_label(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    if s.len() > 63 {
        out.push(too_long(63));
    }
    if !DNS1123_LABEL.is_match(s) {
        out.push(DNS1123_LABEL_MSG.into());
    }
    out
}

pub fn dns1123_subdomain(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    if s.len() > 253 {
        out.push(too_long(253));
    }
    if !DNS1123_SUBDOMAIN.is_match(s) {
        out.push(DNS1123_SUBDOMAIN_MSG.into());
    }
    out
}

pub fn dns1035_label(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    if s.len() > 63 {
        out.push(too_long(63));
    }
    if !DNS1035_LABEL.is_match(s) {
        out.push(DNS1035_LABEL_MSG.into());
    }
    out
}

/// Names of RBAC objects and other path-segment names: anything but `.`, `..`, `/`, `%`.
pub fn path_segment(s: &str) -> Vec<String> {
    if s == "." || s == ".." {
        return vec![format!("may not be '{s}'")];
    }
    for bad in ["/", "%"] {
        if s.contains(bad) {
            return vec![format!("may not contain '{bad}'")];
        }
    }
    Vec::new()
}

/// A qualified name: `[prefix/]name`, the prefix a DNS subdomain.
pub fn qualified_name(s: &str) -> Vec<String> {
    let parts: Vec<&str> = s.split('/').collect();
    let (prefix, name) = match parts.as_slice() {
        [name] => (None, *name),
        [prefix, name] => (Some(*prefix), *name),
        _ => return vec![QUALIFIED_FULL_MSG.into()],
    };
    let mut out = Vec::new();
    if let Some(p) = prefix {
        if p.is_empty() {
            out.push("prefix part must be non-empty".into());
        } else {
            out.extend(dns1123_subdomain(p).into_iter().map(|m| format!("prefix part {m}")));
        }
    }
    if name.is_empty() {
        out.push("name part must be non-empty".into());
    } else if name.len() > 63 {
        out.push(format!("name part {}", too_long(63)));
    }
    if !name.is_empty() && !QUALIFIED_NAME.is_match(name) {
        out.push(QUALIFIED_NAME_MSG.into());
    }
    out
}

pub fn label_value(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    if s.len() > 63 {
        out.push(too_long(63));
    }
    if !LABEL_VALUE.is_match(s) {
        out.push(LABEL_VALUE_MSG.into());
    }
    out
}

pub fn config_key(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    if s.len() > 253 {
        out.push(too_long(253));
    }
    if !CONFIG_KEY.is_match(s) {
        out.push(CONFIG_KEY_MSG.into());
    }
    if s == "." || s == ".." {
        out.push(format!("must not be '{s}'"));
    } else if s.starts_with("..") {
        out.push("must not start with '..'".into());
    }
    out
}

/// An IANA service name (a named port): at most 15 characters, lowercase letters, digits
/// and single hyphens, with at least one letter.
pub fn port_name(s: &str) -> Vec<String> {
    let mut out = Vec::new();
    if s.len() > 15 {
        out.push(too_long(15));
    }
    if !IANA_SVC_NAME.is_match(s) {
        out.push("must contain only alpha-numeric characters (a-z, 0-9), and hyphens (-)".into());
    }
    if !LETTER.is_match(s) {
        out.push("must contain at least one letter (a-z)".into());
    }
    if s.contains("--") {
        out.push("must not contain consecutive hyphens".into());
    }
    if s.starts_with('-') || s.ends_with('-') {
        out.push("must not begin or end with a hyphen".into());
    }
    out
}

/// One cause per message of `rule` for `value` at `path`.
pub fn check(rule: NameRule, path: &str, value: &str, out: &mut Vec<Cause>) {
    for m in rule(value) {
        out.push(Cause::invalid(path, &Value::String(value.into()), &m));
    }
}

pub fn port_number(path: &str, v: &Value, out: &mut Vec<Cause>) {
    let n = v.as_i64().unwrap_or(0);
    if !(1..=65535).contains(&n) {
        out.push(Cause::invalid(path, v, "must be between 1 and 65535, inclusive"));
    }
}

/// A port given as a number or a name.
pub fn port_or_name(path: &str, v: &Value, out: &mut Vec<Cause>) {
    match v {
        Value::String(s) => check(port_name, path, s, out),
        _ => port_number(path, v, out),
    }
}

pub fn non_negative(path: &str, v: Option<&Value>, out: &mut Vec<Cause>) {
    if let Some(v) = v
        && v.as_i64().is_some_and(|n| n < 0)
    {
        out.push(Cause::invalid(path, v, "must be greater than or equal to 0"));
    }
}

pub fn positive(path: &str, v: Option<&Value>, out: &mut Vec<Cause>) {
    if let Some(v) = v
        && v.as_i64().is_some_and(|n| n <= 0)
    {
        out.push(Cause::invalid(path, v, "must be greater than 0"));
    }
}

/// An enum field: `NotSupported` when set to something else.
pub fn one_of(path: &str, v: Option<&Value>, allowed: &[&str], out: &mut Vec<Cause>) {
    if let Some(v) = v
        && !v.as_str().is_some_and(|s| allowed.contains(&s))
    {
        out.push(Cause::not_supported(path, v, allowed));
    }
}

/// An int-or-percent (`ValidatePositiveIntOrPercent`); returns its value for the
/// cross-field checks (a percent as its number).
pub fn int_or_percent(path: &str, v: Option<&Value>, out: &mut Vec<Cause>) -> Option<i64> {
    let v = v?;
    match v {
        Value::String(s) => {
            if !PERCENT.is_match(s) {
                out.push(Cause::invalid(path, v, PERCENT_MSG));
                return None;
            }
            s.trim_end_matches('%').parse().ok()
        }
        _ => {
            let n = v.as_i64().unwrap_or(0);
            if n < 0 {
                out.push(Cause::invalid(path, v, "must be greater than or equal to 0"));
            }
            Some(n)
        }
    }
}

pub fn not_over_100_percent(path: &str, v: Option<&Value>, out: &mut Vec<Cause>) {
    if let Some(s) = v.and_then(Value::as_str)
        && PERCENT.is_match(s)
        && s.trim_end_matches('%').parse::<u64>().is_ok_and(|n| n > 100)
    {
        out.push(Cause::invalid(path, &Value::String(s.into()), "must not be greater than 100%"));
    }
}

/// `ValidateLabels`: keys qualified names, values label values; causes at `path` itself.
pub fn labels(path: &str, v: Option<&Value>, out: &mut Vec<Cause>) {
    let Some(m) = v.and_then(Value::as_object) else { return };
    for (k, val) in m {
        check(qualified_name, path, k, out);
        match val.as_str() {
            Some(s) => check(label_value, path, s, out),
            None => out.push(Cause::invalid(path, val, "must be a string")),
        }
    }
}

/// `ValidateAnnotations`: keys qualified names (prefix lowercase), total size ≤ 256 KiB.
pub fn annotations(path: &str, v: Option<&Value>, out: &mut Vec<Cause>) {
    const MAX: usize = 256 * 1024;
    let Some(m) = v.and_then(Value::as_object) else { return };
    let mut total = 0;
    for (k, val) in m {
        check(qualified_name, path, &k.to_lowercase(), out);
        total += k.len() + val.as_str().map_or(0, str::len);
    }
    if total > MAX {
        out.push(Cause::too_long(path, MAX));
    }
}

/// `ValidateLabelSelector`.
pub fn label_selector(path: &str, v: Option<&Value>, out: &mut Vec<Cause>) {
    let Some(sel) = v else { return };
    labels(&field::child(path, "matchLabels"), sel.get("matchLabels"), out);
    let exprs = sel.get("matchExpressions").and_then(Value::as_array).into_iter().flatten();
    for (i, e) in exprs.enumerate() {
        let at = field::index(&field::child(path, "matchExpressions"), i);
        let values = e.get("values").and_then(Value::as_array).map_or(0, Vec::len);
        match e.get("operator").and_then(Value::as_str).unwrap_or("") {
            "In" | "NotIn" if values == 0 => out.push(Cause::required(
                &field::child(&at, "values"),
                "must be specified when `operator` is 'In' or 'NotIn'",
            )),
            "Exists" | "DoesNotExist" if values > 0 => out.push(Cause::forbidden(
                &field::child(&at, "values"),
                "may not be specified when `operator` is 'Exists' or 'DoesNotExist'",
            )),
            "In" | "NotIn" | "Exists" | "DoesNotExist" => {}
            other => out.push(Cause::invalid(
                &field::child(&at, "operator"),
                &Value::String(other.into()),
                "not a valid selector operator",
            )),
        }
        check(
            qualified_name,
            &field::child(&at, "key"),
            e.get("key").and_then(Value::as_str).unwrap_or(""),
            out,
        );
    }
}

/// Whether a label selector (matchLabels and matchExpressions) selects `labels`.
pub fn selector_matches(sel: &Value, labels: &Value) -> bool {
    let get = |k: &str| labels.get(k).and_then(Value::as_str);
    let ml = sel.get("matchLabels").and_then(Value::as_object);
    if ml.is_some_and(|m| m.iter().any(|(k, v)| get(k) != v.as_str())) {
        return false;
    }
    let exprs = sel.get("matchExpressions").and_then(Value::as_array).into_iter().flatten();
    for e in exprs {
        let key = e.get("key").and_then(Value::as_str).unwrap_or("");
        let values: Vec<&str> = e
            .get("values")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(Value::as_str)
            .collect();
        let ok = match e.get("operator").and_then(Value::as_str).unwrap_or("") {
            "In" => get(key).is_some_and(|v| values.contains(&v)),
            "NotIn" => get(key).is_none_or(|v| !values.contains(&v)),
            "Exists" => get(key).is_some(),
            "DoesNotExist" => get(key).is_none(),
            _ => false,
        };
        if !ok {
            return false;
        }
    }
    true
}

/// Whether a selector has no requirement at all.
pub fn selector_empty(sel: &Value) -> bool {
    sel.get("matchLabels").and_then(Value::as_object).is_none_or(|m| m.is_empty())
        && sel.get("matchExpressions").and_then(Value::as_array).is_none_or(Vec::is_empty)
}

/// `ValidateImmutableField`.
pub fn immutable(path: &str, new: Option<&Value>, old: Option<&Value>, out: &mut Vec<Cause>) {
    if new != old {
        out.push(Cause::invalid(path, new.unwrap_or(&Value::Null), "field is immutable"));
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn names_follow_upstream() {
        assert!(dns1123_subdomain("image-registry.x").is_empty());
        assert_eq!(
            dns1123_subdomain(&"a".repeat(254)),
            vec!["must be no more than 253 characters".to_string()]
        );
        assert_eq!(dns1123_label("Ab").len(), 1);
        assert!(dns1035_label("1a").len() == 1 && dns1035_label("a1").is_empty());
        assert!(qualified_name("docker-registry").is_empty());
        assert!(qualified_name("imageregistry.operator.openshift.io/checksum").is_empty());
        assert_eq!(qualified_name("a/b/c"), vec![QUALIFIED_FULL_MSG.to_string()]);
        assert_eq!(port_name("bad_name!").len(), 1);
        assert!(port_name("5000-tcp").is_empty());
        assert!(port_name("5000").len() == 1);
        assert_eq!(
            port_name("1--2"),
            ["must contain at least one letter (a-z)", "must not contain consecutive hyphens"],
            "IsValidPortName's order"
        );
        assert!(path_segment("system:registry").is_empty());
    }

    #[test]
    fn percents_and_selectors() {
        let mut out = Vec::new();
        assert_eq!(int_or_percent("x", Some(&json!("25%")), &mut out), Some(25));
        assert_eq!(int_or_percent("x", Some(&json!("1")), &mut out), None);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].message, format!("Invalid value: \"1\": {PERCENT_MSG}"));
        let sel = json!({"matchLabels": {"a": "1"}, "matchExpressions": [{"key": "b", "operator": "Exists"}]});
        assert!(selector_matches(&sel, &json!({"a": "1", "b": ""})));
        assert!(!selector_matches(&sel, &json!({"a": "1"})));
    }
}
