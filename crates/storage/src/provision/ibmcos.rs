//! IBM Cloud Object Storage: the IAM token, the COS service instance and its HMAC resource
//! key through IBM's REST APIs (a small client on reqwest: there is no IBM SDK for Rust),
//! then the bucket through the S3 driver with the HMAC keys.
//!
//! Endpoints: `https://iam.cloud.ibm.com` (IAM), `https://resource-controller.cloud.ibm.com`
//! (Resource Controller and Resource Manager), `s3.<location>.cloud-object-storage.appdomain.cloud`
//! (COS), each overridden by the Infrastructure's service endpoints `IAM`,
//! `ResourceController`, `ResourceManager` and `COS`.

use render::conditions::Reason;
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use api::Infrastructure;
use base64::Engine;
use serde_json::{Value, json};

use super::{ConditionStatus, Outcome, Request, RoundTrips, STORAGE_EXISTS};
use crate::credentials::AwsKeys;

const TIMEOUT: Duration = Duration::from_secs(30);
/// The COS "standard" plan.
pub const RESOURCE_PLAN_ID: &str = "744bfc56-d12c-4866-88d5-dac9139e0e5d";
const WRITER: &str = "crn:v1:bluemix:public:iam::::serviceRole:Writer";
const MANAGER: &str = "crn:v1:bluemix:public:iam::::serviceRole:Manager";

/// Where IBM's services are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Endpoints {
    pub iam: String,
    pub resource_controller: String,
    pub resource_manager: String,
    pub cos: String,
}

fn with_scheme(url: &str) -> String {
    let url = url.trim_end_matches('/');
    if url.contains("://") { url.to_string() } else { format!("https://{url}") }
}

/// IBM's public endpoints for `location`, with the Infrastructure's overrides.
pub fn endpoints(infra: &Infrastructure, location: &str) -> Endpoints {
    let overrides = infra
        .platform_status()
        .map(|p| {
            p.ibm_cloud
                .as_ref()
                .map(|i| i.service_endpoints.clone())
                .or_else(|| p.power_vs.as_ref().map(|v| v.service_endpoints.clone()))
                .unwrap_or_default()
        })
        .unwrap_or_default();
    let get = |name: &str, default: String| {
        overrides.iter().find(|e| e.name == name).map_or(default, |e| with_scheme(&e.url))
    };
    Endpoints {
        iam: get("IAM", "https://iam.cloud.ibm.com".into()),
        resource_controller: get(
            "ResourceController",
            "https://resource-controller.cloud.ibm.com".into(),
        ),
        resource_manager: get(
            "ResourceManager",
            "https://resource-controller.cloud.ibm.com".into(),
        ),
        cos: get("COS", with_scheme(&crate::ibmcos::endpoint(location))),
    }
}

/// The account of an IAM access token (its `account.bss` claim), without checking the
/// signature (IAM issued it to us a moment ago).
pub fn token_account(token: &str) -> Option<String> {
    let payload = token.split('.').nth(1)?;
    let bytes = base64::engine::general_purpose::URL_SAFE_NO_PAD
        .decode(payload.trim_end_matches('='))
        .ok()?;
    let claims: Value = serde_json::from_slice(&bytes).ok()?;
    claims.pointer("/account/bss").and_then(|v| v.as_str()).map(str::to_string)
}

/// A failed step: (status, reason, message).
type Failed = (ConditionStatus, String, String);

fn unknown(m: String) -> Failed {
    (ConditionStatus::Unknown, "Unknown Error Occurred".into(), m)
}

/// The condition of a pass without an IBM Cloud API key in either secret.
fn missing_api_key() -> Failed {
    (
        ConditionStatus::False,
        "MissingCredentials".to_string(),
        format!(
            "no IBM Cloud API key: neither secret {} (key REGISTRY_STORAGE_IBMCOS_IAMAPIKEY) nor secret {} (key ibmcloud_api_key) has one",
            crate::credentials::USER_SECRET,
            crate::credentials::CLUSTER_SECRET
        ),
    )
}

/// The condition of a pass with no COS location, set or known from the Infrastructure.
fn no_location(infra: &Infrastructure) -> Failed {
    let region = infra
        .platform_status()
        .and_then(|p| p.power_vs.as_ref())
        .map(|p| format!(" (no COS region is known for the Power VS region {:?})", p.region))
        .unwrap_or_default();
    (
        ConditionStatus::False,
        "StorageNotConfigured".to_string(),
        format!("storage.ibmcos.location is not set and the Infrastructure names none{region}"),
    )
}

/// `StorageExists` True for a bucket in place: created (then Managed), or found (then
/// adopted unless it is the one applied before).
fn bucket_ready(out: &mut Outcome, req: &Request<'_>, created: bool) {
    if created {
        if out.storage.management_state.is_empty() {
            out.storage.management_state = "Managed".into();
        }
        out.set(
            STORAGE_EXISTS,
            ConditionStatus::True,
            Reason::CreationSuccessful,
            "IBM COS bucket was successfully created",
        );
        return;
    }
    let unchanged = req.applied.ibmcos.as_ref().map(|a| &a.bucket)
        == req.spec.ibmcos.as_ref().map(|a| &a.bucket)
        && !req.applied.management_state.is_empty();
    out.adopt(req.applied, !unchanged);
    let message = if unchanged {
        "IBM COS bucket exists and is accessible"
    } else {
        "User supplied IBM COS bucket exists and is accessible"
    };
    out.set(STORAGE_EXISTS, ConditionStatus::True, Reason::IbmCosBucketExists, message);
}

/// The IBM COS driver's HTTP client.
#[derive(Clone, Default)]
pub struct Driver {
    http: Arc<OnceLock<reqwest::Client>>,
}

struct Api<'a> {
    http: reqwest::Client,
    token: String,
    rt: &'a RoundTrips,
}

impl Api<'_> {
    /// A JSON call; an HTTP error becomes (False, the service's error code or the status).
    async fn call(&self, r: reqwest::RequestBuilder, what: &str) -> Result<Value, Failed> {
        self.rt.add();
        let r = r
            .bearer_auth(&self.token)
            .send()
            .await
            .map_err(|e| unknown(format!("cannot reach {what}: {e}")))?;
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        if status.is_success() {
            return Ok(body);
        }
        let code = body
            .pointer("/errors/0/code")
            .or_else(|| body.pointer("/error_code"))
            .and_then(|c| c.as_str())
            .map_or_else(|| status.as_u16().to_string(), str::to_string);
        let message = body
            .pointer("/errors/0/message")
            .or_else(|| body.pointer("/message"))
            .and_then(|m| m.as_str())
            .unwrap_or("");
        Err((ConditionStatus::False, code, format!("{what}: HTTP {} {message}", status.as_u16())))
    }
}

/// `v` percent-encoded for a URL query or path segment.
fn enc(v: &str) -> String {
    url::form_urlencoded::byte_serialize(v.as_bytes()).collect()
}

/// The HMAC keys of a resource key, which must carry the Writer or Manager role.
fn hmac_keys(key: &Value) -> Result<AwsKeys, Failed> {
    let role = key.pointer("/credentials/iam_role_crn").and_then(|r| r.as_str()).unwrap_or("");
    if role != WRITER && role != MANAGER {
        return Err((
            ConditionStatus::False,
            "IBM COS Resource Key Invalid".into(),
            "the COS resource key needs the Writer or Manager role".into(),
        ));
    }
    let hmac = key.pointer("/credentials/cos_hmac_keys").ok_or_else(|| {
        (
            ConditionStatus::False,
            "IBM COS Resource Key Invalid".to_string(),
            "specified resource key credentials does not contain HMAC keys".to_string(),
        )
    })?;
    Ok(AwsKeys {
        access_key_id: hmac["access_key_id"].as_str().unwrap_or_default().to_string(),
        secret_access_key: hmac["secret_access_key"].as_str().unwrap_or_default().to_string(),
        session_token: None,
    })
}

impl Api<'_> {
    /// The service instance named by the spec's CRN, which must be active.
    async fn instance_by_crn(&self, e: &Endpoints, crn: &str) -> Result<Value, Failed> {
        let rc = &e.resource_controller;
        let i = self
            .call(
                self.http.get(format!("{rc}/v2/resource_instances/{}", enc(crn))),
                "the COS service instance",
            )
            .await?;
        match i["state"].as_str() {
            Some("active") => Ok(i),
            Some("provisioning") => Err((
                ConditionStatus::False,
                "IBM COS Instance Provisioning".into(),
                "IBM COS service instance is provisioning".into(),
            )),
            _ => Err((
                ConditionStatus::False,
                "IBM COS Instance Gone".into(),
                "IBM COS service instance is inactive or has been removed.".into(),
            )),
        }
    }

    /// The id of the resource group named `group_name` in the token's account.
    async fn resource_group(&self, e: &Endpoints, group_name: &str) -> Result<String, Failed> {
        let account = token_account(&self.token).unwrap_or_default();
        let groups = self
            .call(
                self.http.get(format!(
                    "{}/v2/resource_groups?account_id={}&name={}",
                    e.resource_manager,
                    enc(&account),
                    enc(group_name)
                )),
                "the resource groups",
            )
            .await?;
        groups["resources"][0]["id"].as_str().map(str::to_string).ok_or_else(|| {
            (
                ConditionStatus::False,
                "ResourceGroupNotFound".to_string(),
                format!("no resource group named {group_name:?}"),
            )
        })
    }

    /// The cluster's service instance `name` (standard plan) in the resource group: found,
    /// else created, tagged as the cluster's.
    async fn find_or_create_instance(
        &self,
        e: &Endpoints,
        group_name: &str,
        name: &str,
        infra: &Infrastructure,
    ) -> Result<Value, Failed> {
        let rc = &e.resource_controller;
        let group = self.resource_group(e, group_name).await?;
        let found = self
            .call(
                self.http.get(format!(
                    "{rc}/v2/resource_instances?name={}&resource_group_id={}&resource_plan_id={RESOURCE_PLAN_ID}",
                    enc(name),
                    enc(&group)
                )),
                "the COS service instances",
            )
            .await?;
        if let Some(i) = found["resources"].as_array().and_then(|r| r.first()) {
            return Ok(i.clone());
        }
        let body = json!({"name": name, "target": "bluemix-global", "resource_group": group,
            "resource_plan_id": RESOURCE_PLAN_ID,
            "tags": [format!("kubernetes.io_cluster_{}:owned", infra.infrastructure_name())]});
        self.call(
            self.http.post(format!("{rc}/v2/resource_instances")).json(&body),
            "creating the COS service instance",
        )
        .await
    }

    /// The resource key named by the spec's CRN.
    async fn key_by_crn(&self, e: &Endpoints, crn: &str) -> Result<Value, Failed> {
        let rc = &e.resource_controller;
        self.call(
            self.http.get(format!("{rc}/v2/resource_keys/{}", enc(crn))),
            "the COS resource key",
        )
        .await
    }

    /// The resource key `name` of the instance: found, else created (Writer, with HMAC
    /// keys).
    async fn find_or_create_key(
        &self,
        e: &Endpoints,
        name: &str,
        instance_crn: &str,
    ) -> Result<Value, Failed> {
        let rc = &e.resource_controller;
        let found = self
            .call(
                self.http.get(format!("{rc}/v2/resource_keys?name={}", enc(name))),
                "the COS resource keys",
            )
            .await?;
        let existing = found["resources"]
            .as_array()
            .into_iter()
            .flatten()
            .find(|k| k["source_crn"] == instance_crn)
            .cloned();
        if let Some(k) = existing {
            return Ok(k);
        }
        let body = json!({"name": name, "source": instance_crn, "role": WRITER,
            "parameters": {"HMAC": true}});
        self.call(
            self.http.post(format!("{rc}/v2/resource_keys")).json(&body),
            "creating the COS resource key",
        )
        .await
    }
}

impl Driver {
    fn http(&self) -> Result<reqwest::Client, Failed> {
        if let Some(c) = self.http.get() {
            return Ok(c.clone());
        }
        let _ = rustls::crypto::ring::default_provider().install_default();
        let client = crate::tls::reqwest_builder()
            .timeout(TIMEOUT)
            .user_agent(format!("cluster-image-registry-operator/{}", env!("CARGO_PKG_VERSION")))
            .build()
            .map_err(|e| unknown(format!("cannot build an HTTP client: {e}")))?;
        Ok(self.http.get_or_init(|| client).clone())
    }

    /// An IAM access token for the API key.
    async fn sign_in<'a>(
        &self,
        e: &Endpoints,
        api_key: &str,
        rt: &'a RoundTrips,
    ) -> Result<Api<'a>, Failed> {
        let http = self.http()?;
        let url = format!("{}/identity/token", e.iam);
        rt.add();
        let r = http
            .post(&url)
            .header("Accept", "application/json")
            .form(&[("grant_type", "urn:ibm:params:oauth:grant-type:apikey"), ("apikey", api_key)])
            .send()
            .await
            .map_err(|err| unknown(format!("cannot reach IBM Cloud IAM at {url}: {err}")))?;
        let status = r.status();
        let body: Value = r.json().await.unwrap_or(Value::Null);
        if !status.is_success() {
            let code = body["errorCode"]
                .as_str()
                .map_or_else(|| status.as_u16().to_string(), str::to_string);
            let message = body["errorMessage"].as_str().unwrap_or("").to_string();
            return Err((
                ConditionStatus::False,
                code,
                format!("IBM Cloud IAM refused the API key: {message}"),
            ));
        }
        let token = body["access_token"]
            .as_str()
            .ok_or_else(|| unknown("IBM Cloud IAM answered without an access token".into()))?;
        Ok(Api { http, token: token.to_string(), rt })
    }

    /// The COS instance and HMAC keys: given by CRN, found by name, or created. Writes
    /// the CRNs it settled into `out.storage`.
    async fn instance_and_keys(
        &self,
        api: &Api<'_>,
        e: &Endpoints,
        infra: &Infrastructure,
        out: &mut Outcome,
    ) -> Result<AwsKeys, Failed> {
        let cos = out.storage.ibmcos.clone().unwrap_or_default();
        let s = crate::ibmcos::effective(&cos, infra);
        let name = format!("{}-image-registry", infra.infrastructure_name());
        let instance = if !s.service_instance_crn.is_empty() {
            api.instance_by_crn(e, &s.service_instance_crn).await?
        } else {
            api.find_or_create_instance(e, &s.resource_group_name, &name, infra).await?
        };
        let instance_crn = instance["crn"].as_str().unwrap_or_default().to_string();
        let key = if !s.resource_key_crn.is_empty() {
            api.key_by_crn(e, &s.resource_key_crn).await?
        } else {
            api.find_or_create_key(e, &name, &instance_crn).await?
        };
        let keys = hmac_keys(&key)?;
        if let Some(c) = out.storage.ibmcos.as_mut() {
            c.service_instance_crn = instance_crn;
            c.resource_key_crn = key["crn"].as_str().unwrap_or_default().to_string();
            if c.resource_group_name.is_empty() {
                c.resource_group_name = s.resource_group_name.clone();
            }
            if c.location.is_empty() {
                c.location = s.location.clone();
            }
        }
        Ok(keys)
    }

    /// Signs in, settles the instance and its HMAC keys, and makes sure the bucket exists.
    /// Returns whether it created the bucket, and the credentials file for the registry.
    async fn ensure_bucket(
        &self,
        req: &Request<'_>,
        rt: &Arc<RoundTrips>,
        s3: &super::s3::Driver,
        out: &mut Outcome,
    ) -> Result<(bool, String), Failed> {
        let api_key = req.credentials.ibm_api_key.as_deref().ok_or_else(missing_api_key)?;
        let s = crate::ibmcos::effective(
            &req.spec.ibmcos.clone().unwrap_or_default(),
            req.infrastructure,
        );
        if s.location.is_empty() {
            return Err(no_location(req.infrastructure));
        }
        let e = endpoints(req.infrastructure, &s.location);
        let api = self.sign_in(&e, api_key, rt).await?;
        let keys = self.instance_and_keys(&api, &e, req.infrastructure, out).await?;
        let file = format!(
            "[default]\naws_access_key_id = {}\naws_secret_access_key = {}\n",
            keys.access_key_id, keys.secret_access_key
        );
        let created = s3
            .head_or_create(
                &e.cos,
                &s.location,
                &s.bucket,
                keys,
                &format!("{}-smart", s.location),
                rt,
            )
            .await?;
        Ok((created, file))
    }

    pub(super) async fn ensure(
        &self,
        req: &Request<'_>,
        rt: &Arc<RoundTrips>,
        s3: &super::s3::Driver,
    ) -> Outcome {
        let mut out = Outcome::new(req.spec);
        match self.ensure_bucket(req, rt, s3, &mut out).await {
            Ok((created, file)) => {
                out.credentials_file = Some(file);
                bucket_ready(&mut out, req, created);
            }
            Err((status, reason, message)) => {
                out.set(STORAGE_EXISTS, status, Reason::parse(&reason), &message);
                out.fail(message);
            }
        }
        out
    }

    /// Empties and deletes the bucket of `req.applied` (Managed); the service instance and
    /// its key stay, as in the reference.
    pub(super) async fn remove(
        &self,
        req: &Request<'_>,
        rt: &Arc<RoundTrips>,
        s3: &super::s3::Driver,
    ) -> Outcome {
        let mut out = Outcome::new(req.spec);
        let applied = req.applied.ibmcos.clone().unwrap_or_default();
        let result = async {
            let api_key =
                req.credentials.ibm_api_key.as_deref().ok_or_else(|| {
                    unknown("no IBM Cloud API key to remove the bucket with".into())
                })?;
            let s = crate::ibmcos::effective(&applied, req.infrastructure);
            let e = endpoints(req.infrastructure, &s.location);
            let api = self.sign_in(&e, api_key, rt).await?;
            let mut scratch = Outcome::new(req.applied);
            let keys = self.instance_and_keys(&api, &e, req.infrastructure, &mut scratch).await?;
            s3.delete_with_keys(&e.cos, &s.location, &s.bucket, keys, rt)
                .await
                .map_err(|(reason, message)| (ConditionStatus::Unknown, reason, message))
        }
        .await;
        match result {
            Ok(existed) => {
                let message = if existed {
                    "IBM COS bucket has been removed."
                } else {
                    "IBM COS bucket did not exist."
                };
                out.set(
                    STORAGE_EXISTS,
                    ConditionStatus::False,
                    Reason::IbmCosBucketDeleted,
                    message,
                );
                if let Some(c) = out.storage.ibmcos.as_mut()
                    && c.bucket == applied.bucket
                {
                    c.bucket.clear();
                }
            }
            Err((_, reason, message)) => {
                out.set(STORAGE_EXISTS, ConditionStatus::Unknown, Reason::parse(&reason), &message);
                out.fail(message);
            }
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn account_from_token() {
        let claims = base64::engine::general_purpose::URL_SAFE_NO_PAD
            .encode(br#"{"account":{"bss":"acct-123"},"iam_id":"x"}"#);
        assert_eq!(token_account(&format!("h.{claims}.s")).as_deref(), Some("acct-123"));
        assert_eq!(token_account("not-a-jwt"), None);
    }

    #[test]
    fn endpoints_and_overrides() {
        let e = endpoints(&Infrastructure::default(), "us-south");
        assert_eq!(e.cos, "https://s3.us-south.cloud-object-storage.appdomain.cloud");
        assert_eq!(e.iam, "https://iam.cloud.ibm.com");
        let infra: Infrastructure = serde_json::from_value(json!({"metadata": {}, "spec": {},
            "status": {"platformStatus": {"type": "IBMCloud", "ibmcloud": {"serviceEndpoints": [
                {"name": "IAM", "url": "http://127.0.0.1:1"}, {"name": "COS", "url": "cos.internal"}]}}}}))
        .unwrap();
        let e = endpoints(&infra, "us-south");
        assert_eq!(
            (e.iam.as_str(), e.cos.as_str()),
            ("http://127.0.0.1:1", "https://cos.internal")
        );
    }
}
