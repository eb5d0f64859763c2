//! `image_registry_image_stream_tags_total`, as the reference's metrics controller counts
//! it once an hour: every tag in the status of every ImageStream of the cluster, by
//! `source` (`imported` when the stream's spec names the tag, else `pushed`) and `location`
//! (`openshift` for namespaces whose name starts with it, else `other`). A cluster without
//! the ImageStream type has no figure.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use serde_json::Value;

/// How often the streams are counted (the reference's resync).
pub const EVERY: Duration = Duration::from_secs(3600);

/// Tag counts by (source, location).
pub type Counts = BTreeMap<(&'static str, &'static str), u64>;

/// The counts of one page of ImageStreams, added to `counts`.
pub fn count(streams: &[Value], counts: &mut Counts) {
    for s in streams {
        let ns = s.pointer("/metadata/namespace").and_then(Value::as_str).unwrap_or_default();
        let location = if ns.starts_with("openshift") { "openshift" } else { "other" };
        let names = |path: &str, key: &str| -> BTreeSet<String> {
            s.pointer(path)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(|t| t.get(key).and_then(Value::as_str).map(str::to_string))
                .collect()
        };
        let spec = names("/spec/tags", "name");
        for tag in names("/status/tags", "tag") {
            let source = if spec.contains(&tag) { "imported" } else { "pushed" };
            *counts.entry((source, location)).or_default() += 1;
        }
    }
}

/// Counts every ImageStream of the cluster (500 a page); `None` when the type is not served.
pub async fn count_all(client: &kube::Client) -> Result<Option<Counts>, kube::Error> {
    let r = ApiResource {
        group: "image.openshift.io".into(),
        version: "v1".into(),
        api_version: "image.openshift.io/v1".into(),
        kind: "ImageStream".into(),
        plural: "imagestreams".into(),
    };
    let api: Api<DynamicObject> = Api::all_with(client.clone(), &r);
    let mut counts = Counts::new();
    let mut params = ListParams::default().limit(500);
    loop {
        let page = match api.list(&params).await {
            Ok(p) => p,
            Err(kube::Error::Api(e)) if e.code == 404 => return Ok(None),
            Err(e) => return Err(e),
        };
        let values: Vec<Value> =
            page.items.iter().filter_map(|o| serde_json::to_value(o).ok()).collect();
        count(&values, &mut counts);
        match page.metadata.continue_.filter(|c| !c.is_empty()) {
            Some(c) => params = params.continue_token(&c),
            None => return Ok(Some(counts)),
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn tags_by_source_and_location() {
        let streams = [
            json!({"metadata": {"namespace": "openshift", "name": "cli"},
                "spec": {"tags": [{"name": "latest"}]},
                "status": {"tags": [{"tag": "latest"}, {"tag": "pushed-1"}]}}),
            json!({"metadata": {"namespace": "openshift-monitoring", "name": "x"},
                "status": {"tags": [{"tag": "v1"}]}}),
            json!({"metadata": {"namespace": "team-a", "name": "app"},
                "spec": {"tags": [{"name": "v1"}, {"name": "only-in-spec"}]},
                "status": {"tags": [{"tag": "v1"}, {"tag": "v2"}, {"tag": "v3"}]}}),
        ];
        let mut counts = Counts::new();
        count(&streams, &mut counts);
        assert_eq!(
            counts,
            Counts::from([
                (("imported", "openshift"), 1),
                (("pushed", "openshift"), 2),
                (("imported", "other"), 1),
                (("pushed", "other"), 2),
            ])
        );
    }
}
