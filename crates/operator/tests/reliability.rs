//! The short runs of the reliability figures (`operator-bench reliability` runs the full
//! counts): the bad-input corpus, each input applied to a running operator.

use cluster_image_registry_operator::reliability::corpus;

fn corpus_dir() -> std::path::PathBuf {
    std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/bad-input")
}

/// Every file of the corpus gives a condition with a clear reason and message and an
/// Event (or is refused by the API server itself), with no panic, no delete and no secret
/// value shown anywhere a user looks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_bad_input_is_handled() {
    let cases = corpus::load(&corpus_dir()).unwrap();
    assert!(cases.len() >= 60, "the corpus has {} files", cases.len());
    let only = std::env::var("BAD_INPUT").ok();
    let mut failed = Vec::new();
    for case in cases.iter().filter(|c| only.as_ref().is_none_or(|o| c.name.contains(o.as_str()))) {
        let verdict = corpus::run(case).await;
        if !verdict.handled {
            failed.push(format!("{}: {}", verdict.name, verdict.problems.join("; ")));
        }
    }
    assert!(
        failed.is_empty(),
        "{} of {} not handled:\n{}",
        failed.len(),
        cases.len(),
        failed.join("\n")
    );
}

#[test]
fn leaks_name_the_place_never_the_value() {
    let secrets = vec!["s3cr3t-value".to_string(), "abc".to_string()];
    let texts = vec![
        ("Event X".to_string(), "failed with key s3cr3t-value".to_string()),
        ("log".to_string(), "abc is too short to count".to_string()),
    ];
    let found = cluster_image_registry_operator::reliability::leaks(&secrets, &texts);
    assert_eq!(found, ["secret value #0 shown in Event X"]);
}
