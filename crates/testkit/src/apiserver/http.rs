//! The HTTP face of the server: path and query parsing, verbs, discovery, Status errors,
//! and watch streams.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::extract::{Request, State};
use axum::response::Response;
use http::{HeaderValue, Method, StatusCode, header};
use serde_json::{Value, json};
use tokio::sync::broadcast;

use super::builtin::FieldValidation;
use super::selector::{FieldSelector, LabelSelector};
use super::store::{ApiError, DeleteOptions, Deleted, Event, EventType};
use super::types::{self, ResourceType};
use super::{ApiServer, RequestRecord, patch, scale, table};
use crate::field::Cause;

/// Percent-decodes a query component (`+` is a space).
fn decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'+' => out.push(b' '),
            b'%' if i + 2 < bytes.len() => match u8::from_str_radix(&s[i + 1..i + 3], 16) {
                Ok(b) => {
                    out.push(b);
                    i += 2;
                }
                Err(_) => out.push(b'%'),
            },
            b => out.push(b),
        }
        i += 1;
    }
    String::from_utf8_lossy(&out).into_owned()
}

fn parse_query(q: Option<&str>) -> BTreeMap<String, String> {
    q.unwrap_or("")
        .split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (decode(k), decode(v)),
            None => (decode(p), String::new()),
        })
        .collect()
}

fn truthy(q: &BTreeMap<String, String>, k: &str) -> bool {
    q.get(k).is_some_and(|v| v == "true" || v == "1")
}

fn json_response(code: StatusCode, v: &Value) -> Response {
    let mut r = Response::new(Body::from(serde_json::to_vec(v).expect("JSON")));
    *r.status_mut() = code;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn error_response(e: &ApiError) -> Response {
    json_response(
        StatusCode::from_u16(e.code).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR),
        &e.status(),
    )
}

/// A resource path.
struct Target {
    t: ResourceType,
    namespace: String,
    name: Option<String>,
    subresource: Option<String>,
}

enum Route {
    Version,
    OpenApiV2,
    Discovery(Value),
    Resource(Box<Target>),
}

fn route(server: &ApiServer, path: &str) -> Result<Route, ApiError> {
    let segs: Vec<&str> = path.trim_matches('/').split('/').filter(|s| !s.is_empty()).collect();
    let store = server.shared.store.lock().expect("store lock");
    let not_found =
        || ApiError::new(404, "NotFound", "the server could not find the requested resource");
    let (group, version, rest): (&str, &str, &[&str]) = match segs.as_slice() {
        ["version"] => return Ok(Route::Version),
        ["openapi", "v2"] => return Ok(Route::OpenApiV2),
        ["openapi", "v3"] => return Ok(Route::Discovery(types::openapi_v3_root(&store.types))),
        ["openapi", "v3", "api", v] | ["openapi", "v3", "apis", _, v] => {
            let group = if segs[2] == "api" { "" } else { segs[3] };
            let served: Vec<&ResourceType> =
                store.types.iter().filter(|t| t.group == group && t.version == *v).collect();
            if served.is_empty() {
                return Err(not_found());
            }
            return Ok(Route::Discovery(types::openapi_v3_group_version(&served)));
        }
        ["api"] => {
            return Ok(Route::Discovery(
                json!({"kind": "APIVersions", "versions": ["v1"], "serverAddressByClientCIDRs": []}),
            ));
        }
        ["apis"] => return Ok(Route::Discovery(types::group_list(&store.types))),
        ["api", v, rest @ ..] => ("", *v, rest),
        ["apis", g, v, rest @ ..] => (*g, *v, rest),
        _ => return Err(not_found()),
    };
    if rest.is_empty() {
        let served: Vec<&ResourceType> =
            store.types.iter().filter(|t| t.group == group && t.version == version).collect();
        if served.is_empty() {
            return Err(not_found());
        }
        let gv = if group.is_empty() { version.to_string() } else { format!("{group}/{version}") };
        return Ok(Route::Discovery(types::resource_list(&served, &gv)));
    }
    let find =
        |plural: &str| store.find_type(group, version, plural).cloned().ok_or_else(not_found);
    let target = match rest {
        ["namespaces", ns, plural, tail @ ..]
            if !matches!(*plural, "status" | "finalize") || !tail.is_empty() =>
        {
            let t = find(plural)?;
            if !t.namespaced {
                return Err(not_found());
            }
            Target {
                t,
                namespace: ns.to_string(),
                name: tail.first().map(|s| s.to_string()),
                subresource: tail.get(1).map(|s| s.to_string()),
            }
        }
        [plural, tail @ ..] => {
            let t = find(plural)?;
            if t.namespaced && !tail.is_empty() {
                return Err(not_found());
            }
            Target {
                t,
                namespace: String::new(),
                name: tail.first().map(|s| s.to_string()),
                subresource: tail.get(1).map(|s| s.to_string()),
            }
        }
        [] => return Err(not_found()),
    };
    let served = |s: &str| match s {
        "status" => target.t.status,
        "scale" => target.t.scale.is_some(),
        "log" => target.t.key() == "/pods",
        _ => false,
    };
    if target.subresource.as_deref().is_some_and(|s| !served(s)) {
        return Err(not_found());
    }
    Ok(Route::Resource(Box::new(target)))
}

fn verb(method: &Method, target: &Target, watch: bool) -> &'static str {
    match (method, &target.name) {
        (&Method::GET, None) if watch => "watch",
        (&Method::GET, None) => "list",
        (&Method::GET, Some(_)) if watch => "watch",
        (&Method::GET, Some(_)) => "get",
        (&Method::POST, _) => "create",
        (&Method::PUT, _) => "update",
        (&Method::PATCH, _) => "patch",
        (&Method::DELETE, None) => "deletecollection",
        (&Method::DELETE, Some(_)) => "delete",
        _ => "unknown",
    }
}

/// The single handler behind every path.
pub async fn handle(State(server): State<ApiServer>, req: Request) -> Response {
    let method = req.method().clone();
    let path = req.uri().path().to_string();
    let query_string = req.uri().query().map(str::to_string);
    let user_agent = req
        .headers()
        .get(header::USER_AGENT)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("")
        .to_string();
    // In a block: the closure borrows the request, which is not Sync, so it must end
    // before the first await.
    let (content_type, accept) = {
        let header_text = |name: header::HeaderName| {
            req.headers().get(name).and_then(|v| v.to_str().ok()).unwrap_or("").to_string()
        };
        (header_text(header::CONTENT_TYPE), header_text(header::ACCEPT))
    };
    let query = parse_query(query_string.as_deref());
    let body = match axum::body::to_bytes(req.into_body(), 64 << 20).await {
        Ok(b) => b,
        Err(e) => return error_response(&ApiError::bad_request(format!("cannot read body: {e}"))),
    };
    let full_path = match &query_string {
        Some(q) => format!("{path}?{q}"),
        None => path.clone(),
    };
    let (verb_name, resource, response) = match route(&server, &path) {
        Err(e) => ("get", String::new(), error_response(&e)),
        Ok(Route::Version) => ("get", String::new(), json_response(StatusCode::OK, &version())),
        Ok(Route::OpenApiV2) => {
            let doc = {
                let store = server.shared.store.lock().expect("store lock");
                super::openapi::v2_document(&store.types)
            };
            if accept.contains("protobuf") {
                let mut r = Response::new(Body::from(super::openapi::v2_protobuf(&doc)));
                r.headers_mut().insert(
                    header::CONTENT_TYPE,
                    // The media type kubectl asks for has an `@`, which Go's mime parser
                    // refuses in an answer (client-go turns that into a 500).
                    HeaderValue::from_static("application/octet-stream"),
                );
                ("get", String::new(), r)
            } else {
                ("get", String::new(), json_response(StatusCode::OK, &doc))
            }
        }
        Ok(Route::Discovery(v)) => ("get", String::new(), json_response(StatusCode::OK, &v)),
        Ok(Route::Resource(target)) => {
            let watch = truthy(&query, "watch");
            let v = verb(&method, &target, watch);
            let resource = target.t.plural.clone();
            if let Some(e) = server.forbidden(&user_agent, v, &full_path) {
                (v, resource, error_response(&e))
            } else if let Some(e) = server.fault(v, &resource) {
                (v, resource, e)
            } else {
                server.delay().await;
                let how = How { content_type: &content_type, accept: &accept, watch };
                let r = resource_request(&server, &method, *target, &query, &how, &body).await;
                (v, resource, r)
            }
        }
    };
    server.shared.requests.lock().expect("request log").push(RequestRecord {
        verb: verb_name.to_string(),
        resource,
        path: full_path,
        method: method.to_string(),
        user_agent,
        status: response.status().as_u16(),
    });
    response
}

fn version() -> Value {
    json!({"major": "1", "minor": "33", "gitVersion": "v1.33.0-imageregistry-testkit", "gitCommit": "",
        "gitTreeState": "clean", "buildDate": "2026-01-01T00:00:00Z", "goVersion": "", "compiler": "rustc",
        "platform": "linux/amd64"})
}

/// Runs a write with the request's `fieldValidation`, returning the warnings it raised.
fn admitted<T>(
    server: &ApiServer,
    query: &BTreeMap<String, String>,
    f: impl FnOnce(&mut super::store::Store) -> T,
) -> (T, Vec<String>) {
    let mode = FieldValidation::from_query(query.get("fieldValidation").map(String::as_str));
    server.write(|s| {
        s.field_validation = mode;
        s.warnings.clear();
        let out = f(s);
        s.field_validation = FieldValidation::default();
        (out, std::mem::take(&mut s.warnings))
    })
}

/// Adds one `Warning: 299 - "..."` header per warning, as kube-apiserver does.
fn with_warnings(mut r: Response, warnings: &[String]) -> Response {
    for w in warnings {
        let text = format!("299 - {}", serde_json::to_string(w).unwrap_or_default());
        if let Ok(v) = HeaderValue::from_str(&text) {
            r.headers_mut().append(header::WARNING, v);
        }
    }
    r
}

/// A create's or replace's body: protobuf when the client says so, else JSON.
fn decode_body(t: &ResourceType, content_type: &str, body: &[u8]) -> Result<Value, ApiError> {
    if super::protobuf::is_protobuf(content_type) {
        super::protobuf::decode(t, body)
    } else {
        parse_body(body)
    }
}

fn parse_body(body: &[u8]) -> Result<Value, ApiError> {
    serde_json::from_slice(body)
        .map_err(|e| ApiError::bad_request(format!("the request body is not valid JSON: {e}")))
}

/// How a request is sent and what it accepts back.
struct How<'a> {
    content_type: &'a str,
    accept: &'a str,
    watch: bool,
}

/// Dispatches a request on a resource path to the handler of its verb.
async fn resource_request(
    server: &ApiServer,
    method: &Method,
    target: Target,
    query: &BTreeMap<String, String>,
    how: &How<'_>,
    body: &[u8],
) -> Response {
    let (content_type, watch) = (how.content_type, how.watch);
    let dry_run = query.get("dryRun").is_some_and(|v| v == "All");
    let t = &target.t;
    let ns = target.namespace.as_str();
    let status_only = target.subresource.as_deref() == Some("status");
    if target.subresource.as_deref() == Some("log") {
        if *method != Method::GET {
            return error_response(&ApiError::new(
                405,
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
            ));
        }
        return pod_log(server, t, ns, target.name.as_deref().unwrap_or(""), query);
    }
    if target.subresource.as_deref() == Some("scale") {
        let name = target.name.as_deref().unwrap_or("");
        let w = Write { server, t, ns, name, query, status_only, dry_run };
        return scale_request(&w, method, content_type, body);
    }
    match (method, target.name.as_deref()) {
        (&Method::GET, _) if watch => {
            let mut fs = query.get("fieldSelector").cloned().unwrap_or_default();
            if let Some(name) = &target.name {
                fs = format!("metadata.name={name}");
            }
            watch_response(server, t.clone(), ns.to_string(), query, &fs)
        }
        (&Method::GET, None) => list(server, t, ns, query, how.accept),
        (&Method::GET, Some(name)) => get_one(server, t, ns, name, query, how.accept),
        (&Method::POST, None) => match decode_body(t, content_type, body) {
            Ok(obj) => create(server, t, ns, query, obj, dry_run),
            Err(e) => error_response(&e),
        },
        (&Method::PUT, Some(name)) => match decode_body(t, content_type, body) {
            Ok(obj) => replace(&Write { server, t, ns, name, query, status_only, dry_run }, obj),
            Err(e) => error_response(&e),
        },
        (&Method::PATCH, Some(name)) => {
            let w = Write { server, t, ns, name, query, status_only, dry_run };
            patch_request(&w, content_type, body)
        }
        (&Method::DELETE, Some(name)) => delete(server, t, ns, name, query, body, dry_run),
        _ => error_response(&ApiError::new(
            405,
            "MethodNotAllowed",
            "the server does not allow this method on the requested resource".to_string(),
        )),
    }
}

/// A write to one named object: PUT or PATCH.
struct Write<'a> {
    server: &'a ApiServer,
    t: &'a ResourceType,
    ns: &'a str,
    name: &'a str,
    query: &'a BTreeMap<String, String>,
    status_only: bool,
    dry_run: bool,
}

/// GET of one named object (as a Table when the client asks for one).
fn get_one(
    server: &ApiServer,
    t: &ResourceType,
    ns: &str,
    name: &str,
    query: &BTreeMap<String, String>,
    accept: &str,
) -> Response {
    match server.shared.store.lock().expect("store").get(t, ns, name) {
        Ok(o) => match table::wanted(accept) {
            Some(version) => {
                let metadata = json!({"resourceVersion": o["metadata"]["resourceVersion"]});
                as_table(t, version, query, &[o], metadata)
            }
            None => json_response(StatusCode::OK, &o),
        },
        Err(e) => error_response(&e),
    }
}

/// The Table of `objects`, with the rows' objects as `includeObject` asks.
fn as_table(
    t: &ResourceType,
    version: &str,
    query: &BTreeMap<String, String>,
    objects: &[Value],
    metadata: Value,
) -> Response {
    match table::Include::parse(query.get("includeObject").map(String::as_str)) {
        Ok(include) => {
            let now = jiff::Timestamp::now();
            json_response(
                StatusCode::OK,
                &table::table(t, version, objects, include, metadata, now),
            )
        }
        Err(e) => error_response(&e),
    }
}

/// POST to a collection: creates the object, and serves the type a created CRD defines.
fn create(
    server: &ApiServer,
    t: &ResourceType,
    ns: &str,
    query: &BTreeMap<String, String>,
    obj: Value,
    dry_run: bool,
) -> Response {
    let (r, warnings) = admitted(server, query, |s| s.create(t, ns, obj, dry_run));
    if let Ok(created) = &r
        && !dry_run
        && t.key() == "apiextensions.k8s.io/customresourcedefinitions"
        && let Err(e) = server.register_type_from_crd(created)
    {
        return error_response(&ApiError::invalid(
            t,
            "",
            vec![Cause::invalid("", &Value::Null, &e)],
        ));
    }
    match r {
        Ok(o) => with_warnings(json_response(StatusCode::CREATED, &o), &warnings),
        Err(e) => error_response(&e),
    }
}

/// PUT of one named object (or of its status).
fn replace(w: &Write<'_>, obj: Value) -> Response {
    if let Some(e) = w.server.take_conflict(w.t, w.name) {
        return error_response(&e);
    }
    let (t, ns, name) = (w.t, w.ns, w.name);
    match admitted(w.server, w.query, |s| s.update(t, ns, name, obj, w.status_only, w.dry_run)) {
        (Ok(o), warnings) => with_warnings(json_response(StatusCode::OK, &o), &warnings),
        (Err(e), _) => error_response(&e),
    }
}

/// GET of a Pod's log, as text: its source's lines (followed with `follow=true`, the last
/// `tailLines` only), or the line that says it is simulated.
fn pod_log(
    server: &ApiServer,
    t: &ResourceType,
    ns: &str,
    name: &str,
    query: &BTreeMap<String, String>,
) -> Response {
    if let Err(e) = server.read(|s| s.get(t, ns, name)) {
        return error_response(&e);
    }
    let tail = match query.get("tailLines").map(|v| v.parse::<i64>()) {
        None => None,
        Some(Ok(n)) if n >= 0 => usize::try_from(n).ok(),
        Some(_) => {
            return error_response(&ApiError::bad_request(
                "tailLines: Invalid value: must be greater than or equal to 0",
            ));
        }
    };
    let text = |body: Body| {
        let mut r = Response::new(body);
        r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("text/plain"));
        r
    };
    let Some(source) = server.shared.logs.of(ns, name) else {
        let line = if tail == Some(0) { "" } else { super::pods::SIMULATED_LOG };
        return text(Body::from(line));
    };
    let (lines, rx) = source.read(tail);
    let past: String = lines.iter().map(|l| format!("{l}\n")).collect();
    if !truthy(query, "follow") {
        return text(Body::from(past));
    }
    let first = futures::stream::iter([Ok::<_, std::io::Error>(bytes::Bytes::from(past))]);
    let rest = futures::stream::unfold(rx, |mut rx| async move {
        loop {
            match rx.recv().await {
                Ok(l) => return Some((Ok(bytes::Bytes::from(format!("{l}\n"))), rx)),
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => return None,
            }
        }
    });
    text(Body::from_stream(futures::StreamExt::chain(first, rest)))
}

/// GET, PUT or PATCH of an object's `/scale`. A patch applies to the Scale, whose
/// replicas then go into the object.
fn scale_request(w: &Write<'_>, method: &Method, content_type: &str, body: &[u8]) -> Response {
    let paths = w.t.scale.clone().expect("routed only where served");
    let current = match w.server.read(|s| s.get(w.t, w.ns, w.name)) {
        Ok(o) => scale::scale_of(&paths, &o),
        Err(e) => return error_response(&e),
    };
    let wanted = match *method {
        Method::GET => return json_response(StatusCode::OK, &current),
        Method::PUT => parse_body(body),
        Method::PATCH => scale_patched(current, content_type, body),
        _ => {
            return error_response(&ApiError::new(
                405,
                "MethodNotAllowed",
                "the server does not allow this method on the requested resource",
            ));
        }
    };
    let wanted = match wanted {
        Ok(v) => v,
        Err(e) => return error_response(&e),
    };
    let (t, ns, name) = (w.t, w.ns, w.name);
    match admitted(w.server, w.query, |s| scale::write(s, t, ns, name, &wanted, w.dry_run)) {
        (Ok(o), warnings) => with_warnings(json_response(StatusCode::OK, &o), &warnings),
        (Err(e), _) => error_response(&e),
    }
}

/// A Scale with a patch applied. A Scale has no lists, so a strategic merge patch merges
/// as a JSON merge patch does.
fn scale_patched(mut current: Value, content_type: &str, body: &[u8]) -> Result<Value, ApiError> {
    let p = parse_body(body)?;
    match content_type.split(';').next().unwrap_or("").trim() {
        "application/merge-patch+json" | "application/strategic-merge-patch+json" => {
            patch::merge(&mut current, &p);
        }
        "application/json-patch+json" => {
            patch::json_patch(&mut current, &p).map_err(|e| ApiError::new(422, "Invalid", e))?;
        }
        other => {
            return Err(ApiError::new(
                415,
                "UnsupportedMediaType",
                format!(
                    "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml, application/strategic-merge-patch+json (not {other})"
                ),
            ));
        }
    }
    Ok(current)
}

/// The 415 answer to a patch whose media type is neither a merge patch nor a JSON patch.
fn unsupported_patch(kind: &str) -> Response {
    let msg = match kind {
        "application/apply-patch+yaml" => {
            "server-side apply is not supported by this server; send a JSON merge patch or a JSON patch"
        }
        "application/strategic-merge-patch+json" => {
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json, application/apply-patch+yaml"
        }
        _ => {
            "the body of the request was in an unknown format - accepted media types include: application/json-patch+json, application/merge-patch+json"
        }
    };
    error_response(&ApiError::new(415, "UnsupportedMediaType", msg))
}

/// PATCH of one named object (or of its status) with a JSON merge patch or a JSON patch.
fn patch_request(w: &Write<'_>, content_type: &str, body: &[u8]) -> Response {
    let p = match parse_body(body) {
        Ok(o) => o,
        Err(e) => return error_response(&e),
    };
    let kind = content_type.split(';').next().unwrap_or("").trim();
    // Strategic merge patch needs the Go types' patch strategies: built-in kinds only, as
    // kube-apiserver has it.
    let strategic = kind == "application/strategic-merge-patch+json" && w.t.builtin();
    if !strategic && !matches!(kind, "application/merge-patch+json" | "application/json-patch+json")
    {
        return unsupported_patch(kind);
    }
    if let Some(e) = w.server.take_conflict(w.t, w.name) {
        return error_response(&e);
    }
    let (t, ns, name) = (w.t, w.ns, w.name);
    let (r, warnings) = admitted(w.server, w.query, |s| {
        let how = match kind {
            "application/merge-patch+json" => PatchKind::Merge,
            "application/json-patch+json" => PatchKind::Json,
            _ => PatchKind::Strategic,
        };
        let current = patched(s, t, ns, name, how, &p)?;
        s.update(t, ns, name, current, w.status_only, w.dry_run)
    });
    match r {
        Ok(o) => with_warnings(json_response(StatusCode::OK, &o), &warnings),
        Err(e) => error_response(&e),
    }
}

/// The kinds of patch.
#[derive(Clone, Copy, PartialEq, Eq)]
enum PatchKind {
    Merge,
    Json,
    Strategic,
}

/// The stored object with the patch applied. Its resourceVersion is left only where the patch
/// set one other than the stored one, a precondition the update then checks.
fn patched(
    s: &super::store::Store,
    t: &ResourceType,
    ns: &str,
    name: &str,
    how: PatchKind,
    p: &Value,
) -> Result<Value, ApiError> {
    let mut current = s.get(t, ns, name)?;
    let rv = current.pointer("/metadata/resourceVersion").cloned();
    if let Some(m) = current.get_mut("metadata").and_then(Value::as_object_mut) {
        m.remove("resourceVersion");
    }
    match how {
        PatchKind::Merge => {
            patch::merge(&mut current, p);
            return Ok(current);
        }
        PatchKind::Strategic => {
            super::strategic::apply(&t.kind, &mut current, p).map_err(ApiError::bad_request)?;
            return Ok(current);
        }
        PatchKind::Json => {}
    }
    // JSON patch `test` ops see the stored object, resourceVersion included.
    if let (Some(rv), Some(m)) = (rv, current.get_mut("metadata").and_then(Value::as_object_mut)) {
        m.insert("resourceVersion".into(), rv);
    }
    patch::json_patch(&mut current, p)
        .map_err(|e| ApiError::invalid(t, name, vec![Cause::invalid("", &Value::Null, &e)]))?;
    let stored = s.get(t, ns, name)?;
    if current.pointer("/metadata/resourceVersion") == stored.pointer("/metadata/resourceVersion")
        && let Some(m) = current.get_mut("metadata").and_then(Value::as_object_mut)
    {
        m.remove("resourceVersion");
    }
    Ok(current)
}

/// The options of a DELETE: the query's propagationPolicy and dryRun, else the body's.
fn delete_options(query: &BTreeMap<String, String>, body: &[u8], dry_run: bool) -> DeleteOptions {
    let opts_body: Value =
        if body.is_empty() { json!({}) } else { serde_json::from_slice(body).unwrap_or(json!({})) };
    DeleteOptions {
        propagation: query.get("propagationPolicy").cloned().or_else(|| {
            opts_body.get("propagationPolicy").and_then(Value::as_str).map(str::to_string)
        }),
        precondition_uid: opts_body
            .pointer("/preconditions/uid")
            .and_then(Value::as_str)
            .map(str::to_string),
        precondition_rv: opts_body
            .pointer("/preconditions/resourceVersion")
            .and_then(Value::as_str)
            .map(str::to_string),
        dry_run: dry_run
            || opts_body
                .get("dryRun")
                .and_then(Value::as_array)
                .is_some_and(|a| a.iter().any(|v| v == "All")),
    }
}

/// DELETE of one named object: the object while finalizers hold it, else a Success Status.
fn delete(
    server: &ApiServer,
    t: &ResourceType,
    ns: &str,
    name: &str,
    query: &BTreeMap<String, String>,
    body: &[u8],
    dry_run: bool,
) -> Response {
    let opts = delete_options(query, body, dry_run);
    match server.write(|s| s.delete(t, ns, name, &opts)) {
        Ok(Deleted::Pending(o)) => json_response(StatusCode::OK, &o),
        Ok(Deleted::Gone(o)) => {
            if t.key() == "apiextensions.k8s.io/customresourcedefinitions" && !opts.dry_run {
                server.unregister_type_of_crd(&o);
            }
            let uid = o.pointer("/metadata/uid").cloned().unwrap_or(Value::Null);
            json_response(
                StatusCode::OK,
                &json!({"kind": "Status", "apiVersion": "v1", "metadata": {},
                "status": "Success", "details": {"name": name, "group": t.group, "kind": t.plural, "uid": uid}}),
            )
        }
        Err(e) => error_response(&e),
    }
}

fn selectors(
    query: &BTreeMap<String, String>,
    field: &str,
) -> Result<(LabelSelector, FieldSelector), ApiError> {
    let ls = LabelSelector::parse(query.get("labelSelector").map_or("", String::as_str))
        .map_err(ApiError::bad_request)?;
    let fs = FieldSelector::parse(field).map_err(ApiError::bad_request)?;
    Ok((ls, fs))
}

fn hex(s: &str) -> String {
    s.bytes().map(|b| format!("{b:02x}")).collect()
}

fn unhex(s: &str) -> Option<String> {
    let bytes: Option<Vec<u8>> = (0..s.len())
        .step_by(2)
        .map(|i| s.get(i..i + 2).and_then(|h| u8::from_str_radix(h, 16).ok()))
        .collect();
    String::from_utf8(bytes?).ok()
}

fn list(
    server: &ApiServer,
    t: &ResourceType,
    ns: &str,
    query: &BTreeMap<String, String>,
    accept: &str,
) -> Response {
    let (ls, fs) = match selectors(query, query.get("fieldSelector").map_or("", String::as_str)) {
        Ok(s) => s,
        Err(e) => return error_response(&e),
    };
    let limit: usize =
        query.get("limit").and_then(|l| l.parse().ok()).filter(|l| *l > 0).unwrap_or(usize::MAX);
    let after = match query.get("continue").filter(|c| !c.is_empty()) {
        Some(c) => match unhex(c) {
            Some(a) => Some(a),
            None => return error_response(&ApiError::bad_request("invalid continue token")),
        },
        None => None,
    };
    let store = server.shared.store.lock().expect("store");
    let rv = store.resource_version();
    // Items are copied from their stored encoding.
    let mut items: Vec<(String, &bytes::Bytes)> = Vec::new();
    let mut next = None;
    for ((_, ns_key, name), o, encoded) in store.list_encoded(t, ns) {
        if !ls.matches(o) || !fs.matches(o) {
            continue;
        }
        let pos = format!("{ns_key}/{name}");
        if after.as_ref().is_some_and(|a| pos <= *a) {
            continue;
        }
        if items.len() == limit {
            next = items.last().map(|(p, _)| hex(p));
            break;
        }
        items.push((pos, encoded));
    }
    let mut metadata = json!({"resourceVersion": rv.to_string()});
    if let Some(n) = next {
        metadata["continue"] = json!(n);
    }
    if let Some(version) = table::wanted(accept) {
        let objects: Vec<Value> = items
            .iter()
            .map(|(_, e)| serde_json::from_slice(e).expect("the store's own JSON"))
            .collect();
        drop(store);
        return as_table(t, version, query, &objects, metadata);
    }
    let head = json!({"kind": format!("{}List", t.kind), "apiVersion": t.api_version(), "metadata": metadata});
    let mut body = serde_json::to_vec(&head).expect("JSON");
    body.pop(); // the closing brace
    body.extend_from_slice(b",\"items\":[");
    for (i, (_, encoded)) in items.iter().enumerate() {
        if i > 0 {
            body.push(b',');
        }
        body.extend_from_slice(encoded);
    }
    body.extend_from_slice(b"]}");
    drop(store);
    let mut r = Response::new(Body::from(body));
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn line(kind: &str, object: &Value) -> bytes::Bytes {
    let mut v = serde_json::to_vec(&json!({"type": kind, "object": object})).expect("JSON");
    v.push(b'\n');
    bytes::Bytes::from(v)
}

fn bookmark(t: &ResourceType, rv: u64, initial_end: bool) -> bytes::Bytes {
    let mut meta = json!({"resourceVersion": rv.to_string()});
    if initial_end {
        meta["annotations"] = json!({"k8s.io/initial-events-end": "true"});
    }
    line("BOOKMARK", &json!({"kind": t.kind, "apiVersion": t.api_version(), "metadata": meta}))
}

/// Which events a watch delivers.
#[derive(Clone)]
struct Filter {
    t: ResourceType,
    ns: String,
    ls: LabelSelector,
    fs: FieldSelector,
}

impl Filter {
    fn matches(&self, o: &Value) -> bool {
        self.ls.matches(o) && self.fs.matches(o)
    }

    /// The line for an event, after selector transitions: an object that starts matching
    /// is ADDED, one that stops matching is DELETED.
    fn translate(&self, e: &Event) -> Option<bytes::Bytes> {
        if e.type_key != self.t.key() || (!self.ns.is_empty() && e.namespace != self.ns) {
            return None;
        }
        let now = self.matches(&e.object);
        let before = e.old.as_ref().is_some_and(|o| self.matches(o));
        let kind = match (e.kind, before, now) {
            (EventType::Added, _, true) => "ADDED",
            (EventType::Deleted, _, true) => "DELETED",
            (EventType::Modified, true, true) => "MODIFIED",
            (EventType::Modified, false, true) => "ADDED",
            (EventType::Modified, true, false) => "DELETED",
            _ => return None,
        };
        Some(line(kind, &e.object))
    }
}

struct WatchState {
    filter: Filter,
    queue: std::collections::VecDeque<bytes::Bytes>,
    rx: broadcast::Receiver<Arc<Event>>,
    closes: tokio::sync::watch::Receiver<u64>,
    bookmarks: bool,
    last_rv: u64,
    deadline: tokio::time::Instant,
    bookmark_every: Duration,
    done: bool,
    /// The server, for the watch-delay fault (read at each event).
    server: ApiServer,
}

fn watch_response(
    server: &ApiServer,
    t: ResourceType,
    ns: String,
    query: &BTreeMap<String, String>,
    field: &str,
) -> Response {
    let (ls, fs) = match selectors(query, field) {
        Ok(s) => s,
        Err(e) => return error_response(&e),
    };
    let filter = Filter { t, ns, ls, fs };
    let timeout = query.get("timeoutSeconds").and_then(|s| s.parse::<u64>().ok()).unwrap_or(1800);
    let send_initial = truthy(query, "sendInitialEvents");
    let rv_param = query.get("resourceVersion").cloned().unwrap_or_default();
    let mut queue = std::collections::VecDeque::new();
    let mut done = false;
    // Subscribing under the store lock: no write can fall between the replay and the feed.
    let (rx, last_rv) = {
        let store = server.shared.store.lock().expect("store");
        let rx = server.shared.events.subscribe();
        let current = store.resource_version();
        if send_initial || rv_param.is_empty() || rv_param == "0" {
            for o in store.list(&filter.t, &filter.ns).filter(|o| filter.matches(o)) {
                queue.push_back(line("ADDED", o));
            }
            if send_initial {
                queue.push_back(bookmark(&filter.t, current, true));
            }
        } else {
            let Ok(since) = rv_param.parse::<u64>() else {
                return error_response(&ApiError::bad_request(format!(
                    "invalid resource version: {rv_param:?}"
                )));
            };
            match store.events_since(since) {
                Some(events) => queue.extend(events.iter().filter_map(|e| filter.translate(e))),
                None => {
                    // As kube-apiserver does: a 200 stream with one ERROR event (410).
                    let status = ApiError::new(
                        410,
                        "Expired",
                        format!("too old resource version: {since} ({})", store.log_floor()),
                    )
                    .status();
                    queue.push_back(line("ERROR", &status));
                    done = true;
                }
            }
        }
        (rx, current)
    };
    let state = WatchState {
        filter,
        queue,
        rx,
        closes: server.shared.closes.subscribe(),
        bookmarks: truthy(query, "allowWatchBookmarks"),
        last_rv,
        deadline: tokio::time::Instant::now() + Duration::from_secs(timeout),
        bookmark_every: server.shared.bookmark_interval,
        done,
        server: server.clone(),
    };
    stream_response(state)
}

fn stream_response(state: WatchState) -> Response {
    let stream = futures::stream::unfold(state, |mut s| async move {
        loop {
            if let Some(b) = s.queue.pop_front() {
                // A lagging watch (fault): each event reaches the client late.
                let delay = s.server.watch_delay();
                if !delay.is_zero() {
                    tokio::time::sleep(delay).await;
                }
                return Some((Ok::<_, std::io::Error>(b), s));
            }
            if s.done {
                return None;
            }
            let sleep = tokio::time::sleep(s.bookmark_every.max(Duration::from_millis(10)));
            tokio::select! {
                r = s.rx.recv() => match r {
                    Ok(e) => {
                        s.last_rv = s.last_rv.max(e.rv);
                        if let Some(l) = s.filter.translate(&e) {
                            s.queue.push_back(l);
                        }
                    }
                    // A watcher that falls behind is closed; the client resumes from its
                    // last resource version.
                    Err(_) => return None,
                },
                _ = s.closes.changed() => return None,
                _ = tokio::time::sleep_until(s.deadline) => return None,
                _ = sleep, if s.bookmarks => {
                    s.queue.push_back(bookmark(&s.filter.t, s.last_rv, false));
                }
            }
        }
    });
    let mut r = Response::new(Body::from_stream(stream));
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r.headers_mut().insert(header::TRANSFER_ENCODING, HeaderValue::from_static("chunked"));
    r
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn query_decoding() {
        let q = parse_query(Some("labelSelector=app%3Dweb%2Ctier+in+%28a%29&watch=1&x"));
        assert_eq!(q["labelSelector"], "app=web,tier in (a)");
        assert!(truthy(&q, "watch"));
        assert_eq!(q["x"], "");
        assert_eq!(decode("100%"), "100%");
        assert_eq!(unhex(&hex("ns/name")).as_deref(), Some("ns/name"));
    }
}
