//! Runs the real `spinkube up` binary and talks to it over loopback.

#![allow(dead_code)]

pub mod memory;
pub mod redis;
#[allow(unused_imports)] // not every suite pushes to a registry
pub use spinkube_testenv::registry;

use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, ExitStatus, Stdio};
use std::sync::{mpsc, Arc, Mutex};
use std::time::Duration;

/// Long enough for a first, uncached compile of a 36 MB Python component.
const STARTUP_LIMIT: Duration = Duration::from_secs(300);

pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .unwrap()
        .to_path_buf()
}

/// An example or test app built by `examples/build.sh`.
pub fn app_dir(rel: &str) -> PathBuf {
    let dir = repo_root().join(rel);
    let manifest = std::fs::read_to_string(dir.join("spin.toml"))
        .unwrap_or_else(|e| panic!("{}: {e}", dir.display()));
    for line in manifest.lines() {
        if let Some(src) = line.trim().strip_prefix("source = \"") {
            let wasm = dir.join(src.trim_end_matches('"'));
            assert!(
                wasm.is_file(),
                "{} is missing: run `make examples` (examples/build.sh) first",
                wasm.display()
            );
        }
    }
    dir
}

pub struct Up {
    child: Child,
    pub base: String,
    pub stdout_lines: Vec<String>,
    stderr: Arc<Mutex<String>>,
}

fn command(args: &[&str]) -> Command {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_spinkube"));
    cmd.arg("up").args(args).env("RUST_LOG", "info");
    cmd.env_remove("SPIN_HTTP_LISTEN_ADDR");
    cmd
}

impl Up {
    /// Starts `spinkube up ARGS --listen 127.0.0.1:0` and waits for its `Serving` line.
    pub fn start(args: &[&str]) -> Up {
        Self::start_with_env(args, &[])
    }

    pub fn start_with_env(args: &[&str], env: &[(&str, &str)]) -> Up {
        let mut all: Vec<&str> = args.to_vec();
        if !args.contains(&"--listen") {
            all.extend(["--listen", "127.0.0.1:0"]);
        }
        let mut child = command(&all)
            .envs(env.iter().copied())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn spinkube");
        let (stderr, rx) = capture_output(&mut child);
        let mut lines = Vec::new();
        let base = loop {
            match rx.recv_timeout(STARTUP_LIMIT) {
                Ok(line) => {
                    let serving = line.strip_prefix("Serving ").map(str::to_string);
                    lines.push(line);
                    if let Some(url) = serving {
                        break url;
                    }
                }
                Err(_) => {
                    let _ = child.kill();
                    panic!(
                        "spinkube up did not start; stderr:\n{}",
                        stderr.lock().unwrap()
                    );
                }
            }
        };
        // Route lines follow immediately; collect what is already printed.
        while let Ok(line) = rx.recv_timeout(Duration::from_millis(300)) {
            lines.push(line);
        }
        Up {
            child,
            base,
            stdout_lines: lines,
            stderr,
        }
    }

    /// Runs `spinkube up` expecting it to fail at startup; returns (status, stderr).
    pub fn fail(args: &[&str]) -> (ExitStatus, String) {
        let mut all: Vec<&str> = args.to_vec();
        all.extend(["--listen", "127.0.0.1:0"]);
        let mut child = command(&all)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn spinkube");
        let mut err = String::new();
        child
            .stderr
            .take()
            .unwrap()
            .read_to_string(&mut err)
            .unwrap();
        let status = child.wait().unwrap();
        (status, err)
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// `method path` with `body`: the status and the response text.
    pub fn send(&self, method: &str, path: &str, body: &str) -> (u16, String) {
        let r = client()
            .request(method.parse().unwrap(), self.url(path))
            .body(body.to_string())
            .send()
            .unwrap();
        (r.status().as_u16(), r.text().unwrap())
    }

    pub fn get(&self, path: &str) -> (u16, String) {
        self.send("GET", path, "")
    }

    pub fn stderr(&self) -> String {
        self.stderr.lock().unwrap().clone()
    }

    /// Waits until stderr contains `needle` (log lines are written asynchronously).
    pub fn wait_for_log(&self, needle: &str) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(30);
        loop {
            let s = self.stderr();
            if s.contains(needle) || std::time::Instant::now() > deadline {
                return s;
            }
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    /// Sends SIGTERM and waits for exit.
    pub fn terminate(mut self) -> ExitStatus {
        signal(self.child.id(), "TERM");
        self.child.wait().unwrap()
    }
}

/// Echoes and collects stderr, and forwards stdout lines to the receiver.
/// Stdout is read for the whole life of the child so guests writing to it
/// never see a closed pipe.
pub fn capture_output(child: &mut Child) -> (Arc<Mutex<String>>, mpsc::Receiver<String>) {
    let stderr = Arc::new(Mutex::new(String::new()));
    let (err_pipe, err_buf) = (child.stderr.take().expect("piped stderr"), stderr.clone());
    std::thread::spawn(move || {
        for line in BufReader::new(err_pipe).lines().map_while(Result::ok) {
            eprintln!("[spinkube] {line}");
            let mut b = err_buf.lock().unwrap();
            b.push_str(&line);
            b.push('\n');
        }
    });
    let (tx, rx) = mpsc::channel();
    let out = child.stdout.take().expect("piped stdout");
    std::thread::spawn(move || {
        for line in BufReader::new(out).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    (stderr, rx)
}

pub fn signal(pid: u32, sig: &str) {
    Command::new("kill")
        .args([&format!("-{sig}"), &pid.to_string()])
        .status()
        .unwrap();
}

impl Drop for Up {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

pub fn client() -> reqwest::blocking::Client {
    reqwest::blocking::Client::builder()
        .timeout(Duration::from_secs(120))
        .danger_accept_invalid_certs(true)
        .build()
        .unwrap()
}

/// Percent-encodes everything but unreserved characters (for query parameters).
pub fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                (b as char).to_string()
            }
            _ => format!("%{b:02X}"),
        })
        .collect()
}

/// How long a test waits for an effect (a handled message, a resubscription) to show.
pub const EFFECT_LIMIT: Duration = Duration::from_secs(60);

/// Polls `check` until it returns a value; fails the test naming `what` after [`EFFECT_LIMIT`].
pub fn wait_until<T>(what: &str, mut check: impl FnMut() -> Option<T>) -> T {
    let deadline = std::time::Instant::now() + EFFECT_LIMIT;
    loop {
        if let Some(v) = check() {
            return v;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "timed out waiting for {what}"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// For the host-apis guests (`POST /redis/OP?address=...`): a publish reaches a subscriber, and
/// an address outside `allowed_outbound_hosts` (127.0.0.2) gets 409 `InvalidAddress`, with the
/// reason in the log.
pub fn assert_redis_publish_and_denied_address(up: &Up, redis: &redis::RedisServer) {
    let addr = urlencode(&redis.url());
    let mut sub = redis.subscribe("news");
    assert_eq!(
        up.send(
            "POST",
            &format!("/redis/publish?address={addr}&channel=news"),
            "hot"
        ),
        (200, "ok".into())
    );
    assert_eq!(
        sub.recv(Duration::from_secs(10)).as_deref(),
        Some(&b"hot"[..])
    );
    let denied = urlencode(&format!("redis://127.0.0.2:{}", redis.port()));
    let (s, b) = up.send("POST", &format!("/redis/get?address={denied}&key=a"), "");
    assert_eq!(s, 409);
    assert!(b.contains("InvalidAddress"), "{b}");
    let log = up.wait_for_log("127.0.0.2");
    assert!(
        log.contains("allowed_outbound_hosts") && log.contains("redis://127.0.0.2"),
        "{log}"
    );
}
