//! CRD schemas as kube-apiserver applies them beyond types and bounds: CEL rules
//! (`x-kubernetes-validations`, transition rules on update, ratcheting of unchanged
//! values), `nullable`, list types, and unknown fields under `fieldValidation`. The
//! reference CRDs come from `../shared/crds`; the tests say they skip without it.

use http::Request;
use imageregistry_testkit as testkit;
use serde_json::{Value, json};
use testkit::apiserver::ApiServer;
use tower::ServiceExt as _;

async fn send(server: &ApiServer, method: &str, path: &str, body: &Value) -> (u16, Value, usize) {
    let req = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .body(axum::body::Body::from(serde_json::to_vec(body).unwrap()))
        .unwrap();
    let resp = server.router().oneshot(req).await.unwrap();
    let code = resp.status().as_u16();
    let warnings = resp.headers().get_all("warning").iter().count();
    let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
    (code, serde_json::from_slice(&bytes).unwrap_or(Value::Null), warnings)
}

fn causes(v: &Value) -> Vec<(String, String)> {
    v.pointer("/details/causes")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|c| (c["reason"].as_str().unwrap().into(), c["field"].as_str().unwrap().into()))
        .collect()
}

fn rules(v: &Value, out: &mut Vec<String>) {
    match v {
        Value::Object(m) => {
            for r in
                m.get("x-kubernetes-validations").and_then(Value::as_array).into_iter().flatten()
            {
                out.extend(r.get("rule").and_then(Value::as_str).map(str::to_string));
            }
            m.values().for_each(|x| rules(x, out));
        }
        Value::Array(a) => a.iter().for_each(|x| rules(x, out)),
        _ => {}
    }
}

#[test]
fn every_rule_of_our_crds_and_the_references_compiles() {
    let mut all = Vec::new();
    for crd in api::schema::crds().into_iter().chain(api::schema::openshift_crds()) {
        rules(&serde_json::to_value(crd).unwrap(), &mut all);
    }
    if let Some(shared) = testkit::shared_dir_or_skip("reference CRD rules") {
        for entry in std::fs::read_dir(shared.join("crds")).unwrap() {
            let path = entry.unwrap().path();
            if path.extension().is_some_and(|e| e == "yaml") {
                for doc in testkit::yaml_docs(&std::fs::read_to_string(&path).unwrap()).unwrap() {
                    rules(&doc, &mut all);
                }
            }
        }
    }
    assert!(all.len() > 100, "{} rules found", all.len());
    let failing: Vec<&String> = all.iter().filter(|r| !testkit::cel::compiles(r)).collect();
    assert!(failing.is_empty(), "rules that do not compile: {failing:#?}");
}

async fn reference_server() -> Option<ApiServer> {
    let shared = testkit::shared_dir_or_skip("CRD rules against the reference CRDs")?;
    let server = ApiServer::default();
    server.register_crds_from_dir(&shared.join("crds")).unwrap();
    Some(server)
}

const CONFIGS: &str = "/apis/imageregistry.operator.openshift.io/v1/configs";

fn config(azure: Value) -> Value {
    json!({"apiVersion": "imageregistry.operator.openshift.io/v1", "kind": "Config",
        "metadata": {"name": "cluster"},
        "spec": {"managementState": "Managed", "replicas": 1, "storage": {"azure": azure}}})
}

#[tokio::test]
async fn cel_rules_refuse_and_transition_rules_hold_on_update() {
    let Some(s) = reference_server().await else { return };
    let bad =
        config(json!({"networkAccess": {"type": "External", "internal": {"vnetName": "vnet"}}}));
    let (code, body, _) = send(&s, "POST", CONFIGS, &bad).await;
    assert_eq!(code, 422, "{body}");
    assert_eq!(
        causes(&body),
        vec![("FieldValueInvalid".into(), "spec.storage.azure.networkAccess".into())]
    );
    assert!(
        body["message"]
            .as_str()
            .unwrap()
            .contains("internal is forbidden when type is not Internal")
    );

    let (code, created, _) = send(&s, "POST", CONFIGS, &config(json!({}))).await;
    assert_eq!(code, 201, "{created}");
    let status = |rev: i64| {
        let mut c = created.clone();
        c["status"] = json!({"latestAvailableRevision": rev});
        c["metadata"].as_object_mut().unwrap().remove("resourceVersion");
        c
    };
    let (code, body, _) = send(&s, "PUT", &format!("{CONFIGS}/cluster/status"), &status(5)).await;
    assert_eq!(code, 200, "{body}");
    let (code, body, _) = send(&s, "PUT", &format!("{CONFIGS}/cluster/status"), &status(3)).await;
    assert_eq!(code, 422, "must only increase: {body}");
    assert_eq!(
        causes(&body),
        vec![("FieldValueInvalid".into(), "status.latestAvailableRevision".into())]
    );
}

#[tokio::test]
async fn unknown_fields_of_custom_resources_warn_or_are_refused() {
    let Some(s) = reference_server().await else { return };
    let mut c = config(json!({}));
    c["spec"]["notAField"] = json!(1);
    let (code, body, _) = send(&s, "POST", &format!("{CONFIGS}?fieldValidation=Strict"), &c).await;
    assert_eq!((code, body["reason"].as_str()), (400, Some("BadRequest")), "{body}");
    assert!(body["message"].as_str().unwrap().contains(r#"unknown field "spec.notAField""#));
    let (code, body, warnings) = send(&s, "POST", CONFIGS, &c).await;
    assert_eq!((code, warnings), (201, 1), "{body}");
    assert!(body["spec"].get("notAField").is_none());
}

#[tokio::test]
async fn a_required_nullable_field_given_null_is_present() {
    let Some(s) = reference_server().await else { return };
    let path = "/apis/config.openshift.io/v1/clusterversions";
    let cv = json!({"apiVersion": "config.openshift.io/v1", "kind": "ClusterVersion",
        "metadata": {"name": "version"}, "spec": {"clusterID": "9d3c1b4e-0c2f-4a9b-8e0e-1f2a3b4c5d6e"}});
    let (code, created, _) = send(&s, "POST", path, &cv).await;
    assert_eq!(code, 201, "{created}");
    let mut next = created.clone();
    next["status"] = json!({"availableUpdates": null, "desired": {"version": "4.21.0", "image": "x"},
        "observedGeneration": 1, "versionHash": "h"});
    let (code, body, _) = send(&s, "PUT", &format!("{path}/version/status"), &next).await;
    assert_eq!(code, 200, "a real server accepts availableUpdates: null: {body}");
    assert!(body["status"].get("availableUpdates").is_some_and(Value::is_null), "{body}");
}

#[test]
fn list_types_refuse_duplicates() {
    let schema = json!({"type": "object", "properties": {
        "set": {"type": "array", "x-kubernetes-list-type": "set", "items": {"type": "string"}},
        "map": {"type": "array", "x-kubernetes-list-type": "map", "x-kubernetes-list-map-keys": ["name"],
            "items": {"type": "object", "properties": {"name": {"type": "string"}, "v": {"type": "integer"}}}}}});
    let obj = json!({"set": ["a", "b", "a"], "map": [{"name": "x", "v": 1}, {"name": "y"}, {"name": "x", "v": 2}]});
    let errs = testkit::schema::validate(&schema, &obj).unwrap_err();
    let mut got: Vec<(&str, &str)> = errs.iter().map(|c| (c.reason, c.field.as_str())).collect();
    got.sort();
    assert_eq!(got, vec![("FieldValueDuplicate", "map[2]"), ("FieldValueDuplicate", "set[2]")]);
}

/// A default added by a newer CRD shows on objects stored before it, on read.
#[tokio::test]
async fn defaults_of_a_new_crd_version_apply_on_read() {
    let crd = |with_default: bool| {
        let mut size = json!({"type": "string"});
        if with_default {
            size["default"] = json!("small");
        }
        json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "widgets.example.com"},
            "spec": {"group": "example.com", "scope": "Cluster",
                "names": {"plural": "widgets", "singular": "widget", "kind": "Widget"},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                        "spec": {"type": "object", "properties": {"size": size}}}}}}]}})
    };
    let s = ApiServer::default();
    s.register_crd(crd(false)).unwrap();
    let path = "/apis/example.com/v1/widgets";
    let w = json!({"apiVersion": "example.com/v1", "kind": "Widget", "metadata": {"name": "w"}, "spec": {}});
    let (code, created, _) = send(&s, "POST", path, &w).await;
    assert_eq!(code, 201, "{created}");
    assert!(created["spec"].get("size").is_none());
    s.register_crd(crd(true)).unwrap();
    let (code, read, _) = send(&s, "GET", &format!("{path}/w"), &Value::Null).await;
    assert_eq!(code, 200);
    assert_eq!(read["spec"]["size"], "small", "{read}");
    assert_eq!(read["metadata"]["resourceVersion"], created["metadata"]["resourceVersion"]);
}

/// Ratcheting: an update may keep a value a newer schema refuses, not change it to one.
#[tokio::test]
async fn unchanged_invalid_values_ratchet_on_update() {
    let crd = |pattern: bool| {
        let mut name = json!({"type": "string"});
        if pattern {
            name["pattern"] = json!("^[a-z]+$");
        }
        json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": "gadgets.example.com"},
            "spec": {"group": "example.com", "scope": "Cluster",
                "names": {"plural": "gadgets", "singular": "gadget", "kind": "Gadget"},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object", "properties": {
                        "spec": {"type": "object", "properties": {"name": name, "n": {"type": "integer"}}}}}}}]}})
    };
    let s = ApiServer::default();
    s.register_crd(crd(false)).unwrap();
    let path = "/apis/example.com/v1/gadgets";
    let g = |name: &str, n: i64| {
        json!({"apiVersion": "example.com/v1", "kind": "Gadget", "metadata": {"name": "g"},
            "spec": {"name": name, "n": n}})
    };
    assert_eq!(send(&s, "POST", path, &g("BAD", 1)).await.0, 201);
    s.register_crd(crd(true)).unwrap();
    let (code, body, _) = send(&s, "PUT", &format!("{path}/g"), &g("BAD", 2)).await;
    assert_eq!(code, 200, "the unchanged value ratchets: {body}");
    let (code, body, _) = send(&s, "PUT", &format!("{path}/g"), &g("WORSE", 3)).await;
    assert_eq!(code, 422, "{body}");
    assert_eq!(causes(&body), vec![("FieldValueInvalid".into(), "spec.name".into())]);
    assert_eq!(
        send(&s, "POST", path, &{
            let mut x = g("BAD", 1);
            x["metadata"]["name"] = json!("h");
            x
        })
        .await
        .0,
        422,
        "a create does not ratchet"
    );
}
