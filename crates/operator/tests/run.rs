//! `run`: leader election, health and metrics, user agent, SIGTERM; two instances where
//! only the leader acts and the other takes over when it dies.

mod common;

use std::io::{Read, Write};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use cluster_image_registry_operator::leader::{self, LEASE_NAME, Timing};
use cluster_image_registry_operator::local_cmd::seeded_server;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use kube::api::DeleteParams;
use tokio::sync::watch;

const NS: &str = "openshift-image-registry";

fn fast() -> Timing {
    Timing {
        lease_duration: Duration::from_secs(2),
        renew_deadline: Duration::from_millis(1500),
        retry_period: Duration::from_millis(200),
    }
}

#[tokio::test]
async fn one_leader_and_a_takeover_after_release() {
    let server = seeded_server("None").unwrap();
    let leases: Api<Lease> = Api::namespaced(server.client(), NS);
    assert!(leader::try_acquire(&leases, "a", &fast()).await.unwrap());
    assert!(!leader::try_acquire(&leases, "b", &fast()).await.unwrap(), "held by a");
    assert!(leader::try_acquire(&leases, "a", &fast()).await.unwrap(), "a renews");
    let (a_tx, a_rx) = watch::channel(false);
    let (a_stop_tx, a_stop) = watch::channel(false);
    let a = tokio::spawn(leader::campaign(leases.clone(), "a".into(), fast(), a_tx, a_stop));
    let (b_tx, b_rx) = watch::channel(false);
    let (_b_stop_tx, b_stop) = watch::channel(false);
    let _b = tokio::spawn(leader::campaign(leases.clone(), "b".into(), fast(), b_tx, b_stop));
    tokio::time::sleep(Duration::from_millis(600)).await;
    assert!(*a_rx.borrow() && !*b_rx.borrow(), "exactly one leader");
    a_stop_tx.send(true).unwrap();
    a.await.unwrap();
    let lease = leases.get(LEASE_NAME).await.unwrap();
    assert_ne!(lease.spec.unwrap().holder_identity.as_deref(), Some("a"), "released on stop");
    let deadline = Instant::now() + Duration::from_secs(3);
    while !*b_rx.borrow() {
        assert!(Instant::now() < deadline, "b takes over a released lease");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_expired_lease_is_taken_over() {
    let server = seeded_server("None").unwrap();
    let leases: Api<Lease> = Api::namespaced(server.client(), NS);
    assert!(leader::try_acquire(&leases, "dead", &fast()).await.unwrap());
    assert!(!leader::try_acquire(&leases, "b", &fast()).await.unwrap());
    tokio::time::sleep(Duration::from_millis(2100)).await;
    assert!(
        leader::try_acquire(&leases, "b", &fast()).await.unwrap(),
        "expired after its duration"
    );
    let spec = leases.get(LEASE_NAME).await.unwrap().spec.unwrap();
    assert_eq!((spec.holder_identity.as_deref(), spec.lease_transitions), (Some("b"), Some(1)));
}

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port()
}

fn http_get(port: u16, path: &str) -> String {
    let mut s = std::net::TcpStream::connect(("127.0.0.1", port)).unwrap();
    write!(s, "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n").unwrap();
    let mut out = String::new();
    s.read_to_string(&mut out).unwrap();
    out
}

fn operator(kubeconfig: &std::path::Path, port: u16, pod: &str) -> Child {
    Command::new(env!("CARGO_BIN_EXE_cluster-image-registry-operator"))
        .args(["run", "--kubeconfig"])
        .arg(kubeconfig)
        .args(["--listen", &format!("127.0.0.1:{port}"), "--lease-timing", "2,1,1"])
        .env("POD_NAME", pod)
        .env("RELEASE_VERSION", "4.21.0")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap()
}

async fn eventually<F, Fut>(what: &str, mut f: F)
where
    F: FnMut() -> Fut,
    Fut: std::future::Future<Output = bool>,
{
    let deadline = Instant::now() + Duration::from_secs(20);
    while !f().await {
        assert!(Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_binary_leads_serves_metrics_and_stops_on_sigterm() {
    let server = seeded_server("Libvirt").unwrap();
    let _sim = server.simulate_workloads(Default::default());
    let running = server.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let dir = testkit::ScratchDir::new("run-test").unwrap();
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(&kubeconfig, testkit::apiserver::kubeconfig(&running.url())).unwrap();
    let client = server.client();
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NS);
    let leases: Api<Lease> = Api::namespaced(client.clone(), NS);

    let (pa, pb) = (free_port(), free_port());
    let mut a = operator(&kubeconfig, pa, "operator-a");
    eventually("a deploys the registry", || async {
        deployments.get_opt("image-registry").await.unwrap().is_some()
    })
    .await;
    let holder = leases.get(LEASE_NAME).await.unwrap().spec.unwrap().holder_identity;
    assert_eq!(holder.as_deref(), Some("operator-a"));
    let mut b = operator(&kubeconfig, pb, "operator-b");
    tokio::time::sleep(Duration::from_millis(1500)).await;
    assert!(http_get(pb, "/healthz").contains("200 OK"), "the follower is healthy");
    assert!(
        http_get(pb, "/metrics").contains("image_registry_operator_reconcile_total 0"),
        "the follower runs no pass"
    );
    assert!(
        server
            .requests()
            .iter()
            .any(|r| r.user_agent.starts_with("cluster-image-registry-operator/"))
    );

    let passes = |port| -> u64 {
        http_get(port, "/metrics")
            .lines()
            .find_map(|l| {
                l.strip_prefix("image_registry_operator_reconcile_total ")?.trim().parse().ok()
            })
            .unwrap_or(0)
    };
    assert!(passes(pa) > 0, "the leader runs passes");
    let metrics = http_get(pa, "/metrics");
    assert!(metrics.contains("image_registry_storage_type{storage=\"EmptyDir\"} 1"), "{metrics}");
    assert!(metrics.contains("image_registry_operator_image_pruner_install_status 2"), "{metrics}");
    assert!(http_get(pa, "/readyz").contains("200 OK"));

    // SIGKILL the leader: b takes over once the lease expires and acts.
    a.kill().unwrap();
    let _ = a.wait();
    deployments.delete("image-registry", &DeleteParams::default()).await.unwrap();
    eventually("b recreates the Deployment", || async {
        deployments.get_opt("image-registry").await.unwrap().is_some()
    })
    .await;
    let holder = leases.get(LEASE_NAME).await.unwrap().spec.unwrap().holder_identity;
    assert_eq!(holder.as_deref(), Some("operator-b"));

    // SIGTERM: b stops within 10 s and releases the lease.
    let started = Instant::now();
    assert!(Command::new("kill").arg("-TERM").arg(b.id().to_string()).status().unwrap().success());
    let status = loop {
        if let Some(s) = b.try_wait().unwrap() {
            break s;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "stops within 10 s");
        tokio::time::sleep(Duration::from_millis(20)).await;
    };
    assert!(status.success(), "{status:?}");
    let holder = leases.get(LEASE_NAME).await.unwrap().spec.unwrap().holder_identity;
    assert_eq!(holder.as_deref(), Some(""), "released");
    let mut err = String::new();
    b.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    assert!(
        err.contains("Cluster Image Registry Operator Version:")
            && err.contains("Platform: \"Libvirt\""),
        "{err}"
    );
    running.handle.abort();
}

#[tokio::test]
async fn metrics_over_https_with_a_certificate() {
    let Some(curl) = which("curl") else {
        eprintln!("metrics_over_https_with_a_certificate: curl not found; skipped");
        return;
    };
    let server = seeded_server("None").unwrap();
    let running = server.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let dir = testkit::ScratchDir::new("run-tls").unwrap();
    let (cert, key, kubeconfig) =
        (dir.join("tls.crt"), dir.join("tls.key"), dir.join("kubeconfig"));
    std::fs::write(&kubeconfig, testkit::apiserver::kubeconfig(&running.url())).unwrap();
    common::self_signed(&cert, &key, "localhost");
    let port = free_port();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cluster-image-registry-operator"))
        .args(["run", "--no-leader-election", "--kubeconfig"])
        .arg(&kubeconfig)
        .args(["--listen", &format!("127.0.0.1:{port}"), "--tls-cert"])
        .arg(&cert)
        .arg("--tls-key")
        .arg(&key)
        .env("RELEASE_VERSION", "4.21.0")
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let mut body = String::new();
    let deadline = Instant::now() + Duration::from_secs(20);
    while !body.contains("image_registry_operator_reconcile_total") {
        assert!(Instant::now() < deadline, "metrics over HTTPS: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
        let out = Command::new(&curl)
            .args(["-sk", &format!("https://127.0.0.1:{port}/metrics")])
            .output()
            .unwrap();
        body = String::from_utf8_lossy(&out.stdout).into_owned();
    }
    let plain = Command::new(&curl)
        .args(["-s", &format!("http://127.0.0.1:{port}/metrics")])
        .output()
        .unwrap();
    assert!(
        !String::from_utf8_lossy(&plain.stdout).contains("image_registry_operator"),
        "no plain HTTP"
    );
    let _ = child.kill();
    let _ = child.wait();
    running.handle.abort();
}

/// The reference Deployment's arguments: `--config` (servingInfo: port, certificate, TLS 1.3
/// only) and `--files`, whose change ends the process with success so that it restarts.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn config_and_files_as_the_reference_deployment_passes_them() {
    let Some(curl) = which("curl") else {
        eprintln!(
            "config_and_files_as_the_reference_deployment_passes_them: curl not found; skipped"
        );
        return;
    };
    let server = seeded_server("None").unwrap();
    let running = server.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let dir = testkit::ScratchDir::new("run-config").unwrap();
    let (cert, key, kubeconfig, config) =
        (dir.join("tls.crt"), dir.join("tls.key"), dir.join("kubeconfig"), dir.join("config.yaml"));
    std::fs::write(&kubeconfig, testkit::apiserver::kubeconfig(&running.url())).unwrap();
    common::self_signed(&cert, &key, "localhost");
    let port = free_port();
    std::fs::write(
        &config,
        format!(
            "apiVersion: config.openshift.io/v1\nkind: GenericControllerConfig\nservingInfo:\n  bindAddress: \"127.0.0.1:{port}\"\n  certFile: {}\n  keyFile: {}\n  minTLSVersion: VersionTLS13\n",
            cert.display(),
            key.display()
        ),
    )
    .unwrap();
    let mut child = Command::new(env!("CARGO_BIN_EXE_cluster-image-registry-operator"))
        .args(["--no-leader-election", "--kubeconfig"])
        .arg(&kubeconfig)
        .arg(format!("--files={}", cert.display()))
        .arg(format!("--files={}", key.display()))
        .arg(format!("--config={}", config.display()))
        .env("RELEASE_VERSION", "4.21.0")
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let get = |extra: &[&str]| {
        let out = Command::new(&curl)
            .args(["-sk", "-o", "/dev/null", "-w", "%{http_code} %{http_version}"])
            .args(extra)
            .arg(format!("https://127.0.0.1:{port}/healthz"))
            .output()
            .unwrap();
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let deadline = Instant::now() + Duration::from_secs(20);
    while get(&[]) != "200 1.1" {
        assert!(Instant::now() < deadline, "HTTPS on the config's address: {}", get(&[]));
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    assert_eq!(get(&["--http2"]), "200 1.1", "HTTP/2 is off");
    assert!(get(&["--tls-max", "1.2"]).starts_with("000"), "TLS 1.2 refused under VersionTLS13");
    // A renewed certificate: the process ends, with success, and says why.
    std::fs::write(&cert, std::fs::read(&cert).unwrap().repeat(2)).unwrap();
    let (status, err) = exit_of(&mut child, "exits after --files changed").await;
    assert!(status.success(), "{err}");
    assert!(err.contains(&format!("{} changed; exiting", cert.display())), "{err}");
    running.handle.abort();
}

/// A Deployment env the binary cannot run with fails at start, with one line naming it.
#[test]
fn bad_deployment_env_fails_fast_naming_the_variable() {
    let run = |env: &[(&str, &str)], unset: &[&str]| {
        let mut c = Command::new(env!("CARGO_BIN_EXE_cluster-image-registry-operator"));
        c.args(["--kubeconfig", "/nonexistent/kubeconfig"]);
        for (k, v) in env {
            c.env(k, v);
        }
        for k in unset {
            c.env_remove(k);
        }
        let out = c.output().unwrap();
        (out.status.success(), String::from_utf8_lossy(&out.stderr).into_owned())
    };
    let (ok, err) = run(&[], &["RELEASE_VERSION"]);
    assert!(!ok && err.lines().count() == 1 && err.contains("RELEASE_VERSION is not set"), "{err}");
    let (ok, err) = run(&[("RELEASE_VERSION", "4.21.0"), ("WATCH_NAMESPACE", "default")], &[]);
    assert!(
        !ok && err.lines().count() == 1 && err.contains("WATCH_NAMESPACE is \"default\""),
        "{err}"
    );
    let (ok, err) = run(&[("RELEASE_VERSION", "4.21.0")], &[]);
    assert!(!ok && err.contains("/nonexistent/kubeconfig"), "a bad kubeconfig is named: {err}");
}

/// Waits (30 s at most) for `child` to exit; its status and standard error.
async fn exit_of(child: &mut Child, what: &str) -> (std::process::ExitStatus, String) {
    let deadline = Instant::now() + Duration::from_secs(30);
    let status = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(Instant::now() < deadline, "timed out: {what}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    };
    let mut err = String::new();
    child.stderr.take().unwrap().read_to_string(&mut err).unwrap();
    (status, err)
}

fn which(name: &str) -> Option<std::path::PathBuf> {
    std::env::split_paths(&std::env::var_os("PATH")?).map(|d| d.join(name)).find(|p| p.is_file())
}

/// A leader renews its Lease with one update per retry period and no read before it, as
/// client-go does; when someone else wrote the Lease meanwhile, it reads it again.
#[tokio::test]
async fn the_lease_is_renewed_with_one_update_and_no_read() {
    let server = seeded_server("None").unwrap();
    let leases: Api<Lease> = Api::namespaced(server.client(), NS);
    let (tx, rx) = watch::channel(false);
    let (stop_tx, stop) = watch::channel(false);
    let task = tokio::spawn(leader::campaign(leases.clone(), "a".into(), fast(), tx, stop));
    let deadline = Instant::now() + Duration::from_secs(3);
    while !*rx.borrow() {
        assert!(Instant::now() < deadline, "a leads");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    server.clear_requests();
    tokio::time::sleep(Duration::from_millis(1000)).await;
    let verbs: Vec<String> = server
        .requests()
        .iter()
        .filter(|r| r.resource == "leases")
        .map(|r| r.verb.clone())
        .collect();
    assert!(verbs.len() >= 3, "renewals every 200 ms: {verbs:?}");
    assert!(verbs.iter().all(|v| v == "update"), "one update each, no get: {verbs:?}");
    assert!(*rx.borrow(), "still the leader");
    stop_tx.send(true).unwrap();
    task.await.unwrap();
}

/// The trusted CA bundle the Deployment mounts (`--trusted-ca`, by default the reference's
/// path) is trusted by the cloud clients: S3 on an endpoint whose certificate only that
/// bundle vouches for is reached with it and refused without it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trusted_ca_bundle_reaches_the_cloud_clients() {
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let dir = testkit::ScratchDir::new("run-trusted-ca").unwrap();
    let (cert_file, key_file, bundle) =
        (dir.join("cert.pem"), dir.join("key.pem"), dir.join("tls-ca-bundle.pem"));
    std::fs::write(&cert_file, cert.cert.pem()).unwrap();
    std::fs::write(&key_file, cert.signing_key.serialize_pem()).unwrap();
    std::fs::write(&bundle, cert.cert.pem()).unwrap();
    let Some(moto) = testkit::emulators::or_skip(
        "the_trusted_ca_bundle_reaches_the_cloud_clients",
        testkit::emulators::moto_tls(&cert_file, &key_file),
    ) else {
        return;
    };
    for (trusted, want) in [(dir.join("absent.pem"), false), (bundle, true)] {
        let storage = cluster_image_registry_operator::local_cmd::Storage {
            s3_endpoint: Some(moto.endpoint.clone()),
            ..Default::default()
        };
        let server =
            cluster_image_registry_operator::local_cmd::seeded_server_with("AWS", &storage)
                .unwrap();
        let running = server.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
        let kubeconfig = dir.join("kubeconfig");
        std::fs::write(&kubeconfig, testkit::apiserver::kubeconfig(&running.url())).unwrap();
        let mut child = Command::new(env!("CARGO_BIN_EXE_cluster-image-registry-operator"))
            .args(["run", "--no-leader-election", "--kubeconfig"])
            .arg(&kubeconfig)
            .args(["--listen", &format!("127.0.0.1:{}", free_port()), "--trusted-ca"])
            .arg(&trusted)
            .env("RELEASE_VERSION", "4.21.0")
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let configs: Api<api::Config> = Api::all(server.client());
        let exists = || async {
            let c = configs.get_opt("cluster").await.unwrap()?;
            let cond = c.status?.conditions.into_iter().find(|c| c.type_ == "StorageExists")?;
            Some((cond.status == api::ConditionStatus::True, cond.message))
        };
        let deadline = Instant::now() + Duration::from_secs(30);
        let seen = loop {
            if let Some(seen) = exists().await
                && (seen.0 == want
                    || (!want && Instant::now() + Duration::from_secs(25) > deadline))
            {
                break seen;
            }
            assert!(Instant::now() < deadline, "StorageExists with {}", trusted.display());
            tokio::time::sleep(Duration::from_millis(200)).await;
        };
        assert_eq!(seen.0, want, "{}: {}", trusted.display(), seen.1);
        if !want {
            assert!(seen.1.contains("UnknownIssuer"), "refused for its certificate: {}", seen.1);
        }
        let _ = child.kill();
        let _ = child.wait();
        running.handle.abort();
    }
}

/// Sets the status of the cluster-scoped config.openshift.io object `plural/name`.
fn set_config_status(
    server: &testkit::apiserver::ApiServer,
    plural: &str,
    name: &str,
    status: serde_json::Value,
) {
    server.write(|s| {
        let t = s.find_type("config.openshift.io", "v1", plural).cloned().unwrap();
        s.set_status(&t, "", name, status);
    });
}

/// The feature gates as the reference reads them: the start waits for this release's
/// gates (and gives up with a line saying what is missing), ImageStreamImportMode puts the
/// import mode into the image config's status, and a change of the gates ends the process
/// with success, so that it starts again with them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn feature_gates_gate_the_start_and_a_change_ends_the_process() {
    let server = seeded_server("Libvirt").unwrap();
    let _sim = server.simulate_workloads(Default::default());
    let running = server.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let dir = testkit::ScratchDir::new("run-gates").unwrap();
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(&kubeconfig, testkit::apiserver::kubeconfig(&running.url())).unwrap();
    let start = || {
        Command::new(env!("CARGO_BIN_EXE_cluster-image-registry-operator"))
            .args(["run", "--no-leader-election", "--feature-gates-timeout", "2", "--kubeconfig"])
            .arg(&kubeconfig)
            .args(["--listen", &format!("127.0.0.1:{}", free_port())])
            .env("RELEASE_VERSION", "4.22.0")
            .env("OPERATOR_IMAGE_VERSION", "4.22.0")
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    // The FeatureGate lists the cluster's 4.21.0 only: no gates for 4.22.0 yet.
    let out = start().wait_with_output().unwrap();
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success());
    assert!(
        err.contains("featuregates.config.openshift.io/cluster after 2s: it lists no gates for version 4.22.0"),
        "{err}"
    );
    let gates = |enabled: &[&str]| {
        let names: Vec<serde_json::Value> =
            enabled.iter().map(|n| serde_json::json!({"name": n})).collect();
        serde_json::json!({"featureGates": [{"version": "4.22.0", "enabled": names}]})
    };
    set_config_status(&server, "featuregates", "cluster", gates(&["ImageStreamImportMode"]));
    set_config_status(
        &server,
        "clusterversions",
        "version",
        serde_json::json!({"desired": {"version": "4.22.0", "architecture": "Multi"}}),
    );
    let mut child = start();
    let images: Api<api::Image> = Api::all(server.client());
    eventually("the import mode of a multi-architecture cluster", || async {
        images
            .get("cluster")
            .await
            .unwrap()
            .status
            .is_some_and(|s| s.image_stream_import_mode == "PreserveOriginal")
    })
    .await;
    set_config_status(&server, "featuregates", "cluster", gates(&[]));
    let (status, err) = exit_of(&mut child, "exits when the gates change").await;
    assert!(status.success(), "{err}");
    assert!(err.contains("the feature gates of 4.22.0 changed (0 enabled, was 1)"), "{err}");
    running.handle.abort();
}

/// The cluster proxy (`HTTP_PROXY`, `HTTPS_PROXY`, `NO_PROXY` in the operator's
/// environment, as OpenShift injects them) carries the S3 and GCS clients' requests, through
/// a real forward proxy; a host `NO_PROXY` names is reached directly.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_storage_clients_go_through_the_cluster_proxy() {
    use testkit::emulators::{forward_proxy, gcs, moto_https, or_skip};
    let test = "the_storage_clients_go_through_the_cluster_proxy";
    // S3 over HTTPS (an AWS cluster's endpoints are https://): the proxy tunnels it.
    let moto = match moto_https() {
        Ok(m) => m,
        Err(e) => {
            or_skip(test, Err(e));
            return;
        }
    };
    let (s3, s3_ca) = (&moto.emulator, moto.cert_pem.clone());
    let (Some(proxy), Some(gcs)) = (or_skip(test, forward_proxy()), or_skip(test, gcs())) else {
        return;
    };
    let dir = testkit::ScratchDir::new("run-proxy").unwrap();
    let forwarded = |port: u16| {
        let log = std::fs::read_to_string(proxy.log()).unwrap_or_default();
        log.lines().filter(|l| l.contains(&format!("127.0.0.1:{port}"))).count()
    };
    for (platform, port, no_proxy) in [
        ("AWS", s3.port, "127.0.0.2"),
        ("GCP", gcs.port, "127.0.0.2"),
        ("AWS", s3.port, "127.0.0.2,127.0.0.1"),
    ] {
        let storage = cluster_image_registry_operator::local_cmd::Storage {
            s3_endpoint: (platform == "AWS").then(|| s3.endpoint.clone()),
            s3_ca: Some(s3_ca.clone()),
            gcs_endpoint: (platform == "GCP").then(|| gcs.endpoint.clone()),
            ..Default::default()
        };
        let server =
            cluster_image_registry_operator::local_cmd::seeded_server_with(platform, &storage)
                .unwrap();
        // The API server on another loopback address, which NO_PROXY names: only the
        // storage servers' traffic (127.0.0.1) is the proxy's to carry.
        let running = server.serve("127.0.0.2:0".parse().unwrap()).await.unwrap();
        let kubeconfig = dir.join(format!("kubeconfig-{platform}-{no_proxy}"));
        std::fs::write(&kubeconfig, testkit::apiserver::kubeconfig(&running.url())).unwrap();
        let before = forwarded(port);
        let child = Command::new(env!("CARGO_BIN_EXE_cluster-image-registry-operator"))
            .args(["run", "--no-leader-election", "--kubeconfig"])
            .arg(&kubeconfig)
            .args(["--listen", &format!("127.0.0.1:{}", free_port())])
            .env("RELEASE_VERSION", "4.21.0")
            .env("HTTP_PROXY", &proxy.endpoint)
            .env("HTTPS_PROXY", &proxy.endpoint)
            .env("NO_PROXY", no_proxy)
            // The binary finds a GCS emulator as Google's clients do.
            .env("STORAGE_EMULATOR_HOST", &gcs.endpoint)
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(dir.join("operator.log")).unwrap())
            .spawn()
            .unwrap();
        // Killed even when an assertion below fails.
        let child = KillOnDrop(child);
        let configs: Api<api::Config> = Api::all(server.client());
        let deadline = Instant::now() + Duration::from_secs(30);
        loop {
            let c = configs.get_opt("cluster").await.unwrap().and_then(|c| c.status);
            let exists =
                c.as_ref().and_then(|s| s.conditions.iter().find(|c| c.type_ == "StorageExists"));
            if exists.is_some_and(|c| c.status == api::ConditionStatus::True) {
                break;
            }
            assert!(
                Instant::now() < deadline,
                "{platform} storage (NO_PROXY={no_proxy:?}): {exists:?}\n{}\nproxy: {}",
                std::fs::read_to_string(dir.join("operator.log")).unwrap_or_default(),
                std::fs::read_to_string(proxy.log()).unwrap_or_default()
            );
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
        let through = forwarded(port) - before;
        if !no_proxy.contains("127.0.0.1") {
            assert!(
                through > 0,
                "{platform}: no request to the storage server went through the proxy"
            );
        } else {
            assert_eq!(through, 0, "{platform}: NO_PROXY={no_proxy} still went through the proxy");
        }
        drop(child);
        running.handle.abort();
    }
}

/// A child process killed when this is dropped.
struct KillOnDrop(std::process::Child);

impl Drop for KillOnDrop {
    fn drop(&mut self) {
        let _killed = self.0.kill();
        let _reaped = self.0.wait();
    }
}
