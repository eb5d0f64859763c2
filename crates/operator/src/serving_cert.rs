//! The registry's serving certificate on plain Kubernetes. On OpenShift the service CA
//! operator fills Secret `image-registry-tls` (the Service's annotation asks for it), which
//! the registry's Pods mount; plain Kubernetes has no such operator, so the Pods could not
//! start. The operator then makes a self-signed certificate for the Service's names with
//! `rcgen`, valid a year, and makes a new one 30 days before it expires. A Secret it did
//! not make (one the user or cert-manager keeps) is left alone.

use std::collections::BTreeMap;

use jiff::{SignedDuration, Timestamp};
use k8s_openapi::ByteString;
use k8s_openapi::api::core::v1::Secret;

use render::names::{NAMESPACE, SERVICE, TLS_SECRET};

/// When the certificate the operator made expires (RFC 3339); also what marks it as the
/// operator's.
pub const NOT_AFTER_ANNOTATION: &str = "imageregistry.operator.openshift.io/self-signed-not-after";

const VALIDITY: SignedDuration = SignedDuration::from_hours(365 * 24);
const RENEW_BEFORE: SignedDuration = SignedDuration::from_hours(30 * 24);

/// Whether cert-manager may keep Secret `image-registry-tls` (with the operator's
/// Certificate): none yet, the operator's own self-signed one, or one cert-manager already
/// wrote. A Secret someone else keeps is theirs.
pub fn cert_managers(secret: Option<&Secret>) -> bool {
    let Some(s) = secret else { return true };
    let annotations = s.metadata.annotations.as_ref();
    annotations.is_some_and(|a| {
        a.contains_key(NOT_AFTER_ANNOTATION)
            || a.contains_key(render::cert_manager::SECRET_ANNOTATION)
    })
}

/// Whether a new certificate is due: no Secret, or one the operator made that expires
/// within 30 days (or whose date cannot be read). Another writer's Secret is never due.
pub fn due(secret: Option<&Secret>, now: Timestamp) -> bool {
    let Some(s) = secret else { return true };
    let annotations = s.metadata.annotations.as_ref();
    let Some(not_after) = annotations.and_then(|a| a.get(NOT_AFTER_ANNOTATION)) else {
        return false;
    };
    match not_after.parse::<Timestamp>() {
        Ok(t) => t.duration_since(now) < RENEW_BEFORE,
        Err(_) => true,
    }
}

/// A self-signed certificate for the registry Service's names, valid from `now` for a
/// year, as Secret `image-registry-tls` (type `kubernetes.io/tls`).
pub fn generate(now: Timestamp) -> Result<Secret, String> {
    let names = vec![
        format!("{SERVICE}.{NAMESPACE}.svc"),
        format!("{SERVICE}.{NAMESPACE}.svc.cluster.local"),
        format!("{SERVICE}.{NAMESPACE}"),
    ];
    let mut params = rcgen::CertificateParams::new(names).map_err(|e| e.to_string())?;
    let date = |t: Timestamp| {
        let d = t.to_zoned(jiff::tz::TimeZone::UTC).date();
        rcgen::date_time_ymd(i32::from(d.year()), d.month() as u8, d.day() as u8)
    };
    let not_after = now + VALIDITY;
    params.not_before = date(now - SignedDuration::from_hours(24));
    params.not_after = date(not_after);
    let key = rcgen::KeyPair::generate().map_err(|e| format!("cannot make a key: {e}"))?;
    let cert = params.self_signed(&key).map_err(|e| format!("cannot sign: {e}"))?;
    let data = BTreeMap::from([
        ("tls.crt".to_string(), ByteString(cert.pem().into_bytes())),
        ("tls.key".to_string(), ByteString(key.serialize_pem().into_bytes())),
    ]);
    let not_after = not_after.to_zoned(jiff::tz::TimeZone::UTC).date().to_string();
    Ok(Secret {
        metadata: k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta {
            name: Some(TLS_SECRET.to_string()),
            namespace: Some(NAMESPACE.to_string()),
            annotations: Some(BTreeMap::from([(
                NOT_AFTER_ANNOTATION.to_string(),
                format!("{not_after}T00:00:00Z"),
            )])),
            ..Default::default()
        },
        type_: Some("kubernetes.io/tls".to_string()),
        data: Some(data),
        ..Default::default()
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_certificate_is_made_when_missing_and_again_before_it_expires() {
        let now: Timestamp = "2026-12-04T12:00:00Z".parse().unwrap();
        assert!(due(None, now));
        let s = generate(now).unwrap();
        let data = s.data.as_ref().unwrap();
        assert!(
            String::from_utf8_lossy(&data["tls.crt"].0).starts_with("-----BEGIN CERTIFICATE-----")
        );
        assert!(String::from_utf8_lossy(&data["tls.key"].0).contains("PRIVATE KEY"));
        assert_eq!(
            s.metadata.annotations.as_ref().unwrap()[NOT_AFTER_ANNOTATION],
            "2027-12-04T00:00:00Z"
        );
        assert!(!due(Some(&s), now), "fresh");
        assert!(!due(Some(&s), "2027-11-01T00:00:00Z".parse().unwrap()), "33 days left");
        assert!(due(Some(&s), "2027-11-10T00:00:00Z".parse().unwrap()), "24 days left");
        let mut garbled = s.clone();
        garbled.metadata.annotations =
            Some(BTreeMap::from([(NOT_AFTER_ANNOTATION.to_string(), "soon".to_string())]));
        assert!(due(Some(&garbled), now), "an unreadable date is renewed");
        let mut theirs = s.clone();
        theirs.metadata.annotations = None;
        assert!(
            !due(Some(&theirs), "2030-01-01T00:00:00Z".parse().unwrap()),
            "never another writer's"
        );
    }
}
