//! Server-side printing: the `meta.k8s.io/v1` Table kube-apiserver answers to
//! `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`, with the columns of its
//! built-in printers (always wide: kubectl hides the priority-1 columns itself), a CRD's
//! `additionalPrinterColumns` (or Age when it declares none), and Name / Created At for
//! kinds without a printer.

use jiff::Timestamp;
use serde_json::{Value, json};

use super::scale::selector_string;
use super::store::ApiError;
use super::types::ResourceType;

/// ObjectMeta's description of `name`, which kube-apiserver gives the Name column.
const NAME_DESCRIPTION: &str = "Name must be unique within a namespace. Is required when creating resources, although some resources may allow a client to request the generation of an appropriate name automatically. Name is primarily intended for creation idempotence and configuration definition. Cannot be updated. More info: https://kubernetes.io/docs/concepts/overview/working-with-objects/names#names";

/// Whether the Accept header asks for a Table (kubectl asks for v1, then v1beta1).
pub fn wanted(accept: &str) -> Option<&'static str> {
    let asks = |v: &str| {
        accept.split(',').any(|m| {
            let params: Vec<&str> = m.split(';').map(str::trim).collect();
            params.contains(&"as=Table")
                && params.contains(&"g=meta.k8s.io")
                && params.contains(&format!("v={v}").as_str())
        })
    };
    if asks("v1") {
        Some("v1")
    } else if asks("v1beta1") {
        Some("v1beta1")
    } else {
        None
    }
}

/// What a row carries of its object (`includeObject`; Metadata by default).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Include {
    None,
    Metadata,
    Object,
}

impl Include {
    pub fn parse(q: Option<&str>) -> Result<Self, ApiError> {
        match q.unwrap_or("") {
            "" | "Metadata" => Ok(Include::Metadata),
            "None" => Ok(Include::None),
            "Object" => Ok(Include::Object),
            other => {
                Err(ApiError::bad_request(format!("unrecognized includeObject value: {other:?}")))
            }
        }
    }
}

/// A column: name, type, format, priority.
struct Col(&'static str, &'static str, &'static str, i64);

fn definition(c: &Col) -> Value {
    let description = if c.0 == "Name" { NAME_DESCRIPTION } else { "" };
    json!({"name": c.0, "type": c.1, "format": c.2, "description": description, "priority": c.3})
}

/// The Table of `objects` of type `t`; `rv` and `cont` are the list's metadata.
pub fn table(
    t: &ResourceType,
    version: &str,
    objects: &[Value],
    include: Include,
    metadata: Value,
    now: Timestamp,
) -> Value {
    let (columns, cells): (Vec<Value>, Cells) = match &t.printer_columns {
        Some(cols) => crd_columns(cols, now),
        None => builtin(t, now),
    };
    let rows: Vec<Value> = objects
        .iter()
        .map(|o| {
            let mut row = json!({"cells": cells(o)});
            match include {
                Include::None => {}
                Include::Object => row["object"] = o.clone(),
                Include::Metadata => {
                    row["object"] = json!({"kind": "PartialObjectMetadata",
                        "apiVersion": format!("meta.k8s.io/{version}"), "metadata": o["metadata"]});
                }
            }
            row
        })
        .collect();
    json!({"kind": "Table", "apiVersion": format!("meta.k8s.io/{version}"), "metadata": metadata,
        "columnDefinitions": columns, "rows": rows})
}

fn name(o: &Value) -> Value {
    o.pointer("/metadata/name").cloned().unwrap_or(Value::Null)
}

fn age(o: &Value, now: Timestamp) -> Value {
    json!(since(o.pointer("/metadata/creationTimestamp").and_then(Value::as_str), now))
}

/// `translateTimestampSince`: `<unknown>` for no time, else the human duration since.
pub fn since(ts: Option<&str>, now: Timestamp) -> String {
    match ts.filter(|s| !s.is_empty()).map(str::parse::<Timestamp>) {
        None => "<unknown>".into(),
        Some(Err(_)) => "<invalid>".into(),
        Some(Ok(t)) => human_duration(now.duration_since(t).as_secs()),
    }
}

/// `duration.HumanDuration`, from whole seconds.
pub fn human_duration(seconds: i64) -> String {
    if seconds < -1 {
        return "<invalid>".into();
    } else if seconds < 0 {
        return "0s".into();
    } else if seconds < 120 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 { format!("{minutes}m") } else { format!("{minutes}m{s}s") };
    } else if minutes < 180 {
        return format!("{minutes}m");
    }
    let hours = minutes / 60;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 { format!("{hours}h") } else { format!("{hours}h{m}m") };
    } else if hours < 48 {
        return format!("{hours}h");
    } else if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 { format!("{}d", hours / 24) } else { format!("{}d{h}h", hours / 24) };
    } else if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    } else if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        let y = hours / 24 / 365;
        return if dy == 0 { format!("{y}y") } else { format!("{y}y{dy}d") };
    }
    format!("{}y", hours / 24 / 365)
}

type Cells = Box<dyn Fn(&Value) -> Vec<Value>>;

/// A CRD's columns: Name, then its `additionalPrinterColumns` (Age when it has none).
fn crd_columns(cols: &[Value], now: Timestamp) -> (Vec<Value>, Cells) {
    let mut cols = cols.to_vec();
    if cols.is_empty() {
        cols.push(json!({"name": "Age", "type": "date", "jsonPath": ".metadata.creationTimestamp",
            "description": "CreationTimestamp is a timestamp representing the server time when this object was created."}));
    }
    let mut defs = vec![definition(&Col("Name", "string", "name", 0))];
    for c in &cols {
        let path = c.get("jsonPath").and_then(Value::as_str).unwrap_or("");
        let description = c.get("description").and_then(Value::as_str).map_or_else(
            || format!("Custom resource definition column (in JSONPath format): {path}"),
            str::to_string,
        );
        defs.push(json!({"name": c["name"], "type": c["type"],
            "format": c.get("format").cloned().unwrap_or(json!("")),
            "description": description, "priority": c.get("priority").cloned().unwrap_or(json!(0))}));
    }
    let cells = move |o: &Value| {
        let mut row = vec![name(o)];
        for c in &cols {
            let path = c.get("jsonPath").and_then(Value::as_str).unwrap_or("");
            let found = super::jsonpath::first(o, path);
            row.push(crd_cell(c.get("type").and_then(Value::as_str).unwrap_or(""), found, now));
        }
        row
    };
    (defs, Box::new(cells))
}

/// One CRD cell: the first value the path finds, as the column's type wants it.
fn crd_cell(type_: &str, v: Option<&Value>, now: Timestamp) -> Value {
    let Some(v) = v else { return Value::Null };
    match (type_, v) {
        ("string", Value::String(s)) => json!(s),
        ("string", Value::Object(_) | Value::Array(_)) => json!(v.to_string()),
        ("string", Value::Null) => Value::Null,
        ("string", other) => json!(other.to_string()),
        ("integer", Value::Number(n)) => json!(n.as_f64().map(|f| f as i64)),
        ("number", Value::Number(n)) => json!(n.as_f64()),
        ("boolean", Value::Bool(b)) => json!(b),
        ("date", Value::String(s)) if s.is_empty() || s == "null" => json!("<unknown>"),
        ("date", Value::String(s)) => json!(since(Some(s), now)),
        _ => Value::Null,
    }
}

fn int(o: &Value, p: &str) -> i64 {
    o.pointer(p).and_then(Value::as_i64).unwrap_or(0)
}

fn text(o: &Value, p: &str) -> String {
    o.pointer(p).and_then(Value::as_str).unwrap_or("").to_string()
}

fn or_none(s: String) -> String {
    if s.is_empty() { "<none>".into() } else { s }
}

/// `labels.FormatLabels`: `k=v,...` sorted, or `<none>`.
fn format_labels(m: Option<&Value>) -> String {
    let mut pairs: Vec<String> = m
        .and_then(Value::as_object)
        .into_iter()
        .flatten()
        .map(|(k, v)| format!("{k}={}", v.as_str().unwrap_or("")))
        .collect();
    pairs.sort();
    or_none(pairs.join(","))
}

/// The pod template's container names, images, and the selector (the wide columns of the
/// workloads).
fn template_cells(o: &Value) -> [Value; 3] {
    let containers: Vec<&Value> = o
        .pointer("/spec/template/spec/containers")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .collect();
    let join = |k: &str| {
        containers.iter().map(|c| c[k].as_str().unwrap_or("")).collect::<Vec<_>>().join(",")
    };
    let selector = o.pointer("/spec/selector").map(selector_string).unwrap_or_default();
    [json!(join("name")), json!(join("image")), json!(or_none(selector))]
}

const WIDE_TEMPLATE: [Col; 3] = [
    Col("Containers", "string", "", 1),
    Col("Images", "string", "", 1),
    Col("Selector", "string", "", 1),
];

/// The printer of a built-in kind (as `printers.go` has them), or the default table.
fn builtin(t: &ResourceType, now: Timestamp) -> (Vec<Value>, Cells) {
    let (cols, cells): (Vec<Col>, Cells) = match (t.group.as_str(), t.plural.as_str()) {
        ("apps", "deployments") => deployments_printer(now),
        ("apps", "daemonsets") => daemon_sets_printer(now),
        ("apps", "replicasets") => replica_sets_printer(now),
        ("", "pods") => pod_printer(now),
        ("", "services") => services_printer(now),
        ("", "configmaps") => config_maps_printer(now),
        ("", "secrets") => secrets_printer(now),
        ("", "serviceaccounts") => service_accounts_printer(now),
        ("", "namespaces") => namespaces_printer(now),
        ("", "events") | ("events.k8s.io", "events") => event_printer(now),
        ("batch", "cronjobs") => cron_jobs_printer(now),
        ("policy", "poddisruptionbudgets") => pod_disruption_budgets_printer(now),
        ("coordination.k8s.io", "leases") => leases_printer(now),
        ("rbac.authorization.k8s.io", "rolebindings" | "clusterrolebindings") => {
            bindings_printer(now)
        }
        ("networking.k8s.io", "networkpolicies") => network_policies_printer(now),
        ("networking.k8s.io", "ingresses") => ingresses_printer(now),
        ("networking.k8s.io", "ingressclasses") => ingress_classes_printer(now),
        _ => default_printer(),
    };
    (cols.iter().map(definition).collect(), cells)
}

fn deployments_printer(now: Timestamp) -> (Vec<Col>, Cells) {
    (
        [
            Col("Name", "string", "name", 0),
            Col("Ready", "string", "", 0),
            Col("Up-to-date", "string", "", 0),
            Col("Available", "string", "", 0),
            Col("Age", "string", "", 0),
        ]
        .into_iter()
        .chain(WIDE_TEMPLATE)
        .collect(),
        Box::new(move |o| {
            let ready = format!("{}/{}", int(o, "/status/readyReplicas"), int(o, "/spec/replicas"));
            let mut row = vec![
                name(o),
                json!(ready),
                json!(int(o, "/status/updatedReplicas")),
                json!(int(o, "/status/availableReplicas")),
                age(o, now),
            ];
            row.extend(template_cells(o));
            row
        }),
    )
}

fn daemon_sets_printer(now: Timestamp) -> (Vec<Col>, Cells) {
    (
        [
            Col("Name", "string", "name", 0),
            Col("Desired", "integer", "", 0),
            Col("Current", "integer", "", 0),
            Col("Ready", "integer", "", 0),
            Col("Up-to-date", "integer", "", 0),
            Col("Available", "integer", "", 0),
            Col("Node Selector", "string", "", 0),
            Col("Age", "string", "", 0),
        ]
        .into_iter()
        .chain(WIDE_TEMPLATE)
        .collect(),
        Box::new(move |o| {
            let mut row = vec![name(o)];
            for f in [
                "desiredNumberScheduled",
                "currentNumberScheduled",
                "numberReady",
                "updatedNumberScheduled",
                "numberAvailable",
            ] {
                row.push(json!(int(o, &format!("/status/{f}"))));
            }
            row.push(json!(format_labels(o.pointer("/spec/template/spec/nodeSelector"))));
            row.push(age(o, now));
            row.extend(template_cells(o));
            row
        }),
    )
}

fn replica_sets_printer(now: Timestamp) -> (Vec<Col>, Cells) {
    (
        [
            Col("Name", "string", "name", 0),
            Col("Desired", "integer", "", 0),
            Col("Current", "integer", "", 0),
            Col("Ready", "integer", "", 0),
            Col("Age", "string", "", 0),
        ]
        .into_iter()
        .chain(WIDE_TEMPLATE)
        .collect(),
        Box::new(move |o| {
            let mut row = vec![
                name(o),
                json!(int(o, "/spec/replicas")),
                json!(int(o, "/status/replicas")),
                json!(int(o, "/status/readyReplicas")),
                age(o, now),
            ];
            row.extend(template_cells(o));
            row
        }),
    )
}

fn services_printer(now: Timestamp) -> (Vec<Col>, Cells) {
    (
        vec![
            Col("Name", "string", "name", 0),
            Col("Type", "string", "", 0),
            Col("Cluster-IP", "string", "", 0),
            Col("External-IP", "string", "", 0),
            Col("Port(s)", "string", "", 0),
            Col("Age", "string", "", 0),
            Col("Selector", "string", "", 1),
        ],
        Box::new(move |o| {
            vec![
                name(o),
                json!(text(o, "/spec/type")),
                json!(or_none(
                    o.pointer("/spec/clusterIPs/0")
                        .and_then(Value::as_str)
                        .unwrap_or("")
                        .to_string()
                )),
                json!(external_ips(o)),
                json!(ports(o)),
                age(o, now),
                json!(format_labels(o.pointer("/spec/selector"))),
            ]
        }),
    )
}

fn config_maps_printer(now: Timestamp) -> (Vec<Col>, Cells) {
    (
        vec![
            Col("Name", "string", "name", 0),
            Col("Data", "string", "", 0),
            Col("Age", "string", "", 0),
        ],
        Box::new(move |o| {
            let n = |k: &str| o.get(k).and_then(Value::as_object).map_or(0, |m| m.len());
            vec![name(o), json!(n("data") + n("binaryData")), age(o, now)]
        }),
    )
}

fn secrets_printer(now: Timestamp) -> (Vec<Col>, Cells) {
    (
        vec![
            Col("Name", "string", "name", 0),
            Col("Type", "string", "", 0),
            Col("Data", "string", "", 0),
            Col("Age", "string", "", 0),
        ],
        Box::new(move |o| {
            let n = o.get("data").and_then(Value::as_object).map_or(0, |m| m.len());
            vec![name(o), json!(text(o, "/type")), json!(n), age(o, now)]
        }),
    )
}

fn service_accounts_printer(now: Timestamp) -> (Vec<Col>, Cells) {
    (
        vec![
            Col("Name", "string", "name", 0),
            Col("Secrets", "string", "", 0),
            Col("Age", "string", "", 0),
        ],
        Box::new(move |o| {
            let n = o.get("secrets").and_then(Value::as_array).map_or(0, Vec::len);
            vec![name(o), json!(n), age(o, now)]
        }),
    )
}

fn namespaces_printer(now: Timestamp) -> (Vec<Col>, Cells) {
    (
        vec![
            Col("Name", "string", "name", 0),
            Col("Status", "string", "", 0),
            Col("Age", "string", "", 0),
        ],
        Box::new(move |o| vec![name(o), json!(text(o, "/status/phase")), age(o, now)]),
    )
}

fn cron_jobs_printer(now: Timestamp) -> (Vec<Col>, Cells) {
    (
        [
            Col("Name", "string", "name", 0),
            Col("Schedule", "string", "", 0),
            Col("Timezone", "string", "", 0),
            Col("Suspend", "boolean", "", 0),
            Col("Active", "integer", "", 0),
            Col("Last Schedule", "string", "", 0),
            Col("Age", "string", "", 0),
        ]
        .into_iter()
        .chain(WIDE_TEMPLATE)
        .collect(),
        Box::new(move |o| {
            let suspend = match o.pointer("/spec/suspend") {
                Some(Value::Bool(true)) => "True",
                Some(Value::Bool(false)) => "False",
                _ => "<unset>",
            };
            let last = o.pointer("/status/lastScheduleTime").and_then(Value::as_str);
            let mut row = vec![
                name(o),
                json!(text(o, "/spec/schedule")),
                json!(or_none(text(o, "/spec/timeZone"))),
                json!(suspend),
                json!(o.pointer("/status/active").and_then(Value::as_array).map_or(0, Vec::len)),
                json!(last.map_or("<none>".into(), |l| since(Some(l), now))),
                age(o, now),
            ];
            let job = o.pointer("/spec/jobTemplate").cloned().unwrap_or_default();
            row.extend(template_cells(&job));
            row
        }),
    )
}

fn pod_disruption_budgets_printer(now: Timestamp) -> (Vec<Col>, Cells) {
    (
        vec![
            Col("Name", "string", "name", 0),
            Col("Min Available", "string", "", 0),
            Col("Max Unavailable", "string", "", 0),
            Col("Allowed Disruptions", "integer", "", 0),
            Col("Age", "string", "", 0),
        ],
        Box::new(move |o| {
            let v = |p: &str| match o.pointer(p) {
                Some(Value::String(s)) => s.clone(),
                Some(Value::Number(n)) => n.to_string(),
                _ => "N/A".into(),
            };
            vec![
                name(o),
                json!(v("/spec/minAvailable")),
                json!(v("/spec/maxUnavailable")),
                json!(int(o, "/status/disruptionsAllowed")),
                age(o, now),
            ]
        }),
    )
}

fn leases_printer(now: Timestamp) -> (Vec<Col>, Cells) {
    (
        vec![
            Col("Name", "string", "name", 0),
            Col("Holder", "string", "", 0),
            Col("Age", "string", "", 0),
        ],
        Box::new(move |o| vec![name(o), json!(text(o, "/spec/holderIdentity")), age(o, now)]),
    )
}

fn bindings_printer(now: Timestamp) -> (Vec<Col>, Cells) {
    (
        vec![
            Col("Name", "string", "name", 0),
            Col("Role", "string", "", 0),
            Col("Age", "string", "", 0),
            Col("Users", "string", "", 1),
            Col("Groups", "string", "", 1),
            Col("ServiceAccounts", "string", "", 1),
        ],
        Box::new(move |o| binding_cells(o, now)),
    )
}

fn network_policies_printer(now: Timestamp) -> (Vec<Col>, Cells) {
    (
        vec![
            Col("Name", "string", "name", 0),
            Col("Pod-Selector", "string", "", 0),
            Col("Age", "string", "", 0),
        ],
        Box::new(move |o| {
            let s = o.pointer("/spec/podSelector").map(selector_string).unwrap_or_default();
            vec![name(o), json!(or_none(s)), age(o, now)]
        }),
    )
}

fn ingresses_printer(now: Timestamp) -> (Vec<Col>, Cells) {
    (
        vec![
            Col("Name", "string", "name", 0),
            Col("Class", "string", "", 0),
            Col("Hosts", "string", "", 0),
            Col("Address", "string", "", 0),
            Col("Ports", "string", "", 0),
            Col("Age", "string", "", 0),
        ],
        Box::new(move |o| {
            let class = or_none(text(o, "/spec/ingressClassName"));
            let rules =
                o.pointer("/spec/rules").and_then(Value::as_array).cloned().unwrap_or_default();
            // formatHosts: at most three, then how many more rules there are.
            let hosts: Vec<&str> = rules
                .iter()
                .take(3)
                .filter_map(|r| r.get("host").and_then(Value::as_str).filter(|h| !h.is_empty()))
                .collect();
            let hosts = match (hosts.is_empty(), rules.len() > 3) {
                (true, _) => "*".to_string(),
                (false, true) => format!("{} + {} more...", hosts.join(","), rules.len() - 3),
                (false, false) => hosts.join(","),
            };
            let mut addresses: Vec<String> = o
                .pointer("/status/loadBalancer/ingress")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|i| {
                    let ip = i.get("ip").and_then(Value::as_str).filter(|s| !s.is_empty());
                    ip.or_else(|| {
                        i.get("hostname").and_then(Value::as_str).filter(|s| !s.is_empty())
                    })
                })
                .map(str::to_string)
                .collect();
            addresses.sort();
            addresses.dedup();
            let mut address = addresses.join(",");
            if address.len() > 16 {
                address = format!("{}...", &address[..13]);
            }
            let tls =
                o.pointer("/spec/tls").and_then(Value::as_array).is_some_and(|t| !t.is_empty());
            let ports = if tls { "80, 443" } else { "80" };
            vec![name(o), json!(class), json!(hosts), json!(address), json!(ports), age(o, now)]
        }),
    )
}

fn ingress_classes_printer(now: Timestamp) -> (Vec<Col>, Cells) {
    (
        vec![
            Col("Name", "string", "name", 0),
            Col("Controller", "string", "", 0),
            Col("Parameters", "string", "", 0),
            Col("Age", "string", "", 0),
        ],
        Box::new(move |o| {
            let parameters = match o.pointer("/spec/parameters").filter(|p| !p.is_null()) {
                None => "<none>".to_string(),
                Some(p) => {
                    let kind = text(p, "/kind");
                    let group = p.get("apiGroup").and_then(Value::as_str);
                    let kind = group.map_or(kind.clone(), |g| format!("{kind}.{g}"));
                    format!("{kind}/{}", text(p, "/name"))
                }
            };
            vec![name(o), json!(text(o, "/spec/controller")), json!(parameters), age(o, now)]
        }),
    )
}

fn default_printer() -> (Vec<Col>, Cells) {
    (
        vec![Col("Name", "string", "name", 0), Col("Created At", "date", "", 0)],
        Box::new(|o| {
            vec![name(o), o.pointer("/metadata/creationTimestamp").cloned().unwrap_or(Value::Null)]
        }),
    )
}

/// A Service's EXTERNAL-IP.
fn external_ips(o: &Value) -> String {
    let list = |p: &str, k: Option<&str>| -> Vec<String> {
        o.pointer(p)
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter_map(|v| match k {
                Some(k) => v.get(k).and_then(Value::as_str).map(str::to_string),
                None => v.as_str().map(str::to_string),
            })
            .collect()
    };
    let external = list("/spec/externalIPs", None);
    match text(o, "/spec/type").as_str() {
        "ClusterIP" | "NodePort" | "" => or_none(external.join(",")),
        "LoadBalancer" => {
            let mut all = list("/status/loadBalancer/ingress", Some("ip"));
            all.extend(list("/status/loadBalancer/ingress", Some("hostname")));
            all.extend(external);
            if all.is_empty() { "<pending>".into() } else { all.join(",") }
        }
        "ExternalName" => text(o, "/spec/externalName"),
        _ => "<unknown>".into(),
    }
}

/// A Service's PORT(S): `5000/TCP`, `80:30080/TCP`.
fn ports(o: &Value) -> String {
    let ports: Vec<String> = o
        .pointer("/spec/ports")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .map(|p| {
            let proto = p["protocol"].as_str().unwrap_or("TCP");
            match p["nodePort"].as_i64().filter(|n| *n > 0) {
                Some(n) => format!("{}:{n}/{proto}", p["port"]),
                None => format!("{}/{proto}", p["port"]),
            }
        })
        .collect();
    or_none(ports.join(","))
}

/// A RoleBinding's or ClusterRoleBinding's cells.
fn binding_cells(o: &Value, now: Timestamp) -> Vec<Value> {
    let role = format!("{}/{}", text(o, "/roleRef/kind"), text(o, "/roleRef/name"));
    let subjects: Vec<&Value> =
        o.get("subjects").and_then(Value::as_array).into_iter().flatten().collect();
    let of = |kind: &str| {
        subjects
            .iter()
            .filter(|s| s["kind"] == kind)
            .map(|s| match s["namespace"].as_str() {
                Some(ns) if kind == "ServiceAccount" => {
                    format!("{ns}/{}", s["name"].as_str().unwrap_or(""))
                }
                _ => s["name"].as_str().unwrap_or("").to_string(),
            })
            .collect::<Vec<_>>()
            .join(", ")
    };
    vec![
        name(o),
        json!(role),
        age(o, now),
        json!(of("User")),
        json!(of("Group")),
        json!(of("ServiceAccount")),
    ]
}

/// The Pod printer: READY, STATUS (phase or reason, overridden by a container's waiting or
/// terminated reason, Terminating when deleted), RESTARTS, AGE; wide: IP, NODE, NOMINATED
/// NODE, READINESS GATES.
fn pod_printer(now: Timestamp) -> (Vec<Col>, Cells) {
    let cols = vec![
        Col("Name", "string", "name", 0),
        Col("Ready", "string", "", 0),
        Col("Status", "string", "", 0),
        Col("Restarts", "string", "", 0),
        Col("Age", "string", "", 0),
        Col("IP", "string", "", 1),
        Col("Node", "string", "", 1),
        Col("Nominated Node", "string", "", 1),
        Col("Readiness Gates", "string", "", 1),
    ];
    let cells = move |o: &Value| {
        let total = o.pointer("/spec/containers").and_then(Value::as_array).map_or(0, Vec::len);
        let statuses: Vec<&Value> = o
            .pointer("/status/containerStatuses")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .collect();
        let ready = statuses.iter().filter(|s| s["ready"] == true).count();
        let restarts: i64 = statuses.iter().map(|s| s["restartCount"].as_i64().unwrap_or(0)).sum();
        let mut status = text(o, "/status/reason");
        if status.is_empty() {
            status = text(o, "/status/phase");
        }
        for s in statuses.iter().rev() {
            if let Some(r) = s.pointer("/state/waiting/reason").and_then(Value::as_str) {
                status = r.to_string();
            } else if let Some(r) = s.pointer("/state/terminated/reason").and_then(Value::as_str) {
                status = r.to_string();
            }
        }
        if o.pointer("/metadata/deletionTimestamp").is_some()
            && !matches!(status.as_str(), "Succeeded" | "Failed")
        {
            status = "Terminating".into();
        }
        let gates = o.pointer("/spec/readinessGates").and_then(Value::as_array).map_or(0, Vec::len);
        vec![
            name(o),
            json!(format!("{ready}/{total}")),
            json!(status),
            json!(restarts.to_string()),
            age(o, now),
            json!(or_none(
                o.pointer("/status/podIPs/0/ip").and_then(Value::as_str).unwrap_or("").to_string()
            )),
            json!(or_none(text(o, "/spec/nodeName"))),
            json!(or_none(text(o, "/status/nominatedNodeName"))),
            json!(if gates == 0 { "<none>".to_string() } else { format!("0/{gates}") }),
        ]
    };
    (cols, Box::new(cells))
}

/// The Event printer: LAST SEEN, TYPE, REASON, OBJECT (`kind/name`, lower-cased kind),
/// MESSAGE; wide: SUBOBJECT, SOURCE, FIRST SEEN, COUNT, NAME.
fn event_printer(now: Timestamp) -> (Vec<Col>, Cells) {
    let cols = vec![
        Col("Last Seen", "string", "", 0),
        Col("Type", "string", "", 0),
        Col("Reason", "string", "", 0),
        Col("Object", "string", "", 0),
        Col("Subobject", "string", "", 1),
        Col("Source", "string", "", 1),
        Col("Message", "string", "", 0),
        Col("First Seen", "string", "", 1),
        Col("Count", "string", "", 1),
        Col("Name", "string", "name", 1),
    ];
    let cells = move |o: &Value| {
        let at = |p: &str| o.pointer(p).and_then(Value::as_str).filter(|s| !s.is_empty());
        let first = at("/firstTimestamp").or_else(|| at("/eventTime"));
        let last = at("/series/lastObservedTime").or_else(|| at("/lastTimestamp")).or(first);
        let count = o.pointer("/series/count").or_else(|| o.get("count")).and_then(Value::as_i64);
        let kind = text(o, "/involvedObject/kind").to_lowercase();
        let object = match text(o, "/involvedObject/name") {
            n if n.is_empty() => kind,
            n => format!("{kind}/{n}"),
        };
        let mut source = text(o, "/source/component");
        if source.is_empty() {
            source = text(o, "/reportingComponent");
        }
        vec![
            json!(since(last, now)),
            json!(text(o, "/type")),
            json!(text(o, "/reason")),
            json!(object),
            json!(text(o, "/involvedObject/fieldPath")),
            json!(source),
            json!(text(o, "/message").trim()),
            json!(since(first, now)),
            json!(count.filter(|c| *c != 0).unwrap_or(1)),
            name(o),
        ]
    };
    (cols, Box::new(cells))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn human_durations() {
        for (s, want) in [
            (-5, "<invalid>"),
            (-1, "0s"),
            (0, "0s"),
            (119, "119s"),
            (120, "2m"),
            (125, "2m5s"),
            (600, "10m"),
            (3 * 3600, "3h"),
            (3 * 3600 + 60, "3h1m"),
            (9 * 3600, "9h"),
            (50 * 3600, "2d2h"),
            (48 * 3600, "2d"),
            (10 * 86400, "10d"),
            (800 * 86400, "2y70d"),
            (9 * 365 * 86400, "9y"),
        ] {
            assert_eq!(human_duration(s), want, "{s}");
        }
    }

    #[test]
    fn accept_headers() {
        let kubectl = "application/json;as=Table;v=v1;g=meta.k8s.io,application/json;as=Table;v=v1beta1;g=meta.k8s.io,application/json";
        assert_eq!(wanted(kubectl), Some("v1"));
        assert_eq!(wanted("application/json;as=Table;v=v1beta1;g=meta.k8s.io"), Some("v1beta1"));
        assert_eq!(wanted("application/json"), None);
        assert!(Include::parse(Some("Bogus")).is_err());
    }
}
