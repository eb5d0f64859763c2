//! What the workload controllers and the kubelet would make of a Deployment or a
//! DaemonSet, for `kubectl get pods`: a ReplicaSet per pod template (the Deployment's
//! controller), and Pods owned by the ReplicaSet or the DaemonSet whose status follows the
//! simulated readiness. Old ReplicaSets are scaled to zero; surplus Pods are deleted.

use serde_json::{Value, json};

use super::store::{ApiError, DeleteOptions, Store};
use super::types::ResourceType;

/// The line a simulated Pod's log holds.
pub const SIMULATED_LOG: &str =
    "this Pod is simulated by the in-memory API server: no container runs, so it writes no log\n";

/// `rand.SafeEncodeString`'s alphabet: no vowels, no look-alikes.
const SAFE: &[u8] = b"bcdfghjklmnpqrstvwxz2456789";

/// The `pod-template-hash` of a template (stable for one template, as upstream's is).
pub fn template_hash(template: &Value) -> String {
    let mut h: u32 = 0x811c_9dc5;
    for b in template.to_string().bytes() {
        h = (h ^ u32::from(b)).wrapping_mul(0x0100_0193);
    }
    (0..10).map(|i| SAFE[((h >> ((i * 3) % 29)) as usize + i) % SAFE.len()] as char).collect()
}

/// What a write of the simulator returned; a refusal (a bug of the simulator, as what it
/// writes comes from objects the server validated) is said on stderr, not hidden.
fn done<T>(what: &str, r: Result<T, ApiError>) -> Option<T> {
    r.map_err(|e| eprintln!("workload simulator: {what}: {}", e.message)).ok()
}

fn types(s: &Store) -> Option<(ResourceType, ResourceType)> {
    let rs = s.find_type("apps", "v1", "replicasets")?.clone();
    let pods = s.find_type("", "v1", "pods")?.clone();
    Some((rs, pods))
}

fn owner(kind: &str, o: &Value) -> Value {
    json!([{"apiVersion": "apps/v1", "kind": kind, "name": o["metadata"]["name"],
        "uid": o["metadata"]["uid"], "controller": true, "blockOwnerDeletion": true}])
}

fn owned_by<'a>(items: impl Iterator<Item = &'a Value>, uid: &Value) -> Vec<Value> {
    items
        .filter(|o| {
            o.pointer("/metadata/ownerReferences")
                .and_then(Value::as_array)
                .is_some_and(|refs| refs.iter().any(|r| r["uid"] == *uid))
        })
        .cloned()
        .collect()
}

fn name(o: &Value) -> String {
    o.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string()
}

/// Makes the ReplicaSet and Pods of Deployment `d` match its spec; `ready` is whether its
/// Pods become ready. Returns why the API server refused a Pod (Pod Security admission),
/// if it did: the ReplicaSet then has `ReplicaFailure`, as the controller writes it.
pub fn deployment(s: &mut Store, d: &Value, ready: bool, now: &str) -> Option<String> {
    let (rs_type, pod_type) = types(s)?;
    let ns = d.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("").to_string();
    let template = d.pointer("/spec/template").cloned().unwrap_or(json!({}));
    let hash = template_hash(&template);
    let rs_name = format!("{}-{hash}", name(d));
    let replicas = d.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
    let current = owned_by(s.list(&rs_type, &ns), &d["metadata"]["uid"]);
    for old in current.iter().filter(|r| name(r) != rs_name) {
        let mut scaled = old.clone();
        scaled["spec"]["replicas"] = json!(0);
        if let Some(m) = scaled.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("resourceVersion");
        }
        done(
            "scaling an old ReplicaSet to 0",
            s.update(&rs_type, &ns, &name(old), scaled, false, false),
        );
        pods(s, &pod_type, old, 0, ready, now);
    }
    let rs = match current.into_iter().find(|r| name(r) == rs_name) {
        Some(mut rs) => {
            rs["spec"]["replicas"] = json!(replicas);
            if let Some(m) = rs.get_mut("metadata").and_then(Value::as_object_mut) {
                m.remove("resourceVersion");
            }
            done("scaling the ReplicaSet", s.update(&rs_type, &ns, &rs_name, rs, false, false))
        }
        None => {
            let mut t = template.clone();
            t["metadata"]["labels"]["pod-template-hash"] = json!(hash);
            let mut selector = d.pointer("/spec/selector").cloned().unwrap_or(json!({}));
            selector["matchLabels"]["pod-template-hash"] = json!(hash);
            let labels = t["metadata"]["labels"].clone();
            let rs = json!({"metadata": {"name": rs_name, "labels": labels,
                "ownerReferences": owner("Deployment", d)},
                "spec": {"replicas": replicas, "selector": selector, "template": t}});
            done("creating the ReplicaSet", s.create(&rs_type, &ns, rs, false))
        }
    };
    let rs = rs?;
    let (count, refused) = pods(s, &pod_type, &rs, replicas, ready, now);
    let ready_count = if ready { count } else { 0 };
    let mut status = json!({"replicas": count, "fullyLabeledReplicas": count, "readyReplicas": ready_count,
        "availableReplicas": ready_count, "observedGeneration": rs["metadata"]["generation"]});
    if let Some(m) = &refused {
        status["conditions"] = json!([{"type": "ReplicaFailure", "status": "True",
            "reason": "FailedCreate", "message": m, "lastTransitionTime": now}]);
    }
    s.set_status(&rs_type, &ns, &rs_name, status);
    refused
}

/// Makes the Pods of DaemonSet `ds` one per node; returns why the API server refused a
/// Pod, if it did.
pub fn daemon_set(s: &mut Store, ds: &Value, nodes: i64, ready: bool, now: &str) -> Option<String> {
    let (_, pod_type) = types(s)?;
    pods(s, &pod_type, ds, nodes, ready, now).1
}

/// Makes `owner` (a ReplicaSet or a DaemonSet) own `want` Pods of its template, each with
/// a Running status, ready or not. Returns how many it owns, and the message of the first
/// Pod the API server refused (403: the namespace's Pod Security level).
fn pods(
    s: &mut Store,
    pod_type: &ResourceType,
    owner_obj: &Value,
    want: i64,
    ready: bool,
    now: &str,
) -> (i64, Option<String>) {
    let ns =
        owner_obj.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("").to_string();
    let kind = owner_obj.get("kind").and_then(Value::as_str).unwrap_or("ReplicaSet");
    let mut have = owned_by(s.list(pod_type, &ns), &owner_obj["metadata"]["uid"]);
    have.sort_by_key(name);
    let want = usize::try_from(want).unwrap_or(0);
    for extra in have.iter().skip(want) {
        done("deleting a Pod", s.delete(pod_type, &ns, &name(extra), &DeleteOptions::default()));
    }
    let mut count = have.len().min(want);
    let mut refused = None;
    for i in have.len()..want {
        let template = owner_obj.pointer("/spec/template").cloned().unwrap_or(json!({}));
        let mut pod = json!({"metadata": template.get("metadata").cloned().unwrap_or(json!({})),
            "spec": template.get("spec").cloned().unwrap_or(json!({}))});
        pod["metadata"]["generateName"] = json!(format!("{}-", name(owner_obj)));
        pod["metadata"]["ownerReferences"] = owner(kind, owner_obj);
        pod["spec"]["nodeName"] = json!(format!("node-{}", i % 3));
        let created = match s.create(pod_type, &ns, pod, false) {
            Ok(created) => created,
            Err(e) if e.code == 403 => {
                refused.get_or_insert(e.message);
                continue;
            }
            Err(e) => {
                done::<()>("creating a Pod", Err(e));
                continue;
            }
        };
        s.set_status(pod_type, &ns, &name(&created), pod_status(&created, ready, i, now));
        count += 1;
    }
    (count as i64, refused)
}

/// A Running Pod's status as the kubelet writes it.
fn pod_status(pod: &Value, ready: bool, index: usize, now: &str) -> Value {
    let flag = if ready { "True" } else { "False" };
    let containers: Vec<Value> = pod
        .pointer("/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| {
            json!({"name": c["name"], "image": c["image"], "imageID": "", "ready": ready,
                "started": true, "restartCount": 0, "state": {"running": {"startedAt": now}}})
        })
        .collect();
    let ip = format!("10.128.{}.{}", index / 250, index % 250 + 2);
    json!({"phase": "Running", "podIP": ip, "podIPs": [{"ip": ip}], "hostIP": "192.168.0.10",
        "startTime": now, "qosClass": "Burstable", "containerStatuses": containers,
        "conditions": [
            {"type": "PodScheduled", "status": "True", "lastTransitionTime": now},
            {"type": "Initialized", "status": "True", "lastTransitionTime": now},
            {"type": "ContainersReady", "status": flag, "lastTransitionTime": now},
            {"type": "Ready", "status": flag, "lastTransitionTime": now}]})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn template_hashes_are_stable_and_safe() {
        let a = template_hash(&json!({"spec": {"containers": [{"name": "a"}]}}));
        assert_eq!(a, template_hash(&json!({"spec": {"containers": [{"name": "a"}]}})));
        assert_ne!(a, template_hash(&json!({"spec": {"containers": [{"name": "b"}]}})));
        assert_eq!(a.len(), 10);
        assert!(a.bytes().all(|b| SAFE.contains(&b)), "{a}");
    }
}
