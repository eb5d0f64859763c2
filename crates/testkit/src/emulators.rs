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
    /// `http://127.0.0.1:PORT`
    pub endpoint: String,
    pub port: u16,
    pub name: &'static str,
}

impl Drop for Emulator {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_file(self.log());
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

const INSTALL_HINT: &str =
    "run `scripts/emulators install` in the checkout (Python 3 with venv, and npm)";

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

fn find(relative: &str, program: &str) -> Result<PathBuf, Unavailable> {
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
    Err(Unavailable::Missing(format!("{program} is not installed: {INSTALL_HINT}")))
}

fn free_port() -> Result<u16, Unavailable> {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .map_err(|e| Unavailable::Failed(format!("no free port on 127.0.0.1: {e}")))
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
    for (k, v) in env {
        cmd.env(k, v);
    }
    let child = cmd.spawn().map_err(|e| {
        Unavailable::Failed(format!("{name}: cannot start {}: {e}", program.display()))
    })?;
    let mut emulator = Emulator { child, endpoint: format!("http://127.0.0.1:{port}"), port, name };
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
    let program = find("venv/bin/moto_server", "moto_server")?;
    let port = free_port()?;
    start(
        "moto",
        &program,
        &["-H".into(), "127.0.0.1".into(), "-p".into(), port.to_string()],
        env,
        port,
    )
}

/// gcp-storage-emulator (GCS JSON API), in memory.
pub fn gcs() -> Result<Emulator, Unavailable> {
    let program = find("venv/bin/gcp-storage-emulator", "gcp-storage-emulator")?;
    let port = free_port()?;
    let args =
        ["start", "-H", "127.0.0.1", "--port", &port.to_string(), "--in-memory"].map(String::from);
    start("gcp-storage-emulator", &program, &args, &[], port)
}

/// Azurite's Blob service, in memory; the account is `devstoreaccount1`.
pub fn azurite() -> Result<Emulator, Unavailable> {
    let program = find("node/node_modules/.bin/azurite-blob", "azurite-blob")?;
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
