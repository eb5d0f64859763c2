//! `cluster-image-registry-operator`: the OpenShift image registry operator.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use cluster_image_registry_operator::{
    apiserver_cmd, diagnose_cmd, local_cmd, nodeca_cmd, render_cmd, run_cmd,
};

/// The OpenShift image registry operator.
#[derive(Debug, Parser)]
#[command(name = "cluster-image-registry-operator", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Option<Command>,
    #[command(flatten)]
    run: run_cmd::RunArgs,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the operator against a cluster (the default).
    Run(run_cmd::RunArgs),
    /// Print every object the operator would create for the given cluster objects, in
    /// apply order, followed by the conditions it would set.
    Render(Box<render_cmd::RenderArgs>),
    /// Print the CRDs of Config and ImagePruner, generated from the Rust types.
    Crdgen {
        /// Write them, with their release annotations, as the files of this manifests
        /// directory (`manifests/0000_50_cluster-image-registry-operator_00-*.crd.yaml`).
        #[arg(long, value_name = "DIR")]
        manifests: Option<std::path::PathBuf>,
    },
    /// Serve an in-memory Kubernetes API (for kubectl and tests) until SIGTERM.
    Apiserver(apiserver_cmd::ApiServerArgs),
    /// Run the operator against an OpenShift-like cluster kept in memory.
    Local(local_cmd::LocalArgs),
    /// Copy the registry's CAs to the container runtime's certs.d (run by node-ca pods).
    NodeCaSync(nodeca_cmd::NodeCaArgs),
    /// Walk the troubleshooting checklist against a cluster and say what is wrong (reads
    /// only). Exit code 0 all is well, 1 something is wrong, 2 the cluster cannot be read.
    Diagnose(diagnose_cmd::DiagnoseArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command.unwrap_or(Command::Run(cli.run)) {
        Command::Run(args) => block_on(run_cmd::run(args)),
        Command::Render(args) => match render_cmd::run(&args) {
            Ok((text, warning)) => {
                print!("{text}");
                if let Some(w) = warning {
                    eprintln!("warning: {w}");
                }
                ExitCode::SUCCESS
            }
            Err(e) => {
                eprintln!("error: {e}");
                ExitCode::from(2)
            }
        },
        Command::Crdgen { manifests: None } => {
            print!("{}", api::schema::crds_yaml());
            ExitCode::SUCCESS
        }
        Command::Crdgen { manifests: Some(dir) } => {
            for (name, text) in api::schema::release_crd_files() {
                if let Err(e) = std::fs::write(dir.join(&name), text) {
                    eprintln!("error: cannot write {}: {e}", dir.join(&name).display());
                    return ExitCode::FAILURE;
                }
            }
            ExitCode::SUCCESS
        }
        Command::Apiserver(args) => block_on(apiserver_cmd::run(args)),
        Command::Local(args) => block_on(local_cmd::run(args)),
        Command::NodeCaSync(args) => block_on(nodeca_cmd::run(args)),
        Command::Diagnose(args) => match tokio::runtime::Runtime::new() {
            Ok(r) => r.block_on(diagnose_cmd::run(args)),
            Err(e) => {
                eprintln!("error: cannot start the async runtime: {e}");
                ExitCode::from(2)
            }
        },
    }
}

fn block_on(f: impl std::future::Future<Output = Result<(), String>>) -> ExitCode {
    let runtime = match tokio::runtime::Runtime::new() {
        Ok(r) => r,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(f) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e}");
            ExitCode::FAILURE
        }
    }
}
