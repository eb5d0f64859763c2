//! Status conditions: the registry Config's Available / Progressing / Degraded / Removed
//! (reference §c.6), the ImagePruner's (§c.4), and the ClusterOperator summary (§c.7).
//!
//! A condition's `lastTransitionTime` moves only when its status flips.

use api::config::{ClusterOperatorStatusCondition, ObjectReference, OperandVersion};
use api::{ConditionStatus, Config, OperatorCondition, Route};
use jiff::{SignedDuration, Timestamp};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::Time;

use crate::verify::SpecError;

mod reason;
pub use reason::Reason;

/// The Degraded inertia of an unavailable registry.
pub const UNAVAILABLE_DEGRADED_AFTER: SignedDuration = SignedDuration::from_mins(5);

/// When the Config's conditions change on their own, without any event: an unavailable
/// registry turns Degraded once it has been unavailable for
/// [`UNAVAILABLE_DEGRADED_AFTER`]. `None` when nothing is pending (available, or Degraded
/// The message of the conditions a spec error sets (Available and Degraded).
pub fn spec_error_message(e: &SpecError) -> String {
    format!("Error: {e}")
}

/// already).
pub fn next_change(conditions: &[OperatorCondition], now: Timestamp) -> Option<Timestamp> {
    let find = |t: &str| conditions.iter().find(|c| c.type_ == t);
    let available = find("Available")?;
    if available.status == ConditionStatus::True
        || find("Degraded").is_some_and(|d| d.status == ConditionStatus::True)
    {
        return None;
    }
    let at = available.last_transition_time.0 + UNAVAILABLE_DEGRADED_AFTER;
    (at > now).then_some(at)
}

/// A condition's desired state, without its transition time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cond {
    pub type_: String,
    pub status: ConditionStatus,
    pub reason: Reason,
    pub message: String,
}

impl Cond {
    /// A condition of `type_`.
    pub fn new(type_: &str, status: ConditionStatus, reason: Reason, message: &str) -> Self {
        Cond { type_: type_.into(), status, reason, message: message.into() }
    }
}

/// Writes `c` into `conditions`: in place when present (keeping its transition time unless
/// the status flips), appended with `now` otherwise. Returns whether anything changed.
pub fn set(conditions: &mut Vec<OperatorCondition>, c: &Cond, now: Timestamp) -> bool {
    if let Some(existing) = conditions.iter_mut().find(|x| x.type_ == c.type_) {
        let before = existing.clone();
        if existing.status != c.status {
            existing.status = c.status;
            existing.last_transition_time = Time(now);
        }
        existing.reason = c.reason.to_string();
        existing.message = c.message.clone();
        return *existing != before;
    }
    conditions.push(OperatorCondition {
        type_: c.type_.clone(),
        status: c.status,
        last_transition_time: Time(now),
        reason: c.reason.to_string(),
        message: c.message.clone(),
    });
    true
}

/// Removes the condition of `type_`; returns whether it was there.
pub fn remove(conditions: &mut Vec<OperatorCondition>, type_: &str) -> bool {
    let before = conditions.len();
    conditions.retain(|c| c.type_ != type_);
    conditions.len() != before
}

/// The outcome of applying the registry objects.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ApplyResult {
    Ok,
    /// Retried: a transient error.
    Error(String),
    /// Not retried: the spec is wrong.
    Permanent(SpecError),
}

const UNMANAGED_MESSAGE: &str = "The registry configuration is set to unmanaged mode";

fn deployment_complete(d: &Deployment) -> bool {
    d.status.as_ref().and_then(|s| s.conditions.as_ref()).into_iter().flatten().any(|c| {
        c.type_ == "Progressing"
            && c.status == "True"
            && c.reason.as_deref() == Some("NewReplicaSetAvailable")
    })
}

/// Why Routes are not served: each router's refusal, as the Degraded message lists them.
pub fn routes_not_admitted(routes: &[Route]) -> Vec<String> {
    let mut errs = Vec::new();
    for route in routes {
        let name = route.metadata.name.as_deref().unwrap_or("");
        for ingress in route.status.iter().flat_map(|s| &s.ingress) {
            for c in
                ingress.conditions.iter().filter(|c| c.type_ == "Admitted" && c.status != "True")
            {
                errs.push(format!(
                    "route {name} (host {}, router {}) not admitted: {}",
                    ingress.host, ingress.router_name, c.message
                ));
            }
        }
    }
    errs
}

/// Recomputes the Config's Available, Progressing, Degraded and Removed conditions and
/// `readyReplicas` from the Deployment (absent: `None`), why the spec's routes are not
/// served ([`routes_not_admitted`], or the Ingresses' class problem) and the apply result.
/// Returns whether the status changed.
pub fn sync_registry_status(
    config: &mut Config,
    deployment: Option<&Deployment>,
    not_served: &[String],
    apply: &ApplyResult,
    now: Timestamp,
) -> bool {
    let state = config.spec.management_state.clone();
    let f = Facts {
        unmanaged: state == "Unmanaged",
        removed: state == "Removed",
        permanent: match apply {
            ApplyResult::Permanent(e) => Some(e),
            _ => None,
        },
        apply,
        deployment,
        deleting: deployment.is_some_and(|d| d.metadata.deletion_timestamp.is_some()),
        dstatus: deployment.and_then(|d| d.status.clone()).unwrap_or_default(),
    };
    let available = available_condition(&f);
    let status = config.status.get_or_insert_with(Default::default);
    let mut changed = set(&mut status.conditions, &available, now);
    changed |= set(&mut status.conditions, &progressing_condition(&f), now);
    let degraded = degraded_condition(&f, &available, &status.conditions, not_served, now);
    changed |= set(&mut status.conditions, &degraded, now);
    let removed_cond = if f.removed {
        Cond::new("Removed", ConditionStatus::True, Reason::Removed, "The registry is removed")
    } else {
        Cond::new("Removed", ConditionStatus::False, Reason::Unset, "")
    };
    changed |= set(&mut status.conditions, &removed_cond, now);
    let ready = deployment.map_or(0, |_| f.dstatus.ready_replicas.unwrap_or(0));
    if status.ready_replicas != Some(ready) {
        status.ready_replicas = Some(ready);
        changed = true;
    }
    changed
}

/// What the registry's conditions are computed from (§c.6).
struct Facts<'a> {
    unmanaged: bool,
    removed: bool,
    /// A permanent apply error (bad spec).
    permanent: Option<&'a SpecError>,
    apply: &'a ApplyResult,
    deployment: Option<&'a Deployment>,
    deleting: bool,
    dstatus: k8s_openapi::api::apps::v1::DeploymentStatus,
}

/// Available: the first matching rule of §c.6.
fn available_condition(f: &Facts<'_>) -> Cond {
    use ConditionStatus::{False, True};
    let available_replicas = f.dstatus.available_replicas.unwrap_or(0);
    if f.unmanaged {
        Cond::new("Available", True, Reason::Unmanaged, UNMANAGED_MESSAGE)
    } else if f.deployment.is_none() {
        if let Some(e) = f.permanent {
            Cond::new("Available", False, e.reason.clone(), &spec_error_message(e))
        } else if f.removed {
            Cond::new("Available", True, Reason::Removed, "The registry is removed")
        } else {
            Cond::new(
                "Available",
                False,
                Reason::DeploymentNotFound,
                "The deployment does not exist",
            )
        }
    } else if f.deleting {
        Cond::new("Available", False, Reason::DeploymentDeleted, "The deployment is being deleted")
    } else if available_replicas == 0 {
        let m = "The deployment does not have available replicas";
        Cond::new("Available", False, Reason::NoReplicasAvailable, m)
    } else if available_replicas != f.dstatus.replicas.unwrap_or(0) {
        Cond::new(
            "Available",
            True,
            Reason::MinimumAvailability,
            "The registry has minimum availability",
        )
    } else {
        Cond::new("Available", True, Reason::Ready, "The registry is ready")
    }
}

/// Progressing: the first matching rule of §c.6.
fn progressing_condition(f: &Facts<'_>) -> Cond {
    use ConditionStatus::{False, True};
    if f.unmanaged {
        Cond::new("Progressing", False, Reason::Unmanaged, UNMANAGED_MESSAGE)
    } else if f.removed {
        if f.deployment.is_some() {
            Cond::new(
                "Progressing",
                True,
                Reason::DeletingDeployment,
                "The deployment is being removed",
            )
        } else {
            Cond::new("Progressing", False, Reason::Removed, "All registry resources are removed")
        }
    } else if let ApplyResult::Error(e) | ApplyResult::Permanent(SpecError { message: e, .. }) =
        f.apply
    {
        let s = if f.permanent.is_some() { False } else { True };
        Cond::new("Progressing", s, Reason::Error, &format!("Unable to apply resources: {e}"))
    } else if f.deployment.is_none() {
        let m = "All resources are successfully applied, but the deployment does not exist";
        Cond::new("Progressing", True, Reason::WaitingForDeployment, m)
    } else if f.deleting {
        Cond::new(
            "Progressing",
            True,
            Reason::FinalizingDeployment,
            "The deployment is being deleted",
        )
    } else if !f.deployment.is_some_and(deployment_complete) {
        Cond::new(
            "Progressing",
            True,
            Reason::DeploymentNotCompleted,
            "The deployment has not completed",
        )
    } else {
        Cond::new("Progressing", False, Reason::Ready, "The registry is ready")
    }
}

/// Degraded: the first matching rule of §c.6 (unavailable for five minutes, a deployment
/// past its progress deadline, routes not admitted).
fn degraded_condition(
    f: &Facts<'_>,
    available: &Cond,
    conditions: &[OperatorCondition],
    not_admitted: &[String],
    now: Timestamp,
) -> Cond {
    use ConditionStatus::{False, True};
    if f.unmanaged {
        Cond::new("Degraded", False, Reason::Unmanaged, UNMANAGED_MESSAGE)
    } else if let Some(e) = f.permanent {
        Cond::new("Degraded", True, e.reason.clone(), &spec_error_message(e))
    } else if f.removed {
        Cond::new("Degraded", False, Reason::Removed, "The registry is removed")
    } else if available.status != True {
        match conditions.iter().find(|c| c.type_ == "Available") {
            Some(c)
                if now.duration_since(c.last_transition_time.0) > UNAVAILABLE_DEGRADED_AFTER =>
            {
                Cond::new("Degraded", True, Reason::Unavailable, &c.message)
            }
            _ => Cond::new("Degraded", False, Reason::Unset, ""),
        }
    } else if !f.deployment.is_some_and(deployment_complete) {
        let timed_out = f
            .dstatus
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == "Progressing")
            .filter(|c| c.reason.as_deref() == Some("ProgressDeadlineExceeded"));
        match timed_out {
            Some(c) => {
                let m = format!(
                    "Registry deployment has timed out progressing: {}",
                    c.message.as_deref().unwrap_or("")
                );
                Cond::new("Degraded", True, Reason::ProgressDeadlineExceeded, &m)
            }
            None => Cond::new("Degraded", False, Reason::Unset, ""),
        }
    } else if !not_admitted.is_empty() {
        Cond::new("Degraded", True, Reason::RouteDegraded, &not_admitted.join(","))
    } else {
        Cond::new("Degraded", False, Reason::Unset, "")
    }
}

/// Facts the pruner conditions are computed from.
#[derive(Debug, Clone, Default)]
pub struct PrunerFacts<'a> {
    pub cron_job_exists: bool,
    pub suspended: bool,
    /// Jobs labelled `created-by=image-pruner`.
    pub jobs: &'a [Job],
    /// An error from applying the pruner objects.
    pub apply_error: Option<String>,
}

/// The ImagePruner conditions (§c.4).
pub fn pruner_conditions(facts: &PrunerFacts) -> Vec<Cond> {
    use ConditionStatus::{False, True};
    let mut out = Vec::new();
    out.push(if facts.cron_job_exists {
        Cond::new("Available", True, Reason::AsExpected, "Pruner CronJob has been created")
    } else {
        Cond::new("Available", False, Reason::Error, "Pruner CronJob does not exist")
    });
    // The newest finished job: the newest by creation time that has any condition.
    let newest = facts
        .jobs
        .iter()
        .filter(|j| {
            j.status.as_ref().and_then(|s| s.conditions.as_ref()).is_some_and(|c| !c.is_empty())
        })
        .max_by_key(|j| j.metadata.creation_timestamp.as_ref().map(|t| t.0));
    let failed = newest
        .and_then(|j| {
            j.status
                .as_ref()?
                .conditions
                .as_ref()?
                .iter()
                .find(|c| c.type_ == "Failed" && c.status == "True")
        })
        .cloned();
    out.push(match &failed {
        Some(c) => Cond::new(
            "Failed",
            True,
            Reason::parse(c.reason.as_deref().unwrap_or("")),
            c.message.as_deref().unwrap_or(""),
        ),
        None => Cond::new("Failed", False, Reason::Complete, "Pruner completed successfully"),
    });
    out.push(if facts.suspended {
        Cond::new("Scheduled", False, Reason::Suspended, "The pruner job has been suspended")
    } else {
        Cond::new("Scheduled", True, Reason::Scheduled, "The pruner job has been scheduled")
    });
    out.push(if let Some(e) = &facts.apply_error {
        Cond::new("Degraded", True, Reason::SyncError, &format!("Error: {e}"))
    } else if let Some(c) = &failed {
        Cond::new("Degraded", True, Reason::JobFailed, c.message.as_deref().unwrap_or(""))
    } else {
        Cond::new("Degraded", False, Reason::AsExpected, "")
    });
    out
}

fn union(kind: &str, normal: ConditionStatus, conditions: &[OperatorCondition]) -> Cond {
    let matching: Vec<&OperatorCondition> =
        conditions.iter().filter(|c| c.type_.ends_with(kind)).collect();
    let mut status = normal;
    let mut unknown = false;
    for c in &matching {
        if c.status == ConditionStatus::Unknown {
            unknown = true;
        } else if c.status != normal {
            status = c.status;
            break;
        }
    }
    if status == normal && unknown {
        status = ConditionStatus::Unknown;
    }
    let mut reasons: Vec<String> = matching
        .iter()
        .filter(|c| !c.reason.is_empty() && c.reason != "AsExpected")
        .map(|c| format!("{}{}", &c.type_[..c.type_.len() - kind.len()], c.reason))
        .collect();
    reasons.sort();
    let reason = match reasons.join("::") {
        joined if !joined.is_empty() => Reason::parse(&joined),
        _ if status == normal => Reason::AsExpected,
        _ => Reason::Unset,
    };
    let message = matching
        .iter()
        .filter(|c| !c.message.is_empty())
        .flat_map(|c| c.message.split('\n').map(move |l| format!("{}: {l}", c.type_)))
        .collect::<Vec<_>>()
        .join("\n");
    Cond { type_: kind.to_string(), status, reason, message }
}

/// The ClusterOperator's Available, Progressing and Degraded, aggregated from the Config's
/// conditions and the pruner's (prefixed `ImagePruner`).
pub fn cluster_operator_conditions(
    config_conditions: &[OperatorCondition],
    pruner_conditions: &[OperatorCondition],
) -> Vec<Cond> {
    let mut all = config_conditions.to_vec();
    all.extend(
        pruner_conditions
            .iter()
            .map(|c| OperatorCondition { type_: format!("ImagePruner{}", c.type_), ..c.clone() }),
    );
    vec![
        union("Available", ConditionStatus::True, &all),
        union("Progressing", ConditionStatus::False, &all),
        union("Degraded", ConditionStatus::False, &all),
    ]
}

/// Merges desired ClusterOperator conditions into the existing ones (transition time moves
/// only on a status flip; other condition types are kept). Returns whether it changed.
pub fn merge_cluster_operator_conditions(
    existing: &mut Vec<ClusterOperatorStatusCondition>,
    desired: &[Cond],
    now: Timestamp,
) -> bool {
    let mut changed = false;
    for d in desired {
        match existing.iter_mut().find(|c| c.type_ == d.type_) {
            Some(c) => {
                let before = c.clone();
                if c.status != d.status {
                    c.status = d.status;
                    c.last_transition_time = Time(now);
                }
                c.reason = d.reason.to_string();
                c.message = d.message.clone();
                changed |= *c != before;
            }
            None => {
                existing.push(ClusterOperatorStatusCondition {
                    type_: d.type_.clone(),
                    status: d.status,
                    last_transition_time: Time(now),
                    reason: d.reason.to_string(),
                    message: d.message.clone(),
                });
                changed = true;
            }
        }
    }
    changed
}

/// The operator version to report: with a Managed registry, the Deployment's
/// `release.openshift.io/version` once it is fully rolled out; otherwise `RELEASE_VERSION`.
/// `None` leaves the reported version unchanged.
pub fn cluster_operator_version(
    management_state: &str,
    deployment: Option<&Deployment>,
    release_version: &str,
) -> Option<Vec<OperandVersion>> {
    let version = if management_state == "Managed" {
        let d = deployment?;
        let s = d.status.as_ref()?;
        let rolled_out = s.available_replicas.unwrap_or(0) > 0
            && s.observed_generation.unwrap_or(0) >= d.metadata.generation.unwrap_or(0)
            && s.updated_replicas.unwrap_or(0) == s.replicas.unwrap_or(0);
        if !rolled_out {
            return None;
        }
        d.metadata.annotations.as_ref()?.get(crate::names::VERSION_ANNOTATION)?.clone()
    } else {
        release_version.to_string()
    };
    (!version.is_empty()).then(|| vec![OperandVersion { name: "operator".into(), version }])
}

/// The fixed relatedObjects of the ClusterOperator.
pub fn related_objects() -> Vec<ObjectReference> {
    let r = |group: &str, resource: &str, name: &str| ObjectReference {
        group: group.into(),
        resource: resource.into(),
        namespace: String::new(),
        name: name.into(),
    };
    vec![
        r("imageregistry.operator.openshift.io", "configs", "cluster"),
        r("imageregistry.operator.openshift.io", "imagepruners", "cluster"),
        r("rbac.authorization.k8s.io", "clusterroles", "system:registry"),
        r("rbac.authorization.k8s.io", "clusterrolebindings", "registry-registry-role"),
        r("rbac.authorization.k8s.io", "clusterrolebindings", "openshift-image-registry-pruner"),
        r("", "namespaces", "openshift-image-registry"),
    ]
}

#[cfg(test)]
mod tests;
