//! The workload simulator: no kubelet runs here, so Deployments and DaemonSets get the
//! status their controllers would write (and their ReplicaSets and Pods) after a delay,
//! and CronJobs can be made to run a Job that completes or fails.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use serde_json::{Value, json};

use super::ApiServer;
use super::store::{Event, EventType};

/// How a workload behaves.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Behaviour {
    /// Every replica becomes available after the delay.
    Available,
    /// Observed, but no replica ever becomes available.
    Unavailable,
    /// The rollout times out (`Progressing=False`, `ProgressDeadlineExceeded`).
    ProgressDeadlineExceeded,
}

/// Settings of the simulator.
#[derive(Debug, Clone)]
pub struct Simulation {
    pub delay: Duration,
    pub default: Behaviour,
    /// Nodes a DaemonSet runs on.
    pub nodes: i64,
    /// Make the ReplicaSets and Pods too (off: only the workloads' status, for benchmarks
    /// of what watches the workloads).
    pub pods: bool,
}

impl Default for Simulation {
    fn default() -> Self {
        Simulation {
            delay: Duration::from_millis(100),
            default: Behaviour::Available,
            nodes: 3,
            pods: true,
        }
    }
}

/// Per-workload behaviours, by (kind, namespace, name).
type Overrides = Arc<Mutex<HashMap<(String, String, String), Behaviour>>>;

/// A running simulator; dropping it stops it.
pub struct Simulator {
    overrides: Overrides,
    task: tokio::task::JoinHandle<()>,
}

impl Drop for Simulator {
    fn drop(&mut self) {
        self.task.abort();
    }
}

impl Simulator {
    /// Makes one workload (`kind` is `Deployment` or `DaemonSet`) behave differently from
    /// the default; applies to its next change.
    pub fn set(&self, kind: &str, namespace: &str, name: &str, b: Behaviour) {
        self.overrides
            .lock()
            .expect("overrides")
            .insert((kind.into(), namespace.into(), name.into()), b);
    }
}

fn num(v: &Value, ptr: &str) -> i64 {
    v.pointer(ptr).and_then(Value::as_i64).unwrap_or(0)
}

fn condition(type_: &str, status: &str, reason: &str, message: &str, now: &str) -> Value {
    json!({"type": type_, "status": status, "reason": reason, "message": message,
        "lastUpdateTime": now, "lastTransitionTime": now})
}

/// The status a Deployment controller would write.
pub fn deployment_status(d: &Value, b: Behaviour, now: &str) -> Value {
    let name = d.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("");
    let generation = num(d, "/metadata/generation");
    let replicas = d.pointer("/spec/replicas").and_then(Value::as_i64).unwrap_or(1);
    let hash = super::pods::template_hash(d.pointer("/spec/template").unwrap_or(&Value::Null));
    let rs = format!("ReplicaSet \"{name}-{hash}\"");
    let (available, conditions) = match b {
        Behaviour::Available => (
            replicas,
            vec![
                condition(
                    "Available",
                    "True",
                    "MinimumReplicasAvailable",
                    "Deployment has minimum availability.",
                    now,
                ),
                condition(
                    "Progressing",
                    "True",
                    "NewReplicaSetAvailable",
                    &format!("{rs} has successfully progressed."),
                    now,
                ),
            ],
        ),
        Behaviour::Unavailable => (
            0,
            vec![
                condition(
                    "Available",
                    "False",
                    "MinimumReplicasUnavailable",
                    "Deployment does not have minimum availability.",
                    now,
                ),
                condition(
                    "Progressing",
                    "True",
                    "ReplicaSetUpdated",
                    &format!("{rs} is progressing."),
                    now,
                ),
            ],
        ),
        Behaviour::ProgressDeadlineExceeded => (
            0,
            vec![
                condition(
                    "Available",
                    "False",
                    "MinimumReplicasUnavailable",
                    "Deployment does not have minimum availability.",
                    now,
                ),
                condition(
                    "Progressing",
                    "False",
                    "ProgressDeadlineExceeded",
                    &format!("{rs} has timed out progressing."),
                    now,
                ),
            ],
        ),
    };
    json!({
        "observedGeneration": generation, "replicas": replicas, "updatedReplicas": replicas,
        "readyReplicas": available, "availableReplicas": available,
        "unavailableReplicas": replicas - available, "conditions": conditions,
    })
}

/// A Deployment whose Pods cannot be created: none available, and `ReplicaFailure`.
fn refused_status(d: &Value, message: &str, now: &str) -> Value {
    let mut status = deployment_status(d, Behaviour::Unavailable, now);
    if let Some(c) = status["conditions"].as_array_mut() {
        c.push(condition("ReplicaFailure", "True", "FailedCreate", message, now));
    }
    status["replicas"] = json!(0);
    status["updatedReplicas"] = json!(0);
    status
}

/// The status a DaemonSet controller would write.
pub fn daemon_set_status(d: &Value, b: Behaviour, nodes: i64) -> Value {
    let available = if b == Behaviour::Available { nodes } else { 0 };
    json!({
        "observedGeneration": num(d, "/metadata/generation"),
        "desiredNumberScheduled": nodes, "currentNumberScheduled": nodes,
        "updatedNumberScheduled": nodes, "numberMisscheduled": 0,
        "numberReady": available, "numberAvailable": available,
        "numberUnavailable": nodes - available,
    })
}

impl ApiServer {
    /// Starts the workload simulator (needs a Tokio runtime).
    pub fn simulate_workloads(&self, sim: Simulation) -> Simulator {
        let overrides: Overrides = Arc::default();
        let server = self.clone();
        let mut rx = self.shared.events.subscribe();
        let ov = overrides.clone();
        // Workloads that exist already are picked up too.
        let existing: Vec<Arc<Event>> = self.read(|s| {
            ["apps/deployments", "apps/daemonsets"]
                .iter()
                .filter_map(|k| s.types.iter().find(|t| t.key() == *k))
                .flat_map(|t| {
                    s.list(t, "").map(|o| {
                        Arc::new(Event {
                            rv: 0,
                            type_key: t.key(),
                            namespace: o
                                .pointer("/metadata/namespace")
                                .and_then(Value::as_str)
                                .unwrap_or("")
                                .into(),
                            kind: EventType::Added,
                            object: o.clone(),
                            old: None,
                        })
                    })
                })
                .collect()
        });
        let task = tokio::spawn(async move {
            for e in existing {
                react(&server, &sim, &ov, &e);
            }
            loop {
                match rx.recv().await {
                    Ok(e) => react(&server, &sim, &ov, &e),
                    Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => continue,
                    Err(_) => return,
                }
            }
        });
        Simulator { overrides, task }
    }

    /// Runs a CronJob once: creates its Job (labelled as the template says, owned by the
    /// CronJob) and marks it Complete or Failed. Returns the Job's name.
    pub fn run_cron_job(
        &self,
        namespace: &str,
        name: &str,
        succeed: bool,
    ) -> Result<String, String> {
        let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
        self.write(|s| {
            let cj_type = s.find_type("batch", "v1", "cronjobs").cloned().ok_or("no cronjobs")?;
            let job_type = s.find_type("batch", "v1", "jobs").cloned().ok_or("no jobs")?;
            let cj = s.get(&cj_type, namespace, name).map_err(|e| e.message)?;
            let template = cj.pointer("/spec/jobTemplate").cloned().unwrap_or(json!({}));
            let mut job = json!({
                "metadata": template.get("metadata").cloned().unwrap_or(json!({})),
                "spec": template.get("spec").cloned().unwrap_or(json!({})),
            });
            job["metadata"]["generateName"] = json!(format!("{name}-"));
            job["metadata"]["ownerReferences"] = json!([{"apiVersion": "batch/v1", "kind": "CronJob", "name": name,
                "uid": cj.pointer("/metadata/uid"), "controller": true}]);
            let created = s.create(&job_type, namespace, job, false).map_err(|e| e.message)?;
            let job_name = created.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string();
            let status = if succeed {
                json!({"succeeded": 1, "completionTime": now, "conditions": [
                    {"type": "Complete", "status": "True", "lastTransitionTime": now}]})
            } else {
                json!({"failed": 1, "conditions": [{"type": "Failed", "status": "True", "reason": "BackoffLimitExceeded",
                    "message": "Job has reached the specified backoff limit", "lastTransitionTime": now}]})
            };
            s.set_status(&job_type, namespace, &job_name, status);
            Ok(job_name)
        })
    }
}

fn react(server: &ApiServer, sim: &Simulation, overrides: &Overrides, e: &Event) {
    if e.kind == EventType::Deleted
        || !matches!(e.type_key.as_str(), "apps/deployments" | "apps/daemonsets")
    {
        return;
    }
    let o = &e.object;
    if num(o, "/metadata/generation") <= num(o, "/status/observedGeneration")
        && o.get("status").is_some()
    {
        return;
    }
    let kind = if e.type_key == "apps/deployments" { "Deployment" } else { "DaemonSet" };
    let name = o.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string();
    let ns = e.namespace.clone();
    let b = overrides
        .lock()
        .expect("overrides")
        .get(&(kind.to_string(), ns.clone(), name.clone()))
        .copied()
        .unwrap_or(sim.default);
    let server = server.clone();
    let (delay, nodes, pods, type_key) = (sim.delay, sim.nodes, sim.pods, e.type_key.clone());
    let generation = num(o, "/metadata/generation");
    tokio::spawn(async move {
        tokio::time::sleep(delay).await;
        server.write(|s| {
            let Some(t) = s.types.iter().find(|t| t.key() == type_key).cloned() else { return };
            let Ok(current) = s.get(&t, &ns, &name) else { return };
            // A newer generation has its own timer.
            if num(&current, "/metadata/generation") != generation
                || current.pointer("/metadata/deletionTimestamp").is_some()
            {
                return;
            }
            let now = jiff::Timestamp::now().strftime("%Y-%m-%dT%H:%M:%SZ").to_string();
            let status = if kind == "Deployment" {
                deployment_status(&current, b, &now)
            } else {
                daemon_set_status(&current, b, nodes)
            };
            let Some(updated) = s.set_status(&t, &ns, &name, status) else { return };
            if !pods {
                return;
            }
            let ready = b == Behaviour::Available;
            let refused = if kind == "Deployment" {
                super::pods::deployment(s, &updated, ready, &now)
            } else {
                super::pods::daemon_set(s, &updated, nodes, ready, &now)
            };
            // Pods the API server refused: not available, and (a Deployment) the
            // ReplicaSet's failure, as the controllers report it.
            if let Some(message) = refused {
                let status = match kind {
                    "Deployment" => refused_status(&current, &message, &now),
                    _ => daemon_set_status(&current, Behaviour::Unavailable, nodes),
                };
                s.set_status(&t, &ns, &name, status);
            }
        });
    });
}
