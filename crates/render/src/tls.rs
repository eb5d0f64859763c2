//! The registry's TLS settings observed from `apiservers.config.openshift.io/cluster`
//! (`spec.tlsSecurityProfile`), in the form `spec.observedConfig.servingInfo` carries them.

use api::config::TlsSecurityProfile;
use serde_json::{Value, json};

const TLS13: &[&str] =
    &["TLS_AES_128_GCM_SHA256", "TLS_AES_256_GCM_SHA384", "TLS_CHACHA20_POLY1305_SHA256"];
const INTERMEDIATE_TLS12: &[&str] = &[
    "ECDHE-ECDSA-AES128-GCM-SHA256",
    "ECDHE-RSA-AES128-GCM-SHA256",
    "ECDHE-ECDSA-AES256-GCM-SHA384",
    "ECDHE-RSA-AES256-GCM-SHA384",
    "ECDHE-ECDSA-CHACHA20-POLY1305",
    "ECDHE-RSA-CHACHA20-POLY1305",
];
const OLD_EXTRA: &[&str] = &[
    "ECDHE-ECDSA-AES128-SHA256",
    "ECDHE-RSA-AES128-SHA256",
    "ECDHE-ECDSA-AES128-SHA",
    "ECDHE-RSA-AES128-SHA",
    "ECDHE-ECDSA-AES256-SHA",
    "ECDHE-RSA-AES256-SHA",
    "AES128-GCM-SHA256",
    "AES256-GCM-SHA384",
    "AES128-SHA256",
    "AES128-SHA",
    "AES256-SHA",
    "DES-CBC3-SHA",
];

/// A profile's minimum version and OpenSSL-named ciphers.
pub fn profile(type_: &str) -> Option<(&'static str, Vec<&'static str>)> {
    let cat = |parts: &[&[&'static str]]| parts.concat();
    match type_ {
        "Old" => Some(("VersionTLS10", cat(&[TLS13, INTERMEDIATE_TLS12, OLD_EXTRA]))),
        "Intermediate" => Some(("VersionTLS12", cat(&[TLS13, INTERMEDIATE_TLS12]))),
        "Modern" => Some(("VersionTLS13", TLS13.to_vec())),
        _ => None,
    }
}

/// The IANA name of an OpenSSL cipher name (TLS 1.3 names are the same in both); `None`
/// for ciphers the registry's TLS stack does not offer.
pub fn openssl_to_iana(name: &str) -> Option<&'static str> {
    Some(match name {
        "TLS_AES_128_GCM_SHA256" => "TLS_AES_128_GCM_SHA256",
        "TLS_AES_256_GCM_SHA384" => "TLS_AES_256_GCM_SHA384",
        "TLS_CHACHA20_POLY1305_SHA256" => "TLS_CHACHA20_POLY1305_SHA256",
        "ECDHE-ECDSA-AES128-GCM-SHA256" => "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        "ECDHE-RSA-AES128-GCM-SHA256" => "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "ECDHE-ECDSA-AES256-GCM-SHA384" => "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        "ECDHE-RSA-AES256-GCM-SHA384" => "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "ECDHE-ECDSA-CHACHA20-POLY1305" => "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        "ECDHE-RSA-CHACHA20-POLY1305" => "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        "ECDHE-ECDSA-AES128-SHA256" => "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
        "ECDHE-RSA-AES128-SHA256" => "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        "AES128-GCM-SHA256" => "TLS_RSA_WITH_AES_128_GCM_SHA256",
        "AES256-GCM-SHA384" => "TLS_RSA_WITH_AES_256_GCM_SHA384",
        "AES128-SHA256" => "TLS_RSA_WITH_AES_128_CBC_SHA256",
        "ECDHE-ECDSA-AES128-SHA" => "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
        "ECDHE-RSA-AES128-SHA" => "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        "ECDHE-ECDSA-AES256-SHA" => "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
        "ECDHE-RSA-AES256-SHA" => "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        "AES128-SHA" => "TLS_RSA_WITH_AES_128_CBC_SHA",
        "AES256-SHA" => "TLS_RSA_WITH_AES_256_CBC_SHA",
        "DES-CBC3-SHA" => "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
        "ECDHE-RSA-DES-CBC3-SHA" => "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
        _ => return None,
    })
}

/// Whether the registry knows an IANA cipher-suite name.
pub fn known_iana(name: &str) -> bool {
    const ALL: &[&str] = &[
        "TLS_AES_128_GCM_SHA256",
        "TLS_AES_256_GCM_SHA384",
        "TLS_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_ECDHE_ECDSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_RSA_WITH_CHACHA20_POLY1305_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA256",
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA256",
        "TLS_RSA_WITH_AES_128_GCM_SHA256",
        "TLS_RSA_WITH_AES_256_GCM_SHA384",
        "TLS_RSA_WITH_AES_128_CBC_SHA256",
        "TLS_ECDHE_ECDSA_WITH_AES_128_CBC_SHA",
        "TLS_ECDHE_RSA_WITH_AES_128_CBC_SHA",
        "TLS_ECDHE_ECDSA_WITH_AES_256_CBC_SHA",
        "TLS_ECDHE_RSA_WITH_AES_256_CBC_SHA",
        "TLS_RSA_WITH_AES_128_CBC_SHA",
        "TLS_RSA_WITH_AES_256_CBC_SHA",
        "TLS_RSA_WITH_3DES_EDE_CBC_SHA",
        "TLS_ECDHE_RSA_WITH_3DES_EDE_CBC_SHA",
        "TLS_ECDHE_ECDSA_WITH_RC4_128_SHA",
        "TLS_ECDHE_RSA_WITH_RC4_128_SHA",
        "TLS_RSA_WITH_RC4_128_SHA",
    ];
    ALL.contains(&name)
}

/// `spec.observedConfig` for a TLS profile: Intermediate when none is set, when a Custom
/// profile has no settings, or for an unknown type.
pub fn observed_config(profile_spec: Option<&TlsSecurityProfile>) -> Value {
    let (min, ciphers): (String, Vec<String>) = match profile_spec {
        Some(p) if p.type_ == "Custom" && p.custom.is_some() => {
            let c = p.custom.as_ref().expect("checked");
            (c.min_tls_version.clone(), c.ciphers.clone())
        }
        Some(p) if profile(&p.type_).is_some() => {
            let (m, c) = profile(&p.type_).expect("checked");
            (m.to_string(), c.into_iter().map(str::to_string).collect())
        }
        _ => {
            let (m, c) = profile("Intermediate").expect("built in");
            (m.to_string(), c.into_iter().map(str::to_string).collect())
        }
    };
    let iana: Vec<&str> = ciphers.iter().filter_map(|c| openssl_to_iana(c)).collect();
    json!({"servingInfo": {"minTLSVersion": min, "cipherSuites": iana}})
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::config::CustomTlsProfile;

    #[test]
    fn profiles() {
        let intermediate = observed_config(None);
        assert_eq!(intermediate["servingInfo"]["minTLSVersion"], "VersionTLS12");
        let suites = intermediate["servingInfo"]["cipherSuites"].as_array().unwrap();
        assert_eq!(suites.len(), 9);
        assert_eq!(suites[0], "TLS_AES_128_GCM_SHA256");
        assert_eq!(suites[3], "TLS_ECDHE_ECDSA_WITH_AES_128_GCM_SHA256");
        let modern =
            observed_config(Some(&TlsSecurityProfile { type_: "Modern".into(), custom: None }));
        assert_eq!(modern["servingInfo"]["minTLSVersion"], "VersionTLS13");
        assert_eq!(modern["servingInfo"]["cipherSuites"].as_array().unwrap().len(), 3);
        let old = observed_config(Some(&TlsSecurityProfile { type_: "Old".into(), custom: None }));
        assert_eq!(old["servingInfo"]["minTLSVersion"], "VersionTLS10");
        assert_eq!(old["servingInfo"]["cipherSuites"].as_array().unwrap().len(), 21);
        let custom = observed_config(Some(&TlsSecurityProfile {
            type_: "Custom".into(),
            custom: Some(CustomTlsProfile {
                min_tls_version: "VersionTLS11".into(),
                ciphers: vec![
                    "ECDHE-RSA-AES128-GCM-SHA256".into(),
                    "DHE-RSA-AES128-GCM-SHA256".into(),
                ],
            }),
        }));
        assert_eq!(
            custom,
            json!({"servingInfo": {"minTLSVersion": "VersionTLS11",
            "cipherSuites": ["TLS_ECDHE_RSA_WITH_AES_128_GCM_SHA256"]}}),
            "unsupported ciphers dropped"
        );
        let empty_custom =
            observed_config(Some(&TlsSecurityProfile { type_: "Custom".into(), custom: None }));
        assert_eq!(empty_custom, intermediate);
        for c in intermediate["servingInfo"]["cipherSuites"].as_array().unwrap() {
            assert!(known_iana(c.as_str().unwrap()));
        }
    }
}
