//! The whole product on one machine: a control plane, one real node (see [`crate::node`]), a
//! local registry with our images, and our chart installed with the operator running as a pod.
//!
//! ```no_run
//! let cluster = spinkube_e2e::Cluster::shared();
//! cluster.kubectl(&["get", "nodes"]).unwrap();
//! ```

use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};
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
    // Taken (and so stopped) by `teardown`, node first: its pods need the control plane.
    node: Mutex<Option<Node>>,
    dns: Mutex<Option<ClusterDns>>,
    registry: Mutex<Option<Registry>>,
    bridge: Mutex<Option<Bridge>>,
    registry_host: String,
    helm_home: tempfile::TempDir,
    /// CoreDNS's Corefile and log.
    state: tempfile::TempDir,
}

impl Cluster {
    /// Starts everything and installs the chart; blocks until the operator is Ready.
    pub fn start() -> Result<Cluster> {
        let started = Instant::now();
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
                shim_dir: bin_dir()?,
                registry: registry.host(),
                sandbox_image: pause,
                cluster_dns: Some(dns.ip),
            },
        )?;
        progress(&format!("node {NODE_NAME} Ready"));
        let cluster = Cluster {
            cp,
            subnets,
            node: Mutex::new(Some(node)),
            dns: Mutex::new(Some(dns)),
            registry_host: registry.host(),
            registry: Mutex::new(Some(registry)),
            bridge: Mutex::new(Some(bridge)),
            helm_home: tempfile::tempdir()?,
            state,
        };
        cluster.install_chart()?;
        progress(&format!(
            "chart installed, operator Ready ({:.0?} in all)",
            started.elapsed()
        ));
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
        let out = Command::new(helm_bin()?)
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

    /// Builds and pushes the operator image, then `helm install`s the chart with only the image
    /// repository and tag overridden, and waits for the operator's Deployment.
    fn install_chart(&self) -> Result<()> {
        let repo = self.image(OPERATOR_REPO);
        run_script(
            "e2e/images/push-operator-image.sh",
            &[&format!("{repo}:{OPERATOR_TAG}")],
        )?;
        let chart = repo_root().join("charts/spin-operator");
        self.helm(&[
            "install",
            RELEASE,
            &chart.to_string_lossy(),
            "--namespace",
            OPERATOR_NAMESPACE,
            "--create-namespace",
            "--set",
            &format!("image.repository={repo}"),
            "--set",
            &format!("image.tag={OPERATOR_TAG}"),
            "--wait",
            "--timeout",
            "90s",
        ])
        .map_err(|e| anyhow::anyhow!("{e:#}\n{}", self.diagnostics(OPERATOR_NAMESPACE)))?;
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

fn helm_bin() -> Result<PathBuf> {
    static HELM: OnceLock<std::result::Result<PathBuf, String>> = OnceLock::new();
    HELM.get_or_init(|| {
        script_output("e2e/k8s/build-helm.sh", &[])
            .map(|s| PathBuf::from(s.lines().last().unwrap_or_default().trim()))
            .map_err(|e| format!("{e:#}"))
    })
    .clone()
    .map_err(|e| anyhow::anyhow!(e))
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

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|e| e.into_inner())
}

fn progress(msg: &str) {
    eprintln!("spinkube-e2e: {msg}");
}
