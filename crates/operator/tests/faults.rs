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

/// The S3 endpoint refusing connections, then throttling (503 SlowDown), from the start of
/// an install for 30 s each: StorageExists says so with one message all along, the
/// retries back off, and the registry
/// converges once the endpoint is back. (`operator-bench reliability` runs every fault
/// for longer, to the 30 s ceiling.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_storage_endpoint_is_reported_once_and_retried_with_backoff() {
    use cluster_image_registry_operator::reliability::storage_faults;
    use testkit::faultproxy::Fault;
    let moto = match testkit::emulators::moto_https() {
        Ok(m) => m,
        Err(e) => {
            testkit::emulators::or_skip("storage faults", Err(e));
            return;
        }
    };
    let faults = [(Fault::Refuse, "Connection refused"), (Fault::SLOW_DOWN, "HTTP 503")];
    for (i, (fault, says)) in faults.into_iter().enumerate() {
        let down = std::time::Duration::from_secs(30);
        let run = storage_faults::run(&moto, fault, down, i).await.unwrap();
        eprintln!("{run:?}");
        assert!(run.converged.is_some(), "not converged after the endpoint came back: {run:?}");
        assert!(run.leaks.is_empty(), "{:?}", run.leaks);
        assert_eq!(run.messages.len(), 1, "one message while down: {:?}", run.messages);
        assert!(!run.messages[0].starts_with("True"), "{:?}", run.messages);
        assert!(run.messages[0].contains(says), "says why: {:?}", run.messages);
        // Backing off: the last wait is the longest, and more than twice the first (passes
        // that events bring while the workload comes up may come between).
        let (first, last) = (run.gaps[0], *run.gaps.last().unwrap());
        assert!(run.gaps.len() >= 5, "retried: {run:?}");
        assert!(run.gaps.iter().all(|g| *g <= last) && last > first * 2, "{:?}", run.gaps);
    }
}
