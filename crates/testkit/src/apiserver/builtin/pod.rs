//! Validation of pod specs and pod templates (`ValidatePodSpec`,
//! `ValidatePodTemplateSpec` of k8s.io/kubernetes/pkg/apis/core/validation), for the parts
//! a controller's objects use: containers, ports, env, mounts, probes, resources, volumes,
//! tolerations, affinity, topology spread and the enums.

use std::collections::BTreeSet;

use serde_json::{Value, json};

use super::quantity::Quantity;
use super::rules::{self, check};
use crate::field::{Cause, child, index, key};

/// The volume source fields of a Volume (k8s.io/api core/v1 `VolumeSource`).
pub(super) const VOLUME_SOURCES: &[&str] = &[
    "hostPath",
    "emptyDir",
    "gcePersistentDisk",
    "awsElasticBlockStore",
    "gitRepo",
    "secret",
    "nfs",
    "iscsi",
    "glusterfs",
    "persistentVolumeClaim",
    "rbd",
    "flexVolume",
    "cinder",
    "cephfs",
    "flocker",
    "downwardAPI",
    "fc",
    "azureFile",
    "configMap",
    "vsphereVolume",
    "quobyte",
    "azureDisk",
    "photonPersistentDisk",
    "projected",
    "portworxVolume",
    "scaleIO",
    "storageos",
    "csi",
    "ephemeral",
    "image",
];

fn items<'a>(v: &'a Value, k: &str) -> impl Iterator<Item = (usize, &'a Value)> {
    v.get(k).and_then(Value::as_array).into_iter().flatten().enumerate()
}

fn str_of<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

/// A pod template: its labels, annotations and spec.
pub fn template(path: &str, t: Option<&Value>, restart: &[&str], out: &mut Vec<Cause>) {
    let Some(t) = t else {
        out.push(Cause::required(path, ""));
        return;
    };
    let meta = child(path, "metadata");
    rules::labels(&child(&meta, "labels"), t.pointer("/metadata/labels"), out);
    rules::annotations(&child(&meta, "annotations"), t.pointer("/metadata/annotations"), out);
    let spec_path = child(path, "spec");
    let spec = t.get("spec").unwrap_or(&Value::Null);
    spec_rules(&spec_path, spec, false, out);
    rules::one_of(&child(&spec_path, "restartPolicy"), spec.get("restartPolicy"), restart, out);
}

/// A pod spec. `pod`: a Pod's own spec (images required), not a template's.
pub fn spec_rules(path: &str, spec: &Value, pod: bool, out: &mut Vec<Cause>) {
    let volumes = volumes(&child(path, "volumes"), spec, out);
    let containers = spec.get("containers").and_then(Value::as_array);
    if containers.is_none_or(Vec::is_empty) {
        out.push(Cause::required(&child(path, "containers"), ""));
    }
    let mut names = BTreeSet::new();
    for list in ["initContainers", "containers"] {
        for (i, c) in items(spec, list) {
            let at = index(&child(path, list), i);
            let name = str_of(c, "name");
            if name.is_empty() {
                out.push(Cause::required(&child(&at, "name"), ""));
            } else {
                check(rules::dns1123_label, &child(&at, "name"), name, out);
                if !names.insert(name.to_string()) {
                    out.push(Cause::duplicate(&child(&at, "name"), &Value::String(name.into())));
                }
            }
            container(&at, c, &volumes, pod, list == "containers", out);
        }
    }
    rules::one_of(
        &child(path, "restartPolicy"),
        spec.get("restartPolicy"),
        &["Always", "OnFailure", "Never"],
        out,
    );
    rules::one_of(
        &child(path, "dnsPolicy"),
        spec.get("dnsPolicy"),
        &["ClusterFirstWithHostNet", "ClusterFirst", "Default", "None"],
        out,
    );
    rules::non_negative(
        &child(path, "terminationGracePeriodSeconds"),
        spec.get("terminationGracePeriodSeconds"),
        out,
    );
    rules::positive(&child(path, "activeDeadlineSeconds"), spec.get("activeDeadlineSeconds"), out);
    for k in ["serviceAccountName", "priorityClassName"] {
        if let Some(n) = spec.get(k).and_then(Value::as_str).filter(|n| !n.is_empty()) {
            check(rules::dns1123_subdomain, &child(path, k), n, out);
        }
    }
    node_selector(&child(path, "nodeSelector"), spec.get("nodeSelector"), out);
    tolerations(&child(path, "tolerations"), spec, out);
    affinity(&child(path, "affinity"), spec.get("affinity"), out);
    spread(&child(path, "topologySpreadConstraints"), spec, out);
}

fn node_selector(path: &str, v: Option<&Value>, out: &mut Vec<Cause>) {
    let Some(m) = v.and_then(Value::as_object) else { return };
    for (k, val) in m {
        check(rules::qualified_name, path, k, out);
        check(rules::label_value, path, val.as_str().unwrap_or(""), out);
    }
}

/// The volumes' names, after checking each volume.
fn volumes(path: &str, spec: &Value, out: &mut Vec<Cause>) -> BTreeSet<String> {
    let mut names = BTreeSet::new();
    for (i, v) in items(spec, "volumes") {
        let at = index(path, i);
        let name = str_of(v, "name");
        if name.is_empty() {
            out.push(Cause::required(&child(&at, "name"), ""));
        } else {
            check(rules::dns1123_label, &child(&at, "name"), name, out);
            if !names.insert(name.to_string()) {
                out.push(Cause::duplicate(&child(&at, "name"), &Value::String(name.into())));
            }
        }
        let sources: Vec<&str> =
            VOLUME_SOURCES.iter().copied().filter(|s| v.get(*s).is_some()).collect();
        match sources.as_slice() {
            [] => out.push(Cause::required(&at, "must specify a volume type")),
            [one] => volume_source(&child(&at, one), one, &v[*one], out),
            [_, extra, ..] => out.push(Cause::forbidden(
                &child(&at, extra),
                "may not specify more than 1 volume type",
            )),
        }
    }
    names
}

fn default_mode(path: &str, v: &Value, out: &mut Vec<Cause>) {
    if let Some(m) = v.get("defaultMode")
        && !m.as_i64().is_some_and(|m| (0..=0o777).contains(&m))
    {
        out.push(Cause::invalid(
            &child(path, "defaultMode"),
            m,
            "must be a number between 0 and 0777 (octal), both inclusive",
        ));
    }
}

fn key_to_path_items(path: &str, v: &Value, out: &mut Vec<Cause>) {
    for (i, item) in items(v, "items") {
        let at = index(&child(path, "items"), i);
        if str_of(item, "key").is_empty() {
            out.push(Cause::required(&child(&at, "key"), ""));
        }
        relative_path(&child(&at, "path"), str_of(item, "path"), out);
    }
}

fn relative_path(path: &str, p: &str, out: &mut Vec<Cause>) {
    if p.is_empty() {
        out.push(Cause::required(path, ""));
    } else if p.starts_with('/') {
        out.push(Cause::invalid(path, &Value::String(p.into()), "must be a relative path"));
    } else if p.split('/').any(|s| s == "..") {
        out.push(Cause::invalid(path, &Value::String(p.into()), "must not contain '..'"));
    }
}

fn volume_source(path: &str, kind: &str, v: &Value, out: &mut Vec<Cause>) {
    match kind {
        "hostPath" => {
            if str_of(v, "path").is_empty() {
                out.push(Cause::required(&child(path, "path"), ""));
            }
            rules::one_of(
                &child(path, "type"),
                v.get("type"),
                &[
                    "",
                    "DirectoryOrCreate",
                    "Directory",
                    "FileOrCreate",
                    "File",
                    "Socket",
                    "CharDevice",
                    "BlockDevice",
                ],
                out,
            );
        }
        "secret" => {
            if str_of(v, "secretName").is_empty() {
                out.push(Cause::required(&child(path, "secretName"), ""));
            }
            default_mode(path, v, out);
            key_to_path_items(path, v, out);
        }
        "configMap" => {
            if str_of(v, "name").is_empty() {
                out.push(Cause::required(&child(path, "name"), ""));
            }
            default_mode(path, v, out);
            key_to_path_items(path, v, out);
        }
        "persistentVolumeClaim" if str_of(v, "claimName").is_empty() => {
            out.push(Cause::required(&child(path, "claimName"), ""));
        }
        "projected" => {
            default_mode(path, v, out);
            for (i, s) in items(v, "sources") {
                let at = index(&child(path, "sources"), i);
                if let Some(t) = s.get("serviceAccountToken") {
                    let tp = child(&at, "serviceAccountToken");
                    if let Some(e) = t.get("expirationSeconds").and_then(Value::as_i64) {
                        let ep = child(&tp, "expirationSeconds");
                        if e < 600 {
                            out.push(Cause::invalid(
                                &ep,
                                &e.into(),
                                "may not specify a duration less than 10 minutes",
                            ));
                        } else if e > 1 << 32 {
                            out.push(Cause::invalid(
                                &ep,
                                &e.into(),
                                "may not specify a duration larger than 2^32 seconds",
                            ));
                        }
                    }
                    relative_path(&child(&tp, "path"), str_of(t, "path"), out);
                }
                for k in ["secret", "configMap"] {
                    if let Some(x) = s.get(k) {
                        key_to_path_items(&child(&at, k), x, out);
                    }
                }
            }
        }
        "emptyDir" => {
            if let Some(m) = v.get("medium") {
                rules::one_of(&child(path, "medium"), Some(m), &["", "Memory", "HugePages"], out);
            }
        }
        _ => {}
    }
}

#[allow(clippy::too_many_arguments)]
fn container(
    path: &str,
    c: &Value,
    volumes: &BTreeSet<String>,
    pod: bool,
    regular: bool,
    out: &mut Vec<Cause>,
) {
    if pod && str_of(c, "image").trim().is_empty() {
        out.push(Cause::required(&child(path, "image"), ""));
    }
    rules::one_of(
        &child(path, "imagePullPolicy"),
        c.get("imagePullPolicy"),
        &["Always", "IfNotPresent", "Never"],
        out,
    );
    rules::one_of(
        &child(path, "terminationMessagePolicy"),
        c.get("terminationMessagePolicy"),
        &["File", "FallbackToLogsOnError"],
        out,
    );
    ports(&child(path, "ports"), c, out);
    env(&child(path, "env"), c, out);
    mounts(&child(path, "volumeMounts"), c, volumes, out);
    resources(&child(path, "resources"), c.get("resources"), out);
    for p in ["livenessProbe", "readinessProbe", "startupProbe"] {
        if let Some(pr) = c.get(p) {
            if !regular && p != "startupProbe" {
                continue;
            }
            probe(&child(path, p), pr, p != "readinessProbe", out);
        }
    }
    if let Some(l) = c.get("lifecycle") {
        for h in ["postStart", "preStop"] {
            if let Some(handler) = l.get(h) {
                handlers(
                    &child(&child(path, "lifecycle"), h),
                    handler,
                    &["exec", "httpGet", "tcpSocket", "sleep"],
                    out,
                );
            }
        }
    }
}

fn ports(path: &str, c: &Value, out: &mut Vec<Cause>) {
    let mut names = BTreeSet::new();
    for (i, p) in items(c, "ports") {
        let at = index(path, i);
        if let Some(name) = p.get("name").and_then(Value::as_str).filter(|n| !n.is_empty()) {
            check(rules::port_name, &child(&at, "name"), name, out);
            if !names.insert(name.to_string()) {
                out.push(Cause::duplicate(&child(&at, "name"), &Value::String(name.into())));
            }
        }
        match p.get("containerPort") {
            Some(cp) => rules::port_number(&child(&at, "containerPort"), cp, out),
            None => out.push(Cause::required(&child(&at, "containerPort"), "")),
        }
        if let Some(hp) = p.get("hostPort").filter(|h| h.as_i64() != Some(0)) {
            rules::port_number(&child(&at, "hostPort"), hp, out);
        }
        rules::one_of(&child(&at, "protocol"), p.get("protocol"), &["SCTP", "TCP", "UDP"], out);
    }
}

fn env(path: &str, c: &Value, out: &mut Vec<Cause>) {
    for (i, e) in items(c, "env") {
        let at = index(path, i);
        let name = str_of(e, "name");
        if name.is_empty() {
            out.push(Cause::required(&child(&at, "name"), ""));
        } else if name.contains('=') || !name.chars().all(|ch| (' '..='~').contains(&ch)) {
            out.push(Cause::invalid(
                &child(&at, "name"),
                &Value::String(name.into()),
                "a valid environment variable name must consist only of printable ASCII characters other than '='",
            ));
        }
        if let Some(from) = e.get("valueFrom") {
            let fp = child(&at, "valueFrom");
            let n =
                ["fieldRef", "resourceFieldRef", "configMapKeyRef", "secretKeyRef", "fileKeyRef"]
                    .iter()
                    .filter(|k| from.get(**k).is_some())
                    .count();
            if e.get("value").and_then(Value::as_str).is_some_and(|v| !v.is_empty()) {
                out.push(Cause::invalid(
                    &fp,
                    from,
                    "may not be specified when `value` is not empty",
                ));
            }
            if n == 0 {
                out.push(Cause::invalid(&fp, &Value::String(String::new()), "must specify one of: `fieldRef`, `resourceFieldRef`, `configMapKeyRef` or `secretKeyRef`"));
            } else if n > 1 {
                out.push(Cause::invalid(
                    &fp,
                    &Value::String(String::new()),
                    "may not have more than one field specified at a time",
                ));
            }
            for k in ["configMapKeyRef", "secretKeyRef"] {
                if let Some(r) = from.get(k) {
                    if str_of(r, "key").is_empty() {
                        out.push(Cause::required(&child(&child(&fp, k), "key"), ""));
                    }
                    if str_of(r, "name").is_empty() {
                        out.push(Cause::required(&child(&child(&fp, k), "name"), ""));
                    }
                }
            }
            if let Some(f) = from.get("fieldRef")
                && str_of(f, "fieldPath").is_empty()
            {
                out.push(Cause::required(&child(&child(&fp, "fieldRef"), "fieldPath"), ""));
            }
        }
    }
}

fn mounts(path: &str, c: &Value, volumes: &BTreeSet<String>, out: &mut Vec<Cause>) {
    let mut paths = BTreeSet::new();
    for (i, m) in items(c, "volumeMounts") {
        let at = index(path, i);
        let name = str_of(m, "name");
        if name.is_empty() {
            out.push(Cause::required(&child(&at, "name"), ""));
        } else if !volumes.contains(name) {
            out.push(Cause::not_found(&child(&at, "name"), &Value::String(name.into())));
        }
        let mp = str_of(m, "mountPath");
        if mp.is_empty() {
            out.push(Cause::required(&child(&at, "mountPath"), ""));
        } else if !paths.insert(mp.to_string()) {
            out.push(Cause::invalid(
                &child(&at, "mountPath"),
                &Value::String(mp.into()),
                "must be unique",
            ));
        }
        if m.get("subPath")
            .and_then(Value::as_str)
            .is_some_and(|s| s.starts_with('/') || s.split('/').any(|x| x == ".."))
        {
            out.push(Cause::invalid(
                &child(&at, "subPath"),
                &m["subPath"],
                "must be a relative path without '..'",
            ));
        }
    }
}

fn resources(path: &str, r: Option<&Value>, out: &mut Vec<Cause>) {
    let Some(r) = r else { return };
    let milli =
        |v: &Value| v.as_str().and_then(|s| Quantity::parse(s).ok()).and_then(|q| q.milli());
    for k in ["limits", "requests"] {
        let Some(m) = r.get(k).and_then(Value::as_object) else { continue };
        for (name, q) in m {
            let at = key(&child(path, k), name);
            check(rules::qualified_name, &at, name, out);
            if milli(q).is_some_and(|n| n < 0) {
                out.push(Cause::invalid(&at, q, "must be greater than or equal to 0"));
            }
        }
    }
    let (Some(req), Some(lim)) =
        (r.get("requests").and_then(Value::as_object), r.get("limits").and_then(Value::as_object))
    else {
        return;
    };
    for (name, q) in req {
        if let (Some(want), Some(limit)) = (milli(q), lim.get(name).and_then(milli))
            && want > limit
        {
            out.push(Cause::invalid(
                &key(&child(path, "requests"), name),
                q,
                &format!(
                    "must be less than or equal to {name} limit of {}",
                    lim[name].as_str().unwrap_or("")
                ),
            ));
        }
    }
}

fn handlers(path: &str, h: &Value, kinds: &[&str], out: &mut Vec<Cause>) {
    let present: Vec<&str> = kinds.iter().copied().filter(|k| h.get(*k).is_some()).collect();
    match present.as_slice() {
        [] => out.push(Cause::required(path, "must specify a handler type")),
        [one] => {
            let hp = child(path, one);
            let v = &h[*one];
            match *one {
                "httpGet" => {
                    rules::port_or_name(
                        &child(&hp, "port"),
                        v.get("port").unwrap_or(&Value::Null),
                        out,
                    );
                    rules::one_of(&child(&hp, "scheme"), v.get("scheme"), &["HTTP", "HTTPS"], out);
                }
                "tcpSocket" => rules::port_or_name(
                    &child(&hp, "port"),
                    v.get("port").unwrap_or(&Value::Null),
                    out,
                ),
                "exec" if v.get("command").and_then(Value::as_array).is_none_or(Vec::is_empty) => {
                    out.push(Cause::required(&child(&hp, "command"), ""));
                }
                "grpc" => rules::port_number(
                    &child(&hp, "port"),
                    v.get("port").unwrap_or(&Value::Null),
                    out,
                ),
                _ => {}
            }
        }
        [_, extra, ..] => out.push(Cause::forbidden(
            &child(path, extra),
            "may not specify more than 1 handler type",
        )),
    }
}

fn probe(path: &str, p: &Value, success_one: bool, out: &mut Vec<Cause>) {
    handlers(path, p, &["exec", "httpGet", "tcpSocket", "grpc"], out);
    for k in [
        "initialDelaySeconds",
        "timeoutSeconds",
        "periodSeconds",
        "successThreshold",
        "failureThreshold",
    ] {
        rules::non_negative(&child(path, k), p.get(k), out);
    }
    if success_one
        && let Some(s) = p.get("successThreshold")
        && s.as_i64() != Some(1)
    {
        out.push(Cause::invalid(&child(path, "successThreshold"), s, "must be 1"));
    }
}

fn tolerations(path: &str, spec: &Value, out: &mut Vec<Cause>) {
    for (i, t) in items(spec, "tolerations") {
        let at = index(path, i);
        let k = str_of(t, "key");
        if !k.is_empty() {
            check(rules::qualified_name, &child(&at, "key"), k, out);
        }
        let op = t.get("operator").and_then(Value::as_str).unwrap_or("Equal");
        match op {
            "Exists" if t.get("value").and_then(Value::as_str).is_some_and(|v| !v.is_empty()) => {
                out.push(Cause::invalid(
                    &child(&at, "operator"),
                    &t["value"],
                    "value must be empty when `operator` is 'Exists'",
                ));
            }
            "Equal" if k.is_empty() => {
                out.push(Cause::invalid(&child(&at, "operator"), &Value::String(op.into()), "operator must be Exists when `key` is empty, which means \"match all values and all keys\""));
            }
            "Equal" => check(rules::label_value, &child(&at, "value"), str_of(t, "value"), out),
            "Exists" => {}
            _ => out.push(Cause::not_supported(
                &child(&at, "operator"),
                &t["operator"],
                &["Equal", "Exists"],
            )),
        }
        if let Some(e) = t.get("effect").filter(|e| *e != "") {
            rules::one_of(
                &child(&at, "effect"),
                Some(e),
                &["NoSchedule", "PreferNoSchedule", "NoExecute"],
                out,
            );
        }
        if t.get("tolerationSeconds").is_some() && str_of(t, "effect") != "NoExecute" {
            out.push(Cause::invalid(
                &child(&at, "effect"),
                t.get("effect").unwrap_or(&Value::Null),
                "effect must be 'NoExecute' when `tolerationSeconds` is set",
            ));
        }
    }
}

fn affinity_terms(path: &str, v: Option<&Value>, weighted: bool, out: &mut Vec<Cause>) {
    for (i, t) in v.and_then(Value::as_array).into_iter().flatten().enumerate() {
        let at = index(path, i);
        let (term, tp) = if weighted {
            weight(&at, t, out);
            (t.get("podAffinityTerm").unwrap_or(&Value::Null), child(&at, "podAffinityTerm"))
        } else {
            (t, at)
        };
        if str_of(term, "topologyKey").is_empty() {
            out.push(Cause::required(&child(&tp, "topologyKey"), "can not be empty"));
        } else {
            check(
                rules::qualified_name,
                &child(&tp, "topologyKey"),
                str_of(term, "topologyKey"),
                out,
            );
        }
        rules::label_selector(&child(&tp, "labelSelector"), term.get("labelSelector"), out);
        rules::label_selector(&child(&tp, "namespaceSelector"), term.get("namespaceSelector"), out);
    }
}

/// A preferred term's weight: 1 to 100.
fn weight(at: &str, t: &Value, out: &mut Vec<Cause>) {
    let w = t.get("weight").and_then(Value::as_i64).unwrap_or(0);
    if !(1..=100).contains(&w) {
        out.push(Cause::invalid(&child(at, "weight"), &w.into(), "must be in the range 1-100"));
    }
}

/// `ValidateNodeSelectorTerm`: each requirement's key, operator and values.
fn node_selector_term(path: &str, term: &Value, out: &mut Vec<Cause>) {
    for (j, r) in items(term, "matchExpressions") {
        let at = index(&child(path, "matchExpressions"), j);
        check(rules::qualified_name, &child(&at, "key"), str_of(r, "key"), out);
        let values = r.get("values").and_then(Value::as_array).map_or(0, Vec::len);
        let op = str_of(r, "operator");
        let problem = match op {
            "In" | "NotIn" if values == 0 => {
                Some("must be specified when `operator` is 'In' or 'NotIn'")
            }
            "Exists" | "DoesNotExist" if values > 0 => {
                Some("may not be specified when `operator` is 'Exists' or 'DoesNotExist'")
            }
            "Gt" | "Lt" if values != 1 => {
                Some("must be specified single value when `operator` is 'Lt' or 'Gt'")
            }
            "In" | "NotIn" | "Exists" | "DoesNotExist" | "Gt" | "Lt" => None,
            _ => {
                out.push(Cause::invalid(
                    &child(&at, "operator"),
                    &json!(op),
                    "not a valid selector operator",
                ));
                None
            }
        };
        if let Some(m) = problem {
            out.push(Cause::required(&child(&at, "values"), m));
        }
    }
}

/// `validateNodeAffinity`: a required selector needs at least one term; weights 1-100.
fn node_affinity(path: &str, na: &Value, out: &mut Vec<Cause>) {
    if let Some(req) =
        na.get("requiredDuringSchedulingIgnoredDuringExecution").filter(|v| !v.is_null())
    {
        let terms_path = child(
            &child(path, "requiredDuringSchedulingIgnoredDuringExecution"),
            "nodeSelectorTerms",
        );
        let terms =
            req.get("nodeSelectorTerms").and_then(Value::as_array).cloned().unwrap_or_default();
        if terms.is_empty() {
            out.push(Cause::required(&terms_path, "must have at least one node selector term"));
        }
        for (i, t) in terms.iter().enumerate() {
            node_selector_term(&index(&terms_path, i), t, out);
        }
    }
    let pref = "preferredDuringSchedulingIgnoredDuringExecution";
    for (i, t) in items(na, pref) {
        let at = index(&child(path, pref), i);
        weight(&at, t, out);
        node_selector_term(
            &child(&at, "preference"),
            t.get("preference").unwrap_or(&Value::Null),
            out,
        );
    }
}

fn affinity(path: &str, a: Option<&Value>, out: &mut Vec<Cause>) {
    let Some(a) = a else { return };
    if let Some(na) = a.get("nodeAffinity").filter(|v| !v.is_null()) {
        node_affinity(&child(path, "nodeAffinity"), na, out);
    }
    for k in ["podAffinity", "podAntiAffinity"] {
        if let Some(p) = a.get(k) {
            let pp = child(path, k);
            let req = "requiredDuringSchedulingIgnoredDuringExecution";
            let pref = "preferredDuringSchedulingIgnoredDuringExecution";
            affinity_terms(&child(&pp, req), p.get(req), false, out);
            affinity_terms(&child(&pp, pref), p.get(pref), true, out);
        }
    }
}

fn spread(path: &str, spec: &Value, out: &mut Vec<Cause>) {
    let mut seen = BTreeSet::new();
    for (i, c) in items(spec, "topologySpreadConstraints") {
        let at = index(path, i);
        if let Some(s) = c.get("maxSkew")
            && s.as_i64().is_none_or(|n| n <= 0)
        {
            out.push(Cause::invalid(&child(&at, "maxSkew"), s, "must be greater than zero"));
        }
        let tk = str_of(c, "topologyKey");
        if tk.is_empty() {
            out.push(Cause::required(&child(&at, "topologyKey"), "can not be empty"));
        }
        let when = c.get("whenUnsatisfiable");
        rules::one_of(
            &child(&at, "whenUnsatisfiable"),
            when.or(Some(&Value::String(String::new()))),
            &["DoNotSchedule", "ScheduleAnyway"],
            out,
        );
        let pair = format!("{tk}/{}", when.and_then(Value::as_str).unwrap_or(""));
        if !seen.insert(pair) {
            out.push(Cause::duplicate(
                &at,
                &Value::String(format!("{{{tk}, {}}}", when.and_then(Value::as_str).unwrap_or(""))),
            ));
        }
        rules::label_selector(&child(&at, "labelSelector"), c.get("labelSelector"), out);
    }
}

#[cfg(test)]
mod node_affinity_tests {
    use super::*;

    #[test]
    fn a_required_node_selector_needs_a_term_and_sound_requirements() {
        let lines = |a: Value| {
            let mut out = Vec::new();
            affinity("spec.affinity", Some(&a), &mut out);
            out.iter().map(Cause::line).collect::<Vec<_>>()
        };
        let req = "requiredDuringSchedulingIgnoredDuringExecution";
        assert_eq!(
            lines(json!({"nodeAffinity": {req: {"nodeSelectorTerms": []}}})),
            [
                "spec.affinity.nodeAffinity.requiredDuringSchedulingIgnoredDuringExecution.nodeSelectorTerms: Required value: must have at least one node selector term"
            ]
        );
        let term = json!({"matchExpressions": [{"key": "zone", "operator": "In"}, {"key": "a", "operator": "Maybe"}]});
        let got = lines(json!({"nodeAffinity": {req: {"nodeSelectorTerms": [term]}}}));
        assert_eq!(got.len(), 2, "{got:?}");
        assert!(got[0].ends_with("matchExpressions[0].values: Required value: must be specified when `operator` is 'In' or 'NotIn'"));
        assert!(got[1].ends_with(
            "matchExpressions[1].operator: Invalid value: \"Maybe\": not a valid selector operator"
        ));
        let ok = json!({"matchExpressions": [{"key": "zone", "operator": "Exists"}]});
        assert!(lines(json!({"nodeAffinity": {req: {"nodeSelectorTerms": [ok]}}})).is_empty());
    }
}
