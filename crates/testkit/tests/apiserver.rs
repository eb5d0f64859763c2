//! The in-memory API server against kube-rs (in-process and over loopback HTTP) and
//! kubectl: every semantic the operator relies on.

use std::time::Duration;

use futures::{StreamExt, TryStreamExt};
use imageregistry_testkit::apiserver::{ApiServer, FaultRule, Options, kubeconfig};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, DeleteParams, ListParams, Patch, PatchParams, PostParams};
use kube::runtime::WatchStreamExt;
use kube::runtime::watcher::{self, Event};
use kube::{Client, Error};
use serde_json::{Value, json};

fn server() -> (ApiServer, Client) {
    let s = ApiServer::new(Options {
        bookmark_interval: Duration::from_millis(50),
        ..Default::default()
    });
    let c = s.client();
    (s, c)
}

async fn namespace(c: &Client, name: &str) {
    let api: Api<Namespace> = Api::all(c.clone());
    api.create(
        &PostParams::default(),
        &serde_json::from_value(json!({"metadata": {"name": name}})).unwrap(),
    )
    .await
    .unwrap();
}

fn cm(name: &str, labels: Value, data: Value) -> ConfigMap {
    serde_json::from_value(json!({"metadata": {"name": name, "labels": labels}, "data": data}))
        .unwrap()
}

fn api_err(e: Error) -> (u16, String, String) {
    match e {
        Error::Api(s) => (s.code, s.reason, s.message),
        other => panic!("not an API error: {other}"),
    }
}

#[tokio::test]
async fn create_get_list_replace_with_conflicts_and_status_bodies() {
    let (_s, c) = server();
    let api: Api<ConfigMap> = Api::namespaced(c.clone(), "ns1");
    let (code, reason, msg) = api_err(
        api.create(&PostParams::default(), &cm("a", json!({}), json!({}))).await.unwrap_err(),
    );
    assert_eq!(
        (code, reason.as_str(), msg.as_str()),
        (404, "NotFound", "namespaces \"ns1\" not found")
    );
    namespace(&c, "ns1").await;
    let a = api
        .create(&PostParams::default(), &cm("a", json!({"app": "x"}), json!({"k": "v"})))
        .await
        .unwrap();
    let meta = &a.metadata;
    assert!(meta.uid.is_some() && meta.creation_timestamp.is_some());
    let rv1: u64 = meta.resource_version.as_ref().unwrap().parse().unwrap();
    let (code, reason, msg) = api_err(
        api.create(&PostParams::default(), &cm("a", json!({}), json!({}))).await.unwrap_err(),
    );
    assert_eq!(
        (code, reason.as_str(), msg.as_str()),
        (409, "AlreadyExists", "configmaps \"a\" already exists")
    );
    let (code, reason, _) = api_err(api.get("nope").await.unwrap_err());
    assert_eq!((code, reason.as_str()), (404, "NotFound"));

    let mut changed = a.clone();
    changed.data = Some([("k".to_string(), "w".to_string())].into());
    let b = api.replace("a", &PostParams::default(), &changed).await.unwrap();
    let rv2: u64 = b.metadata.resource_version.as_ref().unwrap().parse().unwrap();
    assert!(rv2 > rv1, "one global counter moves on every write");
    let (code, reason, msg) =
        api_err(api.replace("a", &PostParams::default(), &changed).await.unwrap_err());
    assert_eq!((code, reason.as_str()), (409, "Conflict"), "stale resourceVersion");
    assert!(msg.contains("the object has been modified"), "{msg}");
    // a write that changes nothing keeps the version
    let same = api.replace("a", &PostParams::default(), &b).await.unwrap();
    assert_eq!(same.metadata.resource_version, b.metadata.resource_version);

    let other: Api<ConfigMap> = Api::namespaced(c.clone(), "ns1");
    other.create(&PostParams::default(), &cm("b", json!({"app": "y"}), json!({}))).await.unwrap();
    let list = api.list(&ListParams::default()).await.unwrap();
    assert_eq!(
        list.items.iter().map(|i| i.metadata.name.clone().unwrap()).collect::<Vec<_>>(),
        ["a", "b"]
    );
    assert!(list.metadata.resource_version.is_some());
    let page = api.list(&ListParams::default().limit(1)).await.unwrap();
    assert_eq!(page.items.len(), 1);
    let token = page.metadata.continue_.clone().expect("more pages");
    let rest = api.list(&ListParams::default().limit(1).continue_token(&token)).await.unwrap();
    assert_eq!(rest.items[0].metadata.name.as_deref(), Some("b"));
    assert!(rest.metadata.continue_.is_none());
}

#[tokio::test]
async fn selectors_on_list() {
    let (_s, c) = server();
    namespace(&c, "n").await;
    let api: Api<ConfigMap> = Api::namespaced(c.clone(), "n");
    for (name, app) in [("a", "web"), ("b", "db"), ("c", "web")] {
        api.create(&PostParams::default(), &cm(name, json!({"app": app}), json!({})))
            .await
            .unwrap();
    }
    api.create(&PostParams::default(), &cm("d", json!({}), json!({}))).await.unwrap();
    let names = |l: kube::core::ObjectList<ConfigMap>| {
        l.items.into_iter().map(|i| i.metadata.name.unwrap()).collect::<Vec<_>>()
    };
    assert_eq!(
        names(api.list(&ListParams::default().labels("app=web")).await.unwrap()),
        ["a", "c"]
    );
    assert_eq!(
        names(api.list(&ListParams::default().labels("app!=web")).await.unwrap()),
        ["b", "d"]
    );
    assert_eq!(
        names(api.list(&ListParams::default().labels("app in (db,web)")).await.unwrap()),
        ["a", "b", "c"]
    );
    assert_eq!(
        names(api.list(&ListParams::default().labels("app notin (web)")).await.unwrap()),
        ["b", "d"]
    );
    assert_eq!(names(api.list(&ListParams::default().labels("!app")).await.unwrap()), ["d"]);
    assert_eq!(
        names(api.list(&ListParams::default().labels("app")).await.unwrap()),
        ["a", "b", "c"]
    );
    assert_eq!(
        names(api.list(&ListParams::default().fields("metadata.name=b")).await.unwrap()),
        ["b"]
    );
    assert_eq!(
        names(
            api.list(&ListParams::default().fields("metadata.namespace=n,metadata.name!=b"))
                .await
                .unwrap()
        ),
        ["a", "c", "d"]
    );
    let all: Api<ConfigMap> = Api::all(c.clone());
    assert_eq!(all.list(&ListParams::default()).await.unwrap().items.len(), 4);
}

fn deployment(name: &str, replicas: i32) -> Deployment {
    serde_json::from_value(json!({
        "metadata": {"name": name},
        "spec": {"replicas": replicas, "selector": {"matchLabels": {"app": name}},
            "template": {"metadata": {"labels": {"app": name}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}
    }))
    .unwrap()
}

#[tokio::test]
async fn generation_and_status_subresource() {
    let (_s, c) = server();
    namespace(&c, "n").await;
    let api: Api<Deployment> = Api::namespaced(c.clone(), "n");
    let mut d = deployment("d", 1);
    d.status = Some(serde_json::from_value(json!({"replicas": 9})).unwrap());
    let d = api.create(&PostParams::default(), &d).await.unwrap();
    assert_eq!(d.metadata.generation, Some(1));
    let p = PatchParams::default();
    let d = api
        .patch("d", &p, &Patch::Merge(json!({"metadata": {"labels": {"x": "y"}}})))
        .await
        .unwrap();
    assert_eq!(d.metadata.generation, Some(1), "metadata changes do not bump generation");
    let d = api
        .patch("d", &p, &Patch::Merge(json!({"spec": {"replicas": 3}, "status": {"replicas": 7}})))
        .await
        .unwrap();
    assert_eq!(d.metadata.generation, Some(2));
    assert_eq!(d.status.as_ref().and_then(|s| s.replicas), None, "main writes ignore status");
    let d = api.patch_status("d", &p, &Patch::Merge(json!({"spec": {"replicas": 5}, "status": {"replicas": 3, "observedGeneration": 2}}))).await.unwrap();
    assert_eq!(d.metadata.generation, Some(2), "status writes do not bump generation");
    assert_eq!(d.spec.as_ref().unwrap().replicas, Some(3), "status writes ignore spec");
    assert_eq!(d.status.as_ref().unwrap().replicas, Some(3));
    let got = api.get_status("d").await.unwrap();
    assert_eq!(got.status.unwrap().observed_generation, Some(2));
}

/// `/scale` as kube-apiserver serves it for a Deployment: an autoscaling/v1 Scale with the
/// printed selector, patched or replaced into the Deployment's replicas, validated, with
/// its resourceVersion as a precondition; not served for kinds without it.
#[tokio::test]
async fn scale_subresource_of_deployments() {
    use k8s_openapi::api::autoscaling::v1::Scale;
    let (s, c) = server();
    namespace(&c, "n").await;
    let api: Api<Deployment> = Api::namespaced(c.clone(), "n");
    let d = api.create(&PostParams::default(), &deployment("d", 1)).await.unwrap();
    let scale = api.get_scale("d").await.unwrap();
    assert_eq!(scale.metadata.name.as_deref(), Some("d"));
    assert_eq!(scale.metadata.uid, d.metadata.uid);
    assert_eq!(scale.spec.unwrap().replicas, Some(1));
    let status = scale.status.unwrap();
    assert_eq!((status.replicas, status.selector.as_deref()), (0, Some("app=d")));

    let p = PatchParams::default();
    let patched =
        api.patch_scale("d", &p, &Patch::Merge(json!({"spec": {"replicas": 3}}))).await.unwrap();
    assert_eq!(patched.spec.unwrap().replicas, Some(3));
    let d = api.get("d").await.unwrap();
    assert_eq!(d.spec.unwrap().replicas, Some(3));
    assert_eq!(d.metadata.generation, Some(2), "a scale is a spec change");

    let stale: Scale = serde_json::from_value(json!({"metadata": {"name": "d", "namespace": "n",
        "resourceVersion": scale.metadata.resource_version}, "spec": {"replicas": 4}}))
    .unwrap();
    let (code, reason, _) =
        api_err(api.replace_scale("d", &PostParams::default(), &stale).await.unwrap_err());
    assert_eq!(
        (code, reason.as_str()),
        (409, "Conflict"),
        "the Scale's resourceVersion is a precondition"
    );

    let (code, reason, message) = api_err(
        api.patch_scale("d", &p, &Patch::Merge(json!({"spec": {"replicas": -1}})))
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (422, "Invalid"));
    assert_eq!(
        message,
        "Scale.autoscaling \"d\" is invalid: spec.replicas: Invalid value: -1: must be greater than or equal to 0"
    );
    assert_eq!(api.get("d").await.unwrap().spec.unwrap().replicas, Some(3), "nothing stored");
    let (code, _, message) = api_err(
        api.patch_scale("d", &p, &Patch::Merge(json!({"spec": {"replicas": "x"}})))
            .await
            .unwrap_err(),
    );
    assert_eq!(code, 400);
    assert!(
        message.ends_with("json: cannot unmarshal string into Go struct field ScaleSpec.spec.replicas of type int32"),
        "{message}"
    );

    let (code, _, message) = api_err(api.get_scale("missing").await.unwrap_err());
    assert_eq!((code, message.as_str()), (404, "deployments.apps \"missing\" not found"));
    let cms: Api<ConfigMap> = Api::namespaced(c.clone(), "n");
    cms.create(&PostParams::default(), &cm("c", json!({}), json!({}))).await.unwrap();
    let (code, _, _) = api_err(cms.get_scale("c").await.unwrap_err());
    assert_eq!(code, 404, "a kind without the subresource");
    let discovery = s.client().list_api_group_resources("apps/v1").await.unwrap();
    let entry = discovery.resources.iter().find(|r| r.name == "deployments/scale").unwrap();
    assert_eq!((entry.group.as_deref(), entry.kind.as_str()), (Some("autoscaling"), "Scale"));
}

/// The namespaces every cluster has are there from the start.
#[tokio::test]
async fn system_namespaces_exist() {
    let (_s, c) = server();
    let api: Api<Namespace> = Api::all(c.clone());
    let mut names: Vec<String> = api
        .list(&Default::default())
        .await
        .unwrap()
        .items
        .into_iter()
        .filter_map(|n| n.metadata.name)
        .collect();
    names.sort();
    assert_eq!(names, ["default", "kube-node-lease", "kube-public", "kube-system"]);
}

#[tokio::test]
async fn patches_json_merge_and_unsupported() {
    let (s, c) = server();
    namespace(&c, "n").await;
    let api: Api<ConfigMap> = Api::namespaced(c.clone(), "n");
    api.create(
        &PostParams::default(),
        &cm("a", json!({"keep": "1", "drop": "2"}), json!({"k": "v"})),
    )
    .await
    .unwrap();
    let p = PatchParams::default();
    let a = api
        .patch(
            "a",
            &p,
            &Patch::Merge(json!({"metadata": {"labels": {"drop": null}}, "data": {"n": "m"}})),
        )
        .await
        .unwrap();
    assert_eq!(a.metadata.labels.unwrap().len(), 1);
    assert_eq!(a.data.unwrap().len(), 2);
    let ops: json_patch::Patch = serde_json::from_value(json!([
        {"op": "test", "path": "/data/k", "value": "v"},
        {"op": "replace", "path": "/data/k", "value": "w"}
    ]))
    .unwrap();
    let a = api.patch("a", &p, &Patch::<()>::Json(ops)).await.unwrap();
    assert_eq!(a.data.as_ref().unwrap()["k"], "w");
    let failing: json_patch::Patch =
        serde_json::from_value(json!([{"op": "test", "path": "/data/k", "value": "v"}])).unwrap();
    let (code, reason, _) =
        api_err(api.patch("a", &p, &Patch::<()>::Json(failing)).await.unwrap_err());
    assert_eq!((code, reason.as_str()), (422, "Invalid"));
    let stale = json!({"metadata": {"resourceVersion": "1"}, "data": {"x": "y"}});
    assert_eq!(api_err(api.patch("a", &p, &Patch::Merge(stale)).await.unwrap_err()).0, 409);
    let (code, _, msg) = api_err(
        api.patch(
            "a",
            &PatchParams::apply("me"),
            &Patch::Apply(json!({"apiVersion": "v1", "kind": "ConfigMap"})),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(code, 415);
    assert!(msg.contains("server-side apply is not supported"), "{msg}");
    // A built-in kind takes a strategic merge patch; a custom resource does not (415).
    let a = api.patch("a", &p, &Patch::Strategic(json!({"data": {"s": "t"}}))).await.unwrap();
    assert_eq!(a.data.unwrap().get("s").map(String::as_str), Some("t"));
    let (code, reason, msg) = api_err(
        api.patch("a", &p, &Patch::Strategic(json!({"data": {"$patch": "bogus"}})))
            .await
            .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (400, "BadRequest"), "{msg}");
    for crd in api::schema::crds() {
        s.register_crd(serde_json::to_value(crd).unwrap()).unwrap();
    }
    let configs: Api<api::Config> = Api::all(c.clone());
    let config = json!({"apiVersion": "imageregistry.operator.openshift.io/v1", "kind": "Config",
        "metadata": {"name": "cluster"}, "spec": {"managementState": "Managed", "replicas": 1}});
    configs.create(&PostParams::default(), &serde_json::from_value(config).unwrap()).await.unwrap();
    let (code, _, _) = api_err(
        configs.patch("cluster", &p, &Patch::Strategic(json!({"spec": {}}))).await.unwrap_err(),
    );
    assert_eq!(code, 415);
}

#[tokio::test]
async fn dry_run_writes_nothing() {
    let (s, c) = server();
    namespace(&c, "n").await;
    let api: Api<ConfigMap> = Api::namespaced(c.clone(), "n");
    let rv = s.read(|st| st.resource_version());
    let pp = PostParams { dry_run: true, ..Default::default() };
    let out = api.create(&pp, &cm("a", json!({}), json!({}))).await.unwrap();
    assert_eq!(out.metadata.name.as_deref(), Some("a"));
    assert_eq!(api_err(api.get("a").await.unwrap_err()).0, 404);
    api.create(&PostParams::default(), &cm("a", json!({}), json!({}))).await.unwrap();
    api.patch(
        "a",
        &PatchParams { dry_run: true, ..Default::default() },
        &Patch::Merge(json!({"data": {"x": "1"}})),
    )
    .await
    .unwrap();
    assert!(
        api.get("a").await.unwrap().data.unwrap_or_default().is_empty(),
        "dry-run patch stored nothing"
    );
    api.delete("a", &DeleteParams { dry_run: true, ..Default::default() }).await.unwrap();
    assert!(api.get("a").await.is_ok());
    assert!(s.read(|st| st.resource_version()) > rv);
}

#[tokio::test]
async fn finalizers_and_deletion_timestamp() {
    let (_s, c) = server();
    namespace(&c, "n").await;
    let api: Api<ConfigMap> = Api::namespaced(c.clone(), "n");
    let mut o = cm("a", json!({}), json!({}));
    o.metadata.finalizers = Some(vec!["example.com/f".into()]);
    api.create(&PostParams::default(), &o).await.unwrap();
    let r = api.delete("a", &DeleteParams::default()).await.unwrap();
    let pending = r.left().expect("still there, being deleted");
    assert!(pending.metadata.deletion_timestamp.is_some());
    let (code, _, msg) = api_err(
        api.patch(
            "a",
            &PatchParams::default(),
            &Patch::Merge(json!({"metadata": {"finalizers": ["example.com/f", "new"]}})),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!(code, 422);
    assert!(msg.contains("no new finalizers"), "{msg}");
    api.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    assert_eq!(api_err(api.get("a").await.unwrap_err()).0, 404, "gone with its last finalizer");
    api.create(&PostParams::default(), &cm("b", json!({}), json!({}))).await.unwrap();
    assert!(
        api.delete("b", &DeleteParams::default()).await.unwrap().is_right(),
        "no finalizer: gone at once"
    );
}

fn owned(name: &str, owner: &ConfigMap) -> ConfigMap {
    let mut o = cm(name, json!({}), json!({}));
    o.metadata.owner_references = Some(vec![
        serde_json::from_value(json!({"apiVersion": "v1", "kind": "ConfigMap",
        "name": owner.metadata.name, "uid": owner.metadata.uid}))
        .unwrap(),
    ]);
    o
}

#[tokio::test]
async fn garbage_collection_and_namespaces() {
    let (_s, c) = server();
    namespace(&c, "n").await;
    let api: Api<ConfigMap> = Api::namespaced(c.clone(), "n");
    let pp = PostParams::default();
    let owner = api.create(&pp, &cm("owner", json!({}), json!({}))).await.unwrap();
    api.create(&pp, &owned("child", &owner)).await.unwrap();
    let child = api.get("child").await.unwrap();
    api.create(&pp, &owned("grandchild", &child)).await.unwrap();
    api.delete("owner", &DeleteParams::background()).await.unwrap();
    assert_eq!(
        api.list(&ListParams::default()).await.unwrap().items.len(),
        0,
        "background: dependents go"
    );

    let owner = api.create(&pp, &cm("owner", json!({}), json!({}))).await.unwrap();
    let mut blocker = owned("child", &owner);
    blocker.metadata.finalizers = Some(vec!["x/y".into()]);
    api.create(&pp, &blocker).await.unwrap();
    let r = api.delete("owner", &DeleteParams::foreground()).await.unwrap();
    let waiting = r.left().expect("foreground: owner waits for its dependents");
    assert!(waiting.metadata.finalizers.unwrap().contains(&"foregroundDeletion".to_string()));
    api.patch(
        "child",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"finalizers": null}})),
    )
    .await
    .unwrap();
    assert_eq!(
        api_err(api.get("owner").await.unwrap_err()).0,
        404,
        "owner goes after its dependents"
    );

    let owner = api.create(&pp, &cm("owner", json!({}), json!({}))).await.unwrap();
    api.create(&pp, &owned("child", &owner)).await.unwrap();
    api.delete("owner", &DeleteParams::orphan()).await.unwrap();
    assert!(
        api.get("child").await.unwrap().metadata.owner_references.unwrap_or_default().is_empty(),
        "orphaned"
    );

    let nss: Api<Namespace> = Api::all(c.clone());
    nss.delete("n", &DeleteParams::default()).await.unwrap();
    assert_eq!(api_err(api.get("child").await.unwrap_err()).0, 404);
    assert_eq!(
        api_err(nss.get("n").await.unwrap_err()).0,
        404,
        "an empty terminating namespace goes"
    );
}

#[tokio::test]
async fn watch_events_resume_bookmarks_and_gone() {
    let (s, c) = server();
    namespace(&c, "n").await;
    let api: Api<ConfigMap> = Api::namespaced(c.clone(), "n");
    let pp = PostParams::default();
    let a = api.create(&pp, &cm("a", json!({"app": "web"}), json!({}))).await.unwrap();
    let rv = a.metadata.resource_version.clone().unwrap();
    let wp = kube::api::WatchParams::default().labels("app=web").timeout(10);
    let mut stream = api.watch(&wp, &rv).await.unwrap().boxed();
    api.patch("a", &PatchParams::default(), &Patch::Merge(json!({"data": {"x": "1"}})))
        .await
        .unwrap();
    api.create(&pp, &cm("b", json!({"app": "db"}), json!({}))).await.unwrap();
    api.patch(
        "b",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "web"}}})),
    )
    .await
    .unwrap();
    api.patch(
        "a",
        &PatchParams::default(),
        &Patch::Merge(json!({"metadata": {"labels": {"app": "db"}}})),
    )
    .await
    .unwrap();
    api.delete("b", &DeleteParams::default()).await.unwrap();
    let mut seen = Vec::new();
    while seen.len() < 4 {
        match stream.try_next().await.unwrap().unwrap() {
            kube::core::WatchEvent::Added(o) => {
                seen.push(format!("ADDED {}", o.metadata.name.unwrap()))
            }
            kube::core::WatchEvent::Modified(o) => {
                seen.push(format!("MODIFIED {}", o.metadata.name.unwrap()))
            }
            kube::core::WatchEvent::Deleted(o) => {
                seen.push(format!("DELETED {}", o.metadata.name.unwrap()))
            }
            kube::core::WatchEvent::Bookmark(_) => {}
            kube::core::WatchEvent::Error(e) => panic!("{e:?}"),
        }
    }
    assert_eq!(seen, ["MODIFIED a", "ADDED b", "DELETED a", "DELETED b"], "selector transitions");

    // resume from an old version replays what happened after it
    let mut replay =
        api.watch(&kube::api::WatchParams::default().timeout(5), &rv).await.unwrap().boxed();
    match replay.try_next().await.unwrap().unwrap() {
        kube::core::WatchEvent::Modified(o) => assert_eq!(o.metadata.name.as_deref(), Some("a")),
        other => panic!("{other:?}"),
    }

    // bookmarks when asked
    let mut bm =
        api.watch(&kube::api::WatchParams::default().timeout(5), "0").await.unwrap().boxed();
    let mut got_bookmark = false;
    for _ in 0..5 {
        if let kube::core::WatchEvent::Bookmark(b) = bm.try_next().await.unwrap().unwrap() {
            assert!(!b.metadata.resource_version.is_empty());
            got_bookmark = true;
            break;
        }
    }
    assert!(got_bookmark);

    // too old: 410 Gone
    s.compact(1);
    let mut gone =
        api.watch(&kube::api::WatchParams::default().timeout(5), &rv).await.unwrap().boxed();
    match gone.try_next().await.unwrap().unwrap() {
        kube::core::WatchEvent::Error(e) => {
            assert_eq!((e.code, e.reason.as_str()), (410, "Expired"))
        }
        other => panic!("{other:?}"),
    }
}

#[tokio::test]
async fn kube_watcher_and_reflector_work_unchanged() {
    let (s, c) = server();
    namespace(&c, "n").await;
    let api: Api<ConfigMap> = Api::namespaced(c.clone(), "n");
    api.create(&PostParams::default(), &cm("pre", json!({}), json!({}))).await.unwrap();
    for cfg in [watcher::Config::default(), watcher::Config::default().streaming_lists()] {
        let (reader, writer) = kube::runtime::reflector::store();
        let stream =
            kube::runtime::reflector(writer, watcher::watcher(api.clone(), cfg)).applied_objects();
        let task = tokio::spawn(stream.for_each(|_| async {}));
        tokio::time::timeout(Duration::from_secs(5), reader.wait_until_ready())
            .await
            .unwrap()
            .unwrap();
        assert!(reader.state().iter().any(|o| o.metadata.name.as_deref() == Some("pre")));
        let name = format!("new{}", reader.state().len());
        api.create(&PostParams::default(), &cm(&name, json!({}), json!({}))).await.unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
        while !reader.state().iter().any(|o| o.metadata.name.as_deref() == Some(name.as_str())) {
            assert!(tokio::time::Instant::now() < deadline, "reflector saw the new object");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // a dropped watch is resumed transparently
        s.close_watches();
        api.create(&PostParams::default(), &cm(&format!("{name}x"), json!({}), json!({})))
            .await
            .unwrap();
        let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
        while !reader
            .state()
            .iter()
            .any(|o| o.metadata.name.as_deref() == Some(format!("{name}x").as_str()))
        {
            assert!(
                tokio::time::Instant::now() < deadline,
                "reflector recovered after a dropped watch"
            );
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
        task.abort();
    }
    let _events: Vec<Event<ConfigMap>> = Vec::new();
}

#[tokio::test]
async fn controller_and_finalizer_helper_work_unchanged() {
    use kube::runtime::controller::{Action, Controller};
    use kube::runtime::finalizer::{Event as Fin, finalizer};
    use std::sync::Arc;
    use std::sync::atomic::{AtomicUsize, Ordering};

    let (_s, c) = server();
    namespace(&c, "n").await;
    let api: Api<ConfigMap> = Api::namespaced(c.clone(), "n");
    let cleanups = Arc::new(AtomicUsize::new(0));
    let ctx = Arc::new((api.clone(), cleanups.clone()));
    let controller = Controller::new(api.clone(), watcher::Config::default())
        .run(
            |obj: Arc<ConfigMap>, ctx: Arc<(Api<ConfigMap>, Arc<AtomicUsize>)>| async move {
                finalizer(&ctx.0, "example.com/cleanup", obj, |event| async {
                    match event {
                        Fin::Apply(o) => {
                            ctx.0
                                .patch(
                                    &o.metadata.name.clone().unwrap(),
                                    &PatchParams::default(),
                                    &Patch::Merge(json!({"data": {"seen": "yes"}})),
                                )
                                .await?;
                            Ok::<_, kube::Error>(Action::await_change())
                        }
                        Fin::Cleanup(_) => {
                            ctx.1.fetch_add(1, Ordering::SeqCst);
                            Ok(Action::await_change())
                        }
                    }
                })
                .await
            },
            |_obj, _err, _ctx| Action::requeue(Duration::from_millis(100)),
            ctx,
        )
        .for_each(|_| async {});
    let task = tokio::spawn(controller);
    api.create(&PostParams::default(), &cm("x", json!({}), json!({}))).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    loop {
        let o = api.get("x").await.unwrap();
        if o.data.as_ref().is_some_and(|d| d.get("seen").is_some())
            && o.metadata.finalizers.is_some()
        {
            break;
        }
        assert!(tokio::time::Instant::now() < deadline, "reconciled with the finalizer added");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    api.delete("x", &DeleteParams::default()).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(10);
    while api.get_opt("x").await.unwrap().is_some() {
        assert!(tokio::time::Instant::now() < deadline, "finalizer ran and was removed");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    assert_eq!(cleanups.load(Ordering::SeqCst), 1);
    task.abort();
}

#[tokio::test]
async fn custom_resources_from_our_crds_get_defaults_and_validation() {
    let (s, c) = server();
    for crd in api::schema::crds() {
        s.register_crd(serde_json::to_value(crd).unwrap()).unwrap();
    }
    let api: Api<api::Config> = Api::all(c.clone());
    let config: api::Config = serde_json::from_value(json!({
        "apiVersion": "imageregistry.operator.openshift.io/v1", "kind": "Config",
        "metadata": {"name": "cluster"}, "spec": {"replicas": 1, "storage": {"azure": {}}, "unknownField": 1}
    }))
    .unwrap();
    let created = api.create(&PostParams::default(), &config).await.unwrap();
    assert_eq!(created.spec.log_level, api::LogLevel::Normal);
    let raw: Api<kube::api::DynamicObject> = Api::all_with(
        c.clone(),
        &kube::api::ApiResource {
            group: "imageregistry.operator.openshift.io".into(),
            version: "v1".into(),
            api_version: "imageregistry.operator.openshift.io/v1".into(),
            kind: "Config".into(),
            plural: "configs".into(),
        },
    );
    let stored = raw.get("cluster").await.unwrap();
    assert_eq!(stored.data["spec"]["logLevel"], "Normal", "defaulted");
    assert_eq!(
        stored.data["spec"]["storage"]["azure"]["networkAccess"]["type"], "External",
        "nested default"
    );
    assert!(stored.data["spec"].get("unknownField").is_none(), "pruned");
    let (code, reason, msg) = api_err(
        raw.patch(
            "cluster",
            &PatchParams::default(),
            &Patch::Merge(json!({"spec": {"logLevel": "Loud"}})),
        )
        .await
        .unwrap_err(),
    );
    assert_eq!((code, reason.as_str()), (422, "Invalid"));
    assert!(msg.contains("spec.logLevel"), "{msg}");
    let with_status = api
        .patch_status(
            "cluster",
            &PatchParams::default(),
            &Patch::Merge(json!({"status": {"storageManaged": true, "storage": {}}})),
        )
        .await
        .unwrap();
    assert_eq!(with_status.metadata.generation, Some(1));
    assert!(with_status.status.unwrap().storage_managed);
}

#[tokio::test]
async fn openshift_crds_from_shared_register() {
    let Some(dir) =
        imageregistry_testkit::shared_dir_or_skip("openshift_crds_from_shared_register")
    else {
        return;
    };
    let (s, c) = server();
    assert_eq!(s.register_crds_from_dir(&dir.join("crds")).unwrap(), 10);
    let infra: Api<api::Infrastructure> = Api::all(c.clone());
    let created = infra.create(&PostParams::default(), &serde_json::from_value(json!({
        "apiVersion": "config.openshift.io/v1", "kind": "Infrastructure", "metadata": {"name": "cluster"}, "spec": {}
    })).unwrap()).await.unwrap();
    assert_eq!(created.metadata.name.as_deref(), Some("cluster"));
    let routes: Api<api::Route> = Api::namespaced(c.clone(), "default");
    let r = routes
        .create(
            &PostParams::default(),
            &serde_json::from_value(json!({
                "apiVersion": "route.openshift.io/v1", "kind": "Route", "metadata": {"name": "r"},
                "spec": {"to": {"kind": "Service", "name": "s"}}
            }))
            .unwrap(),
        )
        .await
        .unwrap();
    assert_eq!(r.spec.to.weight, Some(100), "defaulted from the Route CRD");
}

#[tokio::test]
async fn faults_latency_conflicts_and_request_log() {
    let (s, c) = server();
    namespace(&c, "n").await;
    let api: Api<ConfigMap> = Api::namespaced(c.clone(), "n");
    api.create(&PostParams::default(), &cm("a", json!({}), json!({}))).await.unwrap();
    s.inject(FaultRule {
        verb: Some("get".into()),
        resource: Some("configmaps".into()),
        rate: 1.0,
        status: 503,
        retry_after: None,
    });
    let e = api.get("a").await.unwrap_err();
    assert!(matches!(&e, Error::Api(st) if st.code == 503), "{e}");
    s.clear_faults();
    s.inject(FaultRule {
        verb: Some("list".into()),
        resource: None,
        rate: 0.5,
        status: 500,
        retry_after: None,
    });
    let mut failures = 0;
    for _ in 0..40 {
        if api.list(&ListParams::default()).await.is_err() {
            failures += 1;
        }
    }
    assert!((8..=32).contains(&failures), "about half fail: {failures}");
    s.clear_faults();
    s.conflict_next_writes(2);
    let p = PatchParams::default();
    for _ in 0..2 {
        assert_eq!(
            api_err(
                api.patch("a", &p, &Patch::Merge(json!({"data": {"a": "1"}}))).await.unwrap_err()
            )
            .0,
            409
        );
    }
    api.patch("a", &p, &Patch::Merge(json!({"data": {"a": "1"}}))).await.unwrap();
    s.set_latency(Duration::from_millis(100));
    let t = std::time::Instant::now();
    api.get("a").await.unwrap();
    assert!(t.elapsed() >= Duration::from_millis(100));
    s.clear_faults();

    s.clear_requests();
    api.get("a").await.unwrap();
    api.patch("a", &p, &Patch::Merge(json!({"data": {"b": "2"}}))).await.unwrap();
    let log = s.requests();
    assert_eq!(log.len(), 2);
    assert_eq!(
        (log[0].verb.as_str(), log[0].resource.as_str(), log[0].status),
        ("get", "configmaps", 200)
    );
    assert!(log[1].is_write());
}

#[tokio::test]
async fn over_loopback_with_a_kubeconfig() {
    let s = ApiServer::default();
    let running = s.serve("127.0.0.1:0".parse().unwrap()).await.unwrap();
    let dir = imageregistry_testkit::ScratchDir::new("testkit-kubeconfig").unwrap();
    let path = dir.join("kubeconfig");
    std::fs::write(&path, kubeconfig(&running.url())).unwrap();
    let kc = kube::config::Kubeconfig::read_from(&path).unwrap();
    let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await.unwrap();
    let c = Client::try_from(cfg).unwrap();
    let api: Api<ConfigMap> = Api::default_namespaced(c.clone());
    api.create(&PostParams::default(), &cm("over-http", json!({}), json!({}))).await.unwrap();
    assert_eq!(api.list(&ListParams::default()).await.unwrap().items.len(), 1);
    let v = c.apiserver_version().await.unwrap();
    assert_eq!(v.major, "1");
    if let Some(kubectl) = kubectl() {
        kubectl_session(&kubectl, &path, &s).await;
    } else {
        eprintln!("over_loopback_with_a_kubeconfig: kubectl not found; kubectl checks skipped");
    }
    running.handle.abort();
}

fn kubectl() -> Option<std::path::PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| std::path::Path::new(d).join("kubectl"))
        .find(|p| p.is_file())
}

async fn kubectl_session(kubectl: &std::path::Path, kubeconfig: &std::path::Path, s: &ApiServer) {
    for crd in api::schema::crds() {
        s.register_crd(serde_json::to_value(crd).unwrap()).unwrap();
    }
    let run = |args: Vec<String>, stdin: Option<String>| {
        let kubectl = kubectl.to_path_buf();
        let kubeconfig = kubeconfig.to_path_buf();
        async move {
            tokio::task::spawn_blocking(move || {
                use std::io::Write;
                let mut cmd = std::process::Command::new(kubectl);
                cmd.arg("--kubeconfig").arg(&kubeconfig).args(&args);
                cmd.stdin(std::process::Stdio::piped())
                    .stdout(std::process::Stdio::piped())
                    .stderr(std::process::Stdio::piped());
                let mut child = cmd.spawn().unwrap();
                if let Some(input) = stdin {
                    child.stdin.take().unwrap().write_all(input.as_bytes()).unwrap();
                }
                let out = child.wait_with_output().unwrap();
                (
                    out.status.success(),
                    String::from_utf8_lossy(&out.stdout).into_owned(),
                    String::from_utf8_lossy(&out.stderr).into_owned(),
                )
            })
            .await
            .unwrap()
        }
    };
    let a = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<Vec<_>>();
    let config = "apiVersion: imageregistry.operator.openshift.io/v1\nkind: Config\nmetadata:\n  name: cluster\nspec:\n  replicas: 1\n  managementState: Removed\n";
    let (ok, out, err) = run(a(&["create", "-f", "-"]), Some(config.into())).await;
    assert!(
        ok,
        "kubectl create: {out} {err} {:#?}",
        s.requests().iter().filter(|r| r.path.contains("openapi")).collect::<Vec<_>>()
    );
    let (ok, out, err) = run(
        a(&["get", "configs.imageregistry.operator.openshift.io", "cluster", "-o", "json"]),
        None,
    )
    .await;
    assert!(ok, "kubectl get: {err}");
    let v: Value = serde_json::from_str(&out).unwrap();
    assert_eq!(v["spec"]["logLevel"], "Normal");
    let (ok, _, err) = run(
        a(&[
            "patch",
            "configs.imageregistry.operator.openshift.io",
            "cluster",
            "--type",
            "merge",
            "-p",
            r#"{"spec":{"managementState":"Managed"}}"#,
        ]),
        None,
    )
    .await;
    assert!(ok, "kubectl patch --type merge: {err}");
    let applied = config.replace("replicas: 1", "replicas: 2");
    let (ok, out, err) = run(a(&["apply", "-f", "-"]), Some(applied)).await;
    assert!(ok, "kubectl apply: {out} {err}");
    let (ok, out, _) = run(
        a(&[
            "get",
            "configs.imageregistry.operator.openshift.io",
            "cluster",
            "-o",
            "jsonpath={.spec.replicas}",
        ]),
        None,
    )
    .await;
    assert!(ok);
    assert_eq!(out.trim(), "2");
    let (ok, out, err) =
        run(a(&["get", "configs.imageregistry.operator.openshift.io"]), None).await;
    assert!(ok && out.contains("cluster"), "kubectl get (table): {out} {err}");
    let (ok, _, err) =
        run(a(&["delete", "configs.imageregistry.operator.openshift.io", "cluster"]), None).await;
    assert!(ok, "kubectl delete: {err}");
    let (ok, _, _) =
        run(a(&["get", "configs.imageregistry.operator.openshift.io", "cluster"]), None).await;
    assert!(!ok, "gone");
}

#[tokio::test]
async fn workload_simulator() {
    use imageregistry_testkit::apiserver::simulator::{Behaviour, Simulation};
    use k8s_openapi::api::apps::v1::DaemonSet;
    let (s, c) = server();
    namespace(&c, "n").await;
    let sim = s.simulate_workloads(Simulation {
        delay: Duration::from_millis(50),
        default: Behaviour::Available,
        nodes: 2,
        pods: true,
    });
    sim.set("Deployment", "n", "stuck", Behaviour::Unavailable);
    sim.set("Deployment", "n", "late", Behaviour::ProgressDeadlineExceeded);
    let api: Api<Deployment> = Api::namespaced(c.clone(), "n");
    for name in ["ok", "stuck", "late"] {
        api.create(&PostParams::default(), &deployment(name, 2)).await.unwrap();
    }
    let observed = |name: &'static str| {
        let api = api.clone();
        async move {
            let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
            loop {
                let d = api.get(name).await.unwrap();
                if let Some(st) =
                    d.status.clone().filter(|st| st.observed_generation == d.metadata.generation)
                {
                    return st;
                }
                assert!(tokio::time::Instant::now() < deadline, "{name} observed");
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
        }
    };
    let ok = observed("ok").await;
    assert_eq!(
        (ok.replicas, ok.updated_replicas, ok.ready_replicas, ok.available_replicas),
        (Some(2), Some(2), Some(2), Some(2))
    );
    let conds = ok.conditions.unwrap();
    assert!(conds.iter().any(|c| c.type_ == "Progressing"
        && c.status == "True"
        && c.reason.as_deref() == Some("NewReplicaSetAvailable")));
    assert!(conds.iter().any(|c| c.type_ == "Available" && c.status == "True"));
    let stuck = observed("stuck").await;
    assert_eq!(stuck.available_replicas, Some(0));
    let late = observed("late").await;
    let p = late.conditions.unwrap().into_iter().find(|c| c.type_ == "Progressing").unwrap();
    assert_eq!(
        (p.status.as_str(), p.reason.as_deref()),
        ("False", Some("ProgressDeadlineExceeded"))
    );
    // a spec change is observed again
    api.patch("ok", &PatchParams::default(), &Patch::Merge(json!({"spec": {"replicas": 3}})))
        .await
        .unwrap();
    let ok = observed("ok").await;
    assert_eq!(ok.available_replicas, Some(3));

    let ds_api: Api<DaemonSet> = Api::namespaced(c.clone(), "n");
    ds_api.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "ds"}, "spec": {
        "selector": {"matchLabels": {"a": "b"}}, "template": {"metadata": {"labels": {"a": "b"}}, "spec": {"containers": [{"name": "c", "image": "i"}]}}}})).unwrap()).await.unwrap();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(5);
    loop {
        if let Some(st) =
            ds_api.get("ds").await.unwrap().status.filter(|s| s.observed_generation == Some(1))
        {
            assert_eq!(
                (st.desired_number_scheduled, st.number_available, st.updated_number_scheduled),
                (2, Some(2), Some(2))
            );
            break;
        }
        assert!(tokio::time::Instant::now() < deadline);
        tokio::time::sleep(Duration::from_millis(10)).await;
    }

    let cj_api: Api<k8s_openapi::api::batch::v1::CronJob> = Api::namespaced(c.clone(), "n");
    cj_api.create(&PostParams::default(), &serde_json::from_value(json!({"metadata": {"name": "image-pruner"}, "spec": {
        "schedule": "0 0 * * *", "jobTemplate": {"metadata": {"labels": {"created-by": "image-pruner"}},
        "spec": {"template": {"spec": {"restartPolicy": "Never", "containers": [{"name": "c", "image": "i"}]}}}}}})).unwrap()).await.unwrap();
    let failed = s.run_cron_job("n", "image-pruner", false).unwrap();
    let jobs: Api<k8s_openapi::api::batch::v1::Job> = Api::namespaced(c.clone(), "n");
    let job = jobs.get(&failed).await.unwrap();
    assert_eq!(job.metadata.labels.unwrap()["created-by"], "image-pruner");
    assert_eq!(job.status.unwrap().conditions.unwrap()[0].type_, "Failed");
    let listed = jobs.list(&ListParams::default().labels("created-by=image-pruner")).await.unwrap();
    assert_eq!(listed.items.len(), 1);
    cj_api.delete("image-pruner", &DeleteParams::background()).await.unwrap();
    assert!(
        jobs.list(&ListParams::default()).await.unwrap().items.is_empty(),
        "jobs go with their CronJob"
    );
}

#[tokio::test]
async fn unknown_resources_and_retry_after() {
    let (s, c) = server();
    let unknown: Api<kube::api::DynamicObject> = Api::all_with(
        c.clone(),
        &kube::api::ApiResource {
            group: "example.com".into(),
            version: "v1".into(),
            api_version: "example.com/v1".into(),
            kind: "Thing".into(),
            plural: "things".into(),
        },
    );
    let (code, reason, _) = api_err(unknown.list(&ListParams::default()).await.unwrap_err());
    assert_eq!((code, reason.as_str()), (404, "NotFound"));
    s.inject(FaultRule {
        verb: Some("list".into()),
        resource: Some("namespaces".into()),
        rate: 1.0,
        status: 429,
        retry_after: Some(1),
    });
    let router = s.router();
    use tower::ServiceExt;
    let resp = router
        .oneshot(http::Request::get("/api/v1/namespaces").body(axum::body::Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(resp.status().as_u16(), 429);
    assert_eq!(resp.headers()["retry-after"], "1");
}

/// A CRD sent as protobuf (as a typed client-go clientset may send it) is stored as the same
/// CRD sent as JSON, and its kind is served.
#[tokio::test]
async fn a_crd_sent_as_protobuf_is_stored_as_its_json() {
    use k8s_pb::apiextensions_apiserver::pkg::apis::apiextensions::v1 as ext;
    use prost::Message as _;
    let (_s, c) = server();
    let json_of = |raw: &str| ext::Json { raw: Some(raw.as_bytes().to_vec()) };
    let props = |p: &[(&str, ext::JsonSchemaProps)]| {
        p.iter().map(|(k, v)| (k.to_string(), v.clone())).collect()
    };
    let string = ext::JsonSchemaProps { r#type: Some("string".into()), ..Default::default() };
    let spec = ext::JsonSchemaProps {
        r#type: Some("object".into()),
        description: Some(String::new()),
        nullable: Some(false),
        properties: props(&[
            (
                "mode",
                ext::JsonSchemaProps {
                    r#enum: vec![json_of("\"Managed\""), json_of("\"Removed\"")],
                    default: Some(json_of("\"Managed\"")),
                    ..string.clone()
                },
            ),
            (
                "tags",
                ext::JsonSchemaProps {
                    r#type: Some("array".into()),
                    items: Some(Box::new(ext::JsonSchemaPropsOrArray {
                        schema: Some(Box::new(string.clone())),
                        j_son_schemas: vec![],
                    })),
                    x_kubernetes_list_type: Some("set".into()),
                    ..Default::default()
                },
            ),
            (
                "labels",
                ext::JsonSchemaProps {
                    r#type: Some("object".into()),
                    additional_properties: Some(Box::new(ext::JsonSchemaPropsOrBool {
                        allows: Some(true),
                        schema: Some(Box::new(string.clone())),
                    })),
                    ..Default::default()
                },
            ),
        ]),
        x_kubernetes_validations: vec![ext::ValidationRule {
            rule: Some("self.mode != 'Removed' || size(self.tags) == 0".into()),
            message: Some("no tags when removed".into()),
            ..Default::default()
        }],
        ..Default::default()
    };
    let root = ext::JsonSchemaProps {
        r#type: Some("object".into()),
        properties: props(&[("spec", spec)]),
        ..Default::default()
    };
    let crd = |group: &str| ext::CustomResourceDefinition {
        metadata: Some(k8s_pb::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some(format!("things.{group}")),
            ..Default::default()
        }),
        spec: Some(ext::CustomResourceDefinitionSpec {
            group: Some(group.into()),
            names: Some(ext::CustomResourceDefinitionNames {
                plural: Some("things".into()),
                kind: Some("Thing".into()),
                singular: Some(String::new()),
                list_kind: Some(String::new()),
                ..Default::default()
            }),
            scope: Some("Cluster".into()),
            versions: vec![ext::CustomResourceDefinitionVersion {
                name: Some("v1".into()),
                served: Some(true),
                storage: Some(true),
                deprecated: Some(false),
                schema: Some(ext::CustomResourceValidation {
                    open_apiv3_schema: Some(root.clone()),
                }),
                ..Default::default()
            }],
            preserve_unknown_fields: Some(false),
            ..Default::default()
        }),
        status: None,
    };
    let body = imageregistry_testkit::apiserver::protobuf::envelope(
        "apiextensions.k8s.io/v1",
        "CustomResourceDefinition",
        crd("pb.example.com").encode_to_vec(),
    );
    let req = http::Request::post("/apis/apiextensions.k8s.io/v1/customresourcedefinitions")
        .header("content-type", imageregistry_testkit::apiserver::protobuf::MEDIA_TYPE)
        .body(body)
        .unwrap();
    let created: Value = serde_json::from_str(&c.request_text(req).await.unwrap()).unwrap();
    assert_eq!(created["metadata"]["name"], "things.pb.example.com", "{created}");
    // The same CRD as JSON, as Go writes it.
    let schema = json!({"type": "object", "properties": {"spec": {
        "type": "object",
        "properties": {
            "mode": {"type": "string", "enum": ["Managed", "Removed"], "default": "Managed"},
            "tags": {"type": "array", "items": {"type": "string"}, "x-kubernetes-list-type": "set"},
            "labels": {"type": "object", "additionalProperties": {"type": "string"}},
        },
        "x-kubernetes-validations": [
            {"rule": "self.mode != 'Removed' || size(self.tags) == 0", "message": "no tags when removed"}
        ],
    }}});
    let crds: Api<k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition> =
        Api::all(c.clone());
    let stored = serde_json::to_value(crds.get("things.pb.example.com").await.unwrap()).unwrap();
    assert_eq!(stored["spec"]["versions"][0]["schema"]["openAPIV3Schema"], schema);
    assert_eq!(stored["spec"]["names"]["plural"], "things");
    assert!(stored["spec"]["names"].get("listKind").is_some_and(|k| k == "ThingList"), "{stored}");
    // Its kind is served, with its default and its rule.
    let gvk = kube::api::GroupVersionKind::gvk("pb.example.com", "v1", "Thing");
    let ar = kube::api::ApiResource::from_gvk_with_plural(&gvk, "things");
    let mut things: Api<kube::api::DynamicObject> = Api::all_with(c.clone(), &ar);
    for _ in 0..50 {
        let probe = things.list(&ListParams::default()).await;
        if probe.is_ok() {
            break;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
        things = Api::all_with(c.clone(), &ar);
    }
    let thing: kube::api::DynamicObject = serde_json::from_value(
        json!({"apiVersion": "pb.example.com/v1", "kind": "Thing", "metadata": {"name": "a"}, "spec": {}}),
    )
    .unwrap();
    let made = things.create(&PostParams::default(), &thing).await.unwrap();
    assert_eq!(made.data["spec"]["mode"], "Managed");
    let bad: kube::api::DynamicObject =
        serde_json::from_value(json!({"apiVersion": "pb.example.com/v1",
        "kind": "Thing", "metadata": {"name": "b"}, "spec": {"mode": "Removed", "tags": ["x"]}}))
        .unwrap();
    let (code, _, msg) = api_err(things.create(&PostParams::default(), &bad).await.unwrap_err());
    assert!(code == 422 && msg.contains("no tags when removed"), "{msg}");
}
