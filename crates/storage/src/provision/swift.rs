//! OpenStack Swift: a small client on reqwest (no maintained Swift client shares our HTTP
//! stack). Authentication by Keystone v3 (password, application credential or token;
//! the `container` service of the catalog, else `object-store`) or by a v1 auth service
//! (tempauth: `X-Auth-User` / `X-Auth-Key`). Container HEAD / PUT with metadata / DELETE
//! after deleting its objects.

use render::conditions::Reason;
use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use api::imageregistry::ImageRegistryConfigStorageSwift;
use serde_json::{Value, json};

use super::{ConditionStatus, Outcome, Request, RoundTrips, STORAGE_EXISTS};
use crate::swift::SwiftCredentials;

const TIMEOUT: Duration = Duration::from_secs(30);

/// The Swift driver's HTTP clients (one connection pool for each CA bundle the cloud is
/// trusted with) and the tokens it holds.
#[derive(Clone, Default)]
pub struct Driver {
    http: Arc<Mutex<HashMap<String, reqwest::Client>>>,
    /// Sessions by what they were obtained with, until shortly before they expire.
    sessions: Arc<Mutex<HashMap<String, (Session, Instant)>>>,
}

/// Where to talk to Swift, and with which token.
#[derive(Debug, Clone)]
pub struct Session {
    pub storage_url: String,
    token: String,
    /// The CA bundle the identity service was trusted with (the storage URL is too).
    ca: String,
    /// Obtained by an earlier pass (the server may have revoked it since).
    reused: bool,
}

/// A token is used until this long before the identity service says it expires, and for
/// this long when it does not say.
const TOKEN_MARGIN: Duration = Duration::from_secs(300);
const TOKEN_DEFAULT_LIFETIME: Duration = Duration::from_secs(600);

/// How long a token that expires at `expires` (seconds from now, if known) is reused.
fn reuse_for(expires_in: Option<Duration>) -> Duration {
    match expires_in {
        Some(d) => d.saturating_sub(TOKEN_MARGIN),
        None => TOKEN_DEFAULT_LIFETIME,
    }
}

#[derive(Debug)]
enum Failure {
    /// Authentication or the catalog failed: the message says why.
    Auth(String),
    /// The cloud has no object store (no auth URL, or none in the catalog).
    NoSwift(String),
    /// The identity service refused the credentials (its HTTP status).
    Refused {
        code: u16,
        message: String,
    },
    Status {
        code: u16,
        message: String,
    },
    Unreachable(String),
}

impl Failure {
    fn message(&self) -> String {
        match self {
            Failure::Auth(m) | Failure::NoSwift(m) | Failure::Unreachable(m) => m.clone(),
            Failure::Status { message, .. } | Failure::Refused { message, .. } => message.clone(),
        }
    }
}

/// The identity service's refusal: `Refused` for 401 and 403 (the credentials), else an
/// `Auth` failure.
fn refused(code: u16, message: String) -> Failure {
    if matches!(code, 401 | 403) {
        Failure::Refused { code, message }
    } else {
        Failure::Auth(message)
    }
}

fn or<'a>(a: &'a str, b: &'a str) -> &'a str {
    if a.is_empty() { b } else { a }
}

/// The Keystone v3 request body for the credentials (password, application credential
/// or token), scoped to the project when one is named.
pub fn keystone_v3_body(s: &ImageRegistryConfigStorageSwift, c: &SwiftCredentials) -> Value {
    let domain = |name: &str, id: &str| {
        if !id.is_empty() { json!({"id": id}) } else { json!({"name": or(name, "Default")}) }
    };
    let user_domain = domain(or(&s.domain, &c.domain), or(&s.domain_id, &c.domain_id));
    let identity = if !c.application_credential_secret.is_empty() {
        let mut app = json!({"secret": c.application_credential_secret});
        if c.application_credential_id.is_empty() {
            app["name"] = json!(c.application_credential_name);
            app["user"] = json!({"name": c.username, "domain": user_domain});
        } else {
            app["id"] = json!(c.application_credential_id);
        }
        json!({"methods": ["application_credential"], "application_credential": app})
    } else if !c.token.is_empty() && c.password.is_empty() {
        json!({"methods": ["token"], "token": {"id": c.token}})
    } else {
        json!({"methods": ["password"], "password": {"user": {
            "name": c.username, "domain": user_domain, "password": c.password}}})
    };
    let mut auth = json!({"identity": identity});
    // Application credentials carry their own scope.
    if c.application_credential_secret.is_empty() {
        let (tenant, tenant_id) = (or(&s.tenant, &c.tenant), or(&s.tenant_id, &c.tenant_id));
        if !tenant_id.is_empty() {
            auth["scope"] = json!({"project": {"id": tenant_id}});
        } else if !tenant.is_empty() {
            let project_domain = domain(or(&s.domain, &c.domain), or(&s.domain_id, &c.domain_id));
            auth["scope"] = json!({"project": {"name": tenant, "domain": project_domain}});
        }
    }
    json!({"auth": auth})
}

/// The object-store endpoint of a Keystone v3 catalog: service type `container`, else
/// `object-store`; public interface; in `region` when one is given.
pub fn catalog_endpoint(catalog: &Value, region: &str) -> Option<String> {
    let services = catalog.as_array()?;
    for kind in ["container", "object-store"] {
        for svc in services.iter().filter(|s| s["type"] == kind) {
            for e in svc["endpoints"].as_array().into_iter().flatten() {
                let in_region =
                    region.is_empty() || e["region"] == region || e["region_id"] == region;
                if e["interface"] == "public" && in_region {
                    return e["url"].as_str().map(|u| u.trim_end_matches('/').to_string());
                }
            }
        }
    }
    None
}

impl Driver {
    /// The client that trusts `ca` (PEM) instead of the system's roots, or the system's
    /// when it is empty; the cluster's trusted CA bundle in both cases.
    fn http(&self, ca: &str) -> Result<reqwest::Client, Failure> {
        let mut clients = self.http.lock().expect("swift clients");
        if let Some(c) = clients.get(ca) {
            return Ok(c.clone());
        }
        let _ = rustls::crypto::ring::default_provider().install_default();
        let mut b = crate::tls::reqwest_builder()
            .timeout(TIMEOUT)
            .user_agent(format!("cluster-image-registry-operator/{}", env!("CARGO_PKG_VERSION")));
        if !ca.is_empty() {
            let invalid = |m: String| Failure::Auth(format!("the OpenStack CA bundle: {m}"));
            let certs = crate::tls::bundle(ca)
                .map_err(invalid)?
                .iter()
                .map(|c| reqwest::Certificate::from_der(c.as_ref()))
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| invalid(e.to_string()))?;
            b = b.tls_certs_only(certs);
        }
        let client = b
            .build()
            .map_err(|e| Failure::Unreachable(format!("cannot build an HTTP client: {e}")))?;
        // A bundle that changed leaves its client behind: keep only the one in use.
        clients.clear();
        clients.insert(ca.to_string(), client.clone());
        Ok(client)
    }

    async fn send(
        &self,
        rt: &RoundTrips,
        what: &str,
        r: reqwest::RequestBuilder,
    ) -> Result<reqwest::Response, Failure> {
        rt.add();
        r.send().await.map_err(|e| {
            let mut m = format!("cannot reach {what}: {e}");
            let mut source = std::error::Error::source(&e);
            while let Some(s) = source {
                m.push_str(&format!(": {s}"));
                source = s.source();
            }
            Failure::Unreachable(m)
        })
    }

    /// What a session is obtained with: the auth URL, version, region and credentials.
    fn session_key(s: &ImageRegistryConfigStorageSwift, c: &SwiftCredentials) -> String {
        let body = keystone_v3_body(s, c).to_string();
        [
            or(&s.auth_url, &c.auth_url),
            or(&s.auth_version, &c.identity_api_version),
            or(&s.region_name, &c.region_name),
            &c.username,
            &c.password,
            &body,
            &c.ca_cert,
        ]
        .join("\0")
    }

    /// A token and storage URL: the one obtained earlier while it is valid, else a new one.
    async fn session(
        &self,
        s: &ImageRegistryConfigStorageSwift,
        c: &SwiftCredentials,
        rt: &RoundTrips,
    ) -> Result<Session, Failure> {
        let key = Self::session_key(s, c);
        if let Some((session, until)) = self.sessions.lock().expect("swift sessions").get(&key)
            && *until > Instant::now()
        {
            return Ok(Session { reused: true, ..session.clone() });
        }
        let (session, expires_in) = self.authenticate(s, c, rt).await?;
        let mut sessions = self.sessions.lock().expect("swift sessions");
        sessions.retain(|_, (_, until)| *until > Instant::now());
        sessions.insert(key, (session.clone(), Instant::now() + reuse_for(expires_in)));
        Ok(session)
    }

    fn forget(&self, s: &ImageRegistryConfigStorageSwift, c: &SwiftCredentials) {
        self.sessions.lock().expect("swift sessions").remove(&Self::session_key(s, c));
    }

    /// HEAD of the container; a reused token that the server no longer takes (401) is
    /// dropped and the request made once more with a new one.
    async fn head_renewing(
        &self,
        rt: &RoundTrips,
        session: &mut Session,
        s: &ImageRegistryConfigStorageSwift,
        c: &SwiftCredentials,
    ) -> Result<bool, Failure> {
        match self.head(rt, session, &s.container).await {
            Err(Failure::Status { code: 401, .. }) if session.reused => {
                self.forget(s, c);
                *session = self.session(s, c, rt).await?;
                self.head(rt, session, &s.container).await
            }
            r => r,
        }
    }

    /// Authenticates: the session, and how long until its token expires when the
    /// identity service says.
    async fn authenticate(
        &self,
        s: &ImageRegistryConfigStorageSwift,
        c: &SwiftCredentials,
        rt: &RoundTrips,
    ) -> Result<(Session, Option<Duration>), Failure> {
        let http = self.http(&c.ca_cert)?;
        let auth_url = or(&s.auth_url, &c.auth_url);
        if auth_url.is_empty() {
            return Err(Failure::NoSwift(
                "no Swift auth URL (storage.swift.authURL or clouds.yaml)".into(),
            ));
        }
        let version = or(or(&s.auth_version, &c.identity_api_version), "3");
        let url = crate::swift::auth_url_with_version(auth_url, version);
        match version {
            "1" | "1.0" => self.auth_v1(rt, &http, &url, c).await,
            "3" => self.auth_v3(rt, &http, &url, s, c).await,
            v => Err(Failure::Auth(format!(
                "Keystone identity API version {v} is not supported (1 or 3)"
            ))),
        }
    }

    /// v1 auth (tempauth): `X-Auth-User` / `X-Auth-Key` at `url`; the storage URL and
    /// token come back as headers.
    async fn auth_v1(
        &self,
        rt: &RoundTrips,
        http: &reqwest::Client,
        url: &str,
        c: &SwiftCredentials,
    ) -> Result<(Session, Option<Duration>), Failure> {
        let r = self
            .send(
                rt,
                url,
                http.get(url).header("X-Auth-User", &c.username).header("X-Auth-Key", &c.password),
            )
            .await?;
        if !r.status().is_success() {
            let code = r.status().as_u16();
            return Err(refused(code, format!("{url} refused the credentials: HTTP {code}")));
        }
        let header = |n: &str| r.headers().get(n).and_then(|v| v.to_str().ok()).map(str::to_string);
        // tempauth says how many seconds the token has left.
        let expires_in = header("x-auth-token-expires")
            .and_then(|v| v.parse::<f64>().ok())
            .filter(|v| v.is_finite() && *v >= 0.0)
            .map(Duration::from_secs_f64);
        match (header("x-storage-url"), header("x-auth-token")) {
            (Some(storage_url), Some(token)) => Ok((
                Session { storage_url, token, ca: c.ca_cert.clone(), reused: false },
                expires_in,
            )),
            _ => {
                Err(Failure::Auth(format!("{url} answered without X-Storage-Url and X-Auth-Token")))
            }
        }
    }

    /// Keystone v3: a token from `<url>/auth/tokens`, the storage URL from its catalog.
    async fn auth_v3(
        &self,
        rt: &RoundTrips,
        http: &reqwest::Client,
        url: &str,
        s: &ImageRegistryConfigStorageSwift,
        c: &SwiftCredentials,
    ) -> Result<(Session, Option<Duration>), Failure> {
        let tokens = format!("{}/auth/tokens", url.trim_end_matches('/'));
        let r = self.send(rt, &tokens, http.post(&tokens).json(&keystone_v3_body(s, c))).await?;
        let status = r.status();
        let token =
            r.headers().get("x-subject-token").and_then(|v| v.to_str().ok()).map(str::to_string);
        let body: Value = r.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            let why = body.pointer("/error/message").and_then(|m| m.as_str()).unwrap_or("");
            let code = status.as_u16();
            let message =
                format!("Keystone at {tokens} refused the credentials: HTTP {code} {why}");
            return Err(refused(code, message));
        }
        let token = token
            .ok_or_else(|| Failure::Auth("Keystone answered without X-Subject-Token".into()))?;
        let region = or(&s.region_name, &c.region_name);
        let storage_url = catalog_endpoint(&body["token"]["catalog"], region).ok_or_else(|| {
            Failure::NoSwift(format!(
                "the Keystone catalog has no public object-store endpoint{}",
                if region.is_empty() { String::new() } else { format!(" in region {region}") }
            ))
        })?;
        let expires_in = body["token"]["expires_at"]
            .as_str()
            .and_then(|t| t.parse::<jiff::Timestamp>().ok())
            .map(|t| {
                let left = t.as_second() - jiff::Timestamp::now().as_second();
                Duration::from_secs(left.max(0) as u64)
            });
        Ok((Session { storage_url, token, ca: c.ca_cert.clone(), reused: false }, expires_in))
    }

    async fn head(
        &self,
        rt: &RoundTrips,
        session: &Session,
        container: &str,
    ) -> Result<bool, Failure> {
        let url = format!("{}/{container}", session.storage_url);
        let http = self.http(&session.ca)?;
        let r = self.send(rt, &url, http.head(&url).header("X-Auth-Token", &session.token)).await?;
        match r.status().as_u16() {
            200..=299 => Ok(true),
            404 => Ok(false),
            code => Err(Failure::Status { code, message: format!("HEAD {url}: HTTP {code}") }),
        }
    }

    /// Whether the cluster has Swift (the bootstrap's test): `Ok(false)` only when it is
    /// really absent (no auth URL, no object store in the catalog) or its container list
    /// is refused; a failure that may pass (unreachable, 5xx, refused credentials) is an
    /// `Err`, so that the bootstrap retries instead of settling on a claim for good.
    pub(super) async fn available(
        &self,
        c: &SwiftCredentials,
        rt: &RoundTrips,
    ) -> Result<bool, String> {
        if c.auth_url.is_empty() {
            return Ok(false);
        }
        let session = match self.session(&Default::default(), c, rt).await {
            Ok(s) => s,
            Err(Failure::NoSwift(_)) => return Ok(false),
            Err(f) => return Err(f.message()),
        };
        let url = format!("{}?limit=1", session.storage_url);
        let http = self.http(&session.ca).map_err(|f| f.message())?;
        let r = self
            .send(rt, &url, http.get(&url).header("X-Auth-Token", &session.token))
            .await
            .map_err(|f| f.message())?;
        match r.status().as_u16() {
            200..=299 => Ok(true),
            401 | 403 => Ok(false),
            code => Err(format!("listing the Swift containers at {url}: HTTP {code}")),
        }
    }

    pub(super) async fn ensure(&self, req: &Request<'_>, rt: &Arc<RoundTrips>) -> Outcome {
        let mut out = Outcome::new(req.spec);
        let spec = req.spec.swift.clone().unwrap_or_default();
        let mut session = match self.session(&spec, &req.credentials.swift, rt).await {
            Ok(s) => s,
            Err(Failure::Refused { code, message }) => {
                // A credential error: the server's status is the reason.
                return failed(
                    out,
                    ConditionStatus::False,
                    Reason::Other(code.to_string()),
                    message,
                );
            }
            Err(f) => {
                return failed(out, ConditionStatus::Unknown, Reason::CouldNotConnect, f.message());
            }
        };
        let exists = match self.head_renewing(rt, &mut session, &spec, &req.credentials.swift).await
        {
            Ok(e) => e,
            Err(Failure::Status { code, message }) => {
                // Refused (401, 403...): the server's code is the reason.
                return failed(
                    out,
                    ConditionStatus::False,
                    Reason::Other(code.to_string()),
                    message,
                );
            }
            Err(f) => {
                return failed(
                    out,
                    ConditionStatus::Unknown,
                    Reason::UnknownErrorOccurredSwift,
                    f.message(),
                );
            }
        };
        if exists {
            container_found(&mut out, req, &spec);
            return out;
        }
        let http = match self.http(&session.ca) {
            Ok(http) => http,
            Err(f) => {
                out.fail(f.message());
                return out;
            }
        };
        let cluster = req.infrastructure.infrastructure_name();
        match self.create(rt, &http, &session, &spec.container, cluster).await {
            Ok(()) => {}
            Err(Failure::Status { message, .. }) => {
                return failed(out, ConditionStatus::False, Reason::CreationFailed, message);
            }
            Err(f) => {
                return failed(
                    out,
                    ConditionStatus::Unknown,
                    Reason::UnknownErrorOccurredSwift,
                    f.message(),
                );
            }
        }
        if out.storage.management_state.is_empty() {
            out.storage.management_state = "Managed".into();
        }
        out.set(
            STORAGE_EXISTS,
            ConditionStatus::True,
            Reason::SwiftContainerCreated,
            &format!("The Swift container {} was created", spec.container),
        );
        out
    }

    /// PUTs the container, with the cluster's id and its name as metadata; an answer
    /// other than a success is a `Status` failure.
    async fn create(
        &self,
        rt: &RoundTrips,
        http: &reqwest::Client,
        session: &Session,
        container: &str,
        cluster: &str,
    ) -> Result<(), Failure> {
        let url = format!("{}/{}", session.storage_url, container);
        let put = http
            .put(&url)
            .header("X-Auth-Token", &session.token)
            .header("X-Container-Meta-Openshiftclusterid", cluster)
            .header("X-Container-Meta-Name", container);
        let r = self.send(rt, &url, put).await?;
        if r.status().is_success() {
            return Ok(());
        }
        let code = r.status().as_u16();
        Err(Failure::Status { code, message: format!("PUT {url}: HTTP {code}") })
    }

    /// Deletes every object of the container of `req.applied` (Managed), then the container.
    pub(super) async fn remove(&self, req: &Request<'_>, rt: &Arc<RoundTrips>) -> Outcome {
        let mut out = Outcome::new(req.spec);
        let applied = req.applied.swift.clone().unwrap_or_default();
        match self.empty_and_delete(&applied, &req.credentials.swift, rt).await {
            Ok(_) => {
                out.set(
                    STORAGE_EXISTS,
                    ConditionStatus::False,
                    Reason::SwiftContainerDeleted,
                    "The swift container has been removed.",
                );
                if let Some(s) = out.storage.swift.as_mut()
                    && s.container == applied.container
                {
                    s.container.clear();
                }
            }
            Err(f) => {
                if matches!(f, Failure::Status { code: 401, .. }) {
                    // The token was revoked: the retry authenticates afresh.
                    self.forget(&applied, &req.credentials.swift);
                }
                out.set(
                    STORAGE_EXISTS,
                    ConditionStatus::Unknown,
                    Reason::UnknownErrorOccurredSwift,
                    &f.message(),
                );
                out.fail(format!(
                    "removing Swift container {}: {}",
                    applied.container,
                    f.message()
                ));
            }
        }
        out
    }

    /// Deletes every object of the container (a page of 1 000 at a time), then the
    /// container. Returns whether it existed.
    async fn empty_and_delete(
        &self,
        applied: &ImageRegistryConfigStorageSwift,
        c: &SwiftCredentials,
        rt: &RoundTrips,
    ) -> Result<bool, Failure> {
        let session = self.session(applied, c, rt).await?;
        let http = self.http(&session.ca)?;
        let base = format!("{}/{}", session.storage_url, applied.container);
        let t = Target { driver: self, rt, http, session, container: &applied.container, base };
        loop {
            let Some(names) = t.list_page().await? else {
                return Ok(false);
            };
            if names.is_empty() {
                break;
            }
            if !t.bulk_delete(&names).await? {
                t.delete_each(names).await?;
            }
        }
        t.delete_container().await
    }
}

/// `out` with `StorageExists` (status, reason, message) and the error `message`.
fn failed(mut out: Outcome, status: ConditionStatus, reason: Reason, message: String) -> Outcome {
    out.set(STORAGE_EXISTS, status, reason, &message);
    out.fail(message);
    out
}

/// `StorageExists` True for a container in place: the one applied before, else the
/// user's (adopted).
fn container_found(out: &mut Outcome, req: &Request<'_>, spec: &ImageRegistryConfigStorageSwift) {
    let unchanged = req.applied.swift.as_ref() == Some(spec)
        && req.applied.management_state == req.spec.management_state
        && !req.spec.management_state.is_empty();
    if unchanged {
        out.set(
            STORAGE_EXISTS,
            ConditionStatus::True,
            Reason::SwiftContainerExists,
            &format!("The Swift container {} exists", spec.container),
        );
        return;
    }
    let moved = req.applied.swift.as_ref().is_some_and(|a| a.container != spec.container);
    out.adopt(req.applied, moved);
    out.set(
        STORAGE_EXISTS,
        ConditionStatus::True,
        Reason::SwiftContainerExistsLower,
        "User supplied container already exists",
    );
}

/// A container reached with a session, for the requests that empty and delete it.
struct Target<'a> {
    driver: &'a Driver,
    rt: &'a RoundTrips,
    http: reqwest::Client,
    session: Session,
    container: &'a str,
    /// `<storage URL>/<container>`.
    base: String,
}

impl Target<'_> {
    /// The names of the container's first (up to) 1 000 objects; `None` when the
    /// container does not exist.
    async fn list_page(&self) -> Result<Option<Vec<String>>, Failure> {
        let list = format!("{}?format=json&limit=1000", self.base);
        let r = self
            .driver
            .send(self.rt, &list, self.http.get(&list).header("X-Auth-Token", &self.session.token))
            .await?;
        match r.status().as_u16() {
            404 => return Ok(None),
            200..=299 => {}
            code => {
                return Err(Failure::Status { code, message: format!("GET {list}: HTTP {code}") });
            }
        }
        let names = r
            .json::<Vec<Value>>()
            .await
            .unwrap_or_default()
            .iter()
            .filter_map(|o| o["name"].as_str().map(str::to_string))
            .collect();
        Ok(Some(names))
    }

    /// Deletes the objects in one request through the bulk middleware. Returns false when
    /// the server has none (no "Number Deleted" in the answer): nothing was deleted.
    async fn bulk_delete(&self, names: &[String]) -> Result<bool, Failure> {
        let bulk_url = format!("{}?bulk-delete", self.session.storage_url);
        let list: String = names
            .iter()
            .map(|n| {
                let path = format!("/{}/{n}", self.container);
                url::form_urlencoded::byte_serialize(path.as_bytes())
                    .collect::<String>()
                    .replace("%2F", "/")
                    + "\n"
            })
            .collect();
        let bulk = self
            .driver
            .send(
                self.rt,
                &bulk_url,
                self.http
                    .post(&bulk_url)
                    .header("X-Auth-Token", &self.session.token)
                    .header("Accept", "application/json")
                    .header("Content-Type", "text/plain")
                    .body(list),
            )
            .await?;
        let answer: Value = bulk.json().await.unwrap_or(Value::Null);
        if answer.get("Number Deleted").is_none() {
            return Ok(false);
        }
        if let Some(e) = answer["Errors"].as_array().and_then(|e| e.first()) {
            return Err(Failure::Status {
                code: 500,
                message: format!("bulk delete in {}: {e}", self.base),
            });
        }
        Ok(true)
    }

    /// Deletes the objects one request each (an object gone already is fine).
    async fn delete_each(&self, names: Vec<String>) -> Result<(), Failure> {
        let base = &self.base;
        for name in names {
            let mut url = reqwest::Url::parse(base)
                .map_err(|e| Failure::Auth(format!("bad storage URL {base}: {e}")))?;
            url.path_segments_mut()
                .map_err(|()| Failure::Auth(format!("bad storage URL {base}")))?
                .push(&name);
            let r = self
                .driver
                .send(
                    self.rt,
                    url.as_str(),
                    self.http.delete(url.clone()).header("X-Auth-Token", &self.session.token),
                )
                .await?;
            if !(r.status().is_success() || r.status().as_u16() == 404) {
                let code = r.status().as_u16();
                return Err(Failure::Status {
                    code,
                    message: format!("DELETE {url}: HTTP {code}"),
                });
            }
        }
        Ok(())
    }

    /// Deletes the (empty) container. Returns whether it existed.
    async fn delete_container(&self) -> Result<bool, Failure> {
        let base = &self.base;
        let r = self
            .driver
            .send(self.rt, base, self.http.delete(base).header("X-Auth-Token", &self.session.token))
            .await?;
        match r.status().as_u16() {
            200..=299 => Ok(true),
            404 => Ok(false),
            code => Err(Failure::Status { code, message: format!("DELETE {base}: HTTP {code}") }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_reused_until_shortly_before_they_expire() {
        assert_eq!(reuse_for(Some(Duration::from_secs(3600))), Duration::from_secs(3300));
        assert_eq!(reuse_for(Some(Duration::from_secs(60))), Duration::ZERO, "about to expire");
        assert_eq!(reuse_for(None), TOKEN_DEFAULT_LIFETIME);
    }

    #[test]
    fn keystone_bodies() {
        let s = ImageRegistryConfigStorageSwift::default();
        let c = SwiftCredentials {
            username: "u".into(),
            password: "p".into(),
            tenant: "proj".into(),
            domain: "dom".into(),
            ..Default::default()
        };
        let b = keystone_v3_body(&s, &c);
        assert_eq!(b["auth"]["identity"]["methods"][0], "password");
        assert_eq!(b["auth"]["identity"]["password"]["user"]["domain"]["name"], "dom");
        assert_eq!(b["auth"]["scope"]["project"]["name"], "proj");
        let app = SwiftCredentials {
            application_credential_id: "id1".into(),
            application_credential_secret: "sec".into(),
            ..Default::default()
        };
        let b = keystone_v3_body(&s, &app);
        assert_eq!(b["auth"]["identity"]["application_credential"]["id"], "id1");
        assert!(b["auth"].get("scope").is_none(), "application credentials carry their scope");
        let spec =
            ImageRegistryConfigStorageSwift { tenant_id: "pid".into(), ..Default::default() };
        assert_eq!(keystone_v3_body(&spec, &c)["auth"]["scope"]["project"]["id"], "pid");
    }

    #[test]
    fn catalog() {
        let cat = json!([
            {"type": "identity", "endpoints": [{"interface": "public", "region": "r1", "url": "http://k"}]},
            {"type": "object-store", "endpoints": [
                {"interface": "internal", "region": "r1", "url": "http://internal"},
                {"interface": "public", "region": "r2", "url": "http://r2/v1/AUTH_x"},
                {"interface": "public", "region": "r1", "url": "http://r1/v1/AUTH_x/"}]}
        ]);
        assert_eq!(catalog_endpoint(&cat, "r1").as_deref(), Some("http://r1/v1/AUTH_x"));
        assert_eq!(catalog_endpoint(&cat, "").as_deref(), Some("http://r2/v1/AUTH_x"));
        assert_eq!(catalog_endpoint(&cat, "r3"), None);
    }
}
