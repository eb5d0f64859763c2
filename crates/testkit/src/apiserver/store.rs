//! Objects, resource versions and the event log: the semantics of kube-apiserver's
//! registry (create, get, list, update, status update, delete with finalizers, garbage
//! collection, namespaces), without HTTP.
//!
//! Facts followed (Kubernetes API conventions, "Concurrency Control and Consistency",
//! "Metadata", "Spec and Status"; the garbage-collection and namespace docs):
//! * one resource-version counter for everything, like etcd's revision;
//! * a write whose `metadata.resourceVersion` is set and stale fails with 409 Conflict; a
//!   write without one is unconditional;
//! * a write that changes nothing does not bump the resource version and sends no event;
//! * `metadata.generation` starts at 1 and grows when anything outside metadata (and
//!   status, for types with a status subresource) changes;
//! * with a status subresource, main writes keep the stored status and status writes keep
//!   everything but status;
//! * DELETE of an object with finalizers sets `deletionTimestamp`; the object goes when the
//!   last finalizer is removed; no finalizer may be added once it is set;
//! * dependents whose owners are all gone are deleted (background propagation); foreground
//!   deletion keeps the owner, with the `foregroundDeletion` finalizer, until they are;
//! * namespaced objects need their namespace; a terminating namespace takes no new objects
//!   and goes once it is empty.

use std::collections::{BTreeMap, BTreeSet, HashMap, VecDeque};
use std::sync::Arc;

use serde_json::{Map, Value, json};

use super::builtin;
use super::types::ResourceType;
use crate::field::Cause;
use crate::schema;

/// The CRD type's key ([`ResourceType::key`]).
const CRDS: &str = "apiextensions.k8s.io/customresourcedefinitions";

/// An API error, rendered as a `Status` body.
#[derive(Debug, Clone, PartialEq)]
pub struct ApiError {
    pub code: u16,
    pub reason: &'static str,
    pub message: String,
    pub details: Value,
}

impl ApiError {
    pub fn new(code: u16, reason: &'static str, message: impl Into<String>) -> Self {
        ApiError { code, reason, message: message.into(), details: Value::Null }
    }

    fn with_details(mut self, t: &ResourceType, name: &str) -> Self {
        self.details = json!({"name": name, "group": t.group, "kind": t.plural});
        self
    }

    pub fn not_found(t: &ResourceType, name: &str) -> Self {
        ApiError::new(404, "NotFound", format!("{} \"{name}\" not found", t.qualified()))
            .with_details(t, name)
    }

    pub fn bad_request(message: impl Into<String>) -> Self {
        ApiError::new(400, "BadRequest", message)
    }

    /// 422 Invalid with one cause per problem, as `errors.NewInvalid` writes it.
    pub fn invalid(t: &ResourceType, name: &str, causes: Vec<Cause>) -> Self {
        let lines: Vec<String> = causes.iter().map(Cause::line).collect();
        let list =
            if lines.len() == 1 { lines[0].clone() } else { format!("[{}]", lines.join(", ")) };
        let kind =
            if t.group.is_empty() { t.kind.clone() } else { format!("{}.{}", t.kind, t.group) };
        let message = format!("{kind} \"{name}\" is invalid: {list}");
        let mut e = ApiError::new(422, "Invalid", message).with_details(t, name);
        e.details["kind"] = json!(t.kind);
        e.details["causes"] = causes
            .iter()
            .map(|c| json!({"reason": c.reason, "message": c.message, "field": c.field}))
            .collect();
        e
    }

    /// The `Status` object.
    pub fn status(&self) -> Value {
        let mut s = json!({
            "kind": "Status", "apiVersion": "v1", "metadata": {}, "status": "Failure",
            "message": self.message, "reason": self.reason, "code": self.code,
        });
        if !self.details.is_null() {
            s["details"] = self.details.clone();
        }
        s
    }
}

/// Kind of watch event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EventType {
    Added,
    Modified,
    Deleted,
}

impl EventType {
    pub fn as_str(self) -> &'static str {
        match self {
            EventType::Added => "ADDED",
            EventType::Modified => "MODIFIED",
            EventType::Deleted => "DELETED",
        }
    }
}

/// A change, as watchers see it.
#[derive(Debug, Clone)]
pub struct Event {
    pub rv: u64,
    pub type_key: String,
    pub namespace: String,
    pub kind: EventType,
    pub object: Value,
    /// The object before the change (for selector transitions).
    pub old: Option<Value>,
}

/// Where an object lives.
pub type ObjKey = (String, String, String);

/// The server's data.
pub struct Store {
    pub types: Vec<ResourceType>,
    objects: BTreeMap<ObjKey, Value>,
    /// Indexes that keep garbage collection and namespace deletion proportional to what
    /// they touch: uid to key, owner uid to dependents, objects per namespace.
    by_uid: HashMap<String, ObjKey>,
    /// Each object as JSON, encoded once per write, so that lists copy bytes.
    encoded: HashMap<ObjKey, bytes::Bytes>,
    dependents_of: HashMap<String, BTreeSet<ObjKey>>,
    ns_count: HashMap<String, usize>,
    rv: u64,
    /// Events with `rv > log_floor`, oldest first.
    log: VecDeque<Arc<Event>>,
    log_floor: u64,
    log_capacity: usize,
    uid_counter: u64,
    /// New events to hand to watchers after the lock is released.
    pub pending: Vec<Arc<Event>>,
    /// Cluster IPs handed out so far.
    ips: u32,
    /// How the request being served wants unknown fields answered.
    pub field_validation: builtin::FieldValidation,
    /// Warnings for the request being served (`Warning` headers).
    pub warnings: Vec<String>,
    /// The clock, in seconds since the epoch (settable for tests).
    pub now: Box<dyn Fn() -> jiff::Timestamp + Send>,
}

/// Options of a delete.
#[derive(Debug, Clone, Default)]
pub struct DeleteOptions {
    /// `Background` (default), `Foreground` or `Orphan`.
    pub propagation: Option<String>,
    pub precondition_uid: Option<String>,
    pub precondition_rv: Option<String>,
    pub dry_run: bool,
}

/// The outcome of a delete: the object is gone, or it waits for finalizers.
#[derive(Debug, Clone)]
pub enum Deleted {
    Gone(Value),
    Pending(Value),
}

fn meta(o: &Value) -> &Map<String, Value> {
    static EMPTY: std::sync::OnceLock<Map<String, Value>> = std::sync::OnceLock::new();
    o.get("metadata").and_then(Value::as_object).unwrap_or_else(|| EMPTY.get_or_init(Map::new))
}

fn meta_mut(o: &mut Value) -> &mut Map<String, Value> {
    if !o.get("metadata").is_some_and(Value::is_object) {
        o["metadata"] = json!({});
    }
    o["metadata"].as_object_mut().expect("metadata is an object")
}

fn finalizers(o: &Value) -> Vec<String> {
    meta(o)
        .get("finalizers")
        .and_then(Value::as_array)
        .map(|a| a.iter().filter_map(|f| f.as_str().map(str::to_string)).collect())
        .unwrap_or_default()
}

fn uid_of(o: &Value) -> String {
    meta(o).get("uid").and_then(Value::as_str).unwrap_or("").to_string()
}

fn owner_uids(o: &Value) -> Vec<String> {
    meta(o)
        .get("ownerReferences")
        .and_then(Value::as_array)
        .map(|refs| {
            refs.iter()
                .filter_map(|r| r.get("uid").and_then(Value::as_str).map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

/// A Secret's `stringData` merged into `data` (base64), as the API server stores it.
fn fold_string_data(t: &ResourceType, obj: &mut Value) {
    use base64::Engine;
    if t.key() != "/secrets" {
        return;
    }
    let Some(sd) = obj.as_object_mut().and_then(|o| o.remove("stringData")) else { return };
    let data = obj.as_object_mut().expect("object").entry("data").or_insert_with(|| json!({}));
    if let (Some(data), Some(sd)) = (data.as_object_mut(), sd.as_object()) {
        for (k, v) in sd {
            data.insert(
                k.clone(),
                json!(base64::engine::general_purpose::STANDARD.encode(v.as_str().unwrap_or(""))),
            );
        }
    }
}

/// Sets what a create fixes whatever the body says: no status (the controllers' to write),
/// the type's apiVersion and kind, the request's namespace (none for cluster-scoped
/// types), and `stringData` folded into `data`.
fn normalize_created(t: &ResourceType, ns: &str, obj: &mut Value) {
    if t.status
        && let Some(m) = obj.as_object_mut()
    {
        m.remove("status");
    }
    obj["apiVersion"] = json!(t.api_version());
    obj["kind"] = json!(t.kind);
    let m = meta_mut(obj);
    if t.namespaced {
        m.insert("namespace".into(), json!(ns));
    } else {
        m.remove("namespace");
    }
    fold_string_data(t, obj);
}

/// What an update is refused for before anything else: a name other than the URL's, a
/// stale resourceVersion (409 Conflict). Returns the stored resourceVersion.
fn check_update(
    t: &ResourceType,
    name: &str,
    obj: &Value,
    old: &Value,
) -> Result<String, ApiError> {
    let given_name = meta(obj).get("name").and_then(Value::as_str).unwrap_or(name);
    if given_name != name {
        return Err(ApiError::bad_request(format!(
            "the name of the object ({given_name}) does not match the name on the URL ({name})"
        )));
    }
    let old_rv = meta(old).get("resourceVersion").and_then(Value::as_str).unwrap_or("").to_string();
    if let Some(rv) = meta(obj).get("resourceVersion").and_then(Value::as_str)
        && !rv.is_empty()
        && rv != old_rv
    {
        return Err(ApiError::new(
            409,
            "Conflict",
            format!("Operation cannot be fulfilled on {} \"{name}\": the object has been modified; please apply your changes to the latest version and try again", t.qualified()),
        )
        .with_details(t, name));
    }
    Ok(old_rv)
}

/// A status write: the stored object with the status of `obj` (none when it has none).
fn with_status_of(obj: &Value, old: &Value) -> Value {
    let status = obj.get("status").cloned();
    let mut next = old.clone();
    match status {
        Some(s) => next["status"] = s,
        None => {
            if let Some(m) = next.as_object_mut() {
                m.remove("status");
            }
        }
    }
    next
}

/// A main write: keeps the stored status (types with a status subresource) and the
/// metadata the client may not change; refuses finalizers added once deletion started.
fn keep_unchangeable(
    t: &ResourceType,
    name: &str,
    obj: &mut Value,
    old: &Value,
) -> Result<(), ApiError> {
    if t.status {
        match old.get("status") {
            Some(s) => obj["status"] = s.clone(),
            None => {
                if let Some(m) = obj.as_object_mut() {
                    m.remove("status");
                }
            }
        }
    }
    let old_meta = meta(old).clone();
    let m = meta_mut(obj);
    for k in [
        "uid",
        "creationTimestamp",
        "deletionTimestamp",
        "deletionGracePeriodSeconds",
        "generation",
        "namespace",
        "name",
    ] {
        match old_meta.get(k) {
            Some(v) => m.insert(k.into(), v.clone()),
            None => m.remove(k),
        };
    }
    if old_meta.contains_key("deletionTimestamp") {
        let before = finalizers(old);
        if let Some(added) = finalizers(obj).into_iter().find(|f| !before.contains(f)) {
            return Err(ApiError::invalid(
                t,
                name,
                vec![Cause::forbidden(
                    "metadata.finalizers",
                    &format!(
                        "no new finalizers can be added if the object is being deleted, found new finalizers [\"{added}\"]"
                    ),
                )],
            ));
        }
    }
    Ok(())
}

/// A delete's preconditions: the object's uid and resourceVersion (409 Conflict).
fn check_preconditions(old: &Value, opts: &DeleteOptions) -> Result<(), ApiError> {
    let m = meta(old);
    let field = |k: &str| m.get(k).and_then(Value::as_str).unwrap_or("").to_string();
    if let Some(want) = &opts.precondition_uid
        && field("uid") != *want
    {
        return Err(ApiError::new(
            409,
            "Conflict",
            format!(
                "Precondition failed: UID in precondition: {want}, UID in object meta: {}",
                field("uid")
            ),
        ));
    }
    if let Some(want) = &opts.precondition_rv
        && field("resourceVersion") != *want
    {
        return Err(ApiError::new(
            409,
            "Conflict",
            format!(
                "Precondition failed: ResourceVersion in precondition: {want}, ResourceVersion in object meta: {}",
                field("resourceVersion")
            ),
        ));
    }
    Ok(())
}

/// The object without metadata (and without status when `drop_status`).
fn body(o: &Value, drop_status: bool) -> Value {
    let mut b = o.clone();
    if let Some(m) = b.as_object_mut() {
        m.remove("metadata");
        m.remove("apiVersion");
        m.remove("kind");
        if drop_status {
            m.remove("status");
        }
    }
    b
}

impl Store {
    pub fn new(types: Vec<ResourceType>, log_capacity: usize) -> Self {
        Store {
            types,
            objects: BTreeMap::new(),
            by_uid: HashMap::new(),
            encoded: HashMap::new(),
            dependents_of: HashMap::new(),
            ns_count: HashMap::new(),
            rv: 1,
            log: VecDeque::new(),
            log_floor: 1,
            log_capacity,
            uid_counter: 0,
            ips: 0,
            field_validation: builtin::FieldValidation::default(),
            warnings: Vec::new(),
            pending: Vec::new(),
            now: Box::new(jiff::Timestamp::now),
        }
    }

    /// The current resource version.
    pub fn resource_version(&self) -> u64 {
        self.rv
    }

    /// The oldest resource version a watch can resume from.
    pub fn log_floor(&self) -> u64 {
        self.log_floor
    }

    /// Events after `rv`, or `None` when `rv` is older than the log keeps.
    pub fn events_since(&self, rv: u64) -> Option<Vec<Arc<Event>>> {
        if rv < self.log_floor {
            return None;
        }
        Some(self.log.iter().filter(|e| e.rv > rv).cloned().collect())
    }

    /// The type served at `group/version/plural`.
    pub fn find_type(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceType> {
        self.types.iter().find(|t| t.group == group && t.version == version && t.plural == plural)
    }

    /// Adds or replaces a served type.
    /// Serves `t`, replacing a type of the same group and plural. Objects already stored
    /// read back with the new schema's defaults, as kube-apiserver defaults custom
    /// resources when it reads them from storage (their resource version unchanged).
    pub fn register(&mut self, t: ResourceType) {
        self.types.retain(|x| !(x.group == t.group && x.plural == t.plural));
        if let Some(s) = &t.schema {
            let key = t.key();
            let stored: Vec<ObjKey> = self.objects.keys().filter(|k| k.0 == key).cloned().collect();
            for k in stored {
                if let Some(mut obj) = self.objects.get(&k).cloned() {
                    schema::prune_and_default(s, &mut obj);
                    if self.objects.get(&k) != Some(&obj) {
                        self.put(k, obj);
                    }
                }
            }
        }
        self.types.push(t);
    }

    /// Stops serving a type and drops its objects.
    pub fn unregister(&mut self, group: &str, plural: &str) {
        self.types.retain(|x| !(x.group == group && x.plural == plural));
        let key = format!("{group}/{plural}");
        let keys: Vec<ObjKey> =
            self.objects.keys().filter(|(k, _, _)| *k == key).cloned().collect();
        for k in keys {
            self.take(&k);
        }
    }

    /// Stores an object, keeping the indexes.
    fn put(&mut self, key: ObjKey, obj: Value) {
        self.take(&key);
        let uid = uid_of(&obj);
        if !uid.is_empty() {
            self.by_uid.insert(uid, key.clone());
        }
        for owner in owner_uids(&obj) {
            self.dependents_of.entry(owner).or_default().insert(key.clone());
        }
        *self.ns_count.entry(key.1.clone()).or_default() += 1;
        self.encoded
            .insert(key.clone(), bytes::Bytes::from(serde_json::to_vec(&obj).expect("JSON")));
        self.objects.insert(key, obj);
    }

    /// Removes an object from the map and the indexes.
    fn take(&mut self, key: &ObjKey) -> Option<Value> {
        let obj = self.objects.remove(key)?;
        self.encoded.remove(key);
        self.by_uid.remove(&uid_of(&obj));
        for owner in owner_uids(&obj) {
            if let Some(set) = self.dependents_of.get_mut(&owner) {
                set.remove(key);
                if set.is_empty() {
                    self.dependents_of.remove(&owner);
                }
            }
        }
        if let Some(n) = self.ns_count.get_mut(&key.1) {
            *n -= 1;
        }
        Some(obj)
    }

    fn next_rv(&mut self) -> u64 {
        self.rv += 1;
        self.rv
    }

    fn timestamp(&self) -> String {
        (self.now)().strftime("%Y-%m-%dT%H:%M:%SZ").to_string()
    }

    fn record(
        &mut self,
        t: &ResourceType,
        ns: &str,
        kind: EventType,
        object: Value,
        old: Option<Value>,
    ) {
        let e = Arc::new(Event {
            rv: self.rv,
            type_key: t.key(),
            namespace: ns.to_string(),
            kind,
            object,
            old,
        });
        self.log.push_back(e.clone());
        while self.log.len() > self.log_capacity {
            if let Some(old) = self.log.pop_front() {
                self.log_floor = old.rv;
            }
        }
        self.pending.push(e);
    }

    /// Shrinks the event log to its newest `keep` events (tests of 410 Gone).
    pub fn compact(&mut self, keep: usize) {
        while self.log.len() > keep {
            if let Some(old) = self.log.pop_front() {
                self.log_floor = old.rv;
            }
        }
        if self.log.is_empty() {
            self.log_floor = self.rv;
        }
    }

    /// One object.
    pub fn get(&self, t: &ResourceType, ns: &str, name: &str) -> Result<Value, ApiError> {
        self.objects
            .get(&(t.key(), ns.to_string(), name.to_string()))
            .cloned()
            .ok_or_else(|| ApiError::not_found(t, name))
    }

    /// Objects of a type with their JSON encoding, in `ns` (all namespaces when empty),
    /// sorted by namespace and name.
    pub fn list_encoded<'a>(
        &'a self,
        t: &ResourceType,
        ns: &'a str,
    ) -> impl Iterator<Item = (&'a ObjKey, &'a Value, &'a bytes::Bytes)> + 'a {
        let key = t.key();
        self.objects
            .range((key.clone(), String::new(), String::new())..)
            .take_while(move |((k, _, _), _)| *k == key)
            .filter(move |((_, n, _), _)| ns.is_empty() || n == ns)
            .filter_map(|(k, v)| self.encoded.get(k).map(|b| (k, v, b)))
    }

    /// Objects of a type, in `ns` (all namespaces when empty), sorted by namespace and name.
    pub fn list<'a>(
        &'a self,
        t: &ResourceType,
        ns: &'a str,
    ) -> impl Iterator<Item = &'a Value> + 'a {
        let key = t.key();
        self.objects
            .range((key.clone(), String::new(), String::new())..)
            .take_while(move |((k, _, _), _)| *k == key)
            .filter(move |((_, n, _), _)| ns.is_empty() || n == ns)
            .map(|(_, v)| v)
    }

    fn namespace_state(&self, ns: &str) -> Option<bool> {
        let o = self.objects.get(&("/namespaces".to_string(), String::new(), ns.to_string()))?;
        Some(meta(o).contains_key("deletionTimestamp"))
    }

    fn check_namespace(&self, t: &ResourceType, ns: &str) -> Result<(), ApiError> {
        if !t.namespaced {
            return Ok(());
        }
        match self.namespace_state(ns) {
            None => Err(ApiError::new(404, "NotFound", format!("namespaces \"{ns}\" not found"))
                .with_details(&super::types::builtins()[0], ns)),
            Some(true) => Err(ApiError::new(
                403,
                "Forbidden",
                format!(
                    "{} is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                    t.qualified()
                ),
            )),
            Some(false) => Ok(()),
        }
    }

    /// Admission: CRDs get their defaults; built-in types are decoded, defaulted and validated as kube-apiserver
    /// does ([`builtin`]; not on status writes); custom resources get their CRD schema's
    /// defaults, pruning and validation, then its CEL rules when nothing blocks them.
    fn admit(
        &mut self,
        t: &ResourceType,
        name: &str,
        obj: &mut Value,
        old: Option<&Value>,
        status_only: bool,
    ) -> Result<(), ApiError> {
        if builtin::handles(t) {
            if status_only {
                return Ok(());
            }
            if old.is_none() && t.key() == "networking.k8s.io/ingresses" {
                self.default_ingress_class(obj);
            }
            let warnings = builtin::admit(t, obj, old, self.field_validation)?;
            self.warnings.extend(warnings);
            return self.pod_security(t, name, obj, old);
        }
        if t.key() == CRDS && !status_only {
            builtin::defaults::custom_resource_definition(obj, old.is_none());
        }
        let Some(s) = &t.schema else { return Ok(()) };
        let unknown: Vec<String> = schema::prune_and_default(s, obj)
            .into_iter()
            .map(|f| format!("unknown field \"{f}\""))
            .collect();
        match self.field_validation {
            builtin::FieldValidation::Strict if !unknown.is_empty() => {
                return Err(ApiError::bad_request(format!(
                    "strict decoding error: {}",
                    unknown.join(", ")
                )));
            }
            builtin::FieldValidation::Warn => self.warnings.extend(unknown),
            _ => {}
        }
        let mut causes = match schema::validate(s, obj) {
            Ok(()) => Vec::new(),
            Err(c) => c,
        };
        let blocked = causes.iter().any(|c| c.field == "<nil>");
        if !blocked {
            crate::cel::validate(s, obj, old, "", &mut causes);
        }
        // Validation ratcheting (GA in 1.33): an update may keep a value that no longer
        // validates, as long as it does not change it.
        if let Some(old) = old {
            causes.retain(|c| {
                c.field == "<nil>"
                    || schema::at_path(obj, &c.field) != schema::at_path(old, &c.field)
            });
        }
        if causes.is_empty() { Ok(()) } else { Err(ApiError::invalid(t, name, causes)) }
    }

    /// The DefaultIngressClass admission plugin (mutating, so before validation): an
    /// Ingress created without a class gets the default IngressClass, if there is one.
    fn default_ingress_class(&self, obj: &mut Value) {
        if obj.pointer("/spec/ingressClassName").is_some_and(|v| !v.is_null())
            || obj.pointer("/metadata/annotations/kubernetes.io~1ingress.class").is_some()
        {
            return;
        }
        let classes: Vec<Value> = self
            .objects
            .iter()
            .filter(|((key, _, _), _)| key == "networking.k8s.io/ingressclasses")
            .map(|(_, o)| o.clone())
            .collect();
        if let Some(class) = builtin::networking::default_class(&classes)
            && let Some(spec) = obj.get_mut("spec").and_then(Value::as_object_mut)
        {
            spec.insert("ingressClassName".into(), json!(class));
        }
    }

    /// Pod Security admission (validating, so after validation): the namespace's enforce
    /// level refuses a Pod (on create, and on the updates upstream checks) with a 403; its
    /// warn level answers a workload whose Pod template breaks it with a warning.
    fn pod_security(
        &mut self,
        t: &ResourceType,
        name: &str,
        obj: &Value,
        old: Option<&Value>,
    ) -> Result<(), ApiError> {
        use builtin::pod_security;
        let template = match t.key().as_str() {
            "/pods" => "/spec",
            "apps/deployments" | "apps/replicasets" | "apps/statefulsets" | "apps/daemonsets"
            | "batch/jobs" => "/spec/template/spec",
            "batch/cronjobs" => "/spec/jobTemplate/spec/template/spec",
            _ => return Ok(()),
        };
        let ns = meta(obj).get("namespace").and_then(Value::as_str).unwrap_or("");
        let labels = self
            .objects
            .get(&("/namespaces".to_string(), String::new(), ns.to_string()))
            .and_then(|n| n.pointer("/metadata/labels"))
            .cloned();
        let spec = obj.pointer(template).unwrap_or(&Value::Null);
        if template != "/spec" {
            self.warnings.extend(pod_security::warn(labels.as_ref(), spec));
            return Ok(());
        }
        if old.is_some_and(|old| !pod_security::significant_update(obj, old)) {
            return Ok(());
        }
        match pod_security::enforce(labels.as_ref(), name, spec) {
            Some(message) => Err(ApiError::new(403, "Forbidden", message).with_details(t, name)),
            None => Ok(()),
        }
    }

    fn name_of(t: &ResourceType, obj: &Value) -> Result<String, ApiError> {
        let name = meta(obj).get("name").and_then(Value::as_str).unwrap_or("");
        if name.is_empty() {
            return Err(ApiError::new(
                422,
                "Invalid",
                format!(
                    "{} \"\" is invalid: metadata.name: Required value: name or generateName is required",
                    t.kind
                ),
            ));
        }
        if builtin::handles(t) {
            // The kind's own name rule is applied with the rest of its validation.
            return Ok(name.to_string());
        }
        let ok = name.len() <= 253
            && name
                .chars()
                .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-.:".contains(c));
        if !ok {
            return Err(ApiError::invalid(
                t,
                name,
                vec![Cause::invalid(
                    "metadata.name",
                    &json!(name),
                    "a lowercase RFC 1123 subdomain must consist of lower case alphanumeric characters, '-' or '.'",
                )],
            ));
        }
        Ok(name.to_string())
    }

    /// Creates an object.
    pub fn create(
        &mut self,
        t: &ResourceType,
        ns: &str,
        mut obj: Value,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        if !obj.is_object() {
            return Err(ApiError::bad_request("the body of the request is not an object"));
        }
        self.generate_name(&mut obj);
        let name = self.check_create(t, ns, &obj)?;
        let key =
            (t.key(), if t.namespaced { ns.to_string() } else { String::new() }, name.clone());
        if meta(&obj).contains_key("deletionTimestamp") {
            return Err(ApiError::invalid(
                t,
                &name,
                vec![Cause::forbidden("metadata.deletionTimestamp", "may not be set on create")],
            ));
        }
        normalize_created(t, ns, &mut obj);
        // As kube-apiserver: decoding and validation answer before the storage does.
        self.admit(t, &name, &mut obj, None, false)?;
        if self.objects.contains_key(&key) {
            return Err(ApiError::new(
                409,
                "AlreadyExists",
                format!("{} \"{name}\" already exists", t.qualified()),
            )
            .with_details(t, &name));
        }
        let ips = &mut self.ips;
        builtin::allocate(&t.key(), &mut obj, &mut || {
            *ips += 1;
            format!("10.96.{}.{}", *ips / 250, *ips % 250 + 1)
        });
        if t.generation {
            meta_mut(&mut obj).insert("generation".into(), json!(1));
        } else {
            meta_mut(&mut obj).remove("generation");
        }
        if dry_run {
            return Ok(obj);
        }
        Ok(self.store_created(t, ns, key, obj))
    }

    /// `metadata.generateName`: a name of the prefix and a suffix, when no name is given.
    fn generate_name(&mut self, obj: &mut Value) {
        let m = meta_mut(obj);
        if m.get("name").and_then(Value::as_str).is_none_or(str::is_empty)
            && let Some(prefix) = m.get("generateName").and_then(Value::as_str).map(str::to_string)
        {
            self.uid_counter += 1;
            let suffix: String =
                format!("{:05x}", self.uid_counter.wrapping_mul(2654435761) % 0xfffff);
            m.insert("name".into(), json!(format!("{prefix}{suffix}")));
        }
    }

    /// What a create is refused for before admission: a resourceVersion, a missing or bad
    /// name, a namespace other than the request's, a missing or terminating namespace.
    /// Returns the object's name.
    fn check_create(&self, t: &ResourceType, ns: &str, obj: &Value) -> Result<String, ApiError> {
        if meta(obj).get("resourceVersion").and_then(Value::as_str).is_some_and(|s| !s.is_empty()) {
            return Err(ApiError::bad_request(
                "resourceVersion should not be set on objects to be created",
            ));
        }
        let name = Self::name_of(t, obj)?;
        if t.namespaced {
            let given = meta(obj).get("namespace").and_then(Value::as_str).unwrap_or(ns);
            if given != ns {
                return Err(ApiError::bad_request(format!(
                    "the namespace of the provided object ({given}) does not match the namespace sent on the request ({ns})"
                )));
            }
        }
        self.check_namespace(t, ns)?;
        Ok(name)
    }

    /// Stores a created object with its uid, creationTimestamp and resourceVersion (and a
    /// namespace's Active phase), and records the ADDED event.
    fn store_created(&mut self, t: &ResourceType, ns: &str, key: ObjKey, mut obj: Value) -> Value {
        self.uid_counter += 1;
        let uid = format!("{:08x}-0000-4000-8000-{:012x}", self.uid_counter, self.rv);
        let created = self.timestamp();
        let rv = self.next_rv();
        let m = meta_mut(&mut obj);
        m.insert("uid".into(), json!(uid));
        m.insert("creationTimestamp".into(), json!(created));
        m.insert("resourceVersion".into(), json!(rv.to_string()));
        if t.key() == "/namespaces" && obj.pointer("/status/phase").is_none() {
            obj["status"] = json!({"phase": "Active"});
        }
        self.put(key, obj.clone());
        self.record(t, ns, EventType::Added, obj.clone(), None);
        obj
    }

    /// Replaces an object (`status_only`: the `/status` subresource).
    pub fn update(
        &mut self,
        t: &ResourceType,
        ns: &str,
        name: &str,
        obj: Value,
        status_only: bool,
        dry_run: bool,
    ) -> Result<Value, ApiError> {
        let mut removed = Vec::new();
        let out = self.update_inner(t, ns, name, obj, status_only, dry_run, &mut removed);
        self.collect_garbage(removed);
        out
    }

    #[allow(clippy::too_many_arguments)]
    fn update_inner(
        &mut self,
        t: &ResourceType,
        ns: &str,
        name: &str,
        mut obj: Value,
        status_only: bool,
        dry_run: bool,
        removed: &mut Vec<Value>,
    ) -> Result<Value, ApiError> {
        if !obj.is_object() {
            return Err(ApiError::bad_request("the body of the request is not an object"));
        }
        let ns_key = if t.namespaced { ns.to_string() } else { String::new() };
        let key = (t.key(), ns_key, name.to_string());
        let old = self.objects.get(&key).cloned().ok_or_else(|| ApiError::not_found(t, name))?;
        let old_rv = check_update(t, name, &obj, &old)?;
        // What the client may not change.
        if status_only {
            obj = with_status_of(&obj, &old);
        } else {
            keep_unchangeable(t, name, &mut obj, &old)?;
        }
        obj["apiVersion"] = json!(t.api_version());
        obj["kind"] = json!(t.kind);
        meta_mut(&mut obj).insert("resourceVersion".into(), json!(old_rv));
        if let Some(m) =
            obj.as_object_mut().and_then(|o| o.get_mut("metadata")).and_then(Value::as_object_mut)
            && m.get("finalizers").and_then(Value::as_array).is_some_and(Vec::is_empty)
        {
            m.remove("finalizers");
        }
        fold_string_data(t, &mut obj);
        self.admit(t, name, &mut obj, Some(&old), status_only)?;
        if t.generation && body(&obj, t.status) != body(&old, t.status) {
            let g = meta(&old).get("generation").and_then(Value::as_i64).unwrap_or(1);
            meta_mut(&mut obj).insert("generation".into(), json!(g + 1));
        }
        if obj == old {
            return Ok(old);
        }
        if dry_run {
            return Ok(obj);
        }
        Ok(self.store_updated(t, ns, key, obj, old, removed))
    }

    /// Stores an updated object under a new resourceVersion and records the MODIFIED event;
    /// an object being deleted whose last finalizer went is removed instead (DELETED).
    fn store_updated(
        &mut self,
        t: &ResourceType,
        ns: &str,
        key: ObjKey,
        mut obj: Value,
        old: Value,
        removed: &mut Vec<Value>,
    ) -> Value {
        let rv = self.next_rv();
        meta_mut(&mut obj).insert("resourceVersion".into(), json!(rv.to_string()));
        if meta(&obj).contains_key("deletionTimestamp") && finalizers(&obj).is_empty() {
            self.take(&key);
            self.record(t, ns, EventType::Deleted, obj.clone(), Some(old));
            removed.push(obj.clone());
            return obj;
        }
        self.put(key, obj.clone());
        self.record(t, ns, EventType::Modified, obj.clone(), Some(old));
        obj
    }

    /// Deletes an object.
    pub fn delete(
        &mut self,
        t: &ResourceType,
        ns: &str,
        name: &str,
        opts: &DeleteOptions,
    ) -> Result<Deleted, ApiError> {
        let mut removed = Vec::new();
        let out = self.delete_inner(t, ns, name, opts, &mut removed);
        self.collect_garbage(removed);
        let ns_key = if t.namespaced { ns.to_string() } else { String::new() };
        out.map(|d| match (d, self.objects.get(&(t.key(), ns_key, name.to_string()))) {
            (_, Some(o)) => Deleted::Pending(o.clone()),
            (Deleted::Pending(o) | Deleted::Gone(o), None) => Deleted::Gone(o),
        })
    }

    fn delete_inner(
        &mut self,
        t: &ResourceType,
        ns: &str,
        name: &str,
        opts: &DeleteOptions,
        removed: &mut Vec<Value>,
    ) -> Result<Deleted, ApiError> {
        let ns_key = if t.namespaced { ns.to_string() } else { String::new() };
        let key = (t.key(), ns_key, name.to_string());
        let old = self.objects.get(&key).cloned().ok_or_else(|| ApiError::not_found(t, name))?;
        let uid = uid_of(&old);
        check_preconditions(&old, opts)?;
        if opts.dry_run {
            return Ok(Deleted::Gone(old));
        }
        let foreground = opts.propagation.as_deref() == Some("Foreground");
        let is_namespace = t.key() == "/namespaces";
        if opts.propagation.as_deref() == Some("Orphan") {
            self.orphan_dependents(&uid);
        }
        let mut fins = finalizers(&old);
        if foreground && !fins.iter().any(|f| f == "foregroundDeletion") {
            fins.push("foregroundDeletion".into());
        }
        if fins.is_empty() && !is_namespace {
            self.remove(t, &key, old.clone());
            removed.push(old.clone());
            return Ok(Deleted::Gone(old));
        }
        let obj = self.mark_deleting(t, ns, &key, old, fins, is_namespace);
        if is_namespace {
            self.delete_contents(name, removed);
        }
        if foreground {
            self.delete_dependents(&uid, removed);
        }
        Ok(Deleted::Pending(obj))
    }

    /// Sets deletionTimestamp (and the finalizers `fins`, and a namespace's Terminating
    /// phase) on an object that cannot go yet; a MODIFIED event when that changed it.
    fn mark_deleting(
        &mut self,
        t: &ResourceType,
        ns: &str,
        key: &ObjKey,
        old: Value,
        fins: Vec<String>,
        is_namespace: bool,
    ) -> Value {
        let mut obj = old.clone();
        let now = self.timestamp();
        let mm = meta_mut(&mut obj);
        mm.entry("deletionTimestamp").or_insert(json!(now));
        mm.entry("deletionGracePeriodSeconds").or_insert(json!(0));
        if !fins.is_empty() {
            mm.insert("finalizers".into(), json!(fins));
        }
        if is_namespace {
            obj["status"] = json!({"phase": "Terminating"});
        }
        if obj != old {
            let rv = self.next_rv();
            meta_mut(&mut obj).insert("resourceVersion".into(), json!(rv.to_string()));
            self.put(key.clone(), obj.clone());
            self.record(t, ns, EventType::Modified, obj.clone(), Some(old));
        }
        obj
    }

    /// Deletes everything in a terminating namespace, then finishes the namespace.
    fn delete_contents(&mut self, ns: &str, removed: &mut Vec<Value>) {
        let keys: Vec<ObjKey> = self.objects.keys().filter(|(_, n, _)| n == ns).cloned().collect();
        for (tk, n, object) in keys {
            if let Some(ot) = self.type_for_key(&tk) {
                let _gone = self.delete_inner(&ot, &n, &object, &DeleteOptions::default(), removed);
            }
        }
        self.finish_namespace(ns, removed);
    }

    /// Deletes the dependents of a foreground-deleted owner, then finishes the owner.
    fn delete_dependents(&mut self, owner_uid: &str, removed: &mut Vec<Value>) {
        for (tk, n, dep) in self.dependents(owner_uid) {
            if let Some(dt) = self.type_for_key(&tk) {
                let _gone = self.delete_inner(&dt, &n, &dep, &DeleteOptions::default(), removed);
            }
        }
        self.finish_foreground(owner_uid, removed);
    }

    fn remove(&mut self, t: &ResourceType, key: &ObjKey, old: Value) {
        self.take(key);
        let rv = self.next_rv();
        let mut obj = old;
        meta_mut(&mut obj).insert("resourceVersion".into(), json!(rv.to_string()));
        self.record(t, &key.1, EventType::Deleted, obj, None);
    }

    fn type_for_key(&self, key: &str) -> Option<ResourceType> {
        self.types.iter().find(|t| t.key() == key).cloned()
    }

    fn orphan_dependents(&mut self, uid: &str) {
        for key in self.dependents(uid) {
            let Some(t) = self.type_for_key(&key.0) else { continue };
            let Some(old) = self.objects.get(&key).cloned() else { continue };
            let mut obj = old.clone();
            if let Some(refs) =
                meta_mut(&mut obj).get_mut("ownerReferences").and_then(Value::as_array_mut)
            {
                refs.retain(|r| r.get("uid").and_then(Value::as_str) != Some(uid));
            }
            let rv = self.next_rv();
            meta_mut(&mut obj).insert("resourceVersion".into(), json!(rv.to_string()));
            self.put(key.clone(), obj.clone());
            self.record(&t, &key.1, EventType::Modified, obj, Some(old));
        }
    }

    fn dependents(&self, uid: &str) -> Vec<ObjKey> {
        self.dependents_of.get(uid).map(|s| s.iter().cloned().collect()).unwrap_or_default()
    }

    /// A foreground-deleted owner whose dependents are gone loses its `foregroundDeletion`
    /// finalizer (and goes, when it was the last).
    fn finish_foreground(&mut self, owner_uid: &str, removed: &mut Vec<Value>) {
        let Some(key) = self.by_uid.get(owner_uid).cloned() else { return };
        let Some(obj) = self.objects.get(&key).cloned() else { return };
        if !finalizers(&obj).iter().any(|f| f == "foregroundDeletion")
            || !self.dependents(owner_uid).is_empty()
        {
            return;
        }
        let Some(t) = self.type_for_key(&key.0) else { return };
        let mut next = obj;
        let fins: Vec<String> =
            finalizers(&next).into_iter().filter(|f| f != "foregroundDeletion").collect();
        meta_mut(&mut next).insert("finalizers".into(), json!(fins));
        let _done = self.update_inner(&t, &key.1, &key.2, next, false, false, removed);
    }

    /// A terminating namespace with nothing left in it goes.
    fn finish_namespace(&mut self, ns: &str, removed: &mut Vec<Value>) {
        if self.ns_count.get(ns).copied().unwrap_or(0) > 0 {
            return;
        }
        let key = ("/namespaces".to_string(), String::new(), ns.to_string());
        let Some(obj) = self.objects.get(&key).cloned() else { return };
        if !meta(&obj).contains_key("deletionTimestamp") || !finalizers(&obj).is_empty() {
            return;
        }
        if let Some(t) = self.type_for_key("/namespaces") {
            self.remove(&t, &key, obj.clone());
            removed.push(obj);
        }
    }

    /// Follows removals: dependents whose owners are all gone are deleted (background
    /// propagation), foreground owners and terminating namespaces are finished.
    fn collect_garbage(&mut self, mut removed: Vec<Value>) {
        while let Some(gone) = removed.pop() {
            let uid = uid_of(&gone);
            for key in self.dependents(&uid) {
                let Some(dep) = self.objects.get(&key) else { continue };
                let orphaned = owner_uids(dep).iter().all(|o| !self.by_uid.contains_key(o));
                if orphaned
                    && !meta(dep).contains_key("deletionTimestamp")
                    && let Some(t) = self.type_for_key(&key.0)
                {
                    let _gone = self.delete_inner(
                        &t,
                        &key.1,
                        &key.2,
                        &DeleteOptions::default(),
                        &mut removed,
                    );
                }
            }
            for owner in owner_uids(&gone) {
                self.finish_foreground(&owner, &mut removed);
            }
            if let Some(ns) = meta(&gone).get("namespace").and_then(Value::as_str) {
                let ns = ns.to_string();
                self.finish_namespace(&ns, &mut removed);
            }
        }
    }

    /// Sets a field of an object's status directly (the workload simulator), as a status
    /// write. Returns the new object, or `None` when it does not exist.
    pub fn set_status(
        &mut self,
        t: &ResourceType,
        ns: &str,
        name: &str,
        status: Value,
    ) -> Option<Value> {
        let mut obj = self.get(t, ns, name).ok()?;
        obj["status"] = status;
        if let Some(m) = obj.get_mut("metadata").and_then(Value::as_object_mut) {
            m.remove("resourceVersion");
        }
        self.update(t, ns, name, obj, true, false).ok()
    }

    /// Number of stored objects.
    pub fn len(&self) -> usize {
        self.objects.len()
    }

    /// Whether nothing is stored.
    pub fn is_empty(&self) -> bool {
        self.objects.is_empty()
    }
}
