//! Storage servers on loopback for tests and `local` mode: moto (S3), Azurite (Azure Blob)
//! and gcp-storage-emulator (GCS), installed by `scripts/emulators install` into `.tools/`
//! of the checkout (or the directory named by `IMAGEREGISTRY_TOOLS`).
//!
//! Each [`Emulator`] is its own process on a free port with in-memory state, stopped when
//! dropped, so tests do not share buckets.

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// A storage server this process started.
#[derive(Debug)]
pub struct Emulator {
    child: Child,
    /// Helper processes (Swift's account, container and object servers, memcached).
    helpers: Vec<Child>,
    /// A scratch directory removed with the emulator.
    dir: Option<PathBuf>,
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    pub port: u16,
    pub name: &'static str,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        // The whole process group: a server's workers (proxy.py forks some) go with it.
        let group = format!("-{}", self.child.id());
        let _signalled = Command::new("kill").args(["-KILL", "--", &group]).status();
        for c in std::iter::once(&mut self.child).chain(self.helpers.iter_mut()) {
            let _ = c.kill();
            let _ = c.wait();
        }
        let _ = std::fs::remove_file(self.log());
        if let Some(d) = &self.dir {
            let _ = std::fs::remove_dir_all(d);
        }
    }
}

impl Emulator {
    /// The file the server logs to while it runs.
    pub fn log(&self) -> std::path::PathBuf {
        std::env::temp_dir().join(format!("imageregistry-{}-{}.log", self.name, self.port))
    }
}

/// Why an emulator could not be started.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unavailable {
    /// Not installed: the message says how to install it.
    Missing(String),
    /// Installed but it did not start.
    Failed(String),
}

impl std::fmt::Display for Unavailable {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Unavailable::Missing(m) | Unavailable::Failed(m) => f.write_str(m),
        }
    }
}

/// How to install what is missing, with what that installer needs for this server.
fn install_hint(needs: &str) -> String {
    format!("run `scripts/emulators install` in the checkout ({needs})")
}

/// What the installer needs for the Python servers (moto, gcp-storage-emulator).
const NEEDS_PYTHON: &str = "it needs Python 3 with venv, and pip's access to PyPI";

/// Where the installed tools are: `IMAGEREGISTRY_TOOLS`, else the first `.tools` directory
/// above the current directory, the running executable or this crate's source.
pub fn tools_dir() -> Option<PathBuf> {
    if let Some(d) = std::env::var_os("IMAGEREGISTRY_TOOLS") {
        return Some(PathBuf::from(d));
    }
    let mut starts = Vec::new();
    if let Ok(d) = std::env::current_dir() {
        starts.push(d);
    }
    if let Ok(e) = std::env::current_exe() {
        starts.push(e);
    }
    starts.push(PathBuf::from(env!("CARGO_MANIFEST_DIR")));
    starts.iter().flat_map(|s| s.ancestors()).map(|a| a.join(".tools")).find(|d| d.is_dir())
}

fn find(relative: &str, program: &str, needs: &str) -> Result<PathBuf, Unavailable> {
    if let Some(p) = tools_dir().map(|d| d.join(relative)).filter(|p| p.is_file()) {
        return Ok(p);
    }
    if let Some(p) = std::env::var_os("PATH")
        .iter()
        .flat_map(std::env::split_paths)
        .map(|d| d.join(program))
        .find(|p| p.is_file())
    {
        return Ok(p);
    }
    Err(Unavailable::Missing(format!("{program} is not installed: {}", install_hint(needs))))
}

/// A port nothing listens on, and that this process has not handed out before: the port is
/// free again once the probe closes, so two servers started at once by parallel tests could
/// otherwise be given the same one, and one would lose the bind (and the test using it, its
/// server, when the other test stopped the survivor).
fn free_port() -> Result<u16, Unavailable> {
    static GIVEN: std::sync::Mutex<Vec<u16>> = std::sync::Mutex::new(Vec::new());
    for _ in 0..100 {
        let port = TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .map_err(|e| Unavailable::Failed(format!("no free port on 127.0.0.1: {e}")))?;
        let mut given = GIVEN.lock().expect("ports");
        if !given.contains(&port) {
            given.push(port);
            return Ok(port);
        }
    }
    Err(Unavailable::Failed("no free port on 127.0.0.1 not handed out already".into()))
}

fn start(
    name: &'static str,
    program: &Path,
    args: &[String],
    env: &[(&str, &str)],
    port: u16,
) -> Result<Emulator, Unavailable> {
    // Its log goes to a file: a pipe nobody reads would fill up and stop the server.
    let log = std::env::temp_dir().join(format!("imageregistry-{name}-{port}.log"));
    let file = std::fs::File::create(&log)
        .map_err(|e| Unavailable::Failed(format!("{name}: cannot write {}: {e}", log.display())))?;
    let mut cmd = Command::new(program);
    cmd.args(args).stdin(Stdio::null()).stdout(Stdio::null()).stderr(file);
    // A group of its own, which Drop ends whole.
    std::os::unix::process::CommandExt::process_group(&mut cmd, 0);
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().map_err(|e| {
        Unavailable::Failed(format!("{name}: cannot start {}: {e}", program.display()))
    })?;
    let mut emulator = Emulator {
        child,
        helpers: Vec::new(),
        dir: None,
        endpoint: format!("http://127.0.0.1:{port}"),
        port,
        name,
    };
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        if TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(emulator);
        }
        if let Ok(Some(status)) = emulator.child.try_wait() {
            let err = std::fs::read_to_string(&log).unwrap_or_default();
            return Err(Unavailable::Failed(format!(
                "{name} exited with {status}: {}",
                err.lines().last().unwrap_or_default()
            )));
        }
        if Instant::now() > deadline {
            return Err(Unavailable::Failed(format!(
                "{name} did not listen on port {port} within 30 s"
            )));
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// moto's S3 server; it accepts any credentials.
pub fn moto() -> Result<Emulator, Unavailable> {
    moto_with(&[])
}

/// moto with environment settings, e.g. `INITIAL_NO_AUTH_ACTION_COUNT=0` to check
/// credentials (unknown access keys are then refused with `InvalidAccessKeyId`).
pub fn moto_with(env: &[(&str, &str)]) -> Result<Emulator, Unavailable> {
    let program = find("venv/bin/moto_server", "moto_server", NEEDS_PYTHON)?;
    let port = free_port()?;
    start(
        "moto",
        &program,
        &["-H".into(), "127.0.0.1".into(), "-p".into(), port.to_string()],
        env,
        port,
    )
}

/// moto over HTTPS with the given certificate and key (PEM files); the endpoint is
/// `https://127.0.0.1:PORT`.
pub fn moto_tls(cert: &Path, key: &Path) -> Result<Emulator, Unavailable> {
    let program = find("venv/bin/moto_server", "moto_server", NEEDS_PYTHON)?;
    let port = free_port()?;
    let args = [
        "-H".to_string(),
        "127.0.0.1".into(),
        "-p".into(),
        port.to_string(),
        "-c".into(),
        cert.display().to_string(),
        "-k".into(),
        key.display().to_string(),
    ];
    let mut e = start("moto", &program, &args, &[], port)?;
    e.endpoint = format!("https://127.0.0.1:{port}");
    Ok(e)
}

/// A storage server over HTTPS, with the certificate it was given.
pub struct Https {
    pub emulator: Emulator,
    /// The server's self-signed certificate (for 127.0.0.1), PEM: what a client trusts.
    pub cert_pem: String,
    pub key_pem: String,
}

/// moto over HTTPS with a certificate made here for 127.0.0.1, as an AWS cluster's S3
/// endpoint must be: openshift/api refuses an Infrastructure service endpoint that is
/// not `https://`. The cluster trusts it through its cloud CA bundle.
pub fn moto_https() -> Result<Https, Unavailable> {
    let failed = |e: String| Unavailable::Failed(format!("moto over HTTPS: {e}"));
    let cert = rcgen::generate_simple_self_signed(vec!["127.0.0.1".to_string()])
        .map_err(|e| failed(e.to_string()))?;
    let (cert_pem, key_pem) = (cert.cert.pem(), cert.signing_key.serialize_pem());
    let dir = std::env::temp_dir().join(format!(
        "imageregistry-moto-https-{}-{}",
        std::process::id(),
        free_port()?
    ));
    std::fs::create_dir_all(&dir).map_err(|e| failed(e.to_string()))?;
    let (c, k) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&c, &cert_pem).map_err(|e| failed(e.to_string()))?;
    std::fs::write(&k, &key_pem).map_err(|e| failed(e.to_string()))?;
    let mut emulator = moto_tls(&c, &k)?;
    emulator.dir = Some(dir);
    Ok(Https { emulator, cert_pem, key_pem })
}

/// proxy.py, a forward proxy (plain HTTP forwarding and `CONNECT`), for the tests of the
/// cluster proxy; [`Emulator::log`] has a line per request it forwarded (`HEAD
/// 127.0.0.1:PORT/...`). The endpoint is `http://127.0.0.1:PORT`, the value of
/// `HTTP_PROXY`/`HTTPS_PROXY`.
pub fn forward_proxy() -> Result<Emulator, Unavailable> {
    let program = find("venv/bin/proxy", "proxy.py", NEEDS_PYTHON)?;
    let port = free_port()?;
    let args = ["--hostname", "127.0.0.1", "--port", &port.to_string(), "--num-workers", "2"]
        .map(String::from);
    start("proxy", &program, &args, &[], port)
}

/// gcp-storage-emulator (GCS JSON API), in memory.
pub fn gcs() -> Result<Emulator, Unavailable> {
    let program = find("venv/bin/gcp-storage-emulator", "gcp-storage-emulator", NEEDS_PYTHON)?;
    let port = free_port()?;
    let args =
        ["start", "-H", "127.0.0.1", "--port", &port.to_string(), "--in-memory"].map(String::from);
    start("gcp-storage-emulator", &program, &args, &[], port)
}

/// Azurite's Blob service, in memory; the account is `devstoreaccount1`.
pub fn azurite() -> Result<Emulator, Unavailable> {
    let program = find(
        "node/node_modules/.bin/azurite-blob",
        "azurite-blob",
        "it needs npm, and its access to the npm registry",
    )?;
    let port = free_port()?;
    let args = [
        "--blobHost",
        "127.0.0.1",
        "--blobPort",
        &port.to_string(),
        "--loose",
        "--skipApiVersionCheck",
        "--disableTelemetry",
        "--inMemoryPersistence",
    ]
    .map(String::from);
    start("azurite", &program, &args, &[], port)
}

/// OpenStack Swift from Debian's packages, one node on loopback in a scratch directory:
/// account, container and object servers, memcached, and a proxy with tempauth (user
/// `test:tester`, key `testing`; auth URL `<endpoint>/auth/v1.0`).
pub fn swift() -> Result<Emulator, Unavailable> {
    swift_serving(None)
}

/// [`swift`] with its proxy on HTTPS, serving the certificate `cert` (key `key`, PEM files);
/// the endpoint is `https://127.0.0.1:PORT`.
pub fn swift_tls(cert: &Path, key: &Path) -> Result<Emulator, Unavailable> {
    swift_serving(Some((cert, key)))
}

fn swift_serving(tls: Option<(&Path, &Path)>) -> Result<Emulator, Unavailable> {
    let proxy = Path::new("/usr/bin/swift-proxy-server");
    let memcached = Path::new("/usr/bin/memcached");
    if !proxy.is_file() || !memcached.is_file() {
        return Err(Unavailable::Missing(format!(
            "OpenStack Swift (Debian packages swift-proxy, swift-account, swift-container, swift-object, memcached) is not installed: {}",
            install_hint("as root: it installs them with apt-get")
        )));
    }
    let [account, container, object, cache, port] =
        [free_port()?, free_port()?, free_port()?, free_port()?, free_port()?];
    let ports = SwiftPorts { account, container, object, cache, proxy: port };
    let dir = std::env::temp_dir().join(format!("imageregistry-swift-{port}"));
    swift_configure(&dir, &ports, tls)?;
    let d = dir.display();
    let env = [("SWIFT_CONF_FILE", format!("{d}/swift.conf"))];
    let env_ref: Vec<(&str, &str)> = env.iter().map(|(k, v)| (*k, v.as_str())).collect();
    let helpers = swift_helpers(&dir, cache, &env_ref)?;
    let conf = format!("{d}/proxy-server.conf");
    let mut e = match start("swift", proxy, &[conf], &env_ref, port) {
        Ok(e) => e,
        Err(err) => {
            for mut h in helpers {
                let _ = h.kill();
                let _ = h.wait();
            }
            let _ = std::fs::remove_dir_all(&dir);
            return Err(err);
        }
    };
    for p in [account, container, object, cache] {
        let deadline = Instant::now() + Duration::from_secs(30);
        while TcpStream::connect(("127.0.0.1", p)).is_err() && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(50));
        }
    }
    e.helpers = helpers;
    e.dir = Some(dir);
    if tls.is_some() {
        e.endpoint = format!("https://127.0.0.1:{port}");
    }
    Ok(e)
}

/// The loopback ports of a Swift node's processes.
struct SwiftPorts {
    account: u16,
    container: u16,
    object: u16,
    cache: u16,
    proxy: u16,
}

/// A Swift setup step that failed.
fn swift_failed(what: &str, e: std::io::Error) -> Unavailable {
    Unavailable::Failed(format!("swift: {what}: {e}"))
}

/// Writes a Swift node's configuration into `dir`: swift.conf, the account, container
/// and object servers' configs and rings, and the proxy's config.
fn swift_configure(
    dir: &Path,
    ports: &SwiftPorts,
    tls: Option<(&Path, &Path)>,
) -> Result<(), Unavailable> {
    let failed = swift_failed;
    std::fs::create_dir_all(dir.join("devices/d1")).map_err(|e| failed("scratch directory", e))?;
    let d = dir.display();
    std::fs::write(
        dir.join("swift.conf"),
        "[swift-hash]\nswift_hash_path_suffix = imageregistry\nswift_hash_path_prefix = local\n[storage-policy:0]\nname = Policy-0\ndefault = yes\n",
    )
    .map_err(|e| failed("swift.conf", e))?;
    let common = format!(
        "[DEFAULT]\nbind_ip = 127.0.0.1\nworkers = 0\nmount_check = false\ndisable_fallocate = true\ndevices = {d}/devices\nswift_dir = {d}\nlog_level = WARNING\n"
    );
    for (kind, p) in
        [("account", ports.account), ("container", ports.container), ("object", ports.object)]
    {
        std::fs::write(
            dir.join(format!("{kind}-server.conf")),
            format!("{common}bind_port = {p}\n[pipeline:main]\npipeline = {kind}-server\n[app:{kind}-server]\nuse = egg:swift#{kind}\n"),
        )
        .map_err(|e| failed("server config", e))?;
        swift_ring(dir, kind, p)?;
    }
    let (port, cache) = (ports.proxy, ports.cache);
    let tls = tls
        .map(|(c, k)| format!("cert_file = {}\nkey_file = {}\n", c.display(), k.display()))
        .unwrap_or_default();
    std::fs::write(
        dir.join("proxy-server.conf"),
        format!(
            "{common}{tls}bind_port = {port}\n[pipeline:main]\npipeline = catch_errors cache tempauth bulk proxy-server\n[app:proxy-server]\nuse = egg:swift#proxy\naccount_autocreate = true\n[filter:tempauth]\nuse = egg:swift#tempauth\nuser_test_tester = testing .admin\n[filter:cache]\nuse = egg:swift#memcache\nmemcache_servers = 127.0.0.1:{cache}\n[filter:catch_errors]\nuse = egg:swift#catch_errors\n[filter:bulk]\nuse = egg:swift#bulk\n"
        ),
    )
    .map_err(|e| failed("proxy config", e))?;
    Ok(())
}

/// Builds the one-device ring of the `kind` server (listening on `port`) in `dir`.
fn swift_ring(dir: &Path, kind: &str, port: u16) -> Result<(), Unavailable> {
    for args in [
        vec![format!("{kind}.builder"), "create".into(), "8".into(), "1".into(), "1".into()],
        vec![
            format!("{kind}.builder"),
            "add".into(),
            format!("r1z1-127.0.0.1:{port}/d1"),
            "100".into(),
        ],
        vec![format!("{kind}.builder"), "rebalance".into()],
    ] {
        let status = Command::new("swift-ring-builder")
            .args(&args)
            .current_dir(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .status()
            .map_err(|e| swift_failed("swift-ring-builder", e))?;
        // rebalance exits 1 with a warning on a one-device ring; the ring is written.
        if !status.success() && args[1] != "rebalance" {
            return Err(Unavailable::Failed(format!("swift-ring-builder {args:?} failed")));
        }
    }
    Ok(())
}

/// Starts memcached (on `cache`) and the account, container and object servers of the
/// node configured in `dir`.
fn swift_helpers(dir: &Path, cache: u16, env: &[(&str, &str)]) -> Result<Vec<Child>, Unavailable> {
    let d = dir.display();
    let spawn = |program: &str, args: Vec<String>| {
        Command::new(program)
            .args(args)
            .envs(env.iter().copied())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .map_err(|e| swift_failed(program, e))
    };
    let mut helpers = Vec::new();
    helpers.push(spawn(
        "memcached",
        vec![
            "-l".into(),
            "127.0.0.1".into(),
            "-p".into(),
            cache.to_string(),
            "-U".into(),
            "0".into(),
            "-u".into(),
            "root".into(),
        ],
    )?);
    for kind in ["account", "container", "object"] {
        helpers
            .push(spawn(&format!("swift-{kind}-server"), vec![format!("{d}/{kind}-server.conf")])?);
    }
    Ok(helpers)
}

/// For tests: the emulator, or `None` after printing why the test skips. Under `.ci/run`
/// (`IMAGEREGISTRY_REQUIRE_EMULATORS` set) or CI (`CI` set) a missing emulator fails the
/// test instead: they install them.
pub fn or_skip(test: &str, r: Result<Emulator, Unavailable>) -> Option<Emulator> {
    let required = std::env::var_os("IMAGEREGISTRY_REQUIRE_EMULATORS").is_some()
        || std::env::var_os("CI").is_some();
    match r {
        Ok(e) => Some(e),
        Err(Unavailable::Missing(m)) if !required => {
            eprintln!("{test}: skipped: {m}");
            None
        }
        Err(e) => panic!("{test}: {e}"),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_server_says_what_its_installer_needs() {
        let missing = find("nowhere/none", "no-such-storage-server", NEEDS_PYTHON).unwrap_err();
        let text = missing.to_string();
        assert!(text.starts_with("no-such-storage-server is not installed"), "{text}");
        assert!(text.contains("scripts/emulators install") && text.contains("Python 3"), "{text}");
    }
}
