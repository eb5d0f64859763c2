//! Test support for the image registry operator.
//!
//! * [`schema`]: validation of objects against CRD structural schemas, and comparison of
//!   two CRD schemas.
//! * [`shared_dir`] and [`yaml_docs`]: access to the reference data in `../shared`, which
//!   exists beside a CI checkout but not in a user's clone.

pub mod apiserver;
pub mod cel;
pub mod emulators;
pub mod faultproxy;
pub mod field;
pub mod rbac;
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

/// A fresh directory under the system's temporary directory, removed with everything in it
/// when dropped, so test runs leave nothing behind.
#[derive(Debug)]
pub struct ScratchDir(PathBuf);

impl ScratchDir {
    /// `<tmp>/<prefix>-<pid>-<n>`, emptied first if a crashed earlier run left it.
    pub fn new(prefix: &str) -> std::io::Result<Self> {
        static NEXT: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let dir = std::env::temp_dir().join(format!("{prefix}-{}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)?;
        Ok(Self(dir))
    }

    pub fn path(&self) -> &std::path::Path {
        &self.0
    }

    /// A path inside the directory.
    pub fn join(&self, name: impl AsRef<std::path::Path>) -> PathBuf {
        self.0.join(name)
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

#[cfg(test)]
mod tests {
    use super::ScratchDir;

    #[test]
    fn scratch_dirs_are_distinct_and_removed_when_dropped() {
        let a = ScratchDir::new("testkit-scratch").unwrap();
        let b = ScratchDir::new("testkit-scratch").unwrap();
        assert_ne!(a.path(), b.path());
        std::fs::create_dir_all(a.join("x/y")).unwrap();
        std::fs::write(a.join("x/y/file"), "data").unwrap();
        let kept = a.path().to_path_buf();
        drop(a);
        assert!(!kept.exists());
        assert!(b.path().is_dir());
    }
}
