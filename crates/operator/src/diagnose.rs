//! `diagnose`: the troubleshooting checklist of the reference's README, as findings. What
//! the cluster holds is read once into [`Facts`] (by `diagnose_cmd`, with gets and lists
//! only); this module turns it into one [`Finding`] per check, each with the object and
//! field it rests on and, when something is wrong, what to do.

use std::collections::BTreeMap;

use api::{ClusterOperator, ConditionStatus, Config, ManagementState, Route};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{Event, PersistentVolumeClaim, Pod};
use serde::Serialize;

/// The registry's namespace.
pub const NS: &str = render::names::NAMESPACE;
/// The operator's own Deployment (installed by the cluster-version operator).
pub const OPERATOR: &str = "cluster-image-registry-operator";

/// What the checks read.
#[derive(Debug, Default, Clone)]
pub struct Facts {
    pub cluster_operator: Option<ClusterOperator>,
    pub config: Option<Config>,
    /// Deployment `image-registry`.
    pub registry: Option<Deployment>,
    /// The registry's Pods (label `docker-registry=default`).
    pub registry_pods: Vec<Pod>,
    pub operator: Option<Deployment>,
    /// The operator's Pods (label `name=cluster-image-registry-operator`).
    pub operator_pods: Vec<Pod>,
    /// The last log lines of Pods that crash, and of the operator's Pod, by Pod name.
    pub logs: BTreeMap<String, Vec<String>>,
    /// The Events of the namespace.
    pub events: Vec<Event>,
    /// The claim the Config's `storage.pvc` names, when it does.
    pub claim: Option<PersistentVolumeClaim>,
    /// Routes of the namespace.
    pub routes: Vec<Route>,
    /// Whether `image-registry-certificates` (namespace) and `image-registry-ca`
    /// (`openshift-config-managed`) exist.
    pub certificates: (bool, bool),
    /// The pruner's Jobs (label `created-by=image-pruner`).
    pub pruner_jobs: Vec<Job>,
    /// Which of OpenShift's APIs the cluster serves (plain Kubernetes: no ClusterOperator
    /// and no cluster-wide CA copy to look for).
    pub openshift: crate::kubernetes::OpenShiftApis,
}

/// One checked fact.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Finding {
    pub ok: bool,
    /// What was checked.
    pub check: String,
    /// What was seen, naming the object and field.
    pub evidence: String,
    /// What to do, when it is wrong.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub advice: Option<String>,
}

fn good(check: &str, evidence: impl Into<String>) -> Finding {
    Finding { ok: true, check: check.into(), evidence: evidence.into(), advice: None }
}

fn bad(check: &str, evidence: impl Into<String>, advice: impl Into<String>) -> Finding {
    Finding {
        ok: false,
        check: check.into(),
        evidence: evidence.into(),
        advice: Some(advice.into()),
    }
}

/// Every finding, in the checklist's order.
pub fn findings(f: &Facts) -> Vec<Finding> {
    let mut out = Vec::new();
    cluster_operator(f, &mut out);
    config(f, &mut out);
    registry(f, &mut out);
    for p in &f.registry_pods {
        out.push(pod(f, p));
    }
    operator(f, &mut out);
    storage(f, &mut out);
    routes(f, &mut out);
    certificates(f, &mut out);
    pruner(f, &mut out);
    out
}

/// Whether a condition of `type_` with `status` is the healthy way round.
fn healthy(type_: &str, status: &ConditionStatus) -> bool {
    let degraded = type_.ends_with("Degraded") || type_.ends_with("Progressing");
    match status {
        ConditionStatus::True => !degraded,
        ConditionStatus::False => degraded || !matches!(type_, "Available" | "StorageExists"),
        ConditionStatus::Unknown => false,
    }
}

fn cluster_operator(f: &Facts, out: &mut Vec<Finding>) {
    const CHECK: &str = "ClusterOperator image-registry";
    if !f.openshift.config {
        out.push(good(
            CHECK,
            "plain Kubernetes (no config.openshift.io): the operator reports on the Config only",
        ));
        return;
    }
    let Some(co) = &f.cluster_operator else {
        out.push(bad(
            CHECK,
            "clusteroperators.config.openshift.io/image-registry does not exist",
            "the operator has not reported yet: see its Deployment and Pod below",
        ));
        return;
    };
    let conditions = co.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default();
    for type_ in ["Available", "Progressing", "Degraded"] {
        let field = format!("clusteroperator/image-registry status.conditions[{type_}]");
        match conditions.iter().find(|c| c.type_ == type_) {
            None => out.push(bad(
                CHECK,
                format!("{field}: not set"),
                "the operator has not reported this condition: see its Pod's log below",
            )),
            Some(c) if healthy(type_, &c.status) => {
                out.push(good(CHECK, format!("{field}: {} {}", c.status.as_str(), c.reason)))
            }
            Some(c) => out.push(bad(
                CHECK,
                format!("{field}: {} {}: {}", c.status.as_str(), c.reason, c.message),
                "the Config's conditions below say which part of the registry this comes from",
            )),
        }
    }
}

fn config(f: &Facts, out: &mut Vec<Finding>) {
    const CHECK: &str = "Config cluster";
    let Some(c) = &f.config else {
        out.push(bad(
            CHECK,
            "configs.imageregistry.operator.openshift.io/cluster does not exist",
            "the operator creates it when it starts: see its Deployment and Pod below",
        ));
        return;
    };
    let storage = match render::storage::select(c.spec.storage.as_ref()) {
        Ok(b) => b.name().to_string(),
        Err(e) => format!("not usable ({e})"),
    };
    out.push(good(
        CHECK,
        format!(
            "config/cluster spec.managementState: {}, spec.storage: {storage}",
            c.spec.state().as_str()
        ),
    ));
    for cond in c.status.as_ref().map(|s| s.conditions.as_slice()).unwrap_or_default() {
        if !healthy(&cond.type_, &cond.status) {
            out.push(bad(
                CHECK,
                format!(
                    "config/cluster status.conditions[{}]: {} {}: {}",
                    cond.type_,
                    cond.status.as_str(),
                    cond.reason,
                    cond.message
                ),
                advice_for_condition(&cond.type_),
            ));
        }
    }
}

/// What to do about an unhealthy condition of the Config.
fn advice_for_condition(type_: &str) -> String {
    match type_ {
        "StorageExists" => {
            "the storage cannot be reached or made as spec.storage says: check its credentials (secret image-registry-private-configuration-user, else installer-cloud-credentials) and the message".into()
        }
        "ImageRegistryCertificatesControllerDegraded" => {
            "the registry's CA config maps cannot be written: see the message and the operator's log".into()
        }
        "NodeCADaemonControllerDegraded" => {
            "the node-ca DaemonSet cannot be written or is not ready on every node".into()
        }
        _ => "the message says what failed; the operator's log below has the details".into(),
    }
}

fn registry(f: &Facts, out: &mut Vec<Finding>) {
    const CHECK: &str = "registry Deployment";
    if let Some(d) = &f.registry {
        let status = d.status.clone().unwrap_or_default();
        let want = d.spec.as_ref().and_then(|s| s.replicas).unwrap_or(1);
        let available = status.available_replicas.unwrap_or(0);
        let evidence =
            format!("deployment/image-registry status.availableReplicas: {available} of {want}");
        out.push(if available >= want {
            good(CHECK, evidence)
        } else {
            bad(CHECK, evidence, "see the registry's Pods below")
        });
        return;
    }
    let state = f.config.as_ref().map(|c| c.spec.state());
    out.push(match state {
        Some(ManagementState::Removed) => good(
            CHECK,
            "deployment/image-registry does not exist, as config/cluster spec.managementState Removed asks",
        ),
        Some(ManagementState::Unmanaged) => bad(
            CHECK,
            "deployment/image-registry does not exist, and config/cluster spec.managementState is Unmanaged: the operator does not create it",
            "set spec.managementState to Managed for the operator to deploy the registry",
        ),
        Some(_) => {
            let why = f
                .config
                .as_ref()
                .and_then(|c| c.status.as_ref())
                .and_then(|s| {
                    s.conditions.iter().find(|c| !healthy(&c.type_, &c.status) && !c.message.is_empty())
                })
                .map(|c| format!(": config/cluster status.conditions[{}] says {}", c.type_, c.message))
                .unwrap_or_default();
            bad(
                CHECK,
                format!("deployment/image-registry does not exist{why}"),
                "the operator deploys the registry once its storage is ready and the Config verifies: fix what the conditions above say",
            )
        }
        None => bad(
            CHECK,
            "deployment/image-registry does not exist, nor config/cluster",
            "see the operator's Deployment below",
        ),
    });
}

/// The finding of one registry Pod: running and ready, or why not.
fn pod(f: &Facts, p: &Pod) -> Finding {
    let name = p.metadata.name.clone().unwrap_or_default();
    let check = format!("registry Pod {name}");
    let status = p.status.clone().unwrap_or_default();
    let events = events_about(f, &name);
    let waiting = status
        .container_statuses
        .iter()
        .flatten()
        .find_map(|c| c.state.as_ref()?.waiting.clone().map(|w| (c.name.clone(), w)));
    if let Some((container, w)) = waiting {
        let reason = w.reason.unwrap_or_default();
        let mut evidence = format!(
            "pod/{name} status.containerStatuses[{container}].state.waiting: {reason} {}",
            w.message.unwrap_or_default()
        );
        let advice = match reason.as_str() {
            "ImagePullBackOff" | "ErrImagePull" => "the node cannot pull the registry image: check the cluster's pull secret and that the image exists".to_string(),
            "CrashLoopBackOff" => {
                let lines = f.logs.get(&name).map(|l| l.join("\n      ")).unwrap_or_default();
                if !lines.is_empty() {
                    evidence.push_str(&format!("; last log lines:\n      {lines}"));
                }
                "the registry exits at start: its log says why (often storage credentials or configuration)".to_string()
            }
            _ => "see the Events about it".to_string(),
        };
        return bad(&check, format!("{evidence}{events}"), advice);
    }
    let phase = status.phase.clone().unwrap_or_default();
    if phase == "Pending" {
        let unscheduled = status
            .conditions
            .iter()
            .flatten()
            .find(|c| c.type_ == "PodScheduled" && c.status == "False");
        let (evidence, advice) = match unscheduled {
            Some(c) => (
                format!(
                    "pod/{name} status.conditions[PodScheduled]: False {}: {}",
                    c.reason.clone().unwrap_or_default(),
                    c.message.clone().unwrap_or_default()
                ),
                "no node fits the Pod: check spec.nodeSelector, tolerations and affinity of config/cluster, and that its claim is bound",
            ),
            None => (format!("pod/{name} status.phase: Pending"), "see the Events about it"),
        };
        return bad(&check, format!("{evidence}{events}"), advice);
    }
    let ready =
        status.conditions.iter().flatten().any(|c| c.type_ == "Ready" && c.status == "True");
    if phase == "Running" && ready {
        good(&check, format!("pod/{name} status.phase: Running, Ready"))
    } else {
        bad(
            &check,
            format!("pod/{name} status.phase: {phase}, not Ready{events}"),
            "the registry does not answer its readiness probe: see its log",
        )
    }
}

/// `; events: <reason>: <message>; ...` of the Events about `name`, empty when none.
fn events_about(f: &Facts, name: &str) -> String {
    let lines: Vec<String> = f
        .events
        .iter()
        .filter(|e| e.involved_object.name.as_deref() == Some(name))
        .map(|e| {
            format!(
                "{}: {}",
                e.reason.clone().unwrap_or_default(),
                e.message.clone().unwrap_or_default()
            )
        })
        .collect();
    if lines.is_empty() { String::new() } else { format!("; events: {}", lines.join("; ")) }
}

fn operator(f: &Facts, out: &mut Vec<Finding>) {
    const CHECK: &str = "operator";
    if f.operator.is_none() {
        out.push(bad(
            CHECK,
            format!("deployment/{OPERATOR} does not exist in {NS}"),
            "the cluster-version operator did not install the image registry operator: check `oc get clusterversion` and whether the ImageRegistry capability is enabled",
        ));
        return;
    }
    let running = f
        .operator_pods
        .iter()
        .find(|p| p.status.as_ref().and_then(|s| s.phase.as_deref()) == Some("Running"));
    let Some(p) = running else {
        out.push(bad(
            CHECK,
            format!("deployment/{OPERATOR} has no running Pod"),
            "see `oc -n openshift-image-registry describe deployment cluster-image-registry-operator` and its Events",
        ));
        return;
    };
    let name = p.metadata.name.clone().unwrap_or_default();
    let lines = f.logs.get(&name).cloned().unwrap_or_default();
    let errors: Vec<&String> = lines
        .iter()
        .filter(|l| {
            let l = l.to_lowercase();
            l.contains("error") || l.contains("fail")
        })
        .collect();
    if errors.is_empty() {
        out.push(good(CHECK, format!("pod/{name} is Running; its last log lines show no error")));
    } else {
        let shown: Vec<&str> = errors.iter().rev().take(5).rev().map(|s| s.as_str()).collect();
        out.push(bad(
            CHECK,
            format!("pod/{name} is Running; its log says:\n      {}", shown.join("\n      ")),
            "these errors are what the operator retries: the Config's conditions above name the part",
        ));
    }
}

fn storage(f: &Facts, out: &mut Vec<Finding>) {
    let Some(c) = &f.config else { return };
    if c.spec.state() != ManagementState::Managed {
        return;
    }
    if let Some(pvc) = c.spec.storage.as_ref().and_then(|s| s.pvc.as_ref()) {
        const CHECK: &str = "storage claim";
        let name = if pvc.claim.is_empty() { render::storage::PVC_NAME } else { &pvc.claim };
        out.push(match &f.claim {
            None => bad(
                CHECK,
                format!("persistentvolumeclaim/{name} does not exist"),
                "the operator creates the default claim; a claim named in spec.storage.pvc.claim must be created by you",
            ),
            Some(claim) => {
                let phase = claim.status.as_ref().and_then(|s| s.phase.clone()).unwrap_or_default();
                if phase == "Bound" {
                    good(CHECK, format!("persistentvolumeclaim/{name} status.phase: Bound"))
                } else {
                    bad(
                        CHECK,
                        format!("persistentvolumeclaim/{name} status.phase: {phase}{}", events_about(f, name)),
                        "no volume is bound to the claim: check its storage class and that the cluster can provision ReadWriteMany volumes (or use one replica with ReadWriteOnce)",
                    )
                }
            }
        });
        return;
    }
    let exists =
        c.status.as_ref().and_then(|s| s.conditions.iter().find(|c| c.type_ == "StorageExists"));
    if let Some(e) = exists.filter(|e| e.status == ConditionStatus::True) {
        out.push(good(
            "storage",
            format!("config/cluster status.conditions[StorageExists]: True {}", e.reason),
        ));
    }
}

fn routes(f: &Facts, out: &mut Vec<Finding>) {
    for r in &f.routes {
        let name = r.metadata.name.clone().unwrap_or_default();
        let check = format!("route {name}");
        let ingress = r.status.as_ref().map(|s| s.ingress.as_slice()).unwrap_or_default();
        let admitted = ingress
            .iter()
            .any(|i| i.conditions.iter().any(|c| c.type_ == "Admitted" && c.status == "True"));
        out.push(if admitted {
            good(&check, format!("route/{name} status.ingress: Admitted"))
        } else {
            let why = ingress
                .iter()
                .flat_map(|i| &i.conditions)
                .find(|c| c.type_ == "Admitted")
                .map(|c| format!(": {} {}", c.reason, c.message))
                .unwrap_or_else(|| ": no router has admitted it".into());
            bad(
                &check,
                format!("route/{name} status.ingress{why}"),
                "check the host name (spec.routes of config/cluster) and the ingress controller",
            )
        });
    }
}

fn certificates(f: &Facts, out: &mut Vec<Finding>) {
    let mut maps =
        vec![(f.certificates.0, format!("configmap/image-registry-certificates in {NS}"))];
    if f.openshift.config {
        maps.push((
            f.certificates.1,
            "configmap/image-registry-ca in openshift-config-managed".into(),
        ));
    }
    for (present, name) in maps {
        out.push(if present {
            good("CA config maps", format!("{name} exists"))
        } else {
            bad(
                "CA config maps",
                format!("{name} does not exist"),
                "the operator writes it at each pass: see ImageRegistryCertificatesControllerDegraded and its log",
            )
        });
    }
}

fn pruner(f: &Facts, out: &mut Vec<Finding>) {
    const CHECK: &str = "image pruner";
    let last =
        f.pruner_jobs.iter().max_by_key(|j| j.metadata.creation_timestamp.as_ref().map(|t| t.0));
    let Some(job) = last else { return };
    let name = job.metadata.name.clone().unwrap_or_default();
    let status = job.status.clone().unwrap_or_default();
    out.push(if status.failed.unwrap_or(0) > 0 {
        bad(
            CHECK,
            format!("job/{name} status.failed: {}", status.failed.unwrap_or(0)),
            "the last pruning failed: see `oc -n openshift-image-registry logs job/NAME`",
        )
    } else if status.succeeded.unwrap_or(0) > 0 {
        good(CHECK, format!("job/{name} status.succeeded: {}", status.succeeded.unwrap_or(0)))
    } else {
        good(CHECK, format!("job/{name} is running"))
    });
}

/// The findings as text: one line each, ✓ or ✗, and under a ✗ what to do.
pub fn text(findings: &[Finding]) -> String {
    let mut s = String::new();
    for f in findings {
        let mark = if f.ok { '✓' } else { '✗' };
        s.push_str(&format!("{mark} {}: {}\n", f.check, f.evidence));
        if let Some(a) = &f.advice {
            s.push_str(&format!("    → {a}\n"));
        }
    }
    let wrong = findings.iter().filter(|f| !f.ok).count();
    s.push_str(&match wrong {
        0 => "all is well\n".to_string(),
        n => format!("{n} finding(s) need attention\n"),
    });
    s
}

/// The findings as a stable JSON document: `{"ok": bool, "findings": [...]}`.
pub fn json(findings: &[Finding]) -> serde_json::Value {
    serde_json::json!({"ok": findings.iter().all(|f| f.ok), "findings": findings})
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn conditions_are_healthy_the_right_way_round() {
        use ConditionStatus::*;
        assert!(healthy("Available", &True) && !healthy("Available", &False));
        assert!(healthy("Degraded", &False) && !healthy("Degraded", &True));
        assert!(healthy("Progressing", &False) && !healthy("Progressing", &True));
        assert!(healthy("NodeCADaemonProgressing", &False));
        assert!(!healthy("StorageExists", &False) && !healthy("StorageExists", &Unknown));
        assert!(healthy("StorageEncrypted", &False), "an optional feature off is no fault");
    }

    #[test]
    fn nothing_there_says_the_cluster_version_operator_did_not_install_it() {
        let found = findings(&Facts::default());
        let plain = Facts {
            openshift: crate::kubernetes::OpenShiftApis {
                config: false,
                routes: false,
                cert_manager: false,
            },
            ..Default::default()
        };
        let co =
            findings(&plain).into_iter().find(|f| f.check.starts_with("ClusterOperator")).unwrap();
        assert!(co.ok && co.evidence.contains("plain Kubernetes"), "{co:?}");
        assert!(found.iter().all(|f| !f.ok), "{found:#?}");
        let op = found.iter().find(|f| f.check == "operator").unwrap();
        assert!(op.advice.as_ref().unwrap().contains("cluster-version operator"));
        let t = text(&found);
        assert!(t.contains("✗ ClusterOperator image-registry"), "{t}");
        assert_eq!(json(&found)["ok"], false);
    }
}
