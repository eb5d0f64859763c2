//! Stage 3, spec: completes a Managed registry's spec (finalizer, httpSecret, storage from
//! the platform when unset, generated names, the storage's owner) and writes it back,
//! conditional on the version read so that a concurrent edit is not overwritten.

use api::imageregistry::{CLUSTER, FINALIZER, ImageRegistryConfigStorage};
use api::{Config, Infrastructure, ManagementState};
use kube::api::{Api, Patch};
use render::{bootstrap, verify};
use serde_json::json;

use crate::sync::{Context, patch_params};

#[derive(Debug, thiserror::Error)]
pub enum SpecError {
    #[error("writing back the Config's spec: {0}")]
    Api(#[from] kube::Error),
}

/// Completes and writes back `config`'s spec when Managed, with the TLS profile of
/// `apiserver` observed into `spec.observedConfig` (the reference's config observer, so a
/// change of the cluster's profile reaches the registry); returns the writes made.
pub async fn complete(
    ctx: &Context,
    config: &mut Config,
    infra: &Infrastructure,
    apiserver: Option<&api::APIServer>,
) -> Result<usize, SpecError> {
    if config.spec.state() != ManagementState::Managed {
        return Ok(0);
    }
    let before = config.clone();
    completed(config, infra, &mut || ctx.byte());
    let profile = apiserver.and_then(|a| a.spec.tls_security_profile.as_ref());
    config.spec.observed_config = Some(observed(before.spec.observed_config.as_ref(), profile));
    if config.metadata.finalizers == before.metadata.finalizers && config.spec == before.spec {
        return Ok(0);
    }
    let spec = |c: &Config| {
        json!({"httpSecret": c.spec.http_secret, "storage": c.spec.storage,
            "observedConfig": c.spec.observed_config})
    };
    let old =
        json!({"metadata": {"finalizers": before.metadata.finalizers}, "spec": spec(&before)});
    let new = json!({"metadata": {"finalizers": config.metadata.finalizers}, "spec": spec(config)});
    let mut patch = crate::apply::merge_diff(&old, &new);
    patch["metadata"]["resourceVersion"] = json!(before.metadata.resource_version);
    let configs = Api::<Config>::all(ctx.client.clone());
    *config = configs.patch(CLUSTER, &patch_params(), &Patch::Merge(&patch)).await?;
    crate::report::wrote(ctx, &configs, config, before.metadata.resource_version.as_deref());
    Ok(1)
}

/// `spec.observedConfig` with the servingInfo of `profile` (what else it holds is kept).
pub fn observed(
    current: Option<&serde_json::Value>,
    profile: Option<&api::config::TlsSecurityProfile>,
) -> serde_json::Value {
    let mut out = current.filter(|c| c.is_object()).cloned().unwrap_or_else(|| json!({}));
    let tls = render::tls::observed_config(profile);
    out["servingInfo"] = tls["servingInfo"].clone();
    out
}

/// The completed spec (pure): `random` gives the bytes of httpSecret and generated names.
pub fn completed(config: &mut Config, infra: &Infrastructure, random: &mut dyn FnMut() -> u8) {
    // An upgraded cluster: storage the operator created before `managementState` existed
    // is recorded only in the legacy `status.storageManaged` (read as the reference does).
    let legacy = config.status.as_ref().is_some_and(|s| s.storage_managed);
    if let Some(s) = config.spec.storage.as_mut()
        && legacy
        && s.state() == ManagementState::Unset
    {
        s.management_state = ManagementState::Managed.as_str().into();
    }
    let finalizers = config.metadata.finalizers.get_or_insert_with(Vec::new);
    if !finalizers.iter().any(|f| f == FINALIZER) {
        finalizers.push(FINALIZER.to_string());
    }
    if render::storage::select(config.spec.storage.as_ref())
        == Err(render::storage::SelectError::NotConfigured)
        && let Some(storage) = bootstrap::platform_storage(infra.platform_type(), false).storage
    {
        let state = config.spec.storage.as_ref().map(|s| s.management_state.clone());
        config.spec.storage = Some(ImageRegistryConfigStorage {
            management_state: state.unwrap_or_default(),
            ..storage
        });
    }
    if verify::verify(&config.spec).is_err() {
        return;
    }
    if config.spec.http_secret.is_empty() {
        let bytes: [u8; 64] = std::array::from_fn(|_| random());
        config.spec.http_secret = verify::http_secret(&bytes);
    }
    storage::names::fill(config, infra, || {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        char::from(ALPHABET[random() as usize % ALPHABET.len()])
    });
    if let Some(s) = config.spec.storage.as_mut()
        && s.state() == ManagementState::Unset
    {
        // Ephemeral storage is the operator's; a named claim (the bootstrap's too, as in
        // the reference) is the user's. Cloud drivers set it when they provision.
        if s.empty_dir.is_some() || s.pvc.as_ref().is_some_and(|p| p.claim.is_empty()) {
            s.management_state = ManagementState::Managed.as_str().into();
        } else if s.pvc.is_some() {
            s.management_state = ManagementState::Unmanaged.as_str().into();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The stage alone, on a hand-made Config: finalizer, secret, names and owner filled.
    #[test]
    fn a_managed_config_is_completed() {
        let mut config: Config = serde_json::from_value(json!({"metadata": {"name": "cluster"},
            "spec": {"managementState": "Managed", "replicas": 1, "storage": {"emptyDir": {}}}}))
        .unwrap();
        let infra: Infrastructure = serde_json::from_value(json!({"metadata": {"name": "cluster"},
            "spec": {}, "status": {"infrastructureName": "x", "platformStatus": {"type": "Libvirt"}}}))
        .unwrap();
        let mut n = 0u8;
        completed(&mut config, &infra, &mut || {
            n = n.wrapping_add(7);
            n
        });
        assert_eq!(config.metadata.finalizers.as_deref(), Some(&[FINALIZER.to_string()][..]));
        assert_eq!(config.spec.http_secret.len(), 128);
        assert_eq!(config.spec.storage.clone().unwrap().management_state, "Managed");
        let again = config.spec.http_secret.clone();
        let mut config2 = config.clone();
        completed(&mut config2, &infra, &mut || 0);
        assert_eq!(config2.spec.http_secret, again, "a set secret stays");
    }

    /// The legacy `status.storageManaged` of an upgraded cluster makes its storage Managed.
    #[test]
    fn legacy_storage_managed_is_read_on_upgrade() {
        let upgraded = |managed: bool| -> Config {
            serde_json::from_value(json!({"metadata": {"name": "cluster"},
                "spec": {"managementState": "Managed", "replicas": 2, "httpSecret": "s",
                    "storage": {"s3": {"bucket": "b", "region": "us-east-1"}}},
                "status": {"storageManaged": managed, "storage": {}}}))
            .unwrap()
        };
        let infra = Infrastructure::default();
        let mut c = upgraded(true);
        completed(&mut c, &infra, &mut || 0);
        assert_eq!(c.spec.storage.unwrap().management_state, "Managed");
        let mut c = upgraded(false);
        completed(&mut c, &infra, &mut || 0);
        assert_eq!(c.spec.storage.unwrap().management_state, "", "the driver decides");
    }
}
