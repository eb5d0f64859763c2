//! The CA ConfigMaps (reference §d.9): `image-registry-certificates` in the operand
//! namespace (mounted into the registry and the node-ca pods) and
//! `openshift-config-managed/image-registry-ca`.

use std::collections::BTreeMap;

use k8s_openapi::api::core::v1::ConfigMap;

use crate::Inputs;
use crate::names::*;
use crate::object::meta;

/// The registry's own hostnames, as ConfigMap keys (`:` written `..`; no port for 443).
pub fn own_hostname_keys() -> Vec<String> {
    let port = if PORT == 443 { String::new() } else { format!("..{PORT}") };
    vec![
        format!("{SERVICE}.{NAMESPACE}.svc{port}"),
        format!("{SERVICE}.{NAMESPACE}.svc.cluster.local{port}"),
    ]
}

/// The storage CA bundle, and whether it is appended to the own-hostname entries (only
/// when clients are redirected to the storage). The caller passes no storage while the
/// registry is Removed.
fn storage_ca(inputs: &Inputs) -> (&str, bool) {
    let bundle = inputs.storage.ca_bundle.as_str();
    (bundle, !inputs.config.spec.disable_redirect)
}

fn own_entries(inputs: &Inputs, data: &mut BTreeMap<String, String>) {
    let (bundle, can_redirect) = storage_ca(inputs);
    let Some(ca) = inputs.service_ca.as_deref() else { return };
    if !inputs.service_exists {
        return;
    }
    for key in own_hostname_keys() {
        let mut value = ca.to_string();
        if can_redirect && !bundle.is_empty() {
            value.push('\n');
            value.push_str(bundle);
        }
        data.insert(key, value);
    }
}

/// The keys of the image config's `additionalTrustedCA` config map that hold no PEM
/// certificate: left out of `image-registry-certificates` (node-ca would write them where
/// the container runtime reads CAs) and reported.
pub fn not_certificates(inputs: &Inputs) -> Vec<String> {
    let Some(extra) = &inputs.additional_trusted_ca else { return Vec::new() };
    extra
        .data
        .iter()
        .filter(|(_, v)| !v.contains("-----BEGIN CERTIFICATE-----"))
        .map(|(k, _)| k.clone())
        .collect()
}

/// ConfigMap `image-registry-certificates`.
pub fn image_registry_certificates(inputs: &Inputs) -> ConfigMap {
    let mut data = BTreeMap::new();
    let mut binary_data = BTreeMap::new();
    own_entries(inputs, &mut data);
    if let Some(extra) = &inputs.additional_trusted_ca {
        let bad = not_certificates(inputs);
        data.extend(
            extra
                .data
                .iter()
                .filter(|(k, _)| !bad.contains(k))
                .map(|(k, v)| (k.clone(), v.clone())),
        );
        binary_data.extend(extra.binary_data.clone());
    }
    if !inputs.storage.ca_bundle.is_empty() {
        data.insert("storage-ca-bundle.pem".to_string(), inputs.storage.ca_bundle.clone());
    }
    ConfigMap {
        metadata: meta(
            CERTIFICATES,
            Some(NAMESPACE),
            &[],
            &[(OWNING_COMPONENT_ANNOTATION, "Image Registry")],
        ),
        data: Some(data),
        binary_data: (!binary_data.is_empty()).then_some(binary_data),
        immutable: None,
    }
}

/// ConfigMap `openshift-config-managed/image-registry-ca`.
pub fn image_registry_ca(inputs: &Inputs) -> ConfigMap {
    let mut data = BTreeMap::new();
    own_entries(inputs, &mut data);
    ConfigMap {
        metadata: meta(
            REGISTRY_CA,
            Some(OPENSHIFT_CONFIG_MANAGED),
            &[],
            &[(OWNING_COMPONENT_ANNOTATION, "Image Registry")],
        ),
        data: Some(data),
        binary_data: None,
        immutable: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ConfigMapData;

    fn inputs() -> Inputs {
        Inputs { service_ca: Some("SERVICE-CA".into()), service_exists: true, ..Default::default() }
    }

    #[test]
    fn own_hostnames_get_the_service_ca() {
        let cm = image_registry_certificates(&inputs());
        let data = cm.data.unwrap();
        assert_eq!(data["image-registry.openshift-image-registry.svc..5000"], "SERVICE-CA");
        assert_eq!(
            data["image-registry.openshift-image-registry.svc.cluster.local..5000"],
            "SERVICE-CA"
        );
        assert_eq!(data.len(), 2);
        assert_eq!(
            cm.metadata.annotations.unwrap()["openshift.io/owning-component"],
            "Image Registry"
        );
    }

    #[test]
    fn nothing_before_the_service_ca_or_the_service_exists() {
        let mut i = inputs();
        i.service_ca = None;
        assert!(image_registry_certificates(&i).data.unwrap().is_empty());
        let mut i = inputs();
        i.service_exists = false;
        assert!(image_registry_ca(&i).data.unwrap().is_empty());
    }

    const PEM: &str = "-----BEGIN CERTIFICATE-----\n";

    #[test]
    fn storage_bundle_and_additional_cas() {
        let mut i = inputs();
        i.storage.ca_bundle = "STORAGE".into();
        i.additional_trusted_ca = Some(ConfigMapData {
            data: [
                ("myregistry.example.com".to_string(), format!("{PEM}EXTRA")),
                ("garbage.example.com".to_string(), "not a certificate".to_string()),
            ]
            .into(),
            ..Default::default()
        });
        assert_eq!(not_certificates(&i), ["garbage.example.com"]);
        let data = image_registry_certificates(&i).data.unwrap();
        assert!(!data.contains_key("garbage.example.com"), "not copied where nodes read CAs");
        assert_eq!(
            data["image-registry.openshift-image-registry.svc..5000"],
            "SERVICE-CA\nSTORAGE"
        );
        assert_eq!(data["storage-ca-bundle.pem"], "STORAGE");
        assert_eq!(data["myregistry.example.com"], format!("{PEM}EXTRA"));
        let ca = image_registry_ca(&i);
        assert_eq!(ca.metadata.namespace.as_deref(), Some("openshift-config-managed"));
        let ca = ca.data.unwrap();
        assert_eq!(ca["image-registry.openshift-image-registry.svc..5000"], "SERVICE-CA\nSTORAGE");
        assert!(!ca.contains_key("storage-ca-bundle.pem"), "only in image-registry-certificates");
        assert!(!ca.contains_key("myregistry.example.com"), "only in image-registry-certificates");

        i.config.spec.disable_redirect = true;
        let data = image_registry_certificates(&i).data.unwrap();
        assert_eq!(data["image-registry.openshift-image-registry.svc..5000"], "SERVICE-CA");
        assert_eq!(data["storage-ca-bundle.pem"], "STORAGE");
    }
}
