//! The Azure Blob driver against Azurite on loopback (`scripts/emulators install`): the
//! user's account-key mode, and the Resource Manager mode through a stand-in. Azurite
//! checks the SAS signature, so the driver's signing is exercised for real.

use api::Infrastructure;
use api::imageregistry::{ImageRegistryConfigStorage, ImageRegistryConfigStorageAzure};
use imageregistry_storage::Credentials;
use imageregistry_storage::azure::AzureAuth;
use imageregistry_storage::provision::{ConditionStatus, Outcome, Provisioner, Request};
use testkit::emulators;

/// Azurite's development account and its published key.
const ACCOUNT: &str = "devstoreaccount1";
const KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

fn storage(container: &str) -> ImageRegistryConfigStorage {
    ImageRegistryConfigStorage {
        azure: Some(ImageRegistryConfigStorageAzure {
            account_name: ACCOUNT.into(),
            container: container.into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn cond<'a>(o: &'a Outcome, t: &str) -> (&'a ConditionStatus, &'a str) {
    let c = o.conditions.iter().find(|c| c.type_ == t).unwrap_or_else(|| panic!("no {t}: {o:?}"));
    (&c.status, c.reason.as_str())
}

async fn run(
    p: &Provisioner,
    key: &str,
    spec: &ImageRegistryConfigStorage,
    applied: &ImageRegistryConfigStorage,
    remove: bool,
) -> Outcome {
    let infra = Infrastructure::default();
    let c = Credentials { azure: AzureAuth::AccountKey(key.into()), ..Default::default() };
    let req = Request {
        spec,
        applied,
        infrastructure: &infra,
        credentials: &c,
        source: Default::default(),
        ca: Default::default(),
    };
    if remove { p.remove(&req).await } else { p.ensure(&req).await }
        .expect("Azure is a cloud backend")
}

/// With the user's account key the account and container are the user's: nothing is
/// created, nothing is deleted, the storage is Unmanaged (reason `UserManaged`).
#[tokio::test]
async fn an_account_key_means_the_users_container_kept_on_removal() {
    let Some(azurite) = emulators::or_skip("azure", emulators::azurite()) else { return };
    let p = Provisioner::new().with_azure_blob_endpoint(&azurite.endpoint);
    let exists = |c: &'static str| {
        let p = p.clone();
        async move { p.azure().container_exists(ACCOUNT, KEY, c).await.unwrap() }
    };

    // Named but not there: the operator does not create it.
    let spec = storage("registry-c1");
    let before = p.round_trips();
    let out = run(&p, KEY, &spec, &Default::default(), false).await;
    assert!(out.ok(), "{out:?}");
    assert_eq!(cond(&out, "StorageExists"), (&ConditionStatus::True, "UserManaged"));
    assert_eq!(out.storage.management_state, "Unmanaged");
    assert_eq!(p.round_trips(), before, "no request to the cloud");
    assert!(!exists("registry-c1").await, "no container created");

    // The user's container, with images, survives removal, even when an older status
    // recorded it as Managed (the bug that deleted it).
    p.azure().create_container(ACCOUNT, KEY, "registry-c1").await.unwrap();
    let mut recorded = out.storage.clone();
    recorded.management_state = "Managed".into();
    for applied in [&out.storage, &recorded] {
        let kept = run(&p, KEY, applied, applied, true).await;
        assert!(kept.ok(), "{kept:?}");
        assert_eq!(kept.storage.azure.as_ref().unwrap().container, "registry-c1", "names kept");
        assert!(exists("registry-c1").await, "the user's container is kept");
    }

    // A spec that does not name both is a configuration error.
    let mut no_container = storage("");
    let out = run(&p, KEY, &no_container, &Default::default(), false).await;
    assert!(!out.ok());
    assert_eq!(cond(&out, "StorageExists"), (&ConditionStatus::False, "StorageNotConfigured"));
    assert!(out.error.as_deref().unwrap().contains("container is not specified"), "{out:?}");
    no_container.azure.as_mut().unwrap().account_name.clear();
    no_container.azure.as_mut().unwrap().container = "c".into();
    let out = run(&p, KEY, &no_container, &Default::default(), false).await;
    assert!(out.error.as_deref().unwrap().contains("account name is not specified"), "{out:?}");
    assert!(!format!("{out:?}").contains(KEY), "no key in the outcome");

    // Neither a key nor the cluster's service principal: nothing to provision with.
    let infra = Infrastructure::default();
    let none = Credentials::default();
    let spec = storage("registry-c3");
    let req = Request {
        spec: &spec,
        applied: &Default::default(),
        infrastructure: &infra,
        credentials: &none,
        source: Default::default(),
        ca: Default::default(),
    };
    let out = p.ensure(&req).await.unwrap();
    assert_eq!(cond(&out, "StorageExists"), (&ConditionStatus::Unknown, "NotProvisioned"));
}

/// A stand-in for the Microsoft identity platform and Azure Resource Manager (storage
/// accounts), written from their public REST documentation, on HTTPS with its own CA.
mod arm {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use axum::extract::{Path, Query, State};
    use axum::http::{HeaderMap, StatusCode};
    use axum::routing::{get, post};
    use axum::{Form, Json, Router};
    use serde_json::{Value, json};

    #[derive(Default)]
    pub struct Cloud {
        pub accounts: HashMap<String, Value>,
        pub deleted: Vec<String>,
        /// Containers made through Resource Manager, as (account, container).
        pub containers: std::collections::BTreeSet<(String, String)>,
        pub keys_listed: usize,
        /// The storage API versions accounts were created with.
        pub api_versions: std::collections::BTreeSet<String>,
        /// The managed identity's RSA public key (PKCS#1), whose signed assertions of
        /// client `mi-client` are taken.
        pub managed_identity_key: Option<Vec<u8>>,
    }

    /// Whether `jwt` is a client assertion of `mi-client` for the token endpoint of
    /// `tenant` here, signed RS256 by `key`.
    fn signed_assertion(jwt: &str, key: &[u8], tenant: &str) -> bool {
        use base64::Engine as _;
        let b64 = base64::engine::general_purpose::URL_SAFE_NO_PAD;
        let parts: Vec<&str> = jwt.split('.').collect();
        let [header, claims, signature] = parts[..] else { return false };
        let (Ok(claims), Ok(signature)) = (b64.decode(claims), b64.decode(signature)) else {
            return false;
        };
        let signed = format!("{header}.{}", b64.encode(&claims));
        let key = ring::signature::UnparsedPublicKey::new(
            &ring::signature::RSA_PKCS1_2048_8192_SHA256,
            key,
        );
        let claims: Value = serde_json::from_slice(&claims).unwrap_or_default();
        key.verify(signed.as_bytes(), &signature).is_ok()
            && claims["iss"] == "mi-client"
            && claims["sub"] == "mi-client"
            && claims["aud"]
                .as_str()
                .is_some_and(|a| a.ends_with(&format!("/{tenant}/oauth2/v2.0/token")))
    }
    pub type Shared = Arc<Mutex<Cloud>>;

    fn authorized(h: &HeaderMap) -> bool {
        h.get("authorization").and_then(|v| v.to_str().ok()) == Some("Bearer arm-token")
    }

    pub fn router(state: Shared) -> Router {
        let account_path = "/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/{name}";
        Router::new()
            .route(
                "/{tenant}/oauth2/v2.0/token",
                post(|State(s): State<Shared>, Path(tenant): Path<String>, Form(f): Form<HashMap<String, String>>| async move {
                    let field = |k: &str| f.get(k).map(String::as_str);
                    // A managed identity: its certificate's signed assertion.
                    let key = s.lock().unwrap().managed_identity_key.clone();
                    if field("client_id") == Some("mi-client") {
                        let signed = key.zip(field("client_assertion")).is_some_and(|(k, a)| signed_assertion(a, &k, &tenant));
                        if tenant == "tenant-1" && signed {
                            return (StatusCode::OK, Json(json!({"token_type": "Bearer", "expires_in": 3600,
                                "ext_expires_in": 3600, "access_token": "arm-token"})));
                        }
                        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "invalid_client",
                            "error_description": "AADSTS700027: Client assertion contains an invalid signature."})));
                    }
                    let secret = field("client_secret") == Some("app-secret");
                    // Workload identity: the service account token as a client assertion.
                    let assertion = field("client_assertion") == Some("federated-token")
                        && field("client_assertion_type")
                            == Some("urn:ietf:params:oauth:client-assertion-type:jwt-bearer");
                    let ok = tenant == "tenant-1"
                        && field("client_id") == Some("app-1")
                        && (secret || assertion)
                        && field("grant_type") == Some("client_credentials");
                    if !ok {
                        return (StatusCode::UNAUTHORIZED, Json(json!({"error": "invalid_client",
                            "error_description": "AADSTS7000215: Invalid client secret provided."})));
                    }
                    (StatusCode::OK, Json(json!({"token_type": "Bearer", "expires_in": 3600, "ext_expires_in": 3600,
                        "access_token": "arm-token"})))
                }),
            )
            .route(
                account_path,
                get(|State(s): State<Shared>, h: HeaderMap, Path((_, _, name)): Path<(String, String, String)>| async move {
                    if !authorized(&h) {
                        return (StatusCode::UNAUTHORIZED, Json(json!({"error": {"code": "AuthenticationFailed", "message": "no"}})));
                    }
                    match s.lock().unwrap().accounts.get(&name) {
                        Some(a) => (StatusCode::OK, Json(a.clone())),
                        None => (StatusCode::NOT_FOUND, Json(json!({"error": {"code": "ResourceNotFound", "message": "not found"}}))),
                    }
                })
                .put(|State(s): State<Shared>, h: HeaderMap, Path((sub, rg, name)): Path<(String, String, String)>, Query(q): Query<HashMap<String, String>>, Json(b): Json<Value>| async move {
                    if !authorized(&h) {
                        return (StatusCode::UNAUTHORIZED, Json(json!({"error": {"code": "AuthenticationFailed", "message": "no"}})));
                    }
                    s.lock().unwrap().api_versions.extend(q.get("api-version").cloned());
                    let mut a = b.clone();
                    a["id"] = json!(format!("/subscriptions/{sub}/resourceGroups/{rg}/providers/Microsoft.Storage/storageAccounts/{name}"));
                    a["name"] = json!(name);
                    a["properties"]["provisioningState"] = json!("Succeeded");
                    s.lock().unwrap().accounts.insert(name, a.clone());
                    (StatusCode::OK, Json(a))
                })
                .delete(|State(s): State<Shared>, h: HeaderMap, Path((_, _, name)): Path<(String, String, String)>| async move {
                    if !authorized(&h) {
                        return StatusCode::UNAUTHORIZED;
                    }
                    let mut c = s.lock().unwrap();
                    match c.accounts.remove(&name) {
                        Some(_) => {
                            c.deleted.push(name);
                            StatusCode::OK
                        }
                        None => StatusCode::NO_CONTENT,
                    }
                }),
            )
            .route(
                &format!("{account_path}/blobServices/default/containers/{{container}}"),
                get(|State(s): State<Shared>, h: HeaderMap, Path((_, _, name, c)): Path<(String, String, String, String)>| async move {
                    let found = s.lock().unwrap().containers.contains(&(name, c));
                    match (authorized(&h), found) {
                        (false, _) => StatusCode::UNAUTHORIZED,
                        (true, true) => StatusCode::OK,
                        (true, false) => StatusCode::NOT_FOUND,
                    }
                })
                .put(|State(s): State<Shared>, h: HeaderMap, Path((_, _, name, c)): Path<(String, String, String, String)>, Json(b): Json<Value>| async move {
                    let mut cloud = s.lock().unwrap();
                    if !authorized(&h) || !cloud.accounts.contains_key(&name) || b["properties"]["publicAccess"] != "None" {
                        return StatusCode::BAD_REQUEST;
                    }
                    cloud.containers.insert((name, c));
                    StatusCode::CREATED
                })
                .delete(|State(s): State<Shared>, h: HeaderMap, Path((_, _, name, c)): Path<(String, String, String, String)>| async move {
                    if !authorized(&h) {
                        return StatusCode::UNAUTHORIZED;
                    }
                    if s.lock().unwrap().containers.remove(&(name, c)) { StatusCode::OK } else { StatusCode::NO_CONTENT }
                }),
            )
            .route(
                &format!("{account_path}/listKeys"),
                post(|State(s): State<Shared>, h: HeaderMap, Path((_, _, name)): Path<(String, String, String)>| async move {
                    s.lock().unwrap().keys_listed += 1;
                    if !authorized(&h) || !s.lock().unwrap().accounts.contains_key(&name) {
                        return (StatusCode::NOT_FOUND, Json(json!({"error": {"code": "ResourceNotFound", "message": "no account"}})));
                    }
                    (StatusCode::OK, Json(json!({"keys": [{"keyName": "key1", "value": super::KEY, "permissions": "FULL"}]})))
                }),
            )
            .with_state(state)
    }
}

/// The Resource Manager stand-in on HTTPS: its state, and the settings that reach it.
async fn arm_cloud() -> (arm::Shared, imageregistry_storage::provision::azure::ArmSettings) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let cert =
        rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string(), "localhost".to_string()])
            .unwrap();
    let (cert_pem, key_pem) = (cert.cert.pem(), cert.signing_key.serialize_pem());
    let tls = axum_server::tls_rustls::RustlsConfig::from_pem(
        cert_pem.clone().into_bytes(),
        key_pem.into_bytes(),
    )
    .await
    .unwrap();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("https://127.0.0.1:{}", listener.local_addr().unwrap().port());
    let cloud = arm::Shared::default();
    let app = arm::router(cloud.clone());
    tokio::spawn(
        axum_server::from_tcp_rustls(listener, tls).unwrap().serve(app.into_make_service()),
    );
    let settings = imageregistry_storage::provision::azure::ArmSettings {
        management: url.clone(),
        authority_host: url,
        ca_pem: Some(cert_pem),
    };
    (cloud, settings)
}

/// An Azure cluster's Infrastructure (resource group, tags).
fn azure_infra() -> Infrastructure {
    serde_json::from_value(serde_json::json!({"metadata": {}, "spec": {},
        "status": {"infrastructureName": "az-x7k2p", "platformStatus": {"type": "Azure",
            "azure": {"resourceGroupName": "cluster-rg", "resourceTags": [{"key": "team", "value": "registry"}]}}}}))
    .unwrap()
}

#[tokio::test]
async fn resource_manager_mode_creates_the_account_and_container_and_removes_both() {
    let Some(azurite) = emulators::or_skip("azure arm", emulators::azurite()) else { return };
    let (cloud, settings) = arm_cloud().await;
    let p = Provisioner::new().with_azure_blob_endpoint(&azurite.endpoint).with_azure_arm(settings);
    let infra = azure_infra();
    let principal = imageregistry_storage::azure::AzureCluster {
        subscription_id: "sub-1".into(),
        client_id: "app-1".into(),
        client_secret: "app-secret".into(),
        tenant_id: "tenant-1".into(),
        resource_group: String::new(),
        region: "eastus".into(),
        federated_token_file: String::new(),
    };
    let creds = Credentials { azure_cluster: Some(principal.clone()), ..Default::default() };
    let spec = storage("registry-arm");
    let run = |spec: ImageRegistryConfigStorage,
               applied: ImageRegistryConfigStorage,
               creds: Credentials,
               remove: bool| {
        let (p, infra) = (p.clone(), infra.clone());
        async move {
            let req = Request {
                spec: &spec,
                applied: &applied,
                infrastructure: &infra,
                credentials: &creds,
                source: Default::default(),
                ca: Default::default(),
            };
            if remove { p.remove(&req).await } else { p.ensure(&req).await }.unwrap()
        }
    };
    let out = run(spec.clone(), Default::default(), creds.clone(), false).await;
    assert!(out.ok(), "{out:?}");
    assert_eq!(out.storage.management_state, "Managed");
    assert_eq!(cond(&out, "StorageExists"), (&ConditionStatus::True, "ContainerExists"));
    assert_eq!(out.account_key.as_deref(), Some(KEY), "the registry gets the listed key");
    {
        let c = cloud.lock().unwrap();
        let a = &c.accounts[ACCOUNT];
        assert_eq!(a["properties"]["supportsHttpsTrafficOnly"], true);
        assert_eq!(a["properties"]["minimumTlsVersion"], "TLS1_2");
        assert_eq!(a["properties"]["allowBlobPublicAccess"], false);
        assert_eq!(a["kind"], "StorageV2");
        assert_eq!(a["location"], "eastus");
        assert_eq!(a["tags"]["kubernetes.io_cluster.az-x7k2p"], "owned");
        assert_eq!(a["tags"]["team"], "registry");
        assert!(
            a["id"].as_str().unwrap().contains("/resourceGroups/cluster-rg/"),
            "resource group from the Infrastructure"
        );
    }

    // The key is cached: a second pass does not list it again (one existence check).
    let before = p.round_trips();
    let again = run(out.storage.clone(), out.storage.clone(), creds.clone(), false).await;
    assert!(again.ok(), "{again:?}");
    assert_eq!(p.round_trips() - before, 1);
    let counts = p.azure().key_cache();
    let load = |a: &std::sync::atomic::AtomicU64| a.load(std::sync::atomic::Ordering::Relaxed);
    assert_eq!((load(&counts.hits), load(&counts.misses)), (1, 1), "listed once, then cached");

    // Removal: the container, then the account the operator created.
    let gone = run(out.storage.clone(), out.storage.clone(), creds.clone(), true).await;
    assert!(gone.ok(), "{gone:?}");
    assert_eq!(cond(&gone, "StorageExists"), (&ConditionStatus::False, "AccountDeleted"));
    assert_eq!(cloud.lock().unwrap().deleted, [ACCOUNT]);

    // A refused secret: False, and no secret in the outcome.
    let mut wrong = principal;
    wrong.client_secret = "not-the-secret".into();
    let refused = run(
        spec,
        Default::default(),
        Credentials { azure_cluster: Some(wrong), ..Default::default() },
        false,
    )
    .await;
    assert!(!refused.ok());
    assert_eq!(cond(&refused, "StorageExists").0, &ConditionStatus::False, "{refused:?}");
    assert!(!format!("{refused:?}").contains("not-the-secret"));
}

/// Workload identity (no client secret; the service account token file is exchanged for
/// a token): the account is created without shared keys, the container through Resource
/// Manager, no key is listed; removal deletes both the same way.
#[tokio::test]
async fn workload_identity_creates_and_removes_through_resource_manager_alone() {
    let (cloud, settings) = arm_cloud().await;
    let p = Provisioner::new().with_azure_arm(settings);
    let dir = testkit::ScratchDir::new("azure-wi").unwrap();
    let token_file = dir.join("token");
    std::fs::write(&token_file, "federated-token").unwrap();
    let principal = imageregistry_storage::azure::AzureCluster {
        subscription_id: "sub-1".into(),
        client_id: "app-1".into(),
        client_secret: String::new(),
        tenant_id: "tenant-1".into(),
        resource_group: String::new(),
        region: "eastus".into(),
        federated_token_file: token_file.display().to_string(),
    };
    let creds = |principal: &imageregistry_storage::azure::AzureCluster| Credentials {
        azure_cluster: Some(principal.clone()),
        azure: AzureAuth::WorkloadIdentity {
            client_id: "app-1".into(),
            tenant_id: "tenant-1".into(),
            token_file: principal.federated_token_file.clone(),
            authority_host: "https://login.microsoftonline.com/".into(),
        },
        ..Default::default()
    };
    let infra = azure_infra();
    let run = |spec: &ImageRegistryConfigStorage,
               applied: &ImageRegistryConfigStorage,
               c: &Credentials,
               remove: bool| {
        let (p, infra, spec, applied, c) =
            (p.clone(), infra.clone(), spec.clone(), applied.clone(), c.clone());
        async move {
            let req = Request {
                spec: &spec,
                applied: &applied,
                infrastructure: &infra,
                credentials: &c,
                source: Default::default(),
                ca: Default::default(),
            };
            if remove { p.remove(&req).await } else { p.ensure(&req).await }.unwrap()
        }
    };
    let spec = storage("registry-wi");
    let out = run(&spec, &Default::default(), &creds(&principal), false).await;
    assert!(out.ok(), "{out:?}");
    assert_eq!(cond(&out, "StorageExists"), (&ConditionStatus::True, "ContainerExists"));
    assert_eq!(out.storage.management_state, "Managed");
    assert_eq!(out.account_key, None, "the registry gets no key");
    {
        let c = cloud.lock().unwrap();
        assert_eq!(c.accounts[ACCOUNT]["properties"]["allowSharedKeyAccess"], false);
        assert!(c.containers.contains(&(ACCOUNT.to_string(), "registry-wi".to_string())));
        assert_eq!(c.keys_listed, 0);
    }
    let again = run(&out.storage, &out.storage, &creds(&principal), false).await;
    assert!(again.ok(), "{again:?}");
    assert_eq!(again.storage, out.storage, "nothing changes");

    let gone = run(&out.storage, &out.storage, &creds(&principal), true).await;
    assert!(gone.ok(), "{gone:?}");
    assert_eq!(cond(&gone, "StorageExists"), (&ConditionStatus::False, "AccountDeleted"));
    {
        let c = cloud.lock().unwrap();
        assert!(c.containers.is_empty());
        assert_eq!(c.deleted, [ACCOUNT]);
    }

    // A token the identity platform refuses: False, with its code.
    std::fs::write(&token_file, "someone-elses-token").unwrap();
    let refused = run(&spec, &Default::default(), &creds(&principal), false).await;
    assert_eq!(cond(&refused, "StorageExists").0, &ConditionStatus::False, "{refused:?}");
}

/// Azure Stack Hub: Resource Manager and the identity platform are where the cluster's
/// endpoints say (not Azure's public cloud, here not the settings' either), with the
/// storage API version of its profile.
#[tokio::test]
async fn azure_stack_hub_is_reached_where_its_endpoints_say() {
    let (cloud, mut settings) = arm_cloud().await;
    let stand_in = settings.management.clone();
    settings.management = "https://management.invalid".into();
    settings.authority_host = "https://login.invalid".into();
    let p = Provisioner::new().with_azure_arm(settings);
    let dir = testkit::ScratchDir::new("azure-stack").unwrap();
    let token_file = dir.join("token");
    std::fs::write(&token_file, "federated-token").unwrap();
    let principal = imageregistry_storage::azure::AzureCluster {
        subscription_id: "sub-1".into(),
        client_id: "app-1".into(),
        tenant_id: "tenant-1".into(),
        region: "local".into(),
        federated_token_file: token_file.display().to_string(),
        ..Default::default()
    };
    let endpoints = format!(
        r#"{{"name": "AzureStackCloud", "resourceManagerEndpoint": "{stand_in}/",
            "activeDirectoryEndpoint": "{stand_in}/", "storageEndpointSuffix": "local.azurestack.example"}}"#
    );
    let creds = Credentials {
        azure_cluster: Some(principal),
        azure_stack: Some(imageregistry_storage::azure::AzureEnvironment::parse(&endpoints)),
        ..Default::default()
    };
    let mut spec = storage("registry-ash");
    spec.azure.as_mut().unwrap().cloud_name = "AzureStackCloud".into();
    let infra = azure_infra();
    let req = Request {
        spec: &spec,
        applied: &Default::default(),
        infrastructure: &infra,
        credentials: &creds,
        source: Default::default(),
        ca: Default::default(),
    };
    let out = p.ensure(&req).await.unwrap();
    assert!(out.ok(), "{out:?}");
    {
        let c = cloud.lock().unwrap();
        assert!(c.containers.contains(&(ACCOUNT.to_string(), "registry-ash".to_string())));
        let versions: Vec<_> = c.api_versions.iter().collect();
        assert_eq!(versions, ["2019-06-01"], "the hybrid profile");
    }

    // Endpoints that are not an environment say so, and nothing is sent.
    let broken = Credentials {
        azure_stack: Some(imageregistry_storage::azure::AzureEnvironment::parse("{}")),
        ..creds.clone()
    };
    let before = p.round_trips();
    let out = p.ensure(&Request { credentials: &broken, ..req }).await.unwrap();
    assert!(out.error.as_deref().unwrap_or("").contains("resourceManagerEndpoint"), "{out:?}");
    assert_eq!(p.round_trips(), before);
}

/// A hosted control plane's managed identity (`MANAGED_AZURE_HCP_CREDENTIALS_FILE_PATH`):
/// Resource Manager tokens come from an assertion signed with the certificate of its
/// credentials file, whatever the cluster secret holds; a broken file says what is wrong
/// without showing its secret.
#[tokio::test]
async fn a_managed_identity_file_signs_the_token_requests() {
    use base64::Engine as _;
    let Some(azurite) = emulators::or_skip("azure managed identity", emulators::azurite()) else {
        return;
    };
    let (cloud, settings) = arm_cloud().await;
    let stand_in = settings.management.clone();
    let pem = include_str!("fixtures/managed-identity-key.pem");
    let key = rcgen::KeyPair::from_pem(pem).unwrap();
    let cert = rcgen::CertificateParams::new(vec!["managed-identity".to_string()])
        .unwrap()
        .self_signed(&key)
        .unwrap();
    cloud.lock().unwrap().managed_identity_key = Some(key.public_key_raw().to_vec());
    let chain = p12_keystore::PrivateKeyChain::new(
        vec![1u8],
        p12_keystore::PrivateKey::from_der(&key.serialize_der()).unwrap(),
        [p12_keystore::Certificate::from_der(cert.der()).unwrap()],
    );
    let mut store = p12_keystore::KeyStore::new();
    store.add_entry("identity", p12_keystore::KeyStoreEntry::PrivateKeyChain(chain));
    let pfx = base64::engine::general_purpose::STANDARD.encode(store.writer("").write().unwrap());
    let dir = testkit::ScratchDir::new("azure-mi").unwrap();
    let file = dir.join("credentials.json");
    let write = |v: serde_json::Value| std::fs::write(&file, v.to_string()).unwrap();
    write(serde_json::json!({"client_id": "mi-client", "tenant_id": "tenant-1",
        "authentication_endpoint": format!("{stand_in}/"), "client_secret": pfx,
        "not_before": "2026-01-01T00:00:00Z"}));
    let p = Provisioner::new()
        .with_azure_blob_endpoint(&azurite.endpoint)
        .with_azure_arm(settings)
        .with_azure_managed_identity(&file.display().to_string());
    let principal = imageregistry_storage::azure::AzureCluster {
        subscription_id: "sub-1".into(),
        client_id: "app-1".into(),
        tenant_id: "tenant-1".into(),
        region: "eastus".into(),
        ..Default::default()
    };
    let creds = Credentials { azure_cluster: Some(principal), ..Default::default() };
    let infra = azure_infra();
    let spec = storage("registry-mi");
    let req = Request {
        spec: &spec,
        applied: &Default::default(),
        infrastructure: &infra,
        credentials: &creds,
        source: Default::default(),
        ca: Default::default(),
    };
    let out = p.ensure(&req).await.unwrap();
    assert!(out.ok(), "{out:?}");
    assert_eq!(cond(&out, "StorageExists"), (&ConditionStatus::True, "ContainerExists"));

    // A file without its client id: a configuration error naming what is missing.
    write(serde_json::json!({"tenant_id": "tenant-1", "authentication_endpoint": "https://x/",
        "client_secret": pfx}));
    // (Another account: the first one's key is cached and asks for no token.)
    let mut other = storage("registry-mi-2");
    other.azure.as_mut().unwrap().account_name = "registrymi2".into();
    let out = p.ensure(&Request { spec: &other, ..req }).await.unwrap();
    let message = out.error.clone().unwrap_or_default();
    assert!(message.contains("no client_id"), "{out:?}");
    assert!(!format!("{out:?}").contains(&pfx[..40]), "the secret is not shown");
}
