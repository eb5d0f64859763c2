//! `cluster-image-registry-operator apiserver`: serves until SIGTERM, with a kubeconfig
//! that kube and kubectl can use, and the CRDs given with `--crds`.

use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

#[test]
fn serves_until_sigterm() {
    let dir = testkit::ScratchDir::new("apiserver-cmd").unwrap();
    let crds = dir.join("crds");
    std::fs::create_dir_all(&crds).unwrap();
    std::fs::write(crds.join("ours.yaml"), api::schema::crds_yaml()).unwrap();
    let kubeconfig = dir.join("kubeconfig");
    let _ = std::fs::remove_file(&kubeconfig);
    let mut child = Command::new(env!("CARGO_BIN_EXE_cluster-image-registry-operator"))
        .args(["apiserver", "--listen", "127.0.0.1:0", "--kubeconfig"])
        .arg(&kubeconfig)
        .arg("--crds")
        .arg(&crds)
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let deadline = Instant::now() + Duration::from_secs(10);
    while !kubeconfig.exists() {
        assert!(Instant::now() < deadline, "kubeconfig written");
        std::thread::sleep(Duration::from_millis(20));
    }
    let text = std::fs::read_to_string(&kubeconfig).unwrap();
    let server = text.lines().find_map(|l| l.trim().strip_prefix("server: ")).unwrap().to_string();
    let rt = tokio::runtime::Runtime::new().unwrap();
    rt.block_on(async {
        let kc = kube::config::Kubeconfig::read_from(&kubeconfig).unwrap();
        let cfg = kube::Config::from_custom_kubeconfig(kc, &Default::default()).await.unwrap();
        let client = kube::Client::try_from(cfg).unwrap();
        let configs: kube::Api<api::Config> = kube::Api::all(client);
        let list = configs.list(&Default::default()).await.expect("our CRDs are served");
        assert!(list.items.is_empty());
    });
    assert!(server.starts_with("http://127.0.0.1:"), "{server}");
    let started = Instant::now();
    let status = Command::new("kill").arg("-TERM").arg(child.id().to_string()).status().unwrap();
    assert!(status.success());
    let code = loop {
        if let Some(s) = child.try_wait().unwrap() {
            break s;
        }
        assert!(started.elapsed() < Duration::from_secs(10), "stops within 10 s of SIGTERM");
        std::thread::sleep(Duration::from_millis(20));
    };
    assert!(code.success(), "{code:?}");
    let mut err = String::new();
    std::io::Read::read_to_string(child.stderr.as_mut().unwrap(), &mut err).unwrap();
    assert!(
        err.contains("registered 2 CRDs") && err.contains("serving the Kubernetes API on"),
        "{err}"
    );
}
