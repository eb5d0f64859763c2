//! The image pruner (reference §d.7): RBAC, ServiceAccount, the `serviceca` ConfigMap,
//! NetworkPolicy and the CronJob that runs `oc adm prune images`.

use std::collections::BTreeMap;

use api::{ImagePruner, LogLevel};
use k8s_openapi::api::batch::v1::{CronJob, CronJobSpec, JobSpec, JobTemplateSpec};
use k8s_openapi::api::core::v1::{
    ConfigMap, ConfigMapVolumeSource, Container, PodSpec, PodTemplateSpec, ResourceRequirements,
    SecurityContext, Volume, VolumeMount,
};
use k8s_openapi::api::networking::v1::NetworkPolicy;
use k8s_openapi::api::rbac::v1::ClusterRole;
use k8s_openapi::apimachinery::pkg::api::resource::Quantity;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::names::*;
use crate::object::{Object, meta};
use crate::registry::{binding, rule, service_account};
use crate::{Inputs, godur};

/// Default schedule: daily at midnight.
pub const DEFAULT_SCHEDULE: &str = "0 0 * * *";
/// Default `--keep-younger-than`, passed literally.
pub const DEFAULT_KEEP_YOUNGER_THAN: &str = "60m";

/// ClusterRole `system:image-pruner`.
pub fn cluster_role() -> ClusterRole {
    ClusterRole {
        metadata: meta(PRUNER_CLUSTER_ROLE, None, &[], &[]),
        rules: Some(vec![
            rule(&[""], &["pods", "replicationcontrollers"], &["get", "list"]),
            rule(&[""], &["limitranges"], &["list"]),
            rule(&["build.openshift.io"], &["buildconfigs", "builds"], &["get", "list"]),
            rule(&["apps.openshift.io"], &["deploymentconfigs"], &["get", "list"]),
            rule(&["batch"], &["jobs", "cronjobs"], &["get", "list"]),
            rule(
                &["apps"],
                &["daemonsets", "deployments", "replicasets", "statefulsets"],
                &["get", "list"],
            ),
            rule(&["image.openshift.io"], &["images"], &["delete"]),
            rule(&["image.openshift.io"], &["images", "imagestreams"], &["get", "list", "watch"]),
            rule(&["image.openshift.io"], &["imagestreams/status"], &["update"]),
        ]),
        aggregation_rule: None,
    }
}

/// ConfigMap `serviceca`: the service-ca operator injects `service-ca.crt` into it.
pub fn service_ca_config_map() -> ConfigMap {
    ConfigMap {
        metadata: meta(
            SERVICE_CA,
            Some(NAMESPACE),
            &[],
            &[("service.beta.openshift.io/inject-cabundle", "true")],
        ),
        ..Default::default()
    }
}

/// NetworkPolicy `image-pruner-networkpolicy`.
pub fn network_policy() -> NetworkPolicy {
    static PARSED: std::sync::LazyLock<NetworkPolicy> = std::sync::LazyLock::new(|| {
        serde_saphyr::from_str(include_str!("manifests/image-pruner-networkpolicy.yaml"))
            .expect("embedded NetworkPolicy parses")
    });
    PARSED.clone()
}

/// `oc --loglevel` for the pruner's log level (Normal is lowered from 2 to 1).
pub fn log_level(level: LogLevel) -> u8 {
    match level {
        LogLevel::Debug => 4,
        LogLevel::Trace => 6,
        LogLevel::TraceAll => 8,
        LogLevel::Normal | LogLevel::Unset => 1,
    }
}

/// `--keep-younger-than`: `keepYoungerThanDuration`, else `keepYoungerThan` (ns), else 60m.
pub fn keep_younger_than(pruner: &ImagePruner) -> String {
    if let Some(d) = &pruner.spec.keep_younger_than_duration {
        return godur::normalize(d).unwrap_or_else(|_| d.clone());
    }
    if let Some(ns) = pruner.spec.keep_younger_than {
        return godur::format(ns);
    }
    DEFAULT_KEEP_YOUNGER_THAN.to_string()
}

/// What in the ImagePruner's spec `oc adm prune images` would refuse at each run, found
/// before anything is applied: a negative `keepTagRevisions`, a `keepYoungerThanDuration`
/// that is no duration, a negative `keepYoungerThan`.
pub fn check(pruner: &ImagePruner) -> Result<(), String> {
    let spec = &pruner.spec;
    if let Some(n) = spec.keep_tag_revisions.filter(|n| *n < 0) {
        return Err(format!("spec.keepTagRevisions must not be negative: {n}"));
    }
    if let Some(d) = &spec.keep_younger_than_duration {
        godur::normalize(d)
            .map_err(|e| format!("spec.keepYoungerThanDuration {d:?} is not a duration: {e}"))?;
    }
    if let Some(ns) = spec.keep_younger_than.filter(|n| *n < 0) {
        return Err(format!("spec.keepYoungerThan must not be negative: {ns}"));
    }
    Ok(())
}

/// Retries the prune up to five more times, 30 s × attempt apart.
pub const RETRY_SCRIPT: &str = r#"set -eu
"$@" && exit
for i in 1 2 3 4 5; do
  echo "attempt #$i has failed (exit code $?), going to make another attempt..." >&2
  sleep $(($i * 30))
  "$@" && break  # the last command: its failure is the script's exit code
done
"#;

/// The arguments after `-c <script>`: `$0`, then the prune command.
pub fn prune_args(pruner: &ImagePruner, internal_registry_hostname: &str) -> Vec<String> {
    let mut args = vec![
        "arg0".to_string(),
        "oc".to_string(),
        "adm".to_string(),
        "prune".to_string(),
        "images".to_string(),
        "--confirm=true".to_string(),
        "--certificate-authority=/var/run/configmaps/serviceca/service-ca.crt".to_string(),
        format!("--keep-tag-revisions={}", pruner.spec.keep_tag_revisions.unwrap_or(3)),
        format!("--keep-younger-than={}", keep_younger_than(pruner)),
        format!("--ignore-invalid-refs={}", pruner.spec.ignore_invalid_image_references),
        format!("--loglevel={}", log_level(pruner.spec.log_level)),
    ];
    if internal_registry_hostname.is_empty() {
        args.push("--prune-registry=false".to_string());
    } else {
        args.push("--prune-registry=true".to_string());
        args.push(format!("--registry-url=https://{internal_registry_hostname}"));
    }
    args
}

/// CronJob `image-pruner`.
pub fn cron_job(inputs: &Inputs) -> CronJob {
    let spec = &inputs.pruner.spec;
    CronJob {
        metadata: meta(PRUNER, Some(NAMESPACE), &[], &[]),
        spec: Some(CronJobSpec {
            schedule: if spec.schedule.is_empty() {
                DEFAULT_SCHEDULE.to_string()
            } else {
                spec.schedule.clone()
            },
            suspend: Some(spec.suspend.unwrap_or(false)),
            concurrency_policy: Some("Forbid".to_string()),
            failed_jobs_history_limit: Some(spec.failed_jobs_history_limit.unwrap_or(3)),
            successful_jobs_history_limit: Some(spec.successful_jobs_history_limit.unwrap_or(3)),
            starting_deadline_seconds: Some(3600),
            job_template: JobTemplateSpec {
                metadata: Some(ObjectMeta {
                    labels: Some(BTreeMap::from([("created-by".to_string(), PRUNER.to_string())])),
                    ..Default::default()
                }),
                spec: Some(JobSpec {
                    backoff_limit: Some(0),
                    template: pruner_pod(inputs),
                    ..Default::default()
                }),
            },
            time_zone: None,
        }),
        status: None,
    }
}

/// The pruner Job's pod: its container, scheduling from the ImagePruner, the service CA.
fn pruner_pod(inputs: &Inputs) -> PodTemplateSpec {
    let spec = &inputs.pruner.spec;
    let pod_meta = ObjectMeta {
        labels: Some(BTreeMap::from([("app".to_string(), PRUNER.to_string())])),
        annotations: Some(BTreeMap::from([(
            REQUIRED_SCC_ANNOTATION.to_string(),
            "restricted-v2".to_string(),
        )])),
        ..Default::default()
    };
    let mut pod = PodSpec {
        restart_policy: Some("Never".to_string()),
        service_account_name: Some(PRUNER_SERVICE_ACCOUNT.to_string()),
        priority_class_name: Some("system-cluster-critical".to_string()),
        affinity: Some(spec.affinity.clone().unwrap_or_default()),
        node_selector: Some(spec.node_selector.clone().unwrap_or_default()),
        tolerations: Some(spec.tolerations.clone().unwrap_or_default()),
        volumes: Some(vec![Volume {
            name: SERVICE_CA.to_string(),
            config_map: Some(ConfigMapVolumeSource {
                name: SERVICE_CA.to_string(),
                ..Default::default()
            }),
            ..Default::default()
        }]),
        containers: vec![pruner_container(inputs)],
        ..Default::default()
    };
    if inputs.restricted_security_context {
        crate::registry::restricted(&mut pod);
    }
    PodTemplateSpec { metadata: Some(pod_meta), spec: Some(pod) }
}

/// The pruner container: `oc adm prune images` with the ImagePruner's arguments.
fn pruner_container(inputs: &Inputs) -> Container {
    let p = &inputs.pruner;
    let resources = p.spec.resources.clone().unwrap_or_else(|| ResourceRequirements {
        requests: Some(BTreeMap::from([
            ("cpu".to_string(), Quantity("100m".to_string())),
            ("memory".to_string(), Quantity("256Mi".to_string())),
        ])),
        ..Default::default()
    });
    let mut args = vec!["-c".to_string(), RETRY_SCRIPT.to_string()];
    args.extend(prune_args(p, &inputs.internal_registry_hostname));
    Container {
        name: PRUNER.to_string(),
        image: Some(inputs.env.image_pruner.clone()),
        resources: Some(resources),
        termination_message_policy: Some("FallbackToLogsOnError".to_string()),
        command: Some(vec!["/bin/sh".to_string()]),
        args: Some(args),
        volume_mounts: Some(vec![VolumeMount {
            name: SERVICE_CA.to_string(),
            mount_path: "/var/run/configmaps/serviceca".to_string(),
            read_only: Some(true),
            ..Default::default()
        }]),
        security_context: Some(SecurityContext {
            read_only_root_filesystem: Some(true),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// Every pruner object, in apply order.
pub fn objects(inputs: &Inputs) -> Vec<Object> {
    vec![
        Object::ClusterRole(cluster_role()),
        Object::ClusterRoleBinding(binding(
            PRUNER_CLUSTER_ROLE_BINDING,
            PRUNER_CLUSTER_ROLE,
            PRUNER_SERVICE_ACCOUNT,
        )),
        Object::ServiceAccount(service_account(PRUNER_SERVICE_ACCOUNT)),
        Object::ConfigMap(service_ca_config_map()),
        Object::CronJob(Box::new(cron_job(inputs))),
        Object::NetworkPolicy(network_policy()),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::bootstrap;
    use k8s_openapi::api::core::v1::Affinity;

    fn inputs() -> Inputs {
        Inputs { pruner: bootstrap::pruner(), ..Default::default() }
    }

    fn args(i: &Inputs) -> Vec<String> {
        let cj = cron_job(i);
        cj.spec.unwrap().job_template.spec.unwrap().template.spec.unwrap().containers[0]
            .args
            .clone()
            .unwrap()
    }

    #[test]
    fn defaults() {
        let mut i = inputs();
        i.internal_registry_hostname = "image-registry.openshift-image-registry.svc:5000".into();
        let a = args(&i);
        assert_eq!(a[0], "-c");
        assert_eq!(
            &a[2..],
            [
                "arg0",
                "oc",
                "adm",
                "prune",
                "images",
                "--confirm=true",
                "--certificate-authority=/var/run/configmaps/serviceca/service-ca.crt",
                "--keep-tag-revisions=3",
                "--keep-younger-than=60m",
                "--ignore-invalid-refs=true",
                "--loglevel=1",
                "--prune-registry=true",
                "--registry-url=https://image-registry.openshift-image-registry.svc:5000",
            ]
        );
        let spec = cron_job(&i).spec.unwrap();
        assert_eq!(spec.schedule, "0 0 * * *");
        assert_eq!(spec.suspend, Some(false));
        assert_eq!(spec.concurrency_policy.as_deref(), Some("Forbid"));
        assert_eq!(spec.starting_deadline_seconds, Some(3600));
        assert_eq!(
            (spec.successful_jobs_history_limit, spec.failed_jobs_history_limit),
            (Some(3), Some(3))
        );
    }

    #[test]
    fn without_registry_hostname_registry_pruning_is_off() {
        let a = args(&inputs());
        assert_eq!(a.last().unwrap(), "--prune-registry=false");
        assert!(!a.iter().any(|x| x.starts_with("--registry-url")));
    }

    #[test]
    fn spec_values() {
        let mut i = inputs();
        i.pruner.spec.schedule = "*/5 * * * *".into();
        i.pruner.spec.suspend = Some(true);
        i.pruner.spec.keep_tag_revisions = Some(7);
        i.pruner.spec.keep_younger_than = Some(7_200_000_000_000);
        i.pruner.spec.log_level = LogLevel::TraceAll;
        i.pruner.spec.ignore_invalid_image_references = false;
        let a = args(&i);
        assert!(a.contains(&"--keep-tag-revisions=7".to_string()));
        assert!(a.contains(&"--keep-younger-than=2h0m0s".to_string()));
        assert!(a.contains(&"--loglevel=8".to_string()));
        assert!(a.contains(&"--ignore-invalid-refs=false".to_string()));
        i.pruner.spec.keep_younger_than_duration = Some("90m".into());
        assert!(args(&i).contains(&"--keep-younger-than=1h30m0s".to_string()), "duration wins");
        let spec = cron_job(&i).spec.unwrap();
        assert_eq!(spec.schedule, "*/5 * * * *");
        assert_eq!(spec.suspend, Some(true));
    }

    #[test]
    fn log_levels() {
        assert_eq!(
            [
                LogLevel::Unset,
                LogLevel::Normal,
                LogLevel::Debug,
                LogLevel::Trace,
                LogLevel::TraceAll
            ]
            .map(log_level),
            [1, 1, 4, 6, 8]
        );
    }

    #[test]
    fn pod_template() {
        let cj = cron_job(&inputs());
        let job = cj.spec.unwrap().job_template;
        assert_eq!(job.metadata.unwrap().labels.unwrap()["created-by"], "image-pruner");
        let job = job.spec.unwrap();
        assert_eq!(job.backoff_limit, Some(0));
        let meta = job.template.metadata.unwrap();
        assert_eq!(meta.labels.unwrap()["app"], "image-pruner");
        assert_eq!(meta.annotations.unwrap()["openshift.io/required-scc"], "restricted-v2");
        let pod = job.template.spec.unwrap();
        assert_eq!(pod.restart_policy.as_deref(), Some("Never"));
        assert_eq!(pod.service_account_name.as_deref(), Some("pruner"));
        assert_eq!(pod.affinity, Some(Affinity::default()));
        assert_eq!(pod.node_selector, Some(BTreeMap::new()));
        assert_eq!(pod.tolerations, Some(vec![]));
        assert_eq!(pod.containers[0].command, Some(vec!["/bin/sh".to_string()]));
    }

    #[test]
    fn object_order() {
        let kinds: Vec<String> = objects(&inputs()).iter().map(|o| o.describe()).collect();
        assert_eq!(
            kinds,
            [
                "ClusterRole system:image-pruner",
                "ClusterRoleBinding openshift-image-registry-pruner",
                "ServiceAccount openshift-image-registry/pruner",
                "ConfigMap openshift-image-registry/serviceca",
                "CronJob openshift-image-registry/image-pruner",
                "NetworkPolicy openshift-image-registry/image-pruner-networkpolicy",
            ]
        );
    }
}
