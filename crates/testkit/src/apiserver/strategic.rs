//! Strategic merge patch for the built-in kinds, as kube-apiserver applies it: a JSON merge
//! patch, except that the lists whose fields declare a merge strategy merge by their merge
//! key (containers by `name`, volume mounts by `mountPath`, ...) or, for lists of
//! strings that merge (finalizers), as sets; and the directives `$patch`
//! (`replace`, `delete`, `merge`), `$setElementOrder/<list>`, `$retainKeys` and
//! `$deleteFromPrimitiveList/<list>`.

use serde_json::{Map, Value};

/// How a list field merges.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Strategy {
    /// Replaced whole, as a JSON merge patch does (no `patchStrategy` upstream).
    Replace,
    /// Items with the same value of this key merge; others are added.
    Key(&'static str),
    /// A set of scalars: patch values are added.
    Set,
}

/// The merge strategy of list `field` inside an object of `kind` (what the
/// `patchStrategy`/`patchMergeKey` tags of k8s.io/api say).
fn strategy(kind: &str, parent: &str, field: &str) -> Strategy {
    match field {
        "containers"
        | "initContainers"
        | "ephemeralContainers"
        | "volumes"
        | "env"
        | "imagePullSecrets"
        | "resourceClaims"
        | "schedulingGates" => Strategy::Key("name"),
        // A Service's ports merge by port, a container's by containerPort.
        "ports" if kind == "Service" && parent == "spec" => Strategy::Key("port"),
        "ports" => Strategy::Key("containerPort"),
        "volumeMounts" => Strategy::Key("mountPath"),
        "volumeDevices" => Strategy::Key("devicePath"),
        "hostAliases" => Strategy::Key("ip"),
        "topologySpreadConstraints" => Strategy::Key("topologyKey"),
        "ownerReferences" => Strategy::Key("uid"),
        "conditions" => Strategy::Key("type"),
        "finalizers" if parent == "metadata" => Strategy::Set,
        _ => Strategy::Replace,
    }
}

/// Applies a strategic merge patch to `target`, an object of `kind`.
pub fn apply(kind: &str, target: &mut Value, patch: &Value) -> Result<(), String> {
    let Value::Object(p) = patch else {
        return Err("a strategic merge patch must be a JSON object".into());
    };
    merge_map(kind, "", target, p)
}

fn merge_map(
    kind: &str,
    parent: &str,
    target: &mut Value,
    patch: &Map<String, Value>,
) -> Result<(), String> {
    match patch.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            *target = Value::Object(without_directives(patch));
            return Ok(());
        }
        Some("delete") => {
            *target = Value::Null;
            return Ok(());
        }
        Some("merge") | None => {}
        Some(other) => return Err(format!("unknown patch type: {other:?}")),
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let t = target.as_object_mut().expect("made an object");
    for (k, v) in patch {
        if k.starts_with('$') {
            continue;
        }
        if v.is_null() {
            t.remove(k);
            continue;
        }
        let slot = t.entry(k.clone()).or_insert(Value::Null);
        match v {
            Value::Object(child) => {
                merge_map(kind, k, slot, child)?;
                if slot.is_null() {
                    t.remove(k);
                }
            }
            Value::Array(items) => merge_list(kind, parent, k, slot, items)?,
            other => *slot = other.clone(),
        }
    }
    directives(kind, parent, t, patch)
}

/// The directives of one object of the patch that act on its fields.
fn directives(
    kind: &str,
    parent: &str,
    t: &mut Map<String, Value>,
    patch: &Map<String, Value>,
) -> Result<(), String> {
    for (k, v) in patch {
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            let gone = v.as_array().ok_or("$deleteFromPrimitiveList takes a list")?;
            if let Some(Value::Array(items)) = t.get_mut(field) {
                items.retain(|i| !gone.contains(i));
            }
        } else if let Some(field) = k.strip_prefix("$setElementOrder/") {
            let order = v.as_array().ok_or("$setElementOrder takes a list")?;
            if let Some(Value::Array(items)) = t.get_mut(field) {
                reorder(strategy(kind, parent, field), items, order);
            }
        }
    }
    if let Some(retain) = patch.get("$retainKeys") {
        let keep: Vec<&str> = retain
            .as_array()
            .ok_or("$retainKeys takes a list")?
            .iter()
            .filter_map(Value::as_str)
            .collect();
        t.retain(|k, _| keep.contains(&k.as_str()));
    }
    Ok(())
}

fn without_directives(m: &Map<String, Value>) -> Map<String, Value> {
    m.iter().filter(|(k, _)| !k.starts_with('$')).map(|(k, v)| (k.clone(), v.clone())).collect()
}

fn merge_list(
    kind: &str,
    parent: &str,
    field: &str,
    slot: &mut Value,
    items: &[Value],
) -> Result<(), String> {
    match strategy(kind, parent, field) {
        Strategy::Replace => *slot = Value::Array(items.to_vec()),
        Strategy::Set => {
            let mut list = slot.as_array().cloned().unwrap_or_default();
            for i in items {
                if !list.contains(i) {
                    list.push(i.clone());
                }
            }
            *slot = Value::Array(list);
        }
        Strategy::Key(key) => {
            if items.iter().any(|i| i.get("$patch").and_then(Value::as_str) == Some("replace")) {
                let kept = items.iter().filter(|i| i.get("$patch").is_none()).cloned().collect();
                *slot = Value::Array(kept);
                return Ok(());
            }
            let mut list = slot.as_array().cloned().unwrap_or_default();
            for item in items {
                let Value::Object(p) = item else {
                    return Err(format!("{field}: a list merged by {key} holds objects"));
                };
                let id = p.get(key).ok_or_else(|| {
                    format!("map: {item} does not contain declared merge key: {key}")
                })?;
                let at = list.iter().position(|o| o.get(key) == Some(id));
                match (p.get("$patch").and_then(Value::as_str), at) {
                    (Some("delete"), Some(i)) => {
                        list.remove(i);
                    }
                    (Some("delete"), None) => {}
                    (_, Some(i)) => merge_map(kind, field, &mut list[i], p)?,
                    (_, None) => {
                        let mut added = Value::Null;
                        merge_map(kind, field, &mut added, p)?;
                        list.push(added);
                    }
                }
            }
            *slot = Value::Array(list);
        }
    }
    Ok(())
}

/// `$setElementOrder`: the items the order names come in its order, where such items
/// stood; the others keep their places.
fn reorder(s: Strategy, items: &mut [Value], order: &[Value]) {
    let rank = |v: &Value| match s {
        Strategy::Key(key) => {
            order.iter().position(|o| o.get(key) == v.get(key) && v.get(key).is_some())
        }
        _ => order.iter().position(|o| o == v),
    };
    let slots: Vec<usize> = (0..items.len()).filter(|i| rank(&items[*i]).is_some()).collect();
    let mut named: Vec<Value> = slots.iter().map(|i| items[*i].clone()).collect();
    named.sort_by_key(|v| rank(v).unwrap_or(usize::MAX));
    for (slot, v) in slots.into_iter().zip(named) {
        items[slot] = v;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn patched(kind: &str, mut target: Value, patch: Value) -> Value {
        apply(kind, &mut target, &patch).unwrap();
        target
    }

    #[test]
    fn containers_merge_by_name_and_env_by_name() {
        let d = json!({"spec": {"template": {"spec": {"containers": [
            {"name": "a", "image": "a:1", "env": [{"name": "X", "value": "1"}, {"name": "Y", "value": "2"}]},
            {"name": "b", "image": "b:1"}]}}}});
        let p = json!({"spec": {"template": {"spec": {
            "$setElementOrder/containers": [{"name": "a"}, {"name": "b"}],
            "containers": [{"name": "b", "image": "b:2"},
                {"name": "a", "env": [{"name": "Y", "$patch": "delete"}, {"name": "Z", "value": "3"}]}]}}}});
        let out = patched("Deployment", d, p);
        let c = &out["spec"]["template"]["spec"]["containers"];
        assert_eq!(c[0]["name"], "a");
        assert_eq!(c[0]["image"], "a:1", "fields the patch leaves out stay");
        assert_eq!(c[0]["env"], json!([{"name": "X", "value": "1"}, {"name": "Z", "value": "3"}]));
        assert_eq!(c[1], json!({"name": "b", "image": "b:2"}));
    }

    #[test]
    fn lists_without_a_strategy_are_replaced_and_finalizers_are_a_set() {
        let p = json!({"metadata": {"finalizers": ["b"]}, "spec": {"template": {"spec": {"tolerations": [{"key": "n"}]}}}});
        let out = patched(
            "Deployment",
            json!({"metadata": {"finalizers": ["a"]}, "spec": {"template": {"spec": {"tolerations": [{"key": "m"}, {"key": "o"}]}}}}),
            p,
        );
        assert_eq!(out["metadata"]["finalizers"], json!(["a", "b"]));
        assert_eq!(out["spec"]["template"]["spec"]["tolerations"], json!([{"key": "n"}]));
        let out = patched(
            "Deployment",
            out,
            json!({"metadata": {"$deleteFromPrimitiveList/finalizers": ["a"]}}),
        );
        assert_eq!(out["metadata"]["finalizers"], json!(["b"]));
    }

    #[test]
    fn service_ports_merge_by_port_and_directives_replace_or_retain() {
        let svc = json!({"spec": {"type": "ClusterIP", "ports": [{"port": 80, "name": "http"}, {"port": 443}]}});
        let out =
            patched("Service", svc, json!({"spec": {"ports": [{"port": 80, "targetPort": 8080}]}}));
        assert_eq!(
            out["spec"]["ports"],
            json!([{"port": 80, "name": "http", "targetPort": 8080}, {"port": 443}])
        );
        let out = patched(
            "Service",
            out,
            json!({"spec": {"ports": [{"port": 1}, {"$patch": "replace"}]}}),
        );
        assert_eq!(out["spec"]["ports"], json!([{"port": 1}]));
        let strategy =
            json!({"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}}});
        let out = patched(
            "Deployment",
            json!({"spec": strategy}),
            json!({"spec": {"strategy": {"$retainKeys": ["type"], "type": "Recreate"}}}),
        );
        assert_eq!(out["spec"]["strategy"], json!({"type": "Recreate"}));
        let out = patched(
            "ConfigMap",
            json!({"data": {"a": "1"}}),
            json!({"data": {"$patch": "replace", "b": "2"}}),
        );
        assert_eq!(out["data"], json!({"b": "2"}));
    }

    #[test]
    fn bad_patches_are_errors() {
        let mut d = json!({"spec": {"template": {"spec": {"containers": [{"name": "a"}]}}}});
        let missing_key = json!({"spec": {"template": {"spec": {"containers": [{"image": "x"}]}}}});
        let e = apply("Deployment", &mut d, &missing_key).unwrap_err();
        assert!(e.contains("does not contain declared merge key: name"), "{e}");
        assert!(apply("Deployment", &mut d, &json!([1])).is_err());
        assert!(apply("Deployment", &mut d, &json!({"$patch": "bogus"})).is_err());
    }
}
