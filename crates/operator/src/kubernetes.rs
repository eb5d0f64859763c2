//! Plain Kubernetes: a cluster that serves neither `config.openshift.io` (no
//! Infrastructure, ClusterOperator, image config, feature gates) nor, perhaps,
//! `route.openshift.io`. The operator then runs all the same: the platform comes from
//! `--platform` or the Nodes' `spec.providerID`, status lives on the Config only, the
//! routes are Ingresses, and the serving certificate is cert-manager's or the operator's.

use api::Infrastructure;

/// Which of OpenShift's APIs the cluster serves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct OpenShiftApis {
    /// `config.openshift.io`: Infrastructure, ClusterOperator, Image, FeatureGate...
    pub config: bool,
    /// `route.openshift.io`.
    pub routes: bool,
    /// `cert-manager.io` (not OpenShift's, but where it is served on plain Kubernetes the
    /// registry's serving certificate is a cert-manager Certificate).
    pub cert_manager: bool,
}

impl Default for OpenShiftApis {
    fn default() -> Self {
        OpenShiftApis { config: true, routes: true, cert_manager: false }
    }
}

/// The API groups the cluster serves, read once at start.
pub async fn discover(client: &kube::Client) -> Result<OpenShiftApis, String> {
    let groups =
        client.list_api_groups().await.map_err(|e| format!("cannot list the API groups: {e}"))?;
    let served = |name: &str| groups.groups.iter().any(|g| g.name == name);
    Ok(OpenShiftApis {
        config: served("config.openshift.io"),
        routes: served("route.openshift.io"),
        cert_manager: served("cert-manager.io"),
    })
}

/// The platform types the operator has defaults for (`status.platformStatus.type`).
pub const PLATFORMS: &[&str] = &[
    "None",
    "AWS",
    "GCP",
    "Azure",
    "OpenStack",
    "IBMCloud",
    "PowerVS",
    "VSphere",
    "BareMetal",
    "Libvirt",
    "oVirt",
    "Nutanix",
    "AlibabaCloud",
    "External",
];

/// The platform a Node's `spec.providerID` names (`aws:///us-east-1a/i-...`), when the
/// operator knows it.
pub fn platform_of_provider_id(id: &str) -> Option<&'static str> {
    let scheme = id.split("://").next()?;
    Some(match scheme {
        "aws" => "AWS",
        "gce" => "GCP",
        "azure" => "Azure",
        "openstack" => "OpenStack",
        "ibm" => "IBMCloud",
        "vsphere" => "VSphere",
        _ => return None,
    })
}

/// The Infrastructure a plain cluster would have: `platform` (`--platform`, else the
/// Nodes'), named `name` (storage names start with it). Returns it with what is not known,
/// for the Config's status.
pub fn infrastructure(platform: Option<&str>, name: &str) -> (Infrastructure, Option<String>) {
    let known = platform.filter(|p| PLATFORMS.contains(p));
    let gap = match (platform, known) {
        (_, Some(_)) => None,
        (Some(p), None) => Some(format!(
            "--platform {p:?} is not a platform this operator knows ({}): the default storage is emptyDir",
            PLATFORMS.join(", ")
        )),
        (None, None) => Some(
            "plain Kubernetes: no Infrastructure, no --platform, and no Node names a known provider: the default storage is emptyDir".to_string(),
        ),
    };
    let infra = serde_json::from_value(serde_json::json!({
        "metadata": {"name": "cluster"}, "spec": {},
        "status": {"infrastructureName": name,
            "platformStatus": {"type": known.unwrap_or("")}}
    }))
    .expect("a valid Infrastructure");
    (infra, gap)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn provider_ids_name_platforms() {
        assert_eq!(platform_of_provider_id("aws:///us-east-1a/i-0abc"), Some("AWS"));
        assert_eq!(platform_of_provider_id("gce://project/zone/node-1"), Some("GCP"));
        assert_eq!(platform_of_provider_id("azure:///subscriptions/s/x"), Some("Azure"));
        assert_eq!(platform_of_provider_id("kind://docker/kind/kind-control-plane"), None);
        assert_eq!(platform_of_provider_id(""), None);
    }

    #[test]
    fn an_unknown_or_missing_platform_is_none_and_says_so() {
        let (infra, gap) = infrastructure(Some("AWS"), "k8s-abc12");
        assert_eq!(
            (infra.platform_type(), infra.infrastructure_name(), gap),
            ("AWS", "k8s-abc12", None)
        );
        let (infra, gap) = infrastructure(Some("Mars"), "k8s-abc12");
        assert_eq!(
            infra.platform_type(),
            "",
            "no platform: emptyDir, as without an Infrastructure"
        );
        assert!(gap.unwrap().contains("\"Mars\" is not a platform"));
        let (infra, gap) = infrastructure(None, "k8s-abc12");
        assert_eq!(infra.platform_type(), "");
        assert!(gap.unwrap().contains("plain Kubernetes"));
    }
}
