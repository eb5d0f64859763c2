//! Azure managed identity of a hosted control plane (ARO HCP): the process's
//! `MANAGED_AZURE_HCP_CREDENTIALS_FILE_PATH` names a file of the managed identity data plane
//! (`client_id`, `tenant_id`, `authentication_endpoint`, and `client_secret`: a base64
//! PKCS#12 with the identity's certificate and key, without a password). Tokens are then
//! asked with a client assertion: a JWT signed RS256 with that key, naming the
//! certificate by its SHA-1 thumbprint (`x5t`), as the identity platform expects.
//!
//! The file is read at each token request, so a rotated certificate is used as soon as
//! the file changes.

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};

/// The variable naming the credentials file.
pub const MANAGED_IDENTITY_FILE_ENV: &str = "MANAGED_AZURE_HCP_CREDENTIALS_FILE_PATH";

/// How long a client assertion is valid.
const ASSERTION_LIFETIME_SECS: i64 = 600;

/// A managed identity read from its credentials file.
pub struct ManagedIdentity {
    pub client_id: String,
    pub tenant_id: String,
    /// The identity platform's host to ask (regional, as the file says).
    pub authority: String,
    key: ring::signature::RsaKeyPair,
    /// base64url of the certificate's SHA-1 digest.
    thumbprint: String,
}

impl std::fmt::Debug for ManagedIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ManagedIdentity")
            .field("client_id", &self.client_id)
            .field("tenant_id", &self.tenant_id)
            .field("authority", &self.authority)
            .field("thumbprint", &self.thumbprint)
            .finish_non_exhaustive()
    }
}

impl ManagedIdentity {
    /// Reads and checks the credentials file at `path`; an error says what is wrong
    /// without showing the secret.
    pub fn read(path: &str) -> Result<Self, String> {
        let text = std::fs::read_to_string(path)
            .map_err(|e| format!("the managed identity file {path} cannot be read: {e}"))?;
        Self::parse(&text).map_err(|e| format!("the managed identity file {path}: {e}"))
    }

    /// Parses the file's JSON.
    pub fn parse(text: &str) -> Result<Self, String> {
        let v: serde_json::Value =
            serde_json::from_str(text).map_err(|e| format!("not JSON: {e}"))?;
        let field = |k: &str| {
            v.get(k)
                .and_then(|x| x.as_str())
                .filter(|s| !s.is_empty())
                .map(str::to_string)
                .ok_or_else(|| format!("no {k}"))
        };
        let der = STANDARD
            .decode(field("client_secret")?.trim())
            .map_err(|e| format!("client_secret is not base64: {e}"))?;
        let store = p12_keystore::KeyStore::from_pkcs12(
            &der,
            "",
            p12_keystore::Pkcs12ImportPolicy::Relaxed,
        )
        .map_err(|e| format!("client_secret is not a PKCS#12 certificate and key: {e}"))?;
        let (_, chain) = store
            .private_key_chain()
            .ok_or("client_secret holds no private key with its certificate")?;
        let cert = chain.certs().first().ok_or("client_secret holds no certificate")?;
        let key = ring::signature::RsaKeyPair::from_pkcs8(chain.key().as_der())
            .map_err(|e| format!("the key of client_secret is not an RSA key: {e}"))?;
        let digest = ring::digest::digest(&ring::digest::SHA1_FOR_LEGACY_USE_ONLY, cert.as_der());
        Ok(ManagedIdentity {
            client_id: field("client_id")?,
            tenant_id: field("tenant_id")?,
            authority: field("authentication_endpoint")?,
            key,
            thumbprint: URL_SAFE_NO_PAD.encode(digest.as_ref()),
        })
    }

    /// A client assertion for the token endpoint `audience`, valid from `now` (seconds
    /// since the epoch) for ten minutes.
    pub fn assertion(&self, audience: &str, now: i64) -> Result<String, String> {
        let mut jti = [0u8; 16];
        rand::TryRng::try_fill_bytes(&mut rand::rngs::SysRng, &mut jti)
            .map_err(|e| format!("no random source: {e}"))?;
        let header = serde_json::json!({"alg": "RS256", "typ": "JWT", "x5t": self.thumbprint});
        let claims = serde_json::json!({"aud": audience, "iss": self.client_id,
            "sub": self.client_id, "jti": URL_SAFE_NO_PAD.encode(jti),
            "nbf": now, "iat": now, "exp": now + ASSERTION_LIFETIME_SECS});
        let signed = format!(
            "{}.{}",
            URL_SAFE_NO_PAD.encode(header.to_string()),
            URL_SAFE_NO_PAD.encode(claims.to_string())
        );
        let mut signature = vec![0u8; self.key.public().modulus_len()];
        self.key
            .sign(
                &ring::signature::RSA_PKCS1_SHA256,
                &ring::rand::SystemRandom::new(),
                signed.as_bytes(),
                &mut signature,
            )
            .map_err(|_| "cannot sign the client assertion".to_string())?;
        Ok(format!("{signed}.{}", URL_SAFE_NO_PAD.encode(signature)))
    }
}

/// The client assertion of the identity in `path`, read again at each request.
#[derive(Debug)]
pub struct FileAssertion {
    pub path: String,
    /// The token endpoint the assertion is for.
    pub audience: String,
}

#[async_trait::async_trait]
impl azure_identity::ClientAssertion for FileAssertion {
    async fn secret(
        &self,
        _options: Option<azure_core::http::ClientMethodOptions<'_>>,
    ) -> azure_core::Result<String> {
        let failed = |m: String| {
            azure_core::Error::with_message(azure_core::error::ErrorKind::Credential, m)
        };
        let identity = ManagedIdentity::read(&self.path).map_err(failed)?;
        identity.assertion(&self.audience, jiff::Timestamp::now().as_second()).map_err(failed)
    }
}
