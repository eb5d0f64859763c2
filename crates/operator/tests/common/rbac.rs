//! Every request the operator made in a scenario, against the RBAC of `manifests/`: a
//! request those rules deny fails the scenario.

use std::sync::LazyLock;

use serde_json::Value;
use testkit::apiserver::ApiServer;
use testkit::rbac::{Grants, attributes};

/// The objects of the YAML files `files`.
pub fn objects(files: &[std::path::PathBuf]) -> Vec<Value> {
    files
        .iter()
        .flat_map(|f| {
            let text = std::fs::read_to_string(f).unwrap_or_default();
            serde_saphyr::from_multiple::<Value>(&text).unwrap_or_default()
        })
        .collect()
}

/// The grants of the operator's service account in `manifests/`.
pub static OURS: LazyLock<Grants> = LazyLock::new(|| {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../manifests");
    let files: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "yaml"))
        .collect();
    Grants::for_service_account(
        &objects(&files),
        "openshift-image-registry",
        "cluster-image-registry-operator",
    )
});

/// The operator's requests the grants deny, one line each.
pub fn denied(server: &ApiServer, grants: &Grants) -> Vec<String> {
    let ua = cluster_image_registry_operator::client::user_agent();
    let mut out: Vec<String> = server
        .requests()
        .iter()
        .filter(|r| r.user_agent == ua)
        .filter_map(|r| attributes(&r.verb, &r.path))
        .filter(|a| grants.allowing(a).is_none())
        .map(|a| a.to_string())
        .collect();
    out.sort();
    out.dedup();
    out
}

/// The grants of the original's RBAC (`../shared`, where it is beside the checkout).
pub static ORIGINAL: LazyLock<Option<Grants>> = LazyLock::new(|| {
    let file = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../../shared/reference/original-manifests/02-rbac.yaml");
    file.exists().then(|| {
        Grants::for_service_account(
            &objects(&[file]),
            "openshift-image-registry",
            "cluster-image-registry-operator",
        )
    })
});

/// What the original's RBAC refuses our operator, each with a fallback that it grants:
/// a pass reads the namespace with a get and the zoned nodes with a list.
const ORIGINAL_REFUSES: &[&str] = &[
    "list core namespaces named openshift-image-registry",
    "watch core namespaces named openshift-image-registry",
    "watch core nodes",
];

/// With `IMAGEREGISTRY_RBAC_LOG` set (`.ci/run` sets it), each scenario writes there
/// which rules of `manifests/` its requests used, for
/// `rbac_rules_no_scenario_used` (crates/operator/tests/operator.rs).
fn record_used(server: &ApiServer) {
    let Some(dir) = std::env::var_os("IMAGEREGISTRY_RBAC_LOG") else { return };
    let ua = cluster_image_registry_operator::client::user_agent();
    let used: std::collections::BTreeSet<String> = server
        .requests()
        .iter()
        .filter(|r| r.user_agent == ua)
        .filter_map(|r| attributes(&r.verb, &r.path))
        .filter_map(|a| OURS.allowing(&a).map(|r| r.origin.clone()))
        .collect();
    let dir = std::path::PathBuf::from(dir);
    let _made = std::fs::create_dir_all(&dir);
    static N: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);
    let n = N.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    let file = dir.join(format!("{}-{n}.txt", std::process::id()));
    let text: String = used.into_iter().map(|o| o + "\n").collect();
    std::fs::write(&file, text).unwrap_or_else(|e| panic!("{}: {e}", file.display()));
}

/// Records the rules used, and fails on any request `manifests/` denies (plain
/// Kubernetes: the original's RBAC has no rules for what stands in for OpenShift there).
pub fn audit_ours(server: &ApiServer) {
    record_used(server);
    let denied = denied(server, &OURS);
    assert!(
        denied.is_empty(),
        "manifests/ RBAC denies the operator's requests:\n{}",
        denied.join("\n")
    );
}

pub fn audit(server: &ApiServer) {
    record_used(server);
    if let Some(original) = &*ORIGINAL {
        let more: Vec<String> = denied(server, original)
            .into_iter()
            .filter(|d| !ORIGINAL_REFUSES.contains(&d.as_str()))
            .collect();
        assert!(
            more.is_empty(),
            "the original's RBAC denies the operator's requests:\n{}",
            more.join("\n")
        );
    }
    let denied = denied(server, &OURS);
    assert!(
        denied.is_empty(),
        "manifests/ RBAC denies the operator's requests:\n{}",
        denied.join("\n")
    );
}
