//! The Swift driver against Debian's OpenStack Swift (tempauth) on loopback, and Keystone
//! v3 through a small stand-in identity service that hands out real tempauth tokens.

use api::Infrastructure;
use api::config::InfrastructureStatus;
use api::imageregistry::{ImageRegistryConfigStorage, ImageRegistryConfigStorageSwift};
use imageregistry_storage::Credentials;
use imageregistry_storage::provision::{ConditionStatus, Outcome, Provisioner, Request};
use imageregistry_storage::swift::SwiftCredentials;
use serde_json::{Value, json};
use testkit::emulators;

fn infra() -> Infrastructure {
    Infrastructure {
        status: Some(InfrastructureStatus {
            infrastructure_name: "s1-x7k2p".into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn storage(auth_url: &str, version: &str, container: &str) -> ImageRegistryConfigStorage {
    ImageRegistryConfigStorage {
        swift: Some(ImageRegistryConfigStorageSwift {
            auth_url: auth_url.into(),
            auth_version: version.into(),
            container: container.into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn tester(password: &str) -> Credentials {
    Credentials {
        swift: SwiftCredentials {
            username: "test:tester".into(),
            password: password.into(),
            tenant: "test".into(),
            ..Default::default()
        },
        ..Default::default()
    }
}

fn cond<'a>(o: &'a Outcome, t: &str) -> (&'a ConditionStatus, &'a str) {
    let c = o.conditions.iter().find(|c| c.type_ == t).unwrap_or_else(|| panic!("no {t}: {o:?}"));
    (&c.status, c.reason.as_str())
}

async fn run(
    p: &Provisioner,
    c: &Credentials,
    spec: &ImageRegistryConfigStorage,
    applied: &ImageRegistryConfigStorage,
    remove: bool,
) -> Outcome {
    let infra = infra();
    let req = Request {
        spec,
        applied,
        infrastructure: &infra,
        credentials: c,
        source: Default::default(),
        ca: Default::default(),
    };
    if remove { p.remove(&req).await } else { p.ensure(&req).await }
        .expect("Swift is a cloud backend")
}

/// A tempauth token and storage URL straight from Swift.
async fn tempauth(endpoint: &str) -> (String, String) {
    let r = reqwest::Client::new()
        .get(format!("{endpoint}/auth/v1.0"))
        .header("X-Auth-User", "test:tester")
        .header("X-Auth-Key", "testing")
        .send()
        .await
        .unwrap();
    let h = |n: &str| r.headers()[n].to_str().unwrap().to_string();
    (h("x-auth-token"), h("x-storage-url"))
}

#[tokio::test]
async fn tempauth_create_adopt_and_remove() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let Some(swift) = emulators::or_skip("swift", emulators::swift()) else { return };
    let auth = format!("{}/auth/v1.0", swift.endpoint);
    let p = Provisioner::new();
    let spec = storage(&auth, "1", "registry-s1");
    let out = run(&p, &tester("testing"), &spec, &Default::default(), false).await;
    assert!(out.ok(), "{out:?}");
    assert_eq!(cond(&out, "StorageExists"), (&ConditionStatus::True, "Swift Container Created"));
    assert_eq!(out.storage.management_state, "Managed");

    let (token, url) = tempauth(&swift.endpoint).await;
    let http = reqwest::Client::new();
    let head = http
        .head(format!("{url}/registry-s1"))
        .header("X-Auth-Token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status().as_u16(), 204);
    assert_eq!(head.headers()["x-container-meta-openshiftclusterid"], "s1-x7k2p");
    assert_eq!(head.headers()["x-container-meta-name"], "registry-s1");

    let before = p.round_trips();
    let again = run(&p, &tester("testing"), &out.storage, &out.storage, false).await;
    assert_eq!(cond(&again, "StorageExists"), (&ConditionStatus::True, "Swift container Exists"));
    assert_eq!(p.round_trips() - before, 1, "the token is reused: one HEAD");

    // A user's container: adopted, and kept on removal.
    http.put(format!("{url}/users-container")).header("X-Auth-Token", &token).send().await.unwrap();
    let users = run(
        &p,
        &tester("testing"),
        &storage(&auth, "1", "users-container"),
        &Default::default(),
        false,
    )
    .await;
    assert_eq!(users.storage.management_state, "Unmanaged", "{users:?}");
    let kept = run(&p, &tester("testing"), &users.storage, &users.storage, true).await;
    assert!(kept.ok() && kept.conditions.is_empty());
    let head = http
        .head(format!("{url}/users-container"))
        .header("X-Auth-Token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status().as_u16(), 204, "the user's container is kept");

    // The operator's container is emptied and deleted.
    for i in 0..60 {
        let put = http
            .put(format!("{url}/registry-s1/docker/registry/v2/blobs/{i}"))
            .header("X-Auth-Token", &token)
            .body("blob")
            .send()
            .await
            .unwrap();
        assert!(put.status().is_success());
    }
    let before = p.round_trips();
    let gone = run(&p, &tester("testing"), &out.storage, &out.storage, true).await;
    assert!(gone.ok(), "{gone:?}");
    // List, one bulk delete, list (empty), delete the container (the token is reused).
    assert_eq!(p.round_trips() - before, 4, "objects go in one bulk request");
    assert_eq!(cond(&gone, "StorageExists"), (&ConditionStatus::False, "Swift Container Deleted"));
    let head = http
        .head(format!("{url}/registry-s1"))
        .header("X-Auth-Token", &token)
        .send()
        .await
        .unwrap();
    assert_eq!(head.status().as_u16(), 404);

    // Wrong key: the auth service refuses; Unknown with a clear message, no password shown.
    let refused = run(&p, &tester("wrong-password"), &spec, &Default::default(), false).await;
    assert!(!refused.ok());
    assert_eq!(cond(&refused, "StorageExists"), (&ConditionStatus::False, "401"));
    assert!(!format!("{refused:?}").contains("wrong-password"));
}

#[tokio::test]
async fn keystone_v3_password_and_application_credential() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let Some(swift) = emulators::or_skip("swift keystone", emulators::swift()) else { return };
    let (token, storage_url) = tempauth(&swift.endpoint).await;
    // The identity service: checks the request the way Keystone would and answers with
    // a token Swift accepts (for an hour) and a catalog pointing at it.
    let issued = std::sync::Arc::new(std::sync::atomic::AtomicUsize::new(0));
    let counter = issued.clone();
    let app = axum::Router::new().route(
        "/v3/auth/tokens",
        axum::routing::post(move |axum::Json(body): axum::Json<Value>| {
            let (token, storage_url) = (token.clone(), storage_url.clone());
            let counter = counter.clone();
            async move {
                counter.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                let identity = &body["auth"]["identity"];
                let ok = match identity["methods"][0].as_str() {
                    Some("password") => {
                        identity["password"]["user"]["name"] == "alice"
                            && identity["password"]["user"]["password"] == "s3cret"
                            && identity["password"]["user"]["domain"]["name"] == "Default"
                            && body["auth"]["scope"]["project"]["name"] == "registry"
                    }
                    Some("application_credential") => {
                        identity["application_credential"]["id"] == "app-1"
                            && identity["application_credential"]["secret"] == "app-secret"
                    }
                    _ => false,
                };
                if !ok {
                    return (
                        axum::http::StatusCode::UNAUTHORIZED,
                        [("x-subject-token", String::new())],
                        axum::Json(json!({"error": {"code": 401, "message": "The request you have made requires authentication."}})),
                    );
                }
                (
                    axum::http::StatusCode::CREATED,
                    [("x-subject-token", token)],
                    axum::Json(json!({"token": {
                    "expires_at": (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1)).to_string(),
                    "catalog": [
                        {"type": "identity", "endpoints": [{"interface": "public", "region": "RegionOne", "url": "http://unused"}]},
                        {"type": "object-store", "endpoints": [
                            {"interface": "internal", "region": "RegionOne", "url": "http://127.0.0.1:1/nowhere"},
                            {"interface": "public", "region": "RegionOne", "url": storage_url}]}
                    ]}})),
                )
            }
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let keystone = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });

    let p = Provisioner::new();
    let alice = Credentials {
        swift: SwiftCredentials {
            username: "alice".into(),
            password: "s3cret".into(),
            tenant: "registry".into(),
            region_name: "RegionOne".into(),
            ..Default::default()
        },
        ..Default::default()
    };
    // The auth URL gets its /v3.
    let out =
        run(&p, &alice, &storage(&keystone, "3", "registry-k1"), &Default::default(), false).await;
    assert!(out.ok(), "{out:?}");
    assert_eq!(cond(&out, "StorageExists"), (&ConditionStatus::True, "Swift Container Created"));
    // The token is reused by the next pass, until shortly before it expires.
    let again = run(&p, &alice, &out.storage, &out.storage, false).await;
    assert!(again.ok(), "{again:?}");
    assert_eq!(issued.load(std::sync::atomic::Ordering::SeqCst), 1, "one authentication");

    let app_cred = Credentials {
        swift: SwiftCredentials {
            application_credential_id: "app-1".into(),
            application_credential_secret: "app-secret".into(),
            ..Default::default()
        },
        ..Default::default()
    };
    let out =
        run(&p, &app_cred, &storage(&keystone, "3", "registry-k1"), &Default::default(), false)
            .await;
    assert!(out.ok(), "{out:?}");
    assert_eq!(out.storage.management_state, "Unmanaged", "it exists now: {out:?}");

    let mut wrong = alice.clone();
    wrong.swift.password = "nope".into();
    let out =
        run(&p, &wrong, &storage(&keystone, "3", "registry-k2"), &Default::default(), false).await;
    let message = &out.conditions[0].message;
    assert!(message.contains("401") && message.contains("requires authentication"), "{message}");
}

/// The bootstrap's probe says "no Swift" only when it really is absent: no auth URL, or
/// an identity service whose catalog has no object store. An unreachable or failing
/// identity service is an error to retry, never a reason to settle on a claim.
#[tokio::test]
async fn swift_is_absent_only_when_it_really_is() {
    use axum::http::StatusCode;
    let p = Provisioner::new();
    let creds = |auth_url: &str, version: &str| Credentials {
        swift: SwiftCredentials {
            auth_url: auth_url.into(),
            identity_api_version: version.into(),
            username: "alice".into(),
            password: "s3cret".into(),
            tenant: "registry".into(),
            ..Default::default()
        },
        ..Default::default()
    };
    assert_eq!(p.swift_available(&creds("", "3")).await, Ok(false), "no auth URL");
    // Identity services: one without an object store, one that fails for now, and one
    // whose object store lists containers (or refuses to).
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let catalog = |store: &str| {
        json!({"token": {"catalog": [{"type": "object-store", "endpoints": [
            {"interface": "public", "region": "", "url": format!("{store}")}]}]}})
    };
    let (open, shut) =
        (catalog(&format!("{base}/swift/open")), catalog(&format!("{base}/swift/shut")));
    let app = axum::Router::new()
        .route(
            "/nostore/v3/auth/tokens",
            axum::routing::post(|| async {
                (
                    StatusCode::CREATED,
                    [("x-subject-token", "t")],
                    axum::Json(
                        json!({"token": {"catalog": [{"type": "identity", "endpoints": []}]}}),
                    ),
                )
            }),
        )
        .route(
            "/busy/v3/auth/tokens",
            axum::routing::post(|| async { StatusCode::SERVICE_UNAVAILABLE }),
        )
        .route(
            "/open/v3/auth/tokens",
            axum::routing::post(move || async move {
                (StatusCode::CREATED, [("x-subject-token", "t")], axum::Json(open))
            }),
        )
        .route(
            "/shut/v3/auth/tokens",
            axum::routing::post(move || async move {
                (StatusCode::CREATED, [("x-subject-token", "t")], axum::Json(shut))
            }),
        )
        .route("/swift/open", axum::routing::get(|| async { (StatusCode::OK, "[]") }))
        .route("/swift/shut", axum::routing::get(|| async { StatusCode::FORBIDDEN }));
    tokio::spawn(async move { axum::serve(listener, app).await });
    assert_eq!(p.swift_available(&creds(&format!("{base}/nostore"), "3")).await, Ok(false));
    let busy = p.swift_available(&creds(&format!("{base}/busy"), "3")).await;
    assert!(busy.is_err(), "a 503 is retried: {busy:?}");
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap();
    let unreachable = p.swift_available(&creds(&format!("http://{closed}"), "3")).await;
    assert!(unreachable.is_err(), "an unreachable identity service is retried: {unreachable:?}");
    assert_eq!(p.swift_available(&creds(&format!("{base}/open"), "3")).await, Ok(true));
    assert_eq!(
        p.swift_available(&creds(&format!("{base}/shut"), "3")).await,
        Ok(false),
        "a refused container list"
    );
}

/// The OpenStack CA bundle (the cluster secret's `cacert`) is what the Swift client
/// trusts: a proxy on HTTPS with a certificate only that bundle vouches for is refused
/// without it, and its container created with it.
#[tokio::test]
async fn the_openstack_ca_bundle_is_trusted_instead_of_the_systems() {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let dir = testkit::ScratchDir::new("swift-tls").unwrap();
    let (cert_file, key_file) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_file, cert.cert.pem()).unwrap();
    std::fs::write(&key_file, cert.signing_key.serialize_pem()).unwrap();
    let Some(swift) = emulators::or_skip("swift tls", emulators::swift_tls(&cert_file, &key_file))
    else {
        return;
    };
    assert!(swift.endpoint.starts_with("https://"), "{}", swift.endpoint);
    let auth = format!("{}/auth/v1.0", swift.endpoint);
    let spec = storage(&auth, "1", "registry-tls");
    let p = Provisioner::new();
    let refused = run(&p, &tester("testing"), &spec, &Default::default(), false).await;
    assert!(!refused.ok(), "{refused:?}");
    let message = refused.error.clone().unwrap_or_default();
    assert!(message.contains("UnknownIssuer"), "refused for its certificate: {message}");

    let mut trusting = tester("testing");
    trusting.swift.ca_cert = cert.cert.pem();
    let out = run(&p, &trusting, &spec, &Default::default(), false).await;
    assert_eq!(cond(&out, "StorageExists"), (&ConditionStatus::True, "Swift Container Created"));

    // A bundle that is not PEM says so, and sends nothing.
    trusting.swift.ca_cert = "not a certificate".into();
    let before = p.round_trips();
    let bad = run(&p, &trusting, &spec, &Default::default(), false).await;
    assert!(bad.error.as_deref().unwrap_or("").contains("CA bundle"), "{bad:?}");
    assert_eq!(p.round_trips(), before, "nothing sent");
}
