//! The only writer of workload objects: creates what is missing, updates what differs from
//! the desired state (reverting drift on every field the operator sets), deletes what it
//! owns and no longer wants, and sends no write when nothing differs.
//!
//! Updates are three-way JSON merge patches, as `kubectl apply` computes them: every field
//! of the desired object whose live value differs, and `null` for each field the operator
//! set at its last write (recorded on the object, see [`APPLIED_FIELDS`]) and no longer
//! wants. Fields owned by others (never in the record) stay; lists the operator sets (env,
//! volumes, ports, rules, tolerations) are replaced whole, which reverts an added or
//! changed item.

use base64::Engine;
use kube::Client;
use kube::api::{Api, ApiResource, DeleteParams, DynamicObject, Patch, PatchParams, PostParams};
use render::Object;
use render::registry::ObjectRef;
use serde_json::Value;

/// Field manager and user agent of every write.
pub const FIELD_MANAGER: &str = "cluster-image-registry-operator";

/// The annotation recording which fields the operator set at its last write: the shape of
/// what it wrote (maps with `true` at every value), so that it can remove a field it set
/// and no longer wants, and never one someone else set. Values are not recorded, so no
/// secret data is copied into an annotation.
pub const APPLIED_FIELDS: &str = "imageregistry.operator.openshift.io/applied-fields";

/// The shape of a value: objects with `true` for every value that is not an object.
fn shape(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(m.iter().map(|(k, v)| (k.clone(), shape(v))).collect()),
        _ => Value::Bool(true),
    }
}

/// The merge patch that gives `live` every field of `desired`, and removes each field
/// that `last` (the shape of the previous write) has and `desired` no longer has. Empty
/// when `live` is already as desired.
pub fn three_way(last: &Value, desired: &Value, live: &Value) -> serde_json::Map<String, Value> {
    let mut patch = serde_json::Map::new();
    let (Some(d), Some(l)) = (desired.as_object(), live.as_object()) else { return patch };
    let none = Value::Null;
    for (k, dv) in d {
        match l.get(k) {
            Some(lv) if lv.is_object() && dv.is_object() => {
                let sub = three_way(last.get(k).unwrap_or(&none), dv, lv);
                if !sub.is_empty() {
                    patch.insert(k.clone(), Value::Object(sub));
                }
            }
            Some(lv) if contains(lv, dv) => {}
            None if contains(&Value::Object(Default::default()), &serde_json::json!({ k: dv })) => {
            }
            _ => {
                patch.insert(k.clone(), dv.clone());
            }
        }
    }
    for k in last.as_object().into_iter().flat_map(|m| m.keys()) {
        if !d.contains_key(k) && l.get(k).is_some_and(|v| !v.is_null()) {
            patch.insert(k.clone(), Value::Null);
        }
    }
    patch
}

/// The recorded shape of the operator's last write to `live` (empty when none).
fn last_applied(live: &Value) -> Value {
    live.pointer("/metadata/annotations")
        .and_then(|a| a.get(APPLIED_FIELDS))
        .and_then(Value::as_str)
        .and_then(|s| serde_json::from_str(s).ok())
        .unwrap_or(Value::Null)
}

/// `want` with the record of its own shape in [`APPLIED_FIELDS`].
fn with_record(mut want: Value) -> Value {
    let record = shape(&want).to_string();
    if let Some(meta) = want
        .as_object_mut()
        .map(|o| o.entry("metadata").or_insert_with(|| Value::Object(Default::default())))
        && let Some(m) = meta.as_object_mut()
    {
        let a = m.entry("annotations").or_insert_with(|| Value::Object(Default::default()));
        if let Some(a) = a.as_object_mut() {
            a.insert(APPLIED_FIELDS.into(), Value::String(record));
        }
    }
    want
}

/// What an apply did.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    Created,
    Updated,
    Unchanged,
}

/// The plural resource name of a kind the operator writes.
pub fn plural(kind: &str) -> Option<&'static str> {
    Some(match kind {
        "Config" => "configs",
        "ImagePruner" => "imagepruners",
        "ClusterRole" => "clusterroles",
        "ClusterRoleBinding" => "clusterrolebindings",
        "ServiceAccount" => "serviceaccounts",
        "Secret" => "secrets",
        "ConfigMap" => "configmaps",
        "Service" => "services",
        "Deployment" => "deployments",
        "DaemonSet" => "daemonsets",
        "CronJob" => "cronjobs",
        "Job" => "jobs",
        "PodDisruptionBudget" => "poddisruptionbudgets",
        "NetworkPolicy" => "networkpolicies",
        "Route" => "routes",
        "Ingress" => "ingresses",
        "Certificate" => "certificates",
        "Issuer" => "issuers",
        "PersistentVolumeClaim" => "persistentvolumeclaims",
        _ => return None,
    })
}

/// The API group/version of a kind the operator deletes by reference.
fn api_version(kind: &str) -> &'static str {
    match kind {
        "ClusterRole" | "ClusterRoleBinding" => "rbac.authorization.k8s.io/v1",
        "Deployment" | "DaemonSet" => "apps/v1",
        "CronJob" | "Job" => "batch/v1",
        "PodDisruptionBudget" => "policy/v1",
        "NetworkPolicy" | "Ingress" => "networking.k8s.io/v1",
        "Route" => "route.openshift.io/v1",
        "Certificate" | "Issuer" => "cert-manager.io/v1",
        _ => "v1",
    }
}

fn resource(api_version: &str, kind: &str) -> ApiResource {
    let (group, version) = api_version.split_once('/').unwrap_or(("", api_version));
    ApiResource {
        group: group.to_string(),
        version: version.to_string(),
        api_version: api_version.to_string(),
        kind: kind.to_string(),
        plural: plural(kind).unwrap_or("").to_string(),
    }
}

fn dynamic_api(
    client: &Client,
    api_version: &str,
    kind: &str,
    namespace: Option<&str>,
) -> Api<DynamicObject> {
    let r = resource(api_version, kind);
    match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, &r),
        None => Api::all_with(client.clone(), &r),
    }
}

/// `live` has every field of `desired` with the same value (numbers compared as numbers;
/// lists item by item and of the same length).
pub fn contains(live: &Value, desired: &Value) -> bool {
    match (live, desired) {
        (Value::Object(l), Value::Object(d)) => d.iter().all(|(k, v)| match l.get(k) {
            Some(lv) => contains(lv, v),
            None => {
                v.is_null()
                    || v.as_object().is_some_and(|o| o.is_empty())
                    || v.as_array().is_some_and(|a| a.is_empty())
            }
        }),
        (Value::Array(l), Value::Array(d)) => {
            l.len() == d.len() && l.iter().zip(d).all(|(a, b)| contains(a, b))
        }
        (Value::Number(a), Value::Number(b)) => a.as_f64() == b.as_f64(),
        _ => live == desired,
    }
}

/// The JSON merge patch (RFC 7386) that turns `old` into `new`: changed and added fields,
/// and `null` for removed ones, so that a patch built from two versions of a status or
/// spec also clears what went away.
pub fn merge_diff(old: &Value, new: &Value) -> Value {
    match (old, new) {
        (Value::Object(o), Value::Object(n)) => {
            let mut patch = serde_json::Map::new();
            for (k, v) in n {
                match o.get(k) {
                    Some(ov) if ov == v => {}
                    Some(ov) if ov.is_object() && v.is_object() => {
                        patch.insert(k.clone(), merge_diff(ov, v));
                    }
                    _ => {
                        patch.insert(k.clone(), v.clone());
                    }
                }
            }
            for k in o.keys() {
                if !n.contains_key(k) {
                    patch.insert(k.clone(), Value::Null);
                }
            }
            Value::Object(patch)
        }
        _ => new.clone(),
    }
}

/// A Secret's `stringData` as `data`, the way the API server stores it, so that it can be
/// compared with the live object.
fn normalize(mut v: Value) -> Value {
    if v.get("kind").and_then(Value::as_str) == Some("Secret")
        && let Some(string_data) = v.as_object_mut().and_then(|o| o.remove("stringData"))
    {
        let data = v
            .as_object_mut()
            .expect("object")
            .entry("data")
            .or_insert_with(|| Value::Object(Default::default()));
        if let (Some(data), Some(sd)) = (data.as_object_mut(), string_data.as_object()) {
            for (k, val) in sd {
                let text = val.as_str().unwrap_or("");
                data.insert(
                    k.clone(),
                    Value::String(base64::engine::general_purpose::STANDARD.encode(text)),
                );
            }
        }
    }
    v
}

/// The part of an object that is compared and written: everything but status, and of the
/// metadata only labels and annotations (and finalizers, where the operator sets them).
fn comparable(v: &Value) -> Value {
    let mut out = v.clone();
    if let Some(o) = out.as_object_mut() {
        o.remove("status");
        if let Some(meta) = o.get_mut("metadata").and_then(Value::as_object_mut) {
            meta.retain(|k, _| matches!(k.as_str(), "labels" | "annotations" | "finalizers"));
        }
    }
    out
}

/// Writes objects through one client.
#[derive(Clone)]
pub struct Applier {
    client: Client,
    cache: Option<crate::cache::Cache>,
}

impl Applier {
    pub fn new(client: Client) -> Self {
        Applier { client, cache: None }
    }

    /// Compares with what the watches have seen instead of reading each object first.
    pub fn with_cache(mut self, cache: crate::cache::Cache) -> Self {
        self.cache = Some(cache);
        self
    }

    /// Makes `obj` exist as desired.
    pub async fn apply(&self, obj: &Object) -> Result<Outcome, kube::Error> {
        let desired = normalize(obj.to_value());
        let meta = obj.meta();
        let name = meta.name.clone().unwrap_or_default();
        let av = desired.get("apiVersion").and_then(Value::as_str).unwrap_or("v1").to_string();
        let api = dynamic_api(&self.client, &av, obj.kind(), meta.namespace.as_deref());
        let pp =
            PostParams { field_manager: Some(FIELD_MANAGER.to_string()), ..Default::default() };
        let url = api.resource_url().to_string();
        // What the watch has seen when it has listed this resource, else a read.
        let cached = self.cache.as_ref().and_then(|c| c.get(&url, &name));
        let from_cache = cached.is_some();
        let live = match cached {
            Some(live) => live,
            None => self.read(&api, &name).await?.map(std::sync::Arc::new),
        };
        let want = with_record(comparable(&desired));
        let live = match live {
            Some(live) => live,
            None => {
                let mut body = desired.clone();
                body["metadata"]["annotations"] = want["metadata"]["annotations"].clone();
                let body: DynamicObject =
                    serde_json::from_value(body).map_err(kube::Error::SerdeError)?;
                match api.create(&pp, &body).await {
                    Ok(created) => {
                        self.remember(&url, &created, None);
                        return Ok(Outcome::Created);
                    }
                    // The watch had not yet seen it: compare with the object itself.
                    Err(kube::Error::Api(e)) if e.code == 409 && from_cache => {
                        match self.read(&api, &name).await? {
                            Some(live) => std::sync::Arc::new(live),
                            None => return Err(kube::Error::Api(e)),
                        }
                    }
                    Err(e) => return Err(e),
                }
            }
        };
        match self.update(&api, &name, &want, &live).await {
            // The copy was older than the object: compare with the object itself, once.
            Err(kube::Error::Api(e)) if e.code == 409 && from_cache => {
                match self.read(&api, &name).await? {
                    Some(live) => self.update(&api, &name, &want, &live).await,
                    None => Err(kube::Error::Api(e)),
                }
            }
            other => other,
        }
    }

    /// Patches `live` into `want`, on the condition that it is still the version compared
    /// with: a copy the watch made stale cannot turn into a write that changes nothing and
    /// returns another writer's version (whose event would then pass for the own echo).
    async fn update(
        &self,
        api: &Api<DynamicObject>,
        name: &str,
        want: &Value,
        live: &Value,
    ) -> Result<Outcome, kube::Error> {
        let mut patch = three_way(&last_applied(live), want, live);
        if patch.is_empty() {
            return Ok(Outcome::Unchanged);
        }
        let base = live.pointer("/metadata/resourceVersion").cloned();
        if let Some(rv) = &base {
            let meta = patch.entry("metadata").or_insert_with(|| Value::Object(Default::default()));
            if let Some(meta) = meta.as_object_mut() {
                meta.insert("resourceVersion".into(), rv.clone());
            }
        }
        let params =
            PatchParams { field_manager: Some(FIELD_MANAGER.to_string()), ..Default::default() };
        let patched = api.patch(name, &params, &Patch::Merge(&Value::Object(patch))).await?;
        let base = base.as_ref().and_then(Value::as_str);
        if patched.metadata.resource_version.as_deref() == base {
            // The server held it already (a difference only in how it is written).
            return Ok(Outcome::Unchanged);
        }
        self.remember(api.resource_url(), &patched, base);
        Ok(Outcome::Updated)
    }

    async fn read(
        &self,
        api: &Api<DynamicObject>,
        name: &str,
    ) -> Result<Option<Value>, kube::Error> {
        match api.get_opt(name).await? {
            Some(o) => serde_json::to_value(&o).map(Some).map_err(kube::Error::SerdeError),
            None => Ok(None),
        }
    }

    /// What a write returned goes into the cache at once, so that a pass that runs before
    /// the watch reports the write does not write the same again.
    fn remember(&self, url: &str, obj: &DynamicObject, base: Option<&str>) {
        if let Some(cache) = &self.cache
            && let Ok(v) = serde_json::to_value(obj)
        {
            cache.wrote(url, v, base);
        }
    }

    /// Deletes an object (foreground, like the reference); `false` when it was not there.
    pub async fn delete(&self, r: &ObjectRef) -> Result<bool, kube::Error> {
        let api = dynamic_api(&self.client, api_version(r.kind), r.kind, r.namespace);
        // What the watch shows absent, or already being deleted, needs no request.
        if let Some(cache) = &self.cache {
            match cache.get(api.resource_url(), &r.name) {
                Some(None) => return Ok(false),
                Some(Some(o)) if o.pointer("/metadata/deletionTimestamp").is_some() => {
                    return Ok(false);
                }
                _ => {}
            }
        }
        let deleted = api.delete(&r.name, &DeleteParams::foreground()).await;
        let gone = match &deleted {
            Ok(_) => true,
            Err(kube::Error::Api(s)) => s.code == 404,
            Err(_) => false,
        };
        // Gone or going (foreground): no pass should act on the old copy.
        if gone && let Some(cache) = &self.cache {
            cache.remove(api.resource_url(), &serde_json::json!({"metadata": {"name": r.name}}));
        }
        match deleted {
            Ok(_) => Ok(true),
            Err(kube::Error::Api(s)) if s.code == 404 => Ok(false),
            Err(e) => Err(e),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn containment() {
        let live = json!({"metadata": {"labels": {"a": "1", "other": "x"}, "uid": "u"},
            "spec": {"replicas": 2, "template": {"env": [{"name": "A", "value": "1"}], "dnsPolicy": "ClusterFirst"}}});
        assert!(contains(
            &live,
            &json!({"metadata": {"labels": {"a": "1"}}, "spec": {"replicas": 2.0}})
        ));
        assert!(contains(&live, &json!({"spec": {"template": {"env": [{"name": "A"}]}}})));
        assert!(
            !contains(
                &live,
                &json!({"spec": {"template": {"env": [{"name": "A"}, {"name": "B"}]}}})
            ),
            "an extra list item differs"
        );
        assert!(!contains(&live, &json!({"spec": {"replicas": 3}})));
        assert!(!contains(&live, &json!({"metadata": {"annotations": {"k": "v"}}})));
        assert!(
            contains(&live, &json!({"spec": {"volumes": []}})),
            "an empty list is as good as none"
        );
        let user_added = json!({"spec": {"template": {"env": [{"name": "A", "value": "1"}, {"name": "USER", "value": "x"}]}}});
        assert!(
            !contains(
                &user_added,
                &json!({"spec": {"template": {"env": [{"name": "A", "value": "1"}]}}})
            ),
            "drift in a list we own"
        );
    }

    #[test]
    fn merge_diffs() {
        let old = json!({"a": 1, "b": {"c": 2, "d": 3}, "e": [1], "gone": {"x": 1}});
        let new = json!({"a": 1, "b": {"c": 5}, "e": [1, 2], "f": "new"});
        let patch = merge_diff(&old, &new);
        assert_eq!(patch, json!({"b": {"c": 5, "d": null}, "e": [1, 2], "f": "new", "gone": null}));
        let mut applied = old.clone();
        testkit::apiserver::patch::merge(&mut applied, &patch);
        assert_eq!(applied, new, "applying the diff gives the new value");
        assert_eq!(merge_diff(&new, &new), json!({}));
    }

    #[test]
    fn three_way_patches_remove_only_what_the_operator_set() {
        let last = shape(&json!({"metadata": {"annotations": {"ours": "1", "gone": "x"}},
            "spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
                "template": {"spec": {"topologySpreadConstraints": [{}], "nodeSelector": {"a": "b"}}}}}));
        let desired = json!({"metadata": {"annotations": {"ours": "1"}},
            "spec": {"strategy": {"type": "Recreate"},
                "template": {"spec": {"nodeSelector": {"infra": ""}}}}});
        let live = json!({"metadata": {"annotations": {"ours": "1", "gone": "x", "theirs": "y"}},
            "spec": {"strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": 1}},
                "paused": false,
                "template": {"spec": {"topologySpreadConstraints": [{}], "nodeSelector": {"a": "b"}, "dnsPolicy": "ClusterFirst"}}}});
        let patch = Value::Object(three_way(&last, &desired, &live));
        assert_eq!(
            patch,
            json!({"metadata": {"annotations": {"gone": null}},
                "spec": {"strategy": {"type": "Recreate", "rollingUpdate": null},
                    "template": {"spec": {"topologySpreadConstraints": null,
                        "nodeSelector": {"infra": "", "a": null}}}}})
        );
        let mut applied = live.clone();
        testkit::apiserver::patch::merge(&mut applied, &patch);
        assert_eq!(
            applied["metadata"]["annotations"],
            json!({"ours": "1", "theirs": "y"}),
            "theirs stays"
        );
        assert_eq!(applied["spec"]["paused"], false, "fields never set by us stay");
        assert!(three_way(&shape(&desired), &desired, &applied).is_empty(), "then nothing to do");
        // Without a record nothing is removed, and the record is what the next write adds.
        let first = three_way(&Value::Null, &desired, &live);
        assert!(!Value::Object(first).to_string().contains("null"));
    }

    #[test]
    fn the_record_is_a_shape_without_values() {
        let want = with_record(json!({"kind": "Secret", "data": {"key": "c2VjcmV0"}}));
        let record = want["metadata"]["annotations"][APPLIED_FIELDS].as_str().unwrap();
        assert_eq!(record, r#"{"data":{"key":true},"kind":true}"#);
        assert!(!record.contains("c2VjcmV0"), "no secret value in the record");
    }

    #[test]
    fn secrets_compare_as_stored() {
        let v = normalize(json!({"kind": "Secret", "stringData": {"k": "v"}}));
        assert_eq!(v, json!({"kind": "Secret", "data": {"k": "dg=="}}));
        let c = comparable(
            &json!({"kind": "X", "metadata": {"name": "n", "uid": "u", "labels": {"a": "b"}}, "status": {}}),
        );
        assert_eq!(c, json!({"kind": "X", "metadata": {"labels": {"a": "b"}}}));
    }
}

/// What the apply stage did, part by part: one failing part never stops the others.
#[derive(Debug, Default)]
pub struct Applied {
    pub writes: usize,
    /// The registry's objects (or their removal), when that failed.
    pub registry: Option<String>,
    pub certificates: Option<String>,
    pub node_ca: Option<String>,
    pub pruner: Option<String>,
    /// The Azure Stack Hub endpoints file, when keeping it failed (a condition, no retry).
    pub azure_stack: Option<String>,
    /// The registry's failure is the API server refusing an object (its input is wrong):
    /// said with an Event.
    pub registry_refused: bool,
    /// The same for the pruner (or its spec failed the pruner's checks).
    pub pruner_refused: bool,
}

impl Applied {
    /// The first failure, to retry the pass with.
    pub fn error(&self) -> Option<String> {
        [
            self.registry.as_ref().map(|e| format!("registry: {e}")),
            self.certificates.as_ref().map(|e| format!("certificates: {e}")),
            self.node_ca.as_ref().map(|e| format!("node-ca: {e}")),
            self.pruner.as_ref().map(|e| format!("image pruner: {e}")),
        ]
        .into_iter()
        .flatten()
        .next()
    }
}

/// Stage 6, apply: the planned objects through the single writer, the Removed state's
/// deletions, and Routes the spec no longer names.
pub async fn apply_plan(
    ctx: &crate::sync::Context,
    config: &api::Config,
    workload: &render::plan::Workload,
) -> Applied {
    let mut out = Applied::default();
    let applier = &ctx.applier;
    let registry = apply_registry(ctx, config, workload, &mut out.writes).await;
    out.registry_refused = registry.as_ref().is_err_and(|f| f.refused);
    out.registry = registry.err().map(|f| f.message);
    // Plain Kubernetes has no openshift-config-managed for the cluster-wide CA copy.
    let certificates = match ctx.openshift.config {
        true => &workload.certificates[..],
        false => &workload.certificates[..1],
    };
    out.certificates =
        apply_each(applier, certificates, &mut out.writes).await.err().map(|f| f.message);
    // node-ca copies the CAs into /etc/docker/certs.d, an OpenShift node's convention.
    if ctx.openshift.config {
        let node_ca = std::slice::from_ref(&workload.node_ca);
        out.node_ca = apply_each(applier, node_ca, &mut out.writes).await.err().map(|f| f.message);
    }
    {
        let mut since = ctx.node_ca_failing_since.lock().expect("node-ca state");
        match out.node_ca {
            None => *since = None,
            Some(_) => {
                since.get_or_insert((ctx.now)());
            }
        }
    }
    if pruner_deployed(ctx) {
        let pruner = match &workload.pruner_check {
            Err(e) => Err(Failure { message: e.clone(), refused: true }),
            Ok(()) => apply_each(applier, &workload.pruner, &mut out.writes).await,
        };
        out.pruner_refused = pruner.as_ref().is_err_and(|f| f.refused);
        out.pruner = pruner.err().map(|f| f.message);
    }
    // Azure Stack Hub's endpoints are an OpenShift cluster's (openshift-config).
    if ctx.openshift.config {
        out.azure_stack = azure_stack(ctx).await.err();
    }
    for r in &workload.obsolete {
        match applier.delete(r).await {
            Ok(deleted) => out.writes += usize::from(deleted),
            // Nothing depends on it: the next pass tries again.
            Err(e) => crate::logging::log(0, &format!("deleting {} {}: {e}", r.kind, r.name)),
        }
    }
    out
}

/// The registry's objects as the management state wants them: applied (Managed, with the
/// serving certificate first on plain Kubernetes), or removed (Removed).
async fn apply_registry(
    ctx: &crate::sync::Context,
    config: &api::Config,
    workload: &render::plan::Workload,
    writes: &mut usize,
) -> Result<(), Failure> {
    match (config.spec.state(), &workload.registry) {
        (api::ManagementState::Managed, Some(Ok(objects))) => {
            if !ctx.openshift.config {
                serving_certificate(ctx, writes).await?;
            }
            apply_each(&ctx.applier, objects, writes).await?;
            Ok(remove_obsolete_routes(ctx, config, writes).await?)
        }
        (api::ManagementState::Removed, _) => Ok(remove_registry(ctx, config, writes).await?),
        _ => Ok(()),
    }
}

/// Whether the pruner is deployed: always on OpenShift; on plain Kubernetes only when its
/// image is given (`oc adm prune images` needs OpenShift's image API and `oc`).
pub fn pruner_deployed(ctx: &crate::sync::Context) -> bool {
    ctx.openshift.config || ctx.pruner_image_given
}

/// Plain Kubernetes: the registry's serving certificate, made (or made again before it
/// expires) where no service CA operator makes it ([`crate::serving_cert`]).
async fn serving_certificate(ctx: &crate::sync::Context, writes: &mut usize) -> Result<(), String> {
    use k8s_openapi::api::core::v1::Secret;
    let secrets: Api<Secret> = Api::namespaced(ctx.client.clone(), render::names::NAMESPACE);
    let name = render::names::TLS_SECRET;
    let current = crate::observe::get_opt(ctx, &secrets, name).await.map_err(|e| e.to_string())?;
    if ctx.openshift.cert_manager && crate::serving_cert::cert_managers(current.as_ref()) {
        // cert-manager issues it (and renews it); the operator's own, if there was one, is
        // replaced at the first issue.
        let objects = [
            Object::Issuer(Box::new(render::cert_manager::issuer())),
            Object::Certificate(Box::new(render::cert_manager::certificate())),
        ];
        return apply_each(&ctx.applier, &objects, writes).await.map_err(|e| {
            format!("the registry's serving certificate (cert-manager): {}", e.message)
        });
    }
    let now = (ctx.now)();
    if !crate::serving_cert::due(current.as_ref(), now) {
        return Ok(());
    }
    let mut fresh = crate::serving_cert::generate(now)?;
    let pp = kube::api::PostParams {
        field_manager: Some(FIELD_MANAGER.to_string()),
        ..Default::default()
    };
    let written = match current {
        None => secrets.create(&pp, &fresh).await,
        Some(old) => {
            fresh.metadata.resource_version = old.metadata.resource_version;
            secrets.replace(name, &pp, &fresh).await
        }
    };
    written.map_err(|e| format!("the registry's serving certificate (secret {name}): {e}"))?;
    *writes += 1;
    Ok(())
}

/// The Azure Stack Hub endpoints of `openshift-config/cloud-provider-config` into
/// `AZURE_ENVIRONMENT_FILEPATH` ([`crate::azurestack`]).
async fn azure_stack(ctx: &crate::sync::Context) -> Result<(), String> {
    use crate::azurestack::{CONFIG_MAP, KEY, sync_file};
    let cms: Api<k8s_openapi::api::core::v1::ConfigMap> =
        Api::namespaced(ctx.client.clone(), render::names::OPENSHIFT_CONFIG);
    let cm = crate::observe::get_opt(ctx, &cms, CONFIG_MAP).await.map_err(|e| e.to_string())?;
    let endpoints = cm.as_ref().and_then(|c| c.data.as_ref()).and_then(|d| d.get(KEY));
    sync_file(ctx.azure_environment_file.as_deref(), endpoints.map(String::as_str)).map(drop)
}

/// Why applying failed.
#[derive(Debug, Clone)]
pub struct Failure {
    pub message: String,
    /// The API server refused an object (a 4xx but a conflict or throttling): what it was
    /// made from is wrong, and no retry helps until that changes.
    pub refused: bool,
}

impl From<String> for Failure {
    fn from(message: String) -> Self {
        Failure { message, refused: false }
    }
}

async fn apply_each(
    applier: &Applier,
    objects: &[Object],
    writes: &mut usize,
) -> Result<(), Failure> {
    for o in objects {
        let outcome = applier.apply(o).await.map_err(|e| match e {
            // The server's own words name the object and the field.
            kube::Error::Api(s) => Failure {
                refused: (400..500).contains(&s.code) && s.code != 409 && s.code != 429,
                message: s.message,
            },
            e => Failure { message: format!("{}: {e}", o.describe()), refused: false },
        })?;
        *writes += usize::from(outcome != Outcome::Unchanged);
    }
    Ok(())
}

/// The kind the spec's routes are made as: Routes, or Ingresses where there are none.
fn route_kind(ctx: &crate::sync::Context) -> &'static str {
    if ctx.openshift.routes { "Route" } else { "Ingress" }
}

/// Deletes the Routes (or Ingresses) the operator made that the spec no longer names.
async fn remove_obsolete_routes(
    ctx: &crate::sync::Context,
    config: &api::Config,
    writes: &mut usize,
) -> Result<(), String> {
    use render::names::{NAMESPACE, ROUTE_OWNER_ANNOTATION};
    let kind = route_kind(ctx);
    let resource = resource(api_version(kind), kind);
    let listed: Api<DynamicObject> = Api::namespaced_with(ctx.client.clone(), NAMESPACE, &resource);
    let wanted: Vec<String> =
        render::registry::route_specs(config).into_iter().map(|r| r.name).collect();
    let listed = crate::observe::list(ctx, &listed, None).await.map_err(|e| e.to_string())?;
    for r in listed {
        let ours = r
            .metadata
            .annotations
            .as_ref()
            .is_some_and(|a| a.get(ROUTE_OWNER_ANNOTATION).is_some_and(|v| v == "true"));
        let name = r.metadata.name.clone().unwrap_or_default();
        if ours && !wanted.contains(&name) {
            let r = ObjectRef { kind, namespace: Some(NAMESPACE), name };
            *writes += usize::from(ctx.applier.delete(&r).await.map_err(|e| e.to_string())?);
        }
    }
    Ok(())
}

/// Deletes the registry's objects (the Removed state, and the finalizer).
pub async fn remove_registry(
    ctx: &crate::sync::Context,
    config: &api::Config,
    writes: &mut usize,
) -> Result<(), String> {
    for r in render::registry::removed_objects(config, route_kind(ctx)) {
        *writes += usize::from(ctx.applier.delete(&r).await.map_err(|e| e.to_string())?);
    }
    remove_obsolete_routes(ctx, config, writes).await
}
