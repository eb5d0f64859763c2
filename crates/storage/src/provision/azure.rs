//! Azure Blob in account-key mode (the user's `REGISTRY_STORAGE_AZURE_ACCOUNTKEY`): the
//! container is checked, created (then Managed) or adopted (Unmanaged), and deleted on
//! removal when Managed, through the official Blob SDK. The SDK authenticates with Entra
//! ID or a SAS in the URL only, so the driver signs a short-lived account SAS with the key.
//!
//! Without an account key the storage account itself is the operator's to create through
//! Azure Resource Manager, which this driver does not call yet: it says so in
//! `StorageExists`.

use std::sync::Arc;
use std::time::Duration;

use api::imageregistry::ImageRegistryConfigStorageAzure;
use azure_core::http::{ClientOptions, RetryOptions, Url};
use azure_storage_blob::{BlobContainerClient, BlobContainerClientOptions};
use base64::Engine;
use base64::engine::general_purpose::STANDARD;
use hmac::{Hmac, Mac};

use super::{ConditionStatus, Outcome, Request, RoundTrips, STORAGE_EXISTS};
use crate::azure::{AzureAuth, storage_suffix};

const TIMEOUT: Duration = Duration::from_secs(30);
/// The SAS version signed (its string-to-sign ends with the encryption scope).
const SAS_VERSION: &str = "2021-08-06";

/// The Azure driver's settings.
#[derive(Clone, Default)]
pub struct Driver {
    /// A Blob endpoint to use instead of `https://<account>.blob.<suffix>` (an emulator such
    /// as Azurite): the account is then the first path segment, `<endpoint>/<account>`.
    pub endpoint: Option<String>,
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

impl Driver {
    /// The container client of `s`, or the condition (reason, message) saying why not.
    fn container(
        &self,
        s: &ImageRegistryConfigStorageAzure,
        auth: &AzureAuth,
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
                let cloud =
                    if s.cloud_name.is_empty() { "AzurePublicCloud" } else { &s.cloud_name };
                let suffix = storage_suffix(cloud).ok_or_else(|| {
                    (
                        ConditionStatus::Unknown,
                        "ConfigError".to_string(),
                        format!("Unable to get cloud environment: no cloud named {cloud:?}"),
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
            client_options: ClientOptions { retry: RetryOptions::none(), ..Default::default() },
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

    pub(super) async fn ensure(&self, req: &Request<'_>, rt: &Arc<RoundTrips>) -> Outcome {
        let mut out = Outcome::new(req.spec);
        let spec = req.spec.azure.clone().unwrap_or_default();
        let s = crate::azure::effective(&spec, req.infrastructure);
        let c = match self.container(&s, &req.credentials.azure) {
            Ok(c) => c,
            Err((status, reason, message)) => {
                out.set(STORAGE_EXISTS, status, &reason, &message);
                out.fail(message);
                return out;
            }
        };
        let unchanged = req.applied.azure.as_ref() == Some(&spec)
            && req.applied.management_state == req.spec.management_state
            && !req.spec.management_state.is_empty();
        let exists = match call(rt, &c.shown, c.client.exists()).await {
            Ok(e) => e,
            Err(f) => {
                let (status, reason) = match &f {
                    Failure::Status { code, .. } => (ConditionStatus::False, code.clone()),
                    Failure::Unreachable(_) => (ConditionStatus::Unknown, "AzureError".into()),
                };
                out.set(STORAGE_EXISTS, status, &reason, &f.message());
                out.fail(format!("Azure container {}: {}", c.shown, f.message()));
                return out;
            }
        };
        if exists {
            if !unchanged {
                let moved = req.applied.azure.as_ref().is_some_and(|a| {
                    (a.account_name.as_str(), a.container.as_str())
                        != (spec.account_name.as_str(), spec.container.as_str())
                }) && req.applied.management_state == "Managed";
                let state = &mut out.storage.management_state;
                if state.is_empty() || (moved && state == "Managed") {
                    *state = "Unmanaged".into();
                }
            }
            out.set(
                STORAGE_EXISTS,
                ConditionStatus::True,
                "ContainerExists",
                "Storage container exists",
            );
            return out;
        }
        match call(rt, &c.shown, c.client.create(None)).await {
            Ok(_) => {}
            Err(Failure::Status { code, .. }) if code == "ContainerAlreadyExists" => {}
            Err(f) => {
                let (status, reason) = match &f {
                    Failure::Status { code, .. } => (ConditionStatus::False, code.clone()),
                    Failure::Unreachable(_) => (ConditionStatus::Unknown, "AzureError".into()),
                };
                out.set(STORAGE_EXISTS, status, &reason, &f.message());
                out.fail(format!("creating Azure container {}: {}", c.shown, f.message()));
                return out;
            }
        }
        if out.storage.management_state.is_empty() {
            out.storage.management_state = "Managed".into();
        }
        out.set(
            STORAGE_EXISTS,
            ConditionStatus::True,
            "ContainerExists",
            "Storage container exists",
        );
        out
    }

    /// Deletes the container (with its blobs) of `req.applied`, which is Managed.
    pub(super) async fn remove(&self, req: &Request<'_>, rt: &Arc<RoundTrips>) -> Outcome {
        let mut out = Outcome::new(req.spec);
        let applied = req.applied.azure.clone().unwrap_or_default();
        let s = crate::azure::effective(&applied, req.infrastructure);
        let c = match self.container(&s, &req.credentials.azure) {
            Ok(c) => c,
            Err((_, reason, message)) => {
                out.set(STORAGE_EXISTS, ConditionStatus::Unknown, &reason, &message);
                out.fail(message);
                return out;
            }
        };
        match call(rt, &c.shown, c.client.delete(None)).await {
            Ok(_) => {
                out.set(
                    STORAGE_EXISTS,
                    ConditionStatus::False,
                    "ContainerDeleted",
                    "Storage container has been deleted",
                );
            }
            Err(Failure::Status { status: 404, .. }) => {
                out.set(
                    STORAGE_EXISTS,
                    ConditionStatus::False,
                    "ContainerNotFound",
                    "Container has been already deleted",
                );
            }
            Err(f) => {
                let reason = match &f {
                    Failure::Status { code, .. } => code.clone(),
                    Failure::Unreachable(_) => "AzureError".into(),
                };
                out.set(STORAGE_EXISTS, ConditionStatus::Unknown, &reason, &f.message());
                out.fail(format!("removing Azure container {}: {}", c.shown, f.message()));
                return out;
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
