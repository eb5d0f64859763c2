//! `diagnose [--kubeconfig FILE] [-o text|json]`: reads the cluster (gets, lists and Pod
//! logs only) and prints [`crate::diagnose`]'s findings. Exit code 0 when all is well, 1
//! when something is wrong, 2 when the cluster cannot be read.

use std::path::PathBuf;
use std::process::ExitCode;

use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::batch::v1::Job;
use k8s_openapi::api::core::v1::{ConfigMap, Event, PersistentVolumeClaim, Pod};
use kube::Client;
use kube::api::{Api, ListParams, LogParams};

use crate::diagnose::{Facts, NS, OPERATOR};

#[derive(Debug, clap::Args)]
pub struct DiagnoseArgs {
    /// Kubeconfig to use (default: in-cluster, then `KUBECONFIG`, then `~/.kube/config`).
    #[arg(long)]
    pub kubeconfig: Option<PathBuf>,
    /// Output format.
    #[arg(short = 'o', long, default_value = "text", value_parser = ["text", "json"])]
    pub output: String,
}

/// Log lines kept of each Pod read.
const LOG_LINES: i64 = 20;

/// Why the cluster could not be read.
#[derive(Debug, thiserror::Error)]
pub enum ReadError {
    #[error("cannot reach the cluster: {0}")]
    Unreachable(String),
    #[error("forbidden: {verb} {resource}{place}: {message}")]
    Forbidden { verb: &'static str, resource: String, place: String, message: String },
    #[error("{verb} {resource}: {message}")]
    Failed { verb: &'static str, resource: String, message: String },
}

/// Turns a read's error into what the user is told, naming the verb and resource.
fn refused(verb: &'static str, resource: &str, ns: Option<&str>, e: kube::Error) -> ReadError {
    let place = ns.map(|n| format!(" in namespace {n}")).unwrap_or_default();
    match e {
        kube::Error::Api(s) if s.code == 403 => {
            ReadError::Forbidden { verb, resource: resource.into(), place, message: s.message }
        }
        kube::Error::Api(s) => {
            ReadError::Failed { verb, resource: resource.into(), message: s.message }
        }
        other => ReadError::Unreachable(other.to_string()),
    }
}

async fn get<K>(
    api: &Api<K>,
    name: &str,
    resource: &str,
    ns: Option<&str>,
) -> Result<Option<K>, ReadError>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    api.get_opt(name).await.map_err(|e| refused("get", resource, ns, e))
}

async fn list<K>(api: &Api<K>, labels: Option<&str>, resource: &str) -> Result<Vec<K>, ReadError>
where
    K: Clone + serde::de::DeserializeOwned + std::fmt::Debug,
{
    let lp = match labels {
        Some(l) => ListParams::default().labels(l),
        None => ListParams::default(),
    };
    api.list(&lp).await.map(|l| l.items).map_err(|e| refused("list", resource, Some(NS), e))
}

/// Reads what the checks need, with gets and lists only.
pub async fn gather(client: &Client) -> Result<Facts, ReadError> {
    let openshift = crate::kubernetes::discover(client).await.map_err(ReadError::Unreachable)?;
    let mut f = Facts { openshift, ..Default::default() };
    if openshift.config {
        let cos = Api::all(client.clone());
        let resource = "clusteroperators.config.openshift.io";
        f.cluster_operator = get(&cos, render::names::CLUSTER_OPERATOR, resource, None).await?;
    }
    let configs = Api::all(client.clone());
    let resource = "configs.imageregistry.operator.openshift.io";
    f.config = get(&configs, "cluster", resource, None).await?;
    workloads(client, &mut f).await?;
    storage_and_certificates(client, &mut f).await?;
    Ok(f)
}

/// The registry's and the operator's Deployments and Pods, the Events, the Routes, the
/// pruner's Jobs, and the Pods' logs.
async fn workloads(client: &Client, f: &mut Facts) -> Result<(), ReadError> {
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), NS);
    f.registry = get(&deployments, render::names::REGISTRY, "deployments.apps", Some(NS)).await?;
    f.operator = get(&deployments, OPERATOR, "deployments.apps", Some(NS)).await?;
    let pods: Api<Pod> = Api::namespaced(client.clone(), NS);
    f.registry_pods = list(&pods, Some("docker-registry=default"), "pods").await?;
    f.operator_pods = list(&pods, Some(&format!("name={OPERATOR}")), "pods").await?;
    f.events = list(&Api::<Event>::namespaced(client.clone(), NS), None, "events").await?;
    if f.openshift.routes {
        let routes = Api::<api::Route>::namespaced(client.clone(), NS);
        f.routes = list(&routes, None, "routes.route.openshift.io").await?;
    }
    let jobs = Api::<Job>::namespaced(client.clone(), NS);
    f.pruner_jobs = list(&jobs, Some("created-by=image-pruner"), "jobs.batch").await?;
    logs(&pods, f).await;
    Ok(())
}

/// The claim the Config names, and the CA config maps.
async fn storage_and_certificates(client: &Client, f: &mut Facts) -> Result<(), ReadError> {
    let claim = f.config.as_ref().and_then(|c| c.spec.storage.as_ref()?.pvc.as_ref()).map(|p| {
        if p.claim.is_empty() { render::storage::PVC_NAME.to_string() } else { p.claim.clone() }
    });
    if let Some(name) = claim {
        let pvcs: Api<PersistentVolumeClaim> = Api::namespaced(client.clone(), NS);
        f.claim = get(&pvcs, &name, "persistentvolumeclaims", Some(NS)).await?;
    }
    let maps: Api<ConfigMap> = Api::namespaced(client.clone(), NS);
    f.certificates.0 =
        get(&maps, render::names::CERTIFICATES, "configmaps", Some(NS)).await?.is_some();
    if f.openshift.config {
        let managed = render::names::OPENSHIFT_CONFIG_MANAGED;
        let maps: Api<ConfigMap> = Api::namespaced(client.clone(), managed);
        let ca = get(&maps, render::names::REGISTRY_CA, "configmaps", Some(managed)).await?;
        f.certificates.1 = ca.is_some();
    }
    Ok(())
}

/// The last lines of the crashing registry Pods and of the operator's Pods. A log that
/// cannot be read is left out: the Pod's state says enough without it.
async fn logs(pods: &Api<Pod>, f: &mut Facts) {
    let crashing = f.registry_pods.iter().filter(|p| {
        p.status.iter().flat_map(|s| s.container_statuses.iter().flatten()).any(|c| {
            c.state.as_ref().and_then(|s| s.waiting.as_ref()).and_then(|w| w.reason.as_deref())
                == Some("CrashLoopBackOff")
        })
    });
    let names: Vec<String> =
        crashing.chain(&f.operator_pods).filter_map(|p| p.metadata.name.clone()).collect();
    for name in names {
        let lp = LogParams { tail_lines: Some(LOG_LINES), ..Default::default() };
        if let Ok(text) = pods.logs(&name, &lp).await {
            f.logs.insert(name, text.lines().map(str::to_string).collect());
        }
    }
}

/// Runs `diagnose`: prints the findings and gives the exit code.
pub async fn run(args: DiagnoseArgs) -> ExitCode {
    let client = match crate::client::connect(args.kubeconfig.as_deref()).await {
        Ok(c) => c,
        Err(e) => {
            eprintln!("error: cannot read the cluster: {e}");
            return ExitCode::from(2);
        }
    };
    let facts = match gather(&client).await {
        Ok(f) => f,
        Err(e) => {
            eprintln!("error: cannot read the cluster: {e}");
            return ExitCode::from(2);
        }
    };
    let found = crate::diagnose::findings(&facts);
    if args.output == "json" {
        println!("{}", serde_json::to_string_pretty(&crate::diagnose::json(&found)).expect("JSON"));
    } else {
        print!("{}", crate::diagnose::text(&found));
    }
    if found.iter().all(|f| f.ok) { ExitCode::SUCCESS } else { ExitCode::from(1) }
}
