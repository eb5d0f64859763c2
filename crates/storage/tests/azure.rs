//! The Azure Blob driver (account-key mode) against Azurite on loopback
//! (`scripts/emulators install`). Azurite checks the SAS signature: a wrong key is refused.

use api::Infrastructure;
use api::imageregistry::{ImageRegistryConfigStorage, ImageRegistryConfigStorageAzure};
use imageregistry_storage::Credentials;
use imageregistry_storage::azure::AzureAuth;
use imageregistry_storage::provision::{ConditionStatus, Outcome, Provisioner, Request};
use testkit::emulators;

/// Azurite's development account and its published key.
const ACCOUNT: &str = "devstoreaccount1";
const KEY: &str =
    "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

fn storage(container: &str) -> ImageRegistryConfigStorage {
    ImageRegistryConfigStorage {
        azure: Some(ImageRegistryConfigStorageAzure {
            account_name: ACCOUNT.into(),
            container: container.into(),
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
    key: &str,
    spec: &ImageRegistryConfigStorage,
    applied: &ImageRegistryConfigStorage,
    remove: bool,
) -> Outcome {
    let infra = Infrastructure::default();
    let c = Credentials { azure: AzureAuth::AccountKey(key.into()), ..Default::default() };
    let req = Request {
        spec,
        applied,
        infrastructure: &infra,
        credentials: &c,
        source: Default::default(),
        trusted_ca: None,
    };
    if remove { p.remove(&req).await } else { p.ensure(&req).await }
        .expect("Azure is a cloud backend")
}

#[tokio::test]
async fn creates_checks_adopts_and_deletes_containers() {
    let Some(azurite) = emulators::or_skip("azure", emulators::azurite()) else { return };
    let p = Provisioner::new().with_azure_blob_endpoint(&azurite.endpoint);

    // A new container is created and is the operator's.
    let spec = storage("registry-c1");
    let out = run(&p, KEY, &spec, &Default::default(), false).await;
    assert!(out.ok(), "{out:?}");
    assert_eq!(cond(&out, "StorageExists"), (&ConditionStatus::True, "ContainerExists"));
    assert_eq!(out.storage.management_state, "Managed");
    // Nothing changed: one existence check.
    let before = p.round_trips();
    let again = run(&p, KEY, &out.storage, &out.storage, false).await;
    assert!(again.ok(), "{again:?}");
    assert_eq!(p.round_trips() - before, 1);

    // An existing container that the operator did not create is adopted, and kept.
    let users = run(&p, KEY, &storage("registry-c1"), &Default::default(), false).await;
    assert_eq!(users.storage.management_state, "Unmanaged");
    let kept = run(&p, KEY, &users.storage, &users.storage, true).await;
    assert!(kept.ok() && kept.conditions.is_empty(), "{kept:?}");
    let still = run(&p, KEY, &out.storage, &out.storage, false).await;
    assert_eq!(cond(&still, "StorageExists"), (&ConditionStatus::True, "ContainerExists"));

    // Removal of the operator's container.
    let gone = run(&p, KEY, &out.storage, &out.storage, true).await;
    assert!(gone.ok(), "{gone:?}");
    assert_eq!(cond(&gone, "StorageExists"), (&ConditionStatus::False, "ContainerDeleted"));
    assert_eq!(gone.storage.azure.unwrap().container, "");
    // It is gone: a fresh check creates it again.
    let recreated = run(&p, KEY, &out.storage, &Default::default(), false).await;
    assert_eq!(recreated.storage.management_state, "Managed", "{recreated:?}");

    // A wrong key is refused by the server: False with its error code, no key in the outcome.
    let wrong = "d3Jvbmcga2V5IHdyb25nIGtleSB3cm9uZyBrZXk=";
    let refused = run(&p, wrong, &storage("registry-c2"), &Default::default(), false).await;
    assert!(!refused.ok());
    let (status, reason) = cond(&refused, "StorageExists");
    assert_eq!(status, &ConditionStatus::False, "{refused:?}");
    assert!(
        reason.contains("AuthenticationFailed")
            || reason.contains("AuthorizationFailure")
            || reason == "403",
        "{reason}"
    );
    assert!(!format!("{refused:?}").contains(wrong));
    assert!(!format!("{refused:?}").contains("sig="), "no SAS in messages");

    // Without a key: the storage account would be the operator's (not implemented).
    let infra = Infrastructure::default();
    let none = Credentials::default();
    let spec = storage("registry-c3");
    let req = Request {
        spec: &spec,
        applied: &Default::default(),
        infrastructure: &infra,
        credentials: &none,
        source: Default::default(),
        trusted_ca: None,
    };
    let out = p.ensure(&req).await.unwrap();
    assert_eq!(cond(&out, "StorageExists"), (&ConditionStatus::Unknown, "NotProvisioned"));
}
