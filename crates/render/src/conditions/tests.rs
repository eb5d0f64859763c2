use super::*;
use crate::verify::{STORAGE_NOT_CONFIGURED, VERIFICATION_FAILED};
use api::route::{RouteIngress, RouteIngressCondition, RouteStatus};
use k8s_openapi::api::apps::v1::{DeploymentCondition, DeploymentStatus};
use k8s_openapi::api::batch::v1::{JobCondition, JobStatus};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

fn t(secs: i64) -> Timestamp {
    Timestamp::from_second(1_800_000_000 + secs).unwrap()
}

fn config(state: &str) -> Config {
    let mut c = Config::default();
    c.spec.management_state = state.into();
    c.spec.replicas = 2;
    c
}

fn deployment(replicas: i32, available: i32, progressing_reason: &str) -> Deployment {
    Deployment {
        metadata: ObjectMeta { generation: Some(2), ..Default::default() },
        status: Some(DeploymentStatus {
            replicas: Some(replicas),
            available_replicas: Some(available),
            ready_replicas: Some(available),
            updated_replicas: Some(replicas),
            observed_generation: Some(2),
            conditions: Some(vec![DeploymentCondition {
                type_: "Progressing".into(),
                status: "True".into(),
                reason: Some(progressing_reason.into()),
                message: Some("msg".into()),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn get<'a>(c: &'a Config, type_: &str) -> (ConditionStatus, &'a str, &'a str) {
    let c = c.status.as_ref().unwrap().conditions.iter().find(|c| c.type_ == type_).unwrap();
    (c.status, c.reason.as_str(), c.message.as_str())
}

use ConditionStatus::{False, True};

#[test]
fn available_progressing_degraded_removed_table() {
    let perm = ApplyResult::Permanent(SpecError {
        reason: VERIFICATION_FAILED,
        message: "unable to complete resource: replicas must be greater than or equal to 0".into(),
    });
    let not_configured = ApplyResult::Permanent(SpecError {
        reason: STORAGE_NOT_CONFIGURED,
        message: "storage backend not configured".into(),
    });
    let ready = deployment(2, 2, "NewReplicaSetAvailable");
    let partial = deployment(2, 1, "NewReplicaSetAvailable");
    let none_available = deployment(2, 0, "ReplicaSetUpdated");
    let rolling = deployment(2, 2, "ReplicaSetUpdated");
    let mut deleting = ready.clone();
    deleting.metadata.deletion_timestamp = Some(Time(t(0)));
    type Row<'a> = (
        &'a str,
        &'a str,
        Option<&'a Deployment>,
        ApplyResult,
        (ConditionStatus, &'a str, &'a str),
        (ConditionStatus, &'a str, &'a str),
        (ConditionStatus, &'a str, &'a str),
    );
    let rows: Vec<Row> = vec![
        (
            "unmanaged",
            "Unmanaged",
            Some(&ready),
            ApplyResult::Ok,
            (True, "Unmanaged", UNMANAGED_MESSAGE),
            (False, "Unmanaged", UNMANAGED_MESSAGE),
            (False, "Unmanaged", UNMANAGED_MESSAGE),
        ),
        (
            "permanent error, no deployment",
            "Managed",
            None,
            perm.clone(),
            (
                False,
                "VerificationFailed",
                "Error: unable to complete resource: replicas must be greater than or equal to 0",
            ),
            (
                False,
                "Error",
                "Unable to apply resources: unable to complete resource: replicas must be greater than or equal to 0",
            ),
            (
                True,
                "VerificationFailed",
                "Error: unable to complete resource: replicas must be greater than or equal to 0",
            ),
        ),
        (
            "storage not configured",
            "Managed",
            None,
            not_configured,
            (False, "StorageNotConfigured", "Error: storage backend not configured"),
            (False, "Error", "Unable to apply resources: storage backend not configured"),
            (True, "StorageNotConfigured", "Error: storage backend not configured"),
        ),
        (
            "removed, gone",
            "Removed",
            None,
            ApplyResult::Ok,
            (True, "Removed", "The registry is removed"),
            (False, "Removed", "All registry resources are removed"),
            (False, "Removed", "The registry is removed"),
        ),
        (
            "removed, still there",
            "Removed",
            Some(&ready),
            ApplyResult::Ok,
            (True, "Ready", "The registry is ready"),
            (True, "DeletingDeployment", "The deployment is being removed"),
            (False, "Removed", "The registry is removed"),
        ),
        (
            "no deployment yet",
            "Managed",
            None,
            ApplyResult::Ok,
            (False, "DeploymentNotFound", "The deployment does not exist"),
            (
                True,
                "WaitingForDeployment",
                "All resources are successfully applied, but the deployment does not exist",
            ),
            (False, "", ""),
        ),
        (
            "transient error",
            "Managed",
            None,
            ApplyResult::Error("boom".into()),
            (False, "DeploymentNotFound", "The deployment does not exist"),
            (True, "Error", "Unable to apply resources: boom"),
            (False, "", ""),
        ),
        (
            "deleting",
            "Managed",
            Some(&deleting),
            ApplyResult::Ok,
            (False, "DeploymentDeleted", "The deployment is being deleted"),
            (True, "FinalizingDeployment", "The deployment is being deleted"),
            (False, "", ""),
        ),
        (
            "no replicas",
            "Managed",
            Some(&none_available),
            ApplyResult::Ok,
            (False, "NoReplicasAvailable", "The deployment does not have available replicas"),
            (True, "DeploymentNotCompleted", "The deployment has not completed"),
            (False, "", ""),
        ),
        (
            "minimum",
            "Managed",
            Some(&partial),
            ApplyResult::Ok,
            (True, "MinimumAvailability", "The registry has minimum availability"),
            (False, "Ready", "The registry is ready"),
            (False, "", ""),
        ),
        (
            "rolling",
            "Managed",
            Some(&rolling),
            ApplyResult::Ok,
            (True, "Ready", "The registry is ready"),
            (True, "DeploymentNotCompleted", "The deployment has not completed"),
            (False, "", ""),
        ),
        (
            "ready",
            "Managed",
            Some(&ready),
            ApplyResult::Ok,
            (True, "Ready", "The registry is ready"),
            (False, "Ready", "The registry is ready"),
            (False, "", ""),
        ),
    ];
    for (name, state, d, apply, avail, prog, degr) in rows {
        let mut c = config(state);
        sync_registry_status(&mut c, d, &[], &apply, t(0));
        assert_eq!(get(&c, "Available"), avail, "{name}: Available");
        assert_eq!(get(&c, "Progressing"), prog, "{name}: Progressing");
        assert_eq!(get(&c, "Degraded"), degr, "{name}: Degraded");
        let removed = if state == "Removed" {
            (True, "Removed", "The registry is removed")
        } else {
            (False, "", "")
        };
        assert_eq!(get(&c, "Removed"), removed, "{name}: Removed");
    }
}

#[test]
fn degraded_after_five_unavailable_minutes() {
    let mut c = config("Managed");
    sync_registry_status(&mut c, None, &[], &ApplyResult::Ok, t(0));
    assert_eq!(get(&c, "Degraded").0, False);
    sync_registry_status(&mut c, None, &[], &ApplyResult::Ok, t(300));
    assert_eq!(get(&c, "Degraded").0, False, "exactly five minutes is not more than five");
    sync_registry_status(&mut c, None, &[], &ApplyResult::Ok, t(301));
    assert_eq!(get(&c, "Degraded"), (True, "Unavailable", "The deployment does not exist"));
    // becoming available clears it and moves Available's transition time
    let ready = deployment(2, 2, "NewReplicaSetAvailable");
    sync_registry_status(&mut c, Some(&ready), &[], &ApplyResult::Ok, t(400));
    assert_eq!(get(&c, "Degraded").0, False);
    let avail =
        c.status.as_ref().unwrap().conditions.iter().find(|x| x.type_ == "Available").unwrap();
    assert_eq!(avail.last_transition_time.0, t(400));
}

#[test]
fn progress_deadline_and_routes() {
    let mut c = config("Managed");
    let d = deployment(2, 2, "ProgressDeadlineExceeded");
    sync_registry_status(&mut c, Some(&d), &[], &ApplyResult::Ok, t(0));
    assert_eq!(
        get(&c, "Degraded"),
        (True, "ProgressDeadlineExceeded", "Registry deployment has timed out progressing: msg")
    );

    let ready = deployment(2, 2, "NewReplicaSetAvailable");
    let route = |name: &str, status: &str| Route {
        metadata: ObjectMeta { name: Some(name.into()), ..Default::default() },
        spec: Default::default(),
        status: Some(RouteStatus {
            ingress: vec![RouteIngress {
                host: format!("{name}.apps"),
                router_name: "default".into(),
                conditions: vec![RouteIngressCondition {
                    type_: "Admitted".into(),
                    status: status.into(),
                    message: "taken".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }],
        }),
    };
    let mut c = config("Managed");
    sync_registry_status(
        &mut c,
        Some(&ready),
        &routes_not_admitted(&[route("a", "True")]),
        &ApplyResult::Ok,
        t(0),
    );
    assert_eq!(get(&c, "Degraded").0, False);
    sync_registry_status(
        &mut c,
        Some(&ready),
        &routes_not_admitted(&[route("a", "False"), route("b", "False")]),
        &ApplyResult::Ok,
        t(0),
    );
    assert_eq!(
        get(&c, "Degraded"),
        (
            True,
            "RouteDegraded",
            "route a (host a.apps, router default) not admitted: taken,route b (host b.apps, router default) not admitted: taken"
        )
    );
}

#[test]
fn transition_time_moves_only_on_flip_and_no_change_is_reported() {
    let mut c = config("Managed");
    assert!(sync_registry_status(&mut c, None, &[], &ApplyResult::Ok, t(0)));
    assert!(!sync_registry_status(&mut c, None, &[], &ApplyResult::Ok, t(10)), "nothing changed");
    let conds = &c.status.as_ref().unwrap().conditions;
    assert!(conds.iter().all(|x| x.last_transition_time.0 == t(0)));
    assert_eq!(c.status.as_ref().unwrap().ready_replicas, Some(0));
    // a reason change without a flip keeps the time
    let mut conds = vec![];
    set(&mut conds, &Cond::new("X", True, Reason::Other("A".into()), "a"), t(0));
    assert!(set(&mut conds, &Cond::new("X", True, Reason::Other("B".into()), "b"), t(5)));
    assert_eq!(conds[0].last_transition_time.0, t(0));
    assert!(set(&mut conds, &Cond::new("X", False, Reason::Other("B".into()), "b"), t(9)));
    assert_eq!(conds[0].last_transition_time.0, t(9));
    assert!(remove(&mut conds, "X"));
    assert!(!remove(&mut conds, "X"));
}

fn job(secs: i64, failed: bool) -> Job {
    Job {
        metadata: ObjectMeta { creation_timestamp: Some(Time(t(secs))), ..Default::default() },
        status: Some(JobStatus {
            conditions: Some(vec![JobCondition {
                type_: if failed { "Failed" } else { "Complete" }.into(),
                status: "True".into(),
                reason: Some(if failed { "BackoffLimitExceeded" } else { "Done" }.into()),
                message: Some(
                    if failed { "Job has reached the specified backoff limit" } else { "" }.into(),
                ),
                ..Default::default()
            }]),
            ..Default::default()
        }),
        ..Default::default()
    }
}

#[test]
fn pruner_table() {
    let pick = |conds: &[Cond], t: &str| {
        let c = conds.iter().find(|c| c.type_ == t).unwrap();
        (c.status, c.reason.to_string(), c.message.clone())
    };
    let ok = pruner_conditions(&PrunerFacts { cron_job_exists: true, ..Default::default() });
    assert_eq!(
        pick(&ok, "Available"),
        (True, "AsExpected".into(), "Pruner CronJob has been created".into())
    );
    assert_eq!(
        pick(&ok, "Scheduled"),
        (True, "Scheduled".into(), "The pruner job has been scheduled".into())
    );
    assert_eq!(
        pick(&ok, "Failed"),
        (False, "Complete".into(), "Pruner completed successfully".into())
    );
    assert_eq!(pick(&ok, "Degraded"), (False, "AsExpected".into(), "".into()));

    let jobs = [job(0, false), job(10, true)];
    let failed = pruner_conditions(&PrunerFacts {
        cron_job_exists: false,
        suspended: true,
        jobs: &jobs,
        apply_error: None,
    });
    assert_eq!(
        pick(&failed, "Available"),
        (False, "Error".into(), "Pruner CronJob does not exist".into())
    );
    assert_eq!(
        pick(&failed, "Scheduled"),
        (False, "Suspended".into(), "The pruner job has been suspended".into())
    );
    assert_eq!(
        pick(&failed, "Failed"),
        (True, "BackoffLimitExceeded".into(), "Job has reached the specified backoff limit".into())
    );
    assert_eq!(
        pick(&failed, "Degraded"),
        (True, "JobFailed".into(), "Job has reached the specified backoff limit".into())
    );

    let jobs = [job(10, true), job(20, false)];
    let recovered = pruner_conditions(&PrunerFacts {
        cron_job_exists: true,
        jobs: &jobs,
        ..Default::default()
    });
    assert_eq!(pick(&recovered, "Failed").0, False, "the newest job succeeded");

    let sync =
        pruner_conditions(&PrunerFacts { apply_error: Some("nope".into()), ..Default::default() });
    assert_eq!(pick(&sync, "Degraded"), (True, "SyncError".into(), "Error: nope".into()));
}

fn oc(type_: &str, status: ConditionStatus, reason: &str, message: &str) -> OperatorCondition {
    OperatorCondition {
        type_: type_.into(),
        status,
        reason: reason.into(),
        message: message.into(),
        last_transition_time: Time(t(0)),
    }
}

#[test]
fn cluster_operator_aggregation() {
    let config = vec![
        oc("Available", True, "Ready", "The registry is ready"),
        oc("Progressing", False, "Ready", "The registry is ready"),
        oc("Degraded", False, "", ""),
        oc("NodeCADaemonAvailable", True, "AsExpected", "ok"),
        oc("NodeCADaemonProgressing", False, "AsExpected", ""),
        oc("NodeCADaemonControllerDegraded", False, "AsExpected", ""),
        oc("ImageConfigControllerDegraded", ConditionStatus::Unknown, "", ""),
        oc("StorageExists", True, "Creation Successful", "x"),
    ];
    let pruner = vec![
        oc("Available", False, "Error", "Pruner CronJob does not exist\nsecond line"),
        oc("Degraded", False, "AsExpected", ""),
    ];
    let got = cluster_operator_conditions(&config, &pruner);
    assert_eq!(
        got[0],
        Cond::new(
            "Available",
            False,
            Reason::Other("ImagePrunerError::Ready".into()),
            "Available: The registry is ready\nNodeCADaemonAvailable: ok\nImagePrunerAvailable: Pruner CronJob does not exist\nImagePrunerAvailable: second line"
        )
    );
    assert_eq!(
        got[1],
        Cond::new("Progressing", False, Reason::Ready, "Progressing: The registry is ready")
    );
    assert_eq!(
        got[2],
        Cond::new("Degraded", ConditionStatus::Unknown, Reason::Unset, ""),
        "Unknown when nothing abnormal but one unknown"
    );

    let healthy = cluster_operator_conditions(&[oc("Degraded", False, "", "")], &[]);
    assert_eq!(healthy[2], Cond::new("Degraded", False, Reason::AsExpected, ""));
    assert_eq!(
        healthy[0],
        Cond::new("Available", True, Reason::AsExpected, ""),
        "no input: normal"
    );

    let mut existing = vec![];
    assert!(merge_cluster_operator_conditions(&mut existing, &healthy, t(0)));
    assert!(!merge_cluster_operator_conditions(&mut existing, &healthy, t(5)));
    let flipped = cluster_operator_conditions(&[oc("Degraded", True, "X", "y")], &[]);
    assert!(merge_cluster_operator_conditions(&mut existing, &flipped, t(9)));
    let d = existing.iter().find(|c| c.type_ == "Degraded").unwrap();
    assert_eq!((d.status, d.last_transition_time.0, d.reason.as_str()), (True, t(9), "X"));
    let a = existing.iter().find(|c| c.type_ == "Available").unwrap();
    assert_eq!(a.last_transition_time.0, t(0));
}

#[test]
fn versions_rule() {
    let mut d = deployment(2, 2, "NewReplicaSetAvailable");
    d.metadata.annotations =
        Some([("release.openshift.io/version".to_string(), "4.20.1".to_string())].into());
    let v = |s, d: Option<&Deployment>| {
        cluster_operator_version(s, d, "4.20.0").map(|v| v[0].version.clone())
    };
    assert_eq!(v("Managed", Some(&d)).as_deref(), Some("4.20.1"));
    assert_eq!(v("Managed", None), None);
    let mut behind = d.clone();
    behind.metadata.generation = Some(3);
    assert_eq!(v("Managed", Some(&behind)), None, "not observed yet");
    let mut updating = d.clone();
    updating.status.as_mut().unwrap().updated_replicas = Some(1);
    assert_eq!(v("Managed", Some(&updating)), None);
    assert_eq!(v("Removed", None).as_deref(), Some("4.20.0"));
    assert_eq!(v("Unmanaged", Some(&behind)).as_deref(), Some("4.20.0"));
    assert_eq!(cluster_operator_version("Removed", None, ""), None);
    assert_eq!(related_objects().len(), 6);
}

#[test]
fn the_next_change_is_the_five_minute_degraded_rule() {
    let t0 = Timestamp::UNIX_EPOCH + SignedDuration::from_hours(1);
    let cond = |t: &str, s: ConditionStatus| OperatorCondition {
        type_: t.into(),
        status: s,
        last_transition_time: Time(t0),
        reason: String::new(),
        message: String::new(),
    };
    let unavailable =
        [cond("Available", ConditionStatus::False), cond("Degraded", ConditionStatus::False)];
    assert_eq!(next_change(&unavailable, t0), Some(t0 + UNAVAILABLE_DEGRADED_AFTER));
    assert_eq!(
        next_change(&unavailable, t0 + SignedDuration::from_mins(6)),
        None,
        "past: Degraded already computed"
    );
    let available = [cond("Available", ConditionStatus::True)];
    assert_eq!(next_change(&available, t0), None);
    let degraded =
        [cond("Available", ConditionStatus::False), cond("Degraded", ConditionStatus::True)];
    assert_eq!(next_change(&degraded, t0), None);
}
