//! The short runs of the API fault and concurrent-edit figures (`operator-bench
//! reliability` runs the full counts), apart from the corpus: a failed assertion here is
//! a panic the corpus's watchdog would count.

/// Through 10 % injected 500/503/429, dropped watches and 50 ms on every request, an
/// install, a storage change, Removed and back converge.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_faults_do_not_keep_the_registry_from_converging() {
    use cluster_image_registry_operator::reliability::faults;
    let baseline = faults::run(false, 7).await;
    assert!(baseline.converged, "the fault-free run: {baseline:?}");
    let faulty = faults::run(true, 7).await;
    assert!(faulty.converged, "{faulty:?}");
    // The flips beyond the fault-free run are a figure (`operator-bench reliability`).
    eprintln!("condition flips: {} with faults, {} without", faulty.flips, baseline.flips);
}

/// A user's edits made while the operator tears down and brings back the registry are
/// all kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_edits_survive_the_operators_write_backs() {
    let (kept, rounds) = cluster_image_registry_operator::reliability::edits::run(10, 3).await;
    assert_eq!(kept, rounds);
}
