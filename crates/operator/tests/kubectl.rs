//! The real kubectl (1.32 on our machines) against the `apiserver` and `local` subcommands:
//! the commands an admin types, and the output they read. Each test says so and skips
//! where kubectl is not installed.

mod common;

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use common::{BIN, Served, kubectl_or_skip};

const DEPLOYMENT: &str = r#"
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: default}
spec:
  replicas: 1
  selector: {matchLabels: {app: web}}
  template:
    metadata: {labels: {app: web}}
    spec: {containers: [{name: c, image: registry.example/web:1}]}
"#;

#[test]
fn system_namespaces_are_there() {
    let Some(kubectl) = kubectl_or_skip("system_namespaces_are_there") else { return };
    let s = Served::apiserver(kubectl);
    let names = s.ok(&["get", "namespaces", "-o", "name"]);
    for ns in ["default", "kube-system", "kube-public", "kube-node-lease"] {
        assert!(names.lines().any(|l| l == format!("namespace/{ns}")), "{ns} in {names}");
    }
}

#[test]
fn kubectl_scale_goes_through_the_scale_subresource() {
    let Some(kubectl) = kubectl_or_skip("kubectl_scale_goes_through_the_scale_subresource") else {
        return;
    };
    let s = Served::apiserver(kubectl);
    s.ok_with(&["apply", "-f", "-"], Some(DEPLOYMENT));
    let out = s.ok(&["scale", "deployment/web", "-n", "default", "--replicas=3"]);
    assert_eq!(out.trim(), "deployment.apps/web scaled");
    let replicas =
        s.ok(&["get", "deployment", "web", "-n", "default", "-o", "jsonpath={.spec.replicas}"]);
    assert_eq!(replicas, "3");
    // A precondition that does not hold changes nothing.
    let err = s.fails(&[
        "scale",
        "deployment/web",
        "-n",
        "default",
        "--current-replicas=1",
        "--replicas=5",
    ]);
    assert!(err.to_lowercase().contains("expected"), "{err}");
    let err = s.fails(&["scale", "deployment/web", "-n", "default", "--replicas=-1"]);
    assert!(err.contains("replicas"), "{err}");
    let replicas =
        s.ok(&["get", "deployment", "web", "-n", "default", "-o", "jsonpath={.spec.replicas}"]);
    assert_eq!(replicas, "3");
    // A kind without the subresource is refused.
    s.ok_with(
        &["apply", "-f", "-"],
        Some("apiVersion: v1\nkind: ConfigMap\nmetadata: {name: c, namespace: default}\n"),
    );
    s.fails(&["scale", "configmap/c", "-n", "default", "--replicas=2"]);
}

/// The commands that send strategic merge patches: `apply` of a changed object, `set env`,
/// `rollout restart`, `patch` (its default type).
#[test]
fn strategic_merge_patches_from_kubectl() {
    let Some(kubectl) = kubectl_or_skip("strategic_merge_patches_from_kubectl") else { return };
    let s = Served::apiserver(kubectl);
    let cm = |data: &str| {
        format!(
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: c, namespace: default}}\ndata: {data}\n"
        )
    };
    s.ok_with(&["apply", "-f", "-"], Some(&cm("{a: '1', b: '2'}")));
    let out = s.ok_with(&["apply", "-f", "-"], Some(&cm("{a: '3'}")));
    assert_eq!(out.trim(), "configmap/c configured");
    let data = s.ok(&["get", "configmap", "c", "-n", "default", "-o", "jsonpath={.data}"]);
    assert_eq!(data, r#"{"a":"3"}"#, "apply removes what the last apply set and this one does not");

    s.ok_with(&["apply", "-f", "-"], Some(DEPLOYMENT));
    s.ok(&["set", "env", "deployment/web", "-n", "default", "A=1", "B=2"]);
    s.ok(&["set", "env", "deployment/web", "-n", "default", "A-"]);
    let env = s.ok(&[
        "get",
        "deployment",
        "web",
        "-n",
        "default",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].env[*].name}",
    ]);
    assert_eq!(env, "B");
    // apply merges containers by name (kubectl's own patch metadata, the v2 document having
    // no paths): the env another command added stays.
    s.ok_with(&["apply", "-f", "-"], Some(&DEPLOYMENT.replace("web:1", "web:2")));
    let got = s.ok(&[
        "get",
        "deployment",
        "web",
        "-n",
        "default",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image} {.spec.template.spec.containers[0].env[*].name}",
    ]);
    assert_eq!(got, "registry.example/web:2 B");
    s.ok(&["rollout", "restart", "deployment/web", "-n", "default"]);
    let restarted = s.ok(&[
        "get",
        "deployment",
        "web",
        "-n",
        "default",
        "-o",
        r#"jsonpath={.spec.template.metadata.annotations.kubectl\.kubernetes\.io/restartedAt}"#,
    ]);
    assert!(!restarted.is_empty(), "restartedAt set");
    s.ok(&["patch", "deployment", "web", "-n", "default", "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"name":"c","image":"registry.example/web:3"}]}}}}"#]);
    let image = s.ok(&[
        "get",
        "deployment",
        "web",
        "-n",
        "default",
        "-o",
        "jsonpath={.spec.template.spec.containers[0].image}",
    ]);
    assert_eq!(image, "registry.example/web:3");
    // A patch naming no merge key is refused, and nothing changes.
    let err = s.fails(&[
        "patch",
        "deployment",
        "web",
        "-n",
        "default",
        "-p",
        r#"{"spec":{"template":{"spec":{"containers":[{"image":"x"}]}}}}"#,
    ]);
    assert!(err.contains("does not contain declared merge key: name"), "{err}");
    let kept = s.ok(&[
        "get",
        "deployment",
        "web",
        "-n",
        "default",
        "-o",
        "jsonpath={.spec.template.spec.containers[*].image}",
    ]);
    assert_eq!(kept, "registry.example/web:3", "the refused patch stored nothing");
    // Custom resources take no strategic merge patch, as on a real server (kubectl falls
    // back to a merge patch for them unless told the type).
    s.ok_with(&["apply", "-f", "-"], Some(CLUSTER_OPERATOR));
    let err =
        s.fails(&["patch", "co", "image-registry", "--type=strategic", "-p", r#"{"spec":{}}"#]);
    assert!(
        err.contains("unknown format")
            || err.contains("415")
            || err.contains("UnsupportedMediaType"),
        "{err}"
    );
}

/// `kubectl explain` reads a kind's schema from the OpenAPI v3 document, and from the v2
/// one with `--output=plaintext-openapiv2`.
#[test]
fn kubectl_explain_reads_crd_schemas() {
    let Some(kubectl) = kubectl_or_skip("kubectl_explain_reads_crd_schemas") else { return };
    let s = Served::apiserver(kubectl);
    let out =
        s.ok(&["explain", "configs.imageregistry.operator.openshift.io.spec.managementState"]);
    assert!(out.contains("KIND:       Config"), "{out}");
    assert!(out.contains("managementState"), "{out}");
    assert!(out.contains("Managed, Unmanaged, Force or Removed"), "{out}");
    let out = s.ok(&["explain", "configs.imageregistry.operator.openshift.io.spec.storage.s3"]);
    assert!(out.contains("bucket"), "{out}");
    // Built-in kinds, from k8s-openapi's schemas.
    let out = s.ok(&["explain", "deployment.spec.strategy.type"]);
    assert!(out.contains("KIND:       Deployment") && out.contains("GROUP:      apps"), "{out}");
    assert!(out.contains("Recreate"), "{out}");
    let out = s.ok(&["explain", "pods.spec.containers.image"]);
    assert!(out.contains("Container image name"), "{out}");
    // The same from the OpenAPI v2 document, which older tools and this format read.
    let v2 = |path: &str| s.ok(&["explain", path, "--output=plaintext-openapiv2"]);
    let out = v2("deployment.spec.replicas");
    assert!(out.contains("VERSION:  apps/v1") && out.contains("Number of desired pods"), "{out}");
    let out = v2("pods.spec.containers");
    assert!(
        out.contains("RESOURCE: containers <[]Object>") && out.contains("image\t<string>"),
        "{out}"
    );
    let out = v2("configs.imageregistry.operator.openshift.io.spec.managementState");
    assert!(out.contains("KIND:     Config") && out.contains("managementState <string>"), "{out}");
}

/// kubectl's typed `create` commands send protobuf bodies: the documented admin steps.
#[test]
fn typed_create_commands_send_protobuf() {
    let Some(kubectl) = kubectl_or_skip("typed_create_commands_send_protobuf") else { return };
    let s = Served::apiserver(kubectl);
    assert_eq!(
        s.ok(&["create", "namespace", "openshift-image-registry"]).trim(),
        "namespace/openshift-image-registry created"
    );
    let out = s.ok(&[
        "create",
        "secret",
        "generic",
        "image-registry-private-configuration-user",
        "--from-literal=REGISTRY_STORAGE_S3_ACCESSKEY=AKIAEXAMPLE",
        "--from-literal=REGISTRY_STORAGE_S3_SECRETKEY=secret",
        "-n",
        "openshift-image-registry",
    ]);
    assert_eq!(out.trim(), "secret/image-registry-private-configuration-user created");
    let key = s.ok(&[
        "get",
        "secret",
        "image-registry-private-configuration-user",
        "-n",
        "openshift-image-registry",
        "-o",
        "jsonpath={.data.REGISTRY_STORAGE_S3_ACCESSKEY}",
    ]);
    assert_eq!(key, "QUtJQUVYQU1QTEU=", "base64 of AKIAEXAMPLE");
    let kind = s.ok(&[
        "get",
        "secret",
        "image-registry-private-configuration-user",
        "-n",
        "openshift-image-registry",
        "-o",
        "jsonpath={.type}",
    ]);
    assert_eq!(kind, "Opaque");
    s.ok(&["create", "namespace", "openshift-config"]);
    s.ok(&[
        "create",
        "configmap",
        "registry-cas",
        "-n",
        "openshift-config",
        "--from-literal=registry.example.com..5000=-----BEGIN CERTIFICATE-----",
    ]);
    let data = s.ok(&[
        "get",
        "configmap",
        "registry-cas",
        "-n",
        "openshift-config",
        "-o",
        "jsonpath={.data}",
    ]);
    assert_eq!(data, r#"{"registry.example.com..5000":"-----BEGIN CERTIFICATE-----"}"#);
    s.ok(&["create", "serviceaccount", "builder", "-n", "openshift-config"]);
    s.ok(&[
        "create",
        "role",
        "reader",
        "-n",
        "openshift-config",
        "--verb=get,list",
        "--resource=configmaps",
        "--resource-name=registry-cas",
    ]);
    let rules =
        s.ok(&["get", "role", "reader", "-n", "openshift-config", "-o", "jsonpath={.rules}"]);
    assert_eq!(
        rules,
        r#"[{"apiGroups":[""],"resourceNames":["registry-cas"],"resources":["configmaps"],"verbs":["get","list"]}]"#
    );
    s.ok(&[
        "create",
        "rolebinding",
        "reader",
        "-n",
        "openshift-config",
        "--role=reader",
        "--serviceaccount=openshift-config:builder",
    ]);
    let binding = s.ok(&[
        "get",
        "rolebinding",
        "reader",
        "-n",
        "openshift-config",
        "-o",
        "jsonpath={.roleRef.kind}/{.subjects[0].kind}",
    ]);
    assert_eq!(binding, "Role/ServiceAccount");
    s.ok(&["create", "clusterrole", "image-puller", "--verb=get", "--resource=secrets"]);
    s.ok(&[
        "create",
        "clusterrolebinding",
        "image-puller",
        "--clusterrole=image-puller",
        "--group=system:authenticated",
    ]);
    // Validation runs as for JSON: a bad name is refused with its cause.
    let err = s.fails(&["create", "namespace", "Not_A_Name"]);
    assert!(err.contains("is invalid") && err.contains("metadata.name"), "{err}");
}

/// The typed `kubectl create` and `kubectl run` commands (protobuf bodies) against the same object sent as
/// JSON (`--dry-run=client -o json | kubectl create -f -`): what is stored is the same.
#[test]
fn typed_creates_store_what_json_stores() {
    let Some(kubectl) = kubectl_or_skip("typed_creates_store_what_json_stores") else { return };
    let s = Served::apiserver(kubectl);
    s.ok(&["create", "namespace", "pb"]);
    s.ok(&["create", "namespace", "js"]);
    let commands: &[(&str, &[&str])] = &[
        (
            "deployment/web",
            &[
                "create",
                "deployment",
                "web",
                "--image=registry.example/web:1",
                "--port=8080",
                "--replicas=0",
            ],
        ),
        ("job/once", &["create", "job", "once", "--image=registry.example/tool:1", "--", "date"]),
        (
            "cronjob/prune",
            &[
                "create",
                "cronjob",
                "prune",
                "--image=registry.example/tool:1",
                "--schedule=0 0 * * *",
                "--restart=OnFailure",
            ],
        ),
        ("service/ip", &["create", "service", "clusterip", "ip", "--tcp=5000:5000"]),
        ("service/np", &["create", "service", "nodeport", "np", "--tcp=80:8080"]),
        (
            "service/ext",
            &["create", "service", "externalname", "ext", "--external-name=registry.example"],
        ),
        (
            "poddisruptionbudget/pdb",
            &["create", "poddisruptionbudget", "pdb", "--selector=app=web", "--min-available=1"],
        ),
        ("ingress/ing", &["create", "ingress", "ing", "--rule=registry.example/v2*=ip:5000"]),
        (
            "secret/pull",
            &[
                "create",
                "secret",
                "docker-registry",
                "pull",
                "--docker-server=registry.example",
                "--docker-username=u",
                "--docker-password=p",
            ],
        ),
        ("serviceaccount/sa", &["create", "serviceaccount", "sa"]),
        ("role/reader", &["create", "role", "reader", "--verb=get,list", "--resource=pods"]),
        (
            "rolebinding/read",
            &["create", "rolebinding", "read", "--role=reader", "--serviceaccount=pb:sa"],
        ),
        (
            "configmap/ca",
            &["create", "configmap", "ca", "--from-literal=registry.example..5000=PEM"],
        ),
        (
            "secret/user",
            &[
                "create",
                "secret",
                "generic",
                "user",
                "--from-literal=REGISTRY_STORAGE_S3_ACCESSKEY=AKIA",
            ],
        ),
        (
            "pod/tool",
            &[
                "run",
                "tool",
                "--image=registry.example/tool:1",
                "--env=A=1",
                "--port=80",
                "--labels=app=tool",
                "--restart=Never",
            ],
        ),
    ];
    for (name, args) in commands {
        // Flags right after the verb: a job's command follows `--`.
        let with = |flags: &[&'static str]| -> Vec<&str> {
            [args[0]].iter().chain(flags).chain(&args[1..]).copied().collect()
        };
        s.ok(&with(&["-n", "pb"]));
        let dry = with(&["--dry-run=client", "-o", "json"]);
        let json = s.ok(&dry);
        // The binding's subject names namespace pb in both.
        s.ok_with(&["create", "-n", "js", "-f", "-"], Some(&json));
        let stored = |ns: &str| {
            let out = s.ok(&["get", name, "-n", ns, "-o", "json"]);
            comparable(serde_json::from_str(&out).unwrap())
        };
        assert_eq!(stored("pb"), stored("js"), "{name}: protobuf and JSON store the same");
    }
    // Zeros that mean something survive protobuf (a pointer field), those Go leaves out go.
    let replicas =
        s.ok(&["get", "deployment", "web", "-n", "pb", "-o", "jsonpath={.spec.replicas}"]);
    assert_eq!(replicas, "0");
    let spec = s.ok(&["get", "deployment", "web", "-n", "pb", "-o", "json"]);
    let spec: serde_json::Value = serde_json::from_str(&spec).unwrap();
    let container = &spec["spec"]["template"]["spec"]["containers"][0];
    assert!(container.get("workingDir").is_none() && container.get("tty").is_none(), "{container}");
    assert_eq!(container["ports"][0]["containerPort"], 8080);
}

/// An object with what the server assigns per object (uid, times, allocated addresses)
/// and the simulated status taken out.
fn comparable(mut v: serde_json::Value) -> serde_json::Value {
    if let Some(m) = v["metadata"].as_object_mut() {
        for k in ["namespace", "uid", "resourceVersion", "creationTimestamp", "managedFields"] {
            m.remove(k);
        }
    }
    if let Some(o) = v.as_object_mut() {
        o.remove("status");
    }
    if let Some(spec) = v["spec"].as_object_mut() {
        spec.remove("clusterIP");
        spec.remove("clusterIPs");
        for port in spec.get_mut("ports").and_then(|p| p.as_array_mut()).into_iter().flatten() {
            if let Some(p) = port.as_object_mut() {
                p.remove("nodePort");
            }
        }
    }
    v
}

/// `kubectl edit` (the editor's file, sent back as a strategic merge patch).
#[test]
fn kubectl_edit_changes_what_the_editor_changed() {
    let Some(kubectl) = kubectl_or_skip("kubectl_edit_changes_what_the_editor_changed") else {
        return;
    };
    let s = Served::apiserver(kubectl);
    s.ok_with(&["apply", "-f", "-"], Some(DEPLOYMENT));
    let editor = s.dir.join("editor.sh");
    std::fs::write(
        &editor,
        "#!/bin/sh\nsed -i -e 's/replicas: 1/replicas: 2/' -e 's|image: registry.example/web:1|image: registry.example/web:2|' \"$1\"\n",
    )
    .unwrap();
    std::fs::set_permissions(&editor, std::os::unix::fs::PermissionsExt::from_mode(0o755)).unwrap();
    let out =
        s.run_env(&["edit", "deployment", "web", "-n", "default"], &[("KUBE_EDITOR", &editor)]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "deployment.apps/web edited");
    let got = s.ok(&[
        "get",
        "deployment",
        "web",
        "-n",
        "default",
        "-o",
        "jsonpath={.spec.replicas} {.spec.template.spec.containers[0].image}",
    ]);
    assert_eq!(got, "2 registry.example/web:2");
    // An edit that breaks validation is refused, and kubectl says why.
    std::fs::write(&editor, "#!/bin/sh\nsed -i -e 's/replicas: 2/replicas: -1/' \"$1\"\n").unwrap();
    let out =
        s.run_env(&["edit", "deployment", "web", "-n", "default"], &[("KUBE_EDITOR", &editor)]);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(r#"deployments.apps "web" is invalid"#), "{err}");
    // kubectl keeps the user's copy, with the server's causes written at its top.
    let copy = err.split('"').find(|p| p.contains("kubectl-edit-")).expect("the copy's path");
    let text = std::fs::read_to_string(copy).unwrap();
    let _removed = std::fs::remove_file(copy);
    assert!(text.contains("spec.replicas: Invalid value: -1"), "{text}");
    let replicas =
        s.ok(&["get", "deployment", "web", "-n", "default", "-o", "jsonpath={.spec.replicas}"]);
    assert_eq!(replicas, "2", "the refused edit stored nothing");
}

#[test]
fn local_refuses_an_unknown_platform_with_the_list() {
    let out = Command::new(BIN)
        .args(["local", "--platform", "moon", "--once", "--kubeconfig", "/dev/null"])
        .output()
        .unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unknown --platform \"moon\""), "{err}");
    for p in cluster_image_registry_operator::local_cmd::LOCAL_PLATFORMS {
        assert!(err.contains(p), "{p} listed in {err}");
    }
}

#[test]
fn local_serves_a_cluster_kubectl_reads() {
    let Some(kubectl) = kubectl_or_skip("local_serves_a_cluster_kubectl_reads") else { return };
    let s = Served::start(kubectl, &["local", "--platform", "none"], |_| Vec::new());
    let names = s.ok(&["get", "namespaces", "-o", "name"]);
    for ns in ["default", "kube-system", "openshift-image-registry", "openshift-config"] {
        assert!(names.lines().any(|l| l == format!("namespace/{ns}")), "{ns} in {names}");
    }
    let available = r#"jsonpath={.status.conditions[?(@.type=="Available")].status}"#;
    s.eventually("the registry available", |s| {
        s.ok(&["get", "clusteroperator", "image-registry", "-o", available]) == "True"
    });
    let short = s.ok(&["get", "co", "image-registry", "-o", "name"]);
    assert_eq!(short.trim(), "clusteroperator.config.openshift.io/image-registry");

    // The operator is a Deployment with one Pod, whose log is the operator's own.
    let ns = "openshift-image-registry";
    s.eventually("the operator's Pod running", |s| {
        let pods =
            rows(&s.ok(&["get", "pods", "-n", ns, "-l", "name=cluster-image-registry-operator"]));
        pods.len() == 2 && pods[1][1..3] == ["1/1", "Running"]
    });
    let log = s.ok(&["logs", "deployment/cluster-image-registry-operator", "-n", ns]);
    assert!(log.contains("the operator starts, in process, against the local cluster"), "{log}");
    // A change the operator logs reaches a follower.
    let mut follow = Command::new(&s.kubectl)
        .arg("--kubeconfig")
        .arg(&s.kubeconfig)
        .args(["logs", "-f", "deployment/cluster-image-registry-operator", "-n", ns])
        .stdout(Stdio::piped())
        .spawn()
        .unwrap();
    s.ok(&[
        "patch",
        "configs.imageregistry.operator.openshift.io",
        "cluster",
        "--type=merge",
        "-p",
        r#"{"spec":{"operatorLogLevel":"Debug"}}"#,
    ]);
    let mut out = follow.stdout.take().unwrap();
    let mut seen = String::new();
    let deadline = Instant::now() + Duration::from_secs(30);
    while !seen.contains("log verbosity set to 4") {
        assert!(Instant::now() < deadline, "followed log: {seen}");
        let mut buf = [0u8; 4096];
        let n = std::io::Read::read(&mut out, &mut buf).unwrap();
        assert!(n > 0, "the follow ended: {seen}");
        seen.push_str(&String::from_utf8_lossy(&buf[..n]));
    }
    let _stopped = follow.kill();
    let _reaped = follow.wait();

    // The README's walk-through: Managed on emptyDir, then the registry's Deployment and
    // Pod as kubectl describes and lists them.
    s.ok(&[
        "patch",
        "configs.imageregistry.operator.openshift.io",
        "cluster",
        "--type",
        "merge",
        "-p",
        r#"{"spec":{"managementState":"Managed","storage":{"emptyDir":{}}}}"#,
    ]);
    s.eventually("the registry's Pod running", |s| {
        let pods = rows(&s.ok(&["get", "pods", "-n", ns, "-l", "docker-registry=default"]));
        pods.len() == 2 && pods[1][1..3] == ["1/1", "Running"]
    });
    let registry = s.ok(&["describe", "deploy", "image-registry", "-n", ns]);
    assert!(registry.contains("Name:                   image-registry"), "{registry}");
    assert!(registry.contains("/etc/pki/ca-trust/source/anchors"), "{registry}");
    let co = rows(&s.ok(&["get", "co", "image-registry"]));
    assert_eq!(co[1][2..5], ["True", "False", "False"], "{co:?}");
    let describe = s.ok(&["describe", "deployment", "cluster-image-registry-operator", "-n", ns]);
    assert!(
        describe.contains("Replicas:               1 desired | 1 updated | 1 total | 1 available"),
        "{describe}"
    );
}

#[test]
fn the_simulated_workloads_have_replica_sets_and_pods() {
    let Some(kubectl) = kubectl_or_skip("the_simulated_workloads_have_replica_sets_and_pods")
    else {
        return;
    };
    let s = Served::apiserver(kubectl);
    s.ok_with(&["apply", "-f", "-"], Some(DEPLOYMENT));
    let running = |s: &Served, n: usize| {
        let pods = rows(&s.ok(&["get", "pods", "-n", "default"]));
        pods.len() == n + 1 && pods[1..].iter().all(|p| p[1..3] == ["1/1", "Running"])
    };
    s.eventually("one pod", |s| running(s, 1));
    assert_eq!(
        rows(&s.ok(&["get", "pods", "-n", "default"]))[0],
        ["NAME", "READY", "STATUS", "RESTARTS", "AGE"]
    );
    s.ok(&["scale", "deployment/web", "-n", "default", "--replicas=3"]);
    s.eventually("three pods", |s| running(s, 3));
    let rs = rows(&s.ok(&["get", "replicasets", "-n", "default"]));
    assert_eq!(rs.len(), 2, "scaling keeps the ReplicaSet: {rs:?}");
    assert_eq!(rs[1][1..4], ["3", "3", "3"]);
    // kubectl set image sends a strategic merge patch: the container merges by name.
    s.ok(&["set", "image", "deployment/web", "-n", "default", "c=registry.example/web:2"]);
    s.eventually("a new ReplicaSet, the old one at zero", |s| {
        let rs = rows(&s.ok(&["get", "replicasets", "-n", "default"]));
        rs.len() == 3 && rs[1..].iter().any(|r| r[1] == "0") && running(s, 3)
    });
    let pod = s.ok(&["get", "pods", "-n", "default", "-o", "jsonpath={.items[0].metadata.name}"]);
    let log = s.ok(&["logs", &pod, "-n", "default"]);
    assert_eq!(log, testkit::apiserver::pods::SIMULATED_LOG);
    let err = s.fails(&["logs", "no-such-pod", "-n", "default"]);
    assert!(err.contains("not found"), "{err}");
    s.ok(&["delete", "deployment", "web", "-n", "default"]);
    s.eventually("the Pods collected with their owners", |s| {
        s.ok(&["get", "pods,replicasets", "-n", "default", "-o", "name"]).trim().is_empty()
    });
}

/// The words of each line of kubectl's table output.
fn rows(out: &str) -> Vec<Vec<String>> {
    out.lines().map(|l| l.split_whitespace().map(str::to_string).collect()).collect()
}

const CLUSTER_OPERATOR: &str = r#"
apiVersion: config.openshift.io/v1
kind: ClusterOperator
metadata: {name: image-registry}
spec: {}
"#;

const CO_STATUS: &str = r#"{"status": {"versions": [{"name": "operator", "version": "4.20.0"}],
  "conditions": [
    {"type": "Available", "status": "True", "lastTransitionTime": "2026-01-01T00:00:00Z"},
    {"type": "Progressing", "status": "False", "lastTransitionTime": "2026-01-01T00:00:00Z"},
    {"type": "Degraded", "status": "False", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}}"#;

const EVENT: &str = r#"
apiVersion: v1
kind: Event
metadata: {name: web.1, namespace: default}
involvedObject: {apiVersion: apps/v1, kind: Deployment, name: web, namespace: default}
reason: ScalingReplicaSet
message: Scaled up replica set web-1 to 1
type: Normal
count: 1
firstTimestamp: "2026-01-01T00:00:00Z"
lastTimestamp: "2026-01-01T00:00:00Z"
source: {component: deployment-controller}
"#;

#[test]
fn kubectl_get_prints_the_servers_columns() {
    let Some(kubectl) = kubectl_or_skip("kubectl_get_prints_the_servers_columns") else { return };
    let s = Served::apiserver(kubectl);
    s.ok_with(&["apply", "-f", "-"], Some(DEPLOYMENT));
    s.eventually("the simulated rollout", |s| {
        s.ok(&[
            "get",
            "deployment",
            "web",
            "-n",
            "default",
            "-o",
            "jsonpath={.status.readyReplicas}",
        ]) == "1"
    });
    let deploy = rows(&s.ok(&["get", "deployments", "-n", "default"]));
    assert_eq!(deploy[0], ["NAME", "READY", "UP-TO-DATE", "AVAILABLE", "AGE"]);
    assert_eq!(deploy[1][..4], ["web", "1/1", "1", "1"]);
    let wide = rows(&s.ok(&["get", "deployments", "-n", "default", "-o", "wide"]));
    assert_eq!(wide[0][5..], ["CONTAINERS", "IMAGES", "SELECTOR"]);
    assert_eq!(wide[1][5..], ["c", "registry.example/web:1", "app=web"]);

    let ns = rows(&s.ok(&["get", "namespaces", "default", "kube-system"]));
    assert_eq!(ns[0], ["NAME", "STATUS", "AGE"]);
    assert_eq!(ns[1][..2], ["default", "Active"]);

    s.ok_with(&["apply", "-f", "-"], Some(CLUSTER_OPERATOR));
    s.ok(&[
        "patch",
        "co",
        "image-registry",
        "--subresource=status",
        "--type=merge",
        "-p",
        CO_STATUS,
    ]);
    let co = rows(&s.ok(&["get", "co"]));
    assert_eq!(co[0], ["NAME", "VERSION", "AVAILABLE", "PROGRESSING", "DEGRADED", "SINCE"]);
    assert_eq!(co[1][..5], ["image-registry", "4.20.0", "True", "False", "False"]);
    assert!(co[1][5].ends_with('d') || co[1][5].ends_with('y'), "a human age: {:?}", co[1]);

    s.ok_with(&["apply", "-f", "-"], Some(EVENT));
    let events = rows(&s.ok(&["get", "events", "-n", "default"]));
    assert_eq!(events[0], ["LAST", "SEEN", "TYPE", "REASON", "OBJECT", "MESSAGE"]);
    assert_eq!(events[1][1..4], ["Normal", "ScalingReplicaSet", "deployment/web"]);
    assert_eq!(events[1][4..].join(" "), "Scaled up replica set web-1 to 1");

    let all = s.ok(&["get", "all", "-n", "default"]);
    assert!(all.contains("deployment.apps/web"), "{all}");
}

/// Every platform `local` offers converges (`--once` exits 0). The cloud ones need their
/// storage server, and skip, saying so, where it is not installed (CI installs them and
/// requires them).
#[test]
fn every_local_platform_converges() {
    let required = std::env::var_os("IMAGEREGISTRY_REQUIRE_EMULATORS").is_some();
    for platform in cluster_image_registry_operator::local_cmd::LOCAL_PLATFORMS {
        let dir = testkit::ScratchDir::new("local-once").unwrap();
        let out = Command::new(BIN)
            .args(["local", "--platform", platform, "--once", "--timeout", "90", "--kubeconfig"])
            .arg(dir.join("kubeconfig"))
            .output()
            .unwrap();
        let err = String::from_utf8_lossy(&out.stderr);
        if !out.status.success() && err.contains("is not installed") && !required {
            eprintln!("every_local_platform_converges: {platform} skipped: {err}");
            continue;
        }
        let text = String::from_utf8_lossy(&out.stdout);
        assert!(out.status.success(), "local --platform {platform}: {err}\n{text}");
    }
}
