//! OpenStack Swift: the pure part.

use api::imageregistry::ImageRegistryConfigStorageSwift;
use render::storage::{EnvEntry, StorageContribution};

/// Credentials and defaults from the cluster's `clouds.yaml` or the user's secret.
#[derive(Clone, Default, PartialEq, Eq)]
pub struct SwiftCredentials {
    pub auth_url: String,
    pub identity_api_version: String,
    pub username: String,
    pub password: String,
    pub token: String,
    pub application_credential_id: String,
    pub application_credential_name: String,
    pub application_credential_secret: String,
    pub domain: String,
    pub domain_id: String,
    pub tenant: String,
    pub tenant_id: String,
    pub region_name: String,
    /// The OpenStack cloud's CA bundle (PEM), trusted instead of the system's roots: the
    /// cluster secret's `cacert`, else `openshift-config/cloud-provider-config`'s
    /// `ca-bundle.pem`; empty for the system's.
    pub ca_cert: String,
}

impl std::fmt::Debug for SwiftCredentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("SwiftCredentials")
            .field("auth_url", &self.auth_url)
            .field("username", &self.username)
            .field("ca_cert_bytes", &self.ca_cert.len())
            .field("secrets", &"<redacted>")
            .finish()
    }
}

fn or<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.is_empty() { b } else { a }
}

/// Appends `/v<version>` to an auth URL whose path names no API version.
pub fn auth_url_with_version(url: &str, version: &str) -> String {
    let trimmed = url.trim_end_matches('/');
    let path = trimmed
        .split_once("://")
        .map_or(trimmed, |(_, rest)| rest.split_once('/').map_or("", |(_, p)| p));
    let has_version = path.split('/').any(|seg| {
        seg.len() > 1
            && seg.starts_with('v')
            && seg[1..].chars().next().is_some_and(|c| c.is_ascii_digit())
    });
    if url.is_empty() || has_version {
        trimmed.to_string()
    } else {
        format!("{trimmed}/v{version}")
    }
}

/// Env of a Swift config: spec values win over the credentials' defaults.
pub fn contribution(
    s: &ImageRegistryConfigStorageSwift,
    c: &SwiftCredentials,
) -> Result<StorageContribution, String> {
    let version = or(or(&s.auth_version, &c.identity_api_version), "3");
    let version_num: i64 =
        version.parse().map_err(|e| format!("unable to parse authVersion: {e}"))?;
    let auth_url = auth_url_with_version(or(&s.auth_url, &c.auth_url), version);
    let mut env = vec![
        EnvEntry::plain("REGISTRY_STORAGE", "swift"),
        EnvEntry::plain("REGISTRY_STORAGE_SWIFT_CONTAINER", s.container.as_str()),
        EnvEntry::plain("REGISTRY_STORAGE_SWIFT_AUTHURL", auth_url),
        EnvEntry::secret("REGISTRY_STORAGE_SWIFT_USERNAME", c.username.as_str()),
        EnvEntry::secret("REGISTRY_STORAGE_SWIFT_PASSWORD", c.password.as_str()),
        EnvEntry::secret("REGISTRY_STORAGE_SWIFT_TOKENID", c.token.as_str()),
        EnvEntry::secret(
            "REGISTRY_STORAGE_SWIFT_APPLICATIONCREDENTIALID",
            c.application_credential_id.as_str(),
        ),
        EnvEntry::secret(
            "REGISTRY_STORAGE_SWIFT_APPLICATIONCREDENTIALNAME",
            c.application_credential_name.as_str(),
        ),
        EnvEntry::secret(
            "REGISTRY_STORAGE_SWIFT_APPLICATIONCREDENTIALSECRET",
            c.application_credential_secret.as_str(),
        ),
        EnvEntry::plain("REGISTRY_STORAGE_SWIFT_AUTHVERSION", version_num),
    ];
    for (name, value) in [
        ("REGISTRY_STORAGE_SWIFT_DOMAIN", or(&s.domain, &c.domain)),
        ("REGISTRY_STORAGE_SWIFT_DOMAINID", or(&s.domain_id, &c.domain_id)),
        ("REGISTRY_STORAGE_SWIFT_TENANT", or(&s.tenant, &c.tenant)),
        ("REGISTRY_STORAGE_SWIFT_TENANTID", or(&s.tenant_id, &c.tenant_id)),
        ("REGISTRY_STORAGE_SWIFT_REGION", or(&s.region_name, &c.region_name)),
    ] {
        if !value.is_empty() {
            env.push(EnvEntry::plain(name, value));
        }
    }
    Ok(StorageContribution { driver: "Swift", env, ..Default::default() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn auth_url_versions() {
        assert_eq!(auth_url_with_version("https://keystone:5000", "3"), "https://keystone:5000/v3");
        assert_eq!(
            auth_url_with_version("https://keystone:5000/", "3"),
            "https://keystone:5000/v3"
        );
        assert_eq!(
            auth_url_with_version("https://keystone:5000/v3", "3"),
            "https://keystone:5000/v3"
        );
        assert_eq!(
            auth_url_with_version("https://k/identity/v2.0/", "2"),
            "https://k/identity/v2.0"
        );
        assert_eq!(
            auth_url_with_version("http://127.0.0.1:8080/auth/v1.0", "1"),
            "http://127.0.0.1:8080/auth/v1.0"
        );
        assert_eq!(auth_url_with_version("https://vault.example", "3"), "https://vault.example/v3");
    }

    #[test]
    fn swift_env() {
        let creds = SwiftCredentials {
            auth_url: "https://keystone:5000".into(),
            username: "u".into(),
            password: "p4ss".into(),
            tenant: "from-clouds".into(),
            region_name: "RegionOne".into(),
            ..Default::default()
        };
        let spec = ImageRegistryConfigStorageSwift {
            container: "c".into(),
            tenant: "mine".into(),
            ..Default::default()
        };
        let c = contribution(&spec, &creds).unwrap();
        let env: Vec<_> = c
            .env
            .iter()
            .map(|e| (e.name.as_str(), if e.secret { "<s>".to_string() } else { e.value.encode() }))
            .collect();
        assert_eq!(
            env[..3],
            [
                ("REGISTRY_STORAGE", "swift".to_string()),
                ("REGISTRY_STORAGE_SWIFT_CONTAINER", "c".to_string()),
                ("REGISTRY_STORAGE_SWIFT_AUTHURL", "https://keystone:5000/v3".to_string()),
            ]
        );
        assert_eq!(env[9], ("REGISTRY_STORAGE_SWIFT_AUTHVERSION", "3".to_string()));
        assert_eq!(env[10], ("REGISTRY_STORAGE_SWIFT_TENANT", "mine".to_string()), "spec wins");
        assert_eq!(env[11], ("REGISTRY_STORAGE_SWIFT_REGION", "RegionOne".to_string()));
        assert_eq!(c.private_configuration()["REGISTRY_STORAGE_SWIFT_PASSWORD"], "p4ss");
        assert!(!format!("{creds:?}").contains("p4ss"));
        let bad =
            ImageRegistryConfigStorageSwift { auth_version: "three".into(), ..Default::default() };
        assert!(contribution(&bad, &creds).unwrap_err().starts_with("unable to parse authVersion"));
    }
}
