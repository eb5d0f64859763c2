//! `render`: snapshots of the rendered YAML for the reference's main cases, the AWS
//! Deployment checked line by line against anchor-behaviour §d.2, and every bad input
//! exiting 2 with a one-line message naming the file and the field.
//!
//! Snapshots live in `tests/snapshots/`; `UPDATE_SNAPSHOTS=1 cargo test` rewrites them
//! (review the diff as code).

use std::path::{Path, PathBuf};
use std::process::Command;

use cluster_image_registry_operator::render_cmd::{Format, RenderArgs, build, output};
use jiff::Timestamp;
use render::OperatorEnv;
use serde_json::Value;

fn root() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../..")
}

fn example(name: &str) -> PathBuf {
    root().join("examples").join(name)
}

fn fixture(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/fixtures").join(name)
}

fn args(infra: &str) -> RenderArgs {
    RenderArgs {
        infrastructure: example(&format!("infrastructure-{infra}.yaml")),
        config: None,
        pruner: None,
        apiserver: None,
        proxy: None,
        output: Format::Yaml,
        supplemental_groups: "1000430000/10000".into(),
        zones: false,
        swift_available: false,
        secrets: vec![],
        http_secret: Some("0123456789abcdef".into()),
        seed: Some(1),
    }
}

fn env() -> OperatorEnv {
    OperatorEnv {
        release_version: "4.21.0".into(),
        image: "registry.example/openshift/docker-registry:4.21".into(),
        image_pruner: "registry.example/openshift/cli:4.21".into(),
        operator_image: "registry.example/openshift/cluster-image-registry-operator:4.21".into(),
    }
}

fn render(a: &RenderArgs) -> String {
    let (config, pruner, plan) = build(a, env(), Timestamp::UNIX_EPOCH).expect("renders");
    output(a, config, pruner, &plan)
}

fn docs(text: &str) -> Vec<Value> {
    testkit::yaml_docs(text).expect("output is YAML")
}

fn find<'a>(docs: &'a [Value], kind: &str, name: &str) -> &'a Value {
    docs.iter()
        .find(|d| d["kind"] == kind && d["metadata"]["name"] == name)
        .unwrap_or_else(|| panic!("{kind} {name} not rendered"))
}

fn check_snapshot(name: &str, text: &str) {
    let path = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/snapshots")
        .join(format!("{name}.yaml"));
    if std::env::var_os("UPDATE_SNAPSHOTS").is_some() {
        std::fs::write(&path, text).unwrap();
        return;
    }
    let want = std::fs::read_to_string(&path).unwrap_or_else(|_| {
        panic!("missing snapshot {}: run with UPDATE_SNAPSHOTS=1", path.display())
    });
    if want != text {
        let first = want.lines().zip(text.lines()).position(|(a, b)| a != b).unwrap_or(0);
        panic!(
            "snapshot {name} differs at line {}:\n  snapshot: {:?}\n  rendered: {:?}\n(UPDATE_SNAPSHOTS=1 to accept)",
            first + 1,
            want.lines().nth(first),
            text.lines().nth(first)
        );
    }
}

/// (snapshot name, arguments)
fn cases() -> Vec<(&'static str, RenderArgs)> {
    let with = |infra: &str, f: &dyn Fn(&mut RenderArgs)| {
        let mut a = args(infra);
        f(&mut a);
        a
    };
    vec![
        ("aws-default", args("aws")),
        ("gcp-default", args("gcp")),
        ("azure-default", args("azure")),
        ("openstack-pvc", args("openstack")),
        ("baremetal-removed", args("baremetal")),
        ("none-removed", args("none")),
        (
            "emptydir-routes-tls",
            with("none", &|a| {
                a.config = Some(example("config-emptydir-routes.yaml"));
                a.secrets = vec![example("secret-route-tls.yaml")];
            }),
        ),
        (
            "proxy-from-cluster",
            with("aws", &|a| {
                a.config = Some(fixture("config-emptydir.yaml"));
                a.proxy = Some(example("proxy.yaml"));
            }),
        ),
        (
            "proxy-overridden",
            with("aws", &|a| {
                a.config = Some(fixture("config-proxy-override.yaml"));
                a.proxy = Some(example("proxy.yaml"));
            }),
        ),
        (
            "s3-limits-readonly-noredirect",
            with("aws", &|a| a.config = Some(example("config-s3-tuned.yaml"))),
        ),
        ("scheduling-pvc", with("aws", &|a| a.config = Some(fixture("config-scheduling.yaml")))),
        ("replicas-1", with("aws", &|a| a.config = Some(fixture("config-emptydir.yaml")))),
        (
            "replicas-2-zones",
            with("aws", &|a| {
                a.config = Some(fixture("config-replicas-2.yaml"));
                a.zones = true;
            }),
        ),
        ("replicas-3", with("aws", &|a| a.config = Some(fixture("config-replicas-3.yaml")))),
        ("single-replica", args("sno")),
        (
            "apiserver-modern-tls",
            with("gcp", &|a| a.apiserver = Some(example("apiserver-modern.yaml"))),
        ),
        ("pruner-suspended", with("none", &|a| a.pruner = Some(example("pruner-suspended.yaml")))),
        (
            "invalid-replicas",
            with("aws", &|a| a.config = Some(fixture("config-invalid-replicas.yaml"))),
        ),
    ]
}

#[test]
fn snapshots() {
    for (name, a) in cases() {
        check_snapshot(name, &render(&a));
    }
}

#[test]
fn every_document_is_a_named_kubernetes_object() {
    for (name, a) in cases() {
        for d in docs(&render(&a)) {
            for field in ["apiVersion", "kind"] {
                assert!(d[field].as_str().is_some_and(|s| !s.is_empty()), "{name}: {field} in {d}");
            }
            assert!(d["metadata"]["name"].as_str().is_some(), "{name}: unnamed {}", d["kind"]);
        }
    }
}

/// Anchor-behaviour §d.2, line by line: the AWS default's Deployment.
#[test]
fn aws_deployment_matches_the_reference() {
    let out = docs(&render(&args("aws")));
    let d = find(&out, "Deployment", "image-registry");
    assert_eq!(d["metadata"]["namespace"], "openshift-image-registry");
    assert_eq!(d["metadata"]["labels"], serde_json::json!({"docker-registry": "default"}));
    assert_eq!(d["metadata"]["annotations"]["release.openshift.io/version"], "4.21.0");
    let spec = &d["spec"];
    assert_eq!(spec["progressDeadlineSeconds"], 120);
    assert_eq!(spec["replicas"], 2);
    assert_eq!(spec["selector"]["matchLabels"], serde_json::json!({"docker-registry": "default"}));
    assert_eq!(
        spec["strategy"],
        serde_json::json!({"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": 1}})
    );
    let tmpl = &spec["template"];
    assert_eq!(tmpl["metadata"]["labels"], serde_json::json!({"docker-registry": "default"}));
    let ann = &tmpl["metadata"]["annotations"];
    assert_eq!(
        ann["target.workload.openshift.io/management"],
        r#"{"effect": "PreferredDuringScheduling"}"#
    );
    assert_eq!(ann["openshift.io/required-scc"], "restricted-v2");
    assert!(
        ann["imageregistry.operator.openshift.io/dependencies-checksum"]
            .as_str()
            .unwrap()
            .starts_with("sha256:")
    );
    let pod = &tmpl["spec"];
    assert_eq!(pod["serviceAccountName"], "registry");
    assert_eq!(pod["priorityClassName"], "system-cluster-critical");
    assert_eq!(pod["terminationGracePeriodSeconds"], 55);
    assert_eq!(pod["nodeSelector"], serde_json::json!({"kubernetes.io/os": "linux"}));
    assert_eq!(
        pod["securityContext"],
        serde_json::json!({"fsGroup": 1000430000, "fsGroupChangePolicy": "OnRootMismatch"})
    );
    assert_eq!(
        pod["affinity"]["podAntiAffinity"]["requiredDuringSchedulingIgnoredDuringExecution"][0]["topologyKey"],
        "kubernetes.io/hostname"
    );
    let keys: Vec<&str> = pod["topologySpreadConstraints"]
        .as_array()
        .unwrap()
        .iter()
        .map(|t| t["topologyKey"].as_str().unwrap())
        .collect();
    assert_eq!(keys, ["kubernetes.io/hostname", "node-role.kubernetes.io/worker"]);
    let c = &pod["containers"][0];
    assert_eq!(c["name"], "registry");
    assert_eq!(c["image"], "registry.example/openshift/docker-registry:4.21");
    assert_eq!(c["command"][2], render::registry::REGISTRY_COMMAND);
    assert_eq!(c["ports"], serde_json::json!([{"containerPort": 5000, "protocol": "TCP"}]));
    for (probe, delay) in [("livenessProbe", 5), ("readinessProbe", 15)] {
        assert_eq!(
            c[probe],
            serde_json::json!({"httpGet": {"path": "/healthz", "port": 5000, "scheme": "HTTPS"}, "initialDelaySeconds": delay, "timeoutSeconds": 5})
        );
    }
    assert_eq!(c["resources"], serde_json::json!({"requests": {"cpu": "100m", "memory": "256Mi"}}));
    assert_eq!(c["lifecycle"]["preStop"]["exec"]["command"], serde_json::json!(["sleep", "25"]));
    assert_eq!(c["terminationMessagePolicy"], "FallbackToLogsOnError");
    assert_eq!(c["securityContext"], serde_json::json!({"readOnlyRootFilesystem": true}));

    let env: Vec<(String, String)> = c["env"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["name"].as_str().unwrap().to_string(),
                e["value"].as_str().unwrap_or("<ref>").to_string(),
            )
        })
        .collect();
    let want: Vec<(&str, &str)> = vec![
        ("REGISTRY_STORAGE", "s3"),
        ("REGISTRY_STORAGE_S3_BUCKET", "demo-x7k2p-image-registry-us-east-1"),
        ("REGISTRY_STORAGE_S3_REGION", "us-east-1"),
        ("REGISTRY_STORAGE_S3_ENCRYPT", "false"),
        ("REGISTRY_STORAGE_S3_FORCEPATHSTYLE", "true"),
        ("REGISTRY_STORAGE_S3_CREDENTIALSCONFIGPATH", "/var/run/secrets/cloud/credentials"),
        ("REGISTRY_STORAGE_S3_USEDUALSTACK", "true"),
        ("REGISTRY_HTTP_ADDR", ":5000"),
        ("REGISTRY_HTTP_NET", "tcp"),
        ("REGISTRY_HTTP_SECRET", "0123456789abcdef"),
        ("REGISTRY_LOG_LEVEL", "info"),
        ("REGISTRY_OPENSHIFT_QUOTA_ENABLED", "true"),
        ("REGISTRY_STORAGE_CACHE_BLOBDESCRIPTOR", "inmemory"),
        ("REGISTRY_STORAGE_DELETE_ENABLED", "true"),
        ("REGISTRY_HEALTH_STORAGEDRIVER_ENABLED", "true"),
        ("REGISTRY_HEALTH_STORAGEDRIVER_INTERVAL", "10s"),
        ("REGISTRY_HEALTH_STORAGEDRIVER_THRESHOLD", "1"),
        ("REGISTRY_OPENSHIFT_METRICS_ENABLED", "true"),
        ("REGISTRY_OPENSHIFT_SERVER_ADDR", "image-registry.openshift-image-registry.svc:5000"),
        ("REGISTRY_HTTP_TLS_CERTIFICATE", "/etc/secrets/tls.crt"),
        ("REGISTRY_HTTP_TLS_KEY", "/etc/secrets/tls.key"),
        ("REGISTRY_HTTP_TLS_MINVERSION", "VersionTLS12"),
        (
            "OPENSHIFT_REGISTRY_HTTP_TLS_CIPHERSUITES",
            "TLS_AES_128_GCM_SHA256,TLS_AES_256_GCM_SHA384,TLS_CHACHA20_POLY1305_SHA256,TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256,TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384,TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256,TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        ),
    ];
    let want: Vec<(String, String)> = want.into_iter().map(|(a, b)| (a.into(), b.into())).collect();
    assert_eq!(env, want);

    let volumes: Vec<(&str, &str)> = pod["volumes"]
        .as_array()
        .unwrap()
        .iter()
        .zip(c["volumeMounts"].as_array().unwrap())
        .map(|(v, m)| {
            assert_eq!(v["name"], m["name"]);
            (v["name"].as_str().unwrap(), m["mountPath"].as_str().unwrap())
        })
        .collect();
    assert_eq!(
        volumes,
        [
            ("image-registry-private-configuration", "/var/run/secrets/cloud"),
            ("registry-tls", "/etc/secrets"),
            ("ca-trust-extracted", "/etc/pki/ca-trust/extracted"),
            ("registry-certificates", "/etc/pki/ca-trust/source/anchors"),
            ("trusted-ca", "/usr/share/pki/ca-trust-source"),
            ("installation-pull-secrets", "/var/lib/kubelet/"),
            ("bound-sa-token", "/var/run/secrets/openshift/serviceaccount"),
        ]
    );
    let v = |name: &str| {
        pod["volumes"].as_array().unwrap().iter().find(|v| v["name"] == name).unwrap().clone()
    };
    assert_eq!(
        v("registry-tls")["projected"]["sources"][0]["secret"]["name"],
        "image-registry-tls"
    );
    assert_eq!(v("registry-certificates")["configMap"]["name"], "image-registry-certificates");
    assert_eq!(
        v("trusted-ca")["configMap"],
        serde_json::json!({"name": "trusted-ca", "optional": true, "items": [{"key": "ca-bundle.crt", "path": "anchors/ca-bundle.crt"}]})
    );
    assert_eq!(
        v("installation-pull-secrets")["secret"],
        serde_json::json!({"secretName": "installation-pull-secrets", "optional": true, "items": [{"key": ".dockerconfigjson", "path": "config.json"}]})
    );
    assert_eq!(
        v("bound-sa-token")["projected"]["sources"][0]["serviceAccountToken"],
        serde_json::json!({"audience": "openshift", "path": "token"})
    );
    assert_eq!(c["volumeMounts"][6]["readOnly"], true);
}

#[test]
fn emptydir_storage_parts() {
    let mut a = args("aws");
    a.config = Some(fixture("config-emptydir.yaml"));
    let out = docs(&render(&a));
    let c = &find(&out, "Deployment", "image-registry")["spec"]["template"]["spec"];
    let env = &c["containers"][0]["env"];
    assert_eq!(env[0], serde_json::json!({"name": "REGISTRY_STORAGE", "value": "filesystem"}));
    assert_eq!(
        env[1],
        serde_json::json!({"name": "REGISTRY_STORAGE_FILESYSTEM_ROOTDIRECTORY", "value": "/registry"})
    );
    assert_eq!(env[2]["name"], "REGISTRY_HTTP_ADDR");
    assert_eq!(c["volumes"][0], serde_json::json!({"name": "registry-storage", "emptyDir": {}}));
    assert_eq!(
        c["containers"][0]["volumeMounts"][0],
        serde_json::json!({"name": "registry-storage", "mountPath": "/registry"})
    );
    // replicas 1: maxUnavailable 0, maxSurge 25%, no anti-affinity, PDB minAvailable 0
    let d = find(&out, "Deployment", "image-registry");
    assert_eq!(
        d["spec"]["strategy"]["rollingUpdate"],
        serde_json::json!({"maxUnavailable": 0, "maxSurge": "25%"})
    );
    assert!(c.get("affinity").is_none());
    assert_eq!(find(&out, "PodDisruptionBudget", "image-registry")["spec"]["minAvailable"], 0);
}

#[test]
fn bootstrapped_config_comes_first_and_json_is_a_list() {
    let mut a = args("openstack");
    let out = docs(&render(&a));
    assert_eq!(out[0]["kind"], "PersistentVolumeClaim");
    assert_eq!(out[1]["kind"], "Config");
    assert_eq!(out[1]["spec"]["rolloutStrategy"], "Recreate");
    assert_eq!(out[2]["kind"], "ImagePruner");
    a.output = Format::Json;
    let list: Value = serde_json::from_str(&render(&a)).expect("JSON");
    assert_eq!(list["kind"], "List");
    let items = list["items"].as_array().unwrap();
    assert_eq!(items.len(), out.len());
    let conditions = items[1]["status"]["conditions"].as_array().unwrap();
    assert!(
        conditions
            .iter()
            .any(|c| c["type"] == "Progressing" && c["reason"] == "WaitingForDeployment")
    );
}

fn binary() -> Command {
    Command::new(env!("CARGO_BIN_EXE_cluster-image-registry-operator"))
}

#[test]
fn bad_input_exits_2_naming_file_and_field() {
    let infra = example("infrastructure-aws.yaml");
    let cases: Vec<(Vec<PathBuf>, &str, &str)> = vec![
        (vec![], "/does/not/exist.yaml", "cannot read"),
        (vec![], "bad-yaml.yaml", "not valid YAML"),
        (vec![], "bad-two-docs.yaml", "expected exactly one object, found 2"),
        (vec![], "bad-infra-field.yaml", "status.platformStatus.aws.resourceTags: invalid type"),
        (vec![infra.clone()], "bad-loglevel.yaml", "spec.logLevel: Unsupported value: \"Loud\""),
        (vec![infra.clone()], "bad-no-replicas.yaml", "spec.replicas: Required value"),
        (
            vec![infra.clone()],
            "bad-chunk.yaml",
            "spec.storage.s3.chunkSizeMiB: Invalid value: 1: spec.storage.s3.chunkSizeMiB in body should be greater than or equal to 5",
        ),
        (
            vec![infra.clone()],
            "config-kind-mismatch",
            "kind: expected Config, found \"Infrastructure\"",
        ),
        (vec![infra.clone()], "bad-proxy.yaml", "status.httpProxy: invalid type"),
        (
            vec![infra.clone()],
            "bad-pruner.yaml",
            "spec.keepTagRevisions: Invalid value: \"three\": spec.keepTagRevisions in body must be of type integer",
        ),
    ];
    for (pre, file, want) in cases {
        let path = match file {
            f if f.starts_with('/') => PathBuf::from(f),
            "config-kind-mismatch" => infra.clone(),
            f => fixture(f),
        };
        let mut cmd = binary();
        cmd.arg("render");
        let flag = if file.contains("proxy") {
            "--proxy"
        } else if file.contains("pruner") {
            "--pruner"
        } else {
            "--config"
        };
        match pre.first() {
            Some(i) => cmd.arg("--infrastructure").arg(i).arg(flag).arg(&path),
            None => cmd.arg("--infrastructure").arg(&path),
        };
        let out = cmd.output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{file}: {stderr}");
        assert_eq!(stderr.trim_end().lines().count(), 1, "{file}: one line: {stderr}");
        assert!(stderr.contains(&path.display().to_string()), "{file}: names the file: {stderr}");
        assert!(stderr.contains(want), "{file}: {stderr} lacks {want}");
        assert!(out.stdout.is_empty(), "{file}: nothing on stdout");
    }
}

#[test]
fn binary_renders_an_example_and_crdgen_prints_crds() {
    let out = binary()
        .args(["render", "--infrastructure"])
        .arg(example("infrastructure-aws.yaml"))
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let d = docs(&text);
    let secret = find(&d, "Deployment", "image-registry")["spec"]["template"]["spec"]["containers"]
        [0]["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "REGISTRY_HTTP_SECRET")
        .unwrap()["value"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(secret.len(), 128, "a random httpSecret of 64 bytes in hex");
    assert!(text.contains("# Conditions the operator would set"));

    let out = binary().arg("crdgen").output().unwrap();
    assert!(out.status.success());
    let crds = docs(&String::from_utf8(out.stdout).unwrap());
    assert_eq!(crds.len(), 2);
    assert!(Path::new(&root()).join("examples").is_dir());
}

/// `kubectl apply --dry-run=client` accepts the output, against the in-memory API server
/// serving the OpenShift CRDs (skipped, with a notice, when kubectl is not installed).
#[test]
fn kubectl_accepts_the_output() {
    let Some(kubectl) = std::env::var_os("PATH")
        .and_then(|p| std::env::split_paths(&p).map(|d| d.join("kubectl")).find(|k| k.is_file()))
    else {
        eprintln!("kubectl_accepts_the_output: kubectl not found; skipped");
        return;
    };
    let rt = tokio::runtime::Runtime::new().unwrap();
    let server = testkit::apiserver::ApiServer::default();
    for crd in api::schema::crds().into_iter().chain(api::schema::openshift_crds()) {
        server.register_crd(serde_json::to_value(crd).unwrap()).unwrap();
    }
    let running = rt.block_on(server.serve("127.0.0.1:0".parse().unwrap())).unwrap();
    let dir = testkit::ScratchDir::new("render-kubectl").unwrap();
    let kubeconfig = dir.join("kubeconfig");
    std::fs::write(&kubeconfig, testkit::apiserver::kubeconfig(&running.url())).unwrap();
    for a in [args("aws"), args("openstack"), {
        let mut a = args("none");
        a.config = Some(example("config-emptydir-routes.yaml"));
        a.secrets = vec![example("secret-route-tls.yaml")];
        a
    }] {
        let text = render(&a);
        let mut child = Command::new(&kubectl)
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .args(["apply", "--dry-run=client", "-f", "-"])
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write;
        child.stdin.take().unwrap().write_all(text.as_bytes()).unwrap();
        let out = child.wait_with_output().unwrap();
        let stdout = String::from_utf8_lossy(&out.stdout);
        assert!(
            out.status.success(),
            "{}: {}",
            a.infrastructure.display(),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            stdout.contains("deployment.apps/image-registry created (dry run)")
                || !text.contains("kind: Deployment"),
            "{stdout}"
        );
        assert_eq!(stdout.lines().count(), docs(&text).len(), "every object accepted: {stdout}");
    }
    running.handle.abort();
}

/// Every object `render` prints for every case passes the in-memory API server's
/// validation, which answers as kube-apiserver does (`dryRun=All` creates). Before the
/// fix, two replicas rendered `maxUnavailable: "1"`, which a real server refuses.
#[test]
fn the_api_server_accepts_every_rendered_object() {
    let server = testkit::apiserver::ApiServer::default();
    for crd in api::schema::crds().into_iter().chain(api::schema::openshift_crds()) {
        server.register_crd(serde_json::to_value(crd).unwrap()).unwrap();
    }
    let ns_type = server.read(|s| s.find_type("", "v1", "namespaces").cloned()).unwrap();
    for ns in ["openshift-image-registry", "openshift-config", "openshift-config-managed"] {
        server
            .write(|s| s.create(&ns_type, "", serde_json::json!({"metadata": {"name": ns}}), false))
            .unwrap();
    }
    let mut refused = Vec::new();
    let mut n = 0;
    for (name, a) in cases() {
        for doc in docs(&render(&a)) {
            n += 1;
            let what = format!("{name}: {} {}", doc["kind"], doc["metadata"]["name"]);
            if let Err(e) = server.dry_run_create(doc) {
                refused.push(format!("{what}: {} {}", e.code, e.message));
            }
        }
    }
    assert!(n > 100, "{n} objects rendered");
    assert!(refused.is_empty(), "refused:\n{}", refused.join("\n"));
}
