//! Plain Kubernetes: a cluster with the registry's own CRDs and none of OpenShift's APIs
//! (no config.openshift.io, no route.openshift.io). The operator still converges the
//! registry on emptyDir, reports on the Config only, and never asks for what is not there.

use std::process::{Command, Stdio};
use std::sync::Arc;
use std::time::Duration;

use api::{ConditionStatus, Config};
use cluster_image_registry_operator::kubernetes::OpenShiftApis;
use cluster_image_registry_operator::sync::Context;
use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use serde_json::json;
use testkit::apiserver::ApiServer;
use testkit::apiserver::simulator::Simulation;
use tokio::sync::watch;

mod common;

const NS: &str = "openshift-image-registry";

/// An API server with the registry's CRDs and its namespace, and nothing of OpenShift.
fn plain_server() -> ApiServer {
    let server = ApiServer::new(Default::default());
    for crd in api::schema::crds() {
        server.register_crd(serde_json::to_value(crd).unwrap()).unwrap();
    }
    server
        .write(|s| {
            let t = s.find_type("", "v1", "namespaces").cloned().unwrap();
            s.create(&t, "", json!({"metadata": {"name": NS}}), false)
                .map(drop)
                .map_err(|e| e.message)
        })
        .unwrap();
    server
}

/// The Config once `done` holds for it (30 s at most).
async fn config_when(server: &ApiServer, done: impl Fn(&Config) -> bool) -> Config {
    let configs: Api<Config> = Api::all(server.client());
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        if let Some(c) = configs.get_opt("cluster").await.unwrap()
            && done(&c)
        {
            return c;
        }
        assert!(tokio::time::Instant::now() < deadline, "the Config did not get there");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

fn condition(c: &Config, type_: &str) -> Option<(ConditionStatus, String)> {
    let cond = c.status.as_ref()?.conditions.iter().find(|x| x.type_ == type_)?;
    Some((cond.status, cond.message.clone()))
}

#[tokio::test]
async fn the_registry_converges_without_openshifts_apis() {
    let server = plain_server();
    let _sim = server
        .simulate_workloads(Simulation { delay: Duration::from_millis(10), ..Default::default() });
    let client = cluster_image_registry_operator::client::in_process(&server);
    let mut ctx = Context::new(client, cluster_image_registry_operator::render_cmd::operator_env());
    ctx.openshift = OpenShiftApis { config: false, routes: false, cert_manager: false };
    let clock = Arc::new(std::sync::atomic::AtomicI64::new(1_796_385_600)); // 2026-12-04
    let now = clock.clone();
    ctx.now = Arc::new(move || {
        jiff::Timestamp::from_second(now.load(std::sync::atomic::Ordering::Relaxed)).unwrap()
    });
    let (stop, stop_rx) = watch::channel(false);
    let (results, _) = watch::channel(None);
    let metrics = Arc::new(cluster_image_registry_operator::metrics::Metrics::default());
    let task = tokio::spawn(cluster_image_registry_operator::controller::run(
        ctx, stop_rx, results, metrics,
    ));
    let available =
        |c: &Config| condition(c, "Available").is_some_and(|a| a.0 == ConditionStatus::True);
    let c = config_when(&server, available).await;
    let storage = c.spec.storage.clone().unwrap();
    assert!(storage.empty_dir.is_some(), "{storage:?}");
    let known = condition(&c, "InfrastructureKnown").unwrap();
    assert_eq!(known.0, ConditionStatus::False);
    assert!(known.1.contains("plain Kubernetes"), "the status says what is missing: {}", known.1);
    let node_ca = condition(&c, "NodeCADaemonAvailable").unwrap();
    assert!(node_ca.1.contains("node-ca is not deployed"), "said so: {}", node_ca.1);
    let daemon_sets: Api<k8s_openapi::api::apps::v1::DaemonSet> =
        Api::namespaced(server.client(), NS);
    assert!(daemon_sets.get_opt("node-ca").await.unwrap().is_none(), "no node-ca");
    let cron_jobs: Api<k8s_openapi::api::batch::v1::CronJob> = Api::namespaced(server.client(), NS);
    assert!(
        cron_jobs.get_opt("image-pruner").await.unwrap().is_none(),
        "no pruner without an image"
    );
    let pruners: Api<api::ImagePruner> = Api::all(server.client());
    let pruner = pruners.get("cluster").await.unwrap().status.unwrap();
    let scheduled = pruner.conditions.iter().find(|c| c.type_ == "Scheduled").unwrap();
    assert!(scheduled.message.contains("IMAGE_PRUNER"), "said so: {}", scheduled.message);
    let d: Deployment = Api::namespaced(server.client(), NS).get("image-registry").await.unwrap();
    let pod = d.spec.unwrap().template.spec.unwrap();
    assert_eq!(pod.security_context.unwrap().fs_group, Some(1001), "no SCC annotation to read");
    let asked: Vec<String> = server
        .requests()
        .iter()
        .filter(|r| r.path.contains("config.openshift.io") || r.path.contains("route.openshift.io"))
        .map(|r| format!("{} {}", r.verb, r.path))
        .collect();
    assert!(asked.is_empty(), "nothing of OpenShift is asked for: {asked:?}");
    let node_lists = server
        .requests()
        .iter()
        .filter(|r| r.resource == "nodes" && r.verb == "list" && !r.path.contains("labelSelector"))
        .count();
    assert_eq!(node_lists, 1, "the Nodes' provider is read once, not at every pass");

    // No service CA operator: the operator made the serving certificate the Pods mount,
    // and makes it again 30 days before it expires.
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(server.client(), NS);
    let not_after = |s: &k8s_openapi::api::core::v1::Secret| {
        s.metadata.annotations.as_ref().and_then(|a| {
            a.get(cluster_image_registry_operator::serving_cert::NOT_AFTER_ANNOTATION).cloned()
        })
    };
    let first = secrets.get("image-registry-tls").await.unwrap();
    assert_eq!(first.type_.as_deref(), Some("kubernetes.io/tls"));
    // ...and it is the CA the registry's hostname keys carry for its clients.
    let crt = String::from_utf8(first.data.as_ref().unwrap()["tls.crt"].0.clone()).unwrap();
    let maps: Api<k8s_openapi::api::core::v1::ConfigMap> = Api::namespaced(server.client(), NS);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let cm = maps.get_opt("image-registry-certificates").await.unwrap();
        let key =
            cm.and_then(|c| c.data?.remove("image-registry.openshift-image-registry.svc..5000"));
        if key.as_deref() == Some(crt.as_str()) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the hostname key is not the certificate: {key:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(not_after(&first).as_deref(), Some("2027-12-04T00:00:00Z"));
    clock.fetch_add(340 * 86_400, std::sync::atomic::Ordering::Relaxed);
    let configs: Api<Config> = Api::all(server.client());
    let wake = json!({"spec": {"logLevel": "Debug"}});
    configs.patch("cluster", &Default::default(), &kube::api::Patch::Merge(wake)).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while not_after(&secrets.get("image-registry-tls").await.unwrap()).as_deref()
        == Some("2027-12-04T00:00:00Z")
    {
        assert!(tokio::time::Instant::now() < deadline, "the certificate was not renewed");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    // A certificate the user put there instead is theirs: kept as it is.
    let mut theirs = secrets.get("image-registry-tls").await.unwrap();
    theirs.metadata.annotations = None;
    theirs.metadata.managed_fields = None;
    let theirs = secrets.replace("image-registry-tls", &Default::default(), &theirs).await.unwrap();
    clock.fetch_add(400 * 86_400, std::sync::atomic::Ordering::Relaxed);
    let wake = json!({"spec": {"logLevel": "Normal"}});
    configs.patch("cluster", &Default::default(), &kube::api::Patch::Merge(wake)).await.unwrap();
    tokio::time::sleep(Duration::from_millis(500)).await;
    let kept = secrets.get("image-registry-tls").await.unwrap();
    assert_eq!(
        kept.metadata.resource_version, theirs.metadata.resource_version,
        "the user's certificate is kept"
    );
    let _ = stop.send(true);
    let _ = task.await;
}

/// The binary finds out by itself that the cluster is plain Kubernetes, takes the
/// platform from `--platform`, and an unknown one is a condition and an Event, not a
/// crash loop.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_discovers_plain_kubernetes_and_reports_an_unknown_platform() {
    let server = plain_server();
    let _sim = server
        .simulate_workloads(Simulation { delay: Duration::from_millis(10), ..Default::default() });
    let running = server.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let dir = testkit::ScratchDir::new("kubernetes-run").unwrap();
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(&kubeconfig, testkit::apiserver::kubeconfig(&running.url())).unwrap();
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cluster-image-registry-operator"))
        .args(["run", "--no-leader-election", "--platform", "Mars", "--kubeconfig"])
        .arg(&kubeconfig)
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .env("RELEASE_VERSION", "4.21.0")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let c = config_when(&server, |c| {
        condition(c, "InfrastructureKnown")
            .is_some_and(|k| k.1.contains("\"Mars\" is not a platform"))
            && condition(c, "Available").is_some_and(|a| a.0 == ConditionStatus::True)
    })
    .await;
    assert!(c.spec.storage.unwrap().empty_dir.is_some());
    let said = warnings(&server, "PlatformUnknown").await;
    assert_eq!(said.len(), 1, "one Event says it: {said:?}");
    assert!(said[0].contains("\"Mars\" is not a platform"), "{said:?}");
    assert_eq!(child.try_wait().unwrap(), None, "still running");
    let _ = child.kill();
    let _ = child.wait();
    running.handle.abort();
}

/// `local --kubernetes` stands up a plain cluster and the operator on it: `--once`
/// converges (following the Config, there being no ClusterOperator), and while it runs
/// `diagnose` against it finds nothing to act on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn local_kubernetes_converges_and_diagnose_finds_it_well() {
    let dir = testkit::ScratchDir::new("local-kubernetes").unwrap();
    let bin = env!("CARGO_BIN_EXE_cluster-image-registry-operator");
    let once = dir.join("once.kubeconfig");
    let out = tokio::task::spawn_blocking(move || {
        Command::new(bin)
            .args(["local", "--kubernetes", "--once", "--timeout", "30", "--kubeconfig"])
            .arg(&once)
            .output()
    })
    .await
    .unwrap()
    .unwrap();
    let text = String::from_utf8_lossy(&out.stdout).into_owned();
    assert!(out.status.success(), "{text}{}", String::from_utf8_lossy(&out.stderr));
    assert!(text.contains("config/cluster: managementState=Managed  Available=True"), "{text}");

    let kubeconfig = dir.join("kubeconfig");
    let mut local = Command::new(bin)
        .args(["local", "--kubernetes", "--kubeconfig"])
        .arg(&kubeconfig)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let report = loop {
        let kc = kubeconfig.clone();
        let run = tokio::task::spawn_blocking(move || {
            Command::new(bin).arg("diagnose").arg("--kubeconfig").arg(kc).output()
        });
        let out = run.await.unwrap().unwrap();
        let text = String::from_utf8_lossy(&out.stdout).into_owned();
        if out.status.code() == Some(0) || tokio::time::Instant::now() > deadline {
            break (out.status.code(), text);
        }
        tokio::time::sleep(Duration::from_millis(300)).await;
    };
    let _ = local.kill();
    let _ = local.wait();
    assert_eq!(report.0, Some(0), "{}", report.1);
    assert!(
        report.1.contains("plain Kubernetes") && report.1.ends_with("all is well\n"),
        "{}",
        report.1
    );
}

/// Starts the controller on a plain cluster (no OpenShift API group); `tweak` sets the
/// context's plain-Kubernetes options.
fn start_plain(
    server: &ApiServer,
    tweak: impl FnOnce(&mut Context),
) -> (watch::Sender<bool>, tokio::task::JoinHandle<()>) {
    let client = cluster_image_registry_operator::client::in_process(server);
    let mut ctx = Context::new(client, cluster_image_registry_operator::render_cmd::operator_env());
    ctx.openshift = OpenShiftApis { config: false, routes: false, cert_manager: false };
    tweak(&mut ctx);
    let (stop, stop_rx) = watch::channel(false);
    let (results, _) = watch::channel(None);
    let metrics = Arc::new(cluster_image_registry_operator::metrics::Metrics::default());
    let task = tokio::spawn(cluster_image_registry_operator::controller::run(
        ctx, stop_rx, results, metrics,
    ));
    (stop, task)
}

/// The Warning Events of the operator with `reason`, their messages.
async fn warnings(server: &ApiServer, reason: &str) -> Vec<String> {
    let events: Api<k8s_openapi::api::core::v1::Event> = Api::namespaced(server.client(), NS);
    let list = events.list(&Default::default()).await.unwrap().items;
    list.into_iter()
        .filter(|e| e.reason.as_deref() == Some(reason))
        .filter_map(|e| e.message)
        .collect()
}

fn degraded(c: &Config) -> (ConditionStatus, String) {
    let cond = c.status.as_ref().and_then(|s| s.conditions.iter().find(|x| x.type_ == "Degraded"));
    cond.map(|x| (x.status, format!("{}: {}", x.reason, x.message)))
        .unwrap_or((ConditionStatus::Unknown, String::new()))
}

/// Without route.openshift.io the spec's routes are Ingresses of `--ingress-class`: a TLS
/// secret without `tls.crt` and a class that does not exist each give a condition and an
/// Event, never a crash loop; Ingresses the spec no longer names go, as Routes do. The
/// namespace enforces the restricted Pod Security Standard: the registry's Pods are
/// admitted (the test bed refuses what kube-apiserver would).
#[tokio::test]
async fn routes_become_ingresses_of_the_class_and_pods_meet_restricted() {
    use k8s_openapi::api::networking::v1::{Ingress, IngressClass};
    let server = plain_server();
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(server.client());
    let enforce =
        json!({"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "restricted"}}});
    namespaces.patch(NS, &Default::default(), &kube::api::Patch::Merge(enforce)).await.unwrap();
    let secrets: Api<k8s_openapi::api::core::v1::Secret> = Api::namespaced(server.client(), NS);
    let no_crt = json!({"metadata": {"name": "registry-tls"}, "stringData": {"tls.key": "KEY"}});
    secrets.create(&Default::default(), &serde_json::from_value(no_crt).unwrap()).await.unwrap();
    let configs: Api<Config> = Api::all(server.client());
    let _sim = server
        .simulate_workloads(Simulation { delay: Duration::from_millis(10), ..Default::default() });
    let (stop, task) = start_plain(&server, |ctx| ctx.ingress_class = Some("nginx".into()));
    config_when(&server, |c| {
        condition(c, "Available").is_some_and(|a| a.0 == ConditionStatus::True)
    })
    .await;

    let routes = json!({"spec": {"defaultRoute": true, "routes": [
        {"name": "extra", "hostname": "registry.example.com", "secretName": "registry-tls"}]}});
    configs.patch("cluster", &Default::default(), &kube::api::Patch::Merge(routes)).await.unwrap();
    let c = config_when(&server, |c| {
        condition(c, "Progressing").is_some_and(|p| p.1.contains("has no tls.crt"))
    })
    .await;
    let progressing = condition(&c, "Progressing").unwrap();
    assert_eq!(progressing.0, ConditionStatus::True, "retried when the secret changes");
    assert!(
        progressing.1.contains("secret \"registry-tls\" has no tls.crt (route extra)"),
        "{}",
        progressing.1
    );
    let said = warnings(&server, "ApplyFailed").await;
    assert_eq!(said.len(), 1, "one Event for it: {said:?}");

    let fixed = json!({"stringData": {"tls.crt": "CRT"}});
    secrets
        .patch("registry-tls", &Default::default(), &kube::api::Patch::Merge(fixed))
        .await
        .unwrap();
    let c = config_when(&server, |c| degraded(c).1.starts_with("RouteDegraded")).await;
    assert_eq!(
        degraded(&c),
        (ConditionStatus::True, "RouteDegraded: ingresses default-route, extra not served: IngressClass \"nginx\" (--ingress-class) does not exist: the cluster has no IngressClass".to_string())
    );
    assert_eq!(warnings(&server, "RouteDegraded").await.len(), 1);
    let ingresses: Api<Ingress> = Api::namespaced(server.client(), NS);
    let extra = ingresses.get("extra").await.unwrap().spec.unwrap();
    assert_eq!(extra.ingress_class_name.as_deref(), Some("nginx"));
    assert_eq!(extra.tls.unwrap()[0].secret_name.as_deref(), Some("registry-tls"));
    assert_eq!(extra.rules.unwrap()[0].host.as_deref(), Some("registry.example.com"));
    assert!(ingresses.get_opt("default-route").await.unwrap().is_some());

    let classes: Api<IngressClass> = Api::all(server.client());
    let class =
        json!({"metadata": {"name": "nginx"}, "spec": {"controller": "k8s.io/ingress-nginx"}});
    classes.create(&Default::default(), &serde_json::from_value(class).unwrap()).await.unwrap();
    config_when(&server, |c| degraded(c).0 == ConditionStatus::False).await;

    // Restricted: the registry's Pods were admitted, none refused.
    let d: Deployment = Api::namespaced(server.client(), NS).get("image-registry").await.unwrap();
    let failures: Vec<_> = d
        .status
        .unwrap()
        .conditions
        .unwrap_or_default()
        .into_iter()
        .filter(|c| c.type_ == "ReplicaFailure")
        .collect();
    assert!(failures.is_empty(), "{failures:?}");
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(server.client(), NS);
    assert!(!pods.list(&Default::default()).await.unwrap().items.is_empty(), "Pods were made");

    let fewer = json!({"spec": {"routes": null}});
    configs.patch("cluster", &Default::default(), &kube::api::Patch::Merge(fewer)).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while ingresses.get_opt("extra").await.unwrap().is_some() {
        assert!(
            tokio::time::Instant::now() < deadline,
            "the Ingress the spec no longer names stays"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let removed = json!({"spec": {"managementState": "Removed"}});
    configs.patch("cluster", &Default::default(), &kube::api::Patch::Merge(removed)).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    while ingresses.get_opt("default-route").await.unwrap().is_some() {
        assert!(tokio::time::Instant::now() < deadline, "Removed leaves the Ingress");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(true);
    let _ = task.await;
    common::rbac::audit_ours(&server);
}

/// The same registry in a namespace that enforces `restricted` fails as it would on a real
/// cluster when its Pods break the standard: the check above can fail.
#[tokio::test]
async fn a_pod_that_breaks_restricted_is_refused_in_the_registrys_namespace() {
    let server = plain_server();
    let namespaces: Api<k8s_openapi::api::core::v1::Namespace> = Api::all(server.client());
    let enforce =
        json!({"metadata": {"labels": {"pod-security.kubernetes.io/enforce": "restricted"}}});
    namespaces.patch(NS, &Default::default(), &kube::api::Patch::Merge(enforce)).await.unwrap();
    let pods: Api<k8s_openapi::api::core::v1::Pod> = Api::namespaced(server.client(), NS);
    let pod =
        json!({"metadata": {"name": "p"}, "spec": {"containers": [{"name": "c", "image": "i"}]}});
    let err =
        pods.create(&Default::default(), &serde_json::from_value(pod).unwrap()).await.unwrap_err();
    assert!(
        matches!(&err, kube::Error::Api(e) if e.code == 403 && e.message.contains("violates PodSecurity \"restricted:latest\"")),
        "{err}"
    );
}

/// With cert-manager's API served, the registry's serving certificate is a cert-manager
/// Certificate from the operator's self-signed Issuer, not one the operator signs: the
/// operator makes no Secret itself, and the CA cert-manager writes (`ca.crt`) is the one
/// the registry's clients get. A Secret someone else keeps gets no Certificate.
#[tokio::test]
async fn cert_manager_issues_the_serving_certificate_where_it_is_served() {
    use api::cert_manager::{Certificate, Issuer};
    use k8s_openapi::api::core::v1::{ConfigMap, Secret};
    let server = plain_server();
    let crds = std::fs::read_to_string(
        std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("tests/fixtures/cert-manager/crds.yaml"),
    )
    .unwrap();
    for crd in serde_saphyr::from_multiple::<serde_json::Value>(&crds).unwrap() {
        server.register_crd(crd).unwrap();
    }
    let _sim = server
        .simulate_workloads(Simulation { delay: Duration::from_millis(10), ..Default::default() });
    let (stop, task) = start_plain(&server, |ctx| ctx.openshift.cert_manager = true);
    let certificates: Api<Certificate> = Api::namespaced(server.client(), NS);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    let certificate = loop {
        if let Some(c) = certificates.get_opt("image-registry").await.unwrap() {
            break c;
        }
        assert!(tokio::time::Instant::now() < deadline, "no Certificate");
        tokio::time::sleep(Duration::from_millis(50)).await;
    };
    assert_eq!(certificate.spec.secret_name, "image-registry-tls");
    assert_eq!(certificate.spec.issuer_ref.name, "image-registry-selfsigned");
    assert_eq!(certificate.spec.private_key.unwrap().algorithm, "ECDSA", "kept by the schema");
    let issuers: Api<Issuer> = Api::namespaced(server.client(), NS);
    assert!(issuers.get("image-registry-selfsigned").await.unwrap().spec.self_signed.is_some());
    let secrets: Api<Secret> = Api::namespaced(server.client(), NS);
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(
        secrets.get_opt("image-registry-tls").await.unwrap().is_none(),
        "cert-manager's to make"
    );

    // What cert-manager writes once it has issued it.
    let (ca, leaf) = ("-----BEGIN CERTIFICATE-----\nCA\n-----END CERTIFICATE-----\n", "LEAF");
    let issued = json!({"metadata": {"name": "image-registry-tls",
        "annotations": {"cert-manager.io/certificate-name": "image-registry"}},
        "type": "kubernetes.io/tls", "stringData": {"tls.crt": leaf, "tls.key": "KEY", "ca.crt": ca}});
    secrets.create(&Default::default(), &serde_json::from_value(issued).unwrap()).await.unwrap();
    let maps: Api<ConfigMap> = Api::namespaced(server.client(), NS);
    let deadline = tokio::time::Instant::now() + Duration::from_secs(30);
    loop {
        let cm = maps.get_opt("image-registry-certificates").await.unwrap();
        let key =
            cm.and_then(|c| c.data?.remove("image-registry.openshift-image-registry.svc..5000"));
        if key.as_deref() == Some(ca) {
            break;
        }
        assert!(
            tokio::time::Instant::now() < deadline,
            "the hostname key is not cert-manager's CA: {key:?}"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let _ = stop.send(true);
    let _ = task.await;
    common::rbac::audit_ours(&server);

    // A Secret the user keeps: no Certificate would take it over.
    let server = plain_server();
    for crd in serde_saphyr::from_multiple::<serde_json::Value>(&crds).unwrap() {
        server.register_crd(crd).unwrap();
    }
    let theirs = json!({"metadata": {"name": "image-registry-tls"}, "type": "kubernetes.io/tls",
        "stringData": {"tls.crt": "THEIRS", "tls.key": "KEY"}});
    let secrets: Api<Secret> = Api::namespaced(server.client(), NS);
    secrets.create(&Default::default(), &serde_json::from_value(theirs).unwrap()).await.unwrap();
    let (stop, task) = start_plain(&server, |ctx| ctx.openshift.cert_manager = true);
    config_when(&server, |c| condition(c, "Progressing").is_some()).await;
    let certificates: Api<Certificate> = Api::namespaced(server.client(), NS);
    assert!(certificates.get_opt("image-registry").await.unwrap().is_none(), "theirs is kept");
    let _ = stop.send(true);
    let _ = task.await;
}
