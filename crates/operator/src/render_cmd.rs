//! `render`: prints every object the operator would create for a Config and an
//! Infrastructure given as files, in apply order, followed by the conditions it would set.

use std::path::{Path, PathBuf};

use api::{APIServer, Config, ImagePruner, Infrastructure, Proxy};
use jiff::Timestamp;
use k8s_openapi::api::core::v1::Secret;
use render::object::Object;
use render::plan::{Plan, plan};
use render::{Inputs, OperatorEnv, bootstrap, verify};
use serde::de::DeserializeOwned;
use serde_json::Value;

/// Output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Yaml,
    Json,
}

/// Arguments of `render`.
#[derive(Debug, Clone, clap::Args)]
pub struct RenderArgs {
    /// The cluster's `infrastructures.config.openshift.io/cluster`.
    #[arg(long, value_name = "FILE")]
    pub infrastructure: PathBuf,
    /// The registry Config; bootstrapped from the Infrastructure when not given.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
    /// The ImagePruner; the default one when not given.
    #[arg(long, value_name = "FILE")]
    pub pruner: Option<PathBuf>,
    /// The cluster APIServer (`apiservers.config.openshift.io/cluster`), whose TLS profile a
    /// bootstrapped Config observes (Intermediate when not given).
    #[arg(long, value_name = "FILE")]
    pub apiserver: Option<PathBuf>,
    /// The cluster Proxy (`proxies.config.openshift.io/cluster`).
    #[arg(long, value_name = "FILE")]
    pub proxy: Option<PathBuf>,
    /// Output format.
    #[arg(short = 'o', long = "output", value_enum, default_value = "yaml")]
    pub output: Format,
    /// The operand namespace's `openshift.io/sa.scc.supplemental-groups` (gives fsGroup).
    #[arg(long, value_name = "N/M", default_value = "1000000000/10000")]
    pub supplemental_groups: String,
    /// Whether Nodes carry `topology.kubernetes.io/zone` (adds a zone spread constraint).
    #[arg(long)]
    pub zones: bool,
    /// On OpenStack, whether Swift is usable (otherwise the bootstrap picks a PVC).
    #[arg(long)]
    pub swift_available: bool,
    /// A Secret the rendering reads (repeatable): `openshift-config/pull-secret`, or the TLS
    /// Secret of a custom Route (`tls.crt`, `tls.key`, `tls.cacrt`).
    #[arg(long = "secret", value_name = "FILE")]
    pub secrets: Vec<PathBuf>,
    /// `spec.httpSecret` to use when the Config has none (random otherwise).
    #[arg(long, value_name = "SECRET")]
    pub http_secret: Option<String>,
    /// Seed for what the operator would choose at random (httpSecret, bucket and container
    /// names), for output that is the same on every run.
    #[arg(long, value_name = "N")]
    pub seed: Option<u64>,
}

/// The source of what `render` chooses at random: seeded for repeatable output, else from
/// the OS.
struct Random(rand::rngs::StdRng);

impl Random {
    fn new(seed: Option<u64>) -> Result<Self, InputError> {
        use rand::SeedableRng as _;
        let rng = match seed {
            Some(s) => rand::rngs::StdRng::seed_from_u64(s),
            None => rand::rngs::StdRng::try_from_rng(&mut rand::rngs::SysRng)
                .map_err(|e| InputError(format!("cannot read random bytes: {e}")))?,
        };
        Ok(Random(rng))
    }

    fn next(&mut self) -> u64 {
        use rand::Rng as _;
        self.0.next_u64()
    }

    fn bytes<const N: usize>(&mut self) -> [u8; N] {
        std::array::from_fn(|_| (self.next() >> 24) as u8)
    }

    /// A lowercase letter or digit.
    fn alnum(&mut self) -> char {
        const ALPHABET: &[u8] = b"abcdefghijklmnopqrstuvwxyz0123456789";
        char::from(ALPHABET[(self.next() % ALPHABET.len() as u64) as usize])
    }
}

/// A bad input: printed as one line, exit code 2.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct InputError(pub String);

fn read_one(path: &Path) -> Result<Value, InputError> {
    let name = path.display();
    let text = std::fs::read_to_string(path)
        .map_err(|e| InputError(format!("{name}: cannot read: {e}")))?;
    let docs: Vec<Value> = serde_saphyr::from_multiple(&text).map_err(|e| {
        let first = e.to_string().lines().next().unwrap_or("").to_string();
        InputError(format!("{name}: not valid YAML: {first}"))
    })?;
    let mut docs: Vec<Value> = docs.into_iter().filter(|d| !d.is_null()).collect();
    match docs.len() {
        1 => Ok(docs.remove(0)),
        n => Err(InputError(format!("{name}: expected exactly one object, found {n}"))),
    }
}

fn check_kind(name: &str, v: &Value, api_version: &str, kind: &str) -> Result<(), InputError> {
    if !v.is_object() {
        return Err(InputError(format!(
            "{name}: expected a {kind} object, found {}",
            type_name(v)
        )));
    }
    let got_kind = v.get("kind").and_then(Value::as_str).unwrap_or("");
    if got_kind != kind {
        return Err(InputError(format!("{name}: kind: expected {kind}, found {got_kind:?}")));
    }
    let got_api = v.get("apiVersion").and_then(Value::as_str).unwrap_or("");
    if got_api != api_version {
        return Err(InputError(format!(
            "{name}: apiVersion: expected {api_version}, found {got_api:?}"
        )));
    }
    Ok(())
}

fn type_name(v: &Value) -> &'static str {
    match v {
        Value::Null => "nothing",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "a list",
        Value::Object(_) => "an object",
    }
}

fn typed<T: DeserializeOwned>(name: &str, v: Value) -> Result<T, InputError> {
    serde_path_to_error::deserialize(v).map_err(|e| {
        let path = e.path().to_string();
        let path = if path == "." { "(top level)".to_string() } else { path };
        InputError(format!("{name}: {path}: {}", e.into_inner()))
    })
}

/// Validates a Config or ImagePruner against our CRD schema, naming the first bad field.
fn validate_schema(name: &str, kind: &str, v: &Value) -> Result<(), InputError> {
    let crd = api::schema::crds()
        .into_iter()
        .find(|c| c.spec.names.kind == kind)
        .expect("CRD for our own kinds");
    let crd = serde_json::to_value(crd).expect("CRD serializes");
    let schema = testkit::schema::crd_schema(&crd).expect("CRD has a schema");
    testkit::schema::validate(schema, v)
        .map_err(|errs| InputError(format!("{name}: {}", errs[0].line())))
}

fn load<T: DeserializeOwned>(
    path: &Path,
    api_version: &str,
    kind: &str,
    schema: bool,
) -> Result<T, InputError> {
    let name = path.display().to_string();
    let v = read_one(path)?;
    check_kind(&name, &v, api_version, kind)?;
    if schema {
        validate_schema(&name, kind, &v)?;
    }
    typed(&name, v)
}

/// Images and version from the environment, as the operator reads them.
pub fn operator_env() -> OperatorEnv {
    let var = |k: &str, default: &str| std::env::var(k).unwrap_or_else(|_| default.to_string());
    OperatorEnv {
        release_version: var("RELEASE_VERSION", "0.0.1-snapshot"),
        image: var("IMAGE", "quay.io/openshift/origin-docker-registry:latest"),
        image_pruner: var("IMAGE_PRUNER", "quay.io/openshift/origin-cli:latest"),
        operator_image: var(
            "OPERATOR_IMAGE",
            "quay.io/openshift/origin-cluster-image-registry-operator:latest",
        ),
    }
}

/// Builds the plan for `args` (reading the files), at time `now`.
pub fn build(
    args: &RenderArgs,
    env: OperatorEnv,
    now: Timestamp,
) -> Result<(Config, ImagePruner, Plan), InputError> {
    let infrastructure: Infrastructure =
        load(&args.infrastructure, "config.openshift.io/v1", "Infrastructure", false)?;
    let (mut config, first) = config_or_bootstrap(args, &infrastructure)?;
    let pruner: ImagePruner = match &args.pruner {
        Some(path) => load(path, "imageregistry.operator.openshift.io/v1", "ImagePruner", true)?,
        None => bootstrap::pruner(),
    };
    let proxy: Option<Proxy> = match &args.proxy {
        Some(path) => Some(load(path, "config.openshift.io/v1", "Proxy", false)?),
        None => None,
    };
    let managed = config.spec.management_state == "Managed";
    if managed {
        complete(args, &mut config, &infrastructure)?;
    }
    let storage =
        if managed { contribution(args, &config, &infrastructure)? } else { Default::default() };
    let (pull_secret, route_tls) = secrets(args)?;
    let managed_ok = managed && verify::verify(&config.spec).is_ok();
    let inputs = Inputs {
        config: config.clone(),
        infrastructure,
        cluster_proxy: proxy.and_then(|p| p.status),
        pruner: pruner.clone(),
        env,
        storage,
        supplemental_groups: Some(args.supplemental_groups.clone()),
        nodes_have_zones: args.zones,
        pull_secret,
        route_tls,
        internal_registry_hostname: if managed_ok {
            format!(
                "{}.{}.svc:{}",
                render::names::SERVICE,
                render::names::NAMESPACE,
                render::names::PORT
            )
        } else {
            String::new()
        },
        ..Default::default()
    };
    let p = plan(&inputs, first, now);
    Ok((config, pruner, p))
}

/// The Config given, or the one the operator would bootstrap (with its claim first).
fn config_or_bootstrap(
    args: &RenderArgs,
    infrastructure: &Infrastructure,
) -> Result<(Config, Vec<Object>), InputError> {
    if let Some(path) = &args.config {
        return Ok((
            load(path, "imageregistry.operator.openshift.io/v1", "Config", true)?,
            Vec::new(),
        ));
    }
    let apiserver: Option<APIServer> = match &args.apiserver {
        Some(path) => Some(load(path, "config.openshift.io/v1", "APIServer", false)?),
        None => None,
    };
    let profile = apiserver.as_ref().and_then(|a| a.spec.tls_security_profile.as_ref());
    let observed = render::tls::observed_config(profile);
    let b = bootstrap::config(infrastructure, args.swift_available, Some(observed));
    Ok((b.config, b.pvc.map(Object::PersistentVolumeClaim).into_iter().collect()))
}

/// What the operator would fill into a Managed spec: storage names, the finalizer, and
/// httpSecret (given, or random).
fn complete(
    args: &RenderArgs,
    config: &mut Config,
    infrastructure: &Infrastructure,
) -> Result<(), InputError> {
    let mut random = Random::new(args.seed)?;
    storage::names::fill(config, infrastructure, || random.alnum());
    let finalizers = config.metadata.finalizers.get_or_insert_with(Vec::new);
    if !finalizers.iter().any(|f| f == api::imageregistry::FINALIZER) {
        finalizers.push(api::imageregistry::FINALIZER.to_string());
    }
    if config.spec.http_secret.is_empty() {
        config.spec.http_secret = match &args.http_secret {
            Some(s) => s.clone(),
            None => verify::http_secret(&random.bytes::<64>()),
        };
    }
    Ok(())
}

/// What the storage adds to the workload; a setting it cannot use names the file.
fn contribution(
    args: &RenderArgs,
    config: &Config,
    infrastructure: &Infrastructure,
) -> Result<render::storage::StorageContribution, InputError> {
    match storage::contribution(config, infrastructure, &Default::default()) {
        Ok(c) => Ok(c),
        // No single backend: verification reports it in the conditions.
        Err(storage::ContributionError::Select(_)) => Ok(Default::default()),
        Err(storage::ContributionError::Config(m)) => {
            let file = args
                .config
                .as_ref()
                .map_or("(bootstrapped Config)".to_string(), |p| p.display().to_string());
            Err(InputError(format!("{file}: spec.storage: {m}")))
        }
    }
}

/// The pull secret and the routes' TLS secrets given with `--secret`.
#[allow(clippy::type_complexity)]
fn secrets(
    args: &RenderArgs,
) -> Result<
    (Option<k8s_openapi::ByteString>, std::collections::BTreeMap<String, render::RouteTls>),
    InputError,
> {
    let mut pull_secret = None;
    let mut route_tls = std::collections::BTreeMap::new();
    for path in &args.secrets {
        let secret: Secret = load(path, "v1", "Secret", false)?;
        let name = secret.metadata.name.clone().unwrap_or_default();
        // `stringData` wins over `data`, as the API server merges them.
        let mut data: std::collections::BTreeMap<String, Vec<u8>> =
            secret.data.unwrap_or_default().into_iter().map(|(k, v)| (k, v.0)).collect();
        for (k, v) in secret.string_data.unwrap_or_default() {
            data.insert(k, v.into_bytes());
        }
        let text = |k: &str| {
            data.get(k).map(|b| String::from_utf8_lossy(b).into_owned()).unwrap_or_default()
        };
        if secret.metadata.namespace.as_deref() == Some(render::names::OPENSHIFT_CONFIG)
            && name == "pull-secret"
        {
            pull_secret = data.get(".dockerconfigjson").cloned().map(k8s_openapi::ByteString);
        } else {
            let tls = render::RouteTls {
                certificate: text("tls.crt"),
                key: text("tls.key"),
                ca_certificate: text("tls.cacrt"),
            };
            route_tls.insert(name, tls);
        }
    }
    Ok((pull_secret, route_tls))
}

fn clean(mut v: Value) -> Value {
    if let Some(meta) = v.get_mut("metadata").and_then(Value::as_object_mut)
        && meta.get("creationTimestamp").is_some_and(Value::is_null)
    {
        meta.remove("creationTimestamp");
    }
    v
}

/// Renders the output text.
pub fn output(args: &RenderArgs, config: Config, pruner: ImagePruner, plan: &Plan) -> String {
    let mut objects = vec![];
    for o in plan.objects.iter().take_while(|o| matches!(o, Object::PersistentVolumeClaim(_))) {
        objects.push(clean(o.to_value()));
    }
    let mut config_value = Object::Config(Box::new(config)).to_value();
    let mut pruner_value = Object::ImagePruner(Box::new(pruner)).to_value();
    if let Some(o) = config_value.as_object_mut() {
        o.remove("status");
    }
    if let Some(o) = pruner_value.as_object_mut() {
        o.remove("status");
    }
    if args.output == Format::Json {
        config_value["status"] = serde_json::json!({
            "conditions": plan.config_conditions,
            "storage": {},
            "storageManaged": false,
        });
        pruner_value["status"] = serde_json::json!({"conditions": plan.pruner_conditions});
    }
    objects.push(config_value);
    objects.push(pruner_value);
    for o in plan.objects.iter().skip_while(|o| matches!(o, Object::PersistentVolumeClaim(_))) {
        objects.push(clean(o.to_value()));
    }
    match args.output {
        Format::Json => {
            let list = serde_json::json!({"apiVersion": "v1", "kind": "List", "metadata": {}, "items": objects});
            let mut s = serde_json::to_string_pretty(&list).expect("json");
            s.push('\n');
            s
        }
        Format::Yaml => {
            let mut s = String::new();
            for o in &objects {
                s.push_str("---\n");
                s.push_str(&serde_saphyr::to_string(o).expect("yaml"));
            }
            s.push_str(&conditions_comment(plan));
            s
        }
    }
}

/// The conditions as a YAML comment block (no timestamps: they depend on when it runs).
pub fn conditions_comment(plan: &Plan) -> String {
    let mut s =
        String::from("# Conditions the operator would set after applying the objects above:\n");
    let mut block = |title: &str, rows: Vec<(String, &str, String, String)>| {
        s.push_str(&format!("# {title}\n"));
        for (t, status, reason, message) in rows {
            let reason = if reason.is_empty() { String::new() } else { format!(" ({reason})") };
            let message = if message.is_empty() {
                String::new()
            } else {
                format!(": {}", message.replace('\n', " / "))
            };
            s.push_str(&format!("#   {t}={status}{reason}{message}\n"));
        }
    };
    block(
        "configs.imageregistry.operator.openshift.io/cluster:",
        plan.config_conditions
            .iter()
            .map(|c| (c.type_.clone(), c.status.as_str(), c.reason.clone(), c.message.clone()))
            .collect(),
    );
    block(
        "imagepruners.imageregistry.operator.openshift.io/cluster:",
        plan.pruner_conditions
            .iter()
            .map(|c| (c.type_.clone(), c.status.as_str(), c.reason.clone(), c.message.clone()))
            .collect(),
    );
    block(
        "clusteroperators.config.openshift.io/image-registry:",
        plan.cluster_operator
            .iter()
            .map(|c| (c.type_.clone(), c.status.as_str(), c.reason.clone(), c.message.clone()))
            .collect(),
    );
    s
}

/// Runs `render`; returns the text to print, and a warning when the registry objects
/// could not be rendered (the conditions in the output say the same).
pub fn run(args: &RenderArgs) -> Result<(String, Option<String>), InputError> {
    let (config, pruner, plan) = build(args, operator_env(), Timestamp::now())?;
    let warning = plan.error.as_ref().map(|e| match e {
        render::registry::RenderError::Spec(e) => format!("the registry would not be deployed: {e}"),
        render::registry::RenderError::Missing(m) => {
            format!("the registry would not be deployed yet: {m} (give cluster Secrets with --secret FILE)")
        }
    });
    Ok((output(args, config, pruner, &plan), warning))
}
