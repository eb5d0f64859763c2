//! `manifests/`, the files the cluster-version operator applies: the generated CRDs are up
//! to date, kube-apiserver's checks accept every file (with the real kubectl, against the
//! `apiserver` subcommand), and the operator runs from its own Deployment there.

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, Served, kubectl_or_skip};
use serde_json::{Value, json};

fn manifests() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests")
}

fn documents(file: &Path) -> Vec<Value> {
    let text = std::fs::read_to_string(file).unwrap();
    serde_saphyr::from_multiple::<Value>(&text)
        .unwrap_or_else(|e| panic!("{}: {e}", file.display()))
        .into_iter()
        .filter(|d| !d.is_null())
        .collect()
}

#[test]
fn the_crds_in_manifests_are_up_to_date() {
    for (name, text) in api::schema::release_crd_files() {
        let on_disk = std::fs::read_to_string(manifests().join(&name)).unwrap_or_default();
        assert!(
            on_disk == text,
            "manifests/{name} is not what crdgen writes; run `cargo run -- crdgen --manifests manifests/`"
        );
    }
}

/// Stand-ins for the CRDs other operators install on an OpenShift cluster (cloud
/// credentials, monitoring), so that the files naming their kinds can be applied.
fn other_operators_crds(dir: &Path) {
    let crd = |group: &str, plural: &str, kind: &str| {
        json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
            "metadata": {"name": format!("{plural}.{group}")},
            "spec": {"group": group, "scope": "Namespaced",
                "names": {"plural": plural, "kind": kind},
                "versions": [{"name": "v1", "served": true, "storage": true,
                    "schema": {"openAPIV3Schema": {"type": "object",
                        "x-kubernetes-preserve-unknown-fields": true}}}]}})
    };
    let text: String = [
        crd("cloudcredential.openshift.io", "credentialsrequests", "CredentialsRequest"),
        crd("monitoring.coreos.com", "servicemonitors", "ServiceMonitor"),
        crd("monitoring.coreos.com", "prometheusrules", "PrometheusRule"),
    ]
    .iter()
    .map(|c| format!("---\n{}", serde_saphyr::to_string(c).unwrap()))
    .collect();
    std::fs::write(dir.join("others.yaml"), text).unwrap();
}

fn served(kubectl: PathBuf) -> Served {
    Served::start(kubectl, &["apiserver", "--simulate-workloads"], |dir| {
        let crds = dir.join("crds");
        std::fs::create_dir_all(&crds).unwrap();
        let mut text = String::new();
        for crd in api::schema::openshift_crds() {
            text.push_str("---\n");
            text.push_str(&serde_saphyr::to_string(&crd).unwrap());
        }
        std::fs::write(crds.join("openshift.yaml"), text).unwrap();
        other_operators_crds(&crds);
        vec!["--crds".into(), crds.display().to_string()]
    })
}

/// The namespaces the files name that other operators own on a cluster.
const OTHER_NAMESPACES: &[&str] = &[
    "openshift-cloud-credential-operator",
    "openshift-monitoring",
    "openshift-config",
    "openshift-config-managed",
];

/// The files of `manifests/` in the order the cluster-version operator applies them (by
/// name).
fn files() -> Vec<PathBuf> {
    let mut files: Vec<PathBuf> = std::fs::read_dir(manifests())
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files
}

#[test]
fn kube_apiserver_accepts_every_manifest() {
    let Some(kubectl) = kubectl_or_skip("kube_apiserver_accepts_every_manifest") else { return };
    let s = served(kubectl);
    let dir = manifests();
    s.ok(&[
        "apply",
        "-f",
        &dir.join("0000_50_cluster-image-registry-operator_00-configs.crd.yaml")
            .display()
            .to_string(),
    ]);
    s.ok(&[
        "apply",
        "-f",
        &dir.join("0000_50_cluster-image-registry-operator_01-namespace.yaml")
            .display()
            .to_string(),
    ]);
    for ns in OTHER_NAMESPACES {
        s.ok(&["create", "namespace", ns]);
    }
    let out = s.ok(&["apply", "--dry-run=server", "-f", &dir.display().to_string()]);
    let mut count = 0;
    for path in files() {
        count += 1;
        for doc in documents(&path) {
            let name = doc["metadata"]["name"].as_str().unwrap_or_default();
            assert!(
                out.contains(&format!("/{name} ")),
                "{}: {name} applied: {out}",
                path.display()
            );
        }
    }
    assert!(count > 20, "the manifests: {count}");
    assert!(!out.contains("error"), "{out}");
}

/// The container of the operator Deployment in `manifests/`.
fn operator_container() -> (Value, Value) {
    let file = manifests().join("0000_50_cluster-image-registry-operator_07-operator.yaml");
    let d = documents(&file).into_iter().find(|d| d["kind"] == "Deployment").unwrap();
    let pod = d["spec"]["template"]["spec"].clone();
    (pod["containers"][0].clone(), pod)
}

/// Where a kubelet would mount each volume: under `root`, at the mount path.
fn mounted(path: &str, mounts: &[(String, String)], root: &Path) -> String {
    for (mount, _) in mounts {
        if let Some(rest) = path.strip_prefix(mount.trim_end_matches('/')) {
            return format!("{}{}{rest}", root.display(), mount.trim_end_matches('/'));
        }
    }
    path.to_string()
}

/// Starts the operator binary as the kubelet would start `container` (the operator
/// Deployment's) against the cluster `s` serves. Our machines have no /etc/secrets: the
/// volumes are mounted under a scratch root, the args' paths point there, and the mounted
/// config names the certificate there (the one difference from the Deployment, where the
/// built-in default is /etc/secrets). Returns the process and its metrics port; its log
/// goes to `operator.log` in the scratch directory.
fn start_as_deployed(s: &Served, container: &Value) -> (std::process::Child, u16) {
    let mounts: Vec<(String, String)> = container["volumeMounts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|m| {
            (m["mountPath"].as_str().unwrap().to_string(), m["name"].as_str().unwrap().to_string())
        })
        .collect();
    let root = s.dir.join("root");
    let secrets = format!("{}/etc/secrets", root.display());
    std::fs::create_dir_all(&secrets).unwrap();
    common::self_signed(
        Path::new(&format!("{secrets}/tls.crt")),
        Path::new(&format!("{secrets}/tls.key")),
        "image-registry-operator.openshift-image-registry.svc",
    );
    // The config map's file, as mounted.
    let config_dir =
        format!("{}/var/run/configmaps/image-registry-operator-config", root.display());
    std::fs::create_dir_all(&config_dir).unwrap();
    let cm = s.ok(&[
        "get",
        "configmap",
        "image-registry-operator-config",
        "-n",
        "openshift-image-registry",
        "-o",
        "jsonpath={.data.config\\.yaml}",
    ]);
    assert!(cm.contains("bindAddress"), "{cm}");
    let port = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let config = cm.replace("\":60000\"", &format!("\"127.0.0.1:{port}\""))
        + &format!("\n  certFile: {secrets}/tls.crt\n  keyFile: {secrets}/tls.key\n");
    std::fs::write(format!("{config_dir}/config.yaml"), config).unwrap();

    let args: Vec<String> = container["args"]
        .as_array()
        .unwrap()
        .iter()
        .map(|a| {
            let a = a.as_str().unwrap();
            match a.split_once('=') {
                Some((flag, path)) => format!("{flag}={}", mounted(path, &mounts, &root)),
                None => a.to_string(),
            }
        })
        .collect();
    let mut cmd = Command::new(BIN);
    cmd.args(&args).env_clear().env("KUBECONFIG", &s.kubeconfig);
    for e in container["env"].as_array().unwrap() {
        let name = e["name"].as_str().unwrap();
        let value = match e["valueFrom"]["fieldRef"]["fieldPath"].as_str() {
            Some("metadata.namespace") => "openshift-image-registry".to_string(),
            Some("metadata.name") => "cluster-image-registry-operator-7d9f8-abcde".to_string(),
            Some(other) => panic!("fieldRef {other} not resolved here"),
            None => e["value"].as_str().unwrap().to_string(),
        };
        cmd.env(name, value);
    }
    let log = std::fs::File::create(s.dir.join("operator.log")).unwrap();
    let child = cmd.stderr(log).stdout(Stdio::null()).spawn().unwrap();
    (child, port)
}

/// The operator started with its Deployment's own args and env (the fieldRefs resolved as
/// the kubelet resolves them, see [`start_as_deployed`]) against the cluster the other
/// manifests make, converges the registry.
#[test]
fn the_operator_runs_from_its_own_manifest() {
    let Some(kubectl) = kubectl_or_skip("the_operator_runs_from_its_own_manifest") else {
        return;
    };
    let s = served(kubectl);
    for ns in OTHER_NAMESPACES {
        s.ok(&["create", "namespace", ns]);
    }
    for path in files() {
        let name = path.file_name().unwrap().to_string_lossy().into_owned();
        // The IBM Cloud variant of the Deployment is the same object for another profile.
        if name.ends_with(".yaml") && !name.contains("ibm-cloud-managed") {
            s.ok(&["apply", "-f", &path.display().to_string()]);
        }
    }
    // The release and its feature gates, as the cluster-version and config operators
    // publish them (the Deployment's OPERATOR_IMAGE_VERSION is a snapshot's: the gates of
    // the ClusterVersion's version apply).
    s.ok_with(
        &["apply", "-f", "-"],
        Some("apiVersion: config.openshift.io/v1\nkind: ClusterVersion\nmetadata: {name: version}\nspec: {clusterID: 00000000-0000-4000-8000-000000000000}\n---\napiVersion: config.openshift.io/v1\nkind: FeatureGate\nmetadata: {name: cluster}\nspec: {}\n"),
    );
    s.ok(&["patch", "clusterversion", "version", "--subresource=status", "--type=merge", "-p",
        r#"{"status":{"desired":{"version":"4.21.0"},"history":[{"state":"Completed","version":"4.21.0"}]}}"#]);
    s.ok(&["patch", "featuregate", "cluster", "--subresource=status", "--type=merge", "-p",
        r#"{"status":{"featureGates":[{"version":"4.21.0","enabled":[{"name":"ImageStreamImportMode"}]}]}}"#]);
    // What OpenShift's cluster-policy-controller adds to every namespace.
    s.ok(&[
        "annotate",
        "namespace",
        "openshift-image-registry",
        "openshift.io/sa.scc.supplemental-groups=1000430000/10000",
    ]);
    s.ok_with(
        &["apply", "-f", "-"],
        Some("apiVersion: config.openshift.io/v1\nkind: Infrastructure\nmetadata: {name: cluster}\nspec: {platformSpec: {type: None}}\n"),
    );
    s.ok(&[
        "patch", "infrastructure", "cluster", "--subresource=status", "--type=merge", "-p",
        r#"{"status":{"platform":"None","platformStatus":{"type":"None"},"controlPlaneTopology":"HighlyAvailable","infrastructureTopology":"HighlyAvailable"}}"#,
    ]);

    let (container, _pod) = operator_container();
    let (mut child, port) = start_as_deployed(&s, &container);
    let deadline = Instant::now() + Duration::from_secs(60);
    let available = || {
        s.ok(&[
            "get",
            "co",
            "image-registry",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Available\")].status}",
        ])
    };
    while available() != "True" {
        if let Some(status) = child.try_wait().unwrap() {
            let log = std::fs::read_to_string(s.dir.join("operator.log")).unwrap_or_default();
            panic!("the operator exited ({status}): {log}");
        }
        assert!(
            Instant::now() < deadline,
            "the registry converges: {}",
            std::fs::read_to_string(s.dir.join("operator.log")).unwrap_or_default()
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    // On platform None the registry starts Removed, as the original's; an admin turns it on.
    s.ok(&[
        "patch",
        "configs.imageregistry.operator.openshift.io",
        "cluster",
        "--type=merge",
        "-p",
        r#"{"spec":{"managementState":"Managed","storage":{"emptyDir":{}}}}"#,
    ]);
    let deadline = Instant::now() + Duration::from_secs(60);
    let image = || {
        let out = s.run(
            &[
                "get",
                "deployment",
                "image-registry",
                "-n",
                "openshift-image-registry",
                "-o",
                "jsonpath={.spec.template.spec.containers[0].image}",
            ],
            None,
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    let wanted =
        container["env"].as_array().unwrap().iter().find(|e| e["name"] == "IMAGE").unwrap();
    while image() != wanted["value"].as_str().unwrap() {
        assert!(
            Instant::now() < deadline,
            "the registry is deployed with the IMAGE of the Deployment: {}\n{}",
            std::fs::read_to_string(s.dir.join("operator.log")).unwrap_or_default(),
            s.ok(&["get", "configs.imageregistry.operator.openshift.io", "cluster", "-o", "yaml"])
        );
        std::thread::sleep(Duration::from_millis(200));
    }
    let version = s.ok(&[
        "get",
        "co",
        "image-registry",
        "-o",
        "jsonpath={.status.versions[?(@.name==\"operator\")].version}",
    ]);
    let release = container["env"]
        .as_array()
        .unwrap()
        .iter()
        .find(|e| e["name"] == "RELEASE_VERSION")
        .unwrap();
    assert_eq!(version, release["value"].as_str().unwrap());
    // The metrics server took the config's address, over HTTPS.
    let curl =
        Command::new("curl").args(["-sk", &format!("https://127.0.0.1:{port}/healthz")]).output();
    if let Ok(out) = curl {
        assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "ok");
    }
    let _ = child.kill();
    let _ = child.wait();
}

/// `manifests/Kustomization` (the base `deploy/` builds on) lists every release manifest
/// but the IBM Cloud profile's copy of the operator Deployment.
#[test]
fn the_kustomize_base_lists_every_manifest() {
    let text = std::fs::read_to_string(manifests().join("Kustomization")).unwrap();
    let k: Value = serde_saphyr::from_str(&text).unwrap();
    let mut listed: Vec<String> = k["resources"]
        .as_array()
        .unwrap()
        .iter()
        .map(|r| r.as_str().unwrap().to_string())
        .collect();
    listed.sort();
    let want: Vec<String> = files()
        .iter()
        .map(|p| p.file_name().unwrap().to_string_lossy().into_owned())
        .filter(|n| !n.contains("ibm-cloud-managed"))
        .collect();
    assert_eq!(listed, want);
}

/// `kubectl apply -k deploy/` on a cluster with the OpenShift CRDs the operator reads.
#[test]
fn kubectl_apply_k_deploy_installs_the_operator() {
    let Some(kubectl) = kubectl_or_skip("kubectl_apply_k_deploy_installs_the_operator") else {
        return;
    };
    let s = served(kubectl);
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
    let out = s.ok(&["apply", "-k", &deploy.display().to_string()]);
    assert!(out.contains("deployment.apps/cluster-image-registry-operator created"), "{out}");
    assert!(!out.contains("credentialsrequest") && !out.contains("servicemonitor"), "{out}");
    let pod = s.ok(&[
        "get",
        "deployment",
        "cluster-image-registry-operator",
        "-n",
        "openshift-image-registry",
        "-o",
        "jsonpath={.spec.template.spec.nodeSelector} {.spec.template.spec.containers[0].securityContext.runAsNonRoot}{.spec.template.spec.securityContext.runAsNonRoot}",
    ]);
    assert_eq!(pod, " true", "no master node selector; non-root");
}

/// `kubectl apply -k deploy/` on plain Kubernetes: no OpenShift CRD at all; the operator,
/// started as the applied Deployment says, runs in its plain-Kubernetes mode (see the
/// README) and converges the registry.
#[test]
fn kubectl_apply_k_deploy_works_without_openshifts_crds() {
    let Some(kubectl) = kubectl_or_skip("kubectl_apply_k_deploy_works_without_openshifts_crds")
    else {
        return;
    };
    let s = Served::start(kubectl, &["apiserver", "--simulate-workloads"], |_| Vec::new());
    let deploy = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../deploy");
    let out = s.ok(&["apply", "-k", &deploy.display().to_string()]);
    assert!(out.contains("deployment.apps/cluster-image-registry-operator created"), "{out}");
    assert!(out.contains("customresourcedefinition.apiextensions.k8s.io/configs.imageregistry.operator.openshift.io created"), "{out}");
    let groups = s.ok(&["api-versions"]);
    assert!(!groups.contains("config.openshift.io"), "a plain cluster: {groups}");

    // The operator as the applied Deployment starts it converges the registry there.
    let applied = s.ok(&[
        "get",
        "deployment",
        "cluster-image-registry-operator",
        "-n",
        "openshift-image-registry",
        "-o",
        "json",
    ]);
    let deployment: Value = serde_json::from_str(&applied).unwrap();
    let container = deployment["spec"]["template"]["spec"]["containers"][0].clone();
    let (mut child, _port) = start_as_deployed(&s, &container);
    let log = || std::fs::read_to_string(s.dir.join("operator.log")).unwrap_or_default();
    let available = || {
        s.ok(&[
            "get",
            "configs.imageregistry.operator.openshift.io",
            "cluster",
            "-o",
            "jsonpath={.status.conditions[?(@.type==\"Available\")].status}",
        ])
    };
    let deadline = Instant::now() + Duration::from_secs(60);
    while available() != "True" {
        if let Some(status) = child.try_wait().unwrap() {
            panic!("the operator exited ({status}): {}", log());
        }
        assert!(Instant::now() < deadline, "the registry converges: {}", log());
        std::thread::sleep(Duration::from_millis(200));
    }
    assert!(log().contains("Plain Kubernetes (no config.openshift.io)"), "{}", log());
    let image = s.ok(&[
        "get",
        "deployment",
        "image-registry",
        "-n",
        "openshift-image-registry",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    ]);
    let wanted = container["env"].as_array().unwrap().iter().find(|e| e["name"] == "IMAGE");
    assert_eq!(Some(image.as_str()), wanted.and_then(|e| e["value"].as_str()));
    let _ = child.kill();
    let _ = child.wait();
}
