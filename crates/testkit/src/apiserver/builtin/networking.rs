//! `networking.k8s.io/v1` Ingress and IngressClass, as kube-apiserver 1.34 validates them
//! (k8s.io/kubernetes/pkg/apis/networking/validation: `ValidateIngressCreate`,
//! `ValidateIngressUpdate`, `ValidateIngressClass`, `ValidateIngressClassUpdate`), with
//! upstream's paths, order and messages; and the DefaultIngressClass admission plugin,
//! which gives an Ingress created without a class the cluster's default one.

use serde_json::{Value, json};

use super::rules::{self, check};
use crate::field::{Cause, child, index};

const CLASS_ANNOTATION: &str = "kubernetes.io/ingress.class";
const PATH_TYPES: &[&str] = &["Exact", "ImplementationSpecific", "Prefix"];
const BAD_SEQUENCES: &[&str] = &["//", "/./", "/../", "%2f", "%2F"];
const BAD_SUFFIXES: &[&str] = &["/..", "/."];
const WILDCARD_MSG: &str = "a wildcard DNS-1123 subdomain must start with '*.', followed by a valid DNS subdomain, which must consist of lower case alphanumeric characters, '-' or '.' and end with an alphanumeric character (e.g. '*.example.com', regex used for validation is '\\*\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?(\\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*')";
/// The annotation that makes an IngressClass the default.
pub const DEFAULT_CLASS_ANNOTATION: &str = "ingressclass.kubernetes.io/is-default-class";

fn s<'a>(v: &'a Value, k: &str) -> &'a str {
    v.get(k).and_then(Value::as_str).unwrap_or("")
}

fn list<'a>(v: &'a Value, k: &str) -> &'a [Value] {
    v.get(k).and_then(Value::as_array).map(Vec::as_slice).unwrap_or_default()
}

/// `IsWildcardDNS1123Subdomain`.
fn wildcard_subdomain(host: &str) -> Vec<String> {
    let mut out = Vec::new();
    if host.len() > 253 {
        out.push("must be no more than 253 characters".to_string());
    }
    let ok = host.strip_prefix("*.").is_some_and(|rest| rules::dns1123_subdomain(rest).is_empty());
    if !ok {
        out.push(WILDCARD_MSG.to_string());
    }
    out
}

/// `netutils.ParseIPSloppy`: an IPv6 address, or an IPv4 one whose parts may have leading
/// zeros.
fn is_ip_sloppy(host: &str) -> bool {
    if host.parse::<std::net::Ipv6Addr>().is_ok() {
        return true;
    }
    let parts: Vec<&str> = host.split('.').collect();
    parts.len() == 4
        && parts.iter().all(|p| {
            !p.is_empty()
                && p.bytes().all(|b| b.is_ascii_digit())
                && p.parse::<u32>().is_ok_and(|n| n < 256)
        })
}

/// A host of a rule or of a TLS entry (`check_ip` only for rules).
fn host(path: &str, h: &str, check_ip: bool, out: &mut Vec<Cause>) {
    if check_ip && is_ip_sloppy(h) {
        out.push(Cause::invalid(path, &json!(h), "must be a DNS name, not an IP address"));
    }
    let rule: rules::NameRule =
        if h.contains('*') { wildcard_subdomain } else { rules::dns1123_subdomain };
    check(rule, path, h, out);
}

/// `validateIngressBackend`.
fn backend(path: &str, b: &Value, out: &mut Vec<Cause>) {
    let empty = || json!("");
    match (b.get("resource").filter(|v| !v.is_null()), b.get("service").filter(|v| !v.is_null())) {
        (Some(_), Some(_)) => out.push(Cause::invalid(
            path,
            &empty(),
            "cannot set both resource and service backends",
        )),
        (Some(r), None) => typed_reference(&child(path, "resource"), r, out),
        (None, Some(svc)) => {
            let name = s(svc, "name");
            let at = child(path, "service");
            if name.is_empty() {
                out.push(Cause::required(&child(&at, "name"), ""));
            } else {
                check(rules::dns1035_label, &child(&at, "name"), name, out);
            }
            let port = svc.get("port").unwrap_or(&Value::Null);
            let port_name = s(port, "name");
            let number = port.get("number").and_then(Value::as_i64).unwrap_or(0);
            let at_port = child(&at, "port");
            match (!port_name.is_empty(), number != 0) {
                (true, true) => out.push(Cause::invalid(
                    path,
                    &empty(),
                    "cannot set both port name & port number",
                )),
                (true, false) => check(rules::port_name, &child(&at_port, "name"), port_name, out),
                (false, true) => {
                    rules::port_number(&child(&at_port, "number"), &json!(number), out)
                }
                (false, false) => {
                    out.push(Cause::required(path, "port name or number is required"))
                }
            }
        }
        (None, None) => {
            out.push(Cause::invalid(path, &empty(), "resource or service backend is required"))
        }
    }
}

/// `validateIngressTypedLocalObjectReference` (an Ingress's resource backend, and an
/// IngressClass's parameters), with 1.34's details.
fn typed_reference(path: &str, r: &Value, out: &mut Vec<Cause>) {
    if let Some(group) = r.get("apiGroup").and_then(Value::as_str) {
        check(rules::dns1123_subdomain, &child(path, "apiGroup"), group, out);
    }
    for k in ["kind", "name"] {
        let v = s(r, k);
        if v.is_empty() {
            out.push(Cause::required(&child(path, k), &format!("{k} is required")));
        } else {
            check(rules::path_segment, &child(path, k), v, out);
        }
    }
}

/// `validateHTTPIngressPath`.
fn http_path(path: &str, p: &Value, out: &mut Vec<Cause>) {
    let Some(ty) = p.get("pathType").filter(|v| !v.is_null()) else {
        out.push(Cause::required(&child(path, "pathType"), "pathType must be specified"));
        return;
    };
    let value = s(p, "path");
    let at = child(path, "path");
    let absolute = |out: &mut Vec<Cause>| {
        if !value.starts_with('/') {
            out.push(Cause::invalid(&at, &json!(value), "must be an absolute path"));
        }
    };
    match ty.as_str().unwrap_or("") {
        "Exact" | "Prefix" => {
            absolute(out);
            for seq in BAD_SEQUENCES.iter().filter(|q| value.contains(*q)) {
                out.push(Cause::invalid(&at, &json!(value), &format!("must not contain '{seq}'")));
            }
            for suffix in BAD_SUFFIXES.iter().filter(|q| value.ends_with(*q)) {
                out.push(Cause::invalid(
                    &at,
                    &json!(value),
                    &format!("cannot end with '{suffix}'"),
                ));
            }
        }
        "ImplementationSpecific" if !value.is_empty() => absolute(out),
        "ImplementationSpecific" => {}
        _ => out.push(Cause::not_supported(&child(path, "pathType"), ty, PATH_TYPES)),
    }
    backend(&child(path, "backend"), p.get("backend").unwrap_or(&Value::Null), out);
}

/// `ValidateIngressSpec`, then (on create) the class annotation's agreement with
/// `ingressClassName`.
pub fn ingress(obj: &Value, create: bool, out: &mut Vec<Cause>) {
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    let rules_value = spec.get("rules").cloned().unwrap_or(Value::Null);
    let default_backend = spec.get("defaultBackend").filter(|v| !v.is_null());
    let rules_list = list(spec, "rules");
    if rules_list.is_empty() && default_backend.is_none() {
        out.push(Cause::invalid(
            "spec",
            &rules_value,
            "either `defaultBackend` or `rules` must be specified",
        ));
    }
    if let Some(b) = default_backend {
        backend("spec.defaultBackend", b, out);
    }
    for (i, rule) in rules_list.iter().enumerate() {
        let at = index("spec.rules", i);
        let h = s(rule, "host");
        if !h.is_empty() {
            host(&child(&at, "host"), h, true, out);
        }
        let Some(http) = rule.get("http").filter(|v| !v.is_null()) else { continue };
        let at = child(&at, "http");
        let paths = list(http, "paths");
        if paths.is_empty() {
            out.push(Cause::required(&child(&at, "paths"), ""));
        }
        for (j, p) in paths.iter().enumerate() {
            http_path(&index(&child(&at, "paths"), j), p, out);
        }
    }
    for (i, tls) in list(spec, "tls").iter().enumerate() {
        let at = index("spec.tls", i);
        for (j, h) in list(tls, "hosts").iter().enumerate() {
            host(&index(&child(&at, "hosts"), j), h.as_str().unwrap_or(""), false, out);
        }
        let secret = s(tls, "secretName");
        if !secret.is_empty() {
            check(rules::dns1123_subdomain, &child(&at, "secretName"), secret, out);
        }
    }
    let class = spec.get("ingressClassName").and_then(Value::as_str);
    if let Some(c) = class {
        check(rules::dns1123_subdomain, "spec.ingressClassName", c, out);
    }
    let annotation = obj.pointer("/metadata/annotations").and_then(|a| a.get(CLASS_ANNOTATION));
    if create
        && let (Some(a), Some(c)) = (annotation.and_then(Value::as_str), class)
        && a != c
    {
        out.push(Cause::invalid(
            &format!("annotations.{CLASS_ANNOTATION}"),
            &json!(a),
            "must match `ingressClassName` when both are specified",
        ));
    }
}

/// The warning a create with the deprecated class annotation and no `ingressClassName`
/// gets.
pub fn ingress_warnings(obj: &Value) -> Vec<String> {
    let annotated =
        obj.pointer("/metadata/annotations").and_then(|a| a.get(CLASS_ANNOTATION)).is_some();
    let classed = obj.pointer("/spec/ingressClassName").is_some_and(|v| !v.is_null());
    match annotated && !classed {
        true => vec![format!(
            "annotation \"{CLASS_ANNOTATION}\" is deprecated, please use 'spec.ingressClassName' instead"
        )],
        false => Vec::new(),
    }
}

/// `ValidateIngressClass`: the controller (a domain-prefixed path of at most 250 bytes)
/// and the parameters.
pub fn ingress_class(obj: &Value, out: &mut Vec<Cause>) {
    let spec = obj.get("spec").unwrap_or(&Value::Null);
    let controller = s(spec, "controller");
    if controller.len() > 250 {
        out.push(Cause::too_long("spec.controller", 250));
    }
    domain_prefixed_path("spec.controller", controller, out);
    if let Some(p) = spec.get("parameters").filter(|v| !v.is_null()) {
        parameters("spec.parameters", p, out);
    }
}

/// `IsDomainPrefixedPath`.
fn domain_prefixed_path(path: &str, v: &str, out: &mut Vec<Cause>) {
    if v.is_empty() {
        out.push(Cause::required(path, ""));
        return;
    }
    let Some((host, rest)) = v.split_once('/').filter(|(h, r)| !h.is_empty() && !r.is_empty())
    else {
        out.push(Cause::invalid(
            path,
            &json!(v),
            "must be a domain-prefixed path (such as \"acme.io/foo\")",
        ));
        return;
    };
    check(rules::dns1123_subdomain, path, host, out);
    let allowed = |c: char| c.is_ascii_alphanumeric() || "/-._~%!$&'()*+,;=:".contains(c);
    if !rest.chars().all(allowed) {
        out.push(Cause::invalid(
            path,
            &json!(rest),
            "Invalid path (regex used for validation is '[A-Za-z0-9/\\-._~%!$&'()*+,;=:]+')",
        ));
    }
}

/// `validateIngressClassParametersReference` (the scope is defaulted before).
fn parameters(path: &str, p: &Value, out: &mut Vec<Cause>) {
    typed_reference(path, p, out);
    let Some(scope) = p.get("scope").filter(|v| !v.is_null()) else {
        out.push(Cause::required(&child(path, "scope"), ""));
        return;
    };
    let namespace = p.get("namespace").filter(|v| !v.is_null());
    let at = child(path, "namespace");
    match scope.as_str().unwrap_or("") {
        "Namespace" => match namespace {
            None => out.push(Cause::required(&at, "`parameters.scope` is set to 'Namespace'")),
            Some(ns) => check(rules::dns1123_label, &at, ns.as_str().unwrap_or(""), out),
        },
        "Cluster" if namespace.is_some() => {
            out.push(Cause::forbidden(&at, "`parameters.scope` is set to 'Cluster'"))
        }
        "Cluster" => {}
        _ => {
            out.push(Cause::not_supported(&child(path, "scope"), scope, &["Cluster", "Namespace"]))
        }
    }
}

/// `SetDefaults_IngressClass`: parameters without a scope are the cluster's.
pub fn ingress_class_defaults(obj: &mut Value) {
    if let Some(p) = obj.pointer_mut("/spec/parameters").and_then(Value::as_object_mut)
        && p.get("scope").is_none_or(Value::is_null)
    {
        p.insert("scope".into(), json!("Cluster"));
    }
}

/// `ValidateIngressClassUpdate`'s own rule: the controller may not change.
pub fn ingress_class_update(new: &Value, old: &Value, out: &mut Vec<Cause>) {
    rules::immutable(
        "spec.controller",
        new.pointer("/spec/controller"),
        old.pointer("/spec/controller"),
        out,
    );
}

/// The DefaultIngressClass admission plugin: the class an Ingress created without one
/// gets, from the IngressClasses annotated as default (the newest when several are).
pub fn default_class(classes: &[Value]) -> Option<String> {
    classes
        .iter()
        .filter(|c| {
            c.pointer("/metadata/annotations").and_then(|a| a.get(DEFAULT_CLASS_ANNOTATION))
                == Some(&json!("true"))
        })
        .max_by(|a, b| {
            let t = |c: &Value| {
                c.pointer("/metadata/creationTimestamp")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            let n = |c: &Value| {
                c.pointer("/metadata/name").and_then(Value::as_str).unwrap_or("").to_string()
            };
            (t(a), std::cmp::Reverse(n(a))).cmp(&(t(b), std::cmp::Reverse(n(b))))
        })
        .and_then(|c| c.pointer("/metadata/name").and_then(Value::as_str).map(str::to_string))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn causes(obj: Value) -> Vec<String> {
        let mut out = Vec::new();
        ingress(&obj, true, &mut out);
        out.iter().map(Cause::line).collect()
    }

    fn with_path(p: Value) -> Value {
        json!({"metadata": {"name": "x"}, "spec": {"rules": [{"http": {"paths": [p]}}]}})
    }

    #[test]
    fn an_ingress_needs_rules_or_a_default_backend() {
        assert_eq!(
            causes(json!({"spec": {}})),
            ["spec: Invalid value: null: either `defaultBackend` or `rules` must be specified"]
        );
        assert_eq!(
            causes(json!({"spec": {"rules": []}})),
            ["spec: Invalid value: []: either `defaultBackend` or `rules` must be specified"]
        );
        let ok = json!({"spec": {"defaultBackend": {"service": {"name": "svc", "port": {"number": 80}}}}});
        assert!(causes(ok).is_empty());
    }

    #[test]
    fn hosts_paths_and_backends_as_upstream() {
        let obj = json!({"spec": {"rules": [{"host": "1.2.3.4", "http": {"paths": [
            {"path": "foo", "pathType": "Prefix", "backend": {"service": {"name": "svc"}}}]}}]}});
        assert_eq!(
            causes(obj),
            [
                "spec.rules[0].host: Invalid value: \"1.2.3.4\": must be a DNS name, not an IP address",
                "spec.rules[0].http.paths[0].path: Invalid value: \"foo\": must be an absolute path",
                "spec.rules[0].http.paths[0].backend: Required value: port name or number is required",
            ]
        );
        let no_type = with_path(json!({"path": "/", "backend": {}}));
        assert_eq!(
            causes(no_type),
            ["spec.rules[0].http.paths[0].pathType: Required value: pathType must be specified"],
            "the backend is not checked then"
        );
        let regex = with_path(
            json!({"path": "/", "pathType": "Regex", "backend": {"service": {"name": "svc", "port": {"number": 80}}}}),
        );
        assert_eq!(
            causes(regex),
            [
                "spec.rules[0].http.paths[0].pathType: Unsupported value: \"Regex\": supported values: \"Exact\", \"ImplementationSpecific\", \"Prefix\""
            ]
        );
        let both = with_path(
            json!({"path": "/a//b/..", "pathType": "Exact", "backend": {"service": {"name": "svc", "port": {"name": "http", "number": 80}}}}),
        );
        assert_eq!(
            causes(both),
            [
                "spec.rules[0].http.paths[0].path: Invalid value: \"/a//b/..\": must not contain '//'",
                "spec.rules[0].http.paths[0].path: Invalid value: \"/a//b/..\": cannot end with '/..'",
                "spec.rules[0].http.paths[0].backend: Invalid value: \"\": cannot set both port name & port number",
            ]
        );
        let neither = with_path(json!({"pathType": "ImplementationSpecific", "backend": {}}));
        assert_eq!(
            causes(neither),
            [
                "spec.rules[0].http.paths[0].backend: Invalid value: \"\": resource or service backend is required"
            ]
        );
        let bad_service = with_path(
            json!({"path": "/", "pathType": "Prefix", "backend": {"service": {"name": "1svc", "port": {"number": 70000}}}}),
        );
        let got = causes(bad_service);
        assert!(got[0].starts_with("spec.rules[0].http.paths[0].backend.service.name: Invalid value: \"1svc\": a DNS-1035 label"), "{got:?}");
        assert_eq!(
            got[1],
            "spec.rules[0].http.paths[0].backend.service.port.number: Invalid value: 70000: must be between 1 and 65535, inclusive"
        );
        assert!(causes(json!({"spec": {"rules": [{"host": "*.example.com"}]}})).is_empty());
        let wild = causes(json!({"spec": {"rules": [{"host": "foo.*.com"}]}}));
        assert_eq!(wild.len(), 1);
        assert!(wild[0].contains("a wildcard DNS-1123 subdomain"), "{wild:?}");
        assert!(is_ip_sloppy("010.1.1.1") && is_ip_sloppy("::1") && !is_ip_sloppy("1.2.3"));
    }

    #[test]
    fn tls_class_name_and_the_annotation() {
        let obj = json!({"metadata": {"annotations": {CLASS_ANNOTATION: "nginx"}},
            "spec": {"ingressClassName": "Traefik", "tls": [{"hosts": ["1.2.3.4", "Bad"], "secretName": "My_Secret"}],
            "defaultBackend": {"service": {"name": "svc", "port": {"number": 80}}}}});
        let got = causes(obj.clone());
        let fields: Vec<&str> = got.iter().map(|l| l.split(':').next().unwrap()).collect();
        assert_eq!(
            fields,
            [
                "spec.tls[0].hosts[1]",
                "spec.tls[0].secretName",
                "spec.ingressClassName",
                "annotations.kubernetes.io/ingress.class"
            ],
            "a TLS host may be an IP; {got:?}"
        );
        let mut update = Vec::new();
        ingress(&obj, false, &mut update);
        assert_eq!(update.len(), 3, "the annotation is checked on create only");
        let warned = json!({"metadata": {"annotations": {CLASS_ANNOTATION: "nginx"}}, "spec": {}});
        assert_eq!(ingress_warnings(&warned).len(), 1);
    }

    #[test]
    fn ingress_classes_as_upstream() {
        let lines = |obj: Value| {
            let mut obj = obj;
            ingress_class_defaults(&mut obj);
            let mut out = Vec::new();
            ingress_class(&obj, &mut out);
            out.iter().map(Cause::line).collect::<Vec<_>>()
        };
        assert!(lines(json!({"spec": {"controller": "k8s.io/ingress-nginx"}})).is_empty());
        assert_eq!(lines(json!({"spec": {}})), ["spec.controller: Required value"]);
        assert_eq!(
            lines(json!({"spec": {"controller": "nginx"}})),
            [
                "spec.controller: Invalid value: \"nginx\": must be a domain-prefixed path (such as \"acme.io/foo\")"
            ]
        );
        assert_eq!(
            lines(
                json!({"spec": {"controller": "a.io/x", "parameters": {"kind": "K", "name": "p", "namespace": "ns"}}})
            ),
            ["spec.parameters.namespace: Forbidden: `parameters.scope` is set to 'Cluster'"]
        );
        assert_eq!(
            lines(json!({"spec": {"controller": "a.io/x", "parameters": {"scope": "Namespace"}}})),
            [
                "spec.parameters.kind: Required value: kind is required",
                "spec.parameters.name: Required value: name is required",
                "spec.parameters.namespace: Required value: `parameters.scope` is set to 'Namespace'",
            ]
        );
        let mut out = Vec::new();
        ingress_class_update(
            &json!({"spec": {"controller": "b.io/x"}}),
            &json!({"spec": {"controller": "a.io/x"}}),
            &mut out,
        );
        assert_eq!(out[0].line(), "spec.controller: Invalid value: \"b.io/x\": field is immutable");
    }

    #[test]
    fn the_newest_default_class_is_given() {
        let class = |name: &str, at: &str, default: bool| {
            let mut c = json!({"metadata": {"name": name, "creationTimestamp": at}});
            if default {
                c["metadata"]["annotations"] = json!({DEFAULT_CLASS_ANNOTATION: "true"});
            }
            c
        };
        assert_eq!(default_class(&[class("a", "2026-01-01T00:00:00Z", false)]), None);
        let classes = [
            class("old", "2026-01-01T00:00:00Z", true),
            class("new", "2026-02-01T00:00:00Z", true),
            class("newest-not-default", "2026-03-01T00:00:00Z", false),
        ];
        assert_eq!(default_class(&classes).as_deref(), Some("new"));
    }
}
