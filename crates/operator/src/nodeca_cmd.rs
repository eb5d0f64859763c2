//! `node-ca-sync`: what the node-ca DaemonSet runs on every node. It copies each CA of the
//! mounted `image-registry-certificates` ConfigMap to `<certs.d>/<host:port>/ca.crt` (the
//! last `..` of a key stands for `:`), so that the container runtime trusts the registry,
//! and removes directories whose CA is gone.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::time::Duration;

/// Arguments of `node-ca-sync`.
#[derive(Debug, Clone, clap::Args)]
pub struct NodeCaArgs {
    /// Where the ConfigMap is mounted.
    #[arg(long, default_value = "/tmp/serviceca")]
    pub source: PathBuf,
    /// The container runtime's certificate directory.
    #[arg(long, default_value = "/etc/docker/certs.d")]
    pub target: PathBuf,
    /// Seconds between two passes.
    #[arg(long, default_value_t = 60)]
    pub interval: u64,
    /// One pass, then exit.
    #[arg(long)]
    pub once: bool,
}

/// What one pass did.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Report {
    pub copied: Vec<String>,
    pub skipped: Vec<String>,
    pub trimmed: Vec<String>,
}

/// `host..port` becomes `host:port` (only the last `..`).
pub fn directory_name(key: &str) -> String {
    match key.rfind("..") {
        Some(i) => format!("{}:{}", &key[..i], &key[i + 2..]),
        None => key.to_string(),
    }
}

fn newer(dst: &Path, src: &Path) -> bool {
    let m = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    matches!((m(dst), m(src)), (Some(d), Some(s)) if d >= s)
}

/// One pass.
pub fn sync_once(source: &Path, target: &Path) -> std::io::Result<Report> {
    let mut report = Report::default();
    let mut wanted = BTreeSet::new();
    std::fs::create_dir_all(target)?;
    for entry in std::fs::read_dir(source)? {
        let entry = entry?;
        let key = entry.file_name().to_string_lossy().into_owned();
        // A mounted ConfigMap also holds `..data` and timestamped directories.
        if key.starts_with("..") || !entry.path().is_file() {
            continue;
        }
        let dir = directory_name(&key);
        wanted.insert(dir.clone());
        let dst_dir = target.join(&dir);
        let dst = dst_dir.join("ca.crt");
        if newer(&dst, &entry.path()) && std::fs::read(&dst)? == std::fs::read(entry.path())? {
            report.skipped.push(dir);
            continue;
        }
        std::fs::create_dir_all(&dst_dir)?;
        let tmp = dst_dir.join(".ca.crt.tmp");
        std::fs::copy(entry.path(), &tmp)?;
        std::fs::rename(&tmp, &dst)?;
        report.copied.push(dir);
    }
    for entry in std::fs::read_dir(target)? {
        let entry = entry?;
        let name = entry.file_name().to_string_lossy().into_owned();
        if entry.path().is_dir() && !wanted.contains(&name) && entry.path().join("ca.crt").exists()
        {
            std::fs::remove_dir_all(entry.path())?;
            report.trimmed.push(name);
        }
    }
    report.copied.sort();
    report.skipped.sort();
    report.trimmed.sort();
    Ok(report)
}

/// Runs passes until SIGTERM.
pub async fn run(args: NodeCaArgs) -> Result<(), String> {
    let shutdown = crate::signals::shutdown();
    tokio::pin!(shutdown);
    loop {
        match sync_once(&args.source, &args.target) {
            Ok(r) => eprintln!(
                "copied: {:?} skipped: {:?} trimmed: {:?}",
                r.copied, r.skipped, r.trimmed
            ),
            Err(e) => eprintln!("node-ca sync failed: {e}"),
        }
        if args.once {
            return Ok(());
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(args.interval)) => {}
            _ = &mut shutdown => {
                eprintln!("shutting down node-ca");
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        assert_eq!(
            directory_name("image-registry.openshift-image-registry.svc..5000"),
            "image-registry.openshift-image-registry.svc:5000"
        );
        assert_eq!(directory_name("a..b..443"), "a..b:443");
        assert_eq!(directory_name("myregistry.example.com"), "myregistry.example.com");
    }

    #[test]
    fn copies_skips_and_trims() {
        let root = std::env::temp_dir().join(format!("node-ca-{}", std::process::id()));
        let (src, dst) = (root.join("src"), root.join("dst"));
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(src.join("..2026_11_24")).unwrap();
        std::fs::write(src.join("registry.svc..5000"), "CA1").unwrap();
        std::fs::write(src.join("..data"), "ignored").unwrap();
        std::fs::create_dir_all(dst.join("old:5000")).unwrap();
        std::fs::write(dst.join("old:5000").join("ca.crt"), "OLD").unwrap();
        std::fs::create_dir_all(dst.join("unrelated")).unwrap();
        let r = sync_once(&src, &dst).unwrap();
        assert_eq!(r.copied, ["registry.svc:5000"]);
        assert_eq!(r.trimmed, ["old:5000"]);
        assert_eq!(std::fs::read_to_string(dst.join("registry.svc:5000/ca.crt")).unwrap(), "CA1");
        assert!(dst.join("unrelated").exists(), "directories without a ca.crt are not ours");
        let r = sync_once(&src, &dst).unwrap();
        assert_eq!((r.copied.len(), r.skipped.len()), (0, 1));
        std::fs::write(src.join("registry.svc..5000"), "CA2").unwrap();
        let r = sync_once(&src, &dst).unwrap();
        assert_eq!(r.copied, ["registry.svc:5000"]);
        assert_eq!(std::fs::read_to_string(dst.join("registry.svc:5000/ca.crt")).unwrap(), "CA2");
        std::fs::remove_dir_all(&root).unwrap();
    }
}
