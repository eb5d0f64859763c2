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

/// Ingresses and IngressClasses as kube-apiserver 1.34 validates them, and the
/// DefaultIngressClass admission plugin.
#[tokio::test]
async fn ingresses_are_validated_and_get_the_default_class() {
    let s = server().await;
    let classes = "/apis/networking.k8s.io/v1/ingressclasses";
    let bad = send(
        &s,
        "POST",
        classes,
        &json!({"metadata": {"name": "c"}, "spec": {"controller": "nginx"}}),
    )
    .await;
    assert_eq!((bad.code, bad.body["reason"].as_str()), (422, Some("Invalid")), "{}", bad.body);
    assert_eq!(
        bad.body["message"],
        "IngressClass.networking.k8s.io \"c\" is invalid: spec.controller: Invalid value: \"nginx\": must be a domain-prefixed path (such as \"acme.io/foo\")"
    );
    let class = json!({"metadata": {"name": "nginx", "annotations": {"ingressclass.kubernetes.io/is-default-class": "true"}},
        "spec": {"controller": "k8s.io/ingress-nginx", "parameters": {"kind": "K", "name": "p"}}});
    let made = send(&s, "POST", classes, &class).await;
    assert_eq!(made.code, 201, "{}", made.body);
    assert_eq!(made.body["spec"]["parameters"]["scope"], "Cluster", "defaulted");
    let mut changed = made.body.clone();
    changed["spec"]["controller"] = json!("example.com/other");
    let refused = send(&s, "PUT", &format!("{classes}/nginx"), &changed).await;
    assert_eq!(refused.code, 422);
    assert_eq!(
        causes(&refused.body),
        [("FieldValueInvalid".to_string(), "spec.controller".to_string())]
    );

    let ingresses = "/apis/networking.k8s.io/v1/namespaces/ns/ingresses";
    let empty = send(&s, "POST", ingresses, &json!({"metadata": {"name": "x"}, "spec": {}})).await;
    assert_eq!(empty.code, 422, "an Ingress is no longer stored as sent: {}", empty.body);
    assert_eq!(
        empty.body["details"]["causes"][0]["message"],
        "Invalid value: null: either `defaultBackend` or `rules` must be specified"
    );
    let no_type = json!({"metadata": {"name": "x"}, "spec": {"rules": [{"host": "r.example.com",
        "http": {"paths": [{"path": "/", "backend": {"service": {"name": "svc", "port": {"number": 5000}}}}]}}]}});
    let a = send(&s, "POST", ingresses, &no_type).await;
    assert_eq!(
        causes(&a.body),
        [("FieldValueRequired".to_string(), "spec.rules[0].http.paths[0].pathType".to_string())]
    );
    let mut ok = no_type.clone();
    ok["spec"]["rules"][0]["http"]["paths"][0]["pathType"] = json!("Prefix");
    let made = send(&s, "POST", ingresses, &ok).await;
    assert_eq!(made.code, 201, "{}", made.body);
    assert_eq!(made.body["spec"]["ingressClassName"], "nginx", "the default class is given");
    assert_eq!(made.body["metadata"]["generation"], 1);
    let annotated = json!({"metadata": {"name": "y", "annotations": {"kubernetes.io/ingress.class": "other"}},
        "spec": {"defaultBackend": {"service": {"name": "svc", "port": {"number": 80}}}}});
    let a = send(&s, "POST", ingresses, &annotated).await;
    assert_eq!(a.code, 201, "{}", a.body);
    assert!(
        a.body["spec"].get("ingressClassName").is_none(),
        "the annotation is a class: none given"
    );
    assert_eq!(
        a.warnings,
        [
            r#"299 - "annotation \"kubernetes.io/ingress.class\" is deprecated, please use 'spec.ingressClassName' instead""#
        ]
    );
}

/// Pod Security admission: a namespace's `enforce` label refuses Pods that break its level
/// (403) and warns about workloads whose Pods would; the simulated ReplicaSet reports the
/// refusal as its controller does.
#[tokio::test]
async fn pod_security_refuses_pods_and_warns_about_workloads() {
    let s = server().await;
    let ns = json!({"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "restricted"}}});
    let patched = send_merge(&s, "/api/v1/namespaces/ns", &ns).await;
    assert_eq!(patched, 200);
    let pod =
        json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}});
    let a = send(&s, "POST", "/api/v1/namespaces/ns/pods", &pod).await;
    assert_eq!((a.code, a.body["reason"].as_str()), (403, Some("Forbidden")), "{}", a.body);
    assert_eq!(
        a.body["message"],
        "pods \"p\" is forbidden: violates PodSecurity \"restricted:latest\": allowPrivilegeEscalation != false (container \"c\" must set securityContext.allowPrivilegeEscalation=false), unrestricted capabilities (container \"c\" must set securityContext.capabilities.drop=[\"ALL\"]), runAsNonRoot != true (pod or container \"c\" must set securityContext.runAsNonRoot=true), seccompProfile (pod or container \"c\" must set securityContext.seccompProfile.type to \"RuntimeDefault\" or \"Localhost\")"
    );
    assert_eq!(
        (a.body["details"]["name"].as_str(), a.body["details"]["kind"].as_str()),
        (Some("p"), Some("pods"))
    );
    let deployment = json!({"metadata": {"name": "d"}, "spec": {"selector": {"matchLabels": {"a": "b"}},
        "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}});
    let _sim = s.simulate_workloads(Default::default());
    let d = send(&s, "POST", "/apis/apps/v1/namespaces/ns/deployments", &deployment).await;
    assert_eq!(d.code, 201, "workloads are not refused: {}", d.body);
    assert_eq!(d.warnings.len(), 1, "{:?}", d.warnings);
    assert!(d.warnings[0].starts_with(r#"299 - "would violate PodSecurity \"restricted:latest\": allowPrivilegeEscalation != false"#), "{:?}", d.warnings);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(10);
    loop {
        let got = send(&s, "GET", "/apis/apps/v1/namespaces/ns/deployments/d", &Value::Null).await;
        let failure = got
            .body
            .pointer("/status/conditions")
            .and_then(Value::as_array)
            .and_then(|c| c.iter().find(|c| c["type"] == "ReplicaFailure").cloned());
        if let Some(f) = failure {
            assert_eq!(f["reason"], "FailedCreate");
            assert!(f["message"].as_str().unwrap().contains("violates PodSecurity"), "{f}");
            assert_eq!(got.body["status"]["availableReplicas"], 0);
            break;
        }
        assert!(std::time::Instant::now() < deadline, "no ReplicaFailure: {}", got.body);
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }
}

async fn send_merge(server: &ApiServer, path: &str, body: &Value) -> u16 {
    let req = Request::builder()
        .method("PATCH")
        .uri(path)
        .header("content-type", "application/merge-patch+json")
        .body(axum::body::Body::from(serde_json::to_vec(body).unwrap()))
        .unwrap();
    server.router().oneshot(req).await.unwrap().status().as_u16()
}
