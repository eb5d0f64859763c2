//! The default Config and ImagePruner the operator creates when none exists, chosen from
//! the Infrastructure's platform (reference §b).

use std::collections::BTreeMap;

use api::imageregistry::*;
use api::{Config, ImagePruner, ImagePrunerSpec, Infrastructure};
use k8s_openapi::api::core::v1::{
    PersistentVolumeClaim, PersistentVolumeClaimSpec, VolumeResourceRequirements,
};
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;

use crate::names::{NAMESPACE, ROUTE_OWNER_ANNOTATION};
use crate::object::meta;
use crate::storage::PVC_NAME;

/// The storage a platform gets by default.
#[derive(Debug, Clone, PartialEq)]
pub struct PlatformStorage {
    /// `None` for platforms without a default storage: the registry starts Removed.
    pub storage: Option<ImageRegistryConfigStorage>,
    pub replicas: i32,
    /// The storage class of a PVC the bootstrap creates, when the default is a PVC.
    pub pvc_storage_class: Option<&'static str>,
}

/// Platforms with no storage the operator can provision: the registry starts Removed.
const NO_STORAGE: &[&str] = &[
    "BareMetal",
    "VSphere",
    "None",
    "Nutanix",
    "KubeVirt",
    "EquinixMetal",
    "AlibabaCloud",
    "External",
];

/// The default storage for a platform type. `swift_available` is the result of probing
/// OpenStack for a usable Swift endpoint (ignored on other platforms).
pub fn platform_storage(platform: &str, swift_available: bool) -> PlatformStorage {
    let with = |f: fn(&mut ImageRegistryConfigStorage)| {
        let mut s = ImageRegistryConfigStorage::default();
        f(&mut s);
        PlatformStorage { storage: Some(s), replicas: 2, pvc_storage_class: None }
    };
    let pvc = |class| PlatformStorage {
        storage: Some(ImageRegistryConfigStorage {
            pvc: Some(ImageRegistryConfigStoragePvc { claim: PVC_NAME.to_string() }),
            ..Default::default()
        }),
        replicas: 1,
        pvc_storage_class: Some(class),
    };
    match platform {
        "AWS" => with(|s| s.s3 = Some(Default::default())),
        "Azure" => with(|s| s.azure = Some(Default::default())),
        "GCP" => with(|s| s.gcs = Some(Default::default())),
        "IBMCloud" | "PowerVS" => with(|s| s.ibmcos = Some(Default::default())),
        "OpenStack" if swift_available => with(|s| s.swift = Some(Default::default())),
        "OpenStack" => pvc("standard-csi"),
        "oVirt" => pvc("ovirt-csi-sc"),
        p if NO_STORAGE.contains(&p) => {
            PlatformStorage { storage: None, replicas: 1, pvc_storage_class: None }
        }
        _ => PlatformStorage {
            storage: Some(ImageRegistryConfigStorage {
                empty_dir: Some(Default::default()),
                ..Default::default()
            }),
            replicas: 1,
            pvc_storage_class: None,
        },
    }
}

/// What the bootstrap creates.
#[derive(Debug, Clone, PartialEq)]
pub struct Bootstrap {
    pub config: Config,
    /// Created first, when the default storage is a PVC.
    pub pvc: Option<PersistentVolumeClaim>,
}

/// The default Config for `infrastructure`. `observed_config` is the TLS profile observed
/// from the APIServer (so that the first rollout already has it).
pub fn config(
    infrastructure: &Infrastructure,
    swift_available: bool,
    observed_config: Option<serde_json::Value>,
) -> Bootstrap {
    let platform = platform_storage(infrastructure.platform_type(), swift_available);
    let replicas = if infrastructure.is_single_replica() { 1 } else { platform.replicas };
    let management_state = if platform.storage.is_some() { "Managed" } else { "Removed" };
    let rollout_strategy =
        if platform.pvc_storage_class.is_some() { "Recreate" } else { "RollingUpdate" };
    let mut metadata = meta(CLUSTER, None, &[], &[]);
    metadata.finalizers = Some(vec![FINALIZER.to_string()]);
    let config = Config {
        metadata,
        spec: ImageRegistrySpec {
            management_state: management_state.to_string(),
            log_level: LogLevel::Normal,
            operator_log_level: LogLevel::Normal,
            storage: platform.storage.clone(),
            replicas,
            rollout_strategy: rollout_strategy.to_string(),
            observed_config,
            ..Default::default()
        },
        status: None,
    };
    let pvc = platform.pvc_storage_class.map(default_pvc);
    Bootstrap { config, pvc }
}

/// The claim the bootstrap creates for PVC platforms: RWO, 100Gi, owned by the operator.
pub fn default_pvc(storage_class: &str) -> PersistentVolumeClaim {
    PersistentVolumeClaim {
        metadata: meta(PVC_NAME, Some(NAMESPACE), &[], &[(ROUTE_OWNER_ANNOTATION, "true")]),
        spec: Some(PersistentVolumeClaimSpec {
            access_modes: Some(vec!["ReadWriteOnce".to_string()]),
            resources: Some(VolumeResourceRequirements {
                requests: Some(BTreeMap::from([(
                    "storage".to_string(),
                    Quantity("100Gi".to_string()),
                )])),
                ..Default::default()
            }),
            storage_class_name: Some(storage_class.to_string()),
            ..Default::default()
        }),
        status: None,
    }
}

/// The default ImagePruner.
pub fn pruner() -> ImagePruner {
    ImagePruner {
        metadata: meta(CLUSTER, None, &[], &[]),
        spec: ImagePrunerSpec {
            suspend: Some(false),
            keep_tag_revisions: Some(3),
            successful_jobs_history_limit: Some(3),
            failed_jobs_history_limit: Some(3),
            ignore_invalid_image_references: true,
            ..Default::default()
        },
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::config::{InfrastructureStatus, PlatformStatus};

    pub fn infra(platform: &str, topology: &str) -> Infrastructure {
        Infrastructure {
            metadata: meta("cluster", None, &[], &[]),
            spec: Default::default(),
            status: Some(InfrastructureStatus {
                infrastructure_name: "test-abc12".into(),
                platform_status: Some(PlatformStatus {
                    type_: platform.into(),
                    ..Default::default()
                }),
                infrastructure_topology: topology.into(),
                ..Default::default()
            }),
        }
    }

    fn driver(c: &Config) -> Vec<&'static str> {
        c.spec.storage.as_ref().map(|s| s.configured_drivers()).unwrap_or_default()
    }

    #[test]
    fn per_platform_table() {
        // platform, swift, driver, replicas, state, strategy, pvc class
        type Row = (
            &'static str,
            bool,
            &'static [&'static str],
            i32,
            &'static str,
            &'static str,
            Option<&'static str>,
        );
        let cases: &[Row] = &[
            ("AWS", false, &["s3"], 2, "Managed", "RollingUpdate", None),
            ("Azure", false, &["azure"], 2, "Managed", "RollingUpdate", None),
            ("GCP", false, &["gcs"], 2, "Managed", "RollingUpdate", None),
            ("IBMCloud", false, &["ibmcos"], 2, "Managed", "RollingUpdate", None),
            ("PowerVS", false, &["ibmcos"], 2, "Managed", "RollingUpdate", None),
            ("OpenStack", true, &["swift"], 2, "Managed", "RollingUpdate", None),
            ("OpenStack", false, &["pvc"], 1, "Managed", "Recreate", Some("standard-csi")),
            ("oVirt", false, &["pvc"], 1, "Managed", "Recreate", Some("ovirt-csi-sc")),
            ("BareMetal", false, &[], 1, "Removed", "RollingUpdate", None),
            ("VSphere", false, &[], 1, "Removed", "RollingUpdate", None),
            ("None", false, &[], 1, "Removed", "RollingUpdate", None),
            ("Nutanix", false, &[], 1, "Removed", "RollingUpdate", None),
            ("KubeVirt", false, &[], 1, "Removed", "RollingUpdate", None),
            ("EquinixMetal", false, &[], 1, "Removed", "RollingUpdate", None),
            ("AlibabaCloud", false, &[], 1, "Removed", "RollingUpdate", None),
            ("External", false, &[], 1, "Removed", "RollingUpdate", None),
            ("Libvirt", false, &["emptyDir"], 1, "Managed", "RollingUpdate", None),
            ("SomethingNew", false, &["emptyDir"], 1, "Managed", "RollingUpdate", None),
        ];
        for (platform, swift, drivers, replicas, state, strategy, class) in cases {
            let b = config(&infra(platform, "HighlyAvailable"), *swift, None);
            let c = &b.config;
            assert_eq!(driver(c), *drivers, "{platform}");
            assert_eq!(c.spec.replicas, *replicas, "{platform}");
            assert_eq!(c.spec.management_state, *state, "{platform}");
            assert_eq!(c.spec.rollout_strategy, *strategy, "{platform}");
            assert_eq!(c.spec.log_level, LogLevel::Normal);
            assert_eq!(c.spec.operator_log_level, LogLevel::Normal);
            assert_eq!(c.metadata.name.as_deref(), Some("cluster"));
            assert_eq!(c.metadata.finalizers, Some(vec![FINALIZER.to_string()]));
            assert!(c.status.is_none());
            let got_class =
                b.pvc.as_ref().and_then(|p| p.spec.as_ref()?.storage_class_name.clone());
            assert_eq!(got_class.as_deref(), *class, "{platform}");
            if *drivers == ["pvc"] {
                assert_eq!(
                    c.spec.storage.as_ref().unwrap().pvc.as_ref().unwrap().claim,
                    "image-registry-storage"
                );
            }
        }
    }

    #[test]
    fn single_replica_topology_caps_replicas() {
        for p in ["AWS", "GCP", "Libvirt", "OpenStack"] {
            let b = config(&infra(p, "SingleReplica"), true, None);
            assert_eq!(b.config.spec.replicas, 1, "{p}");
        }
    }

    #[test]
    fn deprecated_platform_field_is_used_when_status_type_is_empty() {
        let mut i = infra("", "");
        i.status.as_mut().unwrap().platform = "GCP".into();
        assert_eq!(driver(&config(&i, false, None).config), vec!["gcs"]);
    }

    #[test]
    fn observed_config_is_carried() {
        let oc = serde_json::json!({"servingInfo": {"minTLSVersion": "VersionTLS12"}});
        let b = config(&infra("AWS", ""), false, Some(oc.clone()));
        assert_eq!(b.config.spec.observed_config, Some(oc));
    }

    #[test]
    fn bootstrap_pvc() {
        let p = default_pvc("standard-csi");
        assert_eq!(p.metadata.name.as_deref(), Some("image-registry-storage"));
        assert_eq!(p.metadata.namespace.as_deref(), Some("openshift-image-registry"));
        assert_eq!(p.metadata.annotations.as_ref().unwrap()["imageregistry.openshift.io"], "true");
        let spec = p.spec.unwrap();
        assert_eq!(spec.access_modes.unwrap(), vec!["ReadWriteOnce"]);
        assert_eq!(spec.resources.unwrap().requests.unwrap()["storage"].0, "100Gi");
    }

    #[test]
    fn pruner_defaults() {
        let p = pruner();
        assert_eq!(p.metadata.name.as_deref(), Some("cluster"));
        assert_eq!(p.spec.suspend, Some(false));
        assert_eq!(p.spec.keep_tag_revisions, Some(3));
        assert_eq!(p.spec.successful_jobs_history_limit, Some(3));
        assert_eq!(p.spec.failed_jobs_history_limit, Some(3));
        assert!(p.spec.ignore_invalid_image_references);
        assert!(p.spec.schedule.is_empty());
    }
}
