//! Certificate authorities every outgoing TLS client of the process trusts besides the
//! system's: the cluster's trusted CA bundle (the `trusted-ca` config map, which OpenShift
//! fills with the proxy's and the admin's CAs and mounts at
//! `/var/run/configmaps/trusted-ca/tls-ca-bundle.pem`). The reference copies that file into
//! the image's system trust store before it starts; here the operator reads it once at
//! start ([`trust_also`]) and each client adds it to the roots it builds with: the cloud
//! SDKs, the identity services and the Kubernetes client.

use std::sync::OnceLock;

use rustls::pki_types::CertificateDer;
use rustls::pki_types::pem::PemObject as _;

static EXTRA: OnceLock<Vec<CertificateDer<'static>>> = OnceLock::new();

/// The certificates of a PEM bundle; an error names what is wrong.
pub fn certificates(pem: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = CertificateDer::pem_slice_iter(pem.as_bytes())
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("not a PEM certificate bundle: {e}"))?;
    Ok(certs)
}

/// The certificates of a CA bundle a user named: at least one, or an error saying why.
pub fn bundle(pem: &str) -> Result<Vec<CertificateDer<'static>>, String> {
    let certs = certificates(pem)?;
    if certs.is_empty() {
        return Err("the CA bundle holds no PEM certificate".into());
    }
    Ok(certs)
}

/// Adds the certificates of `pem` to what every client trusts, for the life of the process
/// (the first call wins). Returns how many.
pub fn trust_also(pem: &str) -> Result<usize, String> {
    let certs = certificates(pem)?;
    let n = certs.len();
    EXTRA.set(certs).map_err(|_| "the trusted CA bundle was already loaded".to_string())?;
    Ok(n)
}

/// The added certificates (none unless [`trust_also`] was called).
pub fn extra() -> &'static [CertificateDer<'static>] {
    EXTRA.get().map(Vec::as_slice).unwrap_or_default()
}

/// The added certificates as one PEM bundle, for clients that take PEM.
pub fn extra_pem() -> Option<String> {
    use base64::Engine as _;
    let certs = extra();
    (!certs.is_empty()).then(|| {
        let b64 = base64::engine::general_purpose::STANDARD;
        certs
            .iter()
            .map(|c| {
                let text = b64.encode(c.as_ref());
                let lines: Vec<&str> = text
                    .as_bytes()
                    .chunks(64)
                    .map(|l| std::str::from_utf8(l).expect("base64 is ASCII"))
                    .collect();
                format!(
                    "-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n",
                    lines.join("\n")
                )
            })
            .collect()
    })
}

/// A reqwest builder that also trusts the added certificates.
pub fn reqwest_builder() -> reqwest::ClientBuilder {
    extra().iter().fold(reqwest::Client::builder(), |b, c| {
        match reqwest::Certificate::from_der(c.as_ref()) {
            Ok(cert) => b.add_root_certificate(cert),
            Err(_) => b,
        }
    })
}

/// The system's roots and the added certificates, for rustls clients.
pub fn root_store() -> rustls::RootCertStore {
    let mut roots = rustls::RootCertStore::empty();
    let native = rustls_native_certs::load_native_certs();
    let (_added, _ignored) = roots.add_parsable_certificates(native.certs);
    let (_added, _ignored) = roots.add_parsable_certificates(extra().iter().cloned());
    roots
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bundle_reads_and_round_trips_as_pem() {
        let ca = rcgen::generate_simple_self_signed(vec!["ca.example".into()]).unwrap();
        let pem = format!("{}{}", ca.cert.pem(), ca.cert.pem());
        assert_eq!(certificates(&pem).unwrap().len(), 2);
        assert!(
            certificates("-----BEGIN CERTIFICATE-----\nnot base64\n-----END CERTIFICATE-----\n")
                .is_err()
        );
        assert_eq!(certificates("").unwrap().len(), 0, "an empty config map trusts nothing more");
        assert!(extra_pem().is_none(), "nothing added yet");
        assert_eq!(trust_also(&pem).unwrap(), 2);
        let again = extra_pem().unwrap();
        assert_eq!(certificates(&again).unwrap(), certificates(&pem).unwrap());
        assert!(trust_also(&pem).is_err(), "once per process");
        assert!(root_store().len() >= 2);
    }
}
