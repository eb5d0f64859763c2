//! `diagnose` against the in-memory API server: a converged cluster gives no finding to act
//! on, each failure mode of the checklist seeded into the server gives its finding, the
//! binary's exit codes say well / wrong / unreadable, and nothing is ever written.

use std::process::Command;
use std::sync::Arc;
use std::time::Duration;

use api::{ClusterOperator, ConditionStatus};
use cluster_image_registry_operator::diagnose::{Finding, findings};
use cluster_image_registry_operator::diagnose_cmd::gather;
use cluster_image_registry_operator::local_cmd::seeded_server;
use cluster_image_registry_operator::sync::Context;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::{Value, json};
use testkit::apiserver::ApiServer;
use testkit::apiserver::simulator::{Simulation, Simulator};
use tokio::sync::watch;

const NS: &str = "openshift-image-registry";

async fn diagnosed(server: &ApiServer) -> Vec<Finding> {
    let client = server.client();
    let before = server.requests().len();
    let facts = gather(&client).await.expect("the cluster is readable");
    // The operator may run beside (with its own user agent): only the others count.
    let operator = cluster_image_registry_operator::client::user_agent();
    let writes: Vec<String> = server.requests()[before..]
        .iter()
        .filter(|r| r.is_write() && r.user_agent != operator)
        .map(|r| format!("{} {}", r.verb, r.resource))
        .collect();
    assert!(writes.is_empty(), "diagnose only reads: {writes:?}");
    findings(&facts)
}

/// The finding whose check starts with `check` and whose evidence contains `seen`.
fn find<'a>(found: &'a [Finding], check: &str, seen: &str) -> &'a Finding {
    found
        .iter()
        .find(|f| f.check.starts_with(check) && f.evidence.contains(seen))
        .unwrap_or_else(|| panic!("no {check} finding with {seen:?} in\n{found:#?}"))
}

/// Creates `obj` in the namespace (kind from its own fields) and sets its `status`.
fn seed(server: &ApiServer, group: &str, plural: &str, obj: Value, status: Option<Value>) {
    server
        .write(|s| {
            let t = s.find_type(group, "v1", plural).cloned().expect("known type");
            let name = obj["metadata"]["name"].as_str().unwrap().to_string();
            s.create(&t, NS, obj, false).map_err(|e| e.message)?;
            if let Some(st) = status {
                s.set_status(&t, NS, &name, st);
            }
            Ok::<_, String>(())
        })
        .unwrap();
}

/// The operator converged on `platform`, its own Deployment there (as the
/// cluster-version operator makes it) with a simulated Pod.
async fn converged(platform: &str) -> (ApiServer, Simulator, watch::Sender<bool>) {
    let server = seeded_server(platform).unwrap();
    let sim = server
        .simulate_workloads(Simulation { delay: Duration::from_millis(10), ..Default::default() });
    let labels = json!({"name": "cluster-image-registry-operator"});
    seed(
        &server,
        "apps",
        "deployments",
        json!({"metadata": {"name": "cluster-image-registry-operator", "labels": labels},
            "spec": {"replicas": 1, "selector": {"matchLabels": labels},
                "template": {"metadata": {"labels": labels}, "spec": {"containers": [
                    {"name": "operator", "image": "quay.io/example/operator"}]}}}}),
        None,
    );
    let client = cluster_image_registry_operator::client::in_process(&server);
    let ctx =
        Context::new(client.clone(), cluster_image_registry_operator::render_cmd::operator_env());
    let (stop, stop_rx) = watch::channel(false);
    let (results, _) = watch::channel(None);
    let metrics = Arc::new(cluster_image_registry_operator::metrics::Metrics::default());
    tokio::spawn(cluster_image_registry_operator::controller::run(ctx, stop_rx, results, metrics));
    let cos: Api<ClusterOperator> = Api::all(client);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let co = cos.get_opt("image-registry").await.unwrap().and_then(|c| c.status);
        let is = |t: &str, s: ConditionStatus| {
            co.as_ref()
                .is_some_and(|co| co.conditions.iter().any(|c| c.type_ == t && c.status == s))
        };
        if is("Available", ConditionStatus::True) && is("Progressing", ConditionStatus::False) {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "the operator did not converge");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    (server, sim, stop)
}

#[tokio::test]
async fn a_converged_cluster_has_nothing_to_act_on() {
    let (server, _sim, _stop) = converged("Libvirt").await;
    let found = diagnosed(&server).await;
    let text = cluster_image_registry_operator::diagnose::text(&found);
    assert!(found.iter().all(|f| f.ok), "{text}");
    for check in [
        "ClusterOperator image-registry",
        "Config cluster",
        "registry Deployment",
        "registry Pod",
        "operator",
        "CA config maps",
    ] {
        assert!(found.iter().any(|f| f.check.starts_with(check)), "{check} is checked:\n{text}");
    }
    assert!(text.ends_with("all is well\n"), "{text}");
}

#[tokio::test]
async fn nothing_installed_says_the_cluster_version_operator_did_not_install_it() {
    let server = seeded_server("AWS").unwrap();
    let found = diagnosed(&server).await;
    assert!(!find(&found, "ClusterOperator", "does not exist").ok);
    assert!(!find(&found, "Config cluster", "does not exist").ok);
    let op = find(&found, "operator", "deployment/cluster-image-registry-operator does not exist");
    assert!(op.advice.as_deref().unwrap().contains("cluster-version operator"), "{op:?}");
}

#[tokio::test]
async fn removed_explains_the_missing_registry_and_unhealthy_conditions_are_listed() {
    let (server, _sim, stop) = converged("Libvirt").await;
    let configs: Api<api::Config> = Api::all(server.client());
    configs
        .patch(
            "cluster",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"managementState": "Removed"}})),
        )
        .await
        .unwrap();
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(server.client(), NS);
    for _ in 0..200 {
        if deployments.get_opt("image-registry").await.unwrap().is_none() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let found = diagnosed(&server).await;
    assert!(find(&found, "registry Deployment", "Removed asks").ok);

    // A condition the wrong way round is a finding with its message (the operator stopped,
    // so that it does not set the condition right again).
    stop.send(true).unwrap();
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut status = serde_json::to_value(configs.get("cluster").await.unwrap().status).unwrap();
    status["conditions"].as_array_mut().unwrap().push(json!({"type": "StorageExists",
        "status": "False", "reason": "NoSuchBucket", "message": "The specified bucket does not exist",
        "lastTransitionTime": "2026-01-01T00:00:00Z"}));
    configs
        .patch_status("cluster", &PatchParams::default(), &Patch::Merge(json!({"status": status})))
        .await
        .unwrap();
    let found = diagnosed(&server).await;
    let f = find(&found, "Config cluster", "StorageExists]: False NoSuchBucket");
    assert!(!f.ok && f.advice.as_deref().unwrap().contains("credentials"), "{f:?}");
}

/// A registry Pod (label docker-registry=default) with `status`.
fn registry_pod(server: &ApiServer, name: &str, status: Value) {
    seed(
        server,
        "",
        "pods",
        json!({"metadata": {"name": name, "labels": {"docker-registry": "default"}},
            "spec": {"containers": [{"name": "registry", "image": "quay.io/example/registry"}]}}),
        Some(status),
    );
}

fn event_about(server: &ApiServer, pod: &str, reason: &str, message: &str) {
    seed(
        server,
        "",
        "events",
        json!({"metadata": {"name": format!("{pod}.{}", reason.to_lowercase())},
            "involvedObject": {"kind": "Pod", "name": pod, "namespace": NS},
            "reason": reason, "message": message, "type": "Warning"}),
        None,
    );
}

#[tokio::test]
async fn each_pod_that_does_not_run_says_why() {
    let server = seeded_server("AWS").unwrap();
    let waiting = |reason: &str, message: &str| {
        json!({"phase": "Pending", "containerStatuses": [{"name": "registry", "ready": false,
            "restartCount": 3, "image": "quay.io/example/registry", "imageID": "",
            "state": {"waiting": {"reason": reason, "message": message}}}]})
    };
    registry_pod(
        &server,
        "image-registry-pull",
        waiting("ImagePullBackOff", "Back-off pulling image"),
    );
    event_about(&server, "image-registry-pull", "Failed", "Failed to pull image: unauthorized");
    registry_pod(
        &server,
        "image-registry-crash-7f9c4",
        waiting("CrashLoopBackOff", "back-off 5m0s"),
    );
    let log = server.attach_log(NS, "image-registry-crash");
    log.push("level=info msg=\"starting registry\"");
    log.push("panic: s3aws: NoCredentialProviders: no valid providers in chain");
    registry_pod(
        &server,
        "image-registry-pending",
        json!({"phase": "Pending", "conditions": [{"type": "PodScheduled", "status": "False",
            "reason": "Unschedulable",
            "message": "0/3 nodes are available: 3 node(s) didn't match Pod's node affinity/selector."}]}),
    );
    registry_pod(
        &server,
        "image-registry-unready",
        json!({"phase": "Running", "conditions": [{"type": "Ready", "status": "False"}]}),
    );
    let found = diagnosed(&server).await;
    let pull = find(&found, "registry Pod image-registry-pull", "ImagePullBackOff");
    assert!(
        pull.evidence.contains("Failed to pull image: unauthorized"),
        "with its Event: {pull:?}"
    );
    assert!(pull.advice.as_deref().unwrap().contains("pull secret"));
    let crash = find(&found, "registry Pod image-registry-crash-7f9c4", "CrashLoopBackOff");
    assert!(crash.evidence.contains("NoCredentialProviders"), "with its log: {crash:?}");
    let pending = find(&found, "registry Pod image-registry-pending", "Unschedulable");
    assert!(pending.evidence.contains("0/3 nodes are available"), "{pending:?}");
    assert!(!find(&found, "registry Pod image-registry-unready", "not Ready").ok);
}

#[tokio::test]
async fn an_unbound_claim_and_an_unadmitted_route_are_findings() {
    let (server, _sim, _stop) = converged("Libvirt").await;
    let configs: Api<api::Config> = Api::all(server.client());
    let spec = json!({"storage": {"emptyDir": null, "pvc": {"claim": "registry-storage"}},
        "routes": [{"name": "public", "hostname": "registry.apps.example.com"}]});
    configs
        .patch("cluster", &PatchParams::default(), &Patch::Merge(json!({"spec": spec})))
        .await
        .unwrap();
    seed(
        &server,
        "",
        "persistentvolumeclaims",
        json!({"metadata": {"name": "registry-storage"},
            "spec": {"accessModes": ["ReadWriteMany"], "resources": {"requests": {"storage": "100Gi"}}}}),
        Some(json!({"phase": "Pending"})),
    );
    let routes: Api<api::Route> = Api::namespaced(server.client(), NS);
    for _ in 0..200 {
        if routes.get_opt("public").await.unwrap().is_some() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let found = diagnosed(&server).await;
    let claim = find(&found, "storage claim", "persistentvolumeclaim/registry-storage");
    assert!(!claim.ok && claim.evidence.contains("Pending"), "{claim:?}");
    let route = find(&found, "route public", "route/public");
    assert!(!route.ok, "{route:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_exits_0_1_or_2_and_prints_text_or_json() {
    let (server, _sim, _stop) = converged("Libvirt").await;
    let running = server.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let dir = testkit::ScratchDir::new("diagnose-bin").unwrap();
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(&kubeconfig, testkit::apiserver::kubeconfig(&running.url())).unwrap();
    // The binary runs off the runtime's threads: the server it asks is served on them.
    let run = |args: &[&str], kubeconfig: &std::path::Path| {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_cluster-image-registry-operator"));
        cmd.arg("diagnose").arg("--kubeconfig").arg(kubeconfig).args(args);
        async move {
            let out = tokio::task::spawn_blocking(move || cmd.output()).await.unwrap().unwrap();
            let text = String::from_utf8_lossy(&out.stdout).into_owned();
            (out.status.code(), text, String::from_utf8_lossy(&out.stderr).into_owned())
        }
    };
    let (code, text, _) = run(&[], &kubeconfig).await;
    assert_eq!(code, Some(0), "{text}");
    assert!(text.contains("✓ ClusterOperator image-registry") && text.ends_with("all is well\n"));
    let (code, json_text, _) = run(&["-o", "json"], &kubeconfig).await;
    assert_eq!(code, Some(0));
    let doc: Value = serde_json::from_str(&json_text).unwrap();
    assert_eq!(doc["ok"], true);
    assert!(
        doc["findings"]
            .as_array()
            .unwrap()
            .iter()
            .all(|f| f["ok"] == true && f["check"].is_string())
    );

    // Something wrong: exit 1.
    let configs: Api<api::Config> = Api::all(server.client());
    configs
        .patch(
            "cluster",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"managementState": "Unmanaged"}})),
        )
        .await
        .unwrap();
    let deployments: Api<k8s_openapi::api::apps::v1::Deployment> =
        Api::namespaced(server.client(), NS);
    deployments.delete("image-registry", &Default::default()).await.unwrap();
    let (code, text, _) = run(&[], &kubeconfig).await;
    assert_eq!(code, Some(1), "{text}");
    assert!(text.contains("✗ registry Deployment") && text.contains("Unmanaged"), "{text}");

    // Forbidden: exit 2, naming the verb and resource.
    server.authorize(
        &cluster_image_registry_operator::client::user_agent(),
        "system:serviceaccount:openshift-image-registry:diagnose",
        testkit::rbac::Grants::for_service_account(&[], NS, "diagnose"),
    );
    let (code, _, err) = run(&[], &kubeconfig).await;
    assert_eq!(code, Some(2), "{err}");
    assert!(err.contains("forbidden: get clusteroperators.config.openshift.io"), "{err}");

    // Unreachable: exit 2.
    running.handle.abort();
    let closed = dir.join("closed");
    std::fs::write(
        &closed,
        testkit::apiserver::kubeconfig(&format!("https://127.0.0.1:{}", common_free_port())),
    )
    .unwrap();
    let (code, _, err) = run(&[], &closed).await;
    assert_eq!(code, Some(2), "{err}");
    assert!(
        err.contains("cannot reach the cluster") || err.contains("cannot read the cluster"),
        "{err}"
    );
}

fn common_free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}
