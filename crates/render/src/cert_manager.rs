//! Plain Kubernetes with cert-manager: the registry's serving certificate (Secret
//! `image-registry-tls`, which the Pods mount) is a cert-manager `Certificate` issued by a
//! self-signed `Issuer` of the operator's, renewed by cert-manager 30 days before it
//! expires. Without cert-manager the operator makes the certificate itself.

use api::cert_manager::SelfSignedIssuer;
use api::cert_manager::{Certificate, CertificateSpec, Issuer, IssuerRef, IssuerSpec, PrivateKey};

use crate::names::{NAMESPACE, ROUTE_OWNER_ANNOTATION, SERVICE, TLS_SECRET};
use crate::object::meta;

/// The operator's Issuer and Certificate.
pub const ISSUER: &str = "image-registry-selfsigned";
pub const CERTIFICATE: &str = "image-registry";

/// The annotation cert-manager puts on the Secrets it writes (the Certificate's name).
pub const SECRET_ANNOTATION: &str = "cert-manager.io/certificate-name";

/// The names the registry answers to inside the cluster.
pub fn service_names() -> Vec<String> {
    vec![
        format!("{SERVICE}.{NAMESPACE}.svc"),
        format!("{SERVICE}.{NAMESPACE}.svc.cluster.local"),
        format!("{SERVICE}.{NAMESPACE}"),
    ]
}

/// The self-signed Issuer.
pub fn issuer() -> Issuer {
    Issuer {
        metadata: meta(ISSUER, Some(NAMESPACE), &[], &[(ROUTE_OWNER_ANNOTATION, "true")]),
        spec: IssuerSpec { self_signed: Some(SelfSignedIssuer {}) },
    }
}

/// The serving Certificate: a year, renewed 30 days before, a new key each time.
pub fn certificate() -> Certificate {
    Certificate {
        metadata: meta(CERTIFICATE, Some(NAMESPACE), &[], &[(ROUTE_OWNER_ANNOTATION, "true")]),
        spec: CertificateSpec {
            secret_name: TLS_SECRET.to_string(),
            dns_names: service_names(),
            issuer_ref: IssuerRef {
                name: ISSUER.to_string(),
                kind: "Issuer".to_string(),
                group: "cert-manager.io".to_string(),
            },
            duration: Some("8760h".to_string()),
            renew_before: Some("720h".to_string()),
            private_key: Some(PrivateKey {
                algorithm: "ECDSA".to_string(),
                rotation_policy: "Always".to_string(),
            }),
        },
        status: None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_certificate_is_for_the_service_from_the_operators_issuer() {
        let c = serde_json::to_value(certificate()).unwrap();
        assert_eq!(c["apiVersion"], "cert-manager.io/v1");
        assert_eq!(c["kind"], "Certificate");
        assert_eq!(c["spec"]["secretName"], TLS_SECRET);
        assert_eq!(c["spec"]["issuerRef"]["name"], ISSUER);
        assert_eq!(c["spec"]["dnsNames"][0], "image-registry.openshift-image-registry.svc");
        assert!(c.get("status").is_none_or(|s| s.is_null()), "no status written: {c}");
        let i = serde_json::to_value(issuer()).unwrap();
        assert_eq!(i["kind"], "Issuer");
        assert_eq!(i["spec"], serde_json::json!({"selfSigned": {}}));
    }
}
