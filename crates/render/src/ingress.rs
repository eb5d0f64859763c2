//! Plain Kubernetes: the spec's routes (`defaultRoute`, `spec.routes`) as
//! `networking.k8s.io/v1` Ingresses, where the cluster has no `route.openshift.io`.
//!
//! Each Ingress has the name its Route would have, sends every path to the registry's
//! Service over HTTPS (as a reencrypt Route does), and terminates TLS with the route's
//! `secretName`, or without one with the ingress controller's default certificate.

use api::imageregistry::ImageRegistryConfigRoute;
use k8s_openapi::api::networking::v1::{
    HTTPIngressPath, HTTPIngressRuleValue, Ingress, IngressBackend, IngressClass, IngressRule,
    IngressServiceBackend, IngressSpec, IngressTLS, ServiceBackendPort,
};

use crate::Inputs;
use crate::names::{NAMESPACE, PORT, ROUTE_OWNER_ANNOTATION, SERVICE};
use crate::object::meta;
use crate::registry::RenderError;

/// The annotation that makes an IngressClass the cluster's default (the API server's
/// DefaultIngressClass admission then gives it to Ingresses created without a class).
pub const DEFAULT_CLASS_ANNOTATION: &str = "ingressclass.kubernetes.io/is-default-class";

/// The annotations of every Ingress: ours, and what ingress-nginx (the most common
/// controller; others ignore them) needs to carry a registry.
const ANNOTATIONS: &[(&str, &str)] = &[
    (ROUTE_OWNER_ANNOTATION, "true"),
    // The registry serves HTTPS only.
    ("nginx.ingress.kubernetes.io/backend-protocol", "HTTPS"),
    // Image layers are large: no limit on the request body (the default is 1 MiB).
    ("nginx.ingress.kubernetes.io/proxy-body-size", "0"),
];

/// The Ingress of one route; `class` is `--ingress-class` (unset: the cluster's default
/// class). A `secretName` that does not exist, or lacks `tls.crt` or `tls.key`, is an
/// error: an ingress controller would serve its default certificate instead, silently.
pub fn ingress(
    spec: &ImageRegistryConfigRoute,
    inputs: &Inputs,
    class: Option<&str>,
) -> Result<Ingress, RenderError> {
    if let Some(c) = class.filter(|c| !is_subdomain(c)) {
        return Err(RenderError::Missing(format!(
            "--ingress-class {c:?} is not an IngressClass name (a lowercase RFC 1123 subdomain): the routes' Ingresses are not made"
        )));
    }
    crate::registry::route_tls(spec, inputs, true)?;
    let secret_name = (!spec.secret_name.is_empty()).then(|| spec.secret_name.clone());
    let host = (!spec.hostname.is_empty()).then(|| spec.hostname.clone());
    let backend = IngressBackend {
        service: Some(IngressServiceBackend {
            name: SERVICE.to_string(),
            port: Some(ServiceBackendPort { number: Some(PORT), name: None }),
        }),
        resource: None,
    };
    let rule = IngressRule {
        host: host.clone(),
        http: Some(HTTPIngressRuleValue {
            paths: vec![HTTPIngressPath {
                path: Some("/".to_string()),
                path_type: "Prefix".to_string(),
                backend,
            }],
        }),
    };
    Ok(Ingress {
        metadata: meta(&spec.name, Some(NAMESPACE), &[], ANNOTATIONS),
        spec: Some(IngressSpec {
            ingress_class_name: class.map(str::to_string),
            rules: Some(vec![rule]),
            tls: Some(vec![IngressTLS { hosts: host.map(|h| vec![h]), secret_name }]),
            default_backend: None,
        }),
        status: None,
    })
}

/// Whether `s` is a lowercase RFC 1123 subdomain (what an IngressClass may be named).
fn is_subdomain(s: &str) -> bool {
    let label = |l: &str| {
        !l.is_empty()
            && l.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
            && !l.starts_with('-')
            && !l.ends_with('-')
    };
    s.len() <= 253 && s.split('.').all(label)
}

/// Why Ingresses of `class` would not be served: the IngressClass `--ingress-class` names
/// does not exist, or none was named and no IngressClass is the default. `None` when one
/// would serve them (whether its controller runs is not the API's to say).
pub fn class_problem(class: Option<&str>, classes: &[IngressClass]) -> Option<String> {
    let name = |c: &IngressClass| c.metadata.name.clone().unwrap_or_default();
    match class {
        Some(wanted) if classes.iter().any(|c| name(c) == wanted) => None,
        Some(wanted) => Some(format!(
            "IngressClass \"{wanted}\" (--ingress-class) does not exist{}",
            known(classes)
        )),
        None if classes.iter().any(is_default) => None,
        None => Some(format!(
            "no --ingress-class was given and no IngressClass is the default (annotation {DEFAULT_CLASS_ANNOTATION}: \"true\"){}",
            known(classes)
        )),
    }
}

/// `: the cluster has "a", "b"` (or `: the cluster has none`), for [`class_problem`].
fn known(classes: &[IngressClass]) -> String {
    let names: Vec<String> = classes
        .iter()
        .map(|c| format!("\"{}\"", c.metadata.name.as_deref().unwrap_or_default()))
        .collect();
    match names.is_empty() {
        true => ": the cluster has no IngressClass".to_string(),
        false => format!(": the cluster has {}", names.join(", ")),
    }
}

/// Whether an IngressClass is marked the default.
fn is_default(c: &IngressClass) -> bool {
    c.metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(DEFAULT_CLASS_ANNOTATION))
        .is_some_and(|v| v == "true")
}

/// The Degraded message for Ingresses that no class serves, as for Routes not admitted.
pub fn not_served(names: &[String], problem: &str) -> String {
    format!("ingresses {} not served: {problem}", names.join(", "))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::RouteTls;

    fn route(name: &str, host: &str, secret: &str) -> ImageRegistryConfigRoute {
        ImageRegistryConfigRoute {
            name: name.into(),
            hostname: host.into(),
            secret_name: secret.into(),
        }
    }

    fn class(name: &str, default: bool) -> IngressClass {
        let mut c = IngressClass::default();
        c.metadata.name = Some(name.into());
        if default {
            c.metadata.annotations =
                Some([(DEFAULT_CLASS_ANNOTATION.to_string(), "true".to_string())].into());
        }
        c
    }

    #[test]
    fn a_route_becomes_an_https_ingress_to_the_service() {
        let i =
            ingress(&route("default-route", "", ""), &Inputs::default(), Some("nginx")).unwrap();
        let v = serde_json::to_value(&i).unwrap();
        assert_eq!(v["apiVersion"], "networking.k8s.io/v1");
        assert_eq!(v["metadata"]["namespace"], NAMESPACE);
        assert_eq!(v["metadata"]["annotations"][ROUTE_OWNER_ANNOTATION], "true");
        assert_eq!(
            v["metadata"]["annotations"]["nginx.ingress.kubernetes.io/backend-protocol"],
            "HTTPS"
        );
        assert_eq!(v["spec"]["ingressClassName"], "nginx");
        let rule = &v["spec"]["rules"][0];
        assert!(rule.get("host").is_none(), "no hostname: every host, as the router assigns one");
        let path = &rule["http"]["paths"][0];
        assert_eq!((path["path"].as_str(), path["pathType"].as_str()), (Some("/"), Some("Prefix")));
        assert_eq!(path["backend"]["service"]["name"], SERVICE);
        assert_eq!(path["backend"]["service"]["port"]["number"], PORT);
        assert_eq!(v["spec"]["tls"], serde_json::json!([{}]), "TLS with the default certificate");
        let bad = ingress(&route("r", "", ""), &Inputs::default(), Some("Nginx_")).unwrap_err();
        assert!(
            bad.to_string().starts_with("--ingress-class \"Nginx_\" is not an IngressClass name")
        );
        assert!(
            is_subdomain("ingress.example.com") && !is_subdomain("a..b") && !is_subdomain("-a")
        );
        let unclassed = ingress(&route("r", "", ""), &Inputs::default(), None).unwrap();
        assert_eq!(unclassed.spec.unwrap().ingress_class_name, None, "the default class");
    }

    #[test]
    fn a_named_secret_terminates_tls_for_the_host() {
        let mut inputs = Inputs::default();
        let tls = RouteTls { certificate: "CRT".into(), key: "KEY".into(), ..Default::default() };
        inputs.route_tls.insert("s".into(), tls);
        let i = ingress(&route("r", "registry.example.com", "s"), &inputs, None).unwrap();
        let spec = i.spec.unwrap();
        assert_eq!(spec.rules.unwrap()[0].host.as_deref(), Some("registry.example.com"));
        let t = &spec.tls.unwrap()[0];
        assert_eq!(t.hosts, Some(vec!["registry.example.com".to_string()]));
        assert_eq!(t.secret_name.as_deref(), Some("s"));
        let v = serde_json::to_string(&ingress(&route("r", "h", "s"), &inputs, None).unwrap());
        assert!(!v.unwrap().contains("KEY"), "the key stays in its secret");
    }

    #[test]
    fn a_secret_missing_or_without_certificate_or_key_is_an_error() {
        let mut inputs = Inputs::default();
        let missing = ingress(&route("r", "h", "s"), &inputs, None).unwrap_err();
        assert_eq!(missing.to_string(), "secret \"s\" not found (route r)");
        inputs.route_tls.insert("s".into(), RouteTls { key: "KEY".into(), ..Default::default() });
        let no_crt = ingress(&route("r", "h", "s"), &inputs, None).unwrap_err().to_string();
        assert!(no_crt.starts_with("secret \"s\" has no tls.crt (route r)"), "{no_crt}");
        let tls = RouteTls { certificate: "CRT".into(), key: " \n".into(), ..Default::default() };
        inputs.route_tls.insert("s".into(), tls);
        let no_key = ingress(&route("r", "h", "s"), &inputs, None).unwrap_err().to_string();
        assert!(no_key.starts_with("secret \"s\" has no tls.key"), "{no_key}");
    }

    #[test]
    fn a_class_that_serves_them_or_why_none_does() {
        let classes = [class("nginx", false), class("traefik", true)];
        assert_eq!(class_problem(Some("nginx"), &classes), None);
        assert_eq!(class_problem(None, &classes), None, "traefik is the default");
        assert_eq!(
            class_problem(Some("haproxy"), &classes).as_deref(),
            Some(
                "IngressClass \"haproxy\" (--ingress-class) does not exist: the cluster has \"nginx\", \"traefik\""
            )
        );
        let none = class_problem(None, &classes[..1]).unwrap();
        assert!(
            none.starts_with("no --ingress-class was given and no IngressClass is the default")
        );
        assert!(none.ends_with(": the cluster has \"nginx\""), "{none}");
        let empty = class_problem(None, &[]).unwrap();
        assert!(empty.ends_with("the cluster has no IngressClass"), "{empty}");
        assert!(class_problem(None, &[class("x", false)]).is_some(), "annotation must be true");
    }
}
