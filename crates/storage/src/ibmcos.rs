//! IBM Cloud Object Storage (S3 API with HMAC keys): the pure part.

use api::Infrastructure;
use api::imageregistry::ImageRegistryConfigStorageIbmCos;
use render::storage::{EnvEntry, StorageContribution};

use crate::s3::{CREDENTIALS_KEY, SECRET_MOUNT, private_configuration_volume};

/// The COS regional endpoint of a location.
pub fn endpoint(location: &str) -> String {
    format!("s3.{location}.cloud-object-storage.appdomain.cloud")
}

/// The COS region of a Power VS region (Power VS names its regions its own way; the
/// bucket goes into the COS region of the same place, as the reference keeps it).
pub fn cos_region_for_power_vs(region: &str) -> Option<&'static str> {
    Some(match region {
        "dal" | "us-south" => "us-south",
        "us-east" | "wdc" => "us-east",
        "eu-de" => "eu-de",
        "lon" => "eu-gb",
        "mad" => "eu-es",
        "mon" | "tor" => "ca-tor",
        "osa" => "jp-osa",
        "tok" => "jp-tok",
        "syd" => "au-syd",
        "sao" => "br-sao",
        _ => return None,
    })
}

/// The COS config with location and resource group from the Infrastructure when unset:
/// IBM Cloud's location, or the COS region of Power VS's region.
pub fn effective(
    spec: &ImageRegistryConfigStorageIbmCos,
    infra: &Infrastructure,
) -> ImageRegistryConfigStorageIbmCos {
    let mut s = spec.clone();
    let ps = infra.platform_status();
    let (location, group) =
        match (ps.and_then(|p| p.ibm_cloud.as_ref()), ps.and_then(|p| p.power_vs.as_ref())) {
            (Some(ibm), _) => (ibm.location.clone(), ibm.resource_group_name.clone()),
            (None, Some(pvs)) => (
                cos_region_for_power_vs(&pvs.region).unwrap_or_default().to_string(),
                pvs.resource_group.clone(),
            ),
            (None, None) => Default::default(),
        };
    if s.location.is_empty() {
        s.location = location;
    }
    if s.resource_group_name.is_empty() {
        s.resource_group_name = group;
    }
    s
}

/// The COS endpoint override in the Infrastructure's service endpoints, if any.
pub fn endpoint_override(infra: &Infrastructure) -> Option<String> {
    let ps = infra.platform_status()?;
    let endpoints = ps
        .ibm_cloud
        .as_ref()
        .map(|i| &i.service_endpoints)
        .or_else(|| ps.power_vs.as_ref().map(|p| &p.service_endpoints))?;
    endpoints.iter().find(|e| e.name == "COS").map(|e| e.url.clone())
}

/// Env and volumes of an (effective) COS config; `credentials_file` holds the HMAC keys.
pub fn contribution(
    s: &ImageRegistryConfigStorageIbmCos,
    endpoint_override: Option<&str>,
    credentials_file: Option<&str>,
) -> StorageContribution {
    let endpoint = endpoint_override.map_or_else(|| endpoint(&s.location), str::to_string);
    let (volume, mount) = private_configuration_volume();
    let mut secret_data = std::collections::BTreeMap::new();
    if let Some(file) = credentials_file {
        secret_data.insert(CREDENTIALS_KEY.to_string(), file.to_string());
    }
    StorageContribution {
        driver: "IBMCOS",
        env: vec![
            EnvEntry::plain("REGISTRY_STORAGE", "s3"),
            EnvEntry::plain("REGISTRY_STORAGE_S3_BUCKET", s.bucket.as_str()),
            EnvEntry::plain("REGISTRY_STORAGE_S3_REGION", s.location.as_str()),
            EnvEntry::plain("REGISTRY_STORAGE_S3_REGIONENDPOINT", endpoint),
            EnvEntry::plain("REGISTRY_STORAGE_S3_ENCRYPT", false),
            EnvEntry::plain("REGISTRY_STORAGE_S3_FORCEPATHSTYLE", true),
            EnvEntry::plain("REGISTRY_STORAGE_S3_USEDUALSTACK", false),
            EnvEntry::plain(
                "REGISTRY_STORAGE_S3_CREDENTIALSCONFIGPATH",
                format!("{SECRET_MOUNT}/{CREDENTIALS_KEY}"),
            ),
        ],
        volumes: vec![volume],
        mounts: vec![mount],
        secret_data,
        ca_bundle: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::config::{
        IbmCloudPlatformStatus, InfrastructureStatus, PlatformStatus, ServiceEndpoint,
    };

    #[test]
    fn cos() {
        let mut infra = Infrastructure {
            status: Some(InfrastructureStatus {
                platform_status: Some(PlatformStatus {
                    type_: "IBMCloud".into(),
                    ibm_cloud: Some(IbmCloudPlatformStatus {
                        location: "us-south".into(),
                        resource_group_name: "rg".into(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let s = effective(
            &ImageRegistryConfigStorageIbmCos { bucket: "b".into(), ..Default::default() },
            &infra,
        );
        assert_eq!((s.location.as_str(), s.resource_group_name.as_str()), ("us-south", "rg"));
        // Power VS: the COS region of its region, and its resource group.
        let pvs: Infrastructure = serde_json::from_value(serde_json::json!({
            "metadata": {"name": "cluster"}, "spec": {},
            "status": {"platformStatus": {"type": "PowerVS",
                "powervs": {"region": "lon", "zone": "lon04", "resourceGroup": "pvs-rg"}}}}))
        .unwrap();
        let p = effective(&Default::default(), &pvs);
        assert_eq!((p.location.as_str(), p.resource_group_name.as_str()), ("eu-gb", "pvs-rg"));
        assert_eq!(cos_region_for_power_vs("mon"), Some("ca-tor"));
        assert_eq!(cos_region_for_power_vs("nowhere"), None);
        assert_eq!(endpoint_override(&infra), None);
        let c = contribution(&s, None, None);
        let get = |n: &str| c.env.iter().find(|e| e.name == n).unwrap().value.encode();
        assert_eq!(
            get("REGISTRY_STORAGE_S3_REGIONENDPOINT"),
            "s3.us-south.cloud-object-storage.appdomain.cloud"
        );
        assert_eq!(get("REGISTRY_STORAGE_S3_FORCEPATHSTYLE"), "true");
        assert_eq!(get("REGISTRY_STORAGE_S3_USEDUALSTACK"), "false");
        assert_eq!(c.mounts[0].mount_path, "/var/run/secrets/cloud");
        infra
            .status
            .as_mut()
            .unwrap()
            .platform_status
            .as_mut()
            .unwrap()
            .ibm_cloud
            .as_mut()
            .unwrap()
            .service_endpoints =
            vec![ServiceEndpoint { name: "COS".into(), url: "https://cos.private".into() }];
        let ep = endpoint_override(&infra);
        assert_eq!(ep.as_deref(), Some("https://cos.private"));
        let c = contribution(&s, ep.as_deref(), Some("[default]\n"));
        assert_eq!(c.env[3].value.encode(), "https://cos.private");
        assert_eq!(c.private_configuration()["credentials"], "[default]\n");
    }
}
