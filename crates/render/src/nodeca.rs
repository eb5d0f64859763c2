//! The node-ca DaemonSet (reference §d.8): copies the registry CAs onto every node.

use k8s_openapi::api::apps::v1::DaemonSet;

use crate::Inputs;

/// DaemonSet `node-ca`, running the operator image's `node-ca-sync`.
pub fn daemon_set(inputs: &Inputs) -> DaemonSet {
    static PARSED: std::sync::LazyLock<DaemonSet> = std::sync::LazyLock::new(|| {
        serde_saphyr::from_str(include_str!("manifests/node-ca-daemonset.yaml"))
            .expect("embedded DaemonSet parses")
    });
    let mut ds = PARSED.clone();
    if let Some(c) = ds
        .spec
        .as_mut()
        .and_then(|s| s.template.spec.as_mut())
        .and_then(|s| s.containers.first_mut())
    {
        c.image = Some(inputs.env.operator_image.clone());
    }
    ds
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ca() {
        let mut i = Inputs::default();
        i.env.operator_image = "quay.io/op:1".into();
        let ds = daemon_set(&i);
        assert_eq!(ds.metadata.name.as_deref(), Some("node-ca"));
        assert_eq!(ds.metadata.namespace.as_deref(), Some("openshift-image-registry"));
        let spec = ds.spec.unwrap();
        let pod = spec.template.spec.unwrap();
        let c = &pod.containers[0];
        assert_eq!(c.image.as_deref(), Some("quay.io/op:1"));
        assert_eq!(
            c.command.as_deref(),
            Some(&["cluster-image-registry-operator".to_string()][..])
        );
        assert_eq!(c.args.as_deref(), Some(&["node-ca-sync".to_string()][..]));
        let sc = c.security_context.as_ref().unwrap();
        assert_eq!(
            (sc.privileged, sc.run_as_user, sc.run_as_group),
            (Some(true), Some(1001), Some(0))
        );
        assert_eq!(pod.host_network, Some(true));
        assert_eq!(pod.service_account_name.as_deref(), Some("node-ca"));
        assert_eq!(pod.tolerations.unwrap()[0].operator.as_deref(), Some("Exists"));
        let vols = pod.volumes.unwrap();
        assert_eq!(vols[0].host_path.as_ref().unwrap().path, "/etc/docker/certs.d");
        assert_eq!(vols[1].config_map.as_ref().unwrap().name, "image-registry-certificates");
        let annotations = spec.template.metadata.unwrap().annotations.unwrap();
        assert_eq!(annotations["openshift.io/required-scc"], "privileged");
        assert_eq!(
            spec.update_strategy.unwrap().rolling_update.unwrap().max_unavailable,
            Some(k8s_openapi::apimachinery::pkg::util::intstr::IntOrString::String("10%".into()))
        );
    }
}
