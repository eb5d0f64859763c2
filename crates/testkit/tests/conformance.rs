//! Replays `../shared/apiserver-conformance/cases.jsonl`, answers a real kube-apiserver
//! 1.34 gave, against the in-memory server, and compares as the corpus README says: the
//! status code; for errors the Status reason and the set of (cause reason, field); for
//! successes the returned object, less what a server allocates or writes at its own pace.
//! Skips, saying so, when `../shared` is not beside the checkout.

use std::collections::{BTreeSet, HashMap};

use http::Request;
use imageregistry_testkit as testkit;
use serde_json::{Value, json};
use testkit::apiserver::ApiServer;
use tower::ServiceExt as _;

const NAMESPACES: &[&str] = &[
    "openshift-image-registry",
    "openshift-config",
    "openshift-config-managed",
    "conformance-updates",
];

/// Replaces every string that a recorded answer returned as a uid or resourceVersion by
/// the value this server returned at the same step.
fn substitute(v: &mut Value, map: &HashMap<String, String>) {
    match v {
        Value::String(s) => {
            if let Some(ours) = map.get(s.as_str()) {
                *s = ours.clone();
            }
        }
        Value::Array(a) => a.iter_mut().for_each(|x| substitute(x, map)),
        Value::Object(o) => o.values_mut().for_each(|x| substitute(x, map)),
        _ => {}
    }
}

/// What the comparison leaves out (the corpus README's list).
fn comparable(mut v: Value) -> Value {
    if let Some(m) = v.get_mut("metadata").and_then(Value::as_object_mut) {
        for k in ["uid", "resourceVersion", "creationTimestamp", "managedFields", "selfLink"] {
            m.remove(k);
        }
        if let Some(a) = m.get_mut("annotations").and_then(Value::as_object_mut) {
            a.remove("deployment.kubernetes.io/revision");
            if a.is_empty() {
                m.remove("annotations");
            }
        }
    }
    let kind = v.get("kind").and_then(Value::as_str).unwrap_or("").to_string();
    if kind == "Service"
        && let Some(s) = v.get_mut("spec").and_then(Value::as_object_mut)
    {
        s.remove("clusterIP");
        s.remove("clusterIPs");
    }
    if matches!(kind.as_str(), "Deployment" | "DaemonSet" | "ReplicaSet" | "Job" | "CronJob")
        && let Some(m) = v.as_object_mut()
    {
        m.remove("status");
    }
    if kind == "Status"
        && let Some(d) = v.get_mut("details").and_then(Value::as_object_mut)
    {
        d.remove("uid");
    }
    v
}

fn causes(v: &Value) -> BTreeSet<(String, String)> {
    v.pointer("/details/causes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| {
            let s = |k: &str| c.get(k).and_then(Value::as_str).unwrap_or("").to_string();
            (s("reason"), s("field"))
        })
        .collect()
}

/// Where two values differ, as JSON-pointer lines.
fn diff(want: &Value, got: &Value, path: &str, out: &mut Vec<String>) {
    match (want, got) {
        (Value::Object(a), Value::Object(b)) => {
            for k in a.keys().chain(b.keys()).collect::<BTreeSet<_>>() {
                let p = format!("{path}/{k}");
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => diff(x, y, &p, out),
                    (Some(x), None) => out.push(format!("{p}: missing (want {x})")),
                    (None, Some(y)) => out.push(format!("{p}: unexpected {y}")),
                    (None, None) => {}
                }
            }
        }
        (Value::Array(a), Value::Array(b)) if a.len() == b.len() => {
            for (i, (x, y)) in a.iter().zip(b).enumerate() {
                diff(x, y, &format!("{path}/{i}"), out);
            }
        }
        _ if want != got => out.push(format!("{path}: want {want}, got {got}")),
        _ => {}
    }
}

async fn send(
    server: &ApiServer,
    method: &str,
    path: &str,
    ct: &str,
    body: Option<&Value>,
) -> (u16, Value) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", ct)
        .body(axum::body::Body::from(
            body.map(|b| serde_json::to_vec(b).unwrap()).unwrap_or_default(),
        ))
        .unwrap();
    let resp = server.router().oneshot(req).await.unwrap();
    let code = resp.status().as_u16();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    (code, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// Runs one case; returns what differed.
async fn replay(server: &ApiServer, case: &Value) -> Vec<String> {
    let mut map = HashMap::new();
    let mut problems = Vec::new();
    for (i, step) in case["steps"].as_array().unwrap().iter().enumerate() {
        let method = step["method"].as_str().unwrap();
        let path = step["path"].as_str().unwrap();
        let ct = step.get("content_type").and_then(Value::as_str).unwrap_or("application/json");
        let mut body = step.get("body").cloned().filter(|b| !b.is_null());
        if let Some(b) = body.as_mut() {
            substitute(b, &map);
        }
        let (code, got) = send(server, method, path, ct, body.as_ref()).await;
        let want = &step["response"];
        let want_code = step["status"].as_u64().unwrap() as u16;
        let at = format!("step {i} ({method} {path})");
        if code != want_code {
            problems.push(format!(
                "{at}: status {code}, want {want_code}: {}",
                got.get("message").unwrap_or(&got)
            ));
            continue;
        }
        for k in ["uid", "resourceVersion"] {
            if let (Some(w), Some(g)) = (
                want.pointer(&format!("/metadata/{k}")).and_then(Value::as_str),
                got.pointer(&format!("/metadata/{k}")).and_then(Value::as_str),
            ) {
                map.insert(w.to_string(), g.to_string());
            }
        }
        if code >= 400 {
            if got.get("reason") != want.get("reason") {
                problems.push(format!(
                    "{at}: reason {:?}, want {:?}",
                    got.get("reason"),
                    want.get("reason")
                ));
            }
            let (g, w) = (causes(&got), causes(want));
            if g != w {
                problems
                    .push(format!("{at}: causes {g:?}, want {w:?}; message: {}", got["message"]));
            }
        } else {
            let mut lines = Vec::new();
            diff(&comparable(want.clone()), &comparable(got), "", &mut lines);
            problems.extend(lines.into_iter().map(|l| format!("{at}: {l}")));
        }
    }
    problems
}

#[tokio::test]
async fn the_server_answers_as_a_real_kube_apiserver() {
    let Some(shared) = testkit::shared_dir_or_skip("apiserver conformance replay") else { return };
    let corpus = shared.join("apiserver-conformance/cases.jsonl");
    let text = std::fs::read_to_string(&corpus).expect("the corpus is readable");
    let server = ApiServer::default();
    server.register_crds_from_dir(&shared.join("crds")).expect("the reference CRDs register");
    for ns in NAMESPACES {
        let (code, v) = send(
            &server,
            "POST",
            "/api/v1/namespaces",
            "application/json",
            Some(&json!({"metadata": {"name": ns}})),
        )
        .await;
        assert_eq!(code, 201, "{v}");
    }
    let mut failures = Vec::new();
    let mut n = 0;
    for line in text.lines().filter(|l| !l.trim().is_empty()) {
        let case: Value = serde_json::from_str(line).expect("a case is JSON");
        n += 1;
        for p in replay(&server, &case).await {
            failures.push(format!("{}: {p}", case["name"].as_str().unwrap_or("?")));
        }
    }
    assert!(n >= 80, "the corpus has {n} cases");
    assert!(
        failures.is_empty(),
        "{} differences over {n} cases:\n{}",
        failures.len(),
        failures.join("\n")
    );
}

/// Every leaf of every valid recorded object, replaced in turn by a value of each JSON
/// type, created for real: the server answers 201 or a 4xx Status, never panics nor
/// answers 5xx, and stores exactly the objects it answered 201 for.
#[tokio::test]
async fn bad_input_never_panics_nor_is_stored() {
    let Some(shared) = testkit::shared_dir_or_skip("bad input over the conformance corpus") else {
        return;
    };
    let text = std::fs::read_to_string(shared.join("apiserver-conformance/cases.jsonl")).unwrap();
    let server = ApiServer::default();
    server.register_crds_from_dir(&shared.join("crds")).unwrap();
    for ns in NAMESPACES {
        send(
            &server,
            "POST",
            "/api/v1/namespaces",
            "application/json",
            Some(&json!({"metadata": {"name": ns}})),
        )
        .await;
    }
    let stored = server.read(|s| s.len());
    let replacements =
        [json!(null), json!(true), json!("x"), json!(-1), json!(1.5), json!([]), json!({})];
    let (mut sent, mut created) = (0, 0);
    for line in text.lines().filter(|l| l.starts_with("{\"name\": \"valid/")) {
        let case: Value = serde_json::from_str(line).unwrap();
        let step = &case["steps"][0];
        let path = step["path"].as_str().unwrap().trim_end_matches("?dryRun=All");
        let body = &step["body"];
        let mut leaves = Vec::new();
        collect_leaves(body, String::new(), &mut leaves);
        for (n, leaf) in leaves.iter().enumerate().filter(|(n, _)| n % 3 == 0) {
            for r in &replacements {
                let mut bad = body.clone();
                *bad.pointer_mut(leaf).unwrap() = r.clone();
                let (code, answer) =
                    send(&server, "POST", path, "application/json", Some(&bad)).await;
                sent += 1;
                created += usize::from(code == 201);
                assert!(
                    code == 201 || (400..500).contains(&code),
                    "{} leaf {n} {leaf} = {r}: {code} {answer}",
                    case["name"]
                );
                if code != 201 {
                    assert_eq!(answer["kind"], "Status", "{answer}");
                }
            }
        }
    }
    assert!(sent > 1000, "{sent} requests");
    assert!(created > 0 && created < sent, "{created} of {sent} created");
    assert_eq!(server.read(|s| s.len()), stored + created, "only what was answered 201 is stored");
}

fn collect_leaves(v: &Value, at: String, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => m.iter().for_each(|(k, x)| {
            collect_leaves(x, format!("{at}/{}", k.replace('~', "~0").replace('/', "~1")), out)
        }),
        Value::Array(a) => {
            a.iter().enumerate().for_each(|(i, x)| collect_leaves(x, format!("{at}/{i}"), out))
        }
        _ => out.push(at),
    }
}
