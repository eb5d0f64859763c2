//! The async part of the storage drivers: provision or adopt the configured storage, check
//! that it exists, and remove what the operator created (§e).
//!
//! One [`Provisioner`] lives as long as the operator process: it keeps the cloud clients
//! (and their connection pools) between passes, and what it last applied, so that a pass
//! with nothing changed costs one existence check.
//!
//! The operator hands over the Config's `spec.storage` (names already filled) and its
//! `status.storage` (what was applied last); it gets back the `spec.storage` to write back
//! (management state, names the driver decided), the conditions to set, and whether the
//! pass must be retried. Removal works from `status.storage` and never touches storage
//! whose management state is not `Managed`.

pub mod azure;
pub mod azure_mi;
pub mod gcs;
pub mod ibmcos;
pub mod s3;
pub mod swift;

use render::conditions::Reason;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use api::Infrastructure;
use api::imageregistry::ImageRegistryConfigStorage;
use render::conditions::Cond;
use render::storage::Backend;

use crate::Credentials;
use crate::credentials::Source;

pub use api::ConditionStatus;

/// The environment variable naming an Azure Blob endpoint to use instead of Azure's.
pub const AZURE_BLOB_ENDPOINT_ENV: &str = "IMAGE_REGISTRY_AZURE_BLOB_ENDPOINT";

/// `StorageExists`, the condition every driver reports.
pub const STORAGE_EXISTS: &str = "StorageExists";

/// What a driver works from.
pub struct Request<'a> {
    /// `spec.storage` with its names filled.
    pub spec: &'a ImageRegistryConfigStorage,
    /// `status.storage`: the storage as last applied (empty when never).
    pub applied: &'a ImageRegistryConfigStorage,
    pub infrastructure: &'a Infrastructure,
    pub credentials: &'a Credentials,
    /// Which secret the credentials came from (for messages).
    pub source: Source,
    /// Certificate authorities of the storage server besides the cluster's bundle.
    pub ca: CaTrust,
}

/// The certificate authorities a driver's client trusts for its storage server: PEM
/// bundles that replace the system's roots or are added to them. The cluster's trusted CA
/// bundle ([`crate::tls`]) is trusted in both cases.
#[derive(Clone, Default, PartialEq, Eq, Hash)]
pub struct CaTrust {
    /// Trusted instead of the system's roots (S3 `trustedCA`, Swift's `cacert`).
    pub instead: Option<String>,
    /// Trusted besides the system's roots (S3: the `kube-cloud-config` bundle).
    pub besides: Option<String>,
}

impl std::fmt::Debug for CaTrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let len = |o: &Option<String>| o.as_ref().map(String::len);
        f.debug_struct("CaTrust")
            .field("instead_bytes", &len(&self.instead))
            .field("besides_bytes", &len(&self.besides))
            .finish()
    }
}

impl CaTrust {
    /// Only `pem`, instead of the system's roots.
    pub fn only(pem: impl Into<String>) -> Self {
        CaTrust { instead: Some(pem.into()), besides: None }
    }

    /// The bundle the registry is given for its storage (`storage-ca-bundle.pem`).
    pub fn bundle(&self) -> &str {
        self.instead.as_deref().or(self.besides.as_deref()).unwrap_or("")
    }
}

/// What a driver did.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// `spec.storage` after the step: the management state and names it settled.
    pub storage: ImageRegistryConfigStorage,
    /// Conditions to set on the Config.
    pub conditions: Vec<Cond>,
    /// Set when the step failed; the pass is retried with backoff.
    pub error: Option<String>,
    /// A credentials file the driver obtained for the registry (IBM COS HMAC keys).
    pub credentials_file: Option<String>,
    /// A storage account key the driver obtained for the registry (Azure through
    /// Resource Manager).
    pub account_key: Option<String>,
}

impl Outcome {
    /// Nothing done yet to `storage`.
    pub fn new(storage: &ImageRegistryConfigStorage) -> Self {
        Outcome {
            storage: storage.clone(),
            conditions: Vec::new(),
            error: None,
            credentials_file: None,
            account_key: None,
        }
    }

    fn set(&mut self, type_: &str, status: ConditionStatus, reason: Reason, message: &str) {
        self.conditions.retain(|c| c.type_ != type_);
        self.conditions.push(Cond::new(type_, status, reason, message));
    }

    fn fail(&mut self, message: String) {
        self.error.get_or_insert(message);
    }

    /// Whether the step succeeded.
    pub fn ok(&self) -> bool {
        self.error.is_none()
    }

    /// Storage found in place (not created by this step) is the user's: Unmanaged when no
    /// state is set, and also when the spec still says Managed but the storage moved away
    /// from what the operator manages (`moved`): pointing the registry at another bucket
    /// never makes that bucket the operator's to delete.
    fn adopt(&mut self, applied: &ImageRegistryConfigStorage, moved: bool) {
        let state = &mut self.storage.management_state;
        if state.is_empty()
            || (moved && applied.management_state == "Managed" && state == "Managed")
        {
            *state = "Unmanaged".into();
        }
    }
}

/// Counts the requests sent to storage servers.
#[derive(Debug, Default)]
pub struct RoundTrips(AtomicU64);

impl RoundTrips {
    pub fn add(&self) {
        self.0.fetch_add(1, Ordering::Relaxed);
    }
    pub fn get(&self) -> u64 {
        self.0.load(Ordering::Relaxed)
    }
}

/// The storage drivers' shared state; cheap to clone.
#[derive(Clone, Default)]
pub struct Provisioner {
    s3: s3::Driver,
    gcs: gcs::Driver,
    azure: azure::Driver,
    swift: swift::Driver,
    ibmcos: ibmcos::Driver,
    round_trips: Arc<RoundTrips>,
}

impl Provisioner {
    pub fn new() -> Self {
        Self::default()
    }

    /// Endpoints from the environment: `STORAGE_EMULATOR_HOST` (Google's convention for a
    /// GCS emulator: `host:port` or a URL) sends GCS calls there, without a token;
    /// `IMAGE_REGISTRY_AZURE_BLOB_ENDPOINT` sends Azure Blob calls to `<url>/<account>`.
    pub fn from_env() -> Self {
        let mut p = Self::new();
        if let Ok(host) = std::env::var("STORAGE_EMULATOR_HOST")
            && !host.is_empty()
        {
            let url = if host.contains("://") { host } else { format!("http://{host}") };
            p = p.with_gcs_endpoint(&url);
        }
        if let Ok(url) = std::env::var(AZURE_BLOB_ENDPOINT_ENV)
            && !url.is_empty()
        {
            p = p.with_azure_blob_endpoint(&url);
        }
        if let Ok(path) = std::env::var(azure_mi::MANAGED_IDENTITY_FILE_ENV)
            && !path.is_empty()
        {
            p.azure.managed_identity_file = Some(path);
        }
        p
    }

    /// Sends Azure Blob calls to `url`/`<account>` (an emulator such as Azurite).
    pub fn with_azure_blob_endpoint(mut self, url: &str) -> Self {
        self.azure.endpoint = Some(url.to_string());
        self
    }

    /// The Azure driver (its account-key helpers stand for a user in `local` and tests).
    pub fn azure(&self) -> &azure::Driver {
        &self.azure
    }

    /// Sends Azure Resource Manager and identity calls to these endpoints (a stand-in),
    /// trusting `ca_pem` for them.
    pub fn with_azure_arm(mut self, settings: azure::ArmSettings) -> Self {
        self.azure.arm = Some(settings);
        self
    }

    /// Obtains Resource Manager tokens with the managed identity file at `path` (what
    /// `MANAGED_AZURE_HCP_CREDENTIALS_FILE_PATH` names in [`Provisioner::from_env`]).
    pub fn with_azure_managed_identity(mut self, path: &str) -> Self {
        self.azure.managed_identity_file = Some(path.to_string());
        self
    }

    /// Sends GCS calls to `url` (an emulator) without a token.
    pub fn with_gcs_endpoint(mut self, url: &str) -> Self {
        self.gcs = gcs::Driver { endpoint: Some(url.to_string()), ..Default::default() };
        self
    }

    /// Requests sent to storage servers since the start (every attempt counts).
    pub fn round_trips(&self) -> u64 {
        self.round_trips.get()
    }

    /// Whether Swift answers with these credentials (on OpenStack the bootstrap then picks
    /// Swift storage rather than a claim).
    pub async fn swift_available(&self, credentials: &Credentials) -> Result<bool, String> {
        self.swift.available(&credentials.swift, &self.round_trips).await
    }

    /// Provisions, adopts or checks the storage of `req.spec`. `None` for the storage the
    /// operator keeps in the cluster itself (emptyDir, PVC) or none configured.
    pub async fn ensure(&self, req: &Request<'_>) -> Option<Outcome> {
        let backend = render::storage::select(Some(req.spec)).ok()?;
        if let Some(p) = &req.credentials.problem
            && !matches!(backend, Backend::EmptyDir | Backend::Pvc)
        {
            let mut out = Outcome::new(req.spec);
            out.set(STORAGE_EXISTS, ConditionStatus::False, Reason::parse("InvalidCredentials"), p);
            out.fail(p.clone());
            return Some(out);
        }
        match backend {
            Backend::EmptyDir | Backend::Pvc => None,
            Backend::S3 => Some(self.s3.ensure(req, &self.round_trips).await),
            Backend::Gcs => Some(self.gcs.ensure(req, &self.round_trips).await),
            Backend::Azure => Some(self.azure.ensure(req, &self.round_trips).await),
            Backend::Swift => Some(self.swift.ensure(req, &self.round_trips).await),
            Backend::IbmCos => Some(self.ibmcos.ensure(req, &self.round_trips, &self.s3).await),
        }
    }

    /// Removes the storage of `req.applied` when the operator created it (Managed);
    /// otherwise leaves it alone and succeeds. `None` as for [`Provisioner::ensure`].
    pub async fn remove(&self, req: &Request<'_>) -> Option<Outcome> {
        let backend = render::storage::select(Some(req.applied)).ok()?;
        if matches!(backend, Backend::EmptyDir | Backend::Pvc) {
            return None;
        }
        if req.applied.management_state != "Managed" {
            let mut out = Outcome::new(req.spec);
            out.conditions.clear();
            return Some(out);
        }
        let mut out = match backend {
            Backend::S3 => self.s3.remove(req, &self.round_trips).await,
            Backend::Gcs => self.gcs.remove(req, &self.round_trips).await,
            Backend::Azure => self.azure.remove(req, &self.round_trips).await,
            Backend::Swift => self.swift.remove(req, &self.round_trips).await,
            Backend::IbmCos => self.ibmcos.remove(req, &self.round_trips, &self.s3).await,
            Backend::EmptyDir | Backend::Pvc => unreachable!("handled above"),
        };
        if out.ok() {
            // The storage is gone: whatever the spec points at next is judged afresh
            // (created: Managed; found: the user's).
            out.storage.management_state.clear();
        }
        Some(out)
    }
}
