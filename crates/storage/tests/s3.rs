//! The S3 driver against moto's S3 server on loopback (`scripts/emulators install`).

use std::collections::BTreeMap;

use api::Infrastructure;
use api::config::{AwsPlatformStatus, InfrastructureStatus, KeyValue, PlatformStatus};
use api::imageregistry::{ImageRegistryConfigStorage, ImageRegistryConfigStorageS3};
use imageregistry_storage::Credentials;
use imageregistry_storage::credentials::{self, Source};
use imageregistry_storage::provision::{ConditionStatus, Outcome, Provisioner, Request};
use render::storage::Backend;
use testkit::emulators;

fn infra(name: &str, tags: &[(&str, &str)]) -> Infrastructure {
    Infrastructure {
        status: Some(InfrastructureStatus {
            infrastructure_name: name.into(),
            platform_status: Some(PlatformStatus {
                type_: "AWS".into(),
                aws: Some(AwsPlatformStatus {
                    region: "us-east-1".into(),
                    resource_tags: tags
                        .iter()
                        .map(|(k, v)| KeyValue { key: k.to_string(), value: v.to_string() })
                        .collect(),
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn creds() -> (Credentials, Source) {
    let user = BTreeMap::from([
        ("REGISTRY_STORAGE_S3_ACCESSKEY".to_string(), "AKIDEXAMPLE".to_string()),
        ("REGISTRY_STORAGE_S3_SECRETKEY".to_string(), "wJalrXUtnFEMI".to_string()),
    ]);
    credentials::resolve(Backend::S3, Some(&user), None)
}

fn storage(endpoint: &str, bucket: &str, key_id: &str) -> ImageRegistryConfigStorage {
    ImageRegistryConfigStorage {
        s3: Some(ImageRegistryConfigStorageS3 {
            bucket: bucket.into(),
            region: "us-east-1".into(),
            region_endpoint: endpoint.into(),
            key_id: key_id.into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

/// A plain client to look at what the driver did.
fn inspector(endpoint: &str) -> aws_sdk_s3::Client {
    imageregistry_storage::provision::s3::path_style_client(endpoint, "AKIDEXAMPLE", "x")
}

fn cond<'a>(o: &'a Outcome, t: &str) -> (&'a ConditionStatus, &'a str) {
    let c = o.conditions.iter().find(|c| c.type_ == t).unwrap_or_else(|| panic!("no {t}: {o:?}"));
    (&c.status, c.reason.as_str())
}

async fn ensure(
    p: &Provisioner,
    spec: &ImageRegistryConfigStorage,
    applied: &ImageRegistryConfigStorage,
    infra: &Infrastructure,
) -> Outcome {
    let (c, source) = creds();
    let req = Request {
        spec,
        applied,
        infrastructure: infra,
        credentials: &c,
        source,
        ca: Default::default(),
    };
    p.ensure(&req).await.expect("S3 is a cloud backend")
}

async fn remove(
    p: &Provisioner,
    applied: &ImageRegistryConfigStorage,
    infra: &Infrastructure,
) -> Outcome {
    let (c, source) = creds();
    let req = Request {
        spec: applied,
        applied,
        infrastructure: infra,
        credentials: &c,
        source,
        ca: Default::default(),
    };
    p.remove(&req).await.expect("S3 is a cloud backend")
}

#[tokio::test]
async fn provisions_a_bucket_with_every_setting_then_removes_it() {
    let Some(moto) = emulators::or_skip("s3 provision", emulators::moto()) else { return };
    let infra = infra("c1-x7k2p", &[("team", "registry")]);
    let p = Provisioner::new();
    let spec = storage(&moto.endpoint, "c1-x7k2p-image-registry-us-east-1", "");

    let out = ensure(&p, &spec, &Default::default(), &infra).await;
    assert!(out.ok(), "{out:?}");
    assert_eq!(p.round_trips(), 6, "head, create and one call per setting");
    assert_eq!(cond(&out, "StorageExists"), (&ConditionStatus::True, "Creation Successful"));
    assert_eq!(
        cond(&out, "StoragePublicAccessBlocked"),
        (&ConditionStatus::True, "Public Access Block Successful")
    );
    assert_eq!(cond(&out, "StorageTagged"), (&ConditionStatus::True, "Tagging Successful"));
    assert_eq!(cond(&out, "StorageEncrypted"), (&ConditionStatus::True, "Encryption Successful"));
    assert_eq!(
        cond(&out, "StorageIncompleteUploadCleanupEnabled"),
        (&ConditionStatus::True, "Enable Cleanup Successful")
    );
    assert_eq!(out.storage.management_state, "Managed");
    assert!(out.storage.s3.as_ref().unwrap().encrypt, "encrypt is written back");

    // What the server has.
    let s3 = inspector(&moto.endpoint);
    let bucket = "c1-x7k2p-image-registry-us-east-1";
    let pab = s3.get_public_access_block().bucket(bucket).send().await.unwrap();
    let pab = pab.public_access_block_configuration().unwrap();
    assert_eq!(
        (
            pab.block_public_acls(),
            pab.block_public_policy(),
            pab.ignore_public_acls(),
            pab.restrict_public_buckets()
        ),
        (Some(true), Some(true), Some(true), Some(true))
    );
    let tags: BTreeMap<_, _> = s3
        .get_bucket_tagging()
        .bucket(bucket)
        .send()
        .await
        .unwrap()
        .tag_set()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    assert_eq!(tags["kubernetes.io/cluster/c1-x7k2p"], "owned");
    assert_eq!(tags["Name"], "c1-x7k2p-image-registry");
    assert_eq!(tags["team"], "registry");
    let enc = s3.get_bucket_encryption().bucket(bucket).send().await.unwrap();
    let rule = &enc.server_side_encryption_configuration().unwrap().rules()[0];
    assert_eq!(
        rule.apply_server_side_encryption_by_default().unwrap().sse_algorithm().as_str(),
        "AES256"
    );
    assert_eq!(rule.bucket_key_enabled(), Some(true));
    let lc = s3.get_bucket_lifecycle_configuration().bucket(bucket).send().await.unwrap();
    let rule = &lc.rules()[0];
    assert_eq!(rule.id(), Some("cleanup-incomplete-multipart-registry-uploads"));
    assert_eq!(rule.abort_incomplete_multipart_upload().unwrap().days_after_initiation(), Some(1));

    // Nothing changed: one existence check.
    let applied = out.storage.clone();
    let before = p.round_trips();
    let again = ensure(&p, &out.storage, &applied, &infra).await;
    assert!(again.ok(), "{again:?}");
    assert_eq!(p.round_trips() - before, 1, "one HeadBucket");
    assert_eq!(cond(&again, "StorageExists"), (&ConditionStatus::True, "S3 Bucket Exists"));
    assert_eq!(again.storage, applied);

    // The Infrastructure's tags change: merged in, a tag added by a person is kept.
    s3.put_bucket_tagging()
        .bucket(bucket)
        .tagging(
            aws_sdk_s3::types::Tagging::builder()
                .set_tag_set(Some(
                    tags.iter()
                        .chain([(&"by-hand".to_string(), &"yes".to_string())])
                        .map(|(k, v)| {
                            aws_sdk_s3::types::Tag::builder().key(k).value(v).build().unwrap()
                        })
                        .collect(),
                ))
                .build()
                .unwrap(),
        )
        .send()
        .await
        .unwrap();
    let retagged = infra_with_tags(&infra, &[("team", "platform"), ("cost", "42")]);
    let out3 = ensure(&p, &applied, &applied, &retagged).await;
    assert!(out3.ok(), "{out3:?}");
    let tags: BTreeMap<_, _> = s3
        .get_bucket_tagging()
        .bucket(bucket)
        .send()
        .await
        .unwrap()
        .tag_set()
        .iter()
        .map(|t| (t.key().to_string(), t.value().to_string()))
        .collect();
    assert_eq!(
        (tags["team"].as_str(), tags["cost"].as_str(), tags["by-hand"].as_str()),
        ("platform", "42", "yes")
    );

    // Removal empties the bucket (more than one page of objects) and deletes it.
    let puts = (0..1003).map(|i| {
        s3.put_object()
            .bucket(bucket)
            .key(format!("docker/registry/v2/blobs/{i}"))
            .body(vec![b'x'; 3].into())
            .send()
    });
    use futures::StreamExt;
    let results: Vec<_> = futures::stream::iter(puts).buffer_unordered(8).collect().await;
    assert!(results.iter().all(|r| r.is_ok()), "objects uploaded");
    let gone = remove(&p, &applied, &infra).await;
    assert!(gone.ok(), "{gone:?}");
    assert_eq!(cond(&gone, "StorageExists"), (&ConditionStatus::False, "S3 Bucket Deleted"));
    assert_eq!(gone.storage.s3.as_ref().unwrap().bucket, "", "the name is blanked");
    assert_eq!(gone.storage.management_state, "", "what comes next is judged afresh");
    let err = s3.head_bucket().bucket(bucket).send().await.unwrap_err();
    assert_eq!(err.raw_response().map(|r| r.status().as_u16()), Some(404));
}

fn infra_with_tags(base: &Infrastructure, tags: &[(&str, &str)]) -> Infrastructure {
    let mut i = base.clone();
    let aws = i.status.as_mut().unwrap().platform_status.as_mut().unwrap().aws.as_mut().unwrap();
    aws.resource_tags =
        tags.iter().map(|(k, v)| KeyValue { key: k.to_string(), value: v.to_string() }).collect();
    i
}

#[tokio::test]
async fn a_users_bucket_is_adopted_untouched_and_survives_removal() {
    let Some(moto) = emulators::or_skip("s3 adopt", emulators::moto()) else { return };
    let s3 = inspector(&moto.endpoint);
    s3.create_bucket().bucket("users-bucket").send().await.unwrap();
    s3.put_object()
        .bucket("users-bucket")
        .key("keep")
        .body(b"data".to_vec().into())
        .send()
        .await
        .unwrap();
    let infra = infra("c2-abcde", &[]);
    let p = Provisioner::new();
    let spec = storage(&moto.endpoint, "users-bucket", "");
    let out = ensure(&p, &spec, &Default::default(), &infra).await;
    assert!(out.ok(), "{out:?}");
    assert_eq!(out.storage.management_state, "Unmanaged");
    assert_eq!(cond(&out, "StorageExists"), (&ConditionStatus::True, "S3 Bucket Exists"));
    assert!(
        out.conditions.iter().all(|c| c.type_ == "StorageExists"),
        "no setting applied: {out:?}"
    );
    let pab = s3.get_public_access_block().bucket("users-bucket").send().await;
    assert!(pab.is_err(), "the user's bucket keeps its own public-access settings");

    let gone = remove(&p, &out.storage, &infra).await;
    assert!(gone.ok() && gone.conditions.is_empty(), "{gone:?}");
    let kept = s3.get_object().bucket("users-bucket").key("keep").send().await;
    assert!(kept.is_ok(), "the user's data is untouched");

    // Even a spec that still says Managed does not make a different, existing bucket ours.
    let ours = ImageRegistryConfigStorage {
        management_state: "Managed".into(),
        ..storage(&moto.endpoint, "ours", "")
    };
    let moved = ImageRegistryConfigStorage { management_state: "Managed".into(), ..spec.clone() };
    let out = ensure(&p, &moved, &ours, &infra).await;
    assert_eq!(out.storage.management_state, "Unmanaged", "{out:?}");
}

#[tokio::test]
async fn kms_key_and_an_existing_managed_bucket() {
    let Some(moto) = emulators::or_skip("s3 kms", emulators::moto()) else { return };
    let infra = infra("c3-abcde", &[]);
    let p = Provisioner::new();
    let spec = storage(&moto.endpoint, "c3-bucket", "arn:aws:kms:us-east-1:123456789012:key/k1");
    let out = ensure(&p, &spec, &Default::default(), &infra).await;
    assert!(out.ok(), "{out:?}");
    let enc =
        inspector(&moto.endpoint).get_bucket_encryption().bucket("c3-bucket").send().await.unwrap();
    let by_default = enc.server_side_encryption_configuration().unwrap().rules()[0]
        .apply_server_side_encryption_by_default()
        .unwrap()
        .clone();
    assert_eq!(by_default.sse_algorithm().as_str(), "aws:kms");
    assert_eq!(by_default.kms_master_key_id(), Some("arn:aws:kms:us-east-1:123456789012:key/k1"));

    // The bucket vanishes behind the operator's back: a Managed bucket is created again.
    inspector(&moto.endpoint).delete_bucket().bucket("c3-bucket").send().await.unwrap();
    let again = ensure(&p, &out.storage, &out.storage, &infra).await;
    assert!(again.ok(), "{again:?}");
    assert_eq!(cond(&again, "StorageExists"), (&ConditionStatus::True, "Creation Successful"));
}

#[tokio::test]
async fn unreachable_and_refused() {
    // Nothing listens on the port: Unknown, with the endpoint in the message.
    let closed = std::net::TcpListener::bind("127.0.0.1:0").unwrap().local_addr().unwrap().port();
    let infra = infra("c4-abcde", &[]);
    let p = Provisioner::new();
    let spec = storage(&format!("http://127.0.0.1:{closed}"), "my-bucket", "");
    let out = ensure(&p, &spec, &Default::default(), &infra).await;
    assert!(!out.ok());
    let (status, reason) = cond(&out, "StorageExists");
    assert_eq!((status, reason), (&ConditionStatus::Unknown, "Unknown Error Occurred"));
    let message = &out.conditions[0].message;
    assert!(message.contains(&format!("127.0.0.1:{closed}")), "{message}");

    // No credentials at all.
    let none = Credentials::default();
    let req = Request {
        spec: &spec,
        applied: &Default::default(),
        infrastructure: &infra,
        credentials: &none,
        source: Source::None,
        ca: Default::default(),
    };
    let out = p.ensure(&req).await.unwrap();
    assert_eq!(cond(&out, "StorageExists"), (&ConditionStatus::False, "MissingCredentials"));

    // A server that checks keys refuses unknown ones: False with the server's code.
    let Some(moto) = emulators::or_skip(
        "s3 auth",
        emulators::moto_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "0")]),
    ) else {
        return;
    };
    let spec = storage(&moto.endpoint, "my-bucket", "");
    let out = ensure(&p, &spec, &Default::default(), &infra).await;
    assert!(!out.ok());
    let (status, reason) = cond(&out, "StorageExists");
    assert_eq!(status, &ConditionStatus::False);
    assert!(["Forbidden", "InvalidAccessKeyId"].contains(&reason), "{out:?}");
    assert!(!format!("{out:?}").contains("wJalrXUtnFEMI"), "no secret in the outcome");
}

#[tokio::test]
async fn trusted_ca_is_the_clients_trust_store() {
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()]).unwrap();
    let dir = testkit::ScratchDir::new("imageregistry-s3-tls").unwrap();
    let (cert_file, key_file) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_file, cert.cert.pem()).unwrap();
    std::fs::write(&key_file, cert.signing_key.serialize_pem()).unwrap();
    let Some(moto) = emulators::or_skip("s3 tls", emulators::moto_tls(&cert_file, &key_file))
    else {
        return;
    };
    let infra = infra("c5-abcde", &[]);
    let p = Provisioner::new();
    let spec = storage(&moto.endpoint, "tls-bucket", "");
    let (c, source) = creds();
    let ensure_with = |ca: Option<String>| {
        let (p, spec, infra, c) = (p.clone(), spec.clone(), infra.clone(), c.clone());
        async move {
            let none = Default::default();
            let req = Request {
                spec: &spec,
                applied: &none,
                infrastructure: &infra,
                credentials: &c,
                source,
                ca: imageregistry_storage::provision::CaTrust { instead: ca, besides: None },
            };
            p.ensure(&req).await.unwrap()
        }
    };
    // Without the CA the server's certificate is not trusted.
    let untrusted = ensure_with(None).await;
    assert!(!untrusted.ok());
    assert_eq!(cond(&untrusted, "StorageExists").0, &ConditionStatus::Unknown, "{untrusted:?}");
    // With the trustedCA bundle it is.
    let trusted = ensure_with(Some(cert.cert.pem())).await;
    assert!(trusted.ok(), "{trusted:?}");
    assert_eq!(cond(&trusted, "StorageExists"), (&ConditionStatus::True, "Creation Successful"));
}

/// A query-API call to moto inside its unauthenticated allowance; the Authorization header
/// only tells moto which service is meant.
async fn moto_setup_call(endpoint: &str, service: &str, form: &[(&str, &str)]) {
    let _ = rustls::crypto::ring::default_provider().install_default();
    let scope = format!("AKIDEXAMPLE/20260101/us-east-1/{service}/aws4_request");
    let r = reqwest::Client::new()
        .post(format!("{endpoint}/"))
        .header(
            "Authorization",
            format!("AWS4-HMAC-SHA256 Credential={scope}, SignedHeaders=host, Signature=0"),
        )
        .form(form)
        .send()
        .await
        .unwrap();
    let status = r.status();
    assert!(status.is_success(), "{service} {form:?}: {status} {}", r.text().await.unwrap());
}

#[tokio::test]
async fn a_web_identity_role_is_assumed_through_sts() {
    // moto lets three requests through unchecked (the role, its policy, and the unsigned
    // AssumeRoleWithWebIdentity, as AWS takes it); every S3 request after that must be
    // signed with the assumed role's temporary credentials and allowed by its policy.
    let Some(moto) = emulators::or_skip(
        "s3 web identity",
        emulators::moto_with(&[("INITIAL_NO_AUTH_ACTION_COUNT", "3")]),
    ) else {
        return;
    };
    let trust = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Principal":{"Federated":"arn:aws:iam::123456789012:oidc-provider/oidc.example"},"Action":"sts:AssumeRoleWithWebIdentity"}]}"#;
    let policy = r#"{"Version":"2012-10-17","Statement":[{"Effect":"Allow","Action":"s3:*","Resource":"*"}]}"#;
    moto_setup_call(
        &moto.endpoint,
        "iam",
        &[
            ("Action", "CreateRole"),
            ("Version", "2010-05-08"),
            ("RoleName", "registry"),
            ("AssumeRolePolicyDocument", trust),
        ],
    )
    .await;
    moto_setup_call(
        &moto.endpoint,
        "iam",
        &[
            ("Action", "PutRolePolicy"),
            ("Version", "2010-05-08"),
            ("RoleName", "registry"),
            ("PolicyName", "s3"),
            ("PolicyDocument", policy),
        ],
    )
    .await;

    let dir = testkit::ScratchDir::new("imageregistry-s3-web-identity").unwrap();
    let token_file = dir.join("token");
    std::fs::write(&token_file, "eyJhbGciOiJSUzI1NiJ9.eyJzdWIiOiJzeXN0ZW0ifQ.c2ln\n").unwrap();
    let file = format!(
        "[default]\nsts_regional_endpoints = regional\nrole_arn = arn:aws:iam::123456789012:role/registry\nweb_identity_token_file = {}\n",
        token_file.display()
    );
    let cluster = BTreeMap::from([("credentials".to_string(), file)]);
    let (c, source) = credentials::resolve(Backend::S3, None, Some(&cluster));
    let mut infra = infra("c6-sts01", &[]);
    let aws =
        infra.status.as_mut().unwrap().platform_status.as_mut().unwrap().aws.as_mut().unwrap();
    aws.service_endpoints =
        vec![api::config::ServiceEndpoint { name: "sts".into(), url: moto.endpoint.clone() }];
    let p = Provisioner::new();
    let spec = storage(&moto.endpoint, "c6-sts01-image-registry-us-east-1", "");
    let ensure_with = |c: Credentials, applied: ImageRegistryConfigStorage| {
        let (p, spec, infra) = (p.clone(), spec.clone(), infra.clone());
        async move {
            let req = Request {
                spec: &spec,
                applied: &applied,
                infrastructure: &infra,
                credentials: &c,
                source,
                ca: Default::default(),
            };
            p.ensure(&req).await.expect("S3 is a cloud backend")
        }
    };

    let out = ensure_with(c.clone(), Default::default()).await;
    assert!(out.ok(), "{out:?}");
    assert_eq!(p.round_trips(), 7, "STS, then head, create and one call per setting");
    assert_eq!(cond(&out, "StorageExists"), (&ConditionStatus::True, "Creation Successful"));
    assert_eq!(cond(&out, "StorageEncrypted").0, &ConditionStatus::True, "{out:?}");
    // The session is reused: a pass with nothing changed is one HeadBucket.
    let out = ensure_with(c.clone(), out.storage.clone()).await;
    assert!(out.ok(), "{out:?}");
    assert_eq!(p.round_trips(), 8, "{out:?}");

    // Without the role the same server refuses the request: the test can tell.
    let (keys, source_keys) = creds();
    let req = Request {
        spec: &spec,
        applied: &Default::default(),
        infrastructure: &infra,
        credentials: &keys,
        source: source_keys,
        ca: Default::default(),
    };
    let refused = p.ensure(&req).await.unwrap();
    assert!(!refused.ok(), "{refused:?}");

    // A token file that cannot be read is a credentials problem, named with its path.
    let gone = "[default]\nrole_arn = arn:aws:iam::123456789012:role/registry\nweb_identity_token_file = /nonexistent/token\n";
    let cluster = BTreeMap::from([("credentials".to_string(), gone.to_string())]);
    let (c, _) = credentials::resolve(Backend::S3, None, Some(&cluster));
    let out = ensure_with(c, Default::default()).await;
    assert_eq!(cond(&out, "StorageExists"), (&ConditionStatus::False, "InvalidCredentials"));
    assert!(format!("{out:?}").contains("/nonexistent/token"), "{out:?}");
}

/// A spec that names a region but no endpoint, on a cluster whose Infrastructure names an
/// `s3` service endpoint: the operator's client goes to the cluster's endpoint (as the
/// reference's resolver does), never to the region's public AWS endpoint.
#[tokio::test]
async fn a_region_without_an_endpoint_reaches_the_clusters_s3_endpoint() {
    let Some(moto) = emulators::or_skip("s3 service endpoint", emulators::moto()) else { return };
    let mut infra = infra("c4-abcde", &[]);
    let aws =
        infra.status.as_mut().unwrap().platform_status.as_mut().unwrap().aws.as_mut().unwrap();
    aws.service_endpoints =
        vec![api::config::ServiceEndpoint { name: "s3".into(), url: moto.endpoint.clone() }];
    let p = Provisioner::new();
    let spec = storage("", "regional-bucket", "");
    let out = ensure(&p, &spec, &Default::default(), &infra).await;
    assert!(out.ok(), "{out:?}");
    let found = inspector(&moto.endpoint).head_bucket().bucket("regional-bucket").send().await;
    assert!(found.is_ok(), "the bucket is on the cluster's endpoint: {found:?}");
    assert_eq!(out.storage.s3.unwrap().region_endpoint, "", "the registry resolves its region's");
}

/// A pass that created the bucket and lost its write-back (a crash, a failed Config write)
/// leaves a spec without a bucket: the next pass finds the operator's deterministic name
/// and keeps it Managed (so Removed deletes it), as the reference does; it is never taken
/// for the user's.
#[tokio::test]
async fn a_bucket_created_before_a_lost_write_back_stays_the_operators() {
    let Some(moto) = emulators::or_skip("s3 lost write-back", emulators::moto()) else { return };
    let infra = infra("c5-abcde", &[]);
    let name = render::storage::generate_deterministic_storage_name("c5-abcde", &["us-east-1"]);
    inspector(&moto.endpoint).create_bucket().bucket(&name).send().await.unwrap();
    let p = Provisioner::new();
    let spec = storage(&moto.endpoint, "", "");
    let out = ensure(&p, &spec, &Default::default(), &infra).await;
    assert!(out.ok(), "{out:?}");
    assert_eq!(out.storage.management_state, "Managed", "{out:?}");
    let gone = remove(&p, &out.storage, &infra).await;
    assert!(gone.ok(), "{gone:?}");
    let left = inspector(&moto.endpoint).head_bucket().bucket(&name).send().await;
    assert!(left.is_err(), "Removed deletes it: no orphan");
}
