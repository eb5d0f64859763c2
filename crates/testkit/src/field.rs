//! Field errors as kube-apiserver reports them in a 422 `Invalid` Status: one cause per
//! problem, with the reason (`FieldValueInvalid`, `FieldValueRequired`, ...), the path of
//! the field (`spec.template.spec.containers[0].name`, `data[key]`) and a message that
//! starts the way upstream's `field.Error` does ("Invalid value: ...", "Required value").
//!
//! Facts followed: k8s.io/apimachinery/pkg/util/validation/field (error types and their
//! `StatusCause` reasons), k8s.io/apimachinery/pkg/api/errors.NewInvalid (the Status).

use serde_json::Value;

/// One problem with one field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cause {
    /// `FieldValueInvalid`, `FieldValueRequired`, `FieldValueNotSupported`, ...
    pub reason: &'static str,
    /// The field's path; `<nil>` for a problem of the whole object.
    pub field: String,
    pub message: String,
}

/// How a value is shown in a message: strings quoted, the rest as JSON.
pub fn show(v: &Value) -> String {
    v.to_string()
}

impl Cause {
    fn new(reason: &'static str, field: &str, message: String) -> Self {
        Cause {
            reason,
            field: if field.is_empty() { "<nil>".into() } else { field.into() },
            message,
        }
    }

    /// `Invalid value: <value>: <detail>`.
    pub fn invalid(field: &str, value: &Value, detail: &str) -> Self {
        let mut m = format!("Invalid value: {}", show(value));
        if !detail.is_empty() {
            m.push_str(": ");
            m.push_str(detail);
        }
        Self::new("FieldValueInvalid", field, m)
    }

    /// `Invalid value: <value>: <detail>`, for a value of the wrong JSON type.
    pub fn type_invalid(field: &str, value: &Value, detail: &str) -> Self {
        let c = Self::invalid(field, value, detail);
        Cause { reason: "FieldValueTypeInvalid", ..c }
    }

    /// `Required value[: detail]`.
    pub fn required(field: &str, detail: &str) -> Self {
        let m = if detail.is_empty() {
            "Required value".to_string()
        } else {
            format!("Required value: {detail}")
        };
        Self::new("FieldValueRequired", field, m)
    }

    /// `Unsupported value: <value>: supported values: "a", "b"`.
    pub fn not_supported(field: &str, value: &Value, supported: &[&str]) -> Self {
        let list: Vec<String> = supported.iter().map(|s| format!("{s:?}")).collect();
        Self::new(
            "FieldValueNotSupported",
            field,
            format!("Unsupported value: {}: supported values: {}", show(value), list.join(", ")),
        )
    }

    /// `Duplicate value: <value>`.
    pub fn duplicate(field: &str, value: &Value) -> Self {
        Self::new("FieldValueDuplicate", field, format!("Duplicate value: {}", show(value)))
    }

    /// `Not found: <value>`.
    pub fn not_found(field: &str, value: &Value) -> Self {
        Self::new("FieldValueNotFound", field, format!("Not found: {}", show(value)))
    }

    /// `Forbidden: <detail>`.
    pub fn forbidden(field: &str, detail: &str) -> Self {
        Self::new("FieldValueForbidden", field, format!("Forbidden: {detail}"))
    }

    /// `Too long: may not be more than <max> bytes`.
    pub fn too_long(field: &str, max: usize) -> Self {
        Self::new("FieldValueTooLong", field, format!("Too long: may not be more than {max} bytes"))
    }

    /// `Too many: <n>: must have at most <max> items`.
    pub fn too_many(field: &str, n: usize, max: usize) -> Self {
        Self::new(
            "FieldValueTooMany",
            field,
            format!("Too many: {n}: must have at most {max} items"),
        )
    }

    /// `field: message`, as the Status message lists it.
    pub fn line(&self) -> String {
        format!("{}: {}", self.field, self.message)
    }
}

/// `parent.child` (or `child` at the root).
pub fn child(parent: &str, name: &str) -> String {
    if parent.is_empty() { name.to_string() } else { format!("{parent}.{name}") }
}

/// `parent[i]`.
pub fn index(parent: &str, i: usize) -> String {
    format!("{parent}[{i}]")
}

/// `parent[key]`, for map entries.
pub fn key(parent: &str, k: &str) -> String {
    format!("{parent}[{k}]")
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn messages_and_reasons_follow_upstream() {
        let c = Cause::invalid("spec.replicas", &json!(-1), "must be greater than or equal to 0");
        assert_eq!(c.reason, "FieldValueInvalid");
        assert_eq!(
            c.line(),
            "spec.replicas: Invalid value: -1: must be greater than or equal to 0"
        );
        let c = Cause::not_supported("spec.x", &json!("Sometimes"), &["Always", "Never"]);
        assert_eq!(
            c.message,
            r#"Unsupported value: "Sometimes": supported values: "Always", "Never""#
        );
        assert_eq!(Cause::required("a", "").message, "Required value");
        assert_eq!(Cause::forbidden("", "x").field, "<nil>");
        assert_eq!(index(&child("spec", "ports"), 2), "spec.ports[2]");
        assert_eq!(key("data", "a/b"), "data[a/b]");
    }
}
