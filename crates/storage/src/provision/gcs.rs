//! Google Cloud Storage through the JSON API (`google-storage1`), authenticated with the
//! service-account keyfile; or, when an emulator endpoint is set (`STORAGE_EMULATOR_HOST`,
//! Google's convention), without a token against that endpoint.
//!
//! A new bucket costs a get and an insert carrying location, labels, the CMEK key and
//! uniform bucket-level access (plus one patch when the server dropped settings from the
//! insert, as gcp-storage-emulator does). A pass with nothing changed costs one get.

use render::conditions::Reason;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use crate::proxy::ProxyConnector;
use api::Infrastructure;
use api::imageregistry::ImageRegistryConfigStorageGcs;
use google_storage1::api::{
    Bucket, BucketEncryption, BucketIamConfiguration,
    BucketIamConfigurationUniformBucketLevelAccess,
};
use google_storage1::hyper_rustls::HttpsConnector;
use google_storage1::{Storage, hyper_rustls, hyper_util, yup_oauth2};

use super::{ConditionStatus, Outcome, Request, RoundTrips, STORAGE_EXISTS};

pub const LABELED: &str = "StorageLabeled";
const ENCRYPTED: &str = "StorageEncrypted";
/// How long one request may take.
const TIMEOUT: Duration = Duration::from_secs(30);

/// A JSON API client.
pub type Hub = Storage<HttpsConnector<ProxyConnector>>;

/// Clients by endpoint and keyfile.
type Hubs = HashMap<(Option<String>, String), Hub>;

/// The GCS driver's state: clients by endpoint and keyfile.
#[derive(Clone, Default)]
pub struct Driver {
    /// The JSON API endpoint instead of Google's (an emulator), e.g. `http://127.0.0.1:9023`.
    pub endpoint: Option<String>,
    pub(super) hubs: Arc<Mutex<Hubs>>,
}

/// The labels of a bucket the operator creates: ownership and the Infrastructure's
/// resourceLabels.
pub fn desired_labels(infra: &Infrastructure) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([(
        format!("kubernetes-io-cluster-{}", infra.infrastructure_name()),
        "owned".to_string(),
    )]);
    if let Some(gcp) = infra.platform_status().and_then(|p| p.gcp.as_ref()) {
        for l in &gcp.resource_labels {
            labels.insert(l.key.clone(), l.value.clone());
        }
    }
    labels
}

/// A failed call: the HTTP code as the reason (as the reference reports Google API
/// errors), or Unknown when the server could not be reached.
#[derive(Debug)]
enum Failure {
    Status { code: u16, message: String },
    Unreachable(String),
}

impl Failure {
    fn condition(&self) -> (ConditionStatus, String) {
        match self {
            Failure::Status { code, .. } => (ConditionStatus::False, code.to_string()),
            Failure::Unreachable(_) => (ConditionStatus::Unknown, "Unknown Error Occurred".into()),
        }
    }
    fn message(&self) -> String {
        match self {
            Failure::Status { message, .. } | Failure::Unreachable(message) => message.clone(),
        }
    }
    fn code(&self) -> u16 {
        match self {
            Failure::Status { code, .. } => *code,
            Failure::Unreachable(_) => 0,
        }
    }
}

fn failure(e: google_storage1::Error, endpoint: &str) -> Failure {
    use google_storage1::Error as E;
    match e {
        E::BadRequest(v) => {
            let code = v.pointer("/error/code").and_then(|c| c.as_u64()).unwrap_or(400) as u16;
            let message = v
                .pointer("/error/message")
                .and_then(|m| m.as_str())
                .map_or_else(|| v.to_string(), str::to_string);
            Failure::Status { code, message }
        }
        E::Failure(r) => {
            let code = r.status().as_u16();
            Failure::Status { code, message: format!("HTTP {code} from {endpoint}") }
        }
        E::MissingToken(e) => Failure::Status {
            code: 401,
            message: format!("no access token for the service account: {e}"),
        },
        other => Failure::Unreachable(format!(
            "cannot reach GCS at {endpoint}: {}",
            other.to_string().trim_end()
        )),
    }
}

async fn call<T>(
    round_trips: &RoundTrips,
    endpoint: &str,
    f: impl std::future::Future<
        Output = google_storage1::Result<(google_storage1::common::Response, T)>,
    >,
) -> Result<T, Failure> {
    round_trips.add();
    match tokio::time::timeout(TIMEOUT, f).await {
        Err(_) => Err(Failure::Unreachable(format!(
            "cannot reach GCS at {endpoint}: no answer within {} s",
            TIMEOUT.as_secs()
        ))),
        Ok(Err(e)) => Err(failure(e, endpoint)),
        Ok(Ok((_, v))) => Ok(v),
    }
}

/// A client for `endpoint` without a token (an emulator), for tools and tests that look at
/// a bucket from outside the driver.
pub fn anonymous_hub(endpoint: &str) -> Hub {
    // Plain HTTP in practice; TLS with no trusted roots.
    let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .expect("ring supports the default protocol versions")
    .with_root_certificates(rustls::RootCertStore::empty())
    .with_no_client_auth();
    let connector = hyper_rustls::HttpsConnectorBuilder::new()
        .with_tls_config(tls)
        .https_or_http()
        .enable_http1()
        .wrap_connector(ProxyConnector::from_env());
    let client = hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
        .build(connector);
    let mut hub = Storage::new(client, google_storage1::common::NoToken);
    let e = endpoint.trim_end_matches('/');
    hub.base_url(format!("{e}/storage/v1/"));
    hub.root_url(format!("{e}/"));
    hub
}

impl Driver {
    async fn hub(&self, keyfile: Option<&str>) -> Result<(Hub, String), (String, String)> {
        let key = (self.endpoint.clone(), keyfile.unwrap_or_default().to_string());
        let shown = self.endpoint.clone().unwrap_or_else(|| "storage.googleapis.com".into());
        if let Some(h) = self.hubs.lock().expect("gcs state").get(&key) {
            return Ok((h.clone(), shown));
        }
        // The system's roots and the cluster's trusted CA bundle.
        let tls = rustls::ClientConfig::builder_with_provider(Arc::new(
            rustls::crypto::ring::default_provider(),
        ))
        .with_safe_default_protocol_versions()
        .map_err(|e| ("Unknown Error Occurred".to_string(), format!("TLS: {e}")))?
        .with_root_certificates(crate::tls::root_store())
        .with_no_client_auth();
        // Through the cluster proxy, as the other clients (crate::proxy).
        let connector = hyper_rustls::HttpsConnectorBuilder::new()
            .with_tls_config(tls)
            .https_or_http()
            .enable_http1()
            .wrap_connector(ProxyConnector::from_env());
        let client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build(connector.clone());
        // The token endpoint is reached with the same trust.
        let token_client =
            hyper_util::client::legacy::Client::builder(hyper_util::rt::TokioExecutor::new())
                .build::<_, String>(connector);
        let mut hub = match (&self.endpoint, keyfile) {
            (Some(_), _) => Storage::new(client, google_storage1::common::NoToken),
            (None, None) => {
                return Err((
                    "MissingCredentials".into(),
                    format!(
                        "no GCS credentials: neither secret {} (key REGISTRY_STORAGE_GCS_KEYFILE) nor secret {} (key service_account.json) has them",
                        crate::credentials::USER_SECRET,
                        crate::credentials::CLUSTER_SECRET
                    ),
                ));
            }
            (None, Some(k)) => {
                let sa = yup_oauth2::parse_service_account_key(k).map_err(|e| {
                    (
                        "InvalidCredentials".to_string(),
                        format!("the GCS keyfile is not a service-account key: {}", e.kind()),
                    )
                })?;
                let auth = yup_oauth2::ServiceAccountAuthenticator::with_client(
                    sa,
                    yup_oauth2::CustomHyperClientBuilder::from(token_client),
                )
                .build()
                .await
                .map_err(|e| {
                    (
                        "InvalidCredentials".to_string(),
                        format!("the GCS keyfile cannot be used: {e}"),
                    )
                })?;
                Storage::new(client, auth)
            }
        };
        if let Some(e) = &self.endpoint {
            let e = e.trim_end_matches('/');
            hub.base_url(format!("{e}/storage/v1/"));
            hub.root_url(format!("{e}/"));
        }
        hub.user_agent(format!("cluster-image-registry-operator/{}", env!("CARGO_PKG_VERSION")));
        self.hubs.lock().expect("gcs state").insert(key, hub.clone());
        Ok((hub, shown))
    }

    pub(super) async fn ensure(&self, req: &Request<'_>, rt: &Arc<RoundTrips>) -> Outcome {
        let mut out = Outcome::new(req.spec);
        let spec = req.spec.gcs.clone().unwrap_or_default();
        let s = crate::gcs::effective(&spec, req.infrastructure);
        let (hub, endpoint) = match self.hub(req.credentials.gcs_keyfile.as_deref()).await {
            Ok(h) => h,
            Err((reason, message)) => {
                out.set(STORAGE_EXISTS, ConditionStatus::False, Reason::parse(&reason), &message);
                out.fail(message);
                return out;
            }
        };
        match call(rt, &endpoint, hub.buckets().get(&s.bucket).doit()).await {
            Ok(_) => {
                bucket_found(&mut out, req, &spec, &s.bucket);
                return out;
            }
            Err(f) if f.code() == 404 => {}
            Err(f) => return failed(out, f.condition(), &f, format!("GCS bucket {}", s.bucket)),
        }
        let labels = desired_labels(req.infrastructure);
        let settings = bucket_settings(&s, &labels);
        let new = Bucket {
            name: Some(s.bucket.clone()),
            location: (!s.region.is_empty()).then(|| s.region.clone()),
            ..settings.clone()
        };
        let created =
            match call(rt, &endpoint, hub.buckets().insert(new, &s.project_id).doit()).await {
                Ok(b) => b,
                Err(f) => {
                    let (status, reason) = f.condition();
                    let reason =
                        if f.code() == 409 { "Unable to Access Bucket".into() } else { reason };
                    let what = format!("creating GCS bucket {}", s.bucket);
                    return failed(out, (status, reason), &f, what);
                }
            };
        // Some servers keep only what a patch sets; make sure the settings are there.
        if !settings_kept(&created, &s, &labels)
            && let Err(f) =
                call(rt, &endpoint, hub.buckets().patch(settings, &s.bucket).doit()).await
        {
            let (status, reason) = f.condition();
            out.set(LABELED, status, Reason::parse(&reason), &f.message());
            out.fail(format!("labelling GCS bucket {}: {}", s.bucket, f.message()));
        }
        bucket_created(&mut out, &s);
        out
    }

    /// Deletes every object of the bucket (all pages in this pass), then the bucket.
    pub(super) async fn remove(&self, req: &Request<'_>, rt: &Arc<RoundTrips>) -> Outcome {
        let mut out = Outcome::new(req.spec);
        let applied = req.applied.gcs.clone().unwrap_or_default();
        let (hub, endpoint) = match self.hub(req.credentials.gcs_keyfile.as_deref()).await {
            Ok(h) => h,
            Err((reason, message)) => {
                out.set(STORAGE_EXISTS, ConditionStatus::Unknown, Reason::parse(&reason), &message);
                out.fail(message);
                return out;
            }
        };
        match empty_and_delete(&hub, &applied, &endpoint, rt).await {
            Ok(()) => {
                out.set(
                    STORAGE_EXISTS,
                    ConditionStatus::False,
                    Reason::GcsBucketDeleted,
                    "The GCS bucket has been removed.",
                );
                if let Some(g) = out.storage.gcs.as_mut()
                    && g.bucket == applied.bucket
                {
                    g.bucket.clear();
                }
            }
            Err(f) => {
                let (_, reason) = f.condition();
                out.set(
                    STORAGE_EXISTS,
                    ConditionStatus::Unknown,
                    Reason::parse(&reason),
                    &f.message(),
                );
                out.fail(format!("removing GCS bucket {}: {}", applied.bucket, f.message()));
            }
        }
        out
    }
}

/// `out` with a failed call: `StorageExists` (status, reason) with the failure's message,
/// and the error "`what`: message".
fn failed(
    mut out: Outcome,
    (status, reason): (ConditionStatus, String),
    f: &Failure,
    what: String,
) -> Outcome {
    out.set(STORAGE_EXISTS, status, Reason::parse(&reason), &f.message());
    out.fail(format!("{what}: {}", f.message()));
    out
}

/// `StorageExists` True for a bucket in place: the one applied before, else the user's
/// (adopted).
fn bucket_found(
    out: &mut Outcome,
    req: &Request<'_>,
    spec: &ImageRegistryConfigStorageGcs,
    bucket: &str,
) {
    let unchanged = req.applied.gcs.as_ref() == Some(spec)
        && req.applied.management_state == req.spec.management_state
        && !req.spec.management_state.is_empty();
    if unchanged {
        out.set(
            STORAGE_EXISTS,
            ConditionStatus::True,
            Reason::GcsBucketExists,
            &format!("The GCS bucket {bucket} exists and is accessible"),
        );
        return;
    }
    let moved = req.applied.gcs.as_ref().is_some_and(|a| a.bucket != spec.bucket);
    out.adopt(req.applied, moved);
    out.set(
        STORAGE_EXISTS,
        ConditionStatus::True,
        Reason::GcsBucketExists,
        "User supplied GCS bucket exists and is accessible",
    );
}

/// The settings of a bucket the operator creates: labels, the CMEK key when one is set,
/// and uniform bucket-level access.
fn bucket_settings(s: &ImageRegistryConfigStorageGcs, labels: &BTreeMap<String, String>) -> Bucket {
    Bucket {
        labels: Some(labels.clone().into_iter().collect()),
        encryption: (!s.key_id.is_empty()).then(|| BucketEncryption {
            default_kms_key_name: Some(s.key_id.clone()),
            ..Default::default()
        }),
        iam_configuration: Some(BucketIamConfiguration {
            uniform_bucket_level_access: Some(BucketIamConfigurationUniformBucketLevelAccess {
                enabled: Some(true),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Whether the bucket the server created kept the labels and the CMEK key.
fn settings_kept(
    created: &Bucket,
    s: &ImageRegistryConfigStorageGcs,
    labels: &BTreeMap<String, String>,
) -> bool {
    created.labels.as_ref().is_some_and(|l| labels.iter().all(|(k, v)| l.get(k) == Some(v)))
        && (s.key_id.is_empty()
            || created.encryption.as_ref().and_then(|e| e.default_kms_key_name.as_deref())
                == Some(s.key_id.as_str()))
}

/// The conditions of a bucket just created (Managed unless a state is set): exists, and,
/// when its settings are in place, labelled and (with a key) encrypted.
fn bucket_created(out: &mut Outcome, s: &ImageRegistryConfigStorageGcs) {
    if out.storage.management_state.is_empty() {
        out.storage.management_state = "Managed".into();
    }
    out.set(
        STORAGE_EXISTS,
        ConditionStatus::True,
        Reason::CreationSuccessful,
        "GCS bucket was successfully created",
    );
    if !out.ok() {
        return;
    }
    out.set(
        LABELED,
        ConditionStatus::True,
        Reason::BucketLabeledSuccessfully,
        &format!("Successfully added user-defined labels to {} storage bucket", s.bucket),
    );
    if !s.key_id.is_empty() {
        out.set(
            ENCRYPTED,
            ConditionStatus::True,
            Reason::EncryptionSuccessful,
            "KMS encryption was successfully enabled on the GCS bucket",
        );
    }
}

async fn empty_and_delete(
    hub: &Hub,
    g: &ImageRegistryConfigStorageGcs,
    endpoint: &str,
    rt: &RoundTrips,
) -> Result<(), Failure> {
    let mut token: Option<String> = None;
    loop {
        let mut list = hub.objects().list(&g.bucket).versions(true);
        if let Some(t) = &token {
            list = list.page_token(t);
        }
        let page = match call(rt, endpoint, list.doit()).await {
            Ok(p) => p,
            Err(f) if f.code() == 404 => return Ok(()),
            Err(f) => return Err(f),
        };
        for o in page.items.unwrap_or_default() {
            let Some(name) = o.name else { continue };
            let mut delete = hub.objects().delete(&g.bucket, &name);
            if let Some(generation) = o.generation {
                delete = delete.generation(generation);
            }
            match call(rt, endpoint, async { delete.doit().await.map(|r| (r, ())) }).await {
                Ok(()) => {}
                Err(f) if f.code() == 404 => {}
                Err(f) => return Err(f),
            }
        }
        match page.next_page_token {
            Some(t) if !t.is_empty() => token = Some(t),
            _ => break,
        }
    }
    let delete = hub.buckets().delete(&g.bucket);
    match call(rt, endpoint, async { delete.doit().await.map(|r| (r, ())) }).await {
        Ok(()) => Ok(()),
        Err(f) if f.code() == 404 => Ok(()),
        Err(f) => Err(f),
    }
}
