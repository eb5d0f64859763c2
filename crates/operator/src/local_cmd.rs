//! `local`: an OpenShift-like cluster in memory with the operator running against it.

use std::path::PathBuf;
use std::time::Duration;

use api::ConditionStatus;
use serde_json::json;
use testkit::apiserver::simulator::Simulation;
use testkit::apiserver::{ApiServer, Options};
use testkit::emulators::Emulator;
use tokio::sync::watch;

use crate::sync::{Context, Summary};

/// Arguments of `local`.
#[derive(Debug, Clone, clap::Args)]
pub struct LocalArgs {
    /// The platform the stand-in cluster reports, any case: AWS, Azure, GCP, OpenStack,
    /// BareMetal, VSphere, None, Libvirt, oVirt, Nutanix, KubeVirt, EquinixMetal, External.
    #[arg(long, default_value = "None")]
    pub platform: String,
    /// Exit 0 once the registry has converged (non-zero, saying why, if it does not).
    #[arg(long)]
    pub once: bool,
    /// How long `--once` waits for convergence, in seconds.
    #[arg(long, default_value_t = 60)]
    pub timeout: u64,
    /// Address of the API server (port 0 picks a free port).
    #[arg(long, default_value = "127.0.0.1:0")]
    pub listen: std::net::SocketAddr,
    /// Where to write the kubeconfig for kubectl.
    #[arg(long, default_value = "local.kubeconfig")]
    pub kubeconfig: PathBuf,
    /// Stand up a plain Kubernetes cluster instead: the registry's CRDs and namespace,
    /// none of OpenShift's APIs (the registry then runs on emptyDir).
    #[arg(long, conflicts_with = "platform")]
    pub kubernetes: bool,
}

/// The platforms `local` stands a cluster up for, each tested to converge: the clouds
/// whose storage a server on loopback speaks, and the platforms whose registry starts on
/// emptyDir or a claim. (IBM Cloud, Power VS and Alibaba Cloud are left out: nothing here
/// serves their storage APIs.)
pub const LOCAL_PLATFORMS: &[&str] = &[
    "AWS",
    "Azure",
    "GCP",
    "OpenStack",
    "BareMetal",
    "VSphere",
    "None",
    "Libvirt",
    "oVirt",
    "Nutanix",
    "KubeVirt",
    "EquinixMetal",
    "External",
];

/// Platforms a seeded cluster can report besides those `local` offers (tests use them).
const OTHER_PLATFORMS: &[&str] = &["IBMCloud", "PowerVS", "AlibabaCloud"];

/// The platform's canonical spelling.
pub fn platform_name(p: &str) -> String {
    LOCAL_PLATFORMS
        .iter()
        .chain(OTHER_PLATFORMS)
        .find(|k| k.eq_ignore_ascii_case(p))
        .map_or_else(|| p.to_string(), |k| k.to_string())
}

/// Storage servers a seeded cluster points its cloud at.
#[derive(Debug, Clone, Default)]
pub struct Storage {
    /// An S3 endpoint (the Infrastructure's `s3` service endpoint), with static keys in
    /// `installer-cloud-credentials`.
    pub s3_endpoint: Option<String>,
    /// The CA of that endpoint (PEM), in the cluster's cloud CA bundle
    /// (`openshift-config-managed/kube-cloud-config`, `ca-bundle.pem`): an AWS cluster's
    /// service endpoints are `https://`, and this is how a cluster trusts a private one.
    pub s3_ca: Option<String>,
    /// A GCS JSON API endpoint (an emulator: no token), with a service-account keyfile in
    /// `installer-cloud-credentials` for the registry.
    pub gcs_endpoint: Option<String>,
    /// An Azure Blob endpoint (an emulator, `<endpoint>/<account>`): the user's override
    /// secret holds the account key and the Config names the account, as for a cluster
    /// whose storage account the user provides.
    pub azure_endpoint: Option<String>,
    /// A Swift proxy with tempauth (`test:tester` / `testing`), named in the cluster's
    /// `clouds.yaml`.
    pub swift_endpoint: Option<String>,
}

impl Storage {
    /// The storage drivers, sending calls to these endpoints.
    pub fn provisioner(&self) -> storage::provision::Provisioner {
        let mut p = storage::provision::Provisioner::from_env();
        if let Some(url) = &self.gcs_endpoint {
            p = p.with_gcs_endpoint(url);
        }
        if let Some(url) = &self.azure_endpoint {
            p = p.with_azure_blob_endpoint(url);
        }
        p
    }
}

/// The operand namespace, as the seeds name it.
const NS: &str = "openshift-image-registry";

/// The container `local --platform azure` makes on Azurite before the operator starts, as
/// the owner of an account key would: with a key, the storage is the user's.
pub const LOCAL_AZURE_CONTAINER: &str = "image-registry";

/// Azurite's development account and its published key.
pub const LOCAL_AZURE_ACCOUNT: (&str, &str) = (
    "devstoreaccount1",
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==",
);

/// The keyfile a seeded GCP cluster's `installer-cloud-credentials` holds (the emulator
/// needs no token; the registry's secret gets a complete file all the same).
pub const LOCAL_GCP_KEYFILE: &str = r#"{"type": "service_account", "project_id": "local-project", "client_email": "registry@local-project.iam.gserviceaccount.com"}"#;

/// The keys a seeded cluster's `installer-cloud-credentials` holds (any key works on moto).
pub const LOCAL_AWS_KEYS: (&str, &str) = ("AKIALOCALEXAMPLE", "local-secret-access-key");

/// A server seeded as an OpenShift-like cluster on `platform`.
pub fn seeded_server(platform: &str) -> Result<ApiServer, String> {
    seeded_server_with(platform, &Storage::default())
}

/// [`seeded_server`] whose cloud storage is served by `storage`.
pub fn seeded_server_with(platform: &str, storage: &Storage) -> Result<ApiServer, String> {
    let server = ApiServer::new(Options::default());
    for crd in api::schema::crds().into_iter().chain(api::schema::openshift_crds()) {
        server.register_crd(serde_json::to_value(crd).map_err(|e| e.to_string())?)?;
    }
    let platform = platform_name(platform);
    let mut platform_status = platform_status(&platform);
    if platform == "AWS"
        && let Some(url) = &storage.s3_endpoint
    {
        platform_status["aws"]["serviceEndpoints"] = json!([{"name": "s3", "url": url}]);
    }
    let seeds = cluster_seeds(&platform, platform_status)
        .into_iter()
        .chain(release_seeds())
        .chain(storage_seeds(&platform, storage));
    for (group, version, plural, ns, obj) in seeds {
        let status = obj.get("status").cloned();
        server.write(|s| {
            let t = s
                .find_type(group, version, plural)
                .cloned()
                .ok_or(format!("{plural} not served"))?;
            let created = s.create(&t, ns, obj, false).map_err(|e| e.message)?;
            if let Some(st) = status {
                // A status the schema refuses is an error here, not a status left out.
                let mut with_status = created;
                with_status["status"] = st;
                let name = with_status["metadata"]["name"].as_str().unwrap_or("").to_string();
                s.update(&t, ns, &name, with_status, true, false)
                    .map_err(|e| format!("the seeded {plural} status: {}", e.message))?;
            }
            Ok::<(), String>(())
        })?;
    }
    Ok(server)
}

/// An object to seed: group, version, plural, namespace, the object.
type Seed = (&'static str, &'static str, &'static str, &'static str, serde_json::Value);

/// The Infrastructure's `platformStatus` of a seeded cluster.
fn platform_status(platform: &str) -> serde_json::Value {
    let region_block = match platform {
        "AWS" => json!({"aws": {"region": "us-east-1"}}),
        "GCP" => json!({"gcp": {"region": "us-central1", "projectID": "local-project"}}),
        "Azure" => {
            json!({"azure": {"resourceGroupName": "local-rg", "cloudName": "AzurePublicCloud"}})
        }
        "IBMCloud" => {
            json!({"ibmcloud": {"location": "us-south", "resourceGroupName": "local-rg"}})
        }
        "OpenStack" => json!({"openstack": {"cloudName": "openstack"}}),
        _ => json!({}),
    };
    let mut platform_status = json!({"type": platform});
    if let (Some(ps), Some(extra)) = (platform_status.as_object_mut(), region_block.as_object()) {
        ps.extend(extra.clone());
    }
    platform_status
}

/// The credentials (and, for Azure, the Config naming the user's container) that point a
/// seeded cluster at its storage server.
fn storage_seeds(platform: &str, storage: &Storage) -> Vec<Seed> {
    let secret = |name: &str, data: serde_json::Value| -> Seed {
        ("", "v1", "secrets", NS, json!({"metadata": {"name": name}, "stringData": data}))
    };
    match platform {
        "AWS" if storage.s3_endpoint.is_some() => {
            let keys = json!({"aws_access_key_id": LOCAL_AWS_KEYS.0, "aws_secret_access_key": LOCAL_AWS_KEYS.1});
            let ca = storage.s3_ca.iter().map(|pem| {
                let cm = json!({"metadata": {"name": "kube-cloud-config"}, "data": {"ca-bundle.pem": pem}});
                ("", "v1", "configmaps", "openshift-config-managed", cm)
            });
            std::iter::once(secret("installer-cloud-credentials", keys)).chain(ca).collect()
        }
        "GCP" if storage.gcs_endpoint.is_some() => vec![secret(
            "installer-cloud-credentials",
            json!({"service_account.json": LOCAL_GCP_KEYFILE}),
        )],
        "OpenStack" => storage.swift_endpoint.iter().map(|url| {
            let clouds = format!(
                "clouds:\n  openstack:\n    auth:\n      auth_url: {url}/auth/v1.0\n      username: \"test:tester\"\n      password: testing\n    identity_api_version: 1\n"
            );
            secret("installer-cloud-credentials", json!({"clouds.yaml": clouds}))
        }).collect(),
        "Azure" if storage.azure_endpoint.is_some() => vec![
            secret(
                "image-registry-private-configuration-user",
                json!({"REGISTRY_STORAGE_AZURE_ACCOUNTKEY": LOCAL_AZURE_ACCOUNT.1}),
            ),
            (
                "imageregistry.operator.openshift.io",
                "v1",
                "configs",
                "",
                json!({"apiVersion": "imageregistry.operator.openshift.io/v1", "kind": "Config",
                    "metadata": {"name": "cluster"},
                    "spec": {"managementState": "Managed", "replicas": 2,
                        "storage": {"azure": {"accountName": LOCAL_AZURE_ACCOUNT.0,
                            "container": LOCAL_AZURE_CONTAINER}}}}),
            ),
        ],
        _ => Vec::new(),
    }
}

/// What every seeded cluster has: its namespaces, the cluster config objects, and what
/// the service-CA operator would provide.
/// The release version of the stand-in cluster (its ClusterVersion and FeatureGate).
pub const LOCAL_RELEASE: &str = "4.21.0";

/// The release the cluster runs, and its feature gates, as the cluster-version and config
/// operators publish them (the operator waits for its version's gates).
fn release_seeds() -> [Seed; 2] {
    [
        (
            "config.openshift.io",
            "v1",
            "clusterversions",
            "",
            json!({"metadata": {"name": "version"}, "spec": {"clusterID": "00000000-0000-4000-8000-000000000000"},
            "status": {"desired": {"version": LOCAL_RELEASE},
                "history": [{"state": "Completed", "version": LOCAL_RELEASE}]}}),
        ),
        (
            "config.openshift.io",
            "v1",
            "featuregates",
            "",
            json!({"metadata": {"name": "cluster"}, "spec": {},
            "status": {"featureGates": [{"version": LOCAL_RELEASE, "enabled": [],
                "disabled": [{"name": crate::gates::IMPORT_MODE}]}]}}),
        ),
    ]
}

fn cluster_seeds(platform: &str, platform_status: serde_json::Value) -> Vec<Seed> {
    let cluster = |plural: &'static str| -> Seed {
        (
            "config.openshift.io",
            "v1",
            plural,
            "",
            json!({"metadata": {"name": "cluster"}, "spec": {}}),
        )
    };
    vec![
        (
            "",
            "v1",
            "namespaces",
            "",
            json!({"metadata": {"name": NS, "annotations": {
            "openshift.io/sa.scc.supplemental-groups": "1000430000/10000"}}}),
        ),
        ("", "v1", "namespaces", "", json!({"metadata": {"name": "openshift-config"}})),
        ("", "v1", "namespaces", "", json!({"metadata": {"name": "openshift-config-managed"}})),
        (
            "config.openshift.io",
            "v1",
            "infrastructures",
            "",
            json!({"metadata": {"name": "cluster"}, "spec": {},
            "status": {"infrastructureName": "local-x7k2p", "platform": platform, "platformStatus": platform_status,
                "infrastructureTopology": "HighlyAvailable", "controlPlaneTopology": "HighlyAvailable"}}),
        ),
        cluster("apiservers"),
        cluster("images"),
        (
            "",
            "v1",
            "secrets",
            NS,
            json!({"metadata": {"name": "image-registry-tls"},
            "type": "kubernetes.io/tls", "stringData": {"tls.crt": "local certificate", "tls.key": "local key"}}),
        ),
        (
            "",
            "v1",
            "configmaps",
            NS,
            json!({"metadata": {"name": "serviceca",
            "annotations": {"service.beta.openshift.io/inject-cabundle": "true"}}, "data": {"service-ca.crt": "local service CA"}}),
        ),
    ]
}

fn line(summary: &Summary, of: &str) -> String {
    let mut parts = vec![format!("managementState={}", summary.management_state)];
    for (t, s, r) in &summary.cluster_operator {
        parts.push(format!(
            "{t}={}{}",
            s.as_str(),
            if r.is_empty() { String::new() } else { format!(" ({r})") }
        ));
    }
    format!("{of}: {}", parts.join("  "))
}

/// Whether the ClusterOperator, as stored, reports a settled registry. (Not "a pass that
/// wrote nothing": the echo of a pass's own writes wakes no further pass.)
pub fn converged(summary: &Summary) -> bool {
    let get =
        |t: &str| summary.cluster_operator.iter().find(|(ty, _, _)| ty == t).map(|(_, s, _)| *s);
    get("Available") == Some(ConditionStatus::True)
        && get("Progressing") == Some(ConditionStatus::False)
        && get("Degraded") == Some(ConditionStatus::False)
}

/// Starts a storage server: the server, and the CA of its certificate when it serves
/// HTTPS with one of its own.
type Starter = fn() -> Result<(Emulator, Option<String>), testkit::emulators::Unavailable>;

/// Cloud storage on a storage server on loopback, where one serves the platform (and, for
/// Azure with its account key, the user's container made first). The server runs as long
/// as the returned handle lives.
async fn storage_server(args: &LocalArgs) -> Result<(Storage, Option<Emulator>), String> {
    let mut storage = Storage::default();
    let platform = platform_name(&args.platform);
    let server_for: Option<(Starter, &str, &str)> = match platform.as_str() {
        // An AWS cluster's S3 endpoint is https://, trusted through the cloud CA bundle.
        "AWS" => Some((
            || testkit::emulators::moto_https().map(|h| (h.emulator, Some(h.cert_pem))),
            "its S3 bucket on moto's S3 server",
            "S3",
        )),
        "GCP" => Some((
            || testkit::emulators::gcs().map(|e| (e, None)),
            "its bucket on gcp-storage-emulator",
            "GCS",
        )),
        "Azure" => Some((
            || testkit::emulators::azurite().map(|e| (e, None)),
            "its container on Azurite",
            "Azure Blob",
        )),
        "OpenStack" => Some((
            || testkit::emulators::swift().map(|e| (e, None)),
            "its container on OpenStack Swift",
            "Swift",
        )),
        _ => None,
    };
    let Some((start, what, name)) = server_for else { return Ok((storage, None)) };
    let (e, ca) = start().map_err(|e| {
        format!("local --platform {} provisions {what}: {e}", args.platform.to_lowercase())
    })?;
    storage.s3_ca = ca;
    eprintln!("{name} served on {} for this run only", e.endpoint);
    let url = Some(e.endpoint.clone());
    match platform.as_str() {
        "AWS" => storage.s3_endpoint = url,
        "GCP" => storage.gcs_endpoint = url,
        "Azure" => storage.azure_endpoint = url,
        _ => storage.swift_endpoint = url,
    }
    if platform == "Azure" {
        let (account, key) = LOCAL_AZURE_ACCOUNT;
        storage
            .provisioner()
            .azure()
            .create_container(account, key, LOCAL_AZURE_CONTAINER)
            .await
            .map_err(|e| format!("local --platform azure: creating the user's container: {e}"))?;
    }
    Ok((storage, Some(e)))
}

/// The Available, Progressing and Degraded the API server holds: the ClusterOperator's
/// (what `kubectl get co` shows), or on plain Kubernetes the Config's, in that order.
async fn reported(server: &ApiServer, plain: bool) -> Vec<(String, ConditionStatus, String)> {
    let held: Vec<(String, ConditionStatus, String)> = if plain {
        let configs: kube::Api<api::Config> = kube::Api::all(server.client());
        let c = configs.get_opt("cluster").await.ok().flatten();
        let conditions = c.and_then(|c| c.status).map(|s| s.conditions).unwrap_or_default();
        conditions.into_iter().map(|c| (c.type_, c.status, c.reason)).collect()
    } else {
        let cos: kube::Api<api::ClusterOperator> = kube::Api::all(server.client());
        let co = cos.get_opt(render::names::CLUSTER_OPERATOR).await.ok().flatten();
        let conditions = co.and_then(|c| c.status).map(|s| s.conditions).unwrap_or_default();
        conditions.into_iter().map(|c| (c.type_, c.status, c.reason)).collect()
    };
    ["Available", "Progressing", "Degraded"]
        .iter()
        .filter_map(|t| held.iter().find(|c| c.0 == *t).cloned())
        .collect()
}

/// Prints each new pass line until the run ends: converged (`--once`), out of time, or a
/// signal. The line shows the ClusterOperator as stored, not what the pass meant to write.
async fn follow(
    args: &LocalArgs,
    server: &ApiServer,
    mut results: watch::Receiver<Option<Result<Summary, String>>>,
) -> Result<(), String> {
    let deadline = tokio::time::Instant::now() + Duration::from_secs(args.timeout);
    let reporter =
        if args.kubernetes { "config/cluster" } else { "clusteroperator/image-registry" };
    let mut last_line = String::new();
    let mut last: Option<Result<Summary, String>> = None;
    loop {
        tokio::select! {
            changed = results.changed() => {
                if changed.is_err() {
                    break Err("the operator stopped".to_string());
                }
                let mut r = results.borrow().clone();
                if let Some(Ok(s)) = &mut r {
                    s.cluster_operator = reported(server, args.kubernetes).await;
                }
                if let Some(r) = &r {
                    let l = match r {
                        Ok(s) => line(s, reporter),
                        Err(e) => format!("sync error (retrying): {e}"),
                    };
                    if l != last_line {
                        println!("{l}");
                        last_line = l;
                    }
                    if args.once && matches!(r, Ok(s) if converged(s)) {
                        break Ok(());
                    }
                }
                last = r;
            }
            _ = tokio::time::sleep_until(deadline), if args.once => {
                let why = match &last {
                    Some(Ok(s)) => line(s, reporter),
                    Some(Err(e)) => e.clone(),
                    None => "no pass finished".to_string(),
                };
                break Err(format!("did not converge within {} s: {why}", args.timeout));
            }
            _ = crate::signals::shutdown(), if !args.once => break Ok(()),
        }
    }
}

pub async fn run(args: LocalArgs) -> Result<(), String> {
    if args.kubernetes {
        return run_kubernetes(args).await;
    }
    let platform = platform_name(&args.platform);
    if !LOCAL_PLATFORMS.contains(&platform.as_str()) {
        return Err(format!(
            "local: unknown --platform {:?}; one of: {}",
            args.platform,
            LOCAL_PLATFORMS.join(", ")
        ));
    }
    let (storage, _emulator) = storage_server(&args).await?;
    let server = seeded_server_with(&args.platform, &storage)?;
    operator_deployment(&server)?;
    let _simulator = server.simulate_workloads(Simulation::default());
    let running = crate::apiserver_cmd::serve(&server, args.listen, &args.kubeconfig).await?;
    eprintln!(
        "local cluster ({}) on {}; kubectl --kubeconfig {} get configs.imageregistry.operator.openshift.io cluster -o yaml",
        platform_name(&args.platform),
        running.url(),
        args.kubeconfig.display()
    );
    let mut ctx =
        Context::new(crate::client::in_process(&server), crate::render_cmd::operator_env());
    ctx.provisioner = storage.provisioner();
    operate(&args, &server, ctx, running).await
}

/// Runs the operator in this process against `server` (served as `running`) until `local`
/// ends, following its passes.
async fn operate(
    args: &LocalArgs,
    server: &ApiServer,
    ctx: Context,
    running: testkit::apiserver::Running,
) -> Result<(), String> {
    let (stop_tx, stop_rx) = watch::channel(false);
    let (results_tx, results) = watch::channel(None);
    let operator =
        tokio::spawn(crate::controller::run(ctx, stop_rx, results_tx, Default::default()));
    let outcome = follow(args, server, results).await;
    let _stopping = stop_tx.send(true);
    let _finished = operator.await;
    if args.once {
        print_state(server).await;
    }
    running.handle.abort();
    outcome
}

/// An API server as a plain Kubernetes cluster has it for the registry: its CRDs and its
/// namespace, nothing of OpenShift's.
pub fn plain_server() -> Result<ApiServer, String> {
    let server = ApiServer::new(Options::default());
    for crd in api::schema::crds() {
        server.register_crd(serde_json::to_value(crd).map_err(|e| e.to_string())?)?;
    }
    server.write(|s| {
        let t = s.find_type("", "v1", "namespaces").cloned().ok_or("no namespaces")?;
        s.create(&t, "", json!({"metadata": {"name": NS}}), false).map(drop).map_err(|e| e.message)
    })?;
    Ok(server)
}

/// `local --kubernetes`: the operator against a plain Kubernetes cluster in memory; the
/// lines follow the Config's conditions (there is no ClusterOperator).
async fn run_kubernetes(args: LocalArgs) -> Result<(), String> {
    let server = plain_server()?;
    operator_deployment(&server)?;
    let _simulator = server.simulate_workloads(Simulation::default());
    let running = crate::apiserver_cmd::serve(&server, args.listen, &args.kubeconfig).await?;
    eprintln!(
        "local plain Kubernetes cluster on {}; kubectl --kubeconfig {} get configs.imageregistry.operator.openshift.io cluster -o yaml",
        running.url(),
        args.kubeconfig.display()
    );
    let mut ctx =
        Context::new(crate::client::in_process(&server), crate::render_cmd::operator_env());
    ctx.openshift =
        crate::kubernetes::OpenShiftApis { config: false, routes: false, cert_manager: false };
    operate(&args, &server, ctx, running).await
}

/// The operator's own Deployment, as a cluster has it, with its Pod's log fed from this
/// process: `kubectl logs deployment/cluster-image-registry-operator` reads what the
/// operator running here logs.
fn operator_deployment(server: &ApiServer) -> Result<(), String> {
    const NAME: &str = "cluster-image-registry-operator";
    let labels = json!({"name": NAME});
    let env = crate::render_cmd::operator_env();
    let deployment = json!({"metadata": {"name": NAME, "labels": labels},
        "spec": {"replicas": 1, "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels},
                "spec": {"serviceAccountName": NAME, "containers": [{"name": NAME,
                    "image": env.operator_image, "command": ["cluster-image-registry-operator"],
                    "args": ["run"]}]}}}});
    server.write(|s| {
        let t = s.find_type("apps", "v1", "deployments").cloned().ok_or("no deployments")?;
        s.create(&t, NS, deployment, false).map(|_| ()).map_err(|e| e.message)
    })?;
    let log = server.attach_log(NS, NAME);
    crate::logging::tee(move |line| log.push(line));
    crate::logging::log(0, "the operator starts, in process, against the local cluster");
    Ok(())
}

/// Prints the Config and ClusterOperator the way `oc get` shows them.
async fn print_state(server: &ApiServer) {
    let client = server.client();
    let configs: kube::Api<api::Config> = kube::Api::all(client.clone());
    let cos: kube::Api<api::ClusterOperator> = kube::Api::all(client);
    if let Ok(Some(c)) = configs.get_opt("cluster").await {
        println!(
            "configs.imageregistry.operator.openshift.io/cluster: managementState={} replicas={}",
            c.spec.management_state, c.spec.replicas
        );
        for cond in c.status.map(|s| s.conditions).unwrap_or_default() {
            println!("  {}={} {} {}", cond.type_, cond.status.as_str(), cond.reason, cond.message);
        }
    }
    if let Ok(Some(co)) = cos.get_opt("image-registry").await {
        println!("clusteroperators.config.openshift.io/image-registry:");
        for cond in co.status.map(|s| s.conditions).unwrap_or_default() {
            println!(
                "  {}={} {}: {}",
                cond.type_,
                cond.status.as_str(),
                cond.reason,
                cond.message.replace('\n', " / ")
            );
        }
    }
}
