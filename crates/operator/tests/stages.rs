//! Each stage of a pass run alone, without the others, against the in-memory API server:
//! observe on a seeded cluster, and bootstrap, storage, plan, apply and report on a
//! snapshot made by hand.

use api::{ConditionStatus, Config};
use cluster_image_registry_operator::observe::{self, ConfigRead, Snapshot};
use cluster_image_registry_operator::sync::Context;
use cluster_image_registry_operator::{apply, bootstrap, plan, provision, report};
use cluster_image_registry_operator::{local_cmd::seeded_server, render_cmd::operator_env};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{PersistentVolumeClaim, Secret};
use kube::Api;
use kube::api::PostParams;
use serde_json::json;
use testkit::apiserver::ApiServer;

const NS: &str = "openshift-image-registry";

fn context(server: &ApiServer) -> Context {
    Context::new(cluster_image_registry_operator::client::in_process(server), operator_env())
}

/// A snapshot of a cluster on platform None where nothing of the registry exists yet.
fn hand_made() -> Snapshot {
    let infra: api::Infrastructure = serde_json::from_value(json!({
        "metadata": {"name": "cluster"}, "spec": {},
        "status": {"infrastructureName": "stage-x1", "platformStatus": {"type": "None"}}
    }))
    .unwrap();
    Snapshot {
        infra,
        infra_gap: None,
        config: ConfigRead::Missing,
        pruner: None,
        cluster_operator: None,
        image: None,
        apiserver: None,
        cluster_version: None,
        facts: render::Inputs {
            env: operator_env(),
            supplemental_groups: Some("1000430000/10000".into()),
            ..Default::default()
        },
    }
}

/// A Managed Config with `storage`, as bootstrap and spec would leave it.
fn config(storage: serde_json::Value) -> Config {
    serde_json::from_value(json!({
        "apiVersion": "imageregistry.operator.openshift.io/v1", "kind": "Config",
        "metadata": {"name": "cluster"},
        "spec": {"managementState": "Managed", "replicas": 1, "storage": storage,
                 "httpSecret": "0".repeat(128), "rolloutStrategy": "RollingUpdate"}
    }))
    .unwrap()
}

#[tokio::test]
async fn observe_reads_the_cluster_into_one_snapshot() {
    let server = seeded_server("AWS").unwrap();
    let secrets: Api<Secret> = Api::namespaced(server.client(), "openshift-config");
    let pull: Secret = serde_json::from_value(json!({
        "metadata": {"name": "pull-secret"}, "type": "kubernetes.io/dockerconfigjson",
        "stringData": {".dockerconfigjson": "{\"auths\":{\"quay.io\":{\"auth\":\"eDp5\"}}}"}
    }))
    .unwrap();
    secrets.create(&PostParams::default(), &pull).await.unwrap();
    let ctx = context(&server);
    let snap = observe::observe(&ctx).await.unwrap();
    assert_eq!(snap.infra.platform_type(), "AWS");
    assert_eq!(snap.infra_gap, None);
    assert!(matches!(snap.config, ConfigRead::Missing), "{:?}", snap.config);
    assert!(snap.pruner.is_none() && snap.cluster_operator.is_none());
    let pull = snap.facts.pull_secret.as_ref().expect("the cluster pull secret is a fact");
    assert!(String::from_utf8_lossy(&pull.0).contains("quay.io"));
    assert!(snap.facts.supplemental_groups.is_some(), "the namespace's annotation is read");

    // Without an Infrastructure, the snapshot says what is missing.
    let bare = ApiServer::new(Default::default());
    for crd in api::schema::crds().into_iter().chain(api::schema::openshift_crds()) {
        bare.register_crd(serde_json::to_value(crd).unwrap()).unwrap();
    }
    let snap = observe::observe(&context(&bare)).await.unwrap();
    assert!(
        snap.infra_gap.as_ref().is_some_and(|g| g.contains("does not exist")),
        "{:?}",
        snap.infra_gap
    );
}

#[tokio::test]
async fn bootstrap_creates_what_the_snapshot_lacks_and_only_that() {
    let server = seeded_server("None").unwrap();
    let ctx = context(&server);
    let mut snap = hand_made();
    let writes = bootstrap::bootstrap(&ctx, &mut snap).await.unwrap();
    assert_eq!(writes, 4, "Config, ImagePruner, ClusterOperator and Image");
    let config = snap.config().expect("the Config is in the snapshot").clone();
    // Platform None has no storage to offer: the registry starts Removed.
    assert_eq!(config.spec.management_state, "Removed");
    assert!(snap.pruner.is_some() && snap.cluster_operator.is_some());
    let stored: Config = Api::all(server.client()).get("cluster").await.unwrap();
    assert_eq!(stored.spec.storage, config.spec.storage);

    server.clear_requests();
    assert_eq!(bootstrap::bootstrap(&ctx, &mut snap).await.unwrap(), 0);
    assert!(server.requests().is_empty(), "a full snapshot sends nothing");
}

#[tokio::test]
async fn storage_stage_claims_a_pvc_and_removes_only_the_one_it_created() {
    let server = seeded_server("None").unwrap();
    let ctx = context(&server);
    let snap = hand_made();
    let mut managed = config(json!({"pvc": {"claim": ""}}));
    let out = provision::managed(&ctx, &snap, &mut managed).await.unwrap();
    assert_eq!(out.error, None);
    let exists = out.conditions.iter().find(|c| c.type_ == "StorageExists");
    let exists = exists.unwrap_or_else(|| panic!("{:?}", out.conditions));
    assert_eq!((exists.status, exists.reason.as_str()), (ConditionStatus::True, "PVC Created"));
    let claims: Api<PersistentVolumeClaim> = Api::namespaced(server.client(), NS);
    assert!(claims.get_opt("image-registry-storage").await.unwrap().is_some());

    // Removed with storage the user named (not Managed): the claim stays.
    let mut users = config(json!({"pvc": {"claim": "image-registry-storage"}}));
    users.spec.management_state = "Removed".into();
    let out = provision::removed(&ctx, &mut users, &snap.infra).await.unwrap();
    assert_eq!(out.error, None);
    assert!(claims.get_opt("image-registry-storage").await.unwrap().is_some(), "kept");

    // Removed with the claim recorded as the operator's: it goes.
    let mut ours = users.clone();
    ours.status = Some(api::imageregistry::ImageRegistryStatus {
        storage: api::imageregistry::ImageRegistryConfigStorage {
            pvc: Some(api::imageregistry::ImageRegistryConfigStoragePvc {
                claim: "image-registry-storage".into(),
            }),
            management_state: "Managed".into(),
            ..Default::default()
        },
        ..Default::default()
    });
    let out = provision::removed(&ctx, &mut ours, &snap.infra).await.unwrap();
    assert_eq!(out.error, None);
    let left = claims.get_opt("image-registry-storage").await.unwrap();
    assert!(left.is_none_or(|c| c.metadata.deletion_timestamp.is_some()), "deleted");
}

#[test]
fn plan_renders_the_registry_once_from_the_snapshot_and_the_storage() {
    let snap = hand_made();
    let config = config(json!({"emptyDir": {}}));
    let storage = provision::StorageOutcome::default();
    let workload = plan::plan(&snap, &config, &storage);
    let objects = workload.registry.expect("asked for").expect("renders");
    let kinds: Vec<_> = objects.iter().map(|o| o.kind()).collect();
    assert!(kinds.contains(&"Deployment") && kinds.contains(&"Service"), "{kinds:?}");
    assert_eq!(workload.node_ca.kind(), "DaemonSet");

    let mut removed = config.clone();
    removed.spec.management_state = "Removed".into();
    assert!(plan::plan(&snap, &removed, &storage).registry.is_none(), "nothing to render");
}

#[tokio::test]
async fn apply_writes_the_plan_once_and_then_nothing() {
    let server = seeded_server("None").unwrap();
    let ctx = context(&server);
    let snap = hand_made();
    let config = config(json!({"emptyDir": {}}));
    let workload = plan::plan(&snap, &config, &provision::StorageOutcome::default());
    let applied = apply::apply_plan(&ctx, &config, &workload).await;
    assert_eq!(applied.error(), None);
    assert!(applied.writes > 0);
    let deployments: Api<Deployment> = Api::namespaced(server.client(), NS);
    assert!(deployments.get_opt("image-registry").await.unwrap().is_some());

    let again = apply::apply_plan(&ctx, &config, &workload).await;
    assert_eq!((again.writes, again.error()), (0, None), "the same plan changes nothing");

    let mut removed = config.clone();
    removed.spec.management_state = "Removed".into();
    let workload = plan::plan(&snap, &removed, &provision::StorageOutcome::default());
    let gone = apply::apply_plan(&ctx, &removed, &workload).await;
    assert_eq!(gone.error(), None);
    let left = deployments.get_opt("image-registry").await.unwrap();
    assert!(left.is_none_or(|d| d.metadata.deletion_timestamp.is_some()), "Removed deletes it");
}

/// An object the watch has not shown yet (another writer created it a moment ago): the
/// create meets 409 AlreadyExists, and the object is then read and compared instead.
#[tokio::test]
async fn a_create_that_meets_already_exists_reads_the_object_and_goes_on() {
    use cluster_image_registry_operator::cache::Cache;
    use k8s_openapi::api::core::v1::ConfigMap;
    let server = seeded_server("None").unwrap();
    let url = format!("/api/v1/namespaces/{NS}/configmaps");
    let cache = Cache::default();
    cache.restart(&url);
    cache.ready(&url);
    let maps: Api<ConfigMap> = Api::namespaced(server.client(), NS);
    let theirs: ConfigMap = serde_json::from_value(json!({
        "metadata": {"name": "m", "annotations": {"other": "x"}}, "data": {"a": "0"}
    }))
    .unwrap();
    maps.create(&PostParams::default(), &theirs).await.unwrap();
    let applier = apply::Applier::new(server.client()).with_cache(cache);
    let ours = render::Object::ConfigMap(
        serde_json::from_value(json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": "m", "namespace": NS}, "data": {"a": "1"}}))
        .unwrap(),
    );
    assert_eq!(applier.apply(&ours).await.unwrap(), apply::Outcome::Updated);
    let conflicts =
        server.requests().iter().filter(|r| r.verb == "create" && r.status == 409).count();
    assert_eq!(conflicts, 1, "the create met the object");
    let m = maps.get("m").await.unwrap();
    assert_eq!(m.data.unwrap()["a"], "1");
    assert_eq!(
        m.metadata.annotations.unwrap()["other"],
        "x",
        "the other writer's annotation stays"
    );
}

/// A watch can hand the cache an event older than the operator's last write, so that a pass
/// compares with a stale copy and writes what the server already holds. Such a write changes
/// nothing, and the version it returns may be another writer's: that writer's event must
/// still wake a pass (found as a hang of operator-bench before the first Available).
#[tokio::test]
async fn a_write_from_a_stale_copy_does_not_hide_another_writers_change() {
    use cluster_image_registry_operator::cache::Cache;
    use k8s_openapi::api::core::v1::ConfigMap;
    let server = seeded_server("None").unwrap();
    let url = format!("/api/v1/namespaces/{NS}/configmaps");
    let cache = Cache::default();
    cache.restart(&url);
    cache.ready(&url);
    let applier = apply::Applier::new(server.client()).with_cache(cache.clone());
    let map = |v: &str| {
        render::Object::ConfigMap(
            serde_json::from_value(json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "m", "namespace": NS}, "data": {"a": v}
            }))
            .unwrap(),
        )
    };
    assert_eq!(applier.apply(&map("1")).await.unwrap(), apply::Outcome::Created);
    let first = cache.get(&url, "m").unwrap().unwrap();
    assert_eq!(applier.apply(&map("2")).await.unwrap(), apply::Outcome::Updated);
    // Another writer adds an annotation; its watch event is still on the way.
    let maps: Api<ConfigMap> = Api::namespaced(server.client(), NS);
    let theirs = maps
        .patch(
            "m",
            &kube::api::PatchParams::default(),
            &kube::api::Patch::Merge(json!({"metadata": {"annotations": {"other": "x"}}})),
        )
        .await
        .unwrap();
    // The watch delivers the create late, over the update.
    cache.put(&url, (*first).clone());
    let outcome = applier.apply(&map("2")).await.unwrap();
    assert_eq!(outcome, apply::Outcome::Unchanged, "the server already holds it");
    let event = serde_json::to_value(&theirs).unwrap();
    assert!(!cache.echo(&url, &event), "the other writer's event must wake a pass");
}

#[tokio::test]
async fn report_writes_each_status_from_the_pass_result_alone() {
    let server = seeded_server("None").unwrap();
    let ctx = context(&server);
    let mut snap = hand_made();
    bootstrap::bootstrap(&ctx, &mut snap).await.unwrap();
    let config = config(json!({"emptyDir": {}}));
    let storage = provision::StorageOutcome::default();
    // A registry part that failed: the report still writes every status, and says so.
    let applied = apply::Applied { registry: Some("boom".into()), ..Default::default() };
    let pass = report::PassResult {
        apply: render::conditions::ApplyResult::Error("registry: boom".into()),
        storage: &storage,
        applied: &applied,
        missing: None,
    };
    let reported = report::report(&ctx, &snap, &config, &pass).await.unwrap();
    assert!(reported.writes >= 2, "the Config and the ClusterOperator: {}", reported.writes);
    // A transient error is Progressing (Degraded only after it lasts), as the reference.
    let progressing = reported.cluster_operator.iter().find(|(t, _, _)| t == "Progressing");
    let (_, status, reason) = progressing.unwrap();
    assert_eq!(*status, ConditionStatus::True, "{reported:?}");
    assert!(reason.split("::").any(|r| r == "Error"), "{reason}");
    let stored: Config = Api::all(server.client()).get("cluster").await.unwrap();
    let conditions = stored.status.unwrap().conditions;
    let progressing = conditions.iter().find(|c| c.type_ == "Progressing").unwrap();
    assert!(progressing.message.contains("boom"), "{progressing:?}");
    let co: api::ClusterOperator = Api::all(server.client()).get("image-registry").await.unwrap();
    assert!(co.status.is_some_and(|s| !s.conditions.is_empty()));
}
