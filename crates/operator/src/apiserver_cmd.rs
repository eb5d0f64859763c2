//! `apiserver`: the in-memory Kubernetes API server on its own, until SIGTERM.

use std::net::SocketAddr;
use std::path::PathBuf;

use testkit::apiserver::simulator::Simulation;
use testkit::apiserver::{ApiServer, Options, kubeconfig};

/// Arguments of `apiserver`.
#[derive(Debug, Clone, clap::Args)]
pub struct ApiServerArgs {
    /// Address to listen on (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: SocketAddr,
    /// Where to write a kubeconfig for the server.
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: PathBuf,
    /// A directory of CRD YAML files to register at start (repeatable).
    #[arg(long = "crds", value_name = "DIR")]
    pub crds: Vec<PathBuf>,
    /// Give Deployments and DaemonSets the status their controllers would.
    #[arg(long)]
    pub simulate_workloads: bool,
}

/// Serves `server` on `listen` and writes a kubeconfig for it to `path`.
pub async fn serve(
    server: &ApiServer,
    listen: SocketAddr,
    path: &std::path::Path,
) -> Result<testkit::apiserver::Running, String> {
    let running =
        server.serve(listen).await.map_err(|e| format!("cannot listen on {listen}: {e}"))?;
    std::fs::write(path, kubeconfig(&running.url()))
        .map_err(|e| format!("cannot write {}: {e}", path.display()))?;
    Ok(running)
}

/// Runs the server until SIGTERM or SIGINT.
pub async fn run(args: ApiServerArgs) -> Result<(), String> {
    let server = ApiServer::new(Options::default());
    for dir in &args.crds {
        let n = server.register_crds_from_dir(dir)?;
        eprintln!("registered {n} CRDs from {}", dir.display());
    }
    let _simulator =
        args.simulate_workloads.then(|| server.simulate_workloads(Simulation::default()));
    let running = serve(&server, args.listen, &args.kubeconfig).await?;
    eprintln!(
        "serving the Kubernetes API on {} (kubeconfig: {})",
        running.url(),
        args.kubeconfig.display()
    );
    crate::signals::shutdown().await;
    eprintln!("shutting down");
    running.handle.abort();
    Ok(())
}
