//! The whole product on one machine: a control plane, one real node (see [`crate::node`]), a
//! local registry with our images, and our chart installed: the operator running as a pod, and
//! the node installer's DaemonSet readying the node (its containerd starts without the `spin`
//! runtime; this harness restarts containerd when it exits, as systemd would).
//!
//! ```no_run
//! let cluster = spinkube_e2e::Cluster::shared();
//! cluster.kubectl(&["get", "nodes"]).unwrap();
//! ```

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use spinkube_testenv::registry::Registry;
use spinkube_testenv::{ControlPlane, Options};

use crate::dns::ClusterDns;
use crate::network::{self, Bridge, Subnets};
use crate::node::{Node, NodeOptions};

pub const NODE_NAME: &str = "spinkube-node";
/// Where the chart goes (`helm install spin-operator charts/spin-operator -n NAMESPACE`).
pub const OPERATOR_NAMESPACE: &str = "spinkube-system";
pub const RELEASE: &str = "spin-operator";
const OPERATOR_REPO: &str = "spin-operator-rs";
const OPERATOR_TAG: &str = "e2e";
pub const INSTALLER_REPO: &str = "spinkube-node-installer-rs";
pub const INSTALLER_TAG: &str = "e2e";
/// The label the node installer puts on a readied node.
pub const SHIM_READY_LABEL: &str = "spinkube.dev/shim";
/// How long the chart may take to ready the node (image pull, containerd restart).
const READY_LIMIT: Duration = Duration::from_secs(180);
/// The executor SpinApps name (executors are namespaced: the chart makes one only in the
/// namespaces its values list, so each test or bench namespace applies this).
pub const SHIM_EXECUTOR: &str = "apiVersion: core.spinkube.dev/v1alpha1
kind: SpinAppExecutor
metadata:
  name: containerd-shim-spin
spec:
  createDeployment: true
  deploymentConfig:
    runtimeClassName: wasmtime-spin-v2
    installDefaultCACerts: true
";

pub struct Cluster {
    pub cp: ControlPlane,
    pub subnets: Subnets,
    // Taken (and so stopped) by `teardown`, node first: its pods need the control plane. Shared
    // with the thread that restarts the node's containerd when it exits.
    node: Arc<Mutex<Option<Node>>>,
    dns: Mutex<Option<ClusterDns>>,
    registry: Mutex<Option<Registry>>,
    bridge: Mutex<Option<Bridge>>,
    registry_host: String,
    helm_home: tempfile::TempDir,
    /// CoreDNS's Corefile and log.
    state: tempfile::TempDir,
}

/// When `install_chart` began and how long the chart took to be in place.
pub struct ChartInstalled {
    /// Just before `helm install` (the images are pushed by then).
    pub started: Instant,
    /// `helm install --wait` done and the operator's webhooks answering.
    pub operator_ready: Duration,
    /// The node labelled ready by the node installer.
    pub node_ready: Duration,
}

impl Cluster {
    /// Starts everything and installs the chart; blocks until the operator is Ready and the node
    /// installer has readied the node.
    pub fn start() -> Result<Cluster> {
        let started = Instant::now();
        let cluster = Cluster::start_bare()?;
        cluster.install_chart(&[])?;
        progress(&format!(
            "chart installed, operator Ready, node readied ({:.0?} in all)",
            started.elapsed()
        ));
        Ok(cluster)
    }

    /// Starts the control plane, registry and node, without the chart: the node is Ready for
    /// Kubernetes but has no `spin` runtime yet.
    pub fn start_bare() -> Result<Cluster> {
        let subnets = network::subnets(std::process::id());
        let bridge_name = format!("spk{}", std::process::id() % 1_000_000);
        let bridge = Bridge::create(&bridge_name, subnets.node_ip, 24)?;
        let registry = Registry::start();
        let pause = registry.reference("pause:3.10");
        run_script("e2e/pause/push-image.sh", &[&pause])?;

        let cp = ControlPlane::start(Options {
            scheduler: true,
            bind_ip: Some(subnets.node_ip),
            service_cidr: Some(subnets.services.clone()),
            crds: vec![repo_root().join("crds")],
            ..Options::default()
        })?;
        progress(&format!("control plane up at {}", cp.server()));
        let state = tempfile::Builder::new()
            .prefix("spinkube-cluster-")
            .tempdir()?;
        let dns = ClusterDns::start(cp.kubeconfig(), subnets.node_ip, state.path())?;
        let node = Node::start(
            &cp,
            NodeOptions {
                name: NODE_NAME.into(),
                node_ip: subnets.node_ip,
                pod_cidr: subnets.pods.clone(),
                bridge: bridge_name,
                registry: registry.host(),
                sandbox_image: pause,
                cluster_dns: Some(dns.ip),
            },
        )?;
        progress(&format!("node {NODE_NAME} Ready"));
        let node = Arc::new(Mutex::new(Some(node)));
        supervise_containerd(Arc::downgrade(&node));
        let cluster = Cluster {
            cp,
            subnets,
            node,
            dns: Mutex::new(Some(dns)),
            registry_host: registry.host(),
            registry: Mutex::new(Some(registry)),
            bridge: Mutex::new(Some(bridge)),
            helm_home: tempfile::tempdir()?,
            state,
        };
        Ok(cluster)
    }

    /// One cluster per test process, started on first use; torn down at exit.
    pub fn shared() -> &'static Cluster {
        static SHARED: OnceLock<std::result::Result<Cluster, String>> = OnceLock::new();
        extern "C" fn teardown_at_exit() {
            if let Some(Ok(c)) = SHARED.get() {
                c.teardown();
            }
        }
        let r = SHARED.get_or_init(|| {
            let r = Cluster::start().map_err(|e| format!("{e:#}"));
            if r.is_ok() {
                // SAFETY: registering a plain extern "C" fn.
                unsafe { libc::atexit(teardown_at_exit) };
            }
            r
        });
        match r {
            Ok(c) => c,
            Err(e) => panic!("the e2e cluster failed to start: {e}"),
        }
    }

    /// Stops the node (its pods, containerd, kubelet, kube-proxy), the registry and the control
    /// plane, and removes the bridge. Idempotent.
    pub fn teardown(&self) {
        drop(lock(&self.node).take());
        drop(lock(&self.dns).take());
        let _ = std::fs::remove_dir_all(self.state.path());
        drop(lock(&self.registry).take());
        self.cp.stop_and_clean();
        drop(lock(&self.bridge).take());
    }

    /// The node, for restarts and logs.
    pub fn node(&self) -> std::sync::MutexGuard<'_, Option<Node>> {
        lock(&self.node)
    }

    /// `127.0.0.1:PORT/REPO:TAG` in the cluster's registry (containerd pulls it over HTTP).
    pub fn image(&self, repo_tag: &str) -> String {
        format!("{}/{repo_tag}", self.registry_host)
    }

    /// `spinkube push` of the app in `app` (a repo-relative dir) to `repo:tag` in the cluster's
    /// registry; the image reference.
    pub fn push_app(&self, app: &str, repo_tag: &str) -> Result<String> {
        let image = self.image(repo_tag);
        let dir = repo_root().join(app);
        if !dir.join("app.wasm").is_file() {
            bail!("{app}/app.wasm is missing: run `make examples` first");
        }
        let out = Command::new(bin_dir()?.join("spinkube"))
            .args(["push", "-f"])
            .arg(&dir)
            .arg(&image)
            .stdin(Stdio::null())
            .output()
            .context("running spinkube push")?;
        checked("spinkube push", &[app, &image], out)?;
        Ok(image)
    }

    /// `kubectl ARGS` with the admin kubeconfig; stdout, or an error with stderr.
    pub fn kubectl(&self, args: &[&str]) -> Result<String> {
        self.cp.kubectl_run(args)
    }

    pub fn kubectl_stdin(&self, args: &[&str], stdin: &str) -> Result<String> {
        self.cp.kubectl_stdin(args, stdin)
    }

    pub fn node_ip(&self) -> Ipv4Addr {
        self.subnets.node_ip
    }

    /// `helm ARGS` against this cluster, with helm's own dirs kept apart.
    pub fn helm(&self, args: &[&str]) -> Result<String> {
        let home = self.helm_home.path();
        let out = Command::new(spinkube_testenv::helm()?)
            .args(args)
            .env("KUBECONFIG", self.cp.kubeconfig())
            .env("HELM_CACHE_HOME", home.join("cache"))
            .env("HELM_CONFIG_HOME", home.join("config"))
            .env("HELM_DATA_HOME", home.join("data"))
            .stdin(Stdio::null())
            .output()
            .context("running helm")?;
        checked("helm", args, out)
    }

    /// Host directory the node installer puts the shim in (this cluster's own).
    pub fn node_shim_dir(&self) -> PathBuf {
        self.state.path().join("opt-spinkube-bin")
    }

    /// The config file the node's containerd runs with.
    pub fn node_containerd_config(&self) -> PathBuf {
        self.node()
            .as_ref()
            .map(|n| n.containerd.config_path())
            .unwrap_or_default()
    }

    /// `--set`s pointing the chart at this cluster's images and node paths.
    pub fn chart_sets(&self) -> Vec<String> {
        vec![
            format!("image.repository={}", self.image(OPERATOR_REPO)),
            format!("image.tag={OPERATOR_TAG}"),
            format!(
                "nodeInstaller.image.repository={}",
                self.image(INSTALLER_REPO)
            ),
            format!("nodeInstaller.image.tag={INSTALLER_TAG}"),
            format!(
                "nodeInstaller.containerdConfig={}",
                self.node_containerd_config().display()
            ),
            format!("nodeInstaller.shimDir={}", self.node_shim_dir().display()),
        ]
    }

    /// Builds and pushes the operator and node installer images, then `helm install`s the chart
    /// with [`Cluster::chart_sets`] and `extra` (`--set` values), and waits for the operator's
    /// Deployment, its webhooks and the node's ready label.
    pub fn install_chart(&self, extra: &[&str]) -> Result<ChartInstalled> {
        self.push_images(INSTALLER_TAG, None)?;
        let started = Instant::now();
        self.helm_with_sets("install", extra, true)?;
        let operator_ready = started.elapsed();
        self.wait_node_readied(READY_LIMIT)?;
        Ok(ChartInstalled {
            started,
            operator_ready,
            node_ready: started.elapsed(),
        })
    }

    /// `helm install` or `helm upgrade` of the chart with [`Cluster::chart_sets`] and `extra`,
    /// then waits for the operator's webhooks (not for the node). `wait` adds helm's `--wait` for
    /// every Deployment and DaemonSet pod (a failing installer pod never gets there).
    pub fn helm_with_sets(&self, verb: &str, extra: &[&str], wait: bool) -> Result<()> {
        let chart = repo_root().join("charts/spin-operator");
        let mut args: Vec<String> = [
            verb,
            RELEASE,
            &chart.to_string_lossy(),
            "--namespace",
            OPERATOR_NAMESPACE,
            "--create-namespace",
            "--timeout",
            "90s",
        ]
        .iter()
        .map(|s| s.to_string())
        .collect();
        if wait {
            args.push("--wait".into());
        }
        for set in self
            .chart_sets()
            .iter()
            .map(String::as_str)
            .chain(extra.iter().copied())
        {
            args.push("--set".into());
            args.push(set.into());
        }
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        self.helm(&args)
            .map_err(|e| anyhow::anyhow!("{e:#}\n{}", self.diagnostics(OPERATOR_NAMESPACE)))?;
        self.wait_for_webhooks()
    }

    /// Builds and pushes the operator image and the node installer image (tagged `installer_tag`),
    /// the latter carrying `shim`, else the workspace's host build of the shim (the one the shim
    /// suites test; `make images` builds the static one).
    pub fn push_images(&self, installer_tag: &str, shim: Option<&Path>) -> Result<()> {
        run_script(
            "e2e/images/push-operator-image.sh",
            &[&format!("{}:{OPERATOR_TAG}", self.image(OPERATOR_REPO))],
        )?;
        let reference = format!("{}:{installer_tag}", self.image(INSTALLER_REPO));
        let mut cmd = Command::new("bash");
        cmd.arg(repo_root().join("e2e/images/push-node-installer-image.sh"))
            .arg(&reference)
            .stdin(Stdio::null());
        let host_build = bin_dir()?.join("containerd-shim-spin-v2");
        cmd.env("SHIM", shim.unwrap_or(&host_build));
        let out = cmd
            .output()
            .context("running push-node-installer-image.sh")?;
        checked("push-node-installer-image.sh", &[&reference], out).map(drop)
    }

    /// Waits until the node carries the installer's ready label.
    pub fn wait_node_readied(&self, limit: Duration) -> Result<()> {
        let label = format!(
            "jsonpath={{.metadata.labels.{}}}",
            SHIM_READY_LABEL.replace('.', "\\.")
        );
        self.wait_for_output(&["get", "node", NODE_NAME, "-o", &label], "ready", limit)
            .map_err(|e| anyhow::anyhow!("{e:#}\n{}", self.diagnostics(OPERATOR_NAMESPACE)))
    }

    fn wait_for_webhooks(&self) -> Result<()> {
        // Ready is not yet reachable: wait until the API server gets through to the webhooks
        // (a server-side dry run of a SpinApp is admitted or denied by them, not refused).
        let probe = "apiVersion: core.spinkube.dev/v1alpha1\nkind: SpinApp\nmetadata:\n  name: webhook-probe\n  namespace: spinkube-system\nspec:\n  image: probe\n  replicas: 1\n";
        let started = Instant::now();
        loop {
            match self.kubectl_stdin(&["apply", "--dry-run=server", "-f", "-"], probe) {
                Ok(_) => return Ok(()),
                Err(e) if !format!("{e:#}").contains("failed calling webhook") => return Ok(()),
                Err(e) if started.elapsed() > Duration::from_secs(60) => {
                    bail!("the operator's webhooks do not answer: {e:#}")
                }
                Err(_) => std::thread::sleep(Duration::from_millis(250)),
            }
        }
    }

    /// Pods, events and the node's logs: what a failed wait should print.
    pub fn diagnostics(&self, namespace: &str) -> String {
        let mut out = String::new();
        for args in [
            vec!["get", "pods", "-o", "wide", "-n", namespace],
            vec!["get", "events", "--sort-by=.lastTimestamp", "-n", namespace],
        ] {
            out.push_str(&format!("$ kubectl {}\n", args.join(" ")));
            match self.kubectl(&args) {
                Ok(s) => out.push_str(&s),
                Err(e) => out.push_str(&format!("{e:#}\n")),
            }
        }
        let pods = self
            .kubectl(&["get", "pods", "-n", namespace, "-o", "name"])
            .unwrap_or_default();
        for pod in pods.lines().take(5) {
            out.push_str(&format!("$ kubectl logs --tail=20 -n {namespace} {pod}\n"));
            match self.kubectl(&[
                "logs",
                "--tail=20",
                "--all-containers",
                "-n",
                namespace,
                pod,
            ]) {
                Ok(s) => out.push_str(&s),
                Err(e) => out.push_str(&format!("{e:#}\n")),
            }
        }
        if let Some(node) = self.node().as_ref() {
            out.push_str(&node.log_tails(30));
        }
        if let Some(dns) = lock(&self.dns).as_ref() {
            out.push_str(&dns.log_tail());
        }
        out
    }

    /// Waits until `kubectl ARGS` prints `want` (trimmed).
    pub fn wait_for_output(&self, args: &[&str], want: &str, limit: Duration) -> Result<()> {
        self.wait_for_one_of(args, &[want], limit).map(|_| ())
    }

    /// Waits until `kubectl ARGS` prints one of `wants` (trimmed); the one it printed.
    pub fn wait_for_one_of(
        &self,
        args: &[&str],
        wants: &[&str],
        limit: Duration,
    ) -> Result<String> {
        let started = Instant::now();
        let mut last = String::new();
        while started.elapsed() < limit {
            match self.kubectl(args) {
                Ok(s) if wants.contains(&s.trim()) => return Ok(s.trim().to_string()),
                Ok(s) => last = s,
                Err(e) => last = format!("{e:#}"),
            }
            std::thread::sleep(Duration::from_millis(250));
        }
        bail!(
            "kubectl {} did not print any of {wants:?} within {limit:?}; last: {}",
            args.join(" "),
            last.trim()
        )
    }
}

/// The repository root (this crate is `e2e/`).
pub fn repo_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("repo root")
        .to_path_buf()
}

/// Cargo's output dir holding the workspace binaries (`containerd-shim-spin-v2`, `spinkube`):
/// the test or bin executable's own dir, or its parent for test binaries under `deps/`.
pub fn bin_dir() -> Result<PathBuf> {
    let exe = std::env::current_exe()?;
    let mut dir = exe.parent().context("executable dir")?.to_path_buf();
    if dir.ends_with("deps") {
        dir.pop();
    }
    for b in ["containerd-shim-spin-v2", "spinkube"] {
        if !dir.join(b).is_file() {
            bail!(
                "{} is missing: build the workspace binaries first (`cargo build --workspace --bins`; \
                 `make e2e-cluster` does)",
                dir.join(b).display()
            );
        }
    }
    Ok(dir)
}

/// Runs a repo script with bash; errors carry its stderr.
pub fn run_script(script: &str, args: &[&str]) -> Result<()> {
    script_output(script, args).map(drop)
}

fn script_output(script: &str, args: &[&str]) -> Result<String> {
    let path = repo_root().join(script);
    let out = Command::new("bash")
        .arg(&path)
        .args(args)
        .stdin(Stdio::null())
        .output()
        .with_context(|| format!("running {}", path.display()))?;
    checked(script, args, out)
}

fn checked(what: &str, args: &[&str], out: Output) -> Result<String> {
    if !out.status.success() {
        bail!(
            "{what} {} failed ({}):\n{}{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    Ok(String::from_utf8_lossy(&out.stdout).into_owned())
}

impl Drop for Cluster {
    fn drop(&mut self) {
        self.teardown();
    }
}

/// Starts the node's containerd again whenever it exits (the node installer restarts it with
/// SIGTERM), until the node is gone.
fn supervise_containerd(node: std::sync::Weak<Mutex<Option<Node>>>) {
    std::thread::spawn(move || loop {
        std::thread::sleep(Duration::from_millis(100));
        let Some(node) = node.upgrade() else { return };
        let mut guard = lock(&node);
        let Some(n) = guard.as_mut() else { return };
        if n.containerd.respawn_if_exited() {
            progress("the node's containerd exited: started it again");
        }
    });
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn progress(msg: &str) {
    eprintln!("spinkube-e2e: {msg}");
}
