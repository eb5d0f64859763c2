//! Azure Blob.
//!
//! With the user's `REGISTRY_STORAGE_AZURE_ACCOUNTKEY` ("UPI mode") the account and the
//! container are the user's: the driver only checks that the spec names both, marks the
//! storage Unmanaged (`StorageExists` True `UserManaged`, as the reference does) and never
//! creates or deletes anything, so `Removed` keeps every image.
//!
//! Otherwise the storage account is the operator's, through Azure Resource Manager with
//! the cluster's service principal; the container is then checked, created (Managed) or
//! adopted (Unmanaged), and deleted on removal when Managed, through the official Blob
//! SDK. The SDK authenticates with Entra ID or a SAS in the URL only, so the driver signs
//! a short-lived account SAS with the listed account key.

use render::conditions::Reason;
use std::sync::Arc;
use std::time::Duration;

use api::imageregistry::ImageRegistryConfigStorageAzure;
use azure_core::http::{ClientOptions, RetryOptions, Url};
use azure_storage_blob::{BlobContainerClient, BlobContainerClientOptions};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};

use super::{ConditionStatus, Outcome, Request, RoundTrips, STORAGE_EXISTS};
use crate::azure::AzureAuth;

const TIMEOUT: Duration = Duration::from_secs(30);
/// The SAS version signed (its string-to-sign ends with the encryption scope).
const SAS_VERSION: &str = "2021-08-06";

/// The Azure driver's settings and account-key cache.
#[derive(Clone, Default)]
pub struct Driver {
    /// A Blob endpoint to use instead of `https://<account>.blob.<suffix>` (an emulator such
    /// as Azurite): the account is then the first path segment, `<endpoint>/<account>`.
    pub endpoint: Option<String>,
    /// Resource Manager and identity endpoints instead of Azure's public cloud.
    pub arm: Option<ArmSettings>,
    /// Account keys listed through Resource Manager, with when.
    keys: Arc<std::sync::Mutex<std::collections::HashMap<String, (String, std::time::Instant)>>>,
    /// How often a key was wanted and found in `keys`, or listed.
    key_cache: Arc<KeyCacheCounts>,
    /// A managed identity credentials file (`MANAGED_AZURE_HCP_CREDENTIALS_FILE_PATH`),
    /// used for Resource Manager tokens instead of the cluster secret's.
    pub managed_identity_file: Option<String>,
}

/// Requests for an account key: answered from the cache (hits) or by Resource Manager
/// (misses), as the reference's `image_registry_operator_azure_key_cache_requests_total`.
#[derive(Debug, Default)]
pub struct KeyCacheCounts {
    pub hits: std::sync::atomic::AtomicU64,
    pub misses: std::sync::atomic::AtomicU64,
}

impl Driver {
    /// The key cache's counts, shared with whoever reports them.
    pub fn key_cache(&self) -> Arc<KeyCacheCounts> {
        self.key_cache.clone()
    }
}

/// An account SAS query (`sv=...&sig=...`) for the Blob service, valid from now until
/// `expiry` (RFC 3339, seconds), signed with the base64 account key.
pub fn account_sas(
    account: &str,
    key: &str,
    expiry: &str,
    https_only: bool,
) -> Result<String, String> {
    let key = STANDARD
        .decode(key.trim())
        .map_err(|_| "the Azure account key is not base64".to_string())?;
    let (permissions, services, resource_types) = ("rwdlac", "b", "sco");
    let protocol = if https_only { "https" } else { "https,http" };
    let to_sign = format!(
        "{account}\n{permissions}\n{services}\n{resource_types}\n\n{expiry}\n\n{protocol}\n{SAS_VERSION}\n\n"
    );
    let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&key)
        .map_err(|_| "the Azure account key cannot be used".to_string())?;
    mac.update(to_sign.as_bytes());
    let signature = STANDARD.encode(mac.finalize().into_bytes());
    let mut q = url::form_urlencoded::Serializer::new(String::new());
    q.append_pair("sv", SAS_VERSION)
        .append_pair("ss", services)
        .append_pair("srt", resource_types)
        .append_pair("sp", permissions)
        .append_pair("se", expiry)
        .append_pair("spr", protocol)
        .append_pair("sig", &signature);
    Ok(q.finish())
}

enum Failure {
    Status { code: String, status: u16, message: String },
    Unreachable(String),
}

impl Failure {
    fn message(&self) -> String {
        match self {
            Failure::Status { message, .. } | Failure::Unreachable(message) => message.clone(),
        }
    }

    /// `(status, reason)` of `StorageExists` about this failure: False with the server's
    /// error code when it answered, Unknown `AzureError` when it could not be reached.
    fn condition(&self) -> (ConditionStatus, String) {
        match self {
            Failure::Status { code, .. } => (ConditionStatus::False, code.clone()),
            Failure::Unreachable(_) => (ConditionStatus::Unknown, "AzureError".into()),
        }
    }
}

fn failure(e: azure_core::Error, endpoint: &str) -> Failure {
    match e.kind() {
        azure_core::error::ErrorKind::HttpResponse { status, error_code, .. } => Failure::Status {
            code: error_code.clone().unwrap_or_else(|| status.to_string()),
            status: u16::from(*status),
            message: format!("{e}"),
        },
        _ => Failure::Unreachable(format!("cannot reach Azure Blob at {endpoint}: {e}")),
    }
}

async fn call<T>(
    rt: &RoundTrips,
    endpoint: &str,
    f: impl std::future::Future<Output = azure_core::Result<T>>,
) -> Result<T, Failure> {
    rt.add();
    match tokio::time::timeout(TIMEOUT, f).await {
        Err(_) => Err(Failure::Unreachable(format!(
            "cannot reach Azure Blob at {endpoint}: no answer within {} s",
            TIMEOUT.as_secs()
        ))),
        Ok(r) => r.map_err(|e| failure(e, endpoint)),
    }
}

struct Container {
    client: BlobContainerClient,
    /// Where it is, for messages (no SAS).
    shown: String,
}

/// The blob client's HTTP transport: reqwest with the cluster's trusted CA bundle too
/// ([`crate::tls`]), as every client here.
fn transport() -> Result<azure_core::http::Transport, Failed> {
    let http = crate::tls::reqwest_builder().build().map_err(|e| {
        (ConditionStatus::Unknown, "AzureError".to_string(), format!("HTTP client: {e}"))
    })?;
    Ok(azure_core::http::Transport::new(Arc::new(http)))
}

impl Driver {
    /// The container client of `s`, or the condition (reason, message) saying why not.
    fn container(
        &self,
        s: &ImageRegistryConfigStorageAzure,
        auth: &AzureAuth,
        stack: Option<&Result<crate::azure::AzureEnvironment, String>>,
    ) -> Result<Container, (ConditionStatus, String, String)> {
        let key = match auth {
            AzureAuth::AccountKey(k) => k,
            _ => {
                return Err((
                    ConditionStatus::Unknown,
                    "NotProvisioned".into(),
                    format!(
                        "Azure storage without an account key (key REGISTRY_STORAGE_AZURE_ACCOUNTKEY of secret {}) is provisioned through Azure Resource Manager, which this operator does not call yet",
                        crate::credentials::USER_SECRET
                    ),
                ));
            }
        };
        if s.account_name.is_empty() {
            return Err((
                ConditionStatus::False,
                "StorageNotConfigured".into(),
                "storage.azure.accountName is not specified: it is required with an account key"
                    .into(),
            ));
        }
        if s.container.is_empty() {
            return Err((
                ConditionStatus::False,
                "StorageNotConfigured".into(),
                "storage.azure.container is not specified".into(),
            ));
        }
        let base = match &self.endpoint {
            Some(e) => format!("{}/{}", e.trim_end_matches('/'), s.account_name),
            None => {
                let suffix = crate::azure::endpoint_suffix(s, stack).map_err(|m| {
                    (
                        ConditionStatus::Unknown,
                        "ConfigError".to_string(),
                        format!("Unable to get cloud environment: {m}"),
                    )
                })?;
                format!("https://{}.blob.{suffix}", s.account_name)
            }
        };
        let shown = format!("{base}/{}", s.container);
        let expiry = (jiff::Timestamp::now() + jiff::SignedDuration::from_hours(1))
            .strftime("%Y-%m-%dT%H:%M:%SZ")
            .to_string();
        let sas = account_sas(&s.account_name, key, &expiry, base.starts_with("https://"))
            .map_err(|m| (ConditionStatus::False, "ConfigError".to_string(), m))?;
        let url = Url::parse(&format!("{shown}?{sas}")).map_err(|e| {
            (
                ConditionStatus::Unknown,
                "ConfigError".to_string(),
                format!("Unable to parse blob url: {e}"),
            )
        })?;
        // reqwest (under the SDK) needs the process's TLS provider: ring, as everywhere.
        let _ = rustls::crypto::ring::default_provider().install_default();
        let options = BlobContainerClientOptions {
            client_options: ClientOptions {
                retry: RetryOptions::none(),
                transport: Some(transport()?),
                ..Default::default()
            },
            ..Default::default()
        };
        let client = BlobContainerClient::new(url, None, Some(options)).map_err(|e| {
            (
                ConditionStatus::Unknown,
                "AzureError".to_string(),
                format!("Unable to create blob client: {e}"),
            )
        })?;
        Ok(Container { client, shown })
    }

    /// UPI mode: the user's account and container, named by the spec, used as they are.
    fn user_managed(req: &Request<'_>) -> Outcome {
        let mut out = Outcome::new(req.spec);
        let spec = out.storage.azure.clone().unwrap_or_default();
        let missing = if spec.account_name.is_empty() {
            Some("account name")
        } else if spec.container.is_empty() {
            Some("container")
        } else {
            None
        };
        if let Some(what) = missing {
            let message = format!("Storage account key is provided, but {what} is not specified");
            out.set(STORAGE_EXISTS, ConditionStatus::False, Reason::StorageNotConfigured, &message);
            out.fail(message);
            return out;
        }
        out.storage.management_state = "Unmanaged".into();
        out.set(
            STORAGE_EXISTS,
            ConditionStatus::True,
            Reason::UserManaged,
            "Storage container is managed by the user (storage account key provided)",
        );
        out
    }

    /// Creates a container with an account key, as its owner would (`local` and tests
    /// stand for the user with it); an existing one is not an error.
    pub async fn create_container(
        &self,
        account: &str,
        key: &str,
        container: &str,
    ) -> Result<(), String> {
        let s = ImageRegistryConfigStorageAzure {
            account_name: account.into(),
            container: container.into(),
            ..Default::default()
        };
        let c = self.container(&s, &AzureAuth::AccountKey(key.into()), None).map_err(|e| e.2)?;
        match call(&Arc::new(RoundTrips::default()), &c.shown, c.client.create(None)).await {
            Ok(_) => Ok(()),
            Err(Failure::Status { code, .. }) if code == "ContainerAlreadyExists" => Ok(()),
            Err(f) => Err(f.message()),
        }
    }

    /// Whether a container exists, read with an account key (for the same callers).
    pub async fn container_exists(
        &self,
        account: &str,
        key: &str,
        container: &str,
    ) -> Result<bool, String> {
        let s = ImageRegistryConfigStorageAzure {
            account_name: account.into(),
            container: container.into(),
            ..Default::default()
        };
        let c = self.container(&s, &AzureAuth::AccountKey(key.into()), None).map_err(|e| e.2)?;
        call(&Arc::new(RoundTrips::default()), &c.shown, c.client.exists())
            .await
            .map_err(|f| f.message())
    }

    pub(super) async fn ensure(&self, req: &Request<'_>, rt: &Arc<RoundTrips>) -> Outcome {
        if matches!(req.credentials.azure, AzureAuth::AccountKey(_)) {
            return Self::user_managed(req);
        }
        if let Some(c) = arm_cluster(req).filter(|c| c.workload_identity()) {
            return self.ensure_by_arm(req, c, rt).await;
        }
        let mut out = Outcome::new(req.spec);
        // Without an account key: the account through Resource Manager, when the cluster
        // has a service principal.
        let mut auth = req.credentials.azure.clone();
        let mut account_created = false;
        if let Some(cluster) = arm_cluster(req) {
            match self.arm_account(req, cluster, &mut out, rt).await {
                Ok((key, created)) => {
                    out.account_key = Some(key.clone());
                    auth = AzureAuth::AccountKey(key);
                    account_created = created;
                }
                Err(f) => return failed(out, f),
            }
        }
        let spec = out.storage.azure.clone().unwrap_or_default();
        let s = crate::azure::effective(&spec, req.infrastructure);
        let c = match self.container(&s, &auth, req.credentials.azure_stack.as_ref()) {
            Ok(c) => c,
            Err(f) => return failed(out, f),
        };
        let exists = match call(rt, &c.shown, c.client.exists()).await {
            Ok(e) => e,
            Err(f) => {
                return blob_failed(out, f.condition(), &f, format!("Azure container {}", c.shown));
            }
        };
        if exists {
            adopt_found(&mut out, req, &spec);
        } else {
            if let Err(f) = create_missing(rt, &c).await {
                let what = format!("creating Azure container {}", c.shown);
                return blob_failed(out, f.condition(), &f, what);
            }
            if out.storage.management_state.is_empty() || account_created {
                out.storage.management_state = "Managed".into();
            }
        }
        container_exists(out)
    }

    /// Deletes the container (with its blobs) of `req.applied`, which is Managed.
    pub(super) async fn remove(&self, req: &Request<'_>, rt: &Arc<RoundTrips>) -> Outcome {
        let mut out = Outcome::new(req.spec);
        // UPI mode: the user's container is never deleted, whatever an older status says.
        if matches!(req.credentials.azure, AzureAuth::AccountKey(_)) {
            return out;
        }
        let applied = req.applied.azure.clone().unwrap_or_default();
        let s = crate::azure::effective(&applied, req.infrastructure);
        let mut auth = req.credentials.azure.clone();
        let arm = arm_cluster(req);
        if let Some(c) = arm.filter(|c| c.workload_identity()) {
            // Workload identity: the container through Resource Manager, then the account.
            if let Err((_, reason, message)) =
                self.arm_remove_container(req, c, &s, rt, &mut out).await
            {
                return failed(out, (ConditionStatus::Unknown, reason, message));
            }
        } else {
            if let Some(cluster) = arm {
                let mut scratch = Outcome::new(req.applied);
                match self.arm_account(req, cluster, &mut scratch, rt).await {
                    Ok((key, _)) => auth = AzureAuth::AccountKey(key),
                    Err((_, reason, message)) => {
                        return failed(out, (ConditionStatus::Unknown, reason, message));
                    }
                }
            }
            let c = match self.container(&s, &auth, req.credentials.azure_stack.as_ref()) {
                Ok(c) => c,
                Err((_, reason, message)) => {
                    return failed(out, (ConditionStatus::Unknown, reason, message));
                }
            };
            if let Err(f) = delete_container(rt, &c, &mut out).await {
                let condition = (ConditionStatus::Unknown, f.condition().1);
                let what = format!("removing Azure container {}", c.shown);
                return blob_failed(out, condition, &f, what);
            }
        }
        // The account too, when the operator reaches it through Resource Manager.
        if let Some(cluster) = arm {
            if let Err((_, reason, message)) =
                self.arm_delete_account(req, cluster, &s.account_name, rt).await
            {
                return failed(out, (ConditionStatus::Unknown, reason, message));
            }
            out.set(
                STORAGE_EXISTS,
                ConditionStatus::False,
                Reason::AccountDeleted,
                "Storage account has been deleted",
            );
            if let Some(a) = out.storage.azure.as_mut()
                && a.account_name == applied.account_name
            {
                a.account_name.clear();
            }
        }
        if let Some(a) = out.storage.azure.as_mut()
            && a.container == applied.container
        {
            a.container.clear();
        }
        out
    }
}

/// The cluster's service principal when the account key comes through Resource Manager
/// (the credentials carry no account key).
fn arm_cluster<'r>(req: &'r Request<'_>) -> Option<&'r crate::azure::AzureCluster> {
    match (&req.credentials.azure, &req.credentials.azure_cluster) {
        (AzureAuth::AccountKey(_), _) | (_, None) => None,
        (_, Some(cluster)) => Some(cluster),
    }
}

/// `out` with the failed step's `StorageExists` condition and error.
fn failed(mut out: Outcome, (status, reason, message): Failed) -> Outcome {
    out.set(STORAGE_EXISTS, status, Reason::parse(&reason), &message);
    out.fail(message);
    out
}

/// `out` with a failed Blob call: `StorageExists` (status, reason) with the failure's
/// message, and the error "`what`: message".
fn blob_failed(
    mut out: Outcome,
    (status, reason): (ConditionStatus, String),
    f: &Failure,
    what: String,
) -> Outcome {
    out.set(STORAGE_EXISTS, status, Reason::parse(&reason), &f.message());
    out.fail(format!("{what}: {}", f.message()));
    out
}

/// A container found in place is adopted unless it is the one applied before, in the
/// same management state.
fn adopt_found(out: &mut Outcome, req: &Request<'_>, spec: &ImageRegistryConfigStorageAzure) {
    let unchanged = req.applied.azure.as_ref() == Some(spec)
        && req.applied.management_state == req.spec.management_state
        && !req.spec.management_state.is_empty();
    if !unchanged {
        let moved = req.applied.azure.as_ref().is_some_and(|a| {
            (a.account_name.as_str(), a.container.as_str())
                != (spec.account_name.as_str(), spec.container.as_str())
        });
        out.adopt(req.applied, moved);
    }
}

/// Creates the container; one that exists already (a concurrent creation) is fine.
async fn create_missing(rt: &RoundTrips, c: &Container) -> Result<(), Failure> {
    match call(rt, &c.shown, c.client.create(None)).await {
        Ok(_) => Ok(()),
        Err(Failure::Status { code, .. }) if code == "ContainerAlreadyExists" => Ok(()),
        Err(f) => Err(f),
    }
}

/// Deletes the container, setting `StorageExists` False: ContainerDeleted, or
/// ContainerNotFound when it was gone already.
async fn delete_container(
    rt: &RoundTrips,
    c: &Container,
    out: &mut Outcome,
) -> Result<(), Failure> {
    match call(rt, &c.shown, c.client.delete(None)).await {
        Ok(_) => container_gone(out, true),
        Err(Failure::Status { status: 404, .. }) => container_gone(out, false),
        Err(f) => return Err(f),
    }
    Ok(())
}

/// `out` with the container there: `StorageExists` True.
fn container_exists(mut out: Outcome) -> Outcome {
    let m = "Storage container exists";
    out.set(STORAGE_EXISTS, ConditionStatus::True, Reason::ContainerExists, m);
    out
}

/// `StorageExists` False after a removal: ContainerDeleted, or ContainerNotFound when it
/// was gone already (`existed` false).
fn container_gone(out: &mut Outcome, existed: bool) {
    let (reason, m) = match existed {
        true => (Reason::ContainerDeleted, "Storage container has been deleted"),
        false => (Reason::ContainerNotFound, "Container has been already deleted"),
    };
    out.set(STORAGE_EXISTS, ConditionStatus::False, reason, m);
}

/// Where Azure Resource Manager and the identity service are, instead of Azure's public
/// cloud (a test stand-in), with a CA to trust for them.
#[derive(Clone, Default)]
pub struct ArmSettings {
    pub management: String,
    pub authority_host: String,
    pub ca_pem: Option<String>,
}

/// The identity platform's token endpoint of `tenant` at `authority`, as the credential
/// builds it (the audience of a client assertion).
fn token_endpoint(authority: &str, tenant: &str) -> String {
    match Url::parse(authority).and_then(|a| a.join(&format!("/{tenant}/oauth2/v2.0/token"))) {
        Ok(u) => u.to_string(),
        Err(_) => format!("{}/{tenant}/oauth2/v2.0/token", authority.trim_end_matches('/')),
    }
}

/// The storage-account API version used.
const ARM_API: &str = "2023-05-01";
/// The storage-account API version of Azure Stack Hub's API profile (2020-09-01-hybrid).
const ARM_API_AZURE_STACK: &str = "2019-06-01";
/// How long a listed account key is reused (as the reference's cache).
const KEY_TTL: Duration = Duration::from_secs(20 * 60);

type Failed = (ConditionStatus, String, String);

fn arm_error(what: &str, status: u16, body: &serde_json::Value) -> Failed {
    let code = body
        .pointer("/error/code")
        .and_then(|c| c.as_str())
        .map_or_else(|| status.to_string(), str::to_string);
    let message = body.pointer("/error/message").and_then(|m| m.as_str()).unwrap_or("");
    let status =
        if matches!(status, 401 | 403) { ConditionStatus::False } else { ConditionStatus::Unknown };
    (status, code, format!("{what}: HTTP {} {message}", status_text(status)))
}

fn status_text(s: ConditionStatus) -> &'static str {
    match s {
        ConditionStatus::False => "refused",
        _ => "failed",
    }
}

impl Driver {
    fn arm_http(&self) -> Result<reqwest::Client, Failed> {
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut b = crate::tls::reqwest_builder().timeout(TIMEOUT);
        if let Some(pem) = self.arm.as_ref().and_then(|a| a.ca_pem.as_ref()) {
            let cert = reqwest::Certificate::from_pem(pem.as_bytes()).map_err(|e| {
                (ConditionStatus::Unknown, "ConfigError".to_string(), format!("CA for Azure: {e}"))
            })?;
            b = b.add_root_certificate(cert);
        }
        b.build().map_err(|e| {
            (ConditionStatus::Unknown, "AzureError".to_string(), format!("HTTP client: {e}"))
        })
    }

    /// Where the cluster's Resource Manager calls go: Azure Stack Hub's endpoints when the
    /// cluster states them, else the settings' or Azure's public cloud; the resource group
    /// is the credentials', else the Infrastructure's.
    fn arm_place(
        &self,
        req: &Request<'_>,
        c: &crate::azure::AzureCluster,
    ) -> Result<Place, Failed> {
        let group = if c.resource_group.is_empty() {
            req.infrastructure
                .platform_status()
                .and_then(|p| p.azure.as_ref())
                .map(|a| a.resource_group_name.clone())
                .unwrap_or_default()
        } else {
            c.resource_group.clone()
        };
        if let Some(stack) = &req.credentials.azure_stack {
            let env = stack
                .as_ref()
                .map_err(|m| (ConditionStatus::False, "ConfigError".to_string(), m.clone()))?;
            let management = env.resource_manager_endpoint.trim_end_matches('/').to_string();
            let audience = if env.token_audience.is_empty() {
                management.clone()
            } else {
                env.token_audience.trim_end_matches('/').to_string()
            };
            let authority = Some(env.active_directory_endpoint.clone()).filter(|a| !a.is_empty());
            return Ok(Place { management, group, authority, audience, api: ARM_API_AZURE_STACK });
        }
        let management = self
            .arm
            .as_ref()
            .map_or("https://management.azure.com".to_string(), |a| a.management.clone())
            .trim_end_matches('/')
            .to_string();
        let authority = self.arm.as_ref().map(|a| a.authority_host.clone());
        Ok(Place { audience: management.clone(), management, group, authority, api: ARM_API })
    }

    /// How Resource Manager tokens are obtained: with the managed identity file when the
    /// process names one (a hosted control plane), else with the cluster secret's client
    /// secret, else with its federated token file (workload identity).
    fn arm_credential(
        &self,
        c: &crate::azure::AzureCluster,
        http: &reqwest::Client,
        place: &Place,
    ) -> Result<Arc<dyn azure_core::credentials::TokenCredential>, Failed> {
        use azure_core::credentials::TokenCredential;
        let config_error = |m: String| (ConditionStatus::False, "ConfigError".to_string(), m);
        let mut client_options = azure_core::http::ClientOptions {
            transport: Some(azure_core::http::Transport::new(Arc::new(http.clone()))),
            retry: RetryOptions::none(),
            ..Default::default()
        };
        let mut authority = place.authority.clone();
        let identity = match &self.managed_identity_file {
            Some(path) => {
                Some((path, super::azure_mi::ManagedIdentity::read(path).map_err(config_error)?))
            }
            None => None,
        };
        if let Some((_, mi)) = &identity {
            authority = Some(mi.authority.clone());
        }
        if let Some(authority) = &authority {
            let mut custom = azure_core::cloud::CustomConfiguration::default();
            custom.authority_host = authority.clone();
            client_options.cloud =
                Some(Arc::new(azure_core::cloud::CloudConfiguration::Custom(custom)));
        }
        let credential: Result<Arc<dyn TokenCredential>, _> = if let Some((path, mi)) = identity {
            let audience = token_endpoint(&mi.authority, &mi.tenant_id);
            let assertion = super::azure_mi::FileAssertion { path: path.clone(), audience };
            let options = azure_identity::ClientAssertionCredentialOptions { client_options };
            azure_identity::ClientAssertionCredential::new(
                mi.tenant_id.clone(),
                mi.client_id.clone(),
                assertion,
                Some(options),
            )
            .map(|w| w as Arc<dyn TokenCredential>)
        } else if c.workload_identity() {
            let wi = azure_identity::WorkloadIdentityCredentialOptions {
                client_id: Some(c.client_id.clone()),
                tenant_id: Some(c.tenant_id.clone()),
                token_file_path: Some(c.federated_token_file.clone().into()),
                credential_options: azure_identity::ClientAssertionCredentialOptions {
                    client_options,
                },
            };
            azure_identity::WorkloadIdentityCredential::new(Some(wi))
                .map(|w| w as Arc<dyn TokenCredential>)
        } else if c.client_secret.is_empty() {
            return Err(config_error(
                "the cluster's Azure credentials have neither azure_client_secret nor azure_federated_token_file, and no managed identity file is set (MANAGED_AZURE_HCP_CREDENTIALS_FILE_PATH)".into(),
            ));
        } else {
            let options = azure_identity::ClientSecretCredentialOptions { client_options };
            azure_identity::ClientSecretCredential::new(
                &c.tenant_id,
                c.client_id.clone(),
                c.client_secret.clone().into(),
                Some(options),
            )
            .map(|w| w as Arc<dyn TokenCredential>)
        };
        credential.map_err(|e| config_error(format!("Unable to create azure client: {e}")))
    }

    /// A Resource Manager token for the service principal.
    async fn arm_token(
        &self,
        c: &crate::azure::AzureCluster,
        http: &reqwest::Client,
        place: &Place,
        rt: &RoundTrips,
    ) -> Result<String, Failed> {
        let credential = self.arm_credential(c, http, place)?;
        rt.add();
        let scope = format!("{}/.default", place.audience);
        let token = tokio::time::timeout(TIMEOUT, credential.get_token(&[scope.as_str()], None))
            .await
            .map_err(|_| {
                (
                    ConditionStatus::Unknown,
                    "AzureError".to_string(),
                    "the identity service did not answer".to_string(),
                )
            })?
            .map_err(|e| {
                // The identity platform's error code (AADSTS...) names a refused credential.
                let text = e.to_string();
                let code = text.find("AADSTS").map(|i| {
                    text[i..].chars().take_while(|c| c.is_ascii_alphanumeric()).collect::<String>()
                });
                let refused = code.is_some()
                    || e.http_status().is_some_and(|s| matches!(u16::from(s), 400 | 401 | 403));
                let status =
                    if refused { ConditionStatus::False } else { ConditionStatus::Unknown };
                let reason = code.unwrap_or_else(|| "AzureError".to_string());
                let first = text.lines().next().unwrap_or_default();
                (status, reason, format!("Unable to get an Azure token: {first}"))
            })?;
        Ok(token.token.secret().to_string())
    }

    /// The storage account of a cluster without an account key: found or created through
    /// Resource Manager (HTTPS only, TLS 1.2, no public blob access, tagged), and its key
    /// (listed, then reused for 20 minutes). Returns the key and whether it created the
    /// account; the account name it settled is written into `out.storage`.
    async fn arm_account(
        &self,
        req: &Request<'_>,
        c: &crate::azure::AzureCluster,
        out: &mut Outcome,
        rt: &RoundTrips,
    ) -> Result<(String, bool), Failed> {
        let spec = out.storage.azure.clone().unwrap_or_default();
        let name = if spec.account_name.is_empty() {
            new_account_name(req.infrastructure.infrastructure_name())?
        } else {
            spec.account_name.clone()
        };
        use std::sync::atomic::Ordering::Relaxed;
        if let Some((key, at)) = self.keys.lock().expect("azure keys").get(&name)
            && at.elapsed() < KEY_TTL
        {
            self.key_cache.hits.fetch_add(1, Relaxed);
            return Ok((key.clone(), false));
        }
        self.key_cache.misses.fetch_add(1, Relaxed);
        let (arm, created) = self.arm_open(req, c, &name, rt).await?;
        let key = arm.list_key().await?;
        self.keys
            .lock()
            .expect("azure keys")
            .insert(name.clone(), (key.clone(), std::time::Instant::now()));
        if let Some(a) = out.storage.azure.as_mut() {
            a.account_name = name;
        }
        Ok((key, created))
    }

    /// Resource Manager calls on storage account `name`, with a token.
    async fn arm_handle<'a>(
        &self,
        req: &Request<'_>,
        c: &crate::azure::AzureCluster,
        name: &str,
        rt: &'a RoundTrips,
    ) -> Result<ArmAccount<'a>, Failed> {
        let place = self.arm_place(req, c)?;
        let http = self.arm_http()?;
        let token = self.arm_token(c, &http, &place, rt).await?;
        let base = format!(
            "{}/subscriptions/{}/resourceGroups/{}/providers/Microsoft.Storage/storageAccounts/{name}",
            place.management, c.subscription_id, place.group
        );
        Ok(ArmAccount { http, token, base, api: place.api, rt })
    }

    /// Storage account `name`, created when it does not exist; and whether it was.
    async fn arm_open<'a>(
        &self,
        req: &Request<'_>,
        c: &crate::azure::AzureCluster,
        name: &str,
        rt: &'a RoundTrips,
    ) -> Result<(ArmAccount<'a>, bool), Failed> {
        let arm = self.arm_handle(req, c, name, rt).await?;
        let (status, body) = arm.call(arm.http.get(arm.url(""))).await?;
        let created = match status {
            200 => false,
            404 => {
                arm.create(req, c).await?;
                true
            }
            s => return Err(arm_error("the storage account", s, &body)),
        };
        Ok((arm, created))
    }

    /// Workload identity: deletes the container of `s` through Resource Manager, setting
    /// `StorageExists` False as the Blob deletion does.
    async fn arm_remove_container(
        &self,
        req: &Request<'_>,
        c: &crate::azure::AzureCluster,
        s: &ImageRegistryConfigStorageAzure,
        rt: &RoundTrips,
        out: &mut Outcome,
    ) -> Result<(), Failed> {
        let arm = self.arm_handle(req, c, &s.account_name, rt).await?;
        container_gone(out, arm.delete_container(&s.container).await?);
        Ok(())
    }

    /// Workload identity: the account (without shared keys) and its container, both
    /// through Resource Manager; no key is listed, the registry exchanges its token.
    async fn ensure_by_arm(
        &self,
        req: &Request<'_>,
        c: &crate::azure::AzureCluster,
        rt: &RoundTrips,
    ) -> Outcome {
        let mut out = Outcome::new(req.spec);
        let spec = out.storage.azure.clone().unwrap_or_default();
        let name = if spec.account_name.is_empty() {
            match new_account_name(req.infrastructure.infrastructure_name()) {
                Ok(n) => n,
                Err(f) => return failed(out, f),
            }
        } else {
            spec.account_name.clone()
        };
        let s = crate::azure::effective(&spec, req.infrastructure);
        if s.container.is_empty() {
            let message = "storage.azure.container is not specified";
            return failed(
                out,
                (ConditionStatus::False, "StorageNotConfigured".into(), message.into()),
            );
        }
        let opened = self.arm_open(req, c, &name, rt).await;
        let (arm, account_created) = match opened {
            Ok(a) => a,
            Err(f) => return failed(out, f),
        };
        if let Some(a) = out.storage.azure.as_mut() {
            a.account_name = name;
        }
        let spec = out.storage.azure.clone().unwrap_or_default();
        match arm.ensure_container(&s.container).await {
            Ok(false) if !account_created => adopt_found(&mut out, req, &spec),
            Ok(_) => {
                if out.storage.management_state.is_empty() || account_created {
                    out.storage.management_state = "Managed".into();
                }
            }
            Err(f) => return failed(out, f),
        }
        container_exists(out)
    }

    /// Deletes the storage account through Resource Manager (it was the operator's).
    async fn arm_delete_account(
        &self,
        req: &Request<'_>,
        c: &crate::azure::AzureCluster,
        account: &str,
        rt: &RoundTrips,
    ) -> Result<bool, Failed> {
        let arm = self.arm_handle(req, c, account, rt).await?;
        // Only an account carrying the operator's ownership tag is deleted.
        let (status, body) = arm.call(arm.http.get(arm.url(""))).await?;
        if status == 404 {
            return Ok(false);
        }
        let owner = format!("kubernetes.io_cluster.{}", req.infrastructure.infrastructure_name());
        if body.pointer("/tags").and_then(|t| t.get(&owner)).and_then(|v| v.as_str())
            != Some("owned")
        {
            return Ok(false);
        }
        let (status, body) = arm.call(arm.http.delete(arm.url(""))).await?;
        self.keys.lock().expect("azure keys").remove(account);
        match status {
            200..=299 => Ok(status != 204),
            404 => Ok(false),
            s => Err(arm_error("deleting the storage account", s, &body)),
        }
    }
}

/// A storage account name for the cluster nobody else picked: a constant suffix would
/// collide across clusters, so the suffix comes from the OS's random source.
fn new_account_name(infrastructure_name: &str) -> Result<String, Failed> {
    let mut seed = [0u8; 16];
    rand::TryRng::try_fill_bytes(&mut rand::rngs::SysRng, &mut seed).map_err(|e| {
        (
            ConditionStatus::Unknown,
            "ConfigError".to_string(),
            format!("cannot generate a storage account name: no random source: {e}"),
        )
    })?;
    let mut i = 0;
    Ok(crate::names::azure_account_name(infrastructure_name, || {
        i += 1;
        char::from(b'a' + seed[i % seed.len()] % 26)
    }))
}

/// The tags of a storage account the operator creates: ownership and the
/// Infrastructure's resourceTags.
fn account_tags(infra: &api::Infrastructure) -> serde_json::Map<String, serde_json::Value> {
    let mut tags = serde_json::Map::new();
    tags.insert(format!("kubernetes.io_cluster.{}", infra.infrastructure_name()), "owned".into());
    if let Some(a) = infra.platform_status().and_then(|p| p.azure.as_ref()) {
        for t in &a.resource_tags {
            tags.insert(t.key.clone(), t.value.clone().into());
        }
    }
    tags
}

/// The `provisioningState` of a storage account answer.
fn provisioning_state(body: &serde_json::Value) -> Option<String> {
    body.pointer("/properties/provisioningState").and_then(|s| s.as_str()).map(str::to_string)
}

/// One storage account's Resource Manager calls, with a bearer token.
struct ArmAccount<'a> {
    http: reqwest::Client,
    token: String,
    /// The account's resource URL.
    base: String,
    /// The storage API version.
    api: &'static str,
    rt: &'a RoundTrips,
}

/// Where a cluster's Resource Manager calls go ([`Driver::arm_place`]).
struct Place {
    /// Resource Manager's URL, without a trailing slash.
    management: String,
    group: String,
    /// The identity platform's host (Azure's public one when `None`).
    authority: Option<String>,
    /// The resource whose `.default` scope Resource Manager tokens are asked for.
    audience: String,
    api: &'static str,
}

impl ArmAccount<'_> {
    /// The account's URL with `action` (empty, or `/listKeys`) and the API version.
    fn url(&self, action: &str) -> String {
        format!("{}{action}?api-version={}", self.base, self.api)
    }

    /// Sends `r` with the token: the HTTP status and the JSON body (null when none).
    async fn call(&self, r: reqwest::RequestBuilder) -> Result<(u16, serde_json::Value), Failed> {
        self.rt.add();
        let r = r.bearer_auth(self.token.clone()).send().await.map_err(|e| {
            (
                ConditionStatus::Unknown,
                "AzureError".to_string(),
                format!("cannot reach Azure Resource Manager: {e}"),
            )
        })?;
        let status = r.status().as_u16();
        let body: serde_json::Value = r.json().await.unwrap_or_default();
        Ok((status, body))
    }

    /// Creates the account in the credentials' region and waits until it is provisioned.
    async fn create(
        &self,
        req: &Request<'_>,
        c: &crate::azure::AzureCluster,
    ) -> Result<(), Failed> {
        if c.region.is_empty() {
            return Err((
                ConditionStatus::False,
                "ConfigError".into(),
                "the cluster's Azure credentials name no region (azure_region) to create the storage account in".into(),
            ));
        }
        let account = serde_json::json!({"location": c.region, "kind": "StorageV2",
            "sku": {"name": "Standard_LRS"}, "tags": account_tags(req.infrastructure),
            "properties": {"supportsHttpsTrafficOnly": true, "minimumTlsVersion": "TLS1_2",
                "allowBlobPublicAccess": false,
                // With workload identity nothing uses a key: none may be.
                "allowSharedKeyAccess": !c.workload_identity()}});
        let (status, body) = self.call(self.http.put(self.url("")).json(&account)).await?;
        if !(200..300).contains(&status) {
            return Err(arm_error("creating the storage account", status, &body));
        }
        self.wait_succeeded(&body).await
    }

    /// Creation may finish later (202): polls every 2 s, for up to 2 minutes, until the
    /// provisioning state (first that of `body`) is Succeeded.
    async fn wait_succeeded(&self, body: &serde_json::Value) -> Result<(), Failed> {
        let mut state = provisioning_state(body);
        let deadline = std::time::Instant::now() + Duration::from_secs(120);
        while state.as_deref() != Some("Succeeded") {
            if std::time::Instant::now() > deadline {
                return Err((
                    ConditionStatus::Unknown,
                    "AzureError".into(),
                    "the storage account is still being created".into(),
                ));
            }
            tokio::time::sleep(Duration::from_secs(2)).await;
            let (_, body) = self.call(self.http.get(self.url(""))).await?;
            state = provisioning_state(&body);
        }
        Ok(())
    }

    /// Creates container `name` unless it exists (no public access); whether it created it.
    async fn ensure_container(&self, name: &str) -> Result<bool, Failed> {
        let path = format!("/blobServices/default/containers/{name}");
        let (status, body) = self.call(self.http.get(self.url(&path))).await?;
        match status {
            200 => Ok(false),
            404 => {
                let props = serde_json::json!({"properties": {"publicAccess": "None"}});
                let (status, body) = self.call(self.http.put(self.url(&path)).json(&props)).await?;
                if (200..300).contains(&status) {
                    Ok(true)
                } else {
                    Err(arm_error("creating the container", status, &body))
                }
            }
            s => Err(arm_error("the container", s, &body)),
        }
    }

    /// Deletes container `name` with its blobs; whether it existed.
    async fn delete_container(&self, name: &str) -> Result<bool, Failed> {
        let path = format!("/blobServices/default/containers/{name}");
        let (status, body) = self.call(self.http.delete(self.url(&path))).await?;
        match status {
            200 | 202 => Ok(true),
            204 | 404 => Ok(false),
            s => Err(arm_error("deleting the container", s, &body)),
        }
    }

    /// The account's first key.
    async fn list_key(&self) -> Result<String, Failed> {
        let (status, body) = self.call(self.http.post(self.url("/listKeys"))).await?;
        if status != 200 {
            return Err(arm_error("Unable to get storage account key", status, &body));
        }
        body.pointer("/keys/0/value").and_then(|k| k.as_str()).map(str::to_string).ok_or_else(
            || {
                (
                    ConditionStatus::Unknown,
                    "AzureError".to_string(),
                    "the account has no key".to_string(),
                )
            },
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_sas_is_signed_over_the_documented_fields() {
        // The emulator's well-known development key.
        let key = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
        let q = account_sas("devstoreaccount1", key, "2030-01-01T00:00:00Z", false).unwrap();
        let pairs: std::collections::BTreeMap<String, String> =
            url::form_urlencoded::parse(q.as_bytes()).into_owned().collect();
        assert_eq!(pairs["sv"], SAS_VERSION);
        assert_eq!(pairs["spr"], "https,http");
        let to_sign = "devstoreaccount1\nrwdlac\nb\nsco\n\n2030-01-01T00:00:00Z\n\nhttps,http\n2021-08-06\n\n";
        let mut mac = Hmac::<sha2::Sha256>::new_from_slice(&STANDARD.decode(key).unwrap()).unwrap();
        mac.update(to_sign.as_bytes());
        assert_eq!(pairs["sig"], STANDARD.encode(mac.finalize().into_bytes()));
        assert!(account_sas("a", "not base64!", "2030-01-01T00:00:00Z", true).is_err());
    }
}
