//! Storage drivers of the image registry operator.
//!
//! Each backend has a pure part here (what it contributes to the registry workload for a
//! given Config and Infrastructure: env vars, secret-backed env, volumes, secret data, CA
//! bundle, in the [`render::storage::StorageContribution`] shape) and, as the drivers grow,
//! an async part that provisions, checks and removes the storage through the cloud's SDK.
//!
//! Today: emptyDir and PVC (from `render`) and the S3 pure part.

pub mod s3;

use api::{Config, Infrastructure};
use render::storage::{self, Backend, SelectError, StorageContribution};

/// Credentials and other secret material a backend needs for its contribution.
#[derive(Clone, Default)]
pub struct Credentials {
    /// An AWS shared-credentials file (`[default] aws_access_key_id = ...`).
    pub aws_credentials_file: Option<String>,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credentials")
            .field(
                "aws_credentials_file",
                &self.aws_credentials_file.as_ref().map(|_| "<redacted>"),
            )
            .finish()
    }
}

/// What the configured backend contributes, or why there is no single backend.
/// Backends without a pure part yet report their name and nothing else.
pub fn contribution(
    config: &Config,
    infrastructure: &Infrastructure,
    credentials: &Credentials,
) -> Result<StorageContribution, SelectError> {
    let s = config.spec.storage.as_ref();
    Ok(match storage::select(s)? {
        Backend::EmptyDir => storage::empty_dir(),
        Backend::Pvc => storage::pvc(
            &s.and_then(|s| s.pvc.as_ref()).map(|p| p.claim.clone()).unwrap_or_default(),
        ),
        Backend::S3 => {
            let s3 = s.and_then(|s| s.s3.clone()).unwrap_or_default();
            s3::contribution(&s3::effective(&s3, infrastructure), credentials)
        }
        other => StorageContribution { driver: other.name(), ..Default::default() },
    })
}
