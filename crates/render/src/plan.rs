//! Everything the operator would write for a given set of inputs, in apply order, and the
//! conditions it would report right after: what `render` prints.

use api::{ClusterOperatorStatusCondition, Config, OperatorCondition};
use jiff::Timestamp;

use crate::conditions::{self, ApplyResult, PrunerFacts};
use crate::object::Object;
use crate::registry::RenderError;
use crate::{Inputs, certificates, nodeca, pruner, registry, verify};

/// The result of planning.
#[derive(Debug, Clone)]
pub struct Plan {
    /// Objects in apply order.
    pub objects: Vec<Object>,
    /// The Config's conditions after the first apply (no Deployment exists yet).
    pub config_conditions: Vec<OperatorCondition>,
    /// The ImagePruner's conditions after the first apply.
    pub pruner_conditions: Vec<OperatorCondition>,
    /// The ClusterOperator summary.
    pub cluster_operator: Vec<ClusterOperatorStatusCondition>,
    /// Why the registry objects were not rendered, if they were not.
    pub error: Option<RenderError>,
}

/// Plans the objects for `inputs`. `extra_first` (a bootstrapped PVC, Config, ImagePruner)
/// goes first. The registry objects are rendered only when the Config is Managed and
/// valid; certificates, node-ca and the pruner always are.
pub fn plan(inputs: &Inputs, extra_first: Vec<Object>, now: Timestamp) -> Plan {
    let mut objects = extra_first;
    let config = &inputs.config;
    let mut error = None;
    if config.spec.management_state == "Managed" {
        match verify::verify(&config.spec)
            .map_err(RenderError::from)
            .and_then(|()| registry::objects(inputs))
        {
            Ok(objs) => objects.extend(objs),
            Err(e) => error = Some(e),
        }
    }
    objects.push(Object::ConfigMap(certificates::image_registry_certificates(inputs)));
    objects.push(Object::ConfigMap(certificates::image_registry_ca(inputs)));
    objects.push(Object::DaemonSet(Box::new(nodeca::daemon_set(inputs))));
    objects.extend(pruner::objects(inputs));

    let apply = match &error {
        None => ApplyResult::Ok,
        Some(RenderError::Spec(e)) => ApplyResult::Permanent(e.clone()),
        Some(RenderError::Missing(m)) => ApplyResult::Error(m.clone()),
    };
    let mut with_status: Config = config.clone();
    conditions::sync_registry_status(&mut with_status, None, &[], &apply, now);
    let config_conditions = with_status.status.map(|s| s.conditions).unwrap_or_default();

    let facts = PrunerFacts {
        cron_job_exists: true,
        suspended: inputs.pruner.spec.suspend.unwrap_or(false),
        jobs: &[],
        apply_error: None,
    };
    let mut pruner_conditions = Vec::new();
    for c in conditions::pruner_conditions(&facts) {
        conditions::set(&mut pruner_conditions, &c, now);
    }
    let summary = conditions::cluster_operator_conditions(&config_conditions, &pruner_conditions);
    let mut cluster_operator = Vec::new();
    conditions::merge_cluster_operator_conditions(&mut cluster_operator, &summary, now);
    Plan { objects, config_conditions, pruner_conditions, cluster_operator, error }
}

/// What one operator pass applies, each part rendered once.
#[derive(Debug, Clone)]
pub struct Workload {
    /// The registry's objects (asked for a Managed registry whose storage is ready), or
    /// why they cannot be rendered; `None` when not asked for.
    pub registry: Option<Result<Vec<Object>, RenderError>>,
    /// `image-registry-certificates` and `openshift-config-managed/image-registry-ca`.
    pub certificates: [Object; 2],
    pub node_ca: Object,
    pub pruner: Vec<Object>,
    /// What in the ImagePruner's spec the pruner would refuse ([`pruner::check`]): then
    /// nothing of the pruner is applied.
    pub pruner_check: Result<(), String>,
    /// Objects an older release made that are deleted when found: on Azure (not Azure
    /// Stack Hub) the Job `azure-path-fix`, whose work no longer exists.
    pub obsolete: Vec<registry::ObjectRef>,
}

/// The Job of the AzurePathFix controller of older releases.
pub const AZURE_PATH_FIX_JOB: &str = "azure-path-fix";

/// The conditions the AzurePathFix controller of older releases wrote; they are removed
/// from the Config on Azure.
pub const AZURE_PATH_FIX_CONDITIONS: [&str; 2] =
    ["AzurePathFixProgressing", "AzurePathFixControllerDegraded"];

/// What older releases left that this one deletes (see [`Workload::obsolete`]).
pub fn obsolete(inputs: &Inputs) -> Vec<registry::ObjectRef> {
    if !inputs.infrastructure.is_azure_cloud() {
        return Vec::new();
    }
    vec![registry::ObjectRef {
        kind: "Job",
        namespace: Some(crate::names::NAMESPACE),
        name: AZURE_PATH_FIX_JOB.to_string(),
    }]
}

/// Plans a pass's objects from `inputs` (the snapshot, the Config and the storage
/// outcome). With `registry`, the registry's objects are rendered; its Service is then
/// applied in this pass, so the certificates can name it.
pub fn workload(inputs: &Inputs, registry: bool) -> Workload {
    let registry_objects = registry.then(|| {
        let with_service = Inputs { service_exists: true, ..inputs.clone() };
        let certs = certificates::image_registry_certificates(&with_service);
        registry::planned(&with_service, &certs).map(|objects| (objects, certs))
    });
    let (registry_objects, certs) = match registry_objects {
        Some(Ok((objects, certs))) => (Some(Ok(objects)), certs),
        Some(Err(e)) => (Some(Err(e)), certificates::image_registry_certificates(inputs)),
        None => (None, certificates::image_registry_certificates(inputs)),
    };
    Workload {
        registry: registry_objects,
        certificates: [
            Object::ConfigMap(certs),
            Object::ConfigMap(certificates::image_registry_ca(inputs)),
        ],
        node_ca: Object::DaemonSet(Box::new(nodeca::daemon_set(inputs))),
        pruner: pruner::objects(inputs),
        pruner_check: pruner::check(&inputs.pruner),
        obsolete: obsolete(inputs),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{bootstrap, storage};

    fn inputs(state: &str) -> Inputs {
        let mut i = Inputs {
            pruner: bootstrap::pruner(),
            storage: storage::empty_dir(),
            supplemental_groups: Some("1000/10000".into()),
            ..Default::default()
        };
        i.config.spec.management_state = state.into();
        i.config.spec.replicas = 1;
        i.config.spec.storage = Some(api::ImageRegistryConfigStorage {
            empty_dir: Some(Default::default()),
            ..Default::default()
        });
        i
    }

    fn kinds(p: &Plan) -> Vec<String> {
        p.objects.iter().map(|o| o.describe()).collect()
    }

    /// The stage alone: the Deployment carries the digests of the Secrets and the
    /// certificates it is planned with, rendered once.
    #[test]
    fn a_pass_workload_is_planned_once_with_its_digests() {
        let i = inputs("Managed");
        let w = workload(&i, true);
        let objects = w.registry.clone().unwrap().unwrap();
        let digests = registry::rendered_digests(objects.iter().chain(&w.certificates));
        let mut with = i.clone();
        with.service_exists = true;
        let deps = registry::dependencies(&with);
        with.dependency_digests = digests.into_iter().filter(|(k, _)| deps.contains(k)).collect();
        let want = registry::deployment(&with).unwrap();
        let got = objects.iter().find_map(|o| match o {
            Object::Deployment(d) => Some(d.clone()),
            _ => None,
        });
        assert_eq!(got.as_deref(), Some(&want));
        assert!(workload(&i, false).registry.is_none());
        let mut bad = i.clone();
        bad.supplemental_groups = None;
        assert!(matches!(workload(&bad, true).registry, Some(Err(RenderError::Missing(_)))));
    }

    #[test]
    fn managed_renders_everything_in_apply_order() {
        let mut i = inputs("Managed");
        i.config.spec.default_route = true;
        let p = plan(&i, vec![], Timestamp::UNIX_EPOCH);
        assert_eq!(p.error, None);
        assert_eq!(
            kinds(&p),
            [
                "ClusterRole system:registry",
                "ClusterRoleBinding registry-registry-role",
                "ServiceAccount openshift-image-registry/registry",
                "Secret openshift-image-registry/installation-pull-secrets",
                "Secret openshift-image-registry/image-registry-private-configuration",
                "Service openshift-image-registry/image-registry",
                "Deployment openshift-image-registry/image-registry",
                "PodDisruptionBudget openshift-image-registry/image-registry",
                "NetworkPolicy openshift-image-registry/image-registry-networkpolicy",
                "Route openshift-image-registry/default-route",
                "ConfigMap openshift-image-registry/image-registry-certificates",
                "ConfigMap openshift-config-managed/image-registry-ca",
                "DaemonSet openshift-image-registry/node-ca",
                "ClusterRole system:image-pruner",
                "ClusterRoleBinding openshift-image-registry-pruner",
                "ServiceAccount openshift-image-registry/pruner",
                "ConfigMap openshift-image-registry/serviceca",
                "CronJob openshift-image-registry/image-pruner",
                "NetworkPolicy openshift-image-registry/image-pruner-networkpolicy",
            ]
        );
        let progressing = p.config_conditions.iter().find(|c| c.type_ == "Progressing").unwrap();
        assert_eq!(progressing.reason, "WaitingForDeployment");
        let co_avail = p.cluster_operator.iter().find(|c| c.type_ == "Available").unwrap();
        assert_eq!(co_avail.status, api::ConditionStatus::False);
    }

    #[test]
    fn the_azure_path_fix_job_is_obsolete_on_azure_only() {
        let on = |platform: &str, cloud: &str| {
            let mut i = inputs("Managed");
            i.infrastructure = serde_json::from_value(serde_json::json!({
                "metadata": {"name": "cluster"}, "spec": {},
                "status": {"platformStatus": {"type": platform, "azure": {"cloudName": cloud}}}
            }))
            .unwrap();
            workload(&i, true).obsolete.iter().map(|r| (r.kind, r.name.clone())).collect::<Vec<_>>()
        };
        assert_eq!(on("Azure", "AzurePublicCloud"), [("Job", "azure-path-fix".to_string())]);
        assert_eq!(on("Azure", ""), [("Job", "azure-path-fix".to_string())]);
        assert!(on("Azure", "AzureStackCloud").is_empty(), "Azure Stack Hub is skipped");
        assert!(on("AWS", "").is_empty());
    }

    #[test]
    fn removed_and_unmanaged_render_no_registry_objects() {
        for state in ["Removed", "Unmanaged", "Force"] {
            let p = plan(&inputs(state), vec![], Timestamp::UNIX_EPOCH);
            assert!(!kinds(&p).iter().any(|k| k.contains("Deployment")), "{state}");
            assert!(
                kinds(&p).iter().any(|k| k.contains("node-ca")),
                "{state}: node-ca is always there"
            );
        }
        let p = plan(&inputs("Removed"), vec![], Timestamp::UNIX_EPOCH);
        let removed = p.config_conditions.iter().find(|c| c.type_ == "Removed").unwrap();
        assert_eq!(removed.status, api::ConditionStatus::True);
    }

    #[test]
    fn bad_spec_renders_the_error_as_conditions() {
        let mut i = inputs("Managed");
        i.config.spec.replicas = -1;
        let p = plan(&i, vec![], Timestamp::UNIX_EPOCH);
        assert!(matches!(p.error, Some(RenderError::Spec(_))));
        let degraded = p.config_conditions.iter().find(|c| c.type_ == "Degraded").unwrap();
        assert_eq!(degraded.reason, "VerificationFailed");
        assert!(!kinds(&p).iter().any(|k| k.contains("Deployment")));
    }

    #[test]
    fn missing_cluster_fact_is_transient() {
        let mut i = inputs("Managed");
        i.supplemental_groups = None;
        let p = plan(&i, vec![], Timestamp::UNIX_EPOCH);
        assert!(matches!(p.error, Some(RenderError::Missing(_))));
        let progressing = p.config_conditions.iter().find(|c| c.type_ == "Progressing").unwrap();
        assert_eq!(progressing.status, api::ConditionStatus::True);
        assert!(
            progressing
                .message
                .contains("doesn't have annotation openshift.io/sa.scc.supplemental-groups")
        );
    }
}
