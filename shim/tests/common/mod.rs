//! Shared by the shim suites: a real registry (the CLI suite's helper), a real containerd, Redis,
//! pushing test apps with `spinkube push`, and plain HTTP requests.

#![allow(dead_code)]

#[path = "../../../cli/tests/common/redis.rs"]
pub mod redis;

#[allow(unused_imports)]
pub use spinkube_testenv::{containerd, registry};

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;
use std::time::Duration;

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("..")
}

/// The `spinkube` binary next to the shim: `cargo test --workspace` and `make e2e-shim` build it;
/// built here only when missing (building it alone would rebuild shared dependencies with other
/// features).
pub fn spinkube() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let bin = shim_dir().join("spinkube");
        if bin.is_file() {
            return bin;
        }
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".into());
        let status = Command::new(cargo)
            .args(["build", "-q", "-p", "spinkube-cli", "--bin", "spinkube"])
            .current_dir(repo_root())
            .status()
            .expect("cargo build spinkube");
        assert!(
            status.success() && bin.is_file(),
            "building spinkube failed"
        );
        bin
    })
}

/// `spinkube push -f <app dir> <reference>`; the app must have been built (examples/build.sh).
pub fn push(app: &str, reference: &str) {
    let dir = repo_root().join(app);
    assert!(
        dir.join("app.wasm").is_file(),
        "{app}/app.wasm is missing: run `make examples` (examples/build.sh) first"
    );
    let out = Command::new(spinkube())
        .args(["push", "-f"])
        .arg(&dir)
        .arg(reference)
        .output()
        .expect("run spinkube push");
    assert!(
        out.status.success(),
        "spinkube push {app} {reference}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// The directory of the shim binary under test (cargo builds it for this test binary).
pub fn shim_dir() -> PathBuf {
    Path::new(env!("CARGO_BIN_EXE_containerd-shim-spin-v2"))
        .parent()
        .expect("shim binary directory")
        .to_path_buf()
}

pub fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .expect("free port")
        .port()
}

/// A GET: (status, body), or an error if nothing answers.
pub fn get(addr: SocketAddr, path: &str) -> reqwest::Result<(u16, String)> {
    static CLIENT: OnceLock<reqwest::blocking::Client> = OnceLock::new();
    let client = CLIENT.get_or_init(|| {
        reqwest::blocking::Client::builder()
            .connect_timeout(Duration::from_secs(2))
            .timeout(Duration::from_secs(30))
            .build()
            .expect("HTTP client")
    });
    let resp = client.get(format!("http://{addr}{path}")).send()?;
    let status = resp.status().as_u16();
    Ok((status, resp.text()?))
}
