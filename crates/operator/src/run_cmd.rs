//! `run` (the default): the operator against a cluster, with leader election, health and
//! metrics, until SIGTERM.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use k8s_openapi::api::coordination::v1::Lease;
use kube::Api;
use tokio::sync::watch;

use crate::leader::{self, Timing};
use crate::metrics::Metrics;
use crate::sync::Context;

/// Arguments of `run`.
#[derive(Debug, Clone, Default, clap::Args)]
pub struct RunArgs {
    /// Kubeconfig to use (default: in-cluster, then `KUBECONFIG`, then `~/.kube/config`).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Address of the health and metrics server (`/healthz`, `/readyz`, `/metrics`); default
    /// the --config file's servingInfo.bindAddress, else 0.0.0.0:60000.
    #[arg(long)]
    pub listen: Option<SocketAddr>,
    /// A `GenericControllerConfig` file, as the reference's Deployment passes
    /// (`image-registry-operator-config`): its servingInfo gives the metrics server's
    /// address, TLS versions and cipher suites, and turns HTTPS on with the certificate it
    /// names or, by default, the service-serving one in /etc/secrets.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// A file whose change makes the operator exit, to be restarted with the new content
    /// (repeatable: the reference's Deployment lists the trusted CAs, the metrics
    /// certificate and key, and the --config file).
    #[arg(long = "files", value_name = "FILE")]
    pub files: Vec<PathBuf>,
    /// The cluster's trusted CA bundle (the `trusted-ca` config map, which OpenShift fills
    /// with the proxy's and the admin's CAs): trusted by every client, beside the system's
    /// roots, when the file is there and not empty.
    #[arg(long, value_name = "FILE", default_value = TRUSTED_CA_BUNDLE)]
    pub trusted_ca: PathBuf,
    /// Serve health and metrics over HTTPS with this certificate (PEM; with --tls-key), in
    /// place of the one --config gives.
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// The private key of --tls-cert (PEM).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Run without leader election (only one instance may run).
    #[arg(long)]
    pub no_leader_election: bool,
    /// The platform of a cluster without `config.openshift.io` (plain Kubernetes), when the
    /// Nodes' provider does not say it: AWS, GCP, Azure, OpenStack, None...
    #[arg(long, value_name = "TYPE")]
    pub platform: Option<String>,
    /// A cluster without `route.openshift.io`: the IngressClass of the Ingresses made for
    /// `spec.routes` and `defaultRoute` (unset: the cluster's default IngressClass).
    #[arg(long, value_name = "NAME")]
    pub ingress_class: Option<String>,
    /// How long to wait at start for the FeatureGate to list this release's gates (the
    /// reference waits a minute, then exits with an error).
    #[arg(long, value_name = "SECONDS", default_value_t = 60)]
    pub feature_gates_timeout: u64,
    /// Lease duration, renew deadline and retry period in seconds (default: the
    /// reference's 137/107/26, or 270/240/60 on a single-replica control plane).
    #[arg(long, value_name = "D,R,P", value_delimiter = ',')]
    pub lease_timing: Option<Vec<u64>>,
}

/// Where the reference's Deployment mounts the trusted CA bundle.
pub const TRUSTED_CA_BUNDLE: &str = "/var/run/configmaps/trusted-ca/tls-ca-bundle.pem";

/// Loads `--trusted-ca` into every client's trust. An absent or empty file (a cluster with
/// no proxy CA) adds nothing; one that is not PEM is said and left out, as the reference's
/// trust-store update leaves out what it cannot read.
fn load_trusted_ca(path: &std::path::Path) {
    let Ok(text) = std::fs::read_to_string(path) else { return };
    if text.trim().is_empty() {
        return;
    }
    match storage::tls::trust_also(&text) {
        Ok(n) => eprintln!("Trusting {n} CA certificates from {}", path.display()),
        Err(e) => eprintln!("warning: {}: {e}; it is not trusted", path.display()),
    }
}

/// Runs the operator until SIGTERM (or until it loses the lease, like library-go).
/// The Lease timings: `--lease-timing`, else the reference's for the topology.
fn timing(args: &RunArgs, infra: &api::Infrastructure) -> Result<Timing, String> {
    Ok(match &args.lease_timing {
        Some(t) if t.len() != 3 => {
            return Err(format!("--lease-timing takes three numbers of seconds, got {}", t.len()));
        }
        Some(t) => Timing {
            lease_duration: Duration::from_secs(t[0]),
            renew_deadline: Duration::from_secs(t[1]),
            retry_period: Duration::from_secs(t[2]),
        },
        None => Timing::reference(
            infra.status.as_ref().is_some_and(|s| s.control_plane_topology == "SingleReplica"),
        ),
    })
}

/// Refuses a missing `RELEASE_VERSION` or a `WATCH_NAMESPACE` other than the registry's,
/// and prints the start lines.
fn start_lines(env: &render::OperatorEnv) -> Result<(), String> {
    // The ClusterOperator reports this version; a Deployment without it is a broken install,
    // better refused at start than reported as "0.0.1-snapshot".
    if std::env::var("RELEASE_VERSION").is_ok_and(|v| v.trim().is_empty())
        || std::env::var_os("RELEASE_VERSION").is_none()
    {
        return Err(
            "RELEASE_VERSION is not set: the operator Deployment must give the release version (manifests/0000_50_cluster-image-registry-operator_07-operator.yaml)"
                .into(),
        );
    }
    // The reference reads its namespace from WATCH_NAMESPACE; this operator manages the
    // registry in openshift-image-registry only.
    if let Ok(ns) = std::env::var("WATCH_NAMESPACE")
        && !ns.is_empty()
        && ns != render::names::NAMESPACE
    {
        return Err(format!(
            "WATCH_NAMESPACE is {ns:?}, but this operator manages {:?} only",
            render::names::NAMESPACE
        ));
    }
    eprintln!("Cluster Image Registry Operator Version: {}", env!("CARGO_PKG_VERSION"));
    eprintln!("Release version: {}, registry image: {}", env.release_version, env.image);
    Ok(())
}

/// How the metrics server listens: address, and the TLS files and settings when HTTPS.
struct Serving {
    addr: SocketAddr,
    tls: Option<(PathBuf, PathBuf, crate::serving::ServingInfo)>,
}

/// `--listen` and `--tls-*` over `--config`'s servingInfo, over the mounted service-serving
/// certificate; plain HTTP only when there is no certificate at all (a development run).
fn serving(args: &RunArgs) -> Result<Serving, String> {
    use crate::serving::{CERT_FILE, KEY_FILE, bind_address, read_config};
    let info = args.config.as_deref().map(read_config).transpose()?;
    let addr = match (args.listen, &info) {
        (Some(addr), _) => addr,
        (None, Some(info)) => bind_address(&info.bind_address)?,
        (None, None) => bind_address("")?,
    };
    let file =
        |given: &str, default: &str| PathBuf::from(if given.is_empty() { default } else { given });
    let tls = match (&args.tls_cert, &args.tls_key, info) {
        (Some(cert), Some(key), info) => {
            Some((cert.clone(), key.clone(), info.unwrap_or_default()))
        }
        (_, _, Some(info)) => {
            Some((file(&info.cert_file, CERT_FILE), file(&info.key_file, KEY_FILE), info))
        }
        _ if Path::new(CERT_FILE).exists() && Path::new(KEY_FILE).exists() => {
            Some((CERT_FILE.into(), KEY_FILE.into(), Default::default()))
        }
        _ => None,
    };
    Ok(Serving { addr, tls })
}

pub async fn run(args: RunArgs) -> Result<(), String> {
    let env = crate::render_cmd::operator_env();
    start_lines(&env)?;
    let serving = serving(&args)?;
    load_trusted_ca(&args.trusted_ca);
    let client = crate::client::connect(args.kubeconfig.as_deref()).await?;
    let openshift = crate::kubernetes::discover(&client)
        .await
        .map_err(|e| format!("cannot reach the API server: {e}"))?;
    let (infra, gates) = if openshift.config {
        cluster_facts(&args, &client).await?
    } else {
        let routes = match (openshift.routes, args.ingress_class.as_deref()) {
            (true, _) => String::new(),
            (false, Some(class)) => format!("; routes as Ingresses of class {class}"),
            (false, None) => "; routes as Ingresses of the default class".to_string(),
        };
        let certificate = if openshift.cert_manager { "cert-manager's" } else { "self-signed" };
        eprintln!(
            "Plain Kubernetes (no config.openshift.io): platform {}, status on the Config only{routes}; serving certificate {certificate}",
            args.platform.as_deref().unwrap_or("from the Nodes")
        );
        (Default::default(), Default::default())
    };

    let metrics = Arc::new(Metrics::default());
    let server = Some(serve_metrics(serving, metrics.clone()).await?);
    let identity = std::env::var("POD_NAME")
        .unwrap_or_else(|_| format!("{}-{}", hostname(), std::process::id()));
    let (stop_tx, stop_rx) = watch::channel(false);
    let (campaign, mut leading, _always_leading) =
        start_campaign(&args, &infra, &client, &identity, &metrics, stop_rx.clone())?;

    let shutdown = shutdown(args.files.clone(), client.clone(), gates.clone(), openshift.config);
    tokio::pin!(shutdown);
    // Wait for leadership (or a signal).
    while !*leading.borrow() {
        tokio::select! {
            _ = &mut shutdown => return stop(stop_tx, campaign, server).await,
            changed = leading.changed() => if changed.is_err() { return Err("leader election stopped".into()) },
        }
    }
    eprintln!("{identity} is the leader; starting the controllers");
    let mut ctx = Context::new(client, env);
    ctx.gates = gates;
    ctx.openshift = openshift;
    ctx.platform = args.platform.clone();
    ctx.ingress_class = args.ingress_class.clone();
    ctx.pruner_image_given = std::env::var_os("IMAGE_PRUNER").is_some();
    ctx.azure_environment_file = std::env::var_os("AZURE_ENVIRONMENT_FILEPATH").map(Into::into);
    // STORAGE_EMULATOR_HOST points GCS at an emulator, as for Google's own clients.
    ctx.provisioner = storage::provision::Provisioner::from_env();
    let (results_tx, _results) = watch::channel(None);
    let controller =
        tokio::spawn(crate::controller::run(ctx, stop_rx.clone(), results_tx, metrics));
    let outcome = loop {
        tokio::select! {
            _ = &mut shutdown => break Ok(()),
            changed = leading.changed() => {
                if changed.is_err() || !*leading.borrow() {
                    break Err("lost the leader lease; exiting so that another instance takes over".to_string());
                }
            }
        }
    };
    let _stopping = stop_tx.send(true);
    let _stopped = tokio::time::timeout(Duration::from_secs(5), controller).await;
    let result = stop(watch::channel(true).0, campaign, server).await;
    outcome.and(result)
}

/// The Infrastructure (the platform, the lease timing) and this release's feature gates,
/// read before anything starts.
async fn cluster_facts(
    args: &RunArgs,
    client: &kube::Client,
) -> Result<(api::Infrastructure, crate::gates::Gates), String> {
    let infras: Api<api::Infrastructure> = Api::all(client.clone());
    let infra = infras
        .get_opt("cluster")
        .await
        .map_err(|e| format!("cannot reach the API server: {e}"))?
        .unwrap_or_default();
    eprintln!("Platform: {:?}", infra.platform_type());
    let image_version = std::env::var("OPERATOR_IMAGE_VERSION").unwrap_or_default();
    let timeout = Duration::from_secs(args.feature_gates_timeout);
    let gates = crate::gates::wait(client, &image_version, timeout).await?;
    eprintln!("Feature gates of {}: {} enabled", gates.version, gates.enabled.len());
    Ok((infra, gates))
}

/// Resolves on SIGTERM, a change of one of `files`, or a change of the feature gates,
/// saying which.
async fn shutdown(
    files: Vec<PathBuf>,
    client: kube::Client,
    gates: crate::gates::Gates,
    openshift: bool,
) {
    let gates_changed = async {
        // Plain Kubernetes has no feature gates to change.
        if !openshift {
            std::future::pending::<()>().await;
        }
        crate::gates::changed(client, gates.clone()).await
    };
    tokio::select! {
        _ = crate::signals::shutdown() => {}
        f = crate::serving::changed(files, Duration::from_secs(5)) => {
            eprintln!("{} changed; exiting to be restarted with it", f.display());
        }
        now = gates_changed => {
            eprintln!(
                "the feature gates of {} changed ({} enabled, was {}); exiting to be restarted with them",
                gates.version, now.len(), gates.enabled.len()
            );
        }
    }
}

/// The leader-election campaign, when on, and whether this instance leads. Without
/// leader election the sender is kept here, so that leading stays true until the end.
type Campaign =
    (Option<tokio::task::JoinHandle<()>>, watch::Receiver<bool>, Option<watch::Sender<bool>>);

/// Starts the leader-election campaign (unless it is off).
fn start_campaign(
    args: &RunArgs,
    infra: &api::Infrastructure,
    client: &kube::Client,
    identity: &str,
    metrics: &Metrics,
    stop_rx: watch::Receiver<bool>,
) -> Result<Campaign, String> {
    let (leading_tx, leading) = watch::channel(args.no_leader_election);
    if args.no_leader_election {
        return Ok((None, leading, Some(leading_tx)));
    }
    let timing = timing(args, infra)?;
    let leases: Api<Lease> = Api::namespaced(client.clone(), render::names::NAMESPACE);
    // Waiting for the lease is a ready state: the instance is healthy.
    metrics.ready.store(true, std::sync::atomic::Ordering::Relaxed);
    let task = leader::campaign(leases, identity.to_string(), timing, leading_tx, stop_rx);
    Ok((Some(tokio::spawn(task)), leading, None))
}

/// Serves health and metrics, over HTTPS (HTTP/1.1 only, with the servingInfo's TLS
/// versions and suites) when a certificate is given.
async fn serve_metrics(
    serving: Serving,
    metrics: Arc<Metrics>,
) -> Result<tokio::task::JoinHandle<std::io::Result<()>>, String> {
    let router = crate::metrics::router(metrics);
    let addr = serving.addr;
    let listener =
        std::net::TcpListener::bind(addr).map_err(|e| format!("cannot listen on {addr}: {e}"))?;
    listener.set_nonblocking(true).map_err(|e| e.to_string())?;
    let local = listener.local_addr().map_err(|e| e.to_string())?;
    if let Some((cert, key, info)) = &serving.tls {
        // One crypto provider for the process: ring, as kube's client uses.
        let _already = rustls::crypto::ring::default_provider().install_default();
        let (config, missing) = crate::serving::server_config(cert, key, info)?;
        if !missing.is_empty() {
            eprintln!("servingInfo cipher suites left out (not in rustls): {}", missing.join(", "));
        }
        let tls = axum_server::tls_rustls::RustlsConfig::from_config(Arc::new(config));
        eprintln!("Serving health and metrics on https://{local}");
        let server = axum_server::from_tcp_rustls(listener, tls).map_err(|e| e.to_string())?;
        Ok(tokio::spawn(async move { server.serve(router.into_make_service()).await }))
    } else {
        eprintln!("Serving health and metrics on http://{local}");
        let listener = tokio::net::TcpListener::from_std(listener).map_err(|e| e.to_string())?;
        Ok(tokio::spawn(async move { axum::serve(listener, router).await }))
    }
}

async fn stop(
    stop_tx: watch::Sender<bool>,
    campaign: Option<tokio::task::JoinHandle<()>>,
    server: Option<tokio::task::JoinHandle<std::io::Result<()>>>,
) -> Result<(), String> {
    let _stopping = stop_tx.send(true);
    if let Some(c) = campaign {
        // The campaign releases the lease when it sees the stop.
        let _released = tokio::time::timeout(Duration::from_secs(5), c).await;
    }
    if let Some(s) = server {
        s.abort();
    }
    eprintln!("stopped");
    Ok(())
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_string())
        .unwrap_or_else(|_| "operator".into())
}
