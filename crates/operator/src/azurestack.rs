//! The reference's Azure Stack Hub controller: the cloud's endpoints, which the cluster
//! keeps in `openshift-config/cloud-provider-config` (key `endpoints`), written to the
//! file `AZURE_ENVIRONMENT_FILEPATH` names (the Azure SDK reads a custom cloud from it), and
//! the file removed when the key is empty or gone. It runs on every platform; without the
//! variable it fails, and the Config says so (`AzureStackCloudControllerDegraded`).

use std::path::Path;

/// The config map and key the endpoints come from.
pub const CONFIG_MAP: &str = "cloud-provider-config";
pub const KEY: &str = "endpoints";

/// Makes `path` hold `endpoints` (written through a temporary file and a rename, so a
/// reader never sees half of it), or removes it when there are none. Returns whether it
/// changed the file; an error says what failed.
pub fn sync_file(path: Option<&Path>, endpoints: Option<&str>) -> Result<bool, String> {
    let Some(path) = path else {
        return Err("AZURE_ENVIRONMENT_FILEPATH is not set".into());
    };
    let endpoints = endpoints.filter(|e| !e.is_empty());
    let current = std::fs::read_to_string(path).ok();
    match endpoints {
        Some(e) if current.as_deref() == Some(e) => Ok(false),
        Some(e) => {
            let tmp = path.with_extension("tmp");
            std::fs::write(&tmp, e)
                .and_then(|()| std::fs::rename(&tmp, path))
                .map_err(|err| format!("cannot write {}: {err}", path.display()))?;
            Ok(true)
        }
        None if current.is_some() => std::fs::remove_file(path)
            .map(|()| true)
            .map_err(|err| format!("cannot remove {}: {err}", path.display())),
        None => Ok(false),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_file_follows_the_config_map() {
        let dir = testkit::ScratchDir::new("azurestack").unwrap();
        let file = dir.join("azurestackcloud.json");
        assert_eq!(sync_file(Some(&file), None), Ok(false), "nothing to write, nothing there");
        assert_eq!(sync_file(Some(&file), Some(r#"{"name": "AzureStack"}"#)), Ok(true));
        assert_eq!(std::fs::read_to_string(&file).unwrap(), r#"{"name": "AzureStack"}"#);
        assert_eq!(sync_file(Some(&file), Some(r#"{"name": "AzureStack"}"#)), Ok(false));
        assert_eq!(sync_file(Some(&file), Some("")), Ok(true), "an empty key removes it");
        assert!(!file.exists());
        let e = sync_file(None, Some("x")).unwrap_err();
        assert!(e.contains("AZURE_ENVIRONMENT_FILEPATH"), "{e}");
        let e = sync_file(Some(&dir.join("no/such/dir/f.json")), Some("x")).unwrap_err();
        assert!(e.contains("cannot write"), "{e}");
    }
}
