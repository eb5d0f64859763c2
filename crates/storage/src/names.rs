//! Names the drivers choose when the Config leaves them empty, written back into the spec
//! once the storage is created. Random parts come from a caller-supplied source of
//! characters, so that this stays pure.

use api::imageregistry::ImageRegistryConfigStorage;
use api::{Config, Infrastructure};
use render::storage::{generate_deterministic_storage_name, generate_storage_name};

/// Azure storage account name: `imageregistry` + the infrastructure name without
/// non-alphanumerics, cut to 19 characters, + 5 random characters, lowercased.
pub fn azure_account_name(infrastructure_name: &str, mut random: impl FnMut() -> char) -> String {
    let mut prefix: String = "imageregistry"
        .chars()
        .chain(infrastructure_name.chars().filter(|c| c.is_ascii_alphanumeric()))
        .take(19)
        .collect();
    for _ in 0..5 {
        prefix.push(random());
    }
    prefix.to_lowercase()
}

/// Fills the empty names of the configured backend: S3 bucket (deterministic), GCS bucket
/// and IBM COS bucket (random suffix, with the region or location), Swift container and
/// Azure container (random). `random` yields lowercase letters or digits.
/// A storage whose name is filled, and whose owner is unset, becomes Managed: the name is
/// the operator's choice, so the bucket made under it is the operator's. That is written
/// back with the name, before the bucket is created, so that a pass that creates it and
/// dies before its next write (a crash, a failed write) leaves a spec that still says so:
/// found by the next pass, the bucket is not taken for a user's, and Removed deletes it.
/// Returns whether anything was filled.
pub fn fill(config: &mut Config, infra: &Infrastructure, mut random: impl FnMut() -> char) -> bool {
    let infra_name = infra.infrastructure_name().to_string();
    let Some(storage) = config.spec.storage.as_mut() else { return false };
    let ImageRegistryConfigStorage { s3, gcs, swift, azure, ibmcos, .. } = storage;
    let mut letters = || {
        let c = random();
        if c.is_ascii_lowercase() { c } else { char::from(b'a' + (c as u8 % 26)) }
    };
    let mut filled = false;
    if let Some(s) = s3.as_mut().filter(|s| s.bucket.is_empty()) {
        let region = crate::s3::effective(s, infra).region;
        s.bucket = generate_deterministic_storage_name(&infra_name, &[&region]);
        filled = true;
    }
    if let Some(g) = gcs.as_mut().filter(|g| g.bucket.is_empty()) {
        let region = crate::gcs::effective(g, infra).region;
        g.bucket = generate_storage_name(&infra_name, &[&region], &mut letters);
        filled = true;
    }
    if let Some(s) = swift.as_mut().filter(|s| s.container.is_empty()) {
        s.container = generate_storage_name(&infra_name, &[], &mut letters);
        filled = true;
    }
    if let Some(i) = ibmcos.as_mut().filter(|i| i.bucket.is_empty()) {
        let location = crate::ibmcos::effective(i, infra).location;
        i.bucket = generate_storage_name(&infra_name, &[&location], &mut letters);
        filled = true;
    }
    // The Azure account name is left alone: with an account key it is the user's to give,
    // and a generated one only makes sense where the operator creates the storage account
    // (through Azure Resource Manager, not implemented).
    if let Some(a) = azure.as_mut()
        && a.container.is_empty()
    {
        a.container = generate_storage_name(&infra_name, &[], &mut letters);
        filled = true;
    }
    if filled && storage.management_state.is_empty() {
        storage.management_state = "Managed".into();
    }
    filled
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::config::{GcpPlatformStatus, InfrastructureStatus, PlatformStatus};
    use api::imageregistry::ImageRegistryConfigStorageGcs;

    fn infra() -> Infrastructure {
        Infrastructure {
            status: Some(InfrastructureStatus {
                infrastructure_name: "demo-x7k2p".into(),
                platform_status: Some(PlatformStatus {
                    gcp: Some(GcpPlatformStatus {
                        region: "us-central1".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn with(storage: ImageRegistryConfigStorage) -> Config {
        let mut c = Config::default();
        c.spec.storage = Some(storage);
        c
    }

    #[test]
    fn fills_only_empty_names() {
        let mut c = with(ImageRegistryConfigStorage {
            gcs: Some(Default::default()),
            ..Default::default()
        });
        assert!(fill(&mut c, &infra(), || 'q'));
        let bucket = &c.spec.storage.as_ref().unwrap().gcs.as_ref().unwrap().bucket;
        assert!(bucket.starts_with("demo-x7k2p-image-registry-us-central1-qqq"), "{bucket}");
        assert_eq!(bucket.len(), 62);
        assert!(!fill(&mut c, &infra(), || 'z'), "a set name is kept");

        let mut c = with(ImageRegistryConfigStorage {
            azure: Some(Default::default()),
            ..Default::default()
        });
        let mut n = 0u8;
        fill(&mut c, &infra(), || {
            n += 1;
            char::from(b'0' + n % 10)
        });
        let a = c.spec.storage.as_ref().unwrap().azure.as_ref().unwrap();
        assert_eq!(a.container.len(), 62);
        let suffix = a.container.strip_prefix("demo-x7k2p-image-registry-").unwrap();
        assert!(suffix.chars().all(|ch| ch.is_ascii_lowercase()), "letters only: {}", a.container);
        assert_eq!(a.account_name, "", "the account is the user's to name");

        let mut c =
            with(ImageRegistryConfigStorage { s3: Some(Default::default()), ..Default::default() });
        fill(&mut c, &infra(), || 'q');
        assert_eq!(
            c.spec.storage.as_ref().unwrap().s3.as_ref().unwrap().bucket,
            "demo-x7k2p-image-registry"
        );

        let mut c = with(ImageRegistryConfigStorage {
            empty_dir: Some(Default::default()),
            ..Default::default()
        });
        assert!(!fill(&mut c, &infra(), || 'q'));
    }

    /// The crash trials' finding: a kill between the creation of the bucket and the pass's
    /// next write left `Unset`, and the restarted operator took the bucket for the user's.
    #[test]
    fn a_filled_name_is_the_operators_from_the_start() {
        let mut c =
            with(ImageRegistryConfigStorage { s3: Some(Default::default()), ..Default::default() });
        fill(&mut c, &infra(), || 'q');
        assert_eq!(c.spec.storage.as_ref().unwrap().management_state, "Managed");

        let users = ImageRegistryConfigStorage {
            gcs: Some(ImageRegistryConfigStorageGcs {
                bucket: "mine".into(),
                ..Default::default()
            }),
            ..Default::default()
        };
        let mut c = with(users);
        assert!(!fill(&mut c, &infra(), || 'q'));
        assert_eq!(c.spec.storage.as_ref().unwrap().management_state, "", "a named bucket");

        let mut c = with(ImageRegistryConfigStorage {
            management_state: "Unmanaged".into(),
            swift: Some(Default::default()),
            ..Default::default()
        });
        assert!(fill(&mut c, &infra(), || 'q'));
        assert_eq!(c.spec.storage.as_ref().unwrap().management_state, "Unmanaged", "a set owner");
    }

    #[test]
    fn azure_account_names() {
        assert_eq!(azure_account_name("My-Cluster_1", || 'A'), "imageregistrymyclusaaaaa");
        assert_eq!(azure_account_name("", || 'b'), "imageregistrybbbbb");
    }
}
