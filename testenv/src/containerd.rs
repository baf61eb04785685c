//! A real containerd 2.x (built by `e2e/containerd/build-tools.sh`, cached by version) with its
//! own root, state and socket under a temp dir, the `spin` runtime pointing at the shim under
//! test, plain HTTP for a loopback registry, and CNI bridge networking on a subnet of the test's.
//!
//! ```text
//! let ctd = Containerd::start(&Options { shim_dir, registry: Some(reg.host()), ..Default::default() });
//! ctd.ctr(["images", "pull", "--plain-http", &image]);   // Output, asserted by the caller
//! ctd.restart();                                          // containerd only; shims keep running
//! ```

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::OnceLock;
use std::time::{Duration, Instant};

/// How long containerd may take to answer on its socket.
const READY_LIMIT: Duration = Duration::from_secs(30);
const POLL: Duration = Duration::from_millis(20);
/// Each containerd gets its own namespace: runwasi keeps container state under
/// `/run/containerd/spin/<namespace>`, shared by every containerd on the machine.
fn unique_namespace() -> String {
    use std::sync::atomic::{AtomicU32, Ordering};
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "spinkube-test-{}-{}",
        std::process::id(),
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// The directory with containerd, ctr, containerd-shim-runc-v2 and crictl, built on first use.
pub fn tools_bin() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../e2e/containerd/build-tools.sh");
        let out = Command::new("bash")
            .arg(&script)
            .stderr(Stdio::inherit())
            .output()
            .expect("run e2e/containerd/build-tools.sh");
        assert!(out.status.success(), "{} failed", script.display());
        PathBuf::from(String::from_utf8_lossy(&out.stdout).trim())
    })
}

#[derive(Default, Clone)]
pub struct Options {
    /// Directory holding `containerd-shim-spin-v2` (put first on containerd's `PATH`); empty for
    /// none (a node whose shim the node installer puts in place).
    pub shim_dir: PathBuf,
    /// Leave the `spin` runtime out of the config, as on a node the installer has not readied.
    pub without_spin_runtime: bool,
    /// `host:port` of a registry to reach over plain HTTP.
    pub registry: Option<String>,
    /// Pod subnet for CRI pods (CNI bridge); `None` leaves CNI unconfigured.
    pub pod_subnet: Option<String>,
    /// CRI sandbox (pause) image reference.
    pub sandbox_image: Option<String>,
    /// Name of the CNI bridge (default `skcni<pid>`). A bridge that already exists with the
    /// subnet's first address is used as is: a node creates it first to have a stable node IP.
    pub bridge: Option<String>,
}

pub struct Containerd {
    dir: tempfile::TempDir,
    child: Option<Child>,
    opts: Options,
    pub socket: PathBuf,
    pub namespace: String,
}

impl Containerd {
    pub fn start(opts: &Options) -> Containerd {
        let dir = tempfile::Builder::new()
            .prefix("spinkube-containerd-")
            .tempdir()
            .expect("temp dir for containerd");
        let socket = dir.path().join("containerd.sock");
        let mut c = Containerd {
            dir,
            child: None,
            opts: opts.clone(),
            socket,
            namespace: unique_namespace(),
        };
        c.write_config();
        c.spawn();
        c
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The CNI bridge's name: the one given, or this process's own.
    fn bridge(&self) -> String {
        self.opts
            .bridge
            .clone()
            .unwrap_or_else(|| format!("skcni{}", std::process::id() % 100_000))
    }

    fn write_config(&self) {
        let d = self.dir.path();
        let certs = d.join("certs.d");
        if let Some(host) = &self.opts.registry {
            let hd = certs.join(host);
            std::fs::create_dir_all(&hd).unwrap();
            std::fs::write(
                hd.join("hosts.toml"),
                format!("server = \"http://{host}\"\n\n[host.\"http://{host}\"]\n  capabilities = [\"pull\", \"resolve\", \"push\"]\n  skip_verify = true\n"),
            )
            .unwrap();
        }
        let cni_dir = d.join("cni");
        std::fs::create_dir_all(&cni_dir).unwrap();
        if let Some(subnet) = &self.opts.pod_subnet {
            let bridge = self.bridge();
            std::fs::write(
                cni_dir.join("10-spinkube.conflist"),
                serde_json::json!({
                    "cniVersion": "1.0.0",
                    "name": "spinkube-test",
                    "plugins": [
                        {"type": "bridge", "bridge": bridge, "isGateway": true, "ipMasq": false,
                         "hairpinMode": true,
                         // The default route (via the bridge) takes Service ClusterIPs to the
                         // host, where kube-proxy's rules are.
                         "ipam": {"type": "host-local", "ranges": [[{"subnet": subnet}]],
                                  "routes": [{"dst": "0.0.0.0/0"}],
                                  "dataDir": d.join("cni-ipam").to_string_lossy()}},
                        {"type": "portmap", "capabilities": {"portMappings": true}},
                        {"type": "loopback"}
                    ]
                })
                .to_string(),
            )
            .unwrap();
        }
        let sandbox = self
            .opts
            .sandbox_image
            .clone()
            .unwrap_or_else(|| "registry.k8s.io/pause:3.10.1".into());
        let spin_runtime = if self.opts.without_spin_runtime {
            ""
        } else {
            "    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.spin]\n      runtime_type = 'io.containerd.spin.v2'\n"
        };
        let config = format!(
            r#"version = 3
root = "{root}"
state = "{state}"

[grpc]
  address = "{sock}"

[ttrpc]
  address = "{sock}.ttrpc"

[plugins.'io.containerd.cri.v1.images']
  snapshotter = 'overlayfs'
  [plugins.'io.containerd.cri.v1.images'.pinned_images]
    sandbox = '{sandbox}'
  [plugins.'io.containerd.cri.v1.images'.registry]
    config_path = '{certs}'

[plugins.'io.containerd.cri.v1.runtime']
  restrict_oom_score_adj = true
  enable_cdi = false
  [plugins.'io.containerd.cri.v1.runtime'.containerd]
    default_runtime_name = 'runc'
    [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc]
      runtime_type = 'io.containerd.runc.v2'
      [plugins.'io.containerd.cri.v1.runtime'.containerd.runtimes.runc.options]
        SystemdCgroup = false
{spin_runtime}  [plugins.'io.containerd.cri.v1.runtime'.cni]
    bin_dirs = ['/usr/lib/cni']
    conf_dir = '{cni}'

[plugins.'io.containerd.grpc.v1.cri']
  disable_tcp_service = true
  stream_server_address = '127.0.0.1'
  stream_server_port = '0'

[plugins.'io.containerd.transfer.v1.local']
  config_path = '{certs}'
"#,
            root = d.join("root").display(),
            state = d.join("state").display(),
            sock = self.socket.display(),
            certs = certs.display(),
            cni = cni_dir.display(),
        );
        std::fs::write(d.join("config.toml"), config).unwrap();
    }

    fn spawn(&mut self) {
        let d = self.dir.path();
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(d.join("containerd.log"))
            .unwrap();
        let shim_dir = &self.opts.shim_dir;
        // containerd finds `containerd-shim-spin-v2` and the runc shim on its PATH.
        let path = [
            shim_dir.to_string_lossy().into_owned(),
            tools_bin().to_string_lossy().into_owned(),
            std::env::var("PATH").unwrap_or_default(),
        ]
        .into_iter()
        .filter(|p| !p.is_empty())
        .collect::<Vec<_>>()
        .join(":");
        let child = Command::new(tools_bin().join("containerd"))
            .arg("--config")
            .arg(d.join("config.toml"))
            .arg("--log-level")
            .arg("info")
            .env("PATH", path)
            .stdout(log.try_clone().unwrap())
            .stderr(log)
            .spawn()
            .expect("start containerd");
        self.child = Some(child);
        let deadline = Instant::now() + READY_LIMIT;
        loop {
            if self.socket.exists() && self.ctr(["version"]).status.success() {
                return;
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                panic!("containerd exited ({status}):\n{}", self.log_tail());
            }
            assert!(
                Instant::now() < deadline,
                "containerd not ready after {READY_LIMIT:?}:\n{}",
                self.log_tail()
            );
            std::thread::sleep(POLL);
        }
    }

    /// Stops containerd (SIGTERM) and starts it again on the same state; running shims and
    /// their containers are untouched, as on a node where containerd restarts.
    pub fn restart(&mut self) {
        self.stop_daemon();
        let _ = std::fs::remove_file(&self.socket);
        self.spawn();
    }

    /// The config file containerd runs with.
    pub fn config_path(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    /// Starts containerd again if it has exited, as systemd's `Restart=always` would (the node
    /// installer restarts containerd with SIGTERM where no systemd unit runs it). True if it did.
    pub fn respawn_if_exited(&mut self) -> bool {
        let exited = matches!(self.child.as_mut().map(|c| c.try_wait()), Some(Ok(Some(_))));
        if exited {
            self.child = None;
            let _ = std::fs::remove_file(&self.socket);
            self.spawn();
        }
        exited
    }

    fn stop_daemon(&mut self) {
        if let Some(mut child) = self.child.take() {
            // SAFETY: kill(2) on our own unreaped child.
            unsafe {
                libc::kill(child.id() as libc::pid_t, libc::SIGTERM);
            }
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if let Ok(Some(_)) = child.try_wait() {
                    return;
                }
                std::thread::sleep(POLL);
            }
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    pub fn ctr_command(&self) -> Command {
        self.ctr_in(&self.namespace)
    }

    /// `ctr` in another namespace (containerd's CRI uses `k8s.io`).
    pub fn ctr_in(&self, namespace: &str) -> Command {
        let mut c = Command::new(tools_bin().join("ctr"));
        c.arg("--address")
            .arg(&self.socket)
            .arg("--namespace")
            .arg(namespace);
        c
    }

    pub fn ctr<I, S>(&self, args: I) -> Output
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.ctr_command().args(args).output().expect("run ctr")
    }

    /// `ctr ARGS` that must succeed; returns stdout.
    pub fn ctr_ok<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.succeed("ctr", self.ctr_command(), args)
    }

    pub fn crictl_command(&self) -> Command {
        let mut c = Command::new(tools_bin().join("crictl"));
        let endpoint = format!("unix://{}", self.socket.display());
        c.arg("--runtime-endpoint")
            .arg(&endpoint)
            .arg("--image-endpoint")
            .arg(&endpoint)
            .arg("--timeout")
            .arg("60s");
        c
    }

    /// `crictl ARGS` that must succeed; returns stdout.
    pub fn crictl_ok<I, S>(&self, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        self.succeed("crictl", self.crictl_command(), args)
    }

    /// Runs `cmd ARGS`; panics with its stderr and containerd's log unless it succeeds.
    fn succeed<I, S>(&self, name: &str, mut cmd: Command, args: I) -> String
    where
        I: IntoIterator<Item = S>,
        S: AsRef<std::ffi::OsStr>,
    {
        let args: Vec<_> = args.into_iter().map(|a| a.as_ref().to_owned()).collect();
        let out = cmd
            .args(&args)
            .output()
            .unwrap_or_else(|e| panic!("run {name}: {e}"));
        assert!(
            out.status.success(),
            "{name} {args:?} failed: {}\n{}",
            String::from_utf8_lossy(&out.stderr),
            self.log_tail()
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    pub fn log_tail(&self) -> String {
        let text =
            std::fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let start = lines.len().saturating_sub(40);
        format!(
            "--- containerd.log (last lines) ---\n{}",
            lines[start..].join("\n")
        )
    }

    /// containerd log lines that mention `needle`.
    pub fn log_lines(&self, needle: &str) -> String {
        let text =
            std::fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default();
        text.lines()
            .filter(|l| l.contains(needle))
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Removes every task and container in the test namespace (kill, wait, delete).
    pub fn remove_all_containers(&self) {
        let out = self.ctr(["containers", "list", "--quiet"]);
        for id in String::from_utf8_lossy(&out.stdout).lines() {
            let _ = self.ctr(["tasks", "kill", "--signal", "SIGKILL", id]);
            let deadline = Instant::now() + Duration::from_secs(10);
            while Instant::now() < deadline {
                if self.ctr(["tasks", "delete", id]).status.success()
                    || !self.ctr(["tasks", "ps", id]).status.success()
                {
                    break;
                }
                std::thread::sleep(Duration::from_millis(50));
            }
            let _ = self.ctr(["containers", "delete", id]);
        }
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        if self.child.is_some() {
            self.remove_all_containers();
            let pods = self.crictl_command().args(["pods", "-q"]).output();
            if let Ok(out) = pods {
                for id in String::from_utf8_lossy(&out.stdout).lines() {
                    let _ = self.crictl_command().args(["stopp", id]).output();
                    let _ = self.crictl_command().args(["rmp", "-f", id]).output();
                }
            }
        }
        self.stop_daemon();
        // Shims containerd lost track of (a failed test) would outlive it: end them too.
        for (pid, _) in processes_mentioning(&self.socket.to_string_lossy()) {
            // SAFETY: kill(2) of a process that serves this test's containerd.
            unsafe {
                libc::kill(pid as libc::pid_t, libc::SIGKILL);
            }
        }
        let _ = std::fs::remove_dir_all(Path::new("/run/containerd/spin").join(&self.namespace));
        if self.opts.pod_subnet.is_some() && self.opts.bridge.is_none() {
            // The CNI bridge plugin makes the bridge for the first pod and never deletes it.
            let _ = Command::new("ip")
                .args(["link", "delete", &self.bridge()])
                .output();
        }
        // Snapshot mounts under root/ must go before the directory can be removed.
        crate::process::unmount_under(self.dir.path());
    }
}

/// Polls `f` until it returns `Some`, or panics with `what` after `limit`.
pub fn wait_for<T>(what: &str, limit: Duration, f: impl FnMut() -> Option<T>) -> T {
    poll(limit, f).unwrap_or_else(|| panic!("timed out after {limit:?} waiting for {what}"))
}

/// Polls `f` until it returns `Some`; `None` once `limit` has passed.
pub fn poll<T>(limit: Duration, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + limit;
    loop {
        if let Some(v) = f() {
            return Some(v);
        }
        if Instant::now() >= deadline {
            return None;
        }
        std::thread::sleep(POLL);
    }
}

/// (pid, command line) of every process whose command line contains `needle`: a containerd's
/// shims and their container processes carry its socket path in theirs.
pub fn processes_mentioning(needle: &str) -> Vec<(u32, String)> {
    processes_where(|_, cmdline| cmdline.contains(needle))
}

/// (pid, command line) of every process whose cgroup paths (`/proc/PID/cgroup`) contain
/// `needle`: the kubelet names a pod's cgroups `pod<UID>` (cgroupfs driver).
pub fn processes_in_cgroup(needle: &str) -> Vec<(u32, String)> {
    processes_where(|proc_dir, _| {
        std::fs::read_to_string(proc_dir.join("cgroup"))
            .unwrap_or_default()
            .contains(needle)
    })
}

/// (pid, command line) of every process for which `keep(/proc/PID, command line)` holds.
fn processes_where(mut keep: impl FnMut(&Path, &str) -> bool) -> Vec<(u32, String)> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir("/proc").into_iter().flatten().flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let cmdline = std::fs::read(entry.path().join("cmdline")).unwrap_or_default();
        let cmdline = String::from_utf8_lossy(&cmdline).replace('\0', " ");
        if keep(&entry.path(), &cmdline) {
            found.push((pid, cmdline));
        }
    }
    found
}
