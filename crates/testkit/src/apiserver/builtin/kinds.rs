//! Validation of each built-in kind on create and update, as kube-apiserver's
//! `Validate<Kind>` and `Validate<Kind>Update` do it (k8s.io/kubernetes/pkg/apis/*/validation):
//! metadata, the kind's spec rules, and the fields that may not change.

use serde_json::Value;

use super::pod;
use super::rules::{self, check};
use crate::field::{Cause, child, index, key};

fn str_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn items<'a>(v: Option<&'a Value>, k: &str) -> impl Iterator<Item = (usize, &'a Value)> {
    v.and_then(|v| v.get(k)).and_then(Value::as_array).into_iter().flatten().enumerate()
}

/// The rule for the names of objects of type `key`.
fn name_rule(key: &str) -> rules::NameRule {
    match key {
        "/services" | "/namespaces" => {
            if key == "/services" {
                rules::dns1035_label
            } else {
                rules::dns1123_label
            }
        }
        k if k.starts_with("rbac.authorization.k8s.io/") => rules::path_segment,
        _ => rules::dns1123_subdomain,
    }
}

/// `ValidateObjectMeta`: name, labels, annotations, finalizers, owner references.
pub fn meta(key: &str, obj: &Value, out: &mut Vec<Cause>) {
    let m = obj.get("metadata").unwrap_or(&Value::Null);
    let name = str_of(m, "name");
    if name.is_empty() {
        out.push(Cause::required("metadata.name", "name or generateName is required"));
    } else {
        check(name_rule(key), "metadata.name", name, out);
        if key == "batch/cronjobs" && name.len() > 52 {
            out.push(Cause::invalid(
                "metadata.name",
                &Value::String(name.into()),
                "must be no more than 52 characters",
            ));
        }
    }
    rules::labels("metadata.labels", m.get("labels"), out);
    rules::annotations("metadata.annotations", m.get("annotations"), out);
    for (i, f) in items(Some(m), "finalizers") {
        let f = f.as_str().unwrap_or("");
        check(rules::qualified_name, &index("metadata.finalizers", i), f, out);
    }
    for (i, r) in items(Some(m), "ownerReferences") {
        let at = index("metadata.ownerReferences", i);
        for k in ["apiVersion", "kind", "name", "uid"] {
            if str_of(r, k).is_empty() {
                out.push(Cause::invalid(
                    &child(&at, k),
                    &Value::String(String::new()),
                    &format!("{k} must not be empty"),
                ));
            }
        }
    }
}

/// The kind's own rules on create (and, as upstream, again on update).
pub fn validate(key: &str, obj: &Value, out: &mut Vec<Cause>) {
    let spec = obj.get("spec");
    match key {
        "apps/deployments" => deployment(spec, out),
        "apps/replicasets" => {
            replicas(spec, out);
            selected_template("spec", spec, "deployment", out);
        }
        "apps/daemonsets" => daemonset(spec, out),
        "batch/cronjobs" => cronjob(spec, out),
        "batch/jobs" => job_spec("spec", spec, true, out),
        "/pods" => pod::spec_rules("spec", spec.unwrap_or(&Value::Null), true, out),
        "/services" => service(spec, out),
        "/secrets" => secret(obj, out),
        "/configmaps" => configmap(obj, out),
        "/persistentvolumeclaims" => pvc(spec, out),
        "policy/poddisruptionbudgets" => pdb(spec, out),
        "networking.k8s.io/networkpolicies" => network_policy(spec, out),
        "networking.k8s.io/ingressclasses" => super::networking::ingress_class(obj, out),
        "rbac.authorization.k8s.io/roles" => rbac_rules(obj, true, out),
        "rbac.authorization.k8s.io/clusterroles" => rbac_rules(obj, false, out),
        "rbac.authorization.k8s.io/rolebindings" => binding(obj, true, out),
        "rbac.authorization.k8s.io/clusterrolebindings" => binding(obj, false, out),
        "coordination.k8s.io/leases" => {
            rules::positive(
                "spec.leaseDurationSeconds",
                spec.and_then(|s| s.get("leaseDurationSeconds")),
                out,
            );
            rules::non_negative(
                "spec.leaseTransitions",
                spec.and_then(|s| s.get("leaseTransitions")),
                out,
            );
        }
        "/events" => event(obj, out),
        "/namespaces" => {
            for (i, f) in items(spec, "finalizers") {
                check(
                    rules::qualified_name,
                    &index("spec.finalizers", i),
                    f.as_str().unwrap_or(""),
                    out,
                );
            }
        }
        _ => {}
    }
}

/// The fields that may not change on update.
pub fn update(key: &str, new: &Value, old: &Value, out: &mut Vec<Cause>) {
    match key {
        "apps/deployments" | "apps/daemonsets" | "apps/replicasets" | "apps/statefulsets" => {
            rules::immutable(
                "spec.selector",
                new.pointer("/spec/selector"),
                old.pointer("/spec/selector"),
                out,
            );
        }
        "batch/jobs" => job_update(new, old, out),
        "/services" => service_update(new, old, out),
        "/secrets" | "/configmaps" => data_update(key == "/secrets", new, old, out),
        "/persistentvolumeclaims" => pvc_update(new, old, out),
        "rbac.authorization.k8s.io/rolebindings"
        | "rbac.authorization.k8s.io/clusterrolebindings" => role_ref_update(new, old, out),
        "/pods" => pod_update(new, old, out),
        "networking.k8s.io/ingressclasses" => {
            super::networking::ingress_class_update(new, old, out)
        }
        _ => {}
    }
}

/// A Job's selector, template and completions may not change.
fn job_update(new: &Value, old: &Value, out: &mut Vec<Cause>) {
    for (p, f) in [
        ("/spec/selector", "spec.selector"),
        ("/spec/template", "spec.template"),
        ("/spec/completions", "spec.completions"),
    ] {
        if new.pointer(p) != old.pointer(p) {
            rules::immutable(f, new.pointer(p), old.pointer(p), out);
        }
    }
}

/// A Service's first cluster IP may not change once set (but for ExternalName services).
fn service_update(new: &Value, old: &Value, out: &mut Vec<Cause>) {
    let old_ip = str_of(old.get("spec").unwrap_or(&Value::Null), "clusterIP");
    let ty = new.pointer("/spec/type").and_then(Value::as_str).unwrap_or("");
    if !old_ip.is_empty()
        && ty != "ExternalName"
        && new.pointer("/spec/clusterIPs/0") != old.pointer("/spec/clusterIPs/0")
    {
        out.push(Cause::invalid(
            "spec.clusterIPs[0]",
            new.pointer("/spec/clusterIPs/0").unwrap_or(&Value::Null),
            "may not change once set",
        ));
    }
}

/// A Secret's type may not change; an `immutable` Secret or ConfigMap keeps its data,
/// binaryData and immutable flag.
fn data_update(secret: bool, new: &Value, old: &Value, out: &mut Vec<Cause>) {
    if secret && new.get("type") != old.get("type") {
        rules::immutable("type", new.get("type"), old.get("type"), out);
    }
    if old.get("immutable") == Some(&Value::Bool(true)) {
        let msg = "field is immutable when `immutable` is set";
        for f in ["data", "binaryData"] {
            if new.get(f) != old.get(f) {
                out.push(Cause::forbidden(f, msg));
            }
        }
        if new.get("immutable") != old.get("immutable") {
            out.push(Cause::forbidden("immutable", msg));
        }
    }
}

/// A PersistentVolumeClaim's spec may change only in resources.requests and
/// volumeAttributesClassName.
fn pvc_update(new: &Value, old: &Value, out: &mut Vec<Cause>) {
    let strip = |v: &Value| {
        let mut s = v.get("spec").cloned().unwrap_or(Value::Null);
        if let Some(m) = s.as_object_mut() {
            m.remove("volumeAttributesClassName");
            if let Some(r) = m.get_mut("resources").and_then(Value::as_object_mut) {
                r.remove("requests");
            }
        }
        s
    };
    if strip(new) != strip(old) {
        out.push(Cause::forbidden(
            "spec",
            "spec is immutable after creation except resources.requests and volumeAttributesClassName for bound claims",
        ));
    }
}

/// A (Cluster)RoleBinding's roleRef may not change.
fn role_ref_update(new: &Value, old: &Value, out: &mut Vec<Cause>) {
    if new.get("roleRef") != old.get("roleRef") {
        out.push(Cause::invalid(
            "roleRef",
            &new.get("roleRef").cloned().unwrap_or(Value::Null),
            "cannot change roleRef",
        ));
    }
}

/// A Pod's spec may change only in container images, activeDeadlineSeconds and
/// tolerations.
fn pod_update(new: &Value, old: &Value, out: &mut Vec<Cause>) {
    let strip = |v: &Value| {
        let mut s = v.get("spec").cloned().unwrap_or(Value::Null);
        for list in ["containers", "initContainers"] {
            for c in s.get_mut(list).and_then(Value::as_array_mut).into_iter().flatten() {
                if let Some(c) = c.as_object_mut() {
                    c.remove("image");
                }
            }
        }
        if let Some(m) = s.as_object_mut() {
            m.remove("activeDeadlineSeconds");
            m.remove("tolerations");
        }
        s
    };
    if strip(new) != strip(old) {
        out.push(Cause::forbidden("spec", "pod updates may not change fields other than `spec.containers[*].image`, `spec.initContainers[*].image`, `spec.activeDeadlineSeconds`, `spec.tolerations` (only additions to existing tolerations) or `spec.terminationGracePeriodSeconds` (allow it to be set to 1 if it was previously negative)"));
    }
}

fn replicas(spec: Option<&Value>, out: &mut Vec<Cause>) {
    rules::non_negative("spec.replicas", spec.and_then(|s| s.get("replicas")), out);
    rules::non_negative("spec.minReadySeconds", spec.and_then(|s| s.get("minReadySeconds")), out);
    rules::non_negative(
        "spec.revisionHistoryLimit",
        spec.and_then(|s| s.get("revisionHistoryLimit")),
        out,
    );
}

/// The selector (required, not empty, valid) and a template it selects.
fn selected_template(path: &str, spec: Option<&Value>, what: &str, out: &mut Vec<Cause>) {
    let sel_path = child(path, "selector");
    let template = spec.and_then(|s| s.get("template"));
    match spec.and_then(|s| s.get("selector")) {
        None => out.push(Cause::required(&sel_path, "")),
        Some(sel) if rules::selector_empty(sel) => out.push(Cause::invalid(
            &sel_path,
            sel,
            &format!("empty selector is invalid for {what}"),
        )),
        Some(sel) => {
            rules::label_selector(&sel_path, Some(sel), out);
            let labels = template
                .and_then(|t| t.pointer("/metadata/labels"))
                .cloned()
                .unwrap_or(Value::Null);
            if !rules::selector_matches(sel, &labels) {
                out.push(Cause::invalid(
                    &child(path, "template.metadata.labels"),
                    &labels,
                    "`selector` does not match template `labels`",
                ));
            }
        }
    }
    pod::template(&child(path, "template"), template, &["Always"], out);
}

fn deployment(spec: Option<&Value>, out: &mut Vec<Cause>) {
    replicas(spec, out);
    selected_template("spec", spec, "deployment", out);
    let Some(spec) = spec else { return };
    if let Some(st) = spec.get("strategy") {
        let ty = st.get("type");
        rules::one_of("spec.strategy.type", ty, &["Recreate", "RollingUpdate"], out);
        let ru = st.get("rollingUpdate");
        if ty == Some(&Value::String("Recreate".into())) && ru.is_some() {
            out.push(Cause::forbidden(
                "spec.strategy.rollingUpdate",
                "may not be specified when strategy `type` is 'Recreate'",
            ));
        } else if let Some(ru) = ru {
            rolling_update("spec.strategy.rollingUpdate", ru, out);
        }
    }
    if let Some(p) = spec.get("progressDeadlineSeconds") {
        let min_ready = spec.get("minReadySeconds").and_then(Value::as_i64).unwrap_or(0);
        if p.as_i64().is_some_and(|n| n <= min_ready) {
            out.push(Cause::invalid(
                "spec.progressDeadlineSeconds",
                p,
                "must be greater than minReadySeconds",
            ));
        }
    }
}

fn rolling_update(path: &str, ru: &Value, out: &mut Vec<Cause>) {
    let (mu_path, ms_path) = (child(path, "maxUnavailable"), child(path, "maxSurge"));
    let mu = rules::int_or_percent(&mu_path, ru.get("maxUnavailable"), out);
    rules::not_over_100_percent(&mu_path, ru.get("maxUnavailable"), out);
    let ms = rules::int_or_percent(&ms_path, ru.get("maxSurge"), out);
    if mu.unwrap_or(-1) == 0 && ms.unwrap_or(0) == 0 && ru.get("maxUnavailable").is_some() {
        out.push(Cause::invalid(
            &mu_path,
            &ru["maxUnavailable"],
            "may not be 0 when `maxSurge` is 0",
        ));
    }
}

fn daemonset(spec: Option<&Value>, out: &mut Vec<Cause>) {
    rules::non_negative("spec.minReadySeconds", spec.and_then(|s| s.get("minReadySeconds")), out);
    rules::non_negative(
        "spec.revisionHistoryLimit",
        spec.and_then(|s| s.get("revisionHistoryLimit")),
        out,
    );
    selected_template("spec", spec, "daemonset", out);
    if let Some(st) = spec.and_then(|s| s.get("updateStrategy")) {
        rules::one_of(
            "spec.updateStrategy.type",
            st.get("type"),
            &["OnDelete", "RollingUpdate"],
            out,
        );
        if let Some(ru) = st.get("rollingUpdate") {
            rolling_update("spec.updateStrategy.rollingUpdate", ru, out);
        }
    }
}

fn job_spec(path: &str, spec: Option<&Value>, own_selector: bool, out: &mut Vec<Cause>) {
    for k in ["parallelism", "completions", "backoffLimit"] {
        rules::non_negative(&child(path, k), spec.and_then(|s| s.get(k)), out);
    }
    rules::positive(
        &child(path, "activeDeadlineSeconds"),
        spec.and_then(|s| s.get("activeDeadlineSeconds")),
        out,
    );
    rules::one_of(
        &child(path, "completionMode"),
        spec.and_then(|s| s.get("completionMode")),
        &["NonIndexed", "Indexed"],
        out,
    );
    if own_selector && let Some(sel) = spec.and_then(|s| s.get("selector")) {
        rules::label_selector(&child(path, "selector"), Some(sel), out);
    }
    pod::template(
        &child(path, "template"),
        spec.and_then(|s| s.get("template")),
        &["OnFailure", "Never"],
        out,
    );
}

fn cronjob(spec: Option<&Value>, out: &mut Vec<Cause>) {
    let Some(spec) = spec else { return };
    match spec.get("schedule").and_then(Value::as_str) {
        None | Some("") => out.push(Cause::required("spec.schedule", "")),
        Some(s) => {
            if let Err(e) = cron(s) {
                out.push(Cause::invalid("spec.schedule", &Value::String(s.into()), &e));
            }
        }
    }
    rules::one_of(
        "spec.concurrencyPolicy",
        spec.get("concurrencyPolicy"),
        &["Allow", "Forbid", "Replace"],
        out,
    );
    for k in ["successfulJobsHistoryLimit", "failedJobsHistoryLimit", "startingDeadlineSeconds"] {
        rules::non_negative(&child("spec", k), spec.get(k), out);
    }
    if let Some(tz) = spec.get("timeZone").and_then(Value::as_str)
        && (tz.is_empty() || tz.contains(' ') || tz.starts_with('/') || tz.contains(".."))
    {
        out.push(Cause::invalid("spec.timeZone", &Value::String(tz.into()), "unknown time zone"));
    }
    let jt = spec.get("jobTemplate");
    rules::labels(
        "spec.jobTemplate.metadata.labels",
        jt.and_then(|j| j.pointer("/metadata/labels")),
        out,
    );
    job_spec("spec.jobTemplate.spec", jt.and_then(|j| j.get("spec")), false, out);
}

/// A cron schedule, as robfig/cron's standard parser reads it.
pub fn cron(s: &str) -> Result<(), String> {
    let s = s.trim();
    if s.starts_with("TZ=") || s.starts_with("CRON_TZ=") {
        return Err("cannot use TZ or CRON_TZ in schedule, use timeZone field instead".into());
    }
    if let Some(d) = s.strip_prefix('@') {
        return match d {
            "yearly" | "annually" | "monthly" | "weekly" | "daily" | "midnight" | "hourly" => {
                Ok(())
            }
            _ if d.starts_with("every ") => Ok(()),
            _ => Err(format!("unrecognized descriptor: {s}")),
        };
    }
    let fields: Vec<&str> = s.split_whitespace().collect();
    if fields.len() != 5 {
        return Err(format!("expected exactly 5 fields, found {}: {s}", fields.len()));
    }
    const MONTHS: &[&str] =
        &["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"];
    const DAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
    let bounds: [(u32, u32, &[&str], u32); 5] =
        [(0, 59, &[], 0), (0, 23, &[], 0), (1, 31, &[], 0), (1, 12, MONTHS, 1), (0, 6, DAYS, 0)];
    for (f, (lo, hi, names, base)) in fields.iter().zip(bounds) {
        for part in f.split(',') {
            let (range, step) = match part.split_once('/') {
                Some((r, st)) => (r, Some(st)),
                None => (part, None),
            };
            if let Some(st) = step
                && st.parse::<u32>().map_or(true, |n| n == 0)
            {
                return Err(format!("failed to parse int from {st}"));
            }
            if range == "*" || range == "?" {
                continue;
            }
            let num = |x: &str| -> Result<u32, String> {
                if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(x)) {
                    return Ok(i as u32 + base);
                }
                x.parse::<u32>().map_err(|_| format!("failed to parse int from {x}"))
            };
            let (a, b) = match range.split_once('-') {
                Some((a, b)) => (num(a)?, num(b)?),
                None => {
                    let n = num(range)?;
                    (n, n)
                }
            };
            if a < lo {
                return Err(format!("beginning of range ({a}) below minimum ({lo}): {part}"));
            }
            if b > hi {
                return Err(format!("end of range ({b}) above maximum ({hi}): {part}"));
            }
            if a > b {
                return Err(format!("beginning of range ({a}) beyond end of range ({b}): {part}"));
            }
        }
    }
    Ok(())
}

fn is_ip(s: &str) -> bool {
    s.parse::<std::net::IpAddr>().is_ok()
}

/// `ValidateService`: type, session affinity, ports, cluster IPs, selector, IP families,
/// traffic policies and external name.
fn service(spec: Option<&Value>, out: &mut Vec<Cause>) {
    let Some(spec) = spec else {
        out.push(Cause::required("spec.ports", ""));
        return;
    };
    let ty = str_of(spec, "type");
    rules::one_of(
        "spec.type",
        spec.get("type"),
        &["ClusterIP", "ExternalName", "LoadBalancer", "NodePort"],
        out,
    );
    rules::one_of("spec.sessionAffinity", spec.get("sessionAffinity"), &["ClientIP", "None"], out);
    service_ports(spec, ty, out);
    service_cluster_ips(spec, out);
    rules::labels("spec.selector", spec.get("selector"), out);
    rules::one_of(
        "spec.ipFamilyPolicy",
        spec.get("ipFamilyPolicy"),
        &["SingleStack", "PreferDualStack", "RequireDualStack"],
        out,
    );
    for (i, f) in items(Some(spec), "ipFamilies") {
        rules::one_of(&index("spec.ipFamilies", i), Some(f), &["IPv4", "IPv6"], out);
    }
    service_traffic_policies(spec, ty, out);
    if ty == "ExternalName" && str_of(spec, "externalName").is_empty() {
        out.push(Cause::required("spec.externalName", ""));
    }
}

/// A Service's ports: required unless ExternalName or headless; each one's name (required
/// and unique when there are several), port, protocol, targetPort and nodePort.
fn service_ports(spec: &Value, ty: &str, out: &mut Vec<Cause>) {
    let headless = str_of(spec, "clusterIP") == "None";
    let ports = spec.get("ports").and_then(Value::as_array);
    if ty != "ExternalName" && !headless && ports.is_none_or(Vec::is_empty) {
        out.push(Cause::required("spec.ports", ""));
    }
    let many = ports.is_some_and(|p| p.len() > 1);
    let mut names = std::collections::BTreeSet::new();
    for (i, p) in items(Some(spec), "ports") {
        let at = index("spec.ports", i);
        let name = str_of(p, "name");
        if name.is_empty() {
            if many {
                out.push(Cause::required(&child(&at, "name"), ""));
            }
        } else {
            check(rules::dns1123_label, &child(&at, "name"), name, out);
            if !names.insert(name.to_string()) {
                out.push(Cause::duplicate(&child(&at, "name"), &Value::String(name.into())));
            }
        }
        rules::port_number(&child(&at, "port"), p.get("port").unwrap_or(&Value::Null), out);
        rules::one_of(&child(&at, "protocol"), p.get("protocol"), &["SCTP", "TCP", "UDP"], out);
        if let Some(tp) = p.get("targetPort") {
            rules::port_or_name(&child(&at, "targetPort"), tp, out);
        }
        if let Some(np) = p.get("nodePort").filter(|n| n.as_i64() != Some(0)) {
            rules::port_number(&child(&at, "nodePort"), np, out);
        }
    }
}

/// A Service's clusterIPs: IP addresses (the first may be `None`), the first one equal to
/// `clusterIP`.
fn service_cluster_ips(spec: &Value, out: &mut Vec<Cause>) {
    for (i, ip) in items(Some(spec), "clusterIPs") {
        let s = ip.as_str().unwrap_or("");
        if !(is_ip(s) || (i == 0 && s == "None")) {
            out.push(Cause::invalid(
                &index("spec.clusterIPs", i),
                ip,
                "must be a valid IP address, (e.g. 10.9.8.7 or 2001:db8::ffff)",
            ));
        }
    }
    let ip = str_of(spec, "clusterIP");
    if !ip.is_empty()
        && spec.pointer("/clusterIPs/0").and_then(Value::as_str).is_some_and(|first| first != ip)
    {
        out.push(Cause::invalid(
            "spec.clusterIPs",
            &spec["clusterIPs"],
            "first value must match `clusterIP`",
        ));
    }
}

/// A Service's internalTrafficPolicy, and its externalTrafficPolicy (only for NodePort
/// and LoadBalancer services).
fn service_traffic_policies(spec: &Value, ty: &str, out: &mut Vec<Cause>) {
    rules::one_of(
        "spec.internalTrafficPolicy",
        spec.get("internalTrafficPolicy"),
        &["Cluster", "Local"],
        out,
    );
    if let Some(e) = spec.get("externalTrafficPolicy") {
        if matches!(ty, "NodePort" | "LoadBalancer") {
            rules::one_of("spec.externalTrafficPolicy", Some(e), &["Cluster", "Local"], out);
        } else {
            out.push(Cause::invalid(
                "spec.externalTrafficPolicy",
                e,
                "may only be set for externally-accessible services",
            ));
        }
    }
}

/// The size of a base64 value once decoded.
fn decoded_len(v: &Value) -> usize {
    v.as_str().map_or(0, |s| s.len() / 4 * 3)
}

fn secret(obj: &Value, out: &mut Vec<Cause>) {
    let data = obj.get("data").and_then(Value::as_object);
    let mut total = 0;
    for (k, v) in data.into_iter().flatten() {
        check(rules::config_key, &key("data", k), k, out);
        total += decoded_len(v);
    }
    if total > 1 << 20 {
        out.push(Cause::too_long("data", 1 << 20));
    }
    let has = |k: &str| data.is_some_and(|d| d.contains_key(k));
    let need: &[&str] = match str_of(obj, "type") {
        "kubernetes.io/dockerconfigjson" => &[".dockerconfigjson"],
        "kubernetes.io/dockercfg" => &[".dockercfg"],
        "kubernetes.io/tls" => &["tls.crt", "tls.key"],
        "kubernetes.io/ssh-auth" => &["ssh-privatekey"],
        _ => &[],
    };
    for k in need {
        if !has(k) {
            out.push(Cause::required(&key("data", k), ""));
        }
    }
    if str_of(obj, "type") == "kubernetes.io/dockerconfigjson"
        && let Some(raw) = data.and_then(|d| d.get(".dockerconfigjson")).and_then(Value::as_str)
    {
        use base64::Engine as _;
        let bytes = base64::engine::general_purpose::STANDARD.decode(raw).unwrap_or_default();
        if let Err(e) = serde_json::from_slice::<Value>(&bytes) {
            out.push(Cause::invalid(
                "data[.dockerconfigjson]",
                &Value::String("<secret contents redacted>".into()),
                &e.to_string(),
            ));
        }
    }
    if str_of(obj, "type") == "kubernetes.io/service-account-token"
        && obj.pointer("/metadata/annotations/kubernetes.io~1service-account.name").is_none()
    {
        out.push(Cause::required("metadata.annotations[kubernetes.io/service-account.name]", ""));
    }
}

fn configmap(obj: &Value, out: &mut Vec<Cause>) {
    let mut total = 0;
    let binary = obj.get("binaryData").and_then(Value::as_object);
    for (k, v) in obj.get("data").and_then(Value::as_object).into_iter().flatten() {
        check(rules::config_key, &key("data", k), k, out);
        if binary.is_some_and(|b| b.contains_key(k)) {
            out.push(Cause::invalid(
                &key("data", k),
                &Value::String(k.clone()),
                "duplicate of key present in binaryData",
            ));
        }
        total += k.len() + v.as_str().map_or(0, str::len);
    }
    for (k, v) in binary.into_iter().flatten() {
        check(rules::config_key, &key("binaryData", k), k, out);
        total += k.len() + decoded_len(v);
    }
    if total > 1 << 20 {
        out.push(Cause::too_long("", 1 << 20));
    }
}

fn pvc(spec: Option<&Value>, out: &mut Vec<Cause>) {
    let modes = spec.and_then(|s| s.get("accessModes")).and_then(Value::as_array);
    if modes.is_none_or(Vec::is_empty) {
        out.push(Cause::required("spec.accessModes", "at least 1 access mode is required"));
    }
    for m in modes.into_iter().flatten() {
        rules::one_of(
            "spec.accessModes",
            Some(m),
            &["ReadOnlyMany", "ReadWriteMany", "ReadWriteOnce", "ReadWriteOncePod"],
            out,
        );
    }
    match spec.and_then(|s| s.pointer("/resources/requests/storage")) {
        None => out.push(Cause::required("spec.resources[storage]", "")),
        Some(q) => {
            let zero = q
                .as_str()
                .and_then(|s| super::quantity::Quantity::parse(s).ok())
                .and_then(|q| q.milli())
                .is_none_or(|m| m <= 0);
            if zero {
                out.push(Cause::invalid("spec.resources[storage]", q, "must be greater than zero"));
            }
        }
    }
    rules::one_of(
        "spec.volumeMode",
        spec.and_then(|s| s.get("volumeMode")),
        &["Block", "Filesystem"],
        out,
    );
}

fn pdb(spec: Option<&Value>, out: &mut Vec<Cause>) {
    let Some(spec) = spec else { return };
    if spec.get("minAvailable").is_some() && spec.get("maxUnavailable").is_some() {
        out.push(Cause::invalid(
            "spec",
            spec,
            "minAvailable and maxUnavailable cannot be both set",
        ));
    }
    for k in ["minAvailable", "maxUnavailable"] {
        let at = child("spec", k);
        rules::int_or_percent(&at, spec.get(k), out);
        rules::not_over_100_percent(&at, spec.get(k), out);
    }
    rules::label_selector("spec.selector", spec.get("selector"), out);
    rules::one_of(
        "spec.unhealthyPodEvictionPolicy",
        spec.get("unhealthyPodEvictionPolicy"),
        &["AlwaysAllow", "IfHealthyBudget"],
        out,
    );
}

fn network_policy(spec: Option<&Value>, out: &mut Vec<Cause>) {
    let Some(spec) = spec else { return };
    rules::label_selector("spec.podSelector", spec.get("podSelector"), out);
    for (i, t) in items(Some(spec), "policyTypes") {
        rules::one_of(&index("spec.policyTypes", i), Some(t), &["Ingress", "Egress"], out);
    }
    for (dir, peers) in [("ingress", "from"), ("egress", "to")] {
        for (i, rule) in items(Some(spec), dir) {
            let at = index(&child("spec", dir), i);
            for (j, p) in items(Some(rule), "ports") {
                let pp = index(&child(&at, "ports"), j);
                rules::one_of(
                    &child(&pp, "protocol"),
                    p.get("protocol"),
                    &["TCP", "UDP", "SCTP"],
                    out,
                );
                if let Some(port) = p.get("port") {
                    rules::port_or_name(&child(&pp, "port"), port, out);
                }
            }
            for (j, peer) in items(Some(rule), peers) {
                let pp = index(&child(&at, peers), j);
                let n = ["podSelector", "namespaceSelector", "ipBlock"]
                    .iter()
                    .filter(|k| peer.get(**k).is_some())
                    .count();
                if n == 0 {
                    out.push(Cause::required(&pp, "must specify a peer"));
                }
                if let Some(b) = peer.get("ipBlock") {
                    let cidr = str_of(b, "cidr");
                    if cidr.is_empty() {
                        out.push(Cause::required(&child(&child(&pp, "ipBlock"), "cidr"), ""));
                    } else if !is_cidr(cidr) {
                        out.push(Cause::invalid(
                            &child(&child(&pp, "ipBlock"), "cidr"),
                            &b["cidr"],
                            "must be a valid CIDR value, (e.g. 10.9.8.0/24 or 2001:db8::/64)",
                        ));
                    }
                }
                rules::label_selector(&child(&pp, "podSelector"), peer.get("podSelector"), out);
                rules::label_selector(
                    &child(&pp, "namespaceSelector"),
                    peer.get("namespaceSelector"),
                    out,
                );
            }
        }
    }
}

fn is_cidr(s: &str) -> bool {
    let Some((ip, bits)) = s.split_once('/') else { return false };
    let Ok(ip) = ip.parse::<std::net::IpAddr>() else { return false };
    let max = if ip.is_ipv4() { 32 } else { 128 };
    bits.parse::<u8>().is_ok_and(|b| b <= max)
}

fn rbac_rules(obj: &Value, namespaced: bool, out: &mut Vec<Cause>) {
    for (i, r) in items(Some(obj), "rules") {
        let at = index("rules", i);
        let len = |k: &str| r.get(k).and_then(Value::as_array).map_or(0, Vec::len);
        if len("verbs") == 0 {
            out.push(Cause::required(
                &child(&at, "verbs"),
                "verbs must contain at least one value",
            ));
        }
        if len("nonResourceURLs") > 0 {
            if namespaced {
                out.push(Cause::invalid(
                    &child(&at, "nonResourceURLs"),
                    &r["nonResourceURLs"],
                    "namespaced rules cannot apply to non-resource URLs",
                ));
            }
            if len("apiGroups") > 0 || len("resources") > 0 || len("resourceNames") > 0 {
                out.push(Cause::invalid(
                    &child(&at, "nonResourceURLs"),
                    &r["nonResourceURLs"],
                    "rules cannot apply to both regular resources and non-resource URLs",
                ));
            }
            continue;
        }
        if len("apiGroups") == 0 {
            out.push(Cause::required(
                &child(&at, "apiGroups"),
                "resource rules must supply at least one api group",
            ));
        }
        if len("resources") == 0 {
            out.push(Cause::required(
                &child(&at, "resources"),
                "resource rules must supply at least one resource",
            ));
        }
    }
}

fn binding(obj: &Value, namespaced: bool, out: &mut Vec<Cause>) {
    let rr = obj.get("roleRef").unwrap_or(&Value::Null);
    rules::one_of(
        "roleRef.apiGroup",
        Some(rr.get("apiGroup").unwrap_or(&Value::String(String::new()))),
        &["rbac.authorization.k8s.io"],
        out,
    );
    let kinds: &[&str] = if namespaced { &["Role", "ClusterRole"] } else { &["ClusterRole"] };
    rules::one_of(
        "roleRef.kind",
        Some(rr.get("kind").unwrap_or(&Value::String(String::new()))),
        kinds,
        out,
    );
    let name = str_of(rr, "name");
    if name.is_empty() {
        out.push(Cause::required("roleRef.name", ""));
    } else {
        check(rules::path_segment, "roleRef.name", name, out);
    }
    for (i, s) in items(Some(obj), "subjects") {
        let at = index("subjects", i);
        let sname = str_of(s, "name");
        if sname.is_empty() {
            out.push(Cause::required(&child(&at, "name"), ""));
        }
        match str_of(s, "kind") {
            "ServiceAccount" => {
                if !sname.is_empty() {
                    check(rules::dns1123_subdomain, &child(&at, "name"), sname, out);
                }
                if s.get("apiGroup").and_then(Value::as_str).is_some_and(|g| !g.is_empty()) {
                    out.push(Cause::not_supported(&child(&at, "apiGroup"), &s["apiGroup"], &[""]));
                }
                if !namespaced && str_of(s, "namespace").is_empty() {
                    out.push(Cause::required(&child(&at, "namespace"), ""));
                }
            }
            "User" | "Group" => {
                rules::one_of(
                    &child(&at, "apiGroup"),
                    s.get("apiGroup"),
                    &["rbac.authorization.k8s.io"],
                    out,
                );
            }
            _ => out.push(Cause::not_supported(
                &child(&at, "kind"),
                s.get("kind").unwrap_or(&Value::Null),
                &["ServiceAccount", "User", "Group"],
            )),
        }
    }
}

/// Core v1 Events (`legacyValidateEvent`): the namespace must agree with the object's.
fn event(obj: &Value, out: &mut Vec<Cause>) {
    let ns = obj.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or("");
    let involved = obj.pointer("/involvedObject/namespace").and_then(Value::as_str).unwrap_or("");
    let new_style = obj.get("eventTime").is_some_and(|t| !t.is_null());
    let ok = if involved.is_empty() {
        if new_style {
            matches!(ns, "default" | "kube-system")
        } else {
            matches!(ns, "" | "default")
        }
    } else {
        ns == involved
    };
    if !ok {
        out.push(Cause::invalid(
            "involvedObject.namespace",
            &Value::String(involved.into()),
            "does not match event.namespace",
        ));
    }
    if new_style {
        if str_of(obj, "reportingComponent").is_empty() {
            out.push(Cause::required("reportingComponent", ""));
        }
        if str_of(obj, "reportingInstance").is_empty() {
            out.push(Cause::required("reportingInstance", ""));
        }
        if str_of(obj, "action").is_empty() {
            out.push(Cause::required("action", ""));
        }
    }
    rules::one_of("type", obj.get("type").filter(|t| *t != ""), &["Normal", "Warning"], out);
}

#[cfg(test)]
mod tests {
    use super::cron;

    #[test]
    fn cron_schedules() {
        for ok in ["0 0 * * *", "*/5 * * * *", "0 0 1 JAN mon-fri", "@daily", "15,45 1-3 * * 0"] {
            assert!(cron(ok).is_ok(), "{ok}");
        }
        for bad in [
            "",
            "0 0 * *",
            "60 * * * *",
            "* 24 * * *",
            "TZ=UTC 0 0 * * *",
            "@sometimes",
            "*/0 * * * *",
        ] {
            assert!(cron(bad).is_err(), "{bad}");
        }
    }
}
