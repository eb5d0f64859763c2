//! Amazon S3 (and S3-compatible services): the pure part.

use api::Infrastructure;
use api::imageregistry::{ImageRegistryConfigStorageS3, ImageRegistryConfigStorageS3CloudFront};
use k8s_openapi::api::core::v1::{KeyToPath, SecretVolumeSource, Volume, VolumeMount};
use render::envvalue::EnvValue;
use render::names::PRIVATE_CONFIGURATION;
use render::storage::{EnvEntry, StorageContribution, generate_deterministic_storage_name};

use crate::Credentials;

/// Where the private-configuration Secret (with the credentials file) is mounted.
pub const SECRET_MOUNT: &str = "/var/run/secrets/cloud";
/// Key of the credentials file in that Secret.
pub const CREDENTIALS_KEY: &str = "credentials";

/// The S3 config with the cluster's defaults filled in: region and endpoint from the
/// Infrastructure when neither is set (then virtual-hosted style), and the deterministic
/// bucket name when none is set.
pub fn effective(
    spec: &ImageRegistryConfigStorageS3,
    infra: &Infrastructure,
) -> ImageRegistryConfigStorageS3 {
    let mut s = spec.clone();
    if s.region.is_empty()
        && s.region_endpoint.is_empty()
        && let Some(aws) = infra.platform_status().and_then(|p| p.aws.as_ref())
    {
        s.region = aws.region.clone();
        if let Some(url) = service_endpoint(infra) {
            s.region_endpoint = url;
            s.virtual_hosted_style = Some(true);
        }
    }
    if s.bucket.is_empty() {
        s.bucket = generate_deterministic_storage_name(infra.infrastructure_name(), &[&s.region]);
    }
    s
}

/// Why S3 would refuse `bucket` as a name (its naming rules: 3 to 63 characters of
/// lowercase letters, digits, dots and hyphens, starting and ending with a letter or digit,
/// not an IP address, no two dots in a row), said before any call.
pub fn bucket_name_problem(bucket: &str) -> Option<String> {
    let allowed = |c: char| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '.' || c == '-';
    let edge = |c: Option<char>| c.is_some_and(|c| c.is_ascii_lowercase() || c.is_ascii_digit());
    let why = if !(3..=63).contains(&bucket.len()) {
        "it must be 3 to 63 characters long"
    } else if !bucket.chars().all(allowed) {
        "it may hold only lowercase letters, digits, dots and hyphens"
    } else if !edge(bucket.chars().next()) || !edge(bucket.chars().last()) {
        "it must start and end with a letter or digit"
    } else if bucket.contains("..") {
        "it may not hold two dots in a row"
    } else if bucket.parse::<std::net::Ipv4Addr>().is_ok() {
        "it may not be an IP address"
    } else {
        return None;
    };
    Some(format!("S3 bucket name {bucket:?} is not valid: {why}"))
}

/// The Infrastructure's `s3` service endpoint (`status.platformStatus.aws.serviceEndpoints`),
/// which the operator's own S3 client uses whenever the spec names no endpoint, as the
/// reference's endpoint resolver does.
pub fn service_endpoint(infra: &Infrastructure) -> Option<String> {
    let aws = infra.platform_status()?.aws.as_ref()?;
    aws.service_endpoints.iter().find(|e| e.name == "s3").map(|e| e.url.clone())
}

/// The private-configuration Secret as a volume at [`SECRET_MOUNT`] (S3 and IBM COS).
pub fn private_configuration_volume() -> (Volume, VolumeMount) {
    let volume = Volume {
        name: PRIVATE_CONFIGURATION.to_string(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(PRIVATE_CONFIGURATION.to_string()),
            optional: Some(false),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mount = VolumeMount {
        name: PRIVATE_CONFIGURATION.to_string(),
        mount_path: SECRET_MOUNT.to_string(),
        read_only: Some(true),
        ..Default::default()
    };
    (volume, mount)
}

/// Regions of the AWS partitions, which all have dual-stack S3 endpoints.
fn aws_region(region: &str) -> bool {
    const PREFIXES: &[&str] =
        &["us-", "eu-", "ap-", "ca-", "sa-", "me-", "af-", "il-", "mx-", "cn-"];
    PREFIXES.iter().any(|p| region.starts_with(p))
}

/// CloudFront in front of the bucket: the registry's storage middleware (as an env
/// entry), and the private key's Secret as a volume at `/etc/docker/cloudfront`.
fn cloud_front(cf: &ImageRegistryConfigStorageS3CloudFront) -> (EnvEntry, Volume, VolumeMount) {
    let duration = cf
        .duration
        .as_deref()
        .and_then(|d| render::godur::parse(d).ok())
        .filter(|ns| *ns != 0)
        .map_or_else(|| "1200s".to_string(), render::godur::format);
    let middleware = format!(
        "- name: cloudfront\n  options:\n    baseurl: {}\n    privatekey: /etc/docker/cloudfront/private.pem\n    keypairid: {}\n    duration: {}\n    ipfilteredby: none\n",
        EnvValue::Str(cf.base_url.clone()).encode(),
        EnvValue::Str(cf.keypair_id.clone()).encode(),
        duration
    );
    let entry = EnvEntry::plain("REGISTRY_MIDDLEWARE_STORAGE", EnvValue::Yaml(middleware));
    let volume = Volume {
        name: "registry-cloudfront".to_string(),
        secret: Some(SecretVolumeSource {
            secret_name: Some(cf.private_key.name.clone()),
            items: Some(vec![KeyToPath {
                key: cf.private_key.key.clone(),
                path: "private.pem".to_string(),
                mode: None,
            }]),
            optional: Some(false),
            ..Default::default()
        }),
        ..Default::default()
    };
    let mount = VolumeMount {
        name: "registry-cloudfront".to_string(),
        mount_path: "/etc/docker/cloudfront".to_string(),
        read_only: Some(true),
        ..Default::default()
    };
    (entry, volume, mount)
}

/// The env, volumes and secret data of an (effective) S3 config.
pub fn contribution(
    s: &ImageRegistryConfigStorageS3,
    credentials: &Credentials,
) -> StorageContribution {
    let mut env = Vec::new();
    if !s.region_endpoint.is_empty() {
        env.push(EnvEntry::plain("REGISTRY_STORAGE_S3_REGIONENDPOINT", s.region_endpoint.as_str()));
    }
    if !s.key_id.is_empty() {
        env.push(EnvEntry::plain("REGISTRY_STORAGE_S3_KEYID", s.key_id.as_str()));
    }
    if let Some(mib) = s.chunk_size_mib.filter(|m| *m > 4 && *m < 5121) {
        env.push(EnvEntry::plain("REGISTRY_STORAGE_S3_CHUNKSIZE", i64::from(mib) * 1024 * 1024));
    }
    env.extend([
        EnvEntry::plain("REGISTRY_STORAGE", "s3"),
        EnvEntry::plain("REGISTRY_STORAGE_S3_BUCKET", s.bucket.as_str()),
        EnvEntry::plain("REGISTRY_STORAGE_S3_REGION", s.region.as_str()),
        EnvEntry::plain("REGISTRY_STORAGE_S3_ENCRYPT", s.encrypt),
        EnvEntry::plain(
            "REGISTRY_STORAGE_S3_FORCEPATHSTYLE",
            !s.virtual_hosted_style.unwrap_or(false),
        ),
        EnvEntry::plain(
            "REGISTRY_STORAGE_S3_CREDENTIALSCONFIGPATH",
            format!("{SECRET_MOUNT}/{CREDENTIALS_KEY}"),
        ),
    ]);
    if !s.region_endpoint.is_empty() || aws_region(&s.region) {
        env.push(EnvEntry::plain("REGISTRY_STORAGE_S3_USEDUALSTACK", true));
    }
    let (volume, mount) = private_configuration_volume();
    let mut volumes = vec![volume];
    let mut mounts = vec![mount];
    if let Some(cf) = &s.cloud_front {
        let (entry, volume, mount) = cloud_front(cf);
        env.push(entry);
        volumes.push(volume);
        mounts.push(mount);
    }
    let mut secret_data = std::collections::BTreeMap::new();
    if let Some(file) = &credentials.s3_credentials_file {
        secret_data.insert(CREDENTIALS_KEY.to_string(), file.clone());
    }
    StorageContribution {
        driver: "S3",
        env,
        volumes,
        mounts,
        secret_data,
        ca_bundle: String::new(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::config::{AwsPlatformStatus, InfrastructureStatus, PlatformStatus, ServiceEndpoint};

    fn infra(endpoint: Option<&str>) -> Infrastructure {
        Infrastructure {
            status: Some(InfrastructureStatus {
                infrastructure_name: "mycluster-x7k2p".into(),
                platform_status: Some(PlatformStatus {
                    type_: "AWS".into(),
                    aws: Some(AwsPlatformStatus {
                        region: "us-east-2".into(),
                        service_endpoints: endpoint
                            .map(|u| vec![ServiceEndpoint { name: "s3".into(), url: u.into() }])
                            .unwrap_or_default(),
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn env(c: &StorageContribution) -> Vec<(String, String)> {
        c.env.iter().map(|e| (e.name.clone(), e.value.encode())).collect()
    }

    #[test]
    fn defaults_from_the_infrastructure() {
        let s = effective(&Default::default(), &infra(None));
        assert_eq!(s.region, "us-east-2");
        assert_eq!(s.bucket, "mycluster-x7k2p-image-registry-us-east-2");
        let c = contribution(&s, &Credentials::default());
        let pairs: Vec<(&str, &str)> = vec![
            ("REGISTRY_STORAGE", "s3"),
            ("REGISTRY_STORAGE_S3_BUCKET", "mycluster-x7k2p-image-registry-us-east-2"),
            ("REGISTRY_STORAGE_S3_REGION", "us-east-2"),
            ("REGISTRY_STORAGE_S3_ENCRYPT", "false"),
            ("REGISTRY_STORAGE_S3_FORCEPATHSTYLE", "true"),
            ("REGISTRY_STORAGE_S3_CREDENTIALSCONFIGPATH", "/var/run/secrets/cloud/credentials"),
            ("REGISTRY_STORAGE_S3_USEDUALSTACK", "true"),
        ];
        let want: Vec<(String, String)> =
            pairs.into_iter().map(|(a, b)| (a.into(), b.into())).collect();
        assert_eq!(env(&c), want);
        assert_eq!(c.volumes[0].name, "image-registry-private-configuration");
        assert_eq!(c.mounts[0].mount_path, "/var/run/secrets/cloud");
    }

    #[test]
    fn infra_endpoint_means_virtual_hosted() {
        let s = effective(&Default::default(), &infra(Some("https://s3.internal:443")));
        assert_eq!(s.virtual_hosted_style, Some(true));
        let e = env(&contribution(&s, &Credentials::default()));
        assert_eq!(
            e[0],
            ("REGISTRY_STORAGE_S3_REGIONENDPOINT".into(), "https://s3.internal:443".into())
        );
        assert!(e.contains(&("REGISTRY_STORAGE_S3_FORCEPATHSTYLE".into(), "false".into())));
    }

    #[test]
    fn user_settings_and_cloudfront() {
        let mut spec = ImageRegistryConfigStorageS3 {
            bucket: "mine".into(),
            region: "eu-west-1".into(),
            key_id: "kms-key".into(),
            chunk_size_mib: Some(10),
            encrypt: true,
            ..Default::default()
        };
        spec.cloud_front = Some(api::imageregistry::ImageRegistryConfigStorageS3CloudFront {
            base_url: "https://cf.example.com".into(),
            keypair_id: "KP".into(),
            private_key: k8s_openapi::api::core::v1::SecretKeySelector {
                name: "cf".into(),
                key: "pk".into(),
                optional: None,
            },
            duration: Some("300s".into()),
        });
        let s = effective(&spec, &infra(None));
        assert_eq!(s.bucket, "mine");
        assert_eq!(s.region, "eu-west-1", "user region kept");
        let creds = Credentials {
            s3_credentials_file: Some("[default]\naws_access_key_id = A\n".into()),
            ..Default::default()
        };
        let c = contribution(&s, &creds);
        let e = env(&c);
        assert_eq!(e[0], ("REGISTRY_STORAGE_S3_KEYID".into(), "kms-key".into()));
        assert_eq!(e[1], ("REGISTRY_STORAGE_S3_CHUNKSIZE".into(), "10485760".into()));
        let mw = &e.iter().find(|(k, _)| k == "REGISTRY_MIDDLEWARE_STORAGE").unwrap().1;
        assert!(
            mw.contains("baseurl: https://cf.example.com") && mw.contains("duration: 5m0s"),
            "{mw}"
        );
        assert_eq!(c.volumes[1].secret.as_ref().unwrap().secret_name.as_deref(), Some("cf"));
        assert_eq!(c.private_configuration()["credentials"], "[default]\naws_access_key_id = A\n");
        assert!(!format!("{creds:?}").contains("aws_access_key_id"));
    }
}

#[cfg(test)]
mod bucket_name_tests {
    use super::bucket_name_problem;

    #[test]
    fn s3_naming_rules() {
        for ok in ["abc", "my-bucket.v2", "cluster-x7k2p-image-registry-us-east-1-abcdef"] {
            assert_eq!(bucket_name_problem(ok), None, "{ok}");
        }
        for (bad, why) in [
            ("ab", "3 to 63"),
            ("Bad_Bucket!", "only lowercase"),
            ("-abc", "start and end"),
            ("a..b", "two dots"),
            ("10.0.0.1", "IP address"),
        ] {
            let m = bucket_name_problem(bad).unwrap();
            assert!(m.contains(why), "{bad}: {m}");
        }
    }
}
