//! Feature gates, as the reference reads them: the gates of `featuregates.config.openshift.io/
//! cluster` for this operator's release version (`OPERATOR_IMAGE_VERSION`; a snapshot build
//! takes the ClusterVersion's), waited for at start, and a change of them ends the process
//! so that it starts again with the new set. The one gate read is `ImageStreamImportMode`:
//! with it the image config's status says how image streams import manifest lists.

use std::collections::BTreeSet;
use std::time::Duration;

use api::{ClusterVersion, FeatureGate};
use futures::StreamExt as _;
use kube::runtime::{WatchStreamExt as _, watcher};
use kube::{Api, Client};

/// The version a development build carries.
pub const SNAPSHOT: &str = "0.0.1-snapshot";
/// The gate that turns on `imageStreamImportMode` in the image config's status.
pub const IMPORT_MODE: &str = "ImageStreamImportMode";

/// The gates of this release.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Gates {
    pub version: String,
    pub enabled: BTreeSet<String>,
}

impl Gates {
    pub fn import_mode(&self) -> bool {
        self.enabled.contains(IMPORT_MODE)
    }
}

/// The release version whose gates apply: `OPERATOR_IMAGE_VERSION`, or for a snapshot build
/// the ClusterVersion's desired version, else the newest of its history.
pub fn version(operator_image_version: &str, cv: Option<&ClusterVersion>) -> Option<String> {
    if !operator_image_version.is_empty() && operator_image_version != SNAPSHOT {
        return Some(operator_image_version.to_string());
    }
    let status = cv?.status.as_ref()?;
    let desired = status.desired.as_ref().map(|d| d.version.clone()).filter(|v| !v.is_empty());
    desired.or_else(|| status.history.first().map(|h| h.version.clone()).filter(|v| !v.is_empty()))
}

/// The enabled gates of `version`, `None` while the FeatureGate does not list it.
pub fn enabled(fg: &FeatureGate, version: &str) -> Option<BTreeSet<String>> {
    let details = fg.status.as_ref()?.feature_gates.iter().find(|d| d.version == version)?;
    Some(details.enabled.iter().map(|g| g.name.clone()).collect())
}

/// `imageStreamImportMode` for the image config's status when the gate is on: the image
/// config's own setting, else `PreserveOriginal` on a multi-architecture cluster, else
/// `Legacy`.
pub fn import_mode(image: &api::Image, cv: Option<&ClusterVersion>) -> String {
    if !image.spec.image_stream_import_mode.is_empty() {
        return image.spec.image_stream_import_mode.clone();
    }
    let multi = cv
        .and_then(|c| c.status.as_ref())
        .and_then(|s| s.desired.as_ref())
        .is_some_and(|d| d.architecture == "Multi");
    if multi { "PreserveOriginal" } else { "Legacy" }.to_string()
}

/// Whether a 404 says the API server has no such type (a cluster without OpenShift's
/// config API) rather than no such object.
fn no_such_type(e: &kube::Error) -> bool {
    matches!(e, kube::Error::Api(s) if s.code == 404 && s.message.contains("could not find the requested resource"))
}

/// Waits up to `timeout` for the gates of this release. A cluster without the FeatureGate
/// type has no gates (all off).
pub async fn wait(
    client: &Client,
    image_version: &str,
    timeout: Duration,
) -> Result<Gates, String> {
    let fgs: Api<FeatureGate> = Api::all(client.clone());
    let cvs: Api<ClusterVersion> = Api::all(client.clone());
    let deadline = tokio::time::Instant::now() + timeout;
    loop {
        let cv = match cvs.get_opt("version").await {
            Ok(cv) => cv,
            Err(e) if no_such_type(&e) => None,
            Err(e) => {
                return Err(format!(
                    "cannot read clusterversions.config.openshift.io/version: {e}"
                ));
            }
        };
        let Some(version) = version(image_version, cv.as_ref()) else {
            return Err(format!(
                "OPERATOR_IMAGE_VERSION is {image_version:?} and clusterversions.config.openshift.io/version names no version: the feature gates cannot be chosen"
            ));
        };
        let last = match fgs.get_opt("cluster").await {
            Ok(Some(fg)) => match enabled(&fg, &version) {
                Some(enabled) => return Ok(Gates { version, enabled }),
                None => format!("it lists no gates for version {version}"),
            },
            Ok(None) => "it does not exist".to_string(),
            Err(e) if no_such_type(&e) => return Ok(Gates { version, ..Default::default() }),
            Err(e) => e.to_string(),
        };
        if tokio::time::Instant::now() >= deadline {
            return Err(format!(
                "featuregates.config.openshift.io/cluster after {}s: {last}",
                timeout.as_secs()
            ));
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
    }
}

/// Returns when the gates of `gates.version` differ from `gates` (a watch of the
/// FeatureGate `cluster`, by name).
pub async fn changed(client: Client, gates: Gates) -> BTreeSet<String> {
    let fgs: Api<FeatureGate> = Api::all(client);
    let config = watcher::Config::default().fields("metadata.name=cluster");
    let mut events = std::pin::pin!(watcher(fgs, config).default_backoff());
    while let Some(e) = events.next().await {
        let fg = match e {
            Ok(watcher::Event::Apply(fg) | watcher::Event::InitApply(fg)) => fg,
            _ => continue,
        };
        if let Some(now) = enabled(&fg, &gates.version)
            && now != gates.enabled
        {
            return now;
        }
    }
    std::future::pending().await
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn cv(v: serde_json::Value) -> ClusterVersion {
        serde_json::from_value(json!({"metadata": {"name": "version"}, "spec": {}, "status": v}))
            .unwrap()
    }

    #[test]
    fn the_version_is_the_images_else_the_clusters() {
        assert_eq!(version("4.21.0", None).as_deref(), Some("4.21.0"));
        let c = cv(json!({"desired": {"version": "4.21.3"}, "history": [{"version": "4.21.2"}]}));
        assert_eq!(version(SNAPSHOT, Some(&c)).as_deref(), Some("4.21.3"));
        assert_eq!(version("", Some(&c)).as_deref(), Some("4.21.3"));
        let c = cv(json!({"history": [{"version": "4.20.9"}, {"version": "4.20.1"}]}));
        assert_eq!(version(SNAPSHOT, Some(&c)).as_deref(), Some("4.20.9"), "the newest");
        assert_eq!(version(SNAPSHOT, None), None);
    }

    #[test]
    fn gates_per_version_and_the_import_mode() {
        let fg: FeatureGate = serde_json::from_value(json!({"metadata": {"name": "cluster"},
            "spec": {}, "status": {"featureGates": [
                {"version": "4.21.0", "enabled": [{"name": "ImageStreamImportMode"}], "disabled": [{"name": "X"}]},
                {"version": "4.20.0", "enabled": []}]}}))
        .unwrap();
        let g = enabled(&fg, "4.21.0").unwrap();
        assert!(Gates { version: "4.21.0".into(), enabled: g }.import_mode());
        assert_eq!(enabled(&fg, "4.20.0"), Some(BTreeSet::new()));
        assert_eq!(enabled(&fg, "4.22.0"), None, "not listed yet");
        let mut image = api::Image::default();
        assert_eq!(import_mode(&image, None), "Legacy");
        let multi = cv(json!({"desired": {"version": "4.21.0", "architecture": "Multi"}}));
        assert_eq!(import_mode(&image, Some(&multi)), "PreserveOriginal");
        image.spec.image_stream_import_mode = "Legacy".into();
        assert_eq!(import_mode(&image, Some(&multi)), "Legacy", "the image config's own");
    }
}
