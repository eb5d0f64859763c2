//! S3 through the official SDK (also any S3-compatible server through `regionEndpoint`).
//!
//! A new bucket costs one call per setting: HeadBucket, CreateBucket, PutPublicAccessBlock,
//! PutBucketTagging, PutBucketEncryption, PutBucketLifecycleConfiguration. A pass with
//! nothing changed costs one HeadBucket; tags are merged again (GetBucketTagging, and
//! PutBucketTagging only when a tag is missing) when the Infrastructure's resourceTags
//! change, and once after the operator starts. With a web identity role, one
//! AssumeRoleWithWebIdentity per session comes first.

use render::conditions::Reason;
use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use api::Infrastructure;
use api::imageregistry::ImageRegistryConfigStorageS3;
use aws_sdk_s3::config::interceptors::BeforeTransmitInterceptorContextRef;
use aws_sdk_s3::config::{
    BehaviorVersion, ConfigBag, Intercept, Region, RuntimeComponents,
    StalledStreamProtectionConfig, retry::RetryConfig, timeout::TimeoutConfig,
};
use aws_sdk_s3::error::{BoxError, ProvideErrorMetadata, SdkError};
use aws_sdk_s3::types::{
    AbortIncompleteMultipartUpload, BucketLifecycleConfiguration, BucketLocationConstraint,
    CreateBucketConfiguration, Delete, ExpirationStatus, LifecycleRule, LifecycleRuleFilter,
    ObjectIdentifier, PublicAccessBlockConfiguration, ServerSideEncryption,
    ServerSideEncryptionByDefault, ServerSideEncryptionConfiguration, ServerSideEncryptionRule,
    Tag, Tagging,
};
use aws_smithy_http_client::tls;

use super::{CaTrust, ConditionStatus, Outcome, Request, RoundTrips, STORAGE_EXISTS};
use crate::credentials::{AwsAuth, AwsKeys, WebIdentity, aws_auth};

pub const TAGGED: &str = "StorageTagged";
pub const ENCRYPTED: &str = "StorageEncrypted";
pub const PUBLIC_ACCESS_BLOCKED: &str = "StoragePublicAccessBlocked";
pub const CLEANUP_ENABLED: &str = "StorageIncompleteUploadCleanupEnabled";
/// The lifecycle rule the operator owns on its buckets.
pub const LIFECYCLE_RULE_ID: &str = "cleanup-incomplete-multipart-registry-uploads";

/// How the operator's own client reaches a bucket.
#[derive(Clone, PartialEq, Eq, Hash)]
struct Endpoint {
    region: String,
    url: Option<String>,
    path_style: bool,
    access_key_id: String,
    secret_access_key: String,
    session_token: Option<String>,
    ca: CaTrust,
}

#[derive(Default)]
struct State {
    clients: HashMap<Endpoint, aws_sdk_s3::Client>,
    /// Tags last merged into each bucket (by this process).
    tagged: HashMap<String, BTreeMap<String, String>>,
    /// Credentials obtained for a web identity role (role, token file), until when.
    assumed: HashMap<(String, String), (AwsKeys, std::time::Instant)>,
}

/// The S3 driver's state: clients by endpoint and credentials, tags applied.
#[derive(Clone, Default)]
pub struct Driver {
    state: Arc<Mutex<State>>,
}

#[derive(Debug)]
struct Count(Arc<RoundTrips>);

impl Intercept for Count {
    fn name(&self) -> &'static str {
        "RoundTrips"
    }

    fn read_before_transmit(
        &self,
        _: &BeforeTransmitInterceptorContextRef<'_>,
        _: &RuntimeComponents,
        _: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        self.0.add();
        Ok(())
    }
}

/// The operator's view of an SDK error.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Failure {
    /// The server answered with an error code (or only a status for HEAD requests).
    Service { code: String, message: String },
    /// No answer: connection refused, DNS, TLS, timeout.
    Unreachable(String),
}

impl Failure {
    fn code(&self) -> &str {
        match self {
            Failure::Service { code, .. } => code,
            Failure::Unreachable(_) => "",
        }
    }

    fn message(&self) -> String {
        match self {
            Failure::Service { code, message } if message.is_empty() => code.clone(),
            Failure::Service { message, .. } => message.clone(),
            Failure::Unreachable(m) => m.clone(),
        }
    }

    /// `(status, reason)` of a condition about this failure: the server's code when it
    /// answered, Unknown when it could not be reached.
    fn condition(&self) -> (ConditionStatus, &str) {
        match self {
            Failure::Service { code, .. } => (ConditionStatus::False, code.as_str()),
            Failure::Unreachable(_) => (ConditionStatus::Unknown, "Unknown Error Occurred"),
        }
    }
}

fn failure<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static>(
    e: SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    endpoint: &str,
) -> Failure {
    failure_of("S3", e, endpoint)
}

fn failure_of<E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static>(
    service: &str,
    e: SdkError<E, aws_sdk_s3::config::http::HttpResponse>,
    endpoint: &str,
) -> Failure {
    match &e {
        SdkError::ServiceError(ctx) => {
            let status = ctx.raw().status().as_u16();
            let code =
                ctx.err().code().map(str::to_string).unwrap_or_else(|| bodyless_code(status));
            let mut message = ctx.err().message().unwrap_or_default().to_string();
            if message.is_empty() {
                // A HEAD answer has no body to explain it: say what the server answered
                // (never a request id, so the message stays the same on each retry).
                let phrase = http::StatusCode::from_u16(status)
                    .ok()
                    .and_then(|s| s.canonical_reason())
                    .unwrap_or("error");
                message = format!("{service} at {endpoint} answered HTTP {status} {phrase}");
            }
            Failure::Service { code, message }
        }
        _ => Failure::Unreachable(format!("cannot reach {service} at {endpoint}: {}", chain(&e))),
    }
}

/// The code of an error answer without a body (HEAD): as the AWS SDKs name it, the
/// status's reason phrase without spaces (`NotFound`, `ServiceUnavailable`).
fn bodyless_code(status: u16) -> String {
    match status {
        301 => "PermanentRedirect".into(),
        s => match http::StatusCode::from_u16(s).ok().and_then(|c| c.canonical_reason()) {
            Some(phrase) => phrase.chars().filter(|c| c.is_ascii_alphanumeric()).collect(),
            None => format!("HTTP{s}"),
        },
    }
}

/// An error and its sources, "a: b: c", without repeating a source its parent already
/// printed.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut out = e.to_string();
    let mut source = e.source();
    while let Some(s) = source {
        let text = s.to_string();
        if !out.contains(&text) {
            out.push_str(": ");
            out.push_str(&text);
        }
        source = s.source();
    }
    out
}

fn is_missing(f: &Failure) -> bool {
    matches!(f.code(), "NotFound" | "NoSuchBucket")
}

/// The tags of a bucket the operator creates (§e.1): ownership, Name, and the
/// Infrastructure's resourceTags.
pub fn desired_tags(infra: &Infrastructure) -> BTreeMap<String, String> {
    let name = infra.infrastructure_name();
    let mut tags = BTreeMap::from([
        (format!("kubernetes.io/cluster/{name}"), "owned".to_string()),
        ("Name".to_string(), format!("{name}-image-registry")),
    ]);
    if let Some(aws) = infra.platform_status().and_then(|p| p.aws.as_ref()) {
        for t in &aws.resource_tags {
            tags.insert(t.key.clone(), t.value.clone());
        }
    }
    tags
}

/// `existing` with `desired` merged in (desired values win; nothing is removed), or None
/// when nothing would change.
pub fn merge_tags(
    existing: &BTreeMap<String, String>,
    desired: &BTreeMap<String, String>,
) -> Option<BTreeMap<String, String>> {
    let mut merged = existing.clone();
    merged.extend(desired.iter().map(|(k, v)| (k.clone(), v.clone())));
    (merged != *existing).then_some(merged)
}

struct Bucket<'a> {
    client: aws_sdk_s3::Client,
    name: &'a str,
    region: String,
    endpoint: String,
}

/// An HTTPS client on ring, trusting `ca` (in place of the system's roots or besides
/// them) and the cluster's trusted CA bundle ([`crate::tls`]). It goes through the
/// cluster proxy of the process's environment (`HTTPS_PROXY`, `HTTP_PROXY`, `NO_PROXY`,
/// which OpenShift injects into the operator's Deployment), as the other clients do.
fn http_client(ca: &CaTrust) -> Result<aws_sdk_s3::config::SharedHttpClient, String> {
    let cluster = crate::tls::extra_pem();
    let mut context = tls::TlsContext::default();
    let named = [
        (&ca.instead, "the storage.s3.trustedCA config map"),
        (&ca.besides, "config map openshift-config-managed/kube-cloud-config (ca-bundle.pem)"),
    ];
    for (pem, what) in named {
        if let Some(pem) = pem {
            crate::tls::bundle(pem).map_err(|e| format!("{what}: {e}"))?;
        }
    }
    let added: Vec<&str> =
        [ca.besides.as_deref(), cluster.as_deref()].into_iter().flatten().collect();
    if ca.instead.is_some() || !added.is_empty() {
        let mut store = match &ca.instead {
            Some(pem) => tls::TrustStore::empty().with_pem_certificate(pem.as_bytes()),
            None => tls::TrustStore::default(),
        };
        for pem in added {
            store = store.with_pem_certificate(pem.as_bytes());
        }
        context = tls::TlsContext::builder()
            .with_trust_store(store)
            .build()
            .map_err(|e| format!("the trusted CA bundle cannot be used: {e}"))?;
    }
    Ok(aws_smithy_http_client::Builder::new().build_with_connector_fn(
        move |settings, components| {
            let mut b = aws_smithy_http_client::Connector::builder();
            b.set_connector_settings(settings.cloned());
            if let Some(c) = components {
                b.set_sleep_impl(c.sleep_impl());
            }
            b.proxy_config(aws_smithy_http_client::proxy::ProxyConfig::from_env())
                .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
                .tls_context(context.clone())
                .build()
        },
    ))
}

/// A path-style client for `endpoint` with static keys, for tools and tests that look at
/// a bucket from outside the driver.
pub fn path_style_client(endpoint: &str, access_key_id: &str, secret: &str) -> aws_sdk_s3::Client {
    let http = aws_smithy_http_client::Builder::new()
        .tls_provider(tls::Provider::Rustls(tls::rustls_provider::CryptoMode::Ring))
        .build_https();
    path_style_with(endpoint, access_key_id, secret, http)
}

/// [`path_style_client`] trusting `ca` (PEM) besides the system's roots, for a server
/// over HTTPS with a certificate of its own; an error when `ca` holds no certificate.
pub fn path_style_client_trusting(
    endpoint: &str,
    access_key_id: &str,
    secret: &str,
    ca: &str,
) -> Result<aws_sdk_s3::Client, String> {
    let http = http_client(&CaTrust { instead: None, besides: Some(ca.to_string()) })?;
    Ok(path_style_with(endpoint, access_key_id, secret, http))
}

fn path_style_with(
    endpoint: &str,
    access_key_id: &str,
    secret: &str,
    http: aws_sdk_s3::config::SharedHttpClient,
) -> aws_sdk_s3::Client {
    let conf = aws_sdk_s3::Config::builder()
        .behavior_version(BehaviorVersion::latest())
        .region(Region::new("us-east-1"))
        .credentials_provider(aws_credential_types::Credentials::new(
            access_key_id,
            secret,
            None,
            None,
            "path-style-client",
        ))
        .endpoint_url(endpoint)
        .force_path_style(true)
        .http_client(http)
        .build();
    aws_sdk_s3::Client::from_conf(conf)
}

/// The Infrastructure's `sts` service endpoint, when it names one.
fn sts_endpoint(infra: &Infrastructure) -> Option<String> {
    infra
        .platform_status()
        .and_then(|p| p.aws.as_ref())
        .and_then(|a| a.service_endpoints.iter().find(|e| e.name == "sts"))
        .map(|e| e.url.clone())
        .filter(|u| !u.is_empty())
}

/// An STS client for `region` (at `url` when given), trusting the request's CA, with the
/// S3 clients' retries and timeouts, counting its round trips.
fn sts_client(
    req: &Request<'_>,
    region: &str,
    url: Option<&str>,
    round_trips: &Arc<RoundTrips>,
) -> Result<aws_sdk_sts::Client, (ConditionStatus, String, String)> {
    let http = http_client(&req.ca)
        .map_err(|m| (ConditionStatus::False, "InvalidTrustedCA".to_string(), m))?;
    let mut conf = aws_sdk_sts::Config::builder()
        .behavior_version(aws_sdk_sts::config::BehaviorVersion::latest())
        .region(Region::new(region.to_string()))
        .http_client(http)
        .retry_config(RetryConfig::standard().with_max_attempts(3))
        .timeout_config(
            TimeoutConfig::builder()
                .connect_timeout(Duration::from_secs(5))
                .operation_attempt_timeout(Duration::from_secs(30))
                .build(),
        )
        .interceptor(Count(round_trips.clone()));
    if let Some(url) = url {
        conf = conf.endpoint_url(url);
    }
    Ok(aws_sdk_sts::Client::from_conf(conf.build()))
}

/// The keys of an STS answer, and how long they have left.
fn assumed_keys(c: &aws_sdk_sts::types::Credentials) -> (AwsKeys, Duration) {
    let keys = AwsKeys {
        access_key_id: c.access_key_id().to_string(),
        secret_access_key: c.secret_access_key().to_string(),
        session_token: Some(c.session_token().to_string()),
    };
    let left = std::time::SystemTime::try_from(*c.expiration())
        .ok()
        .and_then(|t| t.duration_since(std::time::SystemTime::now()).ok())
        .unwrap_or_default();
    (keys, left)
}

impl Driver {
    /// Temporary credentials for a web identity role, through STS
    /// AssumeRoleWithWebIdentity (the Infrastructure's `sts` service endpoint, else the
    /// region's), reused until five minutes before they expire.
    async fn assume(
        &self,
        w: &WebIdentity,
        req: &Request<'_>,
        region: &str,
        round_trips: &Arc<RoundTrips>,
    ) -> Result<AwsKeys, (ConditionStatus, String, String)> {
        let key = (w.role_arn.clone(), w.token_file.clone());
        let now = std::time::Instant::now();
        if let Some((keys, until)) = self.state.lock().expect("s3 state").assumed.get(&key)
            && *until > now + Duration::from_secs(300)
        {
            return Ok(keys.clone());
        }
        let token = std::fs::read_to_string(&w.token_file).map_err(|e| {
            (
                ConditionStatus::False,
                "InvalidCredentials".to_string(),
                format!(
                    "{}: the web identity token file {} cannot be read: {e}",
                    req.source.describe(),
                    w.token_file
                ),
            )
        })?;
        let url = sts_endpoint(req.infrastructure);
        let shown =
            url.clone().unwrap_or_else(|| format!("the AWS STS endpoint of region {region}"));
        let sts = sts_client(req, region, url.as_deref(), round_trips)?;
        let answer = sts
            .assume_role_with_web_identity()
            .role_arn(&w.role_arn)
            .role_session_name(
                w.session_name.as_deref().unwrap_or("cluster-image-registry-operator"),
            )
            .web_identity_token(token.trim())
            .send()
            .await
            .map_err(|e| {
                let f = failure_of("STS", e, &shown);
                let (status, reason) = f.condition();
                (
                    status,
                    reason.to_string(),
                    format!("assuming the web identity role through {shown}: {}", f.message()),
                )
            })?;
        let Some(c) = answer.credentials() else {
            return Err((
                ConditionStatus::False,
                "InvalidCredentials".into(),
                format!("{shown} answered AssumeRoleWithWebIdentity without credentials"),
            ));
        };
        let (keys, left) = assumed_keys(c);
        self.state.lock().expect("s3 state").assumed.insert(key, (keys.clone(), now + left));
        Ok(keys)
    }

    fn client(
        &self,
        s: &ImageRegistryConfigStorageS3,
        keys: AwsKeys,
        ca: CaTrust,
        round_trips: &Arc<RoundTrips>,
    ) -> Result<(aws_sdk_s3::Client, Endpoint), String> {
        let url = (!s.region_endpoint.is_empty()).then(|| s.region_endpoint.clone());
        let endpoint = Endpoint {
            region: if s.region.is_empty() { "us-east-1".into() } else { s.region.clone() },
            path_style: url.is_some() && !s.virtual_hosted_style.unwrap_or(false),
            url,
            access_key_id: keys.access_key_id,
            secret_access_key: keys.secret_access_key,
            session_token: keys.session_token,
            ca,
        };
        let mut state = self.state.lock().expect("s3 state");
        if let Some(c) = state.clients.get(&endpoint) {
            return Ok((c.clone(), endpoint));
        }
        let http = http_client(&endpoint.ca)?;
        let credentials = aws_credential_types::Credentials::new(
            endpoint.access_key_id.clone(),
            endpoint.secret_access_key.clone(),
            endpoint.session_token.clone(),
            None,
            "image-registry-operator",
        );
        let mut conf = aws_sdk_s3::Config::builder()
            .behavior_version(BehaviorVersion::latest())
            .region(Region::new(endpoint.region.clone()))
            .credentials_provider(credentials)
            .http_client(http)
            .force_path_style(endpoint.path_style)
            .retry_config(RetryConfig::standard().with_max_attempts(3))
            .timeout_config(
                TimeoutConfig::builder()
                    .connect_timeout(Duration::from_secs(5))
                    .operation_attempt_timeout(Duration::from_secs(30))
                    .build(),
            )
            .stalled_stream_protection(StalledStreamProtectionConfig::disabled())
            .interceptor(Count(round_trips.clone()));
        if let Some(url) = &endpoint.url {
            conf = conf.endpoint_url(url);
        }
        let client = aws_sdk_s3::Client::from_conf(conf.build());
        // Credentials that were replaced (a renewed web identity session) leave no client
        // behind.
        state.clients.retain(|e, _| {
            (&e.region, &e.url, e.path_style, &e.ca)
                != (&endpoint.region, &endpoint.url, endpoint.path_style, &endpoint.ca)
        });
        state.clients.insert(endpoint.clone(), client.clone());
        Ok((client, endpoint))
    }

    /// The bucket of `s` with a client for it, or the condition saying why there is none.
    async fn bucket<'a>(
        &self,
        req: &Request<'_>,
        s: &'a ImageRegistryConfigStorageS3,
        round_trips: &Arc<RoundTrips>,
    ) -> Result<Bucket<'a>, (ConditionStatus, String, String)> {
        let Some(file) = req.credentials.s3_credentials_file.as_deref() else {
            return Err((
                ConditionStatus::False,
                "MissingCredentials".into(),
                format!(
                    "no S3 credentials: neither secret {} (keys REGISTRY_STORAGE_S3_ACCESSKEY and REGISTRY_STORAGE_S3_SECRETKEY) nor secret {} has them",
                    crate::credentials::USER_SECRET,
                    crate::credentials::CLUSTER_SECRET
                ),
            ));
        };
        let keys = match aws_auth(file) {
            Ok(AwsAuth::Keys(keys)) => keys,
            Ok(AwsAuth::WebIdentity(w)) => {
                let region = if s.region.is_empty() { "us-east-1" } else { &s.region };
                self.assume(&w, req, region, round_trips).await?
            }
            Err(m) => {
                return Err((
                    ConditionStatus::False,
                    "InvalidCredentials".to_string(),
                    format!("{}: {m}", req.source.describe()),
                ));
            }
        };
        // The cluster's S3 endpoint, when the spec names a region but no endpoint (the
        // registry is then given none: it resolves the region's).
        let mut reached = s.clone();
        if reached.region_endpoint.is_empty()
            && let Some(url) = crate::s3::service_endpoint(req.infrastructure)
        {
            reached.region_endpoint = url;
        }
        let (client, endpoint) = self
            .client(&reached, keys, req.ca.clone(), round_trips)
            .map_err(|m| (ConditionStatus::False, "InvalidTrustedCA".to_string(), m))?;
        let shown = endpoint
            .url
            .clone()
            .unwrap_or_else(|| format!("the AWS endpoint of region {}", endpoint.region));
        Ok(Bucket { client, name: &s.bucket, region: endpoint.region, endpoint: shown })
    }

    pub(super) async fn ensure(&self, req: &Request<'_>, round_trips: &Arc<RoundTrips>) -> Outcome {
        let mut out = Outcome::new(req.spec);
        let spec = req.spec.s3.clone().unwrap_or_default();
        let s = crate::s3::effective(&spec, req.infrastructure);
        if let Some(m) = crate::s3::bucket_name_problem(&s.bucket) {
            out.set(STORAGE_EXISTS, ConditionStatus::False, Reason::parse("InvalidBucketName"), &m);
            out.fail(m);
            return out;
        }
        let b = match self.bucket(req, &s, round_trips).await {
            Ok(b) => b,
            Err((status, reason, message)) => {
                out.set(STORAGE_EXISTS, status, Reason::parse(&reason), &message);
                out.fail(message);
                return out;
            }
        };
        let unchanged = req.applied.s3.as_ref() == Some(&spec)
            && req.applied.management_state == req.spec.management_state
            && !req.spec.management_state.is_empty();
        let exists = match exists(&b).await {
            Ok(e) => e,
            Err(f) => return failed(out, &f, format!("S3 bucket {}", b.name)),
        };
        let managed = req.spec.management_state == "Managed";
        if unchanged && exists {
            out.set(
                STORAGE_EXISTS,
                ConditionStatus::True,
                Reason::S3BucketExists,
                &format!("The S3 bucket {} exists and is accessible", b.name),
            );
            if managed {
                self.sync_tags(&b, req.infrastructure, &mut out, false).await;
            }
            return out;
        }

        let created = if exists && !spec.bucket.is_empty() {
            bucket_found(&mut out, req, &spec, b.name);
            false
        } else {
            match ours(&b, exists, out).await {
                Ok((o, created)) => {
                    out = o;
                    created
                }
                Err(o) => return o,
            }
        };
        if out.storage.management_state == "Managed" {
            self.configure(&b, &s, req.infrastructure, created, &mut out).await;
        }
        out
    }

    /// Public-access block, tags, default encryption and the multipart cleanup rule of a
    /// bucket the operator manages; each reported by its condition.
    async fn configure(
        &self,
        b: &Bucket<'_>,
        s: &ImageRegistryConfigStorageS3,
        infra: &Infrastructure,
        created: bool,
        out: &mut Outcome,
    ) {
        block_public_access(b, out).await;
        // A bucket just created has no tags to merge with.
        self.sync_tags(b, infra, out, created).await;
        encrypt(b, s, out).await;
        enable_cleanup(b, out).await;
    }

    /// Merges the desired tags into the bucket's (never removing one) when they differ
    /// from what this process last applied. `fresh`: the bucket has no tags yet.
    async fn sync_tags(
        &self,
        b: &Bucket<'_>,
        infra: &Infrastructure,
        out: &mut Outcome,
        fresh: bool,
    ) {
        let desired = desired_tags(infra);
        let known = self.state.lock().expect("s3 state").tagged.get(b.name).cloned();
        if known.as_ref() == Some(&desired) {
            return;
        }
        let existing = if fresh {
            BTreeMap::new()
        } else {
            match b.client.get_bucket_tagging().bucket(b.name).send().await {
                Ok(t) => t
                    .tag_set()
                    .iter()
                    .map(|t| (t.key().to_string(), t.value().to_string()))
                    .collect(),
                Err(e) => {
                    let f = failure(e, &b.endpoint);
                    if f.code() != "NoSuchTagSet" {
                        report(out, TAGGED, Err(f), Reason::Unset, "");
                        return;
                    }
                    BTreeMap::new()
                }
            }
        };
        let result = match merge_tags(&existing, &desired) {
            None => Ok(()),
            Some(merged) => {
                let tags: Result<Vec<Tag>, _> =
                    merged.iter().map(|(k, v)| Tag::builder().key(k).value(v).build()).collect();
                match tags.and_then(|t| Tagging::builder().set_tag_set(Some(t)).build()) {
                    Ok(tagging) => b
                        .client
                        .put_bucket_tagging()
                        .bucket(b.name)
                        .tagging(tagging)
                        .send()
                        .await
                        .map(drop)
                        .map_err(|e| failure(e, &b.endpoint)),
                    Err(e) => {
                        Err(Failure::Service { code: "InvalidTag".into(), message: e.to_string() })
                    }
                }
            }
        };
        if result.is_ok() {
            self.state.lock().expect("s3 state").tagged.insert(b.name.to_string(), desired);
        }
        report(
            out,
            TAGGED,
            result,
            Reason::TaggingSuccessful,
            "Tags were successfully applied to the S3 bucket",
        );
    }

    /// An S3-compatible data plane with HMAC keys (IBM COS): whether `bucket` exists at
    /// `endpoint` (path style), creating it with `location_constraint` when it does not.
    /// Returns whether it was created; a failure as (status, reason, message).
    pub(super) async fn head_or_create(
        &self,
        endpoint: &str,
        region: &str,
        bucket: &str,
        keys: AwsKeys,
        location_constraint: &str,
        round_trips: &Arc<RoundTrips>,
    ) -> Result<bool, (ConditionStatus, String, String)> {
        let s = ImageRegistryConfigStorageS3 {
            bucket: bucket.into(),
            region: region.into(),
            region_endpoint: endpoint.into(),
            ..Default::default()
        };
        let (client, _) = self
            .client(&s, keys, CaTrust::default(), round_trips)
            .map_err(|m| (ConditionStatus::Unknown, "Unknown Error Occurred".to_string(), m))?;
        let as_condition = |f: Failure| {
            let (status, reason) = f.condition();
            (status, reason.to_string(), f.message())
        };
        match client.head_bucket().bucket(bucket).send().await {
            Ok(_) => return Ok(false),
            Err(e) => {
                let f = failure(e, endpoint);
                if !is_missing(&f) {
                    return Err(as_condition(f));
                }
            }
        }
        let create = client.create_bucket().bucket(bucket).create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(location_constraint))
                .build(),
        );
        match create.send().await {
            Ok(_) => Ok(true),
            Err(e) => {
                let f = failure(e, endpoint);
                if f.code() == "BucketAlreadyOwnedByYou" { Ok(true) } else { Err(as_condition(f)) }
            }
        }
    }

    /// Empties and deletes `bucket` at `endpoint` with HMAC keys (IBM COS). Returns whether
    /// it existed.
    pub(super) async fn delete_with_keys(
        &self,
        endpoint: &str,
        region: &str,
        bucket: &str,
        keys: AwsKeys,
        round_trips: &Arc<RoundTrips>,
    ) -> Result<bool, (String, String)> {
        let s = ImageRegistryConfigStorageS3 {
            bucket: bucket.into(),
            region: region.into(),
            region_endpoint: endpoint.into(),
            ..Default::default()
        };
        let (client, _) = self
            .client(&s, keys, CaTrust::default(), round_trips)
            .map_err(|m| ("Unknown Error Occurred".to_string(), m))?;
        let b = Bucket { client, name: bucket, region: region.into(), endpoint: endpoint.into() };
        empty_and_delete(&b).await.map_err(|f| (f.condition().1.to_string(), f.message()))
    }

    /// Empties and deletes the bucket of `req.applied` (the caller checked that it is
    /// Managed), then blanks the bucket name.
    pub(super) async fn remove(&self, req: &Request<'_>, round_trips: &Arc<RoundTrips>) -> Outcome {
        let mut out = Outcome::new(req.spec);
        let applied = req.applied.s3.clone().unwrap_or_default();
        let s = crate::s3::effective(&applied, req.infrastructure);
        let b = match self.bucket(req, &s, round_trips).await {
            Ok(b) => b,
            Err((_, reason, message)) => {
                out.set(STORAGE_EXISTS, ConditionStatus::Unknown, Reason::parse(&reason), &message);
                out.fail(message);
                return out;
            }
        };
        match empty_and_delete(&b).await {
            Ok(existed) => {
                let message = if existed {
                    "The S3 bucket has been removed."
                } else {
                    "The S3 bucket did not exist."
                };
                out.set(STORAGE_EXISTS, ConditionStatus::False, Reason::S3BucketDeleted, message);
                if let Some(spec) = out.storage.s3.as_mut()
                    && spec.bucket == applied.bucket
                {
                    spec.bucket.clear();
                }
                self.state.lock().expect("s3 state").tagged.remove(b.name);
            }
            Err(f) => {
                let reason = match &f {
                    Failure::Service { code, .. } => code.clone(),
                    Failure::Unreachable(_) => "Unknown Error Occurred".into(),
                };
                out.set(
                    STORAGE_EXISTS,
                    ConditionStatus::Unknown,
                    Reason::parse(&reason),
                    &f.message(),
                );
                out.fail(format!("removing S3 bucket {}: {}", b.name, f.message()));
            }
        }
        out
    }
}

/// Deletes every object of the bucket (1 000 per request), then the bucket. Returns
/// whether it existed.
async fn empty_and_delete(b: &Bucket<'_>) -> Result<bool, Failure> {
    let mut token = None;
    loop {
        let page = match b
            .client
            .list_objects_v2()
            .bucket(b.name)
            .set_continuation_token(token.take())
            .send()
            .await
        {
            Ok(p) => p,
            Err(e) => {
                let f = failure(e, &b.endpoint);
                if is_missing(&f) {
                    return Ok(false);
                }
                return Err(f);
            }
        };
        let ids: Vec<ObjectIdentifier> = page
            .contents()
            .iter()
            .filter_map(|o| o.key())
            .filter_map(|k| ObjectIdentifier::builder().key(k).build().ok())
            .collect();
        if !ids.is_empty() {
            let delete =
                Delete::builder().set_objects(Some(ids)).quiet(true).build().map_err(|e| {
                    Failure::Service { code: "InvalidRequest".into(), message: e.to_string() }
                })?;
            let r = b
                .client
                .delete_objects()
                .bucket(b.name)
                .delete(delete)
                .send()
                .await
                .map_err(|e| failure(e, &b.endpoint))?;
            if let Some(e) = r.errors().first() {
                return Err(Failure::Service {
                    code: e.code().unwrap_or("DeleteObjectsFailed").to_string(),
                    message: format!(
                        "cannot delete object {}: {}",
                        e.key().unwrap_or_default(),
                        e.message().unwrap_or_default()
                    ),
                });
            }
        }
        match page.next_continuation_token() {
            Some(t) if page.is_truncated() == Some(true) => token = Some(t.to_string()),
            _ => break,
        }
    }
    match b.client.delete_bucket().bucket(b.name).send().await {
        Ok(_) => Ok(true),
        Err(e) => {
            let f = failure(e, &b.endpoint);
            if is_missing(&f) { Ok(false) } else { Err(f) }
        }
    }
}

/// `out` with a failed call: `StorageExists` from the failure, and the error
/// "`what`: message".
/// The bucket made the operator's: created, or (no bucket in the spec: the name is the
/// operator's deterministic one) found, which is the bucket an earlier pass created and
/// whose write-back was lost (a crash, a failed write), as the reference's CreateBucket
/// answering BucketAlreadyOwnedByYou says: the operator's still, never the user's (else
/// Removed would orphan it). Returns the outcome and whether this call created it.
async fn ours(b: &Bucket<'_>, exists: bool, mut out: Outcome) -> Result<(Outcome, bool), Outcome> {
    let made = if exists { Ok(false) } else { create(b).await };
    let created = match made {
        Ok(c) => c,
        Err(f) if f.code() == "BucketAlreadyExists" => {
            let m = format!("The bucket {} exists, but is owned by another account", b.name);
            out.set(STORAGE_EXISTS, ConditionStatus::False, Reason::UnableToAccessBucket, &m);
            out.fail(m);
            return Err(out);
        }
        Err(f) => return Err(failed(out, &f, format!("creating S3 bucket {}", b.name))),
    };
    let state = &mut out.storage.management_state;
    if state.is_empty() {
        *state = "Managed".into();
    }
    let message = "S3 bucket was successfully created";
    out.set(STORAGE_EXISTS, ConditionStatus::True, Reason::CreationSuccessful, message);
    Ok((out, created))
}

fn failed(mut out: Outcome, f: &Failure, what: String) -> Outcome {
    let (status, reason) = f.condition();
    out.set(STORAGE_EXISTS, status, Reason::parse(reason), &f.message());
    out.fail(format!("{what}: {}", f.message()));
    out
}

/// Whether the bucket exists (HeadBucket); a failure other than its absence is an error.
async fn exists(b: &Bucket<'_>) -> Result<bool, Failure> {
    match b.client.head_bucket().bucket(b.name).send().await {
        Ok(_) => Ok(true),
        Err(e) => {
            let f = failure(e, &b.endpoint);
            if is_missing(&f) { Ok(false) } else { Err(f) }
        }
    }
}

/// `StorageExists` True for a bucket found in place, adopted unless it is the one the
/// operator manages.
fn bucket_found(
    out: &mut Outcome,
    req: &Request<'_>,
    spec: &ImageRegistryConfigStorageS3,
    name: &str,
) {
    let moved = req.applied.s3.as_ref().is_some_and(|a| a.bucket != spec.bucket);
    out.adopt(req.applied, moved);
    let state = &out.storage.management_state;
    let message = if state == "Unmanaged" {
        "User supplied S3 bucket exists and is accessible".to_string()
    } else {
        format!("The S3 bucket {name} exists and is accessible")
    };
    out.set(STORAGE_EXISTS, ConditionStatus::True, Reason::S3BucketExists, &message);
}

/// Creates the bucket in its region (a location constraint outside us-east-1). Returns
/// whether this call created it: false when it was the account's already.
async fn create(b: &Bucket<'_>) -> Result<bool, Failure> {
    let mut create = b.client.create_bucket().bucket(b.name);
    if b.region != "us-east-1" {
        create = create.create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(b.region.as_str()))
                .build(),
        );
    }
    match create.send().await {
        Ok(_) => Ok(true),
        Err(e) => {
            let f = failure(e, &b.endpoint);
            if f.code() == "BucketAlreadyOwnedByYou" { Ok(false) } else { Err(f) }
        }
    }
}

/// Blocks every kind of public access to the bucket (PutPublicAccessBlock).
async fn block_public_access(b: &Bucket<'_>, out: &mut Outcome) {
    let pab = b
        .client
        .put_public_access_block()
        .bucket(b.name)
        .public_access_block_configuration(
            PublicAccessBlockConfiguration::builder()
                .block_public_acls(true)
                .block_public_policy(true)
                .ignore_public_acls(true)
                .restrict_public_buckets(true)
                .build(),
        )
        .send()
        .await;
    report(
        out,
        PUBLIC_ACCESS_BLOCKED,
        pab.map(drop).map_err(|e| failure(e, &b.endpoint)),
        Reason::PublicAccessBlockSuccessful,
        "Public access to the S3 bucket and its contents have been successfully blocked.",
    );
}

/// Default encryption (PutBucketEncryption): AES256, or aws:kms with the spec's key;
/// `encrypt` is set in `out.storage` when it took.
async fn encrypt(b: &Bucket<'_>, s: &ImageRegistryConfigStorageS3, out: &mut Outcome) {
    let (algorithm, kind) = if s.key_id.is_empty() {
        (ServerSideEncryption::Aes256, "AES256")
    } else {
        (ServerSideEncryption::AwsKms, "aws:kms")
    };
    let mut default = ServerSideEncryptionByDefault::builder().sse_algorithm(algorithm);
    if !s.key_id.is_empty() {
        default = default.kms_master_key_id(&s.key_id);
    }
    let encryption = match default.build() {
        Ok(default) => b
            .client
            .put_bucket_encryption()
            .bucket(b.name)
            .server_side_encryption_configuration(
                ServerSideEncryptionConfiguration::builder()
                    .rules(
                        ServerSideEncryptionRule::builder()
                            .apply_server_side_encryption_by_default(default)
                            .bucket_key_enabled(true)
                            .build(),
                    )
                    .build()
                    .expect("rules are set"),
            )
            .send()
            .await
            .map(drop)
            .map_err(|e| failure(e, &b.endpoint)),
        Err(e) => Err(Failure::Service { code: "InvalidRequest".into(), message: e.to_string() }),
    };
    if encryption.is_ok()
        && let Some(s3) = out.storage.s3.as_mut()
    {
        s3.encrypt = true;
    }
    report(
        out,
        ENCRYPTED,
        encryption,
        Reason::EncryptionSuccessful,
        &format!("Default {kind} encryption was successfully enabled on the S3 bucket"),
    );
}

/// The rule that aborts multipart uploads left incomplete for a day
/// (PutBucketLifecycleConfiguration).
async fn enable_cleanup(b: &Bucket<'_>, out: &mut Outcome) {
    let rule = LifecycleRule::builder()
        .id(LIFECYCLE_RULE_ID)
        .status(ExpirationStatus::Enabled)
        .filter(LifecycleRuleFilter::builder().prefix("").build())
        .abort_incomplete_multipart_upload(
            AbortIncompleteMultipartUpload::builder().days_after_initiation(1).build(),
        )
        .build()
        .expect("status is set");
    let lifecycle = b
        .client
        .put_bucket_lifecycle_configuration()
        .bucket(b.name)
        .lifecycle_configuration(
            BucketLifecycleConfiguration::builder().rules(rule).build().expect("rules are set"),
        )
        .send()
        .await;
    report(
        out,
        CLEANUP_ENABLED,
        lifecycle.map(drop).map_err(|e| failure(e, &b.endpoint)),
        Reason::EnableCleanupSuccessful,
        "Default cleanup of incomplete multipart uploads after one (1) day was successfully enabled",
    );
}

fn report(
    out: &mut Outcome,
    condition: &str,
    result: Result<(), Failure>,
    reason: Reason,
    message: &str,
) {
    match result {
        Ok(()) => out.set(condition, ConditionStatus::True, reason, message),
        Err(f) => {
            let (_, reason) = f.condition();
            out.set(condition, ConditionStatus::False, Reason::parse(reason), &f.message());
            out.fail(format!("{condition}: {}", f.message()));
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// HEAD answers name their error by status only (the storage-fault runs' 503 showed
    /// as "HTTP503"): named as the AWS SDKs name them.
    #[test]
    fn bodyless_answers_are_named_by_their_status() {
        assert_eq!(bodyless_code(503), "ServiceUnavailable");
        assert_eq!(bodyless_code(500), "InternalServerError");
        assert_eq!(bodyless_code(429), "TooManyRequests");
        assert_eq!(bodyless_code(404), "NotFound");
        assert_eq!(bodyless_code(403), "Forbidden");
        assert_eq!(bodyless_code(301), "PermanentRedirect");
        assert_eq!(bodyless_code(599), "HTTP599");
    }
    use api::config::{AwsPlatformStatus, InfrastructureStatus, KeyValue, PlatformStatus};

    #[test]
    fn tags_merge_and_never_remove() {
        let infra = Infrastructure {
            status: Some(InfrastructureStatus {
                infrastructure_name: "c1-abc".into(),
                platform_status: Some(PlatformStatus {
                    type_: "AWS".into(),
                    aws: Some(AwsPlatformStatus {
                        resource_tags: vec![KeyValue { key: "team".into(), value: "img".into() }],
                        ..Default::default()
                    }),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        };
        let desired = desired_tags(&infra);
        assert_eq!(desired["kubernetes.io/cluster/c1-abc"], "owned");
        assert_eq!(desired["Name"], "c1-abc-image-registry");
        assert_eq!(desired["team"], "img");
        let existing = BTreeMap::from([
            ("team".to_string(), "old".to_string()),
            ("user".to_string(), "kept".to_string()),
        ]);
        let merged = merge_tags(&existing, &desired).unwrap();
        assert_eq!(merged["team"], "img");
        assert_eq!(merged["user"], "kept");
        assert_eq!(merge_tags(&merged, &desired), None);
    }

    #[test]
    fn failures_become_conditions() {
        let f =
            Failure::Service { code: "InvalidAccessKeyId".into(), message: "no such key".into() };
        assert_eq!(f.condition(), (ConditionStatus::False, "InvalidAccessKeyId"));
        let u = Failure::Unreachable("cannot reach S3 at http://127.0.0.1:1: refused".into());
        assert_eq!(u.condition(), (ConditionStatus::Unknown, "Unknown Error Occurred"));
        assert!(is_missing(&Failure::Service { code: "NotFound".into(), message: String::new() }));
    }
}
