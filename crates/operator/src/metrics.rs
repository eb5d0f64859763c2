//! Health, readiness and Prometheus metrics on one HTTP port (`:60000` by default).
//!
//! Metric names are the reference's (`image_registry_operator_storage_reconfigured_total`,
//! `image_registry_operator_image_pruner_install_status`, `image_registry_storage_type`,
//! `image_registry_image_stream_tags_total`, `image_registry_operator_azure_key_cache_requests_total`)
//! plus pass counters and durations.

use std::collections::BTreeSet;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use axum::Router;
use axum::extract::State;
use axum::http::StatusCode;
use axum::routing::get;

/// Counters and gauges, shared by the controller and the HTTP handlers.
#[derive(Debug, Default)]
pub struct Metrics {
    pub passes: AtomicU64,
    pub pass_errors: AtomicU64,
    /// Sum of pass durations, in microseconds.
    pub pass_micros: AtomicU64,
    pub storage_reconfigured: AtomicU64,
    /// 0 not installed, 1 suspended, 2 enabled.
    pub pruner_install_status: AtomicU64,
    /// Storage types seen (set whenever a driver is used; never reset, as the reference).
    pub storage_types: Mutex<BTreeSet<&'static str>>,
    /// A pass has completed (or this instance waits for the lease).
    pub ready: AtomicBool,
    /// Image stream tags by (source, location), once counted ([`crate::streams`]).
    pub stream_tags: Mutex<Option<crate::streams::Counts>>,
    /// The Azure driver's account-key cache, once the controller runs.
    pub azure_key_cache: std::sync::OnceLock<Arc<storage::provision::azure::KeyCacheCounts>>,
}

impl Metrics {
    /// The lines of the labelled families: storage types, image stream tags.
    fn labelled(&self) -> (Vec<String>, Vec<String>) {
        let types = self
            .storage_types
            .lock()
            .expect("metrics")
            .iter()
            .map(|t| format!("image_registry_storage_type{{storage=\"{t}\"}} 1"))
            .collect();
        let tags = self
            .stream_tags
            .lock()
            .expect("metrics")
            .iter()
            .flatten()
            .map(|((source, location), n)| {
                format!("image_registry_image_stream_tags_total{{location=\"{location}\",source=\"{source}\"}} {n}")
            })
            .collect();
        (types, tags)
    }

    /// The Prometheus text exposition.
    pub fn render(&self) -> String {
        let v = |a: &AtomicU64| a.load(Ordering::Relaxed);
        let one = |name: &str, value: u64| vec![format!("{name} {value}")];
        let (types, tags) = self.labelled();
        let reconfigured = "image_registry_operator_storage_reconfigured_total";
        let pruner = "image_registry_operator_image_pruner_install_status";
        let keys = "image_registry_operator_azure_key_cache_requests_total";
        let (hits, misses) =
            self.azure_key_cache.get().map_or((0, 0), |c| (v(&c.hits), v(&c.misses)));
        let passes = "image_registry_operator_reconcile_total";
        let errors = "image_registry_operator_reconcile_errors_total";
        let duration = "image_registry_operator_reconcile_duration_seconds";
        let families = [
            (
                reconfigured,
                "counter",
                "Number of times the registry storage was reconfigured.",
                one(reconfigured, v(&self.storage_reconfigured)),
            ),
            (
                pruner,
                "gauge",
                "Image pruner: 0 not installed, 1 suspended, 2 enabled.",
                one(pruner, v(&self.pruner_install_status)),
            ),
            (
                keys,
                "counter",
                "Requests for an Azure storage account key, by whether the cache answered.",
                vec![
                    format!("{keys}{{result=\"hit\"}} {hits}"),
                    format!("{keys}{{result=\"miss\"}} {misses}"),
                ],
            ),
            ("image_registry_storage_type", "gauge", "Storage types the registry has used.", types),
            (
                "image_registry_image_stream_tags_total",
                "gauge",
                "Image stream tags, by whether the stream's spec names them and where the stream is.",
                tags,
            ),
            (passes, "counter", "Reconcile passes run.", one(passes, v(&self.passes))),
            (
                errors,
                "counter",
                "Reconcile passes that failed and were retried.",
                one(errors, v(&self.pass_errors)),
            ),
            (
                duration,
                "summary",
                "Time spent in reconcile passes.",
                vec![
                    format!("{duration}_sum {:.6}", v(&self.pass_micros) as f64 / 1e6),
                    format!("{duration}_count {}", v(&self.passes)),
                ],
            ),
        ];
        let mut out = String::new();
        for (name, kind, help, lines) in families {
            out.push_str(&format!("# HELP {name} {help}\n# TYPE {name} {kind}\n"));
            for l in lines {
                out.push_str(&l);
                out.push('\n');
            }
        }
        out
    }
}

async fn metrics(
    State(m): State<std::sync::Arc<Metrics>>,
) -> ([(axum::http::HeaderName, &'static str); 1], String) {
    ([(axum::http::header::CONTENT_TYPE, "text/plain; version=0.0.4")], m.render())
}

async fn ready(State(m): State<std::sync::Arc<Metrics>>) -> (StatusCode, &'static str) {
    if m.ready.load(Ordering::Relaxed) {
        (StatusCode::OK, "ok")
    } else {
        (StatusCode::SERVICE_UNAVAILABLE, "not ready")
    }
}

/// `/healthz`, `/readyz` and `/metrics`.
pub fn router(m: std::sync::Arc<Metrics>) -> Router {
    Router::new()
        .route("/healthz", get(|| async { "ok" }))
        .route("/readyz", get(ready))
        .route("/metrics", get(metrics))
        .with_state(m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exposition() {
        let m = Metrics::default();
        m.passes.store(3, Ordering::Relaxed);
        m.pass_micros.store(1_500_000, Ordering::Relaxed);
        m.pruner_install_status.store(2, Ordering::Relaxed);
        m.storage_types.lock().unwrap().insert("EmptyDir");
        let keys = Arc::new(storage::provision::azure::KeyCacheCounts::default());
        keys.hits.store(4, Ordering::Relaxed);
        keys.misses.store(1, Ordering::Relaxed);
        m.azure_key_cache.set(keys).unwrap();
        let text = m.render();
        for line in [
            "image_registry_operator_storage_reconfigured_total 0",
            "image_registry_operator_image_pruner_install_status 2",
            "image_registry_storage_type{storage=\"EmptyDir\"} 1",
            "image_registry_operator_reconcile_total 3",
            "image_registry_operator_reconcile_duration_seconds_sum 1.500000",
            "# TYPE image_registry_operator_reconcile_errors_total counter",
            "image_registry_operator_azure_key_cache_requests_total{result=\"hit\"} 4",
            "image_registry_operator_azure_key_cache_requests_total{result=\"miss\"} 1",
        ] {
            assert!(text.lines().any(|l| l == line), "{line} missing from\n{text}");
        }
    }
}
