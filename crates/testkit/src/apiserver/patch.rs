//! Patch types: JSON merge patch (RFC 7386) and JSON patch (RFC 6902).

use serde_json::Value;

/// Applies an RFC 7386 merge patch.
pub fn merge(target: &mut Value, patch: &Value) {
    match patch {
        Value::Object(p) => {
            if !target.is_object() {
                *target = Value::Object(Default::default());
            }
            let t = target.as_object_mut().expect("made an object");
            for (k, v) in p {
                if v.is_null() {
                    t.remove(k);
                } else {
                    merge(t.entry(k.clone()).or_insert(Value::Null), v);
                }
            }
        }
        other => *target = other.clone(),
    }
}

/// Applies an RFC 6902 JSON patch; a failing `test` or a bad path is an error.
///
/// As in kube-apiserver (evanphx/json-patch), a `test` for `null` passes on a missing
/// path: kube-rs's finalizer helper relies on it to add the first finalizer.
pub fn json_patch(target: &mut Value, patch: &Value) -> Result<(), String> {
    let mut ops =
        patch.as_array().cloned().ok_or("invalid JSON patch: not a list of operations")?;
    ops.retain(|op| {
        let null_test = op.get("op").and_then(Value::as_str) == Some("test")
            && op.get("value").is_some_and(Value::is_null);
        let missing =
            op.get("path").and_then(Value::as_str).is_some_and(|p| target.pointer(p).is_none());
        !(null_test && missing)
    });
    let p: json_patch::Patch = serde_json::from_value(Value::Array(ops))
        .map_err(|e| format!("invalid JSON patch: {e}"))?;
    json_patch::patch(target, &p).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn merge_patch_rfc7386_examples() {
        let cases = [
            (json!({"a": "b"}), json!({"a": "c"}), json!({"a": "c"})),
            (json!({"a": "b"}), json!({"b": "c"}), json!({"a": "b", "b": "c"})),
            (json!({"a": "b"}), json!({"a": null}), json!({})),
            (json!({"a": ["b"]}), json!({"a": "c"}), json!({"a": "c"})),
            (
                json!({"a": {"b": "c"}}),
                json!({"a": {"b": "d", "c": null}}),
                json!({"a": {"b": "d"}}),
            ),
            (json!({"a": [{"b": "c"}]}), json!({"a": [1]}), json!({"a": [1]})),
            (json!(["a", "b"]), json!(["c", "d"]), json!(["c", "d"])),
            (json!({"e": null}), json!({"a": 1}), json!({"e": null, "a": 1})),
            (json!({}), json!({"a": {"bb": {"ccc": null}}}), json!({"a": {"bb": {}}})),
        ];
        for (mut t, p, want) in cases {
            merge(&mut t, &p);
            assert_eq!(t, want, "{p}");
        }
    }

    #[test]
    fn json_patch_ops_and_failed_test() {
        let mut t = json!({"metadata": {"finalizers": ["a"]}, "spec": {"x": 1}});
        json_patch(
            &mut t,
            &json!([
                {"op": "test", "path": "/metadata/finalizers", "value": ["a"]},
                {"op": "add", "path": "/metadata/finalizers/-", "value": "b"},
                {"op": "replace", "path": "/spec/x", "value": 2},
                {"op": "remove", "path": "/metadata/finalizers/0"}
            ]),
        )
        .unwrap();
        assert_eq!(t, json!({"metadata": {"finalizers": ["b"]}, "spec": {"x": 2}}));
        let before = t.clone();
        let err = json_patch(&mut t, &json!([{"op": "test", "path": "/spec/x", "value": 3}]))
            .unwrap_err();
        assert!(err.contains("did not match"), "{err}");
        assert_eq!(t, before, "a failed patch changes nothing");
        assert!(json_patch(&mut t, &json!({"op": "add"})).is_err());
        let mut fresh = json!({"metadata": {}});
        json_patch(
            &mut fresh,
            &json!([
                {"op": "test", "path": "/metadata/finalizers", "value": null},
                {"op": "add", "path": "/metadata/finalizers", "value": ["f"]}
            ]),
        )
        .unwrap();
        assert_eq!(
            fresh,
            json!({"metadata": {"finalizers": ["f"]}}),
            "test for null passes on a missing path"
        );
    }
}
