//! The short run of the crash trials (`operator-bench reliability` runs 100): the operator
//! binary killed with SIGKILL and restarted in each step, on moto, gcp-storage-emulator
//! and Azurite (`scripts/emulators install`; skipped, saying so, where they are not).

use cluster_image_registry_operator::reliability::crashes::{self, Cloud, Step, Trial};
use testkit::emulators;

/// One kill in each step, on each cloud in turn, the operator's bucket and a user's: after
/// each step one bucket, named by status.storage, none after Removed or the Config's
/// deletion, the user's never deleted, the Deployment written at most twice per install.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_killed_operator_restarts_into_one_bucket_and_no_orphan() {
    let clouds = match crashes::Clouds::start(&Cloud::ALL) {
        Ok(c) => c,
        Err(e) => {
            // Panics where the servers are required (CI); says it skips elsewhere.
            emulators::or_skip("crash trials", Err(e));
            return;
        }
    };
    let bin = std::path::Path::new(env!("CARGO_BIN_EXE_cluster-image-registry-operator"));
    let t = |cloud, users, step, at| Trial { cloud, users, step, at };
    let trials = [
        t(Cloud::Gcp, false, Step::Provisioning, 0.5),
        t(Cloud::Aws, false, Step::Deletion, 0.3),
        t(Cloud::Azure, true, Step::Removed, 0.5),
        t(Cloud::Aws, true, Step::Bootstrap, 0.5),
        t(Cloud::Gcp, true, Step::Removed, 0.2),
    ];
    let figures = crashes::trials(bin, &clouds, &trials).await;
    for v in figures.baselines.iter().chain(&figures.verdicts) {
        eprintln!("{:?}: steps {:.1?}, recovery {:.1?}", v.trial, v.lengths, v.recovery);
    }
    let failed: Vec<String> = figures
        .baselines
        .iter()
        .chain(&figures.verdicts)
        .filter(|v| !v.held())
        .map(|v| format!("{:?}: {}", v.trial, v.problems.join("; ")))
        .collect();
    assert!(failed.is_empty(), "{}", failed.join("\n"));
    assert_eq!(figures.held(), trials.len());
}
