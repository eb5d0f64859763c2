//! The IBM COS driver: IAM, Resource Controller and Resource Manager through a stand-in
//! written from IBM's public API documentation, and the bucket on moto (the COS data plane
//! speaks S3).

use std::sync::{Arc, Mutex};

use api::Infrastructure;
use api::imageregistry::{ImageRegistryConfigStorage, ImageRegistryConfigStorageIbmCos};
use axum::extract::{Path, Query, State};
use axum::http::{HeaderMap, StatusCode};
use axum::routing::{get, post};
use axum::{Form, Json, Router};
use base64::Engine;
use imageregistry_storage::Credentials;
use imageregistry_storage::provision::{ConditionStatus, Outcome, Provisioner, Request};
use serde_json::{Value, json};
use testkit::emulators;

#[derive(Default)]
struct Cloud {
    instances: Vec<Value>,
    keys: Vec<Value>,
}

type Shared = Arc<Mutex<Cloud>>;

fn token() -> String {
    let enc = |v: &Value| base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(v.to_string());
    format!("{}.{}.sig", enc(&json!({"alg": "RS256"})), enc(&json!({"account": {"bss": "acct-1"}})))
}

fn authorized(h: &HeaderMap) -> bool {
    h.get("authorization").and_then(|v| v.to_str().ok()) == Some(&format!("Bearer {}", token()))
}

fn denied() -> (StatusCode, Json<Value>) {
    (
        StatusCode::UNAUTHORIZED,
        Json(json!({"errors": [{"code": "not_authorized", "message": "bad token"}]})),
    )
}

fn fake() -> Router {
    let state: Shared = Arc::default();
    Router::new()
        .route(
            "/identity/token",
            post(|Form(f): Form<std::collections::HashMap<String, String>>| async move {
                if f.get("grant_type").map(String::as_str) != Some("urn:ibm:params:oauth:grant-type:apikey")
                    || f.get("apikey").map(String::as_str) != Some("good-key")
                {
                    return (
                        StatusCode::BAD_REQUEST,
                        Json(json!({"errorCode": "BXNIM0415E", "errorMessage": "Provided API key could not be found."})),
                    );
                }
                (StatusCode::OK, Json(json!({"access_token": token(), "token_type": "Bearer", "expires_in": 3600})))
            }),
        )
        .route(
            "/v2/resource_groups",
            get(|h: HeaderMap, Query(q): Query<std::collections::HashMap<String, String>>| async move {
                if !authorized(&h) {
                    return denied();
                }
                let found = q.get("account_id").map(String::as_str) == Some("acct-1")
                    && q.get("name").map(String::as_str) == Some("rg1");
                let resources = if found { json!([{"id": "rg-id-1", "name": "rg1"}]) } else { json!([]) };
                (StatusCode::OK, Json(json!({"resources": resources})))
            }),
        )
        .route(
            "/v2/resource_instances",
            get(|State(s): State<Shared>, h: HeaderMap, Query(q): Query<std::collections::HashMap<String, String>>| async move {
                if !authorized(&h) {
                    return denied();
                }
                let c = s.lock().unwrap();
                let found: Vec<Value> = c
                    .instances
                    .iter()
                    .filter(|i| Some(&i["name"]) == q.get("name").map(|n| json!(n)).as_ref())
                    .filter(|i| Some(&i["resource_group_id"]) == q.get("resource_group_id").map(|n| json!(n)).as_ref())
                    .cloned()
                    .collect();
                (StatusCode::OK, Json(json!({"resources": found})))
            })
            .post(|State(s): State<Shared>, h: HeaderMap, Json(b): Json<Value>| async move {
                if !authorized(&h) {
                    return denied();
                }
                assert_eq!(b["resource_plan_id"], "744bfc56-d12c-4866-88d5-dac9139e0e5d");
                assert_eq!(b["target"], "bluemix-global");
                let mut c = s.lock().unwrap();
                let n = c.instances.len() + 1;
                let i = json!({"name": b["name"], "resource_group_id": b["resource_group"], "guid": format!("guid-{n}"),
                    "crn": format!("crn:v1:bluemix:public:cloud-object-storage:global:a/acct-1:guid-{n}::"),
                    "state": "active", "tags": b["tags"]});
                c.instances.push(i.clone());
                (StatusCode::CREATED, Json(i))
            }),
        )
        .route(
            "/v2/resource_instances/{crn}",
            get(|State(s): State<Shared>, h: HeaderMap, Path(crn): Path<String>| async move {
                if !authorized(&h) {
                    return denied();
                }
                match s.lock().unwrap().instances.iter().find(|i| i["crn"] == crn.as_str()) {
                    Some(i) => (StatusCode::OK, Json(i.clone())),
                    None => (StatusCode::NOT_FOUND, Json(json!({"errors": [{"code": "not_found", "message": "no such instance"}]}))),
                }
            }),
        )
        .route(
            "/v2/resource_keys",
            get(|State(s): State<Shared>, h: HeaderMap, Query(q): Query<std::collections::HashMap<String, String>>| async move {
                if !authorized(&h) {
                    return denied();
                }
                let c = s.lock().unwrap();
                let found: Vec<Value> =
                    c.keys.iter().filter(|k| Some(&k["name"]) == q.get("name").map(|n| json!(n)).as_ref()).cloned().collect();
                (StatusCode::OK, Json(json!({"resources": found})))
            })
            .post(|State(s): State<Shared>, h: HeaderMap, Json(b): Json<Value>| async move {
                if !authorized(&h) {
                    return denied();
                }
                assert_eq!(b["parameters"]["HMAC"], true);
                let mut c = s.lock().unwrap();
                let n = c.keys.len() + 1;
                let k = json!({"name": b["name"], "source_crn": b["source"],
                    "crn": format!("crn:v1:bluemix:public:cloud-object-storage:global:a/acct-1:guid-1:resource-key:key-{n}"),
                    "credentials": {"iam_role_crn": b["role"],
                        "cos_hmac_keys": {"access_key_id": "HMACID", "secret_access_key": "HMACSECRET"}}});
                c.keys.push(k.clone());
                (StatusCode::CREATED, Json(k))
            }),
        )
        .route(
            "/v2/resource_keys/{crn}",
            get(|State(s): State<Shared>, h: HeaderMap, Path(crn): Path<String>| async move {
                if !authorized(&h) {
                    return denied();
                }
                match s.lock().unwrap().keys.iter().find(|k| k["crn"] == crn.as_str()) {
                    Some(k) => (StatusCode::OK, Json(k.clone())),
                    None => (StatusCode::NOT_FOUND, Json(json!({"errors": [{"code": "not_found", "message": "no such key"}]}))),
                }
            }),
        )
        .with_state(state)
}

/// The location is `us-east-1`: moto checks a LocationConstraint against the signing
/// region except in us-east-1, and COS's `<location>-smart` constraint is no AWS region.
fn infra(ibm: &str, cos: &str) -> Infrastructure {
    serde_json::from_value(json!({"metadata": {"name": "cluster"}, "spec": {},
        "status": {"infrastructureName": "i1-x7k2p", "platformStatus": {"type": "IBMCloud", "ibmcloud": {
            "location": "us-east-1", "resourceGroupName": "rg1", "serviceEndpoints": [
                {"name": "IAM", "url": ibm}, {"name": "ResourceController", "url": ibm},
                {"name": "ResourceManager", "url": ibm}, {"name": "COS", "url": cos}]}}}}))
    .unwrap()
}

fn cond<'a>(o: &'a Outcome, t: &str) -> (&'a ConditionStatus, &'a str) {
    let c = o.conditions.iter().find(|c| c.type_ == t).unwrap_or_else(|| panic!("no {t}: {o:?}"));
    (&c.status, c.reason.as_str())
}

async fn run(
    p: &Provisioner,
    infra: &Infrastructure,
    key: &str,
    spec: &ImageRegistryConfigStorage,
    applied: &ImageRegistryConfigStorage,
    remove: bool,
) -> Outcome {
    let c = Credentials { ibm_api_key: Some(key.into()), ..Default::default() };
    let req = Request {
        spec,
        applied,
        infrastructure: infra,
        credentials: &c,
        source: Default::default(),
        ca: Default::default(),
    };
    if remove { p.remove(&req).await } else { p.ensure(&req).await }
        .expect("IBM COS is a cloud backend")
}

#[tokio::test]
async fn instance_key_and_bucket_are_created_reused_and_the_bucket_removed() {
    let Some(moto) = emulators::or_skip("ibmcos", emulators::moto()) else { return };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let ibm = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, fake()).await });
    let infra = infra(&ibm, &moto.endpoint);
    let p = Provisioner::new();
    let spec = ImageRegistryConfigStorage {
        ibmcos: Some(ImageRegistryConfigStorageIbmCos {
            bucket: "i1-x7k2p-image-registry-us-east-1-abc".into(),
            ..Default::default()
        }),
        ..Default::default()
    };
    let out = run(&p, &infra, "good-key", &spec, &Default::default(), false).await;
    assert!(out.ok(), "{out:?}");
    assert_eq!(cond(&out, "StorageExists"), (&ConditionStatus::True, "Creation Successful"));
    assert_eq!(out.storage.management_state, "Managed");
    let cos = out.storage.ibmcos.clone().unwrap();
    assert!(cos.service_instance_crn.ends_with(":guid-1::"), "{cos:?}");
    assert!(cos.resource_key_crn.contains(":resource-key:key-1"), "{cos:?}");
    assert_eq!(cos.location, "us-east-1");
    let file = out.credentials_file.clone().unwrap();
    assert!(file.contains("aws_access_key_id = HMACID"), "the registry gets the HMAC keys");
    let s3 = imageregistry_storage::provision::s3::path_style_client(
        &moto.endpoint,
        "HMACID",
        "HMACSECRET",
    );
    s3.head_bucket().bucket(&cos.bucket).send().await.expect("the bucket exists");

    // Again, from what was applied: the instance and key are reused by CRN.
    let again = run(&p, &infra, "good-key", &out.storage, &out.storage, false).await;
    assert!(again.ok(), "{again:?}");
    assert_eq!(cond(&again, "StorageExists"), (&ConditionStatus::True, "IBM COS Bucket Exists"));
    assert_eq!(again.storage, out.storage, "nothing new to write back");

    // Removal: the bucket goes; the instance and key stay (as in the reference).
    let gone = run(&p, &infra, "good-key", &out.storage, &out.storage, true).await;
    assert!(gone.ok(), "{gone:?}");
    assert_eq!(cond(&gone, "StorageExists"), (&ConditionStatus::False, "IBM COS Bucket Deleted"));
    assert!(s3.head_bucket().bucket(&cos.bucket).send().await.is_err());

    // A wrong API key: False with IAM's error code, and the key is not shown.
    let refused = run(&p, &infra, "bad-key-value", &spec, &Default::default(), false).await;
    assert_eq!(cond(&refused, "StorageExists"), (&ConditionStatus::False, "BXNIM0415E"));
    assert!(!format!("{refused:?}").contains("bad-key-value"));
}
