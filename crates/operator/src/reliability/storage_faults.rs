//! Storage faults: the S3 endpoint (moto behind [`testkit::faultproxy`]) refusing
//! connections, answering 500, or throttling (503 SlowDown, 429 with Retry-After) from the
//! start of an install for a while, then back. What a user must see: the StorageExists
//! condition saying so with one message that does not change per retry, retries that back
//! off (to 30 s), a bounded number of requests, and the registry converging once the
//! endpoint is back.

use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use serde_json::Value;
use testkit::faultproxy::{Fault, FaultProxy};

use super::{Running, config_until, settled, stored_config};
use crate::local_cmd::{Storage, seeded_server_with};

/// What one outage gave.
#[derive(Debug, Clone)]
pub struct Run {
    pub fault: Fault,
    pub down: Duration,
    /// Requests the operator sent to the endpoint while it was down, and in the outage's
    /// last minute (when it lasted one).
    pub sent: u64,
    pub last_minute: Option<u64>,
    /// The StorageExists condition's `status reason: message` while down, each change.
    pub messages: Vec<String>,
    /// The times between two failed passes, in order.
    pub gaps: Vec<Duration>,
    /// From the endpoint's return to the registry settled with its bucket (none: it did
    /// not within 90 s).
    pub converged: Option<Duration>,
    /// Where a secret value of the run showed (the log, Events, statuses).
    pub leaks: Vec<String>,
}

/// The Config's StorageExists, as `status reason: message`.
fn storage_exists(c: &Value) -> Option<String> {
    let all = c.pointer("/status/conditions")?.as_array()?;
    let s = all.iter().find(|c| c["type"] == "StorageExists")?;
    let f = |k: &str| s.get(k).and_then(Value::as_str).unwrap_or_default().to_string();
    Some(format!("{} {}: {}", f("status"), f("reason"), f("message")))
}

/// An install on an AWS cluster whose S3 endpoint fails with `fault` for `down`, then
/// comes back; `index` names the cluster (and its bucket) on `moto`.
pub async fn run(
    moto: &testkit::emulators::Https,
    fault: Fault,
    down: Duration,
    index: usize,
) -> Result<Run, String> {
    let proxy = FaultProxy::start_tls(&moto.emulator.endpoint, &moto.cert_pem, &moto.key_pem)
        .await
        .map_err(|e| e.to_string())?;
    proxy.set(fault.clone());
    let storage = Storage {
        s3_endpoint: Some(proxy.endpoint.clone()),
        s3_ca: Some(moto.cert_pem.clone()),
        ..Default::default()
    };
    let server = seeded_server_with("AWS", &storage)?;
    super::crashes::name_infrastructure(&server, &format!("faults-{index:02}"))?;
    let _workloads = server.simulate_workloads(Default::default());
    let mark = super::Watchdog::get().mark();
    let running = Running::start(&server, &storage);
    let failures = Arc::new(Mutex::new(Vec::<Instant>::new()));
    let recorder = tokio::spawn(record_failures(running.results.clone(), failures.clone()));
    let (messages, minute_mark) = watch_outage(&server, &running, down).await;
    let sent = running.storage_requests();
    proxy.set(Fault::None);
    let back = Instant::now();
    let bucket = |c: &Value| {
        c.pointer("/status/storage/s3/bucket")
            .and_then(Value::as_str)
            .is_some_and(|b| !b.is_empty())
    };
    let converged =
        config_until(&server, Duration::from_secs(90), |c| settled(c) && bucket(c)).await;
    recorder.abort();
    running.stop().await;
    let leaks = leaks(&server, mark).await;
    let times: Vec<Instant> =
        failures.lock().expect("failures").iter().copied().filter(|t| *t < back).collect();
    Ok(Run {
        fault,
        down,
        sent,
        last_minute: minute_mark.map(|m| sent - m),
        messages,
        gaps: times.windows(2).map(|w| w[1] - w[0]).collect(),
        converged: converged.then(|| back.elapsed()),
        leaks,
    })
}

/// Watches the Config through the outage: StorageExists at each change, and the storage
/// requests sent so far when its last minute begins (if it lasts one).
async fn watch_outage(
    server: &testkit::apiserver::ApiServer,
    running: &Running,
    down: Duration,
) -> (Vec<String>, Option<u64>) {
    let started = Instant::now();
    let last_minute = down.checked_sub(Duration::from_secs(60));
    let mut messages: Vec<String> = Vec::new();
    let mut minute_mark = None;
    while started.elapsed() < down {
        if let Some(m) = stored_config(server).as_ref().and_then(storage_exists)
            && messages.last() != Some(&m)
        {
            messages.push(m);
        }
        if minute_mark.is_none() && last_minute.is_some_and(|at| started.elapsed() >= at) {
            minute_mark = Some(running.storage_requests());
        }
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    (messages, minute_mark)
}

/// The run's secret values (the cloud keys, the registry's httpSecret) where they show.
async fn leaks(server: &testkit::apiserver::ApiServer, mark: usize) -> Vec<String> {
    let mut secrets = vec![crate::local_cmd::LOCAL_AWS_KEYS.1.to_string()];
    if let Some(s) = stored_config(server)
        .and_then(|c| c.pointer("/spec/httpSecret").and_then(Value::as_str).map(str::to_string))
    {
        secrets.push(s);
    }
    match super::shown(server, &super::Watchdog::get().lines_since(mark)).await {
        Ok(texts) => super::leaks(&secrets, &texts),
        Err(e) => vec![e],
    }
}

/// Notes when each failed pass ended.
async fn record_failures(
    mut results: tokio::sync::watch::Receiver<Option<Result<crate::sync::Summary, String>>>,
    into: Arc<Mutex<Vec<Instant>>>,
) {
    while results.changed().await.is_ok() {
        if matches!(&*results.borrow_and_update(), Some(Err(_))) {
            into.lock().expect("failures").push(Instant::now());
        }
    }
}
