//! The process settings an admin's Deployment gives, as the reference reads them:
//! - `--config`: a `config.openshift.io/v1` `GenericControllerConfig` file of which only
//!   `servingInfo` counts (bind address, default `:60000`; certificate and key, default the
//!   service-serving certificate at `/etc/secrets`; minimum TLS version and cipher suites,
//!   which the cluster's TLS profile injects into the config map);
//! - `--files`: files whose change ends the process, so that the kubelet starts it again
//!   with the new content (how the reference picks up a renewed certificate or a changed
//!   config).

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use serde::Deserialize;

/// Where the reference's metrics certificate is mounted (Secret `image-registry-operator-tls`).
pub const CERT_FILE: &str = "/etc/secrets/tls.crt";
/// The key of [`CERT_FILE`].
pub const KEY_FILE: &str = "/etc/secrets/tls.key";

/// The `servingInfo` of a `GenericControllerConfig`.
#[derive(Debug, Default, Clone, PartialEq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ServingInfo {
    #[serde(default)]
    pub bind_address: String,
    #[serde(default)]
    pub cert_file: String,
    #[serde(default)]
    pub key_file: String,
    #[serde(default, rename = "minTLSVersion")]
    pub min_tls_version: String,
    #[serde(default)]
    pub cipher_suites: Vec<String>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "camelCase")]
struct GenericControllerConfig {
    #[serde(default)]
    api_version: String,
    #[serde(default)]
    kind: String,
    #[serde(default)]
    serving_info: ServingInfo,
}

/// Reads `--config`. An unreadable file, bad YAML or another kind is an error that names the
/// file.
pub fn read_config(path: &Path) -> Result<ServingInfo, String> {
    let text = std::fs::read_to_string(path)
        .map_err(|e| format!("--config {}: cannot read it: {e}", path.display()))?;
    parse_config(&text).map_err(|e| format!("--config {}: {e}", path.display()))
}

fn parse_config(text: &str) -> Result<ServingInfo, String> {
    if text.trim().is_empty() {
        return Ok(ServingInfo::default());
    }
    let c: GenericControllerConfig =
        serde_saphyr::from_str(text).map_err(|e| format!("not a GenericControllerConfig: {e}"))?;
    let known = ["", "config.openshift.io/v1", "operator.openshift.io/v1alpha1"];
    if !known.contains(&c.api_version.as_str())
        || !(c.kind.is_empty() || c.kind == "GenericControllerConfig")
    {
        return Err(format!(
            "a {} {} where a config.openshift.io/v1 GenericControllerConfig was expected",
            c.api_version, c.kind
        ));
    }
    Ok(c.serving_info)
}

/// `:60000`, `0.0.0.0:8443`, `[::]:60000` or empty (the reference's `:60000`) as an address;
/// an empty host listens on every interface.
pub fn bind_address(text: &str) -> Result<SocketAddr, String> {
    let text = if text.is_empty() { ":60000" } else { text };
    let full = match text.strip_prefix(':') {
        Some(port) => format!("0.0.0.0:{port}"),
        None => text.to_string(),
    };
    full.parse().map_err(|_| format!("servingInfo.bindAddress {text:?} is not host:port"))
}

/// The TLS versions a `minTLSVersion` allows (`VersionTLS12` and up; rustls has no 1.0/1.1,
/// so those mean 1.2 too).
fn versions(min: &str) -> Result<Vec<&'static rustls::SupportedProtocolVersion>, String> {
    match min {
        "" | "VersionTLS10" | "VersionTLS11" | "VersionTLS12" => {
            Ok(vec![&rustls::version::TLS13, &rustls::version::TLS12])
        }
        "VersionTLS13" => Ok(vec![&rustls::version::TLS13]),
        other => Err(format!("servingInfo.minTLSVersion {other:?} is not a TLS version")),
    }
}

/// A suite's IANA name (rustls says `TLS13_AES_128_GCM_SHA256` for `TLS_AES_128_GCM_SHA256`).
fn iana(s: &rustls::SupportedCipherSuite) -> String {
    format!("{:?}", s.suite()).replacen("TLS13_", "TLS_", 1)
}

/// The suites of `names` (IANA names, as OpenShift's TLS profiles list them) that rustls
/// has, and the names it has not (CBC and RSA key-exchange suites: left out, as Go leaves
/// out TLS 1.3 names it cannot configure). No names means rustls' defaults.
fn suites(names: &[String]) -> (Vec<rustls::SupportedCipherSuite>, Vec<String>) {
    let all = rustls::crypto::ring::ALL_CIPHER_SUITES;
    if names.is_empty() {
        return (rustls::crypto::ring::DEFAULT_CIPHER_SUITES.to_vec(), Vec::new());
    }
    let mut chosen = Vec::new();
    let mut missing = Vec::new();
    for name in names {
        match all.iter().find(|s| iana(s) == *name) {
            Some(s) => chosen.push(*s),
            None => missing.push(name.clone()),
        }
    }
    // TLS 1.3's suites are not configurable in Go; they stay on whatever the list says.
    for s in all.iter().filter(|s| s.version() == &rustls::version::TLS13) {
        if !chosen.contains(s) {
            chosen.push(*s);
        }
    }
    (chosen, missing)
}

/// The metrics server's TLS settings: `cert`/`key` (PEM), the versions and suites of `info`,
/// HTTP/1.1 only (the reference turns HTTP/2 off). Returns the names of suites left out.
pub fn server_config(
    cert: &Path,
    key: &Path,
    info: &ServingInfo,
) -> Result<(rustls::ServerConfig, Vec<String>), String> {
    use rustls::pki_types::pem::PemObject as _;
    use rustls::pki_types::{CertificateDer, PrivateKeyDer};
    let chain: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(cert)
        .and_then(|it| it.collect())
        .map_err(|e| format!("cannot load the certificate {}: {e}", cert.display()))?;
    if chain.is_empty() {
        return Err(format!(
            "cannot load the certificate {}: no certificate in it",
            cert.display()
        ));
    }
    let key = PrivateKeyDer::from_pem_file(key)
        .map_err(|e| format!("cannot load the key {}: {e}", key.display()))?;
    let (cipher_suites, missing) = suites(&info.cipher_suites);
    let provider = rustls::crypto::CryptoProvider {
        cipher_suites,
        ..rustls::crypto::ring::default_provider()
    };
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(provider))
        .with_protocol_versions(&versions(&info.min_tls_version)?)
        .map_err(|e| format!("servingInfo TLS settings: {e}"))?
        .with_no_client_auth()
        .with_single_cert(chain, key)
        .map_err(|e| format!("the certificate {} and its key: {e}", cert.display()))?;
    config.alpn_protocols = vec![b"http/1.1".to_vec()];
    Ok((config, missing))
}

/// What a file holds now (`None`: absent or unreadable), to compare with what it held.
fn content(path: &Path) -> Option<Vec<u8>> {
    std::fs::read(path).ok()
}

/// Returns when one of `files` changes (appears, goes, or holds other bytes), naming it.
pub async fn changed(files: Vec<PathBuf>, every: Duration) -> PathBuf {
    let mut seen: Vec<(PathBuf, Option<Vec<u8>>)> =
        files.into_iter().map(|f| (f.clone(), content(&f))).collect();
    loop {
        tokio::time::sleep(every).await;
        for (f, before) in &mut seen {
            let now = content(f);
            if now != *before {
                return f.clone();
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_reference_config_map_reads() {
        let info = parse_config(
            "apiVersion: config.openshift.io/v1\nkind: GenericControllerConfig\nservingInfo:\n  bindAddress: \":60000\"\n",
        )
        .unwrap();
        assert_eq!(info.bind_address, ":60000");
        assert_eq!(bind_address(&info.bind_address).unwrap(), "0.0.0.0:60000".parse().unwrap());
        assert_eq!(bind_address("").unwrap().port(), 60000);
        assert_eq!(bind_address("127.0.0.1:8443").unwrap(), "127.0.0.1:8443".parse().unwrap());
        assert!(bind_address("nonsense").is_err());
        // What the TLS injection adds.
        let info = parse_config(
            "servingInfo:\n  bindAddress: \":60000\"\n  minTLSVersion: VersionTLS13\n  cipherSuites: [TLS_AES_128_GCM_SHA256]\n",
        )
        .unwrap();
        assert_eq!(info.min_tls_version, "VersionTLS13");
        assert_eq!(info.cipher_suites, vec!["TLS_AES_128_GCM_SHA256"]);
        assert_eq!(parse_config("").unwrap(), ServingInfo::default());
    }

    #[test]
    fn another_kind_or_bad_yaml_is_refused() {
        let e = parse_config("apiVersion: v1\nkind: ConfigMap\n").unwrap_err();
        assert!(e.contains("GenericControllerConfig was expected"), "{e}");
        assert!(parse_config("servingInfo: [").is_err());
        let e = read_config(Path::new("/nonexistent/config.yaml")).unwrap_err();
        assert!(e.contains("/nonexistent/config.yaml"), "{e}");
    }

    #[test]
    fn tls_versions_and_suites_follow_the_profile() {
        assert_eq!(versions("VersionTLS13").unwrap().len(), 1);
        assert_eq!(versions("VersionTLS12").unwrap().len(), 2);
        assert!(versions("SSLv3").is_err());
        let names = [
            "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
            "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
            "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        ]
        .map(String::from);
        let (chosen, missing) = suites(&names);
        assert_eq!(missing, vec!["TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256"]);
        let tls12: Vec<String> =
            chosen.iter().filter(|s| s.version() == &rustls::version::TLS12).map(iana).collect();
        assert_eq!(tls12, names[..2].to_vec());
        assert!(chosen.iter().any(|s| s.version() == &rustls::version::TLS13), "1.3 stays");
    }

    #[tokio::test]
    async fn a_changed_file_is_named() {
        let dir = testkit::ScratchDir::new("files").unwrap();
        let (a, b) = (dir.join("tls.crt"), dir.join("tls.key"));
        std::fs::write(&a, "one").unwrap();
        let watch = tokio::spawn(changed(vec![a.clone(), b.clone()], Duration::from_millis(10)));
        tokio::time::sleep(Duration::from_millis(50)).await;
        assert!(!watch.is_finished(), "nothing changed yet");
        std::fs::write(&b, "appeared").unwrap();
        assert_eq!(watch.await.unwrap(), b);
    }
}
