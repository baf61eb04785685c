//! A real CNCF distribution registry (Debian package `docker-registry`) on a free loopback port,
//! optionally behind htpasswd basic auth. Its request log is kept so tests can count requests.
//!
//! ```no_run
//! use spinkube_testenv::registry::Registry;
//!
//! let _open = Registry::start(); // anonymous
//! let mut reg = Registry::start_with_auth("alice", "pw"); // htpasswd (apache2-utils)
//! let image = reg.reference("hello:v1"); // "127.0.0.1:PORT/hello:v1"
//! let blob = reg.blob_path("sha256:..."); // the blob's file in the storage dir
//! reg.stop();
//! reg.restart();
//! ```

use std::io::{Read, Write};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

const BINARY: &str = "/usr/bin/docker-registry";
/// How long a fresh registry may take to answer `/v2/`.
const READY_LIMIT: Duration = Duration::from_secs(20);
/// Pause between readiness probes (a poll interval, not a guess at the startup time).
const POLL_INTERVAL: Duration = Duration::from_millis(10);

pub struct Registry {
    child: Option<Child>,
    port: u16,
    dir: tempfile::TempDir,
}

impl Registry {
    pub fn available() -> bool {
        Path::new(BINARY).is_file()
    }

    pub fn start() -> Registry {
        Self::spawn(None)
    }

    /// Basic auth with one user, via `htpasswd -Bbn`.
    pub fn start_with_auth(user: &str, password: &str) -> Registry {
        Self::spawn(Some((user, password)))
    }

    fn spawn(auth: Option<(&str, &str)>) -> Registry {
        assert!(
            Self::available(),
            "{BINARY} is missing: apt-get install -y docker-registry (e2e/install-tools.sh does)"
        );
        let dir = tempfile::Builder::new()
            .prefix("spinkube-registry-")
            .tempdir()
            .expect("temp dir for the registry");
        let port = crate::process::free_port();
        let mut auth_yaml = String::new();
        if let Some((user, password)) = auth {
            let out = Command::new("htpasswd")
                .args(["-Bbn", user, password])
                .output()
                .expect("htpasswd (apache2-utils) must be installed");
            assert!(out.status.success(), "htpasswd failed");
            std::fs::write(dir.path().join("htpasswd"), &out.stdout).unwrap();
            auth_yaml = format!(
                "auth:\n  htpasswd:\n    realm: spinkube-test\n    path: {}\n",
                dir.path().join("htpasswd").display()
            );
        }
        let config = format!(
            "version: 0.1\nlog:\n  level: info\n  accesslog:\n    disabled: false\nstorage:\n  filesystem:\n    rootdirectory: {}\n  delete:\n    enabled: true\nhttp:\n  addr: 127.0.0.1:{port}\n{auth_yaml}",
            dir.path().join("storage").display()
        );
        std::fs::write(dir.path().join("config.yml"), config).unwrap();
        let mut reg = Registry {
            child: None,
            port,
            dir,
        };
        reg.restart();
        reg
    }

    /// (Re)starts the process on the same port and storage and waits for `/v2/` to answer.
    pub fn restart(&mut self) {
        self.stop();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path())
            .unwrap();
        let child = Command::new(BINARY)
            .arg("serve")
            .arg(self.dir.path().join("config.yml"))
            .stdin(Stdio::null())
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("spawn docker-registry");
        self.child = Some(child);
        let deadline = Instant::now() + READY_LIMIT;
        while Instant::now() < deadline {
            if self.v2_status().is_some() {
                return;
            }
            if let Some(status) = self.child.as_mut().unwrap().try_wait().unwrap() {
                panic!("docker-registry exited ({status}):\n{}", self.log());
            }
            std::thread::sleep(POLL_INTERVAL);
        }
        panic!(
            "docker-registry did not answer /v2/ within {READY_LIMIT:?}:\n{}",
            self.log()
        );
    }

    pub fn stop(&mut self) {
        if let Some(mut child) = self.child.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The HTTP status of `GET /v2/` (200 open, 401 with auth), or `None` if nothing answers.
    pub fn v2_status(&self) -> Option<u16> {
        let mut s = TcpStream::connect(("127.0.0.1", self.port)).ok()?;
        s.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
        write!(s, "GET /v2/ HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n").ok()?;
        let mut buf = [0u8; 64];
        let n = s.read(&mut buf).ok()?;
        let head = String::from_utf8_lossy(&buf[..n]);
        head.split_whitespace().nth(1)?.parse().ok()
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// `127.0.0.1:PORT/<repo_tag>`
    pub fn reference(&self, repo_tag: &str) -> String {
        format!("{}/{repo_tag}", self.host())
    }

    /// Where the registry stores a blob's bytes (for tampering in fault tests).
    pub fn blob_path(&self, digest: &str) -> PathBuf {
        let hex = digest.strip_prefix("sha256:").expect("sha256 digest");
        self.dir
            .path()
            .join("storage/docker/registry/v2/blobs/sha256")
            .join(&hex[..2])
            .join(hex)
            .join("data")
    }

    fn log_path(&self) -> PathBuf {
        self.dir.path().join("registry.log")
    }

    pub fn log(&self) -> String {
        std::fs::read_to_string(self.log_path()).unwrap_or_default()
    }

    /// Access-log lines of `GET` requests for blobs so far. The registry writes a line after
    /// the response has gone out, so a client can finish before its last line lands: first send
    /// a marker request and wait for its line, which comes after every earlier request's.
    pub fn blob_gets(&self) -> usize {
        self.flush_log();
        self.log()
            .lines()
            .filter(|l| l.contains("\"GET /v2/") && l.contains("/blobs/sha256:"))
            .count()
    }

    /// Sends `GET /v2/log-marker-N/tags/list` (a 404) and waits until its access-log line is in.
    fn flush_log(&self) {
        static MARKERS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
        let marker = format!(
            "/v2/log-marker-{}/tags/list",
            MARKERS.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
        );
        if let Ok(mut s) = TcpStream::connect(("127.0.0.1", self.port)) {
            let _ = s.set_read_timeout(Some(Duration::from_secs(5)));
            let _ = write!(s, "GET {marker} HTTP/1.0\r\nHost: 127.0.0.1\r\n\r\n");
            let _ = s.read(&mut [0u8; 64]);
        } else {
            return; // stopped: nothing more will be written
        }
        let deadline = Instant::now() + READY_LIMIT;
        while Instant::now() < deadline {
            if self.log().contains(&format!("\"GET {marker} ")) {
                return;
            }
            std::thread::sleep(POLL_INTERVAL);
        }
        panic!("the registry never logged {marker}:\n{}", self.log());
    }
}

impl Drop for Registry {
    fn drop(&mut self) {
        self.stop();
    }
}
