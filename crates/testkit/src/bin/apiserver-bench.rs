//! Benchmark of the in-memory API server; prints figures (no assertions).
//!
//! `cargo run --release -p imageregistry-testkit --bin apiserver-bench`
//!
//! * watch fan-out: with 10 000 stored objects and 20 open watches over loopback HTTP, the
//!   time from a write's start until each watcher has the event (median and p99 over 200
//!   writes x 20 watchers);
//! * list: 1 000 of the 10 000 objects selected by a label (median and p99 of 50 lists);
//! * memory: resident memory after storing 2 500, 5 000, 10 000 and 20 000 objects of
//!   about 1 KiB each;
//! * create: a Secret created over loopback HTTP with a protobuf body (as kubectl's
//!   `create secret` sends it) and with a JSON one (median and p99 of 500 each).

use std::time::{Duration, Instant};

use futures::StreamExt;
use imageregistry_testkit::apiserver::{ApiServer, Options};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams, WatchEvent, WatchParams};
use serde_json::json;

fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1)?.parse().ok())
        })
        .unwrap_or(0)
}

fn percentile(sorted: &[Duration], p: f64) -> Duration {
    sorted[((sorted.len() as f64 - 1.0) * p).round() as usize]
}

fn object(i: usize) -> serde_json::Value {
    json!({
        "metadata": {"name": format!("cm-{i:05}"), "labels": {"bench": if i.is_multiple_of(10) { "yes" } else { "no" }, "index": i.to_string()}},
        "data": {"payload": "x".repeat(900)}
    })
}

fn fill(server: &ApiServer, from: usize, to: usize) {
    let t = server.read(|s| s.find_type("", "v1", "configmaps").cloned()).expect("configmaps");
    server.write(|s| {
        for i in from..to {
            s.create(&t, &format!("ns-{}", i % 10), object(i), false).expect("create");
        }
    });
}

#[tokio::main]
async fn main() {
    let server = ApiServer::new(Options { event_log: 1000, ..Default::default() });
    let running = server.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let config = kube::Config::new(running.url().parse().unwrap());
    let client = kube::Client::try_from(config).unwrap();
    let nss: Api<Namespace> = Api::all(client.clone());
    for n in 0..10 {
        nss.create(
            &PostParams::default(),
            &serde_json::from_value(json!({"metadata": {"name": format!("ns-{n}")}})).unwrap(),
        )
        .await
        .unwrap();
    }
    memory(&server);
    list(&server, &client).await;
    watch_fan_out(&client).await;
    creates(&client).await;
    running.handle.abort();
}

/// A Secret created over loopback HTTP, its body protobuf (as kubectl's `create secret`
/// sends it) or JSON: median and p99 of 500 creates each, the answer read.
async fn creates(client: &kube::Client) {
    use prost::Message as _;
    let endpoint = "/api/v1/namespaces/ns-0/secrets";
    for (label, content_type) in [
        ("protobuf", imageregistry_testkit::apiserver::protobuf::MEDIA_TYPE),
        ("JSON", "application/json"),
    ] {
        let mut times = Vec::new();
        for i in 0..500 {
            let name = format!("{label}-{i}").to_lowercase();
            let body = if label == "JSON" {
                serde_json::to_vec(&json!({"apiVersion": "v1", "kind": "Secret",
                    "metadata": {"name": name}, "data": {"key": "dmFsdWU="}}))
                .unwrap()
            } else {
                let secret = k8s_pb::api::core::v1::Secret {
                    metadata: Some(k8s_pb::apimachinery::pkg::apis::meta::v1::ObjectMeta {
                        name: Some(name),
                        ..Default::default()
                    }),
                    data: [("key".to_string(), b"value".to_vec())].into(),
                    ..Default::default()
                };
                imageregistry_testkit::apiserver::protobuf::envelope(
                    "v1",
                    "Secret",
                    secret.encode_to_vec(),
                )
            };
            let request = http::Request::post(endpoint)
                .header("content-type", content_type)
                .body(body)
                .unwrap();
            let t = Instant::now();
            let answer = client.request_text(request).await.unwrap();
            times.push(t.elapsed());
            assert!(answer.contains("\"kind\":\"Secret\""), "{answer}");
        }
        times.sort();
        println!(
            "create a Secret over HTTP, {label} body: median {:?}, p99 {:?}",
            percentile(&times, 0.5),
            percentile(&times, 0.99)
        );
    }
}

/// Resident memory after storing 2 500 to 20 000 objects; leaves 10 000 stored.
fn memory(server: &ApiServer) {
    let base = rss_kib();
    println!("memory (resident, ~1 KiB objects):");
    let mut stored = 0;
    for target in [2_500, 5_000, 10_000, 20_000] {
        fill(server, stored, target);
        stored = target;
        let rss = rss_kib();
        println!(
            "  {target:>6} objects: {:>7} KiB over the empty server, {:.2} KiB per object",
            rss - base,
            (rss - base) as f64 / target as f64
        );
    }
    // back to 10 000 objects for the timing runs
    let t = server.read(|s| s.find_type("", "v1", "configmaps").cloned()).unwrap();
    server.write(|s| {
        for i in 10_000..20_000 {
            let _gone =
                s.delete(&t, &format!("ns-{}", i % 10), &format!("cm-{i:05}"), &Default::default());
        }
    });
}

/// Lists of 1 000 of the 10 000 objects by label: through the kube client, then the
/// router alone.
async fn list(server: &ApiServer, client: &kube::Client) {
    let all: Api<ConfigMap> = Api::all(client.clone());
    let mut lists = Vec::new();
    for _ in 0..50 {
        let start = Instant::now();
        let l = all.list(&ListParams::default().labels("bench=yes")).await.unwrap();
        lists.push(start.elapsed());
        assert_eq!(l.items.len(), 1_000);
    }
    lists.sort();
    println!(
        "list 1 000 of 10 000 by label, kube client over HTTP (decoding included): median {:?}, p99 {:?}",
        percentile(&lists, 0.5),
        percentile(&lists, 0.99)
    );
    let mut served = Vec::new();
    for _ in 0..50 {
        use tower::ServiceExt;
        let start = Instant::now();
        let req = http::Request::get("/api/v1/configmaps?labelSelector=bench%3Dyes")
            .body(axum::body::Body::empty())
            .unwrap();
        let resp = server.router().oneshot(req).await.unwrap();
        let bytes = axum::body::to_bytes(resp.into_body(), usize::MAX).await.unwrap();
        served.push(start.elapsed());
        assert!(bytes.len() > 900_000);
    }
    served.sort();
    println!(
        "list 1 000 of 10 000 by label, server side (response bytes ready): median {:?}, p99 {:?}",
        percentile(&served, 0.5),
        percentile(&served, 0.99)
    );
}

/// The time from a write's start until each of 20 watchers has its event, over 200 writes.
async fn watch_fan_out(client: &kube::Client) {
    let all: Api<ConfigMap> = Api::all(client.clone());
    let rv = all
        .list_metadata(&ListParams::default().limit(1))
        .await
        .unwrap()
        .metadata
        .resource_version
        .unwrap();
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel::<(usize, Instant)>();
    for w in 0..20 {
        let api = all.clone();
        let tx = tx.clone();
        let rv = rv.clone();
        tokio::spawn(async move {
            let mut stream = api
                .watch(&WatchParams::default().labels("index=0").timeout(300), &rv)
                .await
                .unwrap()
                .boxed();
            while let Some(Ok(e)) = stream.next().await {
                if let WatchEvent::Modified(_) = e {
                    let _ = tx.send((w, Instant::now()));
                }
            }
        });
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let target: Api<ConfigMap> = Api::namespaced(client.clone(), "ns-0");
    let mut latencies = Vec::new();
    for i in 0..200 {
        let start = Instant::now();
        target
            .patch(
                "cm-00000",
                &PatchParams::default(),
                &Patch::Merge(json!({"data": {"n": i.to_string()}})),
            )
            .await
            .unwrap();
        for _ in 0..20 {
            let (_w, at) = rx.recv().await.unwrap();
            latencies.push(at - start);
        }
    }
    latencies.sort();
    println!(
        "write to 20 watchers (10 000 stored, over HTTP): median {:?}, p99 {:?}",
        percentile(&latencies, 0.5),
        percentile(&latencies, 0.99)
    );
}
