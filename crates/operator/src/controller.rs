//! The loop that runs [`crate::sync::sync`]: once at start, then whenever something the
//! operator reads or writes changes (one watch per resource type), with backoff after a
//! failed pass. Idle, it sends no request.

use std::sync::Arc;
use std::time::Duration;

use futures::StreamExt;
use kube::api::{Api, ApiResource, DynamicObject};
use kube::runtime::{WatchStreamExt, watcher};
use tokio::sync::{Notify, watch};

use std::sync::atomic::Ordering;

use crate::metrics::Metrics;
use crate::sync::{Context, Summary, sync};

/// The resources whose changes trigger a pass: (group, version, kind, plural, namespace).
const WATCHED: &[(&str, &str, &str, &str, Option<&str>)] = &[
    ("imageregistry.operator.openshift.io", "v1", "Config", "configs", None),
    ("imageregistry.operator.openshift.io", "v1", "ImagePruner", "imagepruners", None),
    ("config.openshift.io", "v1", "Infrastructure", "infrastructures", None),
    ("config.openshift.io", "v1", "Proxy", "proxies", None),
    ("config.openshift.io", "v1", "Image", "images", None),
    ("config.openshift.io", "v1", "ClusterOperator", "clusteroperators", None),
    ("rbac.authorization.k8s.io", "v1", "ClusterRole", "clusterroles", None),
    ("rbac.authorization.k8s.io", "v1", "ClusterRoleBinding", "clusterrolebindings", None),
    ("apps", "v1", "Deployment", "deployments", Some(render::names::NAMESPACE)),
    ("apps", "v1", "DaemonSet", "daemonsets", Some(render::names::NAMESPACE)),
    ("", "v1", "Service", "services", Some(render::names::NAMESPACE)),
    ("", "v1", "Secret", "secrets", Some(render::names::NAMESPACE)),
    ("", "v1", "ConfigMap", "configmaps", Some(render::names::NAMESPACE)),
    ("", "v1", "ServiceAccount", "serviceaccounts", Some(render::names::NAMESPACE)),
    ("", "v1", "PersistentVolumeClaim", "persistentvolumeclaims", Some(render::names::NAMESPACE)),
    ("policy", "v1", "PodDisruptionBudget", "poddisruptionbudgets", Some(render::names::NAMESPACE)),
    ("networking.k8s.io", "v1", "NetworkPolicy", "networkpolicies", Some(render::names::NAMESPACE)),
    ("route.openshift.io", "v1", "Route", "routes", Some(render::names::NAMESPACE)),
    // Without route.openshift.io, the routes' Ingresses and the classes that serve them.
    ("networking.k8s.io", "v1", "Ingress", "ingresses", Some(render::names::NAMESPACE)),
    ("networking.k8s.io", "v1", "IngressClass", "ingressclasses", None),
    // Plain Kubernetes with cert-manager: the serving certificate's Certificate and Issuer.
    ("cert-manager.io", "v1", "Certificate", "certificates", Some(render::names::NAMESPACE)),
    ("cert-manager.io", "v1", "Issuer", "issuers", Some(render::names::NAMESPACE)),
    ("batch", "v1", "CronJob", "cronjobs", Some(render::names::NAMESPACE)),
    ("batch", "v1", "Job", "jobs", Some(render::names::NAMESPACE)),
    // CA bundles the certificates read (additionalTrustedCA, cloud CA).
    ("", "v1", "ConfigMap", "configmaps", Some(render::names::OPENSHIFT_CONFIG)),
    ("", "v1", "ConfigMap", "configmaps", Some(render::names::OPENSHIFT_CONFIG_MANAGED)),
    // The cluster's pull secret, copied into the registry's namespace: a rotation reaches
    // the registry at once (the reference reads it at each sync, so only at its resync).
    ("", "v1", "Secret", "secrets", Some(render::names::OPENSHIFT_CONFIG)),
];

/// Puts a watch event into the cache, then wakes the pass: it sees the change that woke it.
/// The echo of an own write wakes nothing.
fn feed<K: serde::Serialize>(
    e: Result<watcher::Event<K>, watcher::Error>,
    cache: &crate::cache::Cache,
    url: &str,
    n: &Notify,
) {
    let value = |o: K| serde_json::to_value(o).unwrap_or_default();
    match e {
        Ok(watcher::Event::Init) => cache.restart(url),
        Ok(watcher::Event::InitApply(o)) => cache.put(url, value(o)),
        Ok(watcher::Event::InitDone) => {
            cache.ready(url);
            n.notify_one();
        }
        Ok(watcher::Event::Apply(o)) => {
            let o = value(o);
            // The echo of the operator's own write: the pass that wrote it saw it already.
            let echo = cache.echo(url, &o);
            cache.put(url, o);
            if !echo {
                n.notify_one();
            }
        }
        Ok(watcher::Event::Delete(o)) => {
            cache.remove(url, &value(o));
            n.notify_one();
        }
        // A watch RBAC forbids (the original's ClusterRole grants no watch on namespaces or
        // nodes) changes nothing: passes read those through the API server, and the
        // watcher's retries must not turn into a pass each.
        Err(e) if forbidden(&e) => {}
        Err(_) => n.notify_one(),
    }
}

/// Whether a watch failed on a 403.
fn forbidden(e: &watcher::Error) -> bool {
    match e {
        watcher::Error::InitialListFailed(kube::Error::Api(s))
        | watcher::Error::WatchStartFailed(kube::Error::Api(s))
        | watcher::Error::WatchFailed(kube::Error::Api(s)) => s.code == 403,
        watcher::Error::WatchError(s) => s.code == 403,
        _ => false,
    }
}

/// A watch that feeds `cache` and wakes the passes.
fn watch_dynamic(
    api: Api<DynamicObject>,
    cache: crate::cache::Cache,
    notify: &Arc<Notify>,
    config: watcher::Config,
) -> tokio::task::JoinHandle<()> {
    spawn_watch(api, cache, notify, config)
}

/// Runs `api`'s watch, feeding `cache` and waking the passes.
fn spawn_watch<K>(
    api: Api<K>,
    cache: crate::cache::Cache,
    notify: &Arc<Notify>,
    config: watcher::Config,
) -> tokio::task::JoinHandle<()>
where
    K: kube::Resource + Clone + serde::de::DeserializeOwned + serde::Serialize + std::fmt::Debug,
    K: Send + 'static,
{
    let n = notify.clone();
    let url = api.resource_url().to_string();
    tokio::spawn(async move {
        watcher(api, config)
            .default_backoff()
            .for_each(|e| {
                feed(e, &cache, &url, &n);
                async {}
            })
            .await
    })
}

/// A metadata-only watch of a cluster-scoped type, narrowed by `config`'s selectors.
fn watch_narrow<K>(
    ctx: &Context,
    notify: &Arc<Notify>,
    config: watcher::Config,
) -> tokio::task::JoinHandle<()>
where
    K: kube::Resource<DynamicType = (), Scope = k8s_openapi::ClusterResourceScope>
        + Clone
        + serde::de::DeserializeOwned
        + std::fmt::Debug
        + Send
        + 'static,
{
    let api: Api<kube::core::PartialObjectMeta<K>> = Api::all(ctx.client.clone());
    spawn_watch(api, ctx.cache.clone(), notify, config)
}

/// Counts the image stream tags now and then every [`crate::streams::EVERY`]; a failed count
/// keeps the last figure and is tried again at the next.
async fn count_streams(client: kube::Client, metrics: Arc<Metrics>) {
    loop {
        match crate::streams::count_all(&client).await {
            Ok(counts) => *metrics.stream_tags.lock().expect("metrics") = counts,
            Err(e) => eprintln!("counting image stream tags: {e}"),
        }
        tokio::time::sleep(crate::streams::EVERY).await;
    }
}

/// Runs passes until `stop` turns true; every finished pass is published on `results`.
pub async fn run(
    ctx: Context,
    mut stop: watch::Receiver<bool>,
    results: watch::Sender<Option<Result<Summary, String>>>,
    metrics: Arc<Metrics>,
) {
    // A second controller on the same metrics (tests) keeps the first one's counts.
    let _first = metrics.azure_key_cache.set(ctx.provisioner.azure().key_cache());
    let notify = Arc::new(Notify::new());
    let mut watchers = watch_all(&ctx, &notify);
    // Image streams are OpenShift's (plain Kubernetes has none to count).
    if ctx.openshift.config {
        watchers.push(tokio::spawn(count_streams(ctx.client.clone(), metrics.clone())));
    }
    let mut backoff = Duration::from_millis(100);
    // One timer at most: a retry after a failed pass, or the 5-minute rule's deadline.
    let mut wake_at: Option<tokio::time::Instant> = None;
    notify.notify_one();
    loop {
        tokio::select! {
            _ = notify.notified() => {}
            _ = stop.changed() => {}
            _ = async { tokio::time::sleep_until(wake_at.expect("guarded")).await }, if wake_at.is_some() => {}
        }
        if *stop.borrow() {
            break;
        }
        // No debounce: events that arrive during a pass leave one permit, so a burst costs
        // at most one more pass, and a single change is acted on at once.
        let started = std::time::Instant::now();
        let outcome = sync(&ctx).await;
        metrics.passes.fetch_add(1, Ordering::Relaxed);
        metrics.pass_micros.fetch_add(started.elapsed().as_micros() as u64, Ordering::Relaxed);
        let retry_in = match outcome {
            Ok(summary) => {
                backoff = Duration::from_millis(100);
                let next = passed(&ctx, &metrics, &summary, started.elapsed());
                let _sent = results.send(Some(Ok(summary)));
                next
            }
            Err(e) => {
                metrics.pass_errors.fetch_add(1, Ordering::Relaxed);
                crate::logging::log(0, &format!("sync failed, retrying in {backoff:?}: {e}"));
                let _sent = results.send(Some(Err(e.to_string())));
                let retry = backoff;
                backoff = (backoff * 2).min(Duration::from_secs(30));
                Some(retry)
            }
        };
        wake_at = retry_in.map(|d| tokio::time::Instant::now() + d);
    }
    for w in watchers {
        w.abort();
    }
}

/// One watch per resource type the operator reads or writes, feeding the cache and
/// waking the pass.
fn watch_all(ctx: &Context, notify: &Arc<Notify>) -> Vec<tokio::task::JoinHandle<()>> {
    let mut watchers = Vec::new();
    // On plain Kubernetes, OpenShift's groups are not there to watch; what stands in for
    // them is watched instead.
    let served = |group: &str, plural: &str| match (group, plural) {
        ("config.openshift.io", _) => ctx.openshift.config,
        ("route.openshift.io", _) => ctx.openshift.routes,
        ("networking.k8s.io", "ingresses" | "ingressclasses") => !ctx.openshift.routes,
        ("cert-manager.io", _) => ctx.openshift.cert_manager && !ctx.openshift.config,
        _ => true,
    };
    for (group, version, kind, plural, ns) in WATCHED.iter().filter(|w| served(w.0, w.3)) {
        let r = ApiResource {
            group: group.to_string(),
            version: version.to_string(),
            api_version: if group.is_empty() {
                version.to_string()
            } else {
                format!("{group}/{version}")
            },
            kind: kind.to_string(),
            plural: plural.to_string(),
        };
        let api: Api<DynamicObject> = match ns {
            Some(ns) => Api::namespaced_with(ctx.client.clone(), ns, &r),
            None => Api::all_with(ctx.client.clone(), &r),
        };
        // The Config is read from the API server at every pass, as the reference does: its
        // spec write-back is conditional on the version read.
        let cache = if *plural == "configs" { ctx.cache.detached() } else { ctx.cache.clone() };
        watchers.push(watch_dynamic(api, cache, notify, watcher::Config::default()));
    }
    // The cluster's TLS profile (the reference's config observer): the APIServer `cluster`
    // alone, by name, so that RBAC can name it.
    if ctx.openshift.config {
        let r = ApiResource::erase::<api::APIServer>(&());
        let apiservers: Api<DynamicObject> = Api::all_with(ctx.client.clone(), &r);
        let by_name = watcher::Config::default().fields("metadata.name=cluster");
        watchers.push(watch_dynamic(apiservers, ctx.cache.clone(), notify, by_name));
    }
    // With the ImageStreamImportMode gate, the ClusterVersion `version` (its architecture).
    if ctx.gates.import_mode() && ctx.openshift.config {
        let r = ApiResource::erase::<api::ClusterVersion>(&());
        let versions: Api<DynamicObject> = Api::all_with(ctx.client.clone(), &r);
        let by_name = watcher::Config::default().fields("metadata.name=version");
        watchers.push(watch_dynamic(versions, ctx.cache.clone(), notify, by_name));
    }
    // The operand namespace (its supplemental groups), and whether any Node has a zone
    // (metadata only: nodes can be many): watched too, so that a pass reads neither.
    let ns = format!("metadata.name={}", render::names::NAMESPACE);
    watchers.push(watch_narrow::<k8s_openapi::api::core::v1::Namespace>(
        ctx,
        notify,
        watcher::Config::default().fields(&ns),
    ));
    watchers.push(watch_narrow::<k8s_openapi::api::core::v1::Node>(
        ctx,
        notify,
        watcher::Config::default().labels("topology.kubernetes.io/zone"),
    ));
    watchers
}

/// Records a finished pass in the metrics; returns when the next pass is due without an
/// event (unavailability turns into Degraded after five minutes: one pass then, not a
/// poll while it waits).
fn passed(ctx: &Context, metrics: &Metrics, summary: &Summary, took: Duration) -> Option<Duration> {
    let line = format!(
        "pass done in {took:?}: {} writes, state {}",
        summary.writes, summary.management_state
    );
    crate::logging::log(4, &line);
    metrics.ready.store(true, Ordering::Relaxed);
    if let Some(t) = summary.storage_type {
        metrics.storage_types.lock().expect("metrics").insert(t);
    }
    if summary.storage_reconfigured {
        metrics.storage_reconfigured.fetch_add(1, Ordering::Relaxed);
    }
    let pruner = if summary.pruner_suspended { 1 } else { 2 };
    metrics.pruner_install_status.store(pruner, Ordering::Relaxed);
    let at = summary.next_change?;
    Some(at.duration_since((ctx.now)()).unsigned_abs() + Duration::from_millis(100))
}
