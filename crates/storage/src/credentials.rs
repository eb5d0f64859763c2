//! Which credentials the storage uses: the keys of the user's override secret
//! `image-registry-private-configuration-user` when it exists, else those of the cluster's
//! `installer-cloud-credentials` (§e). Pure: the caller reads the two Secrets.

use std::collections::BTreeMap;

use render::storage::Backend;

use crate::Credentials;
use crate::azure::AzureAuth;

/// The user's override secret in the operand namespace.
pub const USER_SECRET: &str = "image-registry-private-configuration-user";
/// The secret the cloud credential operator mints for the registry.
pub const CLUSTER_SECRET: &str = "installer-cloud-credentials";

/// The decoded keys of a Secret.
pub type SecretData = BTreeMap<String, String>;

/// Where the credentials came from, for messages (never the values).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Source {
    User,
    Cluster,
    #[default]
    None,
}

impl Source {
    pub fn describe(self) -> &'static str {
        match self {
            Source::User => "secret image-registry-private-configuration-user",
            Source::Cluster => "secret installer-cloud-credentials",
            Source::None => "no credentials secret",
        }
    }
}

/// A static AWS key pair, parsed from a shared-credentials file.
#[derive(Clone, PartialEq, Eq)]
pub struct AwsKeys {
    pub access_key_id: String,
    pub secret_access_key: String,
    pub session_token: Option<String>,
}

impl std::fmt::Debug for AwsKeys {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("AwsKeys(<redacted>)")
    }
}

fn non_empty<'a>(data: &'a SecretData, key: &str) -> Option<&'a str> {
    data.get(key).map(|v| v.trim()).filter(|v| !v.is_empty())
}

fn ini(access: &str, secret: &str) -> String {
    format!("[default]\naws_access_key_id = {access}\naws_secret_access_key = {secret}\n")
}

/// The credentials for `backend` from the user's secret (first) or the cluster's, and
/// which one was used. A user secret without the backend's keys falls through to the
/// cluster secret, as in the reference.
pub fn resolve(
    backend: Backend,
    user: Option<&SecretData>,
    cluster: Option<&SecretData>,
) -> (Credentials, Source) {
    resolve_in(backend, user, cluster, "openstack")
}

/// [`resolve`] with the cloud of the cluster's `clouds.yaml` to use (the Infrastructure's
/// `platformStatus.openstack.cloudName`).
pub fn resolve_in(
    backend: Backend,
    user: Option<&SecretData>,
    cluster: Option<&SecretData>,
    openstack_cloud: &str,
) -> (Credentials, Source) {
    if let Some(u) = user
        && let Some(mut c) = from_user(backend, u)
    {
        if backend == Backend::Swift {
            // The user's secret holds credentials; where to use them comes from clouds.yaml.
            let cloud = cluster
                .and_then(|d| d.get("clouds.yaml"))
                .and_then(|y| swift_from_clouds_yaml(y, openstack_cloud));
            if let Some(cloud) = cloud {
                c.swift.auth_url = cloud.auth_url;
                c.swift.identity_api_version = cloud.identity_api_version;
                c.swift.region_name = cloud.region_name;
                c.swift.domain = cloud.domain;
                c.swift.domain_id = cloud.domain_id;
                c.swift.tenant = cloud.tenant;
                c.swift.tenant_id = cloud.tenant_id;
            }
            c.swift.ca_cert = cluster_ca_cert(cluster);
        }
        return (c, Source::User);
    }
    if backend == Backend::Swift {
        if let Some(s) = cluster
            .and_then(|d| d.get("clouds.yaml"))
            .and_then(|y| swift_from_clouds_yaml(y, openstack_cloud))
        {
            let swift = crate::swift::SwiftCredentials { ca_cert: cluster_ca_cert(cluster), ..s };
            return (Credentials { swift, ..Default::default() }, Source::Cluster);
        }
        return (Credentials::default(), Source::None);
    }
    if let Some(c) = cluster.and_then(|c| from_cluster(backend, c)) {
        return (c, Source::Cluster);
    }
    (Credentials::default(), Source::None)
}

/// The OpenStack CA bundle of the cluster's cloud credentials (key `cacert`).
fn cluster_ca_cert(cluster: Option<&SecretData>) -> String {
    cluster.and_then(|d| d.get("cacert")).cloned().unwrap_or_default()
}

fn from_user(backend: Backend, d: &SecretData) -> Option<Credentials> {
    let mut c = Credentials::default();
    match backend {
        Backend::S3 => {
            let access = non_empty(d, "REGISTRY_STORAGE_S3_ACCESSKEY")?;
            let secret = non_empty(d, "REGISTRY_STORAGE_S3_SECRETKEY")?;
            c.s3_credentials_file = Some(ini(access, secret));
        }
        Backend::IbmCos => {
            c.ibm_api_key = Some(non_empty(d, "REGISTRY_STORAGE_IBMCOS_IAMAPIKEY")?.to_string());
        }
        Backend::Gcs => {
            c.gcs_keyfile = Some(non_empty(d, "REGISTRY_STORAGE_GCS_KEYFILE")?.to_string());
        }
        Backend::Azure => {
            c.azure = AzureAuth::AccountKey(
                non_empty(d, "REGISTRY_STORAGE_AZURE_ACCOUNTKEY")?.to_string(),
            );
        }
        Backend::Swift => {
            let get = |k: &str| d.get(k).cloned().unwrap_or_default();
            let s = crate::swift::SwiftCredentials {
                username: get("REGISTRY_STORAGE_SWIFT_USERNAME"),
                password: get("REGISTRY_STORAGE_SWIFT_PASSWORD"),
                token: get("REGISTRY_STORAGE_SWIFT_TOKENID"),
                application_credential_id: get("REGISTRY_STORAGE_SWIFT_APPLICATIONCREDENTIALID"),
                application_credential_name: get(
                    "REGISTRY_STORAGE_SWIFT_APPLICATIONCREDENTIALNAME",
                ),
                application_credential_secret: get(
                    "REGISTRY_STORAGE_SWIFT_APPLICATIONCREDENTIALSECRET",
                ),
                ..Default::default()
            };
            let password = !s.username.is_empty() && !s.password.is_empty();
            let named = !s.application_credential_id.is_empty()
                || !s.application_credential_name.is_empty();
            let app = named && !s.application_credential_secret.is_empty();
            if !(password || app || !s.token.is_empty()) {
                return None;
            }
            c.swift = s;
        }
        Backend::EmptyDir | Backend::Pvc => return None,
    }
    Some(c)
}

fn from_cluster(backend: Backend, d: &SecretData) -> Option<Credentials> {
    let mut c = Credentials::default();
    match backend {
        Backend::S3 => {
            c.s3_credentials_file = Some(match non_empty(d, "credentials") {
                // Used verbatim: it may name an STS role instead of keys.
                Some(_) => d["credentials"].clone(),
                None => {
                    ini(non_empty(d, "aws_access_key_id")?, non_empty(d, "aws_secret_access_key")?)
                }
            });
        }
        Backend::IbmCos => c.ibm_api_key = Some(non_empty(d, "ibmcloud_api_key")?.to_string()),
        Backend::Gcs => c.gcs_keyfile = Some(non_empty(d, "service_account.json")?.to_string()),
        Backend::Azure => {
            let get = |k: &str| non_empty(d, k).map(str::to_string);
            let cluster = crate::azure::AzureCluster {
                subscription_id: get("azure_subscription_id")?,
                client_id: get("azure_client_id")?,
                client_secret: get("azure_client_secret").unwrap_or_default(),
                tenant_id: get("azure_tenant_id")?,
                resource_group: get("azure_resourcegroup").unwrap_or_default(),
                region: get("azure_region").unwrap_or_default(),
                federated_token_file: get("azure_federated_token_file").unwrap_or_default(),
            };
            // Neither a secret nor a token file: the process's managed identity file may
            // stand for them (else the first Resource Manager call says what is missing).
            if cluster.workload_identity() {
                // The registry exchanges the same token file (its pod mounts the bound
                // service account token at the same path).
                c.azure = AzureAuth::WorkloadIdentity {
                    client_id: cluster.client_id.clone(),
                    tenant_id: cluster.tenant_id.clone(),
                    token_file: cluster.federated_token_file.clone(),
                    authority_host: crate::azure::AZURE_AUTHORITY_HOST.into(),
                };
            }
            c.azure_cluster = Some(cluster);
        }
        Backend::Swift => return None,
        Backend::EmptyDir | Backend::Pvc => return None,
    }
    Some(c)
}

/// The Swift credentials and endpoint settings of `cloud` in a `clouds.yaml`.
pub fn swift_from_clouds_yaml(yaml: &str, cloud: &str) -> Option<crate::swift::SwiftCredentials> {
    let doc: serde_json::Value = serde_saphyr::from_str(yaml).ok()?;
    let c = doc.get("clouds")?.get(if cloud.is_empty() { "openstack" } else { cloud })?;
    let text = |v: &serde_json::Value, k: &str| match v.get(k) {
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        _ => String::new(),
    };
    let auth = c.get("auth").cloned().unwrap_or_default();
    Some(crate::swift::SwiftCredentials {
        auth_url: text(&auth, "auth_url"),
        identity_api_version: text(c, "identity_api_version"),
        username: text(&auth, "username"),
        password: text(&auth, "password"),
        token: text(&auth, "token"),
        application_credential_id: text(&auth, "application_credential_id"),
        application_credential_name: text(&auth, "application_credential_name"),
        application_credential_secret: text(&auth, "application_credential_secret"),
        domain: [text(&auth, "user_domain_name"), text(&auth, "domain_name")]
            .into_iter()
            .find(|s| !s.is_empty())
            .unwrap_or_default(),
        domain_id: [text(&auth, "user_domain_id"), text(&auth, "domain_id")]
            .into_iter()
            .find(|s| !s.is_empty())
            .unwrap_or_default(),
        tenant: [text(&auth, "project_name"), text(&auth, "tenant_name")]
            .into_iter()
            .find(|s| !s.is_empty())
            .unwrap_or_default(),
        tenant_id: [text(&auth, "project_id"), text(&auth, "tenant_id")]
            .into_iter()
            .find(|s| !s.is_empty())
            .unwrap_or_default(),
        region_name: text(c, "region_name"),
        // clouds.yaml's own `cacert` is a path on the installer's machine; the CA comes
        // from the secret's `cacert` key instead.
        ca_cert: String::new(),
    })
}

/// A `[default]` profile that assumes a role with a web identity token (OpenShift's STS
/// mode: `role_arn` and `web_identity_token_file`, the service account token projected
/// into the pod).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct WebIdentity {
    pub role_arn: String,
    pub token_file: String,
    /// `role_session_name`, when the file names one.
    pub session_name: Option<String>,
}

/// How a shared-credentials file authenticates.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum AwsAuth {
    Keys(AwsKeys),
    WebIdentity(WebIdentity),
}

/// The `[default]` profile of a shared-credentials file: a static key pair, or a role to
/// assume with a web identity token; or why it is neither (without any value from the
/// file).
pub fn aws_auth(file: &str) -> Result<AwsAuth, String> {
    let values = default_profile(file);
    let get = |k: &str| values.get(k).filter(|v| !v.is_empty()).cloned();
    match (get("aws_access_key_id"), get("aws_secret_access_key")) {
        (Some(a), Some(s)) => Ok(AwsAuth::Keys(AwsKeys {
            access_key_id: a,
            secret_access_key: s,
            session_token: get("aws_session_token"),
        })),
        _ => match (get("role_arn"), get("web_identity_token_file")) {
            (Some(role_arn), Some(token_file)) => Ok(AwsAuth::WebIdentity(WebIdentity {
                role_arn,
                token_file,
                session_name: get("role_session_name"),
            })),
            (Some(_), None) => Err(
                "the credentials file names a role (role_arn) but no web_identity_token_file; only static keys and web identity roles are supported".into(),
            ),
            _ => Err("the credentials file has no [default] aws_access_key_id and aws_secret_access_key, nor role_arn and web_identity_token_file".into()),
        },
    }
}

fn default_profile(file: &str) -> BTreeMap<String, String> {
    let mut section = String::new();
    let mut values: BTreeMap<String, String> = BTreeMap::new();
    for line in file.lines() {
        let line = line.trim();
        if line.is_empty() || line.starts_with('#') || line.starts_with(';') {
            continue;
        }
        if let Some(name) = line.strip_prefix('[').and_then(|l| l.strip_suffix(']')) {
            section = name.trim().trim_start_matches("profile ").trim().to_string();
            continue;
        }
        if section == "default"
            && let Some((k, v)) = line.split_once('=')
        {
            values.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    values
}

/// The static key pair of the `[default]` profile of a shared-credentials file, or why
/// there is none (without any value from the file).
pub fn aws_keys(file: &str) -> Result<AwsKeys, String> {
    match aws_auth(file)? {
        AwsAuth::Keys(k) => Ok(k),
        AwsAuth::WebIdentity(_) => Err(
            "the credentials file names a web identity role (role_arn/web_identity_token_file), not static keys".into(),
        ),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn data(pairs: &[(&str, &str)]) -> SecretData {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn user_secret_wins_when_it_has_the_backends_keys() {
        let user = data(&[
            ("REGISTRY_STORAGE_S3_ACCESSKEY", "AKUSER"),
            ("REGISTRY_STORAGE_S3_SECRETKEY", "s3cr3t"),
        ]);
        let cluster = data(&[("aws_access_key_id", "AKCLUSTER"), ("aws_secret_access_key", "x")]);
        let (c, src) = resolve(Backend::S3, Some(&user), Some(&cluster));
        assert_eq!(src, Source::User);
        let keys = aws_keys(c.s3_credentials_file.as_deref().unwrap()).unwrap();
        assert_eq!(keys.access_key_id, "AKUSER");
        assert_eq!(keys.secret_access_key, "s3cr3t");
        // Half a pair in the user's secret: the cluster's keys are used.
        let half = data(&[("REGISTRY_STORAGE_S3_ACCESSKEY", "AKUSER")]);
        let (c, src) = resolve(Backend::S3, Some(&half), Some(&cluster));
        assert_eq!(src, Source::Cluster);
        assert_eq!(
            aws_keys(c.s3_credentials_file.as_deref().unwrap()).unwrap().access_key_id,
            "AKCLUSTER"
        );
        assert_eq!(resolve(Backend::S3, Some(&half), None).1, Source::None);
    }

    #[test]
    fn cluster_credentials_file_is_used_verbatim() {
        let file = "[default]\nrole_arn = arn:aws:iam::1:role/r\nweb_identity_token_file = /t\n";
        let (c, src) = resolve(Backend::S3, None, Some(&data(&[("credentials", file)])));
        assert_eq!(src, Source::Cluster);
        assert_eq!(c.s3_credentials_file.as_deref(), Some(file));
        let e = aws_keys(file).unwrap_err();
        assert!(e.contains("web identity role") && !e.contains("arn:aws"), "{e}");
        assert_eq!(
            aws_auth(file),
            Ok(AwsAuth::WebIdentity(WebIdentity {
                role_arn: "arn:aws:iam::1:role/r".into(),
                token_file: "/t".into(),
                session_name: None,
            }))
        );
        let sts = "[default]\nsts_regional_endpoints = regional\nrole_arn = arn:aws:iam::1:role/r\nweb_identity_token_file = /var/run/secrets/openshift/serviceaccount/token\nrole_session_name = s\n";
        assert!(
            matches!(aws_auth(sts), Ok(AwsAuth::WebIdentity(w)) if w.session_name.as_deref() == Some("s"))
        );
        let e = aws_auth("[default]\nrole_arn = arn:aws:iam::1:role/secret-role\n").unwrap_err();
        assert!(e.contains("no web_identity_token_file") && !e.contains("secret-role"), "{e}");
    }

    #[test]
    fn keys_from_profiles() {
        let f = "# c\n[other]\naws_access_key_id=NO\naws_secret_access_key=NO\n[default]\naws_access_key_id = A\naws_secret_access_key= B\naws_session_token=T\n";
        let k = aws_keys(f).unwrap();
        assert_eq!(
            (k.access_key_id.as_str(), k.secret_access_key.as_str(), k.session_token.as_deref()),
            ("A", "B", Some("T"))
        );
        assert!(!format!("{k:?}").contains('B'));
        assert!(aws_keys("[default]\n").unwrap_err().contains("no [default]"));
    }

    #[test]
    fn clouds_yaml() {
        let yaml = "clouds:\n  openstack:\n    auth:\n      auth_url: https://keystone:5000/v3\n      username: u\n      password: p\n      project_name: proj\n      user_domain_name: Default\n    region_name: RegionOne\n    identity_api_version: 3\n  other:\n    auth:\n      auth_url: http://other\n";
        let cluster = data(&[("clouds.yaml", yaml)]);
        let (c, src) = resolve_in(Backend::Swift, None, Some(&cluster), "openstack");
        assert_eq!(src, Source::Cluster);
        let s = &c.swift;
        assert_eq!(
            (s.auth_url.as_str(), s.username.as_str(), s.tenant.as_str(), s.region_name.as_str()),
            ("https://keystone:5000/v3", "u", "proj", "RegionOne")
        );
        assert_eq!((s.identity_api_version.as_str(), s.domain.as_str()), ("3", "Default"));
        assert_eq!(
            resolve_in(Backend::Swift, None, Some(&cluster), "other").0.swift.auth_url,
            "http://other"
        );
        assert_eq!(resolve_in(Backend::Swift, None, Some(&cluster), "missing").1, Source::None);
        // The user's credentials, used where the cluster's clouds.yaml points.
        let user = data(&[
            ("REGISTRY_STORAGE_SWIFT_USERNAME", "me"),
            ("REGISTRY_STORAGE_SWIFT_PASSWORD", "pw"),
        ]);
        let (c, src) = resolve_in(Backend::Swift, Some(&user), Some(&cluster), "openstack");
        assert_eq!(
            (src, c.swift.username.as_str(), c.swift.auth_url.as_str()),
            (Source::User, "me", "https://keystone:5000/v3")
        );
    }

    #[test]
    fn other_backends() {
        let user = data(&[
            ("REGISTRY_STORAGE_GCS_KEYFILE", "{\"type\":\"service_account\"}"),
            ("REGISTRY_STORAGE_AZURE_ACCOUNTKEY", "a2V5"),
            ("REGISTRY_STORAGE_SWIFT_USERNAME", "u"),
            ("REGISTRY_STORAGE_SWIFT_PASSWORD", "p"),
            ("REGISTRY_STORAGE_IBMCOS_IAMAPIKEY", "ibm"),
        ]);
        assert!(resolve(Backend::Gcs, Some(&user), None).0.gcs_keyfile.is_some());
        assert!(
            matches!(resolve(Backend::Azure, Some(&user), None).0.azure, AzureAuth::AccountKey(k) if k == "a2V5")
        );
        assert_eq!(resolve(Backend::Swift, Some(&user), None).0.swift.username, "u");
        assert_eq!(
            resolve(Backend::IbmCos, Some(&user), None).0.ibm_api_key.as_deref(),
            Some("ibm")
        );
        let cluster = data(&[("service_account.json", "{}"), ("ibmcloud_api_key", "k")]);
        assert_eq!(resolve(Backend::Gcs, None, Some(&cluster)).1, Source::Cluster);
        assert_eq!(resolve(Backend::IbmCos, None, Some(&cluster)).1, Source::Cluster);
        assert_eq!(resolve(Backend::Azure, None, Some(&cluster)).1, Source::None);
        let sp = data(&[
            ("azure_subscription_id", "sub"),
            ("azure_client_id", "app"),
            ("azure_client_secret", "pw"),
            ("azure_tenant_id", "tenant"),
            ("azure_resourcegroup", "rg"),
        ]);
        let (c, src) = resolve(Backend::Azure, None, Some(&sp));
        assert_eq!(src, Source::Cluster);
        assert_eq!(c.azure_cluster.as_ref().unwrap().resource_group, "rg");
        assert!(!format!("{c:?}").contains("pw"));
    }

    #[test]
    fn azure_workload_identity_is_a_token_file_without_a_secret() {
        let cluster = data(&[
            ("azure_subscription_id", "sub"),
            ("azure_client_id", "app"),
            ("azure_tenant_id", "tenant"),
            ("azure_region", "eastus"),
            ("azure_federated_token_file", "/var/run/secrets/openshift/serviceaccount/token"),
        ]);
        let (c, source) = resolve(Backend::Azure, None, Some(&cluster));
        assert_eq!(source, Source::Cluster);
        assert!(c.azure_cluster.as_ref().unwrap().workload_identity());
        assert!(matches!(&c.azure, AzureAuth::WorkloadIdentity { token_file, client_id, .. }
            if token_file == "/var/run/secrets/openshift/serviceaccount/token" && client_id == "app"));
        let mut neither = cluster.clone();
        neither.remove("azure_federated_token_file");
        let (c, _) = resolve(Backend::Azure, None, Some(&neither));
        let principal = c.azure_cluster.expect("kept for a managed identity file");
        assert!(!principal.workload_identity() && principal.client_secret.is_empty());
        assert!(matches!(c.azure, AzureAuth::Unknown));
    }
}

/// What is wrong with the secrets the credentials of `backend` come from, found before
/// any cloud call: a key without its pair, an empty, non-UTF-8 or oversized value, a
/// keyfile that is no JSON, an account key that is no base64, a `clouds.yaml` that is no
/// YAML or lacks the cluster's cloud. The message names the secret and key, never a value.
pub fn problem(
    backend: Backend,
    user: Option<&SecretData>,
    cluster: Option<&SecretData>,
    openstack_cloud: &str,
) -> Option<String> {
    let in_user = |key: &str| format!("key {key} of secret {USER_SECRET}");
    let value = |key: &str| user.and_then(|u| u.get(key));
    let text_problem = |key: &str, v: &str, max: usize| {
        if v.trim().is_empty() {
            Some(format!("{} is empty", in_user(key)))
        } else if v.contains('\u{FFFD}') {
            Some(format!("{} is not UTF-8 text", in_user(key)))
        } else if v.len() > max {
            Some(format!("{} is {} bytes, longer than any such key ({max})", in_user(key), v.len()))
        } else {
            None
        }
    };
    match backend {
        Backend::S3 => {
            let (id, secret) = ("REGISTRY_STORAGE_S3_ACCESSKEY", "REGISTRY_STORAGE_S3_SECRETKEY");
            match (value(id), value(secret)) {
                (None, None) => None,
                (Some(_), None) => Some(format!("secret {USER_SECRET} has {id} but no {secret}")),
                (None, Some(_)) => Some(format!("secret {USER_SECRET} has {secret} but no {id}")),
                (Some(a), Some(b)) => {
                    text_problem(id, a, 1024).or_else(|| text_problem(secret, b, 1024))
                }
            }
        }
        Backend::Gcs => {
            let key = "REGISTRY_STORAGE_GCS_KEYFILE";
            let file = value(key)?;
            let doc: serde_json::Value = match serde_json::from_str(file) {
                Ok(d) => d,
                Err(e) => return Some(format!("{} is not a JSON key file: {e}", in_user(key))),
            };
            let service_account =
                doc.get("type").and_then(|t| t.as_str()) == Some("service_account");
            (service_account && doc.get("private_key").is_none()).then(|| {
                format!("{} is a service account key file without its private_key", in_user(key))
            })
        }
        Backend::Azure => {
            use base64::Engine as _;
            let key = "REGISTRY_STORAGE_AZURE_ACCOUNTKEY";
            let v = value(key)?;
            base64::engine::general_purpose::STANDARD
                .decode(v.trim())
                .is_err()
                .then(|| format!("{} is not base64, as storage account keys are", in_user(key)))
        }
        Backend::Swift => {
            let yaml = cluster.and_then(|c| c.get("clouds.yaml"))?;
            let cloud = if openstack_cloud.is_empty() { "openstack" } else { openstack_cloud };
            let shown = format!("key clouds.yaml of secret {CLUSTER_SECRET}");
            match serde_saphyr::from_str::<serde_json::Value>(yaml) {
                // The parser's message quotes the text around the error: passwords.
                Err(_) => Some(format!("{shown} is not YAML")),
                Ok(doc) if doc.get("clouds").and_then(|c| c.get(cloud)).is_none() => {
                    Some(format!("{shown} has no cloud {cloud:?} (clouds.{cloud})"))
                }
                Ok(_) => None,
            }
        }
        _ => None,
    }
}

#[cfg(test)]
mod problem_tests {
    use super::*;

    fn data(pairs: &[(&str, &str)]) -> SecretData {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn bad_secrets_are_named_and_their_values_never_shown() {
        let s3 = |pairs: &[(&str, &str)]| problem(Backend::S3, Some(&data(pairs)), None, "");
        assert_eq!(s3(&[]), None, "no user secret keys: the cluster's credentials");
        let only = s3(&[("REGISTRY_STORAGE_S3_ACCESSKEY", "AKIAEXAMPLE")]).unwrap();
        assert_eq!(
            only,
            format!(
                "secret {USER_SECRET} has REGISTRY_STORAGE_S3_ACCESSKEY but no REGISTRY_STORAGE_S3_SECRETKEY"
            )
        );
        let empty = s3(&[
            ("REGISTRY_STORAGE_S3_ACCESSKEY", "AKIAEXAMPLE"),
            ("REGISTRY_STORAGE_S3_SECRETKEY", " "),
        ]);
        assert!(empty.unwrap().ends_with("REGISTRY_STORAGE_S3_SECRETKEY of secret image-registry-private-configuration-user is empty"));
        let lossy = s3(&[
            ("REGISTRY_STORAGE_S3_ACCESSKEY", "\u{FFFD}x"),
            ("REGISTRY_STORAGE_S3_SECRETKEY", "s3cr3t-value"),
        ]);
        assert!(lossy.as_deref().unwrap().ends_with("is not UTF-8 text"));
        let big = "k".repeat(2000);
        let long = s3(&[
            ("REGISTRY_STORAGE_S3_ACCESSKEY", "AKIAEXAMPLE"),
            ("REGISTRY_STORAGE_S3_SECRETKEY", &big),
        ])
        .unwrap();
        assert!(long.contains("2000 bytes") && !long.contains("kkkk"), "{long}");
        let gcs = |v: &str| {
            problem(Backend::Gcs, Some(&data(&[("REGISTRY_STORAGE_GCS_KEYFILE", v)])), None, "")
        };
        assert!(gcs("not json").unwrap().contains("is not a JSON key file"));
        assert!(gcs(r#"{"type": "service_account"}"#).unwrap().contains("without its private_key"));
        assert_eq!(
            gcs(r#"{"type": "service_account", "private_key": "-----BEGIN PRIVATE KEY-----"}"#),
            None
        );
        let azure = |v: &str| {
            problem(
                Backend::Azure,
                Some(&data(&[("REGISTRY_STORAGE_AZURE_ACCOUNTKEY", v)])),
                None,
                "",
            )
        };
        assert!(azure("not base64 !!!").unwrap().contains("is not base64"));
        assert_eq!(azure("c2VjcmV0"), None);
        let swift = |y: &str| {
            problem(Backend::Swift, None, Some(&data(&[("clouds.yaml", y)])), "openstack")
        };
        assert!(swift("clouds: [unclosed").unwrap().contains("is not YAML"));
        assert!(swift("clouds:\n  other: {}\n").unwrap().contains("has no cloud \"openstack\""));
        assert_eq!(swift("clouds:\n  openstack: {auth: {auth_url: http://x}}\n"), None);
    }
}
