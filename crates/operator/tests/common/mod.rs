//! What the kubectl-driven tests share: finding kubectl, and a subcommand serving the API
//! on loopback for it.
#![allow(dead_code)]

pub mod rbac;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// Writes a self-signed certificate for `name` and its key (PEM), as a service-serving
/// certificate stands in the tests.
pub fn self_signed(cert: &Path, key: &Path, name: &str) {
    let made = rcgen::generate_simple_self_signed(vec![name.to_string()]).unwrap();
    std::fs::write(cert, made.cert.pem()).unwrap();
    std::fs::write(key, made.signing_key.serialize_pem()).unwrap();
}

pub const BIN: &str = env!("CARGO_BIN_EXE_cluster-image-registry-operator");

pub fn kubectl_or_skip(test: &str) -> Option<PathBuf> {
    let found = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join("kubectl"))
        .find(|p| p.is_file());
    if found.is_none() {
        eprintln!("{test}: skipped, kubectl is not installed");
    }
    found
}

/// A subcommand serving the API on loopback, stopped when dropped.
pub struct Served {
    child: Child,
    pub kubeconfig: PathBuf,
    pub kubectl: PathBuf,
    pub dir: testkit::ScratchDir,
}

impl Served {
    /// Starts `args` (with `--kubeconfig` added) and waits for its kubeconfig.
    pub fn start(
        kubectl: PathBuf,
        args: &[&str],
        prepare: impl FnOnce(&Path) -> Vec<String>,
    ) -> Self {
        let dir = testkit::ScratchDir::new("kubectl").unwrap();
        let kubeconfig = dir.join("kubeconfig");
        let extra = prepare(dir.path());
        let child = Command::new(BIN)
            .args(args)
            .args(&extra)
            .arg("--kubeconfig")
            .arg(&kubeconfig)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        let deadline = Instant::now() + Duration::from_secs(60);
        while !kubeconfig.exists() {
            assert!(Instant::now() < deadline, "kubeconfig written");
            std::thread::sleep(Duration::from_millis(20));
        }
        Served { child, kubeconfig, kubectl, dir }
    }

    /// The `apiserver` subcommand with our CRDs and the OpenShift ones it stands in for.
    pub fn apiserver(kubectl: PathBuf) -> Self {
        Served::start(kubectl, &["apiserver", "--simulate-workloads"], |dir| {
            let crds = dir.join("crds");
            std::fs::create_dir_all(&crds).unwrap();
            let mut text = api::schema::crds_yaml();
            for crd in api::schema::openshift_crds() {
                text.push_str("---\n");
                text.push_str(&serde_saphyr::to_string(&crd).unwrap());
            }
            std::fs::write(crds.join("all.yaml"), text).unwrap();
            vec!["--crds".into(), crds.display().to_string()]
        })
    }

    pub fn run(&self, args: &[&str], stdin: Option<&str>) -> Output {
        self.run_with(args, stdin, &[])
    }

    /// kubectl with an editor or other environment set.
    pub fn run_env(&self, args: &[&str], env: &[(&str, &Path)]) -> Output {
        self.run_with(args, None, env)
    }

    pub fn run_with(&self, args: &[&str], stdin: Option<&str>, env: &[(&str, &Path)]) -> Output {
        let mut child = Command::new(&self.kubectl)
            .envs(env.iter().copied())
            .arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        let mut input = child.stdin.take().unwrap();
        std::io::Write::write_all(&mut input, stdin.unwrap_or("").as_bytes()).unwrap();
        drop(input);
        child.wait_with_output().unwrap()
    }

    /// Runs kubectl and returns its standard output; panics with its errors if it fails.
    pub fn ok(&self, args: &[&str]) -> String {
        self.ok_with(args, None)
    }

    pub fn ok_with(&self, args: &[&str], stdin: Option<&str>) -> String {
        let out = self.run(args, stdin);
        let text = String::from_utf8_lossy(&out.stdout).to_string();
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(out.status.success(), "kubectl {args:?} failed: {err}\n{text}");
        text
    }

    /// Runs kubectl, expects it to fail, and returns its standard error.
    pub fn fails(&self, args: &[&str]) -> String {
        let out = self.run(args, None);
        assert!(!out.status.success(), "kubectl {args:?} succeeded");
        String::from_utf8_lossy(&out.stderr).to_string()
    }

    /// Retries `f` until it returns true, for up to 30 s.
    pub fn eventually(&self, what: &str, mut f: impl FnMut(&Self) -> bool) {
        let deadline = Instant::now() + Duration::from_secs(30);
        while !f(self) {
            assert!(Instant::now() < deadline, "timed out: {what}");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
}

impl Drop for Served {
    fn drop(&mut self) {
        let _killed = self.child.kill();
        let _reaped = self.child.wait();
    }
}
