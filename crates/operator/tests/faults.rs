//! The short runs of the API fault and concurrent-edit figures (`operator-bench
//! reliability` runs the full counts), apart from the corpus: a failed assertion here is
//! a panic the corpus's watchdog would count.

/// Through 10 % injected 500/503/429, dropped watches and 50 ms on every request, an
/// install, a storage change, Removed and back converge, and no condition flips that a
/// fault-free run does not flip (the API server's errors are retried, not reported, for a
/// minute).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn api_faults_neither_stop_convergence_nor_flip_conditions() {
    use cluster_image_registry_operator::reliability::faults;
    let baseline = faults::run(false, 7).await;
    assert!(baseline.converged, "the fault-free run: {baseline:?}");
    let faulty = faults::run(true, 7).await;
    assert!(faulty.converged, "{faulty:?}");
    eprintln!("condition flips: {} with faults, {} without", faulty.flips, baseline.flips);
    assert!(faulty.flips <= baseline.flips, "a fault made a condition flip: {faulty:?}");
}

/// A user's edits made while the operator tears down and brings back the registry are
/// all kept.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn user_edits_survive_the_operators_write_backs() {
    let (kept, rounds) = cluster_image_registry_operator::reliability::edits::run(10, 3).await;
    assert_eq!(kept, rounds);
}
