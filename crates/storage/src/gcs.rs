//! Google Cloud Storage: the pure part.

use api::Infrastructure;
use api::imageregistry::ImageRegistryConfigStorageGcs;
use k8s_openapi::api::core::v1::{KeyToPath, SecretVolumeSource, Volume, VolumeMount};
use render::names::PRIVATE_CONFIGURATION;
use render::storage::{EnvEntry, StorageContribution};

/// Key of the service-account keyfile in the private-configuration Secret.
pub const KEYFILE_KEY: &str = "REGISTRY_STORAGE_GCS_KEYFILE";

/// The GCS config with region and project from the Infrastructure when no region is set.
pub fn effective(
    spec: &ImageRegistryConfigStorageGcs,
    infra: &Infrastructure,
) -> ImageRegistryConfigStorageGcs {
    let mut s = spec.clone();
    if s.region.is_empty()
        && let Some(gcp) = infra.platform_status().and_then(|p| p.gcp.as_ref())
    {
        s.region = gcp.region.clone();
        s.project_id = gcp.project_id.clone();
    }
    s
}

/// Env and volumes of an (effective) GCS config; `keyfile` is the service-account JSON.
pub fn contribution(
    s: &ImageRegistryConfigStorageGcs,
    keyfile: Option<&str>,
) -> StorageContribution {
    let mut secret_data = std::collections::BTreeMap::new();
    if let Some(k) = keyfile {
        secret_data.insert(KEYFILE_KEY.to_string(), k.to_string());
    }
    StorageContribution {
        driver: "GCS",
        env: vec![
            EnvEntry::plain("REGISTRY_STORAGE", "gcs"),
            EnvEntry::plain("REGISTRY_STORAGE_GCS_BUCKET", s.bucket.as_str()),
            EnvEntry::plain("REGISTRY_STORAGE_GCS_KEYFILE", "/gcs/keyfile"),
        ],
        volumes: vec![Volume {
            name: "registry-storage-keyfile".to_string(),
            secret: Some(SecretVolumeSource {
                secret_name: Some(PRIVATE_CONFIGURATION.to_string()),
                items: Some(vec![KeyToPath {
                    key: KEYFILE_KEY.to_string(),
                    path: "keyfile".to_string(),
                    mode: None,
                }]),
                optional: Some(false),
                ..Default::default()
            }),
            ..Default::default()
        }],
        mounts: vec![VolumeMount {
            name: "registry-storage-keyfile".to_string(),
            mount_path: "/gcs".to_string(),
            ..Default::default()
        }],
        secret_data,
        ca_bundle: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::config::{GcpPlatformStatus, InfrastructureStatus, PlatformStatus};

    #[test]
    fn gcs() {
        let infra = Infrastructure {
            status: Some(InfrastructureStatus {
                platform_status: Some(PlatformStatus {
                    type_: "GCP".into(),
                    gcp: Some(GcpPlatformStatus {
                        region: "us-central1".into(),
                        project_id: "p".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let s = effective(
            &ImageRegistryConfigStorageGcs { bucket: "b".into(), ..Default::default() },
            &infra,
        );
        assert_eq!((s.region.as_str(), s.project_id.as_str()), ("us-central1", "p"));
        let kept = effective(
            &ImageRegistryConfigStorageGcs { region: "europe-west1".into(), ..Default::default() },
            &infra,
        );
        assert_eq!((kept.region.as_str(), kept.project_id.as_str()), ("europe-west1", ""));
        let c = contribution(&s, Some("{\"type\": \"service_account\"}"));
        let env: Vec<_> = c.env.iter().map(|e| (e.name.as_str(), e.value.encode())).collect();
        assert_eq!(
            env,
            [
                ("REGISTRY_STORAGE", "gcs".to_string()),
                ("REGISTRY_STORAGE_GCS_BUCKET", "b".to_string()),
                ("REGISTRY_STORAGE_GCS_KEYFILE", "/gcs/keyfile".to_string()),
            ]
        );
        assert_eq!(c.mounts[0].mount_path, "/gcs");
        assert_eq!(
            c.volumes[0].secret.as_ref().unwrap().items.as_ref().unwrap()[0].path,
            "keyfile"
        );
        assert_eq!(c.private_configuration()[KEYFILE_KEY], "{\"type\": \"service_account\"}");
    }
}
