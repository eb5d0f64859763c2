//! What a storage backend contributes to the registry, the pure storage drivers
//! (emptyDir, PVC), which driver a Config selects, and the reference's storage names.
//!
//! Cloud drivers (in the `storage` crate) fill the same [`StorageContribution`].

use std::collections::BTreeMap;

use api::imageregistry::ImageRegistryConfigStorage;
use k8s_openapi::api::core::v1::{
    EmptyDirVolumeSource, PersistentVolumeClaimVolumeSource, Volume, VolumeMount,
};

use crate::envvalue::EnvValue;

/// One env var of the registry container. `secret` values are not written into the
/// Deployment: they go into the private-configuration Secret and are referenced from it.
#[derive(Clone, PartialEq)]
pub struct EnvEntry {
    pub name: String,
    pub value: EnvValue,
    pub secret: bool,
}

impl std::fmt::Debug for EnvEntry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.secret {
            write!(f, "{}=<redacted>", self.name)
        } else {
            write!(f, "{}={:?}", self.name, self.value)
        }
    }
}

impl EnvEntry {
    /// A plain env var.
    pub fn plain(name: &str, value: impl Into<EnvValue>) -> Self {
        EnvEntry { name: name.to_string(), value: value.into(), secret: false }
    }

    /// An env var whose value is a secret.
    pub fn secret(name: &str, value: impl Into<EnvValue>) -> Self {
        EnvEntry { name: name.to_string(), value: value.into(), secret: true }
    }
}

/// Everything a storage backend adds to the registry workload.
#[derive(Clone, PartialEq, Default)]
pub struct StorageContribution {
    /// Driver name as the reference's metrics spell it (`EmptyDir`, `S3`, `PVC`, ...).
    pub driver: &'static str,
    /// Env vars, in the order the registry gets them (before the common ones).
    pub env: Vec<EnvEntry>,
    /// Volumes and mounts (before the common ones).
    pub volumes: Vec<Volume>,
    pub mounts: Vec<VolumeMount>,
    /// Extra keys of the private-configuration Secret (e.g. an S3 credentials file).
    pub secret_data: BTreeMap<String, String>,
    /// PEM bundle the registry must trust to reach the storage, if any.
    pub ca_bundle: String,
}

impl std::fmt::Debug for StorageContribution {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("StorageContribution")
            .field("driver", &self.driver)
            .field("env", &self.env)
            .field("volumes", &self.volumes.iter().map(|v| &v.name).collect::<Vec<_>>())
            .field("secret_data_keys", &self.secret_data.keys().collect::<Vec<_>>())
            .field("ca_bundle_bytes", &self.ca_bundle.len())
            .finish()
    }
}

impl StorageContribution {
    /// Data of the `image-registry-private-configuration` Secret: secret env values keyed
    /// by env name, plus the driver's extra keys.
    pub fn private_configuration(&self) -> BTreeMap<String, String> {
        let mut data = self.secret_data.clone();
        for e in self.env.iter().filter(|e| e.secret) {
            data.insert(e.name.clone(), e.value.encode());
        }
        data
    }
}

/// Volume name of the registry's storage (emptyDir or PVC).
pub const STORAGE_VOLUME: &str = "registry-storage";
/// Where filesystem storage is mounted.
pub const FILESYSTEM_ROOT: &str = "/registry";
/// Default PVC name.
pub const PVC_NAME: &str = "image-registry-storage";

fn filesystem(driver: &'static str, volume: Volume) -> StorageContribution {
    StorageContribution {
        driver,
        env: vec![
            EnvEntry::plain("REGISTRY_STORAGE", "filesystem"),
            EnvEntry::plain("REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY", FILESYSTEM_ROOT),
        ],
        volumes: vec![volume],
        mounts: vec![VolumeMount {
            name: STORAGE_VOLUME.to_string(),
            mount_path: FILESYSTEM_ROOT.to_string(),
            ..Default::default()
        }],
        ..Default::default()
    }
}

/// The emptyDir driver: ephemeral storage in the pod.
pub fn empty_dir() -> StorageContribution {
    filesystem(
        "EmptyDir",
        Volume {
            name: STORAGE_VOLUME.to_string(),
            empty_dir: Some(EmptyDirVolumeSource::default()),
            ..Default::default()
        },
    )
}

/// Whether a claim with `access_modes` can hold the registry (§e.6): ReadWriteMany always;
/// ReadWriteOnce only with at most one replica and the Recreate rollout strategy.
pub fn check_claim(
    claim: &str,
    access_modes: &[String],
    replicas: i32,
    rollout_strategy: &str,
) -> Result<(), String> {
    if access_modes.iter().any(|m| m == "ReadWriteMany") {
        return Ok(());
    }
    if access_modes.iter().any(|m| m == "ReadWriteOnce") {
        if replicas > 1 {
            return Err(
                "cannot use ReadWriteOnce access mode with more than one replica of the image registry"
                    .into(),
            );
        }
        if rollout_strategy != "Recreate" {
            return Err(format!(
                "cannot use ReadWriteOnce access mode with {rollout_strategy} rollout strategy"
            ));
        }
        return Ok(());
    }
    Err(format!(
        "PVC {claim} does not contain the necessary access modes: ReadWriteMany or ReadWriteOnce"
    ))
}

/// The PVC driver: the named claim (the default claim when `claim` is empty).
pub fn pvc(claim: &str) -> StorageContribution {
    let claim = if claim.is_empty() { PVC_NAME } else { claim };
    filesystem(
        "PVC",
        Volume {
            name: STORAGE_VOLUME.to_string(),
            persistent_volume_claim: Some(PersistentVolumeClaimVolumeSource {
                claim_name: claim.to_string(),
                ..Default::default()
            }),
            ..Default::default()
        },
    )
}

/// The storage backend a Config selects.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Backend {
    EmptyDir,
    S3,
    Swift,
    Gcs,
    IbmCos,
    Pvc,
    Azure,
}

impl Backend {
    /// The name the reference uses in messages and metrics.
    pub fn name(self) -> &'static str {
        match self {
            Backend::EmptyDir => "EmptyDir",
            Backend::S3 => "S3",
            Backend::Swift => "Swift",
            Backend::Gcs => "GCS",
            Backend::IbmCos => "IBMCOS",
            Backend::Pvc => "PVC",
            Backend::Azure => "Azure",
        }
    }
}

/// Why no single backend could be selected.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SelectError {
    /// No driver configured (`oss` alone counts as none: it has no driver).
    #[error("storage backend not configured")]
    NotConfigured,
    /// More than one driver configured.
    #[error("exactly one storage type should be configured at the same time, got {}: [{}]", .0.len(), .0.join(" "))]
    Multiple(Vec<&'static str>),
}

/// Selects the one backend of `storage`, in the reference's order of checks.
pub fn select(storage: Option<&ImageRegistryConfigStorage>) -> Result<Backend, SelectError> {
    let Some(s) = storage else { return Err(SelectError::NotConfigured) };
    let candidates = [
        (s.empty_dir.is_some(), Backend::EmptyDir),
        (s.s3.is_some(), Backend::S3),
        (s.swift.is_some(), Backend::Swift),
        (s.gcs.is_some(), Backend::Gcs),
        (s.ibmcos.is_some(), Backend::IbmCos),
        (s.pvc.is_some(), Backend::Pvc),
        (s.azure.is_some(), Backend::Azure),
    ];
    let set: Vec<Backend> = candidates.iter().filter(|(on, _)| *on).map(|(_, b)| *b).collect();
    match set.as_slice() {
        [] => Err(SelectError::NotConfigured),
        [one] => Ok(*one),
        many => Err(SelectError::Multiple(many.iter().map(|b| b.name()).collect())),
    }
}

/// Longest storage name the reference generates.
const MAX_NAME: usize = 62;

fn base_name(infrastructure_name: &str, extra: &[&str]) -> String {
    let mut parts = vec![infrastructure_name, "image-registry"];
    parts.extend(extra.iter().copied().filter(|e| !e.is_empty()));
    let joined = parts.join("-");
    let mut out = String::with_capacity(joined.len());
    for c in joined.chars() {
        if !(c == '-' && out.ends_with('-')) {
            out.push(c);
        }
    }
    out
}

/// `<infra>-image-registry[-<extra>...]`, padded with `-` and random lowercase letters to
/// 62 characters (or cut to 62), lowercased. `random_letters` supplies the letters
/// (`a`-`z`); it is asked for as many as are needed.
pub fn generate_storage_name(
    infrastructure_name: &str,
    extra: &[&str],
    mut random_letters: impl FnMut() -> char,
) -> String {
    let mut name = base_name(infrastructure_name, extra);
    let len = name.chars().count();
    if len >= MAX_NAME {
        name = name.chars().take(MAX_NAME).collect();
        if name.ends_with('-') {
            name.pop();
            name.push(random_letters());
        }
    } else if len == MAX_NAME - 1 {
        name.push(random_letters());
    } else {
        name.push('-');
        while name.chars().count() < MAX_NAME {
            name.push(random_letters());
        }
    }
    name.to_lowercase()
}

/// `<infra>-image-registry[-<extra>...]` cut to 62 characters, a trailing `-` replaced by
/// `s`, lowercased: the same name on every call.
pub fn generate_deterministic_storage_name(infrastructure_name: &str, extra: &[&str]) -> String {
    let mut name: String = base_name(infrastructure_name, extra).chars().take(MAX_NAME).collect();
    if name.ends_with('-') {
        name.pop();
        name.push('s');
    }
    name.to_lowercase()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_access_modes() {
        let modes = |m: &[&str]| m.iter().map(|s| s.to_string()).collect::<Vec<_>>();
        assert_eq!(check_claim("c", &modes(&["ReadWriteMany"]), 3, "RollingUpdate"), Ok(()));
        assert_eq!(check_claim("c", &modes(&["ReadWriteOnce"]), 1, "Recreate"), Ok(()));
        assert!(
            check_claim("c", &modes(&["ReadWriteOnce"]), 2, "Recreate")
                .unwrap_err()
                .contains("more than one replica")
        );
        assert!(
            check_claim("c", &modes(&["ReadWriteOnce"]), 1, "RollingUpdate")
                .unwrap_err()
                .contains("RollingUpdate rollout strategy")
        );
        assert!(
            check_claim("c", &modes(&["ReadOnlyMany"]), 1, "Recreate")
                .unwrap_err()
                .contains("necessary access modes")
        );
    }

    #[test]
    fn selects_exactly_one_backend() {
        let mut s = ImageRegistryConfigStorage::default();
        assert_eq!(select(None), Err(SelectError::NotConfigured));
        assert_eq!(select(Some(&s)), Err(SelectError::NotConfigured));
        s.oss = Some(Default::default());
        assert_eq!(select(Some(&s)), Err(SelectError::NotConfigured), "oss has no driver");
        s.empty_dir = Some(Default::default());
        assert_eq!(select(Some(&s)), Ok(Backend::EmptyDir));
        s.s3 = Some(Default::default());
        s.pvc = Some(Default::default());
        let err = select(Some(&s)).unwrap_err();
        assert_eq!(err, SelectError::Multiple(vec!["EmptyDir", "S3", "PVC"]));
        assert_eq!(
            err.to_string(),
            "exactly one storage type should be configured at the same time, got 3: [EmptyDir S3 PVC]"
        );
        let one = |f: fn(&mut ImageRegistryConfigStorage)| {
            let mut s = ImageRegistryConfigStorage::default();
            f(&mut s);
            select(Some(&s)).unwrap()
        };
        assert_eq!(one(|s| s.gcs = Some(Default::default())), Backend::Gcs);
        assert_eq!(one(|s| s.swift = Some(Default::default())), Backend::Swift);
        assert_eq!(one(|s| s.azure = Some(Default::default())), Backend::Azure);
        assert_eq!(one(|s| s.ibmcos = Some(Default::default())), Backend::IbmCos);
    }

    #[test]
    fn filesystem_drivers() {
        let e = empty_dir();
        assert_eq!(e.driver, "EmptyDir");
        assert_eq!(
            e.env.iter().map(|e| (e.name.as_str(), e.value.encode())).collect::<Vec<_>>(),
            vec![
                ("REGISTRY_STORAGE", "filesystem".to_string()),
                ("REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY", "/registry".to_string())
            ]
        );
        assert!(e.volumes[0].empty_dir.is_some());
        assert_eq!(e.mounts[0].mount_path, "/registry");
        let p = pvc("");
        assert_eq!(
            p.volumes[0].persistent_volume_claim.as_ref().unwrap().claim_name,
            "image-registry-storage"
        );
        assert_eq!(
            pvc("mine").volumes[0].persistent_volume_claim.as_ref().unwrap().claim_name,
            "mine"
        );
        assert!(p.private_configuration().is_empty());
    }

    #[test]
    fn private_configuration_holds_secret_env_and_extra_keys() {
        let c = StorageContribution {
            env: vec![EnvEntry::plain("A", "a"), EnvEntry::secret("KEY", "s3cr3t")],
            secret_data: [("credentials".to_string(), "[default]".to_string())].into(),
            ..Default::default()
        };
        let data = c.private_configuration();
        assert_eq!(data.len(), 2);
        assert_eq!(data["KEY"], "s3cr3t");
        assert_eq!(data["credentials"], "[default]");
        assert!(!format!("{c:?}").contains("s3cr3t"), "Debug must not show secrets");
    }

    #[test]
    fn storage_names() {
        let mut letters = "abcdefghijklmnopqrstuvwxyz".chars().cycle();
        let n =
            generate_storage_name("mycluster-x7k2p", &["us-east-1"], || letters.next().unwrap());
        assert_eq!(n.len(), 62);
        assert!(n.starts_with("mycluster-x7k2p-image-registry-us-east-1-abc"), "{n}");
        let n = generate_storage_name("A--B", &[], || 'q');
        assert!(n.starts_with("a-b-image-registry-qqq"), "{n}");
        assert_eq!(n.len(), 62);
        let long = "x".repeat(70);
        assert_eq!(generate_storage_name(&long, &[], || 'q'), "x".repeat(62));
        // exactly 61 characters: one letter appended, no dash
        let infra = "y".repeat(61 - "-image-registry".len());
        let n = generate_storage_name(&infra, &[], || 'z');
        assert_eq!(n.len(), 62);
        assert!(n.ends_with("registryz"), "{n}");
        // cut at 62 landing on a dash: the dash is replaced by a letter
        let infra = "w".repeat(62 - "-image-registry".len() - 1);
        let n = generate_storage_name(&infra, &["abc"], || 'k');
        assert_eq!(n.len(), 62);
        assert!(n.ends_with("registryk"), "{n}");

        assert_eq!(
            generate_deterministic_storage_name("Infra-1", &["us-west-2"]),
            "infra-1-image-registry-us-west-2"
        );
        let infra = "w".repeat(62 - "-image-registry".len() - 1);
        let d = generate_deterministic_storage_name(&infra, &["abc"]);
        assert_eq!(d.len(), 62);
        assert!(d.ends_with("registrys"), "{d}");
        assert_eq!(d, generate_deterministic_storage_name(&infra, &["abc"]));
    }
}
