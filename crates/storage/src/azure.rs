//! Azure Blob Storage: the pure part.

use api::Infrastructure;
use api::imageregistry::ImageRegistryConfigStorageAzure;
use render::storage::{EnvEntry, StorageContribution};

/// Storage endpoint suffix of a named Azure cloud (`None` for an unknown name; Azure Stack
/// Hub reads its suffix from an environment file instead).
pub fn storage_suffix(cloud_name: &str) -> Option<&'static str> {
    match cloud_name {
        "" | "AzurePublicCloud" => Some("core.windows.net"),
        "AzureUSGovernmentCloud" => Some("core.usgovcloudapi.net"),
        "AzureChinaCloud" => Some("core.chinacloudapi.cn"),
        "AzureGermanCloud" => Some("core.cloudapi.de"),
        _ => None,
    }
}

/// The cloud name of Azure Stack Hub, whose endpoints each cluster states.
pub const AZURE_STACK_CLOUD: &str = "AzureStackCloud";

/// Whether `cloud_name` names Azure Stack Hub (the reference matches it in any case).
pub fn is_azure_stack(cloud_name: &str) -> bool {
    cloud_name.eq_ignore_ascii_case(AZURE_STACK_CLOUD)
}

/// An Azure Stack Hub's endpoints, from the Azure environment JSON that
/// `openshift-config/cloud-provider-config` holds under `endpoints` (the file
/// `AZURE_ENVIRONMENT_FILEPATH` names has the same content); the fields the operator uses.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct AzureEnvironment {
    pub resource_manager_endpoint: String,
    pub active_directory_endpoint: String,
    pub storage_endpoint_suffix: String,
    /// The audience of Resource Manager tokens (Resource Manager's endpoint when empty).
    pub token_audience: String,
}

/// Where Azure Stack Hub's endpoints come from, for messages.
pub const AZURE_STACK_ENDPOINTS: &str = "openshift-config/cloud-provider-config key endpoints";

impl AzureEnvironment {
    /// Parses an Azure environment; one without Resource Manager or a storage suffix is
    /// refused, saying what is missing.
    pub fn parse(json: &str) -> Result<Self, String> {
        let not = |e: String| {
            format!(
                "the Azure Stack Hub endpoints ({AZURE_STACK_ENDPOINTS}) are not an Azure environment: {e}"
            )
        };
        let v: serde_json::Value = serde_json::from_str(json).map_err(|e| not(e.to_string()))?;
        let o = v.as_object().ok_or_else(|| not("not a JSON object".into()))?;
        let field = |k: &str| o.get(k).and_then(|v| v.as_str()).unwrap_or("").to_string();
        let env = AzureEnvironment {
            resource_manager_endpoint: field("resourceManagerEndpoint"),
            active_directory_endpoint: field("activeDirectoryEndpoint"),
            storage_endpoint_suffix: field("storageEndpointSuffix"),
            token_audience: field("tokenAudience"),
        };
        for (value, field) in [
            (&env.resource_manager_endpoint, "resourceManagerEndpoint"),
            (&env.storage_endpoint_suffix, "storageEndpointSuffix"),
        ] {
            if value.is_empty() {
                return Err(format!(
                    "the Azure Stack Hub endpoints ({AZURE_STACK_ENDPOINTS}) have no {field}"
                ));
            }
        }
        Ok(env)
    }
}

/// The storage endpoint suffix of `s`'s cloud: a named cloud's, or on Azure Stack Hub the
/// one its endpoints state (`stack`: read from the cluster, `None` when not there).
pub fn endpoint_suffix(
    s: &ImageRegistryConfigStorageAzure,
    stack: Option<&Result<AzureEnvironment, String>>,
) -> Result<String, String> {
    let cloud = if s.cloud_name.is_empty() { "AzurePublicCloud" } else { &s.cloud_name };
    if is_azure_stack(cloud) {
        return match stack {
            Some(Ok(env)) => Ok(env.storage_endpoint_suffix.clone()),
            Some(Err(m)) => Err(m.clone()),
            None => Err(format!(
                "Azure Stack Hub's endpoints are not known: {AZURE_STACK_ENDPOINTS} is missing"
            )),
        };
    }
    storage_suffix(cloud).map(str::to_string).ok_or_else(|| {
        format!("autorest/azure: There is no cloud environment matching the name {cloud:?}")
    })
}

/// The Azure config with the cloud name from the Infrastructure when neither cloud nor
/// account name is set.
pub fn effective(
    spec: &ImageRegistryConfigStorageAzure,
    infra: &Infrastructure,
) -> ImageRegistryConfigStorageAzure {
    let mut s = spec.clone();
    if s.cloud_name.is_empty()
        && s.account_name.is_empty()
        && let Some(az) = infra.platform_status().and_then(|p| p.azure.as_ref())
    {
        s.cloud_name = az.cloud_name.clone();
    }
    s
}

/// The service principal and placement of the cluster's Azure credentials secret
/// (`azure_subscription_id`, `azure_client_id`, `azure_client_secret`, `azure_tenant_id`,
/// `azure_resourcegroup`, `azure_region`).
#[derive(Clone, Default, PartialEq, Eq)]
pub struct AzureCluster {
    pub subscription_id: String,
    pub client_id: String,
    pub client_secret: String,
    pub tenant_id: String,
    pub resource_group: String,
    pub region: String,
    /// A Kubernetes service account token file exchanged for Azure tokens (workload
    /// identity, when the secret has no `azure_client_secret`).
    pub federated_token_file: String,
}

/// The identity platform's host on Azure's public cloud.
pub const AZURE_AUTHORITY_HOST: &str = "https://login.microsoftonline.com/";

impl AzureCluster {
    /// Workload identity: no client secret, a federated token file instead. The storage
    /// account then takes no shared key, and its containers are made through Resource
    /// Manager.
    pub fn workload_identity(&self) -> bool {
        self.client_secret.is_empty() && !self.federated_token_file.is_empty()
    }
}

impl std::fmt::Debug for AzureCluster {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AzureCluster")
            .field("subscription_id", &self.subscription_id)
            .field("client_id", &self.client_id)
            .field("client_secret", &"<redacted>")
            .field("resource_group", &self.resource_group)
            .field("federated_token_file", &self.federated_token_file)
            .finish()
    }
}

/// How the registry authenticates to the storage account.
#[derive(Clone, Default)]
pub enum AzureAuth {
    /// Not known yet (rendering without cluster credentials).
    #[default]
    Unknown,
    /// A storage account key (from the user's secret or the account's key list).
    AccountKey(String),
    /// Workload identity: no key, a federated token file.
    WorkloadIdentity {
        client_id: String,
        tenant_id: String,
        token_file: String,
        authority_host: String,
    },
}

impl std::fmt::Debug for AzureAuth {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AzureAuth::Unknown => f.write_str("Unknown"),
            AzureAuth::AccountKey(_) => f.write_str("AccountKey(<redacted>)"),
            AzureAuth::WorkloadIdentity { client_id, .. } => {
                write!(f, "WorkloadIdentity({client_id})")
            }
        }
    }
}

/// Env of an (effective) Azure config. Errors on a cloud name without a known suffix
/// (on Azure Stack Hub, `stack` states it).
pub fn contribution(
    s: &ImageRegistryConfigStorageAzure,
    auth: &AzureAuth,
    stack: Option<&Result<AzureEnvironment, String>>,
) -> Result<StorageContribution, String> {
    let mut env = Vec::new();
    match auth {
        AzureAuth::Unknown => {}
        AzureAuth::AccountKey(key) => {
            env.push(EnvEntry::secret("REGISTRY_STORAGE_AZURE_ACCOUNTKEY", key.as_str()))
        }
        AzureAuth::WorkloadIdentity { client_id, tenant_id, token_file, authority_host } => env
            .extend([
                EnvEntry::plain("AZURE_CLIENT_ID", client_id.as_str()),
                EnvEntry::plain("AZURE_TENANT_ID", tenant_id.as_str()),
                EnvEntry::plain("AZURE_FEDERATED_TOKEN_FILE", token_file.as_str()),
                EnvEntry::plain("AZURE_AUTHORITY_HOST", authority_host.as_str()),
            ]),
    }
    env.extend([
        EnvEntry::plain("REGISTRY_STORAGE", "azure"),
        EnvEntry::plain("REGISTRY_STORAGE_AZURE_CONTAINER", s.container.as_str()),
        EnvEntry::plain("REGISTRY_STORAGE_AZURE_ACCOUNTNAME", s.account_name.as_str()),
    ]);
    if !s.cloud_name.is_empty() {
        let suffix = endpoint_suffix(s, stack)?;
        env.push(EnvEntry::plain("REGISTRY_STORAGE_AZURE_REALM", suffix));
    }
    Ok(StorageContribution { driver: "Azure", env, ..Default::default() })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn azure() {
        let s = ImageRegistryConfigStorageAzure {
            account_name: "acct".into(),
            container: "ctr".into(),
            cloud_name: "AzureUSGovernmentCloud".into(),
            ..Default::default()
        };
        let c = contribution(&s, &AzureAuth::AccountKey("k3y".into()), None).unwrap();
        let env: Vec<_> = c.env.iter().map(|e| (e.name.as_str(), e.secret)).collect();
        assert_eq!(
            env,
            [
                ("REGISTRY_STORAGE_AZURE_ACCOUNTKEY", true),
                ("REGISTRY_STORAGE", false),
                ("REGISTRY_STORAGE_AZURE_CONTAINER", false),
                ("REGISTRY_STORAGE_AZURE_ACCOUNTNAME", false),
                ("REGISTRY_STORAGE_AZURE_REALM", false),
            ]
        );
        assert_eq!(c.env[4].value.encode(), "core.usgovcloudapi.net");
        assert_eq!(c.private_configuration()["REGISTRY_STORAGE_AZURE_ACCOUNTKEY"], "k3y");
        assert!(!format!("{c:?}").contains("k3y"));
        let wi = AzureAuth::WorkloadIdentity {
            client_id: "c".into(),
            tenant_id: "t".into(),
            token_file: "/f".into(),
            authority_host: "https://login.microsoftonline.com/".into(),
        };
        let c = contribution(&ImageRegistryConfigStorageAzure::default(), &wi, None).unwrap();
        assert_eq!(c.env[0].name, "AZURE_CLIENT_ID");
        assert!(c.env.iter().all(|e| !e.secret));
        assert!(!c.env.iter().any(|e| e.name == "REGISTRY_STORAGE_AZURE_REALM"));
        let bad =
            ImageRegistryConfigStorageAzure { cloud_name: "Mars".into(), ..Default::default() };
        assert!(contribution(&bad, &AzureAuth::Unknown, None).unwrap_err().contains("Mars"));
    }

    #[test]
    fn azure_stack_hub_states_its_own_endpoints() {
        let ash = ImageRegistryConfigStorageAzure {
            cloud_name: "AZURESTACKCLOUD".into(),
            ..Default::default()
        };
        let json = r#"{"name": "AzureStackCloud",
            "resourceManagerEndpoint": "https://management.ppe.azurestack.example/",
            "activeDirectoryEndpoint": "https://login.microsoftonline.com/",
            "storageEndpointSuffix": "ppe.azurestack.example", "tokenAudience": "https://aud"}"#;
        let env = AzureEnvironment::parse(json);
        assert_eq!(env.as_ref().unwrap().token_audience, "https://aud");
        let c = contribution(&ash, &AzureAuth::Unknown, Some(&env)).unwrap();
        let realm = c.env.iter().find(|e| e.name == "REGISTRY_STORAGE_AZURE_REALM").unwrap();
        assert_eq!(realm.value.encode(), "ppe.azurestack.example");
        let missing = contribution(&ash, &AzureAuth::Unknown, None).unwrap_err();
        assert!(missing.contains("cloud-provider-config"), "{missing}");
        for (bad, says) in [
            ("not json", "not an Azure environment"),
            (r#"{"resourceManagerEndpoint": "https://m/"}"#, "no storageEndpointSuffix"),
            (r#"{"storageEndpointSuffix": "s"}"#, "no resourceManagerEndpoint"),
        ] {
            let e = AzureEnvironment::parse(bad);
            let message = contribution(&ash, &AzureAuth::Unknown, Some(&e)).unwrap_err();
            assert!(message.contains(says), "{bad}: {message}");
        }
    }
}
