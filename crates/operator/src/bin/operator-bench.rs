//! Benchmark of the operator against the in-memory API server; prints figures (no
//! assertions).
//!
//! `cargo run --release -p cluster-image-registry-operator --bin operator-bench`
//! (`BENCH_IDLE_SECS` sets the idle window, 60 by default).
//!
//! * start → ClusterOperator reported (Available) with emptyDir storage, in-process;
//! * a Config `spec.replicas` change → the Deployment updated: p50 / p99 over 200 changes;
//! * API requests and writes while idle;
//! * resident memory of the operator process when idle, with 5 000 Secrets and ConfigMaps
//!   in other namespaces and 500 in `openshift-image-registry`.
//!
//! `operator-bench reliability [SEED]` runs the reliability figures (the bad-input corpus,
//! API fault runs against a fault-free one, concurrent edits, and crash trials with the
//! operator binary built beside it: `cargo build -p cluster-image-registry-operator --bins`).
//!
//! `operator-bench storage` measures the S3 driver against moto instead (installed by
//! `scripts/emulators install`): round trips and time to provision a new bucket with every
//! setting, and for a reconcile with nothing changed. The times are moto's on loopback, not
//! AWS's; the round-trip counts are what a real cloud would see.

use std::time::{Duration, Instant};

use api::ConditionStatus;
use cluster_image_registry_operator::local_cmd::seeded_server;
use cluster_image_registry_operator::sync::Context;
use k8s_openapi::api::apps::v1::Deployment;
use kube::Api;
use kube::api::{Patch, PatchParams};
use serde_json::json;
use tokio::sync::watch;

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn rss_kib(pid: u32) -> u64 {
    std::fs::read_to_string(format!("/proc/{pid}/status"))
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

/// The AWS Infrastructure and the user's S3 keys the storage bench provisions with.
fn s3_fixture() -> (api::Infrastructure, storage::Credentials) {
    let infra: api::Infrastructure = serde_json::from_value(json!({
        "metadata": {"name": "cluster"}, "spec": {},
        "status": {"infrastructureName": "bench-x7k2p", "platformStatus": {"type": "AWS",
            "aws": {"region": "us-east-1", "resourceTags": [{"key": "team", "value": "bench"}]}}}
    }))
    .unwrap();
    let user = std::collections::BTreeMap::from([
        ("REGISTRY_STORAGE_S3_ACCESSKEY".to_string(), "AKIABENCH".to_string()),
        ("REGISTRY_STORAGE_S3_SECRETKEY".to_string(), "bench-secret".to_string()),
    ]);
    let (credentials, _source) =
        storage::credentials::resolve(render::storage::Backend::S3, Some(&user), None);
    (infra, credentials)
}

/// Provisions each (spec, applied) pair once; the times and the round trips per pass.
async fn timed_passes(
    p: &storage::provision::Provisioner,
    infra: &api::Infrastructure,
    credentials: &storage::Credentials,
    pairs: &[(
        api::imageregistry::ImageRegistryConfigStorage,
        api::imageregistry::ImageRegistryConfigStorage,
    )],
) -> (Vec<Duration>, f64, Vec<api::imageregistry::ImageRegistryConfigStorage>) {
    let mut times = Vec::new();
    let mut applied = Vec::new();
    let before = p.round_trips();
    for (spec, last) in pairs {
        let req = storage::provision::Request {
            spec,
            applied: last,
            infrastructure: infra,
            credentials,
            source: storage::credentials::Source::User,
            ca: Default::default(),
        };
        let t = Instant::now();
        let out = p.ensure(&req).await.unwrap();
        times.push(t.elapsed());
        assert!(out.ok(), "{out:?}");
        applied.push(out.storage);
    }
    let trips = (p.round_trips() - before) as f64 / pairs.len() as f64;
    times.sort();
    (times, trips, applied)
}

/// The S3 driver against moto: new buckets, then passes with nothing changed.
async fn storage_bench() {
    let moto = testkit::emulators::moto().unwrap_or_else(|e| panic!("{e}"));
    let (infra, credentials) = s3_fixture();
    let p = storage::provision::Provisioner::new();
    const NEW: usize = 50;
    const UNCHANGED: usize = 500;
    let new: Vec<_> = (0..NEW)
        .map(|i| {
            let s3 = api::imageregistry::ImageRegistryConfigStorageS3 {
                bucket: format!("bench-bucket-{i}"),
                region: "us-east-1".into(),
                region_endpoint: moto.endpoint.clone(),
                ..Default::default()
            };
            let spec = api::imageregistry::ImageRegistryConfigStorage {
                s3: Some(s3),
                ..Default::default()
            };
            (spec, Default::default())
        })
        .collect();
    let (provision, new_trips, applied) = timed_passes(&p, &infra, &credentials, &new).await;
    let same: Vec<_> =
        (0..UNCHANGED).map(|i| (applied[i % NEW].clone(), applied[i % NEW].clone())).collect();
    let (unchanged, same_trips, _) = timed_passes(&p, &infra, &credentials, &same).await;
    println!(
        "S3 new bucket with every setting ({NEW} buckets): {new_trips:.1} round trips each; p50 {:?}, p99 {:?}",
        percentile(&provision, 0.5),
        percentile(&provision, 0.99)
    );
    println!(
        "S3 reconcile with nothing changed ({UNCHANGED} passes): {same_trips:.2} round trips each; p50 {:?}, p99 {:?}",
        percentile(&unchanged, 0.5),
        percentile(&unchanged, 0.99)
    );
}

/// `operator-bench reliability [SEED]`: the reliability figures, loopback only, bounded.
async fn reliability_bench(seed: u64) {
    use cluster_image_registry_operator::reliability::{corpus, edits, faults};
    println!("reliability figures, seed {seed}");
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad-input");
    let cases = corpus::load(&dir).expect("the bad-input corpus");
    let mut handled = 0;
    let mut leaks = 0;
    for case in &cases {
        let v = corpus::run(case).await;
        handled += usize::from(v.handled);
        leaks += v.problems.iter().filter(|p| p.starts_with("secret value")).count();
        if !v.handled {
            println!("  not handled: {}: {}", v.name, v.problems.join("; "));
        }
    }
    println!("bad-input corpus: {handled}/{} handled; secret values shown: {leaks}", cases.len());
    let baseline = faults::run(false, seed).await;
    let runs = 5;
    let mut converged = 0;
    let mut extra_flips = 0;
    let mut worst = std::time::Duration::ZERO;
    for i in 0..runs {
        let r = faults::run(true, seed.wrapping_add(i)).await;
        converged += usize::from(r.converged);
        extra_flips += r.flips.saturating_sub(baseline.flips);
        worst = worst.max(r.took);
        if let Some(p) = r.stuck {
            println!("  fault run {i} stuck at: {p}");
        }
    }
    println!(
        "API faults: {converged}/{runs} runs converged (slowest {worst:.1?}); condition flips beyond a fault-free run ({} flips, {:.1?}): {extra_flips}",
        baseline.flips, baseline.took
    );
    let (kept, rounds) = edits::run(100, seed).await;
    println!("concurrent edits: {kept}/{rounds} user edits kept");
    crash_trials(seed).await;
    storage_faults().await;
}

/// Each storage fault for 2 minutes from the start of an install on moto, then back.
async fn storage_faults() {
    use cluster_image_registry_operator::reliability::storage_faults;
    use testkit::faultproxy::Fault;
    let moto = match testkit::emulators::moto_https() {
        Ok(m) => m,
        Err(e) => return println!("storage faults: not run: {e}"),
    };
    let down = Duration::from_secs(120);
    println!("storage faults (the S3 endpoint down {down:?} from an install's start, then back):");
    let faults = [
        ("connections refused", Fault::Refuse),
        ("500 InternalError", Fault::INTERNAL),
        ("503 SlowDown", Fault::SLOW_DOWN),
        ("429 with Retry-After", Fault::TOO_MANY),
    ];
    for (i, (name, fault)) in faults.into_iter().enumerate() {
        match storage_faults::run(&moto, fault, down, i).await {
            Ok(r) => println!(
                "  {name}: {} StorageExists message(s) {:?}; longest wait between retries {:.1?}; {} requests sent, {} in the last minute; converged {}; secret values shown: {}",
                r.messages.len(),
                r.messages,
                r.gaps.iter().max().copied().unwrap_or_default(),
                r.sent,
                r.last_minute.unwrap_or_default(),
                r.converged
                    .map_or("never (90 s)".to_string(), |d| format!("{d:.1?} after it came back")),
                r.leaks.len(),
            ),
            Err(e) => println!("  {name}: not run: {e}"),
        }
    }
}

/// 100 crash trials drawn from `seed`, with the operator binary built beside this one.
async fn crash_trials(seed: u64) {
    use cluster_image_registry_operator::reliability::crashes::{self, Cloud};
    let bin = std::env::current_exe()
        .ok()
        .and_then(|e| e.parent().map(|d| d.join("cluster-image-registry-operator")))
        .filter(|b| b.exists());
    let Some(bin) = bin else {
        println!("crash trials: not run: build the operator binary beside this one (--bins)");
        return;
    };
    let clouds = match crashes::Clouds::start(&Cloud::ALL) {
        Ok(c) => c,
        Err(e) => return println!("crash trials: not run: {e}"),
    };
    let trials = crashes::draw(100, seed);
    let figures = crashes::trials(&bin, &clouds, &trials).await;
    for v in figures.baselines.iter().chain(&figures.verdicts).filter(|v| !v.held()) {
        println!("  trial {:?}: {}", v.trial, v.problems.join("; "));
    }
    let steps = |v: &crashes::Verdict| v.lengths.iter().sum::<Duration>();
    let slowest = figures.verdicts.iter().map(steps).max().unwrap_or_default();
    println!(
        "crash trials: {}/{} held every check; worst time to converge after a restart {:.2?} (slowest trial {slowest:.1?})",
        figures.held(),
        figures.verdicts.len(),
        figures.worst_recovery()
    );
}

#[tokio::main]
async fn main() {
    if std::env::args().nth(1).as_deref() == Some("storage") {
        return storage_bench().await;
    }
    if std::env::args().nth(1).as_deref() == Some("reliability") {
        let seed = std::env::args().nth(2).and_then(|s| s.parse().ok()).unwrap_or(1);
        return reliability_bench(seed).await;
    }
    let idle_secs: u64 =
        std::env::var("BENCH_IDLE_SECS").ok().and_then(|s| s.parse().ok()).unwrap_or(60);
    in_process().await;
    idle(idle_secs).await;
}

/// 1 and 2: start to Available, and spec changes to the Deployment, in-process.
async fn in_process() {
    // 1. start -> ClusterOperator reported, in-process.
    let server = seeded_server("Libvirt").unwrap();
    // Without Pods: the in-process server's work for them is not the operator's.
    let _sim = server.simulate_workloads(testkit::apiserver::simulator::Simulation {
        delay: Duration::ZERO,
        pods: false,
        ..Default::default()
    });
    let client = cluster_image_registry_operator::client::in_process(&server);
    let started = Instant::now();
    let (stop, stop_rx) = watch::channel(false);
    let (results_tx, mut results) = watch::channel(None);
    let ctx =
        Context::new(client.clone(), cluster_image_registry_operator::render_cmd::operator_env());
    let metrics = std::sync::Arc::new(cluster_image_registry_operator::metrics::Metrics::default());
    let task = tokio::spawn(cluster_image_registry_operator::controller::run(
        ctx,
        stop_rx,
        results_tx,
        metrics.clone(),
    ));
    let mut first_report = None;
    loop {
        results.changed().await.unwrap();
        let r = results.borrow().clone();
        if let Some(Ok(s)) = r {
            if first_report.is_none() {
                first_report = Some(started.elapsed());
            }
            if s.cluster_operator
                .iter()
                .any(|(t, st, _)| t == "Available" && *st == ConditionStatus::True)
            {
                break;
            }
        }
    }
    println!("start -> ClusterOperator first reported: {:?}", first_report.unwrap());
    println!(
        "start -> ClusterOperator Available (emptyDir, simulated rollout): {:?}",
        started.elapsed()
    );

    changes(&server, &metrics).await;
    let _ = stop.send(true);
    let _ = task.await;
}

/// 2. replicas change -> Deployment updated, with the operator's requests per change.
async fn changes(
    server: &testkit::apiserver::ApiServer,
    metrics: &cluster_image_registry_operator::metrics::Metrics,
) {
    // The bench's own client (no operator user agent), so its requests can be told apart.
    let configs: Api<api::Config> = Api::all(server.client());
    let deployments: Api<Deployment> = Api::namespaced(server.client(), "openshift-image-registry");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let mut latencies = Vec::new();
    server.clear_requests();
    let passes_before = metrics.passes.load(std::sync::atomic::Ordering::Relaxed);
    let micros_before = metrics.pass_micros.load(std::sync::atomic::Ordering::Relaxed);
    for i in 0..200 {
        let replicas = 2 + (i % 3);
        let t = Instant::now();
        configs
            .patch(
                "cluster",
                &PatchParams::default(),
                &Patch::Merge(json!({"spec": {"replicas": replicas}})),
            )
            .await
            .unwrap();
        loop {
            let d = deployments.get("image-registry").await.unwrap();
            if d.spec.and_then(|s| s.replicas) == Some(replicas) {
                break;
            }
            tokio::time::sleep(Duration::from_micros(200)).await;
        }
        latencies.push(t.elapsed());
        // Changes every 20 ms: a busy but not saturated operator.
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    latencies.sort();
    println!(
        "spec.replicas change -> Deployment updated (200 changes, in-process): p50 {:?}, p99 {:?}",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99)
    );
    print_requests(server, 200);
    let passes = metrics.passes.load(std::sync::atomic::Ordering::Relaxed) - passes_before;
    let micros = metrics.pass_micros.load(std::sync::atomic::Ordering::Relaxed) - micros_before;
    println!(
        "  passes per change: {:.2}, mean pass {:?}",
        passes as f64 / 200.0,
        Duration::from_micros(micros / passes.max(1))
    );
}

/// The operator's requests per change, by verb and resource. The bench's own requests (one
/// patch, and gets until the Deployment shows the change) are left out: only the
/// operator's, which name its user agent.
fn print_requests(server: &testkit::apiserver::ApiServer, changes: usize) {
    let log = server.requests();
    let ours: Vec<_> = log
        .iter()
        .filter(|r| r.user_agent.starts_with("cluster-image-registry-operator"))
        .collect();
    let mut by_kind = std::collections::BTreeMap::new();
    for r in &ours {
        *by_kind.entry(format!("{} {}", r.verb, r.resource)).or_insert(0) += 1;
    }
    println!(
        "  operator requests per change: {:.1} ({} writes); by verb and resource over {changes} changes: {by_kind:?}",
        ours.len() as f64 / changes as f64,
        ours.iter().filter(|r| r.is_write()).count() as f64 / changes as f64,
    );
}

/// 3 and 4: the operator as its own process over loopback HTTP, idle: its requests and
/// its resident memory.
async fn idle(idle_secs: u64) {
    let server = seeded_server("Libvirt").unwrap();
    let _sim = server.simulate_workloads(Default::default());
    seed_tenants(&server);
    let running = server.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let dir = testkit::ScratchDir::new("operator-bench").unwrap();
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(&kubeconfig, testkit::apiserver::kubeconfig(&running.url())).unwrap();
    let exe = std::env::current_exe().unwrap().with_file_name("cluster-image-registry-operator");
    let mut child = std::process::Command::new(&exe)
        .args(["run", "--no-leader-election", "--kubeconfig"])
        .arg(&kubeconfig)
        .args(["--listen", "127.0.0.1:0"])
        .env("RELEASE_VERSION", cluster_image_registry_operator::local_cmd::LOCAL_RELEASE)
        .env("AZURE_ENVIRONMENT_FILEPATH", dir.join("azurestackcloud.json"))
        .stderr(
            std::fs::File::create(std::env::temp_dir().join("operator-bench.stderr"))
                .map(std::process::Stdio::from)
                .unwrap_or_else(|_| std::process::Stdio::null()),
        )
        .spawn()
        .expect("the operator binary beside this one (cargo build --release first)");
    wait_available(&server).await;
    tokio::time::sleep(Duration::from_secs(2)).await;
    server.clear_requests();
    tokio::time::sleep(Duration::from_secs(idle_secs)).await;
    let log = server.requests();
    let writes = log.iter().filter(|r| r.is_write()).count();
    println!(
        "idle for {idle_secs} s (operator process, 5 000 Secrets and ConfigMaps elsewhere, 500 in its namespace): {} requests, {writes} writes",
        log.len()
    );
    let mut by_kind = std::collections::BTreeMap::new();
    for r in &log {
        *by_kind.entry(format!("{} {}", r.verb, r.resource)).or_insert(0) += 1;
    }
    if !log.is_empty() {
        println!("  idle requests by verb and resource: {by_kind:?}");
    }
    println!("operator resident memory when idle: {} KiB", rss_kib(child.id()));
    let _ = child.kill();
    let _ = child.wait();
    running.handle.abort();
}

/// Many Secrets and ConfigMaps elsewhere, and some in the operator's namespace.
fn seed_tenants(server: &testkit::apiserver::ApiServer) {
    server.write(|s| {
        let ns_type = s.find_type("", "v1", "namespaces").cloned().unwrap();
        let secrets = s.find_type("", "v1", "secrets").cloned().unwrap();
        let cms = s.find_type("", "v1", "configmaps").cloned().unwrap();
        for n in 0..10 {
            s.create(&ns_type, "", json!({"metadata": {"name": format!("tenant-{n}")}}), false).unwrap();
        }
        for i in 0..2_500 {
            let ns = format!("tenant-{}", i % 10);
            s.create(&secrets, &ns, json!({"metadata": {"name": format!("s-{i}")}, "stringData": {"k": "x".repeat(512)}}), false).unwrap();
            s.create(&cms, &ns, json!({"metadata": {"name": format!("c-{i}")}, "data": {"k": "x".repeat(512)}}), false).unwrap();
        }
        for i in 0..250 {
            s.create(&secrets, "openshift-image-registry", json!({"metadata": {"name": format!("s-{i}")}, "stringData": {"k": "x".repeat(512)}}), false).unwrap();
            s.create(&cms, "openshift-image-registry", json!({"metadata": {"name": format!("c-{i}")}, "data": {"k": "x".repeat(512)}}), false).unwrap();
        }
    });
}

/// Waits (60 s at most) for the ClusterOperator to be Available and not Progressing.
async fn wait_available(server: &testkit::apiserver::ApiServer) {
    let cos: Api<api::ClusterOperator> = Api::all(server.client());
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let available =
            cos.get_opt("image-registry").await.unwrap().and_then(|c| c.status).is_some_and(|s| {
                s.conditions
                    .iter()
                    .any(|c| c.type_ == "Available" && c.status == ConditionStatus::True)
                    && s.conditions
                        .iter()
                        .any(|c| c.type_ == "Progressing" && c.status == ConditionStatus::False)
            });
        if available || Instant::now() > deadline {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
