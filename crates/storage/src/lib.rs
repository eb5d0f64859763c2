//! Storage drivers of the image registry operator.
//!
//! Each backend has a pure part here: what it contributes to the registry workload for a
//! given Config, Infrastructure and credentials (env vars, secret-backed env, volumes,
//! secret data, CA bundle), in the [`render::storage::StorageContribution`] shape. The
//! async part (provision, check, adopt, remove through the cloud's API) comes next.

pub mod azure;
pub mod credentials;
pub mod gcs;
pub mod ibmcos;
pub mod names;
pub mod provision;
pub mod proxy;
pub mod s3;
pub mod swift;
pub mod tls;

/// The S3 SDK the driver uses (for tools and tests that look at buckets).
pub use aws_sdk_s3;
/// The GCS client the driver uses.
pub use google_storage1;

use api::{Config, Infrastructure};
use render::storage::{self, Backend, SelectError, StorageContribution};

/// Credentials the contributions need; what is unknown stays `None`/default, and the
/// matching secret env values or Secret keys are then left out.
#[derive(Clone, Default)]
pub struct Credentials {
    /// An AWS-style shared-credentials file (S3, and IBM COS HMAC keys).
    pub s3_credentials_file: Option<String>,
    /// A GCP service-account keyfile.
    pub gcs_keyfile: Option<String>,
    /// An IBM Cloud IAM API key.
    pub ibm_api_key: Option<String>,
    pub azure: azure::AzureAuth,
    pub swift: swift::SwiftCredentials,
    /// The cluster's Azure service principal (Resource Manager mode).
    pub azure_cluster: Option<azure::AzureCluster>,
    /// On Azure Stack Hub, its endpoints as the cluster states them, or why they cannot
    /// be read.
    pub azure_stack: Option<Result<azure::AzureEnvironment, String>>,
    /// What is wrong with the secrets these came from ([`credentials::problem`]): no cloud
    /// call is made with them.
    pub problem: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let set = |o: &Option<String>| if o.is_some() { "<redacted>" } else { "none" };
        f.debug_struct("Credentials")
            .field("s3_credentials_file", &set(&self.s3_credentials_file))
            .field("gcs_keyfile", &set(&self.gcs_keyfile))
            .field("ibm_api_key", &set(&self.ibm_api_key))
            .field("azure", &self.azure)
            .field("swift", &self.swift)
            .field("azure_cluster", &self.azure_cluster)
            .field("azure_stack", &self.azure_stack)
            .finish()
    }
}

/// Why no contribution could be computed.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ContributionError {
    #[error(transparent)]
    Select(#[from] SelectError),
    /// The backend's configuration cannot be used as it is.
    #[error("{0}")]
    Config(String),
}

/// What the configured backend contributes to the registry workload.
pub fn contribution(
    config: &Config,
    infrastructure: &Infrastructure,
    credentials: &Credentials,
) -> Result<StorageContribution, ContributionError> {
    let s = config.spec.storage.clone().unwrap_or_default();
    Ok(match storage::select(config.spec.storage.as_ref())? {
        Backend::EmptyDir => storage::empty_dir(),
        Backend::Pvc => storage::pvc(&s.pvc.unwrap_or_default().claim),
        Backend::S3 => {
            let spec = s3::effective(&s.s3.unwrap_or_default(), infrastructure);
            s3::contribution(&spec, credentials)
        }
        Backend::Gcs => {
            let spec = gcs::effective(&s.gcs.unwrap_or_default(), infrastructure);
            gcs::contribution(&spec, credentials.gcs_keyfile.as_deref())
        }
        Backend::Azure => {
            let spec = azure::effective(&s.azure.unwrap_or_default(), infrastructure);
            let stack = credentials.azure_stack.as_ref();
            azure::contribution(&spec, &credentials.azure, stack)
                .map_err(ContributionError::Config)?
        }
        Backend::Swift => swift::contribution(&s.swift.unwrap_or_default(), &credentials.swift)
            .map_err(ContributionError::Config)?,
        Backend::IbmCos => {
            let spec = ibmcos::effective(&s.ibmcos.unwrap_or_default(), infrastructure);
            let endpoint = ibmcos::endpoint_override(infrastructure);
            ibmcos::contribution(
                &spec,
                endpoint.as_deref(),
                credentials.s3_credentials_file.as_deref(),
            )
        }
    })
}
