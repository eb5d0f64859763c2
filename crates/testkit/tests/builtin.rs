//! Built-in kinds beyond the recorded corpus: what kube-apiserver's decoding, defaults and
//! update rules do, through the HTTP face (status codes, reasons, causes, headers).

use http::Request;
use imageregistry_testkit::apiserver::ApiServer;
use serde_json::{Value, json};
use tower::ServiceExt as _;

struct Answer {
    code: u16,
    body: Value,
    warnings: Vec<String>,
}

async fn send(server: &ApiServer, method: &str, path: &str, body: &Value) -> Answer {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(axum::body::Body::from(serde_json::to_vec(body).unwrap()))
        .unwrap();
    let resp = server.router().oneshot(req).await.unwrap();
    let code = resp.status().as_u16();
    let warnings =
        resp.headers().get_all("warning").iter().map(|v| v.to_str().unwrap().to_string()).collect();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    Answer { code, body: serde_json::from_slice(&bytes).unwrap_or(Value::Null), warnings }
}

async fn server() -> ApiServer {
    let s = ApiServer::default();
    let a = send(&s, "POST", "/api/v1/namespaces", &json!({"metadata": {"name": "ns"}})).await;
    assert_eq!(a.code, 201, "{}", a.body);
    assert_eq!(a.body["metadata"]["labels"]["kubernetes.io/metadata.name"], "ns");
    s
}

fn causes(v: &Value) -> Vec<(String, String)> {
    v.pointer("/details/causes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| (c["reason"].as_str().unwrap().into(), c["field"].as_str().unwrap().into()))
        .collect()
}

#[tokio::test]
async fn unknown_fields_warn_by_default_and_are_refused_when_strict() {
    let s = server().await;
    let cm = json!({"metadata": {"name": "a"}, "data": {"k": "v"}, "spec": {"x": 1}});
    let a = send(&s, "POST", "/api/v1/namespaces/ns/configmaps", &cm).await;
    assert_eq!(a.code, 201);
    assert!(a.body.get("spec").is_none(), "dropped: {}", a.body);
    assert_eq!(a.warnings, vec![r#"299 - "unknown field \"spec\"""#.to_string()]);
    let strict = "/api/v1/namespaces/ns/configmaps?fieldValidation=Strict";
    let b = send(&s, "POST", strict, &json!({"metadata": {"name": "b"}, "spec": {}})).await;
    assert_eq!((b.code, b.body["reason"].as_str()), (400, Some("BadRequest")), "{}", b.body);
    assert!(b.body["message"].as_str().unwrap().contains("unknown field \"spec\""));
}

#[tokio::test]
async fn wrong_types_are_bad_requests_and_quantities_come_back_canonical() {
    let s = server().await;
    let pvc = |size: Value| {
        json!({"metadata": {"name": "c"}, "spec": {"accessModes": ["ReadWriteOnce"],
            "resources": {"requests": {"storage": size}}}})
    };
    let a = send(&s, "POST", "/api/v1/namespaces/ns/persistentvolumeclaims", &pvc(json!("1024Mi")))
        .await;
    assert_eq!(a.code, 201, "{}", a.body);
    assert_eq!(a.body["spec"]["resources"]["requests"]["storage"], "1Gi");
    assert_eq!(a.body["spec"]["volumeMode"], "Filesystem");
    assert_eq!(a.body["metadata"]["finalizers"], json!(["kubernetes.io/pvc-protection"]));
    let bad = pvc(json!("lots"));
    let b = send(&s, "POST", "/api/v1/namespaces/ns/persistentvolumeclaims?dryRun=All", &bad).await;
    assert_eq!(b.code, 400, "{}", b.body);
    let typed = json!({"metadata": {"name": "d"}, "spec": {"replicas": "two"}});
    let c = send(&s, "POST", "/apis/apps/v1/namespaces/ns/deployments", &typed).await;
    assert_eq!((c.code, c.body["reason"].as_str()), (400, Some("BadRequest")), "{}", c.body);
}

#[tokio::test]
async fn immutable_fields_and_what_updates_keep() {
    let s = server().await;
    let svc = json!({"metadata": {"name": "svc"}, "spec": {"ports": [{"port": 80}], "selector": {"a": "b"}}});
    let a = send(&s, "POST", "/api/v1/namespaces/ns/services", &svc).await;
    assert_eq!(a.code, 201, "{}", a.body);
    let ip = a.body["spec"]["clusterIP"].clone();
    assert!(ip.as_str().is_some_and(|ip| ip.parse::<std::net::IpAddr>().is_ok()), "{ip}");
    assert_eq!(a.body["spec"]["ports"][0]["targetPort"], 80);
    // A replace without the cluster IP keeps it; one that changes it is refused.
    let b = send(&s, "PUT", "/api/v1/namespaces/ns/services/svc", &svc).await;
    assert_eq!((b.code, &b.body["spec"]["clusterIP"]), (200, &ip), "{}", b.body);
    let mut moved = svc.clone();
    moved["spec"]["clusterIP"] = json!("10.96.200.200");
    let c = send(&s, "PUT", "/api/v1/namespaces/ns/services/svc", &moved).await;
    assert_eq!(c.code, 422, "{}", c.body);
    assert_eq!(causes(&c.body), vec![("FieldValueInvalid".into(), "spec.clusterIPs[0]".into())]);

    let secret = json!({"metadata": {"name": "s"}, "type": "Opaque", "data": {"k": "dg=="}});
    assert_eq!(send(&s, "POST", "/api/v1/namespaces/ns/secrets", &secret).await.code, 201);
    let mut retyped = secret.clone();
    retyped["type"] = json!("example.com/other");
    let d = send(&s, "PUT", "/api/v1/namespaces/ns/secrets/s", &retyped).await;
    assert_eq!(causes(&d.body), vec![("FieldValueInvalid".into(), "type".into())], "{}", d.body);

    let pvc = json!({"metadata": {"name": "p"}, "spec": {"accessModes": ["ReadWriteOnce"],
        "resources": {"requests": {"storage": "1Gi"}}}});
    assert_eq!(
        send(&s, "POST", "/api/v1/namespaces/ns/persistentvolumeclaims", &pvc).await.code,
        201
    );
    let mut grown = pvc.clone();
    grown["spec"]["resources"]["requests"]["storage"] = json!("2Gi");
    let e = send(&s, "PUT", "/api/v1/namespaces/ns/persistentvolumeclaims/p", &grown).await;
    assert_eq!(e.code, 200, "the size may change: {}", e.body);
    let mut rwx = grown.clone();
    rwx["spec"]["accessModes"] = json!(["ReadWriteMany"]);
    let f = send(&s, "PUT", "/api/v1/namespaces/ns/persistentvolumeclaims/p", &rwx).await;
    assert_eq!(causes(&f.body), vec![("FieldValueForbidden".into(), "spec".into())], "{}", f.body);
}

#[tokio::test]
async fn daemonset_template_generation_follows_template_changes() {
    let s = server().await;
    let ds = |image: &str| {
        json!({"metadata": {"name": "d"}, "spec": {"selector": {"matchLabels": {"a": "b"}},
            "template": {"metadata": {"labels": {"a": "b"}},
                "spec": {"containers": [{"name": "c", "image": image}]}}}})
    };
    let template_gen = |v: &Value| {
        v["metadata"]["annotations"]["deprecated.daemonset.template.generation"].clone()
    };
    let a = send(&s, "POST", "/apis/apps/v1/namespaces/ns/daemonsets", &ds("x:1")).await;
    assert_eq!((a.code, template_gen(&a.body)), (201, json!("1")), "{}", a.body);
    let tmpl = &a.body["spec"]["template"]["spec"];
    assert_eq!(tmpl["containers"][0]["imagePullPolicy"], "IfNotPresent");
    assert_eq!(tmpl["containers"][0]["resources"], json!({}));
    assert_eq!(
        a.body["spec"]["updateStrategy"]["rollingUpdate"],
        json!({"maxUnavailable": 1, "maxSurge": 0})
    );
    let b = send(&s, "PUT", "/apis/apps/v1/namespaces/ns/daemonsets/d", &ds("x:1")).await;
    assert_eq!(template_gen(&b.body), json!("1"), "unchanged template");
    let c = send(&s, "PUT", "/apis/apps/v1/namespaces/ns/daemonsets/d", &ds("x:2")).await;
    assert_eq!(template_gen(&c.body), json!("2"), "{}", c.body);
}

#[tokio::test]
async fn events_live_with_their_object() {
    let s = server().await;
    let ev = |ns: &str| {
        json!({"metadata": {"name": "e"}, "involvedObject": {"kind": "Config", "name": "cluster", "namespace": ns},
            "reason": "R", "message": "m", "type": "Warning"})
    };
    let a = send(&s, "POST", "/api/v1/namespaces/ns/events?dryRun=All", &ev("")).await;
    assert_eq!(a.code, 422, "{}", a.body);
    assert_eq!(
        causes(&a.body),
        vec![("FieldValueInvalid".into(), "involvedObject.namespace".into())]
    );
    let b = send(&s, "POST", "/api/v1/namespaces/ns/events?dryRun=All", &ev("ns")).await;
    assert_eq!(b.code, 201, "{}", b.body);
}
