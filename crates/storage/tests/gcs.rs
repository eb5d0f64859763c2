//! The GCS driver against gcp-storage-emulator on loopback (`scripts/emulators install`).

use std::collections::BTreeMap;

use api::Infrastructure;
use api::config::{GcpPlatformStatus, InfrastructureStatus, KeyValue, PlatformStatus};
use api::imageregistry::{ImageRegistryConfigStorage, ImageRegistryConfigStorageGcs};
use imageregistry_storage::Credentials;
use imageregistry_storage::google_storage1;
use imageregistry_storage::provision::gcs::anonymous_hub;
use imageregistry_storage::provision::{ConditionStatus, Outcome, Provisioner, Request};
use testkit::emulators;

fn infra() -> Infrastructure {
    Infrastructure {
        status: Some(InfrastructureStatus {
            infrastructure_name: "g1-x7k2p".into(),
            platform_status: Some(PlatformStatus {
                type_: "GCP".into(),
                gcp: Some(GcpPlatformStatus {
                    region: "us-central1".into(),
                    project_id: "local-project".into(),
                    resource_labels: vec![KeyValue {
                        key: "team".into(),
                        value: "registry".into(),
                    }],
                    ..Default::default()
                }),
                ..Default::default()
            }),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn storage(bucket: &str, key_id: &str) -> ImageRegistryConfigStorage {
    ImageRegistryConfigStorage {
        gcs: Some(ImageRegistryConfigStorageGcs {
            bucket: bucket.into(),
            key_id: key_id.into(),
            ..Default::default()
        }),
        ..Default::default()
    }
}

fn cond<'a>(o: &'a Outcome, t: &str) -> (&'a ConditionStatus, &'a str) {
    let c = o.conditions.iter().find(|c| c.type_ == t).unwrap_or_else(|| panic!("no {t}: {o:?}"));
    (&c.status, c.reason.as_str())
}

async fn run(
    p: &Provisioner,
    spec: &ImageRegistryConfigStorage,
    applied: &ImageRegistryConfigStorage,
    remove: bool,
) -> Outcome {
    let infra = infra();
    let c = Credentials::default();
    let req = Request {
        spec,
        applied,
        infrastructure: &infra,
        credentials: &c,
        source: Default::default(),
        ca: Default::default(),
    };
    if remove { p.remove(&req).await } else { p.ensure(&req).await }
        .expect("GCS is a cloud backend")
}

#[tokio::test]
async fn provisions_labels_encrypts_and_removes_a_bucket() {
    let Some(gcs) = emulators::or_skip("gcs provision", emulators::gcs()) else { return };
    let p = Provisioner::new().with_gcs_endpoint(&gcs.endpoint);
    let key = "projects/p/locations/us/keyRings/r/cryptoKeys/k";
    let spec = storage("g1-x7k2p-image-registry-us-central1-abcdefgh", key);
    let out = run(&p, &spec, &Default::default(), false).await;
    assert!(out.ok(), "{out:?}");
    assert_eq!(cond(&out, "StorageExists"), (&ConditionStatus::True, "Creation Successful"));
    assert_eq!(
        cond(&out, "StorageLabeled"),
        (&ConditionStatus::True, "Bucket Labeled Successfully")
    );
    assert_eq!(cond(&out, "StorageEncrypted"), (&ConditionStatus::True, "Encryption Successful"));
    assert_eq!(out.storage.management_state, "Managed");

    let hub = anonymous_hub(&gcs.endpoint);
    let name = "g1-x7k2p-image-registry-us-central1-abcdefgh";
    let (_, b) = hub.buckets().get(name).doit().await.expect("the bucket exists");
    let labels: BTreeMap<_, _> = b.labels.unwrap_or_default().into_iter().collect();
    assert_eq!(labels.get("kubernetes-io-cluster-g1-x7k2p").map(String::as_str), Some("owned"));
    assert_eq!(labels.get("team").map(String::as_str), Some("registry"));
    assert_eq!(b.encryption.and_then(|e| e.default_kms_key_name).as_deref(), Some(key));
    let ubla =
        b.iam_configuration.and_then(|i| i.uniform_bucket_level_access).and_then(|u| u.enabled);
    assert_eq!(ubla, Some(true));

    // Nothing changed: one get.
    let before = p.round_trips();
    let again = run(&p, &out.storage, &out.storage, false).await;
    assert!(again.ok(), "{again:?}");
    assert_eq!(p.round_trips() - before, 1);
    assert_eq!(cond(&again, "StorageExists"), (&ConditionStatus::True, "GCS Bucket Exists"));

    // Removal empties the bucket in one pass, then deletes it.
    for i in 0..5 {
        let req = hub.objects().insert(Default::default(), name).name(&format!("blobs/{i}"));
        req.upload(
            std::io::Cursor::new(b"data".to_vec()),
            "application/octet-stream".parse().unwrap(),
        )
        .await
        .unwrap();
    }
    let gone = run(&p, &out.storage, &out.storage, true).await;
    assert!(gone.ok(), "{gone:?}");
    assert_eq!(cond(&gone, "StorageExists"), (&ConditionStatus::False, "GCS Bucket Deleted"));
    assert_eq!(gone.storage.gcs.unwrap().bucket, "");
    assert!(hub.buckets().get(name).doit().await.is_err(), "the bucket is gone");
}

#[tokio::test]
async fn a_users_bucket_is_adopted_and_kept() {
    let Some(gcs) = emulators::or_skip("gcs adopt", emulators::gcs()) else { return };
    let hub = anonymous_hub(&gcs.endpoint);
    let bucket =
        google_storage1::api::Bucket { name: Some("team-bucket".into()), ..Default::default() };
    hub.buckets().insert(bucket, "local-project").doit().await.unwrap();
    let p = Provisioner::new().with_gcs_endpoint(&gcs.endpoint);
    let out = run(&p, &storage("team-bucket", ""), &Default::default(), false).await;
    assert!(out.ok(), "{out:?}");
    assert_eq!(out.storage.management_state, "Unmanaged");
    assert_eq!(cond(&out, "StorageExists"), (&ConditionStatus::True, "GCS Bucket Exists"));
    let gone = run(&p, &out.storage, &out.storage, true).await;
    assert!(gone.ok() && gone.conditions.is_empty(), "{gone:?}");
    assert!(hub.buckets().get("team-bucket").doit().await.is_ok(), "the user's bucket is kept");

    // Without an emulator endpoint and without a keyfile: a clear condition.
    let out = run(&Provisioner::new(), &storage("x-bucket", ""), &Default::default(), false).await;
    assert_eq!(cond(&out, "StorageExists"), (&ConditionStatus::False, "MissingCredentials"));
}
