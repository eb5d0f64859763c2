//! Test support for the image registry operator.
//!
//! * [`schema`]: validation of objects against CRD structural schemas, and comparison of
//!   two CRD schemas.
//! * [`shared_dir`] and [`yaml_docs`]: access to the reference data in `../shared`, which
//!   exists beside a CI checkout but not in a user's clone.

pub mod apiserver;
pub mod emulators;
pub mod schema;

use std::path::PathBuf;

use serde_json::Value;

/// `../shared` beside the repository, when it exists. Tests that need it print why they
/// skip and pass when it is absent (a user's clone has no `../shared`).
pub fn shared_dir() -> Option<PathBuf> {
    let root = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../../../shared");
    let root = root.canonicalize().ok()?;
    root.join("crds").is_dir().then_some(root)
}

/// Like [`shared_dir`], printing a skip notice naming `test` when it is absent.
pub fn shared_dir_or_skip(test: &str) -> Option<PathBuf> {
    let dir = shared_dir();
    if dir.is_none() {
        eprintln!("{test}: skipped: ../shared (reference data) is not beside this checkout");
    }
    dir
}

/// Every document of a YAML stream, as JSON values (empty documents dropped).
pub fn yaml_docs(text: &str) -> Result<Vec<Value>, String> {
    let docs: Vec<Value> = serde_saphyr::from_multiple(text).map_err(|e| e.to_string())?;
    Ok(docs.into_iter().filter(|d| !d.is_null()).collect())
}
