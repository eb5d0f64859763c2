//! Permanent spec errors: bad input that no retry will fix. Each carries the reason the
//! conditions show and the message the reference uses.

use api::ImageRegistrySpec;

use crate::godur;
use crate::names::DEFAULT_ROUTE;
use crate::storage::{self, SelectError};

use crate::conditions::Reason;

/// A spec error that no retry fixes.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{message}")]
pub struct SpecError {
    /// CamelCase condition reason (`VerificationFailed`, `StorageNotConfigured`, ...).
    pub reason: Reason,
    /// Human message, as the reference words it.
    pub message: String,
}

/// Reason of spec checks that fail.
pub const VERIFICATION_FAILED: Reason = Reason::VerificationFailed;
/// Reason when no storage backend is configured.
pub const STORAGE_NOT_CONFIGURED: Reason = Reason::StorageNotConfigured;

fn failed(what: impl std::fmt::Display) -> SpecError {
    SpecError {
        reason: VERIFICATION_FAILED,
        message: format!("unable to complete resource: {what}"),
    }
}

/// Checks a Managed Config's spec, in the reference's order: replicas, route names, request
/// limits, then storage.
///
/// The reference treats negative request limits and more than one storage backend as
/// transient errors and retries them forever; here they are permanent
/// (`VerificationFailed`) with the same wording, since only a spec change can fix them.
pub fn verify(spec: &ImageRegistrySpec) -> Result<(), SpecError> {
    if spec.replicas < 0 {
        return Err(failed("replicas must be greater than or equal to 0"));
    }
    let mut seen = vec![DEFAULT_ROUTE];
    for route in &spec.routes {
        if seen.contains(&route.name.as_str()) {
            return Err(failed("duplication of names has been detected in the additional routes"));
        }
        seen.push(&route.name);
    }
    if let Some(requests) = &spec.requests {
        for (dir, limits) in [("Read", &requests.read), ("Write", &requests.write)] {
            let Some(l) = limits else { continue };
            let (running, queue) = (l.max_running.unwrap_or(0), l.max_in_queue.unwrap_or(0));
            if running == 0 && queue == 0 {
                continue;
            }
            if running < 0 {
                return Err(failed(format!("Requests.{dir}.MaxRunning must be positive number")));
            }
            if queue < 0 {
                return Err(failed(format!("Requests.{dir}.MaxInQueue must be positive number")));
            }
            if let Some(wait) = &l.max_wait_in_queue {
                godur::parse(wait)
                    .map_err(|e| failed(format!("Requests.{dir}.MaxWaitInQueue: {e}")))?;
            }
        }
    }
    if let Some(proxy) = &spec.proxy {
        for (field, value) in [("http", &proxy.http), ("https", &proxy.https)] {
            if !value.is_empty() && !is_proxy_url(value) {
                return Err(failed(format!(
                    "spec.proxy.{field} {value:?} is not a proxy URL (such as http://proxy.example.com:3128)"
                )));
            }
        }
    }
    match storage::select(spec.storage.as_ref()) {
        Ok(_) => Ok(()),
        Err(e @ SelectError::NotConfigured) => {
            Err(SpecError { reason: STORAGE_NOT_CONFIGURED, message: e.to_string() })
        }
        Err(e @ SelectError::Multiple(_)) => Err(failed(e)),
    }
}

/// Whether `s` is a proxy as Go's `http.ProxyFromEnvironment` takes one, which the registry
/// is given it to: `[scheme://][user@]host[:port][/...]`, the scheme http, https or
/// socks5, the host not empty, the port digits.
fn is_proxy_url(s: &str) -> bool {
    let rest = match s.split_once("://") {
        Some((scheme, rest)) if ["http", "https", "socks5"].contains(&scheme) => rest,
        Some(_) => return false,
        None => s,
    };
    let authority = rest.split('/').next().unwrap_or_default();
    let host_port = authority.rsplit_once('@').map_or(authority, |(_, h)| h);
    let (host, port) = match host_port.rsplit_once(':') {
        Some((h, p)) if !h.ends_with(']') || host_port.starts_with('[') => (h, Some(p)),
        _ => (host_port, None),
    };
    let host_ok = !host.is_empty()
        && host.chars().all(|c| c.is_ascii_alphanumeric() || "-._[]:".contains(c))
        && !host.starts_with(':');
    host_ok && port.is_none_or(|p| !p.is_empty() && p.bytes().all(|b| b.is_ascii_digit()))
}

/// Generates `httpSecret` from 64 random bytes: 128 lowercase hex characters.
pub fn http_secret(random: &[u8; 64]) -> String {
    random.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use api::imageregistry::*;

    fn spec() -> ImageRegistrySpec {
        ImageRegistrySpec {
            replicas: 1,
            storage: Some(ImageRegistryConfigStorage {
                empty_dir: Some(Default::default()),
                ..Default::default()
            }),
            ..Default::default()
        }
    }

    fn route(name: &str) -> ImageRegistryConfigRoute {
        ImageRegistryConfigRoute { name: name.into(), ..Default::default() }
    }

    fn limits(running: i64, queue: i64, wait: &str) -> Option<ImageRegistryConfigRequestsLimits> {
        Some(ImageRegistryConfigRequestsLimits {
            max_running: Some(running),
            max_in_queue: Some(queue),
            max_wait_in_queue: (!wait.is_empty()).then(|| wait.to_string()),
        })
    }

    #[test]
    fn proxies_must_be_urls_the_registry_can_use() {
        for ok in [
            "http://proxy.example.com:3128",
            "https://u:p@proxy:8443/",
            "proxy.corp:80",
            "socks5://10.0.0.1:1080",
            "http://[fd00::1]:3128",
        ] {
            assert!(is_proxy_url(ok), "{ok}");
        }
        for bad in
            ["::not a url::", "ftp://proxy:21", "http://", "http://proxy:port", "proxy host:80"]
        {
            assert!(!is_proxy_url(bad), "{bad}");
        }
        let mut s = spec();
        s.proxy =
            Some(ImageRegistryConfigProxy { https: "::not a url::".into(), ..Default::default() });
        let e = verify(&s).unwrap_err();
        assert_eq!(e.reason, VERIFICATION_FAILED);
        assert!(
            e.message.contains("spec.proxy.https \"::not a url::\" is not a proxy URL"),
            "{}",
            e.message
        );
    }

    #[test]
    fn table() {
        type Case = (&'static str, fn(&mut ImageRegistrySpec), Option<(Reason, &'static str)>);
        let cases: Vec<Case> = vec![
            ("valid", |_| {}, None),
            ("zero replicas", |s| s.replicas = 0, None),
            (
                "negative replicas",
                |s| s.replicas = -1,
                Some((
                    VERIFICATION_FAILED,
                    "unable to complete resource: replicas must be greater than or equal to 0",
                )),
            ),
            ("distinct routes", |s| s.routes = vec![route("a"), route("b")], None),
            (
                "duplicate routes",
                |s| s.routes = vec![route("a"), route("a")],
                Some((
                    VERIFICATION_FAILED,
                    "unable to complete resource: duplication of names has been detected in the additional routes",
                )),
            ),
            (
                "reserved route name",
                |s| s.routes = vec![route("default-route")],
                Some((
                    VERIFICATION_FAILED,
                    "unable to complete resource: duplication of names has been detected in the additional routes",
                )),
            ),
            (
                "limits",
                |s| {
                    s.requests = Some(ImageRegistryConfigRequests {
                        read: limits(1, 2, "3s"),
                        write: limits(0, 0, ""),
                    })
                },
                None,
            ),
            (
                "negative read running",
                |s| {
                    s.requests =
                        Some(ImageRegistryConfigRequests { read: limits(-1, 2, ""), write: None })
                },
                Some((
                    VERIFICATION_FAILED,
                    "unable to complete resource: Requests.Read.MaxRunning must be positive number",
                )),
            ),
            (
                "negative write queue",
                |s| {
                    s.requests =
                        Some(ImageRegistryConfigRequests { read: None, write: limits(1, -2, "") })
                },
                Some((
                    VERIFICATION_FAILED,
                    "unable to complete resource: Requests.Write.MaxInQueue must be positive number",
                )),
            ),
            (
                "negative but both zero-or-less ignored when zero",
                |s| {
                    s.requests = Some(ImageRegistryConfigRequests {
                        read: limits(0, 0, "bogus"),
                        write: None,
                    })
                },
                None,
            ),
            (
                "bad wait",
                |s| {
                    s.requests = Some(ImageRegistryConfigRequests {
                        read: limits(1, 1, "soon"),
                        write: None,
                    })
                },
                Some((
                    VERIFICATION_FAILED,
                    "unable to complete resource: Requests.Read.MaxWaitInQueue: time: invalid duration \"soon\"",
                )),
            ),
            (
                "no storage",
                |s| s.storage = None,
                Some((STORAGE_NOT_CONFIGURED, "storage backend not configured")),
            ),
            (
                "oss only",
                |s| {
                    s.storage = Some(ImageRegistryConfigStorage {
                        oss: Some(Default::default()),
                        ..Default::default()
                    })
                },
                Some((STORAGE_NOT_CONFIGURED, "storage backend not configured")),
            ),
            (
                "two storages",
                |s| s.storage.as_mut().unwrap().pvc = Some(Default::default()),
                Some((
                    VERIFICATION_FAILED,
                    "unable to complete resource: exactly one storage type should be configured at the same time, got 2: [EmptyDir PVC]",
                )),
            ),
            (
                "replicas checked first",
                |s| {
                    s.replicas = -3;
                    s.storage = None;
                },
                Some((
                    VERIFICATION_FAILED,
                    "unable to complete resource: replicas must be greater than or equal to 0",
                )),
            ),
        ];
        for (name, edit, want) in cases {
            let mut s = spec();
            edit(&mut s);
            let got = verify(&s).err().map(|e| (e.reason, e.message));
            let want = want.map(|(r, m)| (r, m.to_string()));
            assert_eq!(got, want, "{name}");
        }
    }

    #[test]
    fn http_secret_is_128_hex_chars() {
        let mut bytes = [0u8; 64];
        bytes[0] = 0xab;
        bytes[63] = 0x01;
        let s = http_secret(&bytes);
        assert_eq!(s.len(), 128);
        assert!(s.starts_with("ab00"));
        assert!(s.ends_with("0001"));
        assert!(s.chars().all(|c| c.is_ascii_hexdigit() && !c.is_ascii_uppercase()));
    }
}
