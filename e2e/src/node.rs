//! A real Kubernetes node on this machine: containerd (CRI; no `spin` runtime until the chart's
//! node installer adds it), the kubelet and kube-proxy (iptables mode), registered with a
//! [`ControlPlane`].
//!
//! Facts this code is written around (see shared/TESTENV.md): the machine is cgroup v1 with no
//! systemd (kubelet `failCgroupV1: false`, `cgroupDriver: cgroupfs`), negative
//! `oom_score_adj` cannot be written (containerd's `restrict_oom_score_adj`, set by the
//! containerd harness), and pods share one bridge, so kube-proxy masquerades all Service
//! traffic (a pod reaching a Service backed by a pod on the same bridge then gets its replies
//! through the host, without `br_netfilter`).

use std::ffi::OsString;
use std::net::{Ipv4Addr, TcpListener};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use spinkube_testenv::containerd::{self, Containerd};
use spinkube_testenv::{spawn_tied, stop_child, unmount_under, Binaries, ControlPlane};

/// How long the kubelet may take to register a Ready node.
const READY_LIMIT: Duration = Duration::from_secs(120);
/// SIGTERM to SIGKILL for the kubelet and kube-proxy.
const STOP_GRACE: Duration = Duration::from_secs(10);

pub struct NodeOptions {
    pub name: String,
    pub node_ip: Ipv4Addr,
    pub pod_cidr: String,
    /// The CNI bridge (already holding `node_ip`).
    pub bridge: String,
    /// `host:port` of the plain-HTTP registry images come from.
    pub registry: String,
    /// The pod sandbox image (in that registry).
    pub sandbox_image: String,
    /// Nameserver pods get (`clusterDNS`), if any.
    pub cluster_dns: Option<Ipv4Addr>,
}

pub struct Node {
    pub name: String,
    pub containerd: Containerd,
    dir: tempfile::TempDir,
    kubeconfig: PathBuf,
    kubelet: Option<Child>,
    kube_proxy: Option<Child>,
    kubelet_args: Vec<OsString>,
    cluster_cidr: String,
}

impl Node {
    /// Starts containerd, the kubelet and kube-proxy and waits until the node is Ready.
    pub fn start(cp: &ControlPlane, opts: NodeOptions) -> Result<Node> {
        let bins = Binaries::get()?;
        for b in ["kubelet", "kube-proxy"] {
            if !bins.kube(b).is_file() {
                bail!(
                    "{} is missing: run `make cluster-tools` (e2e/cluster/build-tools.sh builds it)",
                    bins.kube(b).display()
                );
            }
        }
        let containerd = Containerd::start(&containerd::Options {
            // Nothing on PATH: the node installer puts the shim in place and names its path.
            shim_dir: PathBuf::new(),
            without_spin_runtime: true,
            registry: Some(opts.registry.clone()),
            pod_subnet: Some(opts.pod_cidr.clone()),
            sandbox_image: Some(opts.sandbox_image.clone()),
            bridge: Some(opts.bridge.clone()),
        });
        let dir = tempfile::Builder::new()
            .prefix("spinkube-node-")
            .tempdir()
            .context("temp dir for the node")?;
        let d = dir.path();
        for sub in ["kubelet", "pod-logs", "volume-plugins", "logs"] {
            std::fs::create_dir_all(d.join(sub))?;
        }
        let kubeconfig = cp.kubeconfig().to_path_buf();
        let port = free_port()?;
        let config = kubelet_config(&KubeletConfig {
            node_ip: opts.node_ip,
            port,
            runtime_socket: &containerd.socket,
            pod_logs: &d.join("pod-logs"),
            volume_plugins: &d.join("volume-plugins"),
            cluster_dns: opts.cluster_dns,
        });
        std::fs::write(d.join("kubelet.yaml"), config)?;
        let kubelet_args: Vec<OsString> = vec![
            os("--config=", d.join("kubelet.yaml")),
            os("--kubeconfig=", &kubeconfig),
            os("--root-dir=", d.join("kubelet")),
            os("--cert-dir=", d.join("kubelet/pki")),
            format!("--hostname-override={}", opts.name).into(),
            format!("--node-ip={}", opts.node_ip).into(),
        ];
        let mut node = Node {
            name: opts.name.clone(),
            containerd,
            dir,
            kubeconfig,
            kubelet: None,
            kube_proxy: None,
            kubelet_args,
            cluster_cidr: opts.pod_cidr.clone(),
        };
        node.start_kubelet()?;
        node.start_kube_proxy()?;
        node.wait_ready(cp)?;
        Ok(node)
    }

    pub fn dir(&self) -> &Path {
        self.dir.path()
    }

    /// The kubelet's log (and kube-proxy's beside it), for error messages.
    pub fn log_tails(&self, lines: usize) -> String {
        let mut out = String::new();
        for name in ["kubelet", "kube-proxy"] {
            let text = std::fs::read_to_string(self.log_path(name)).unwrap_or_default();
            let all: Vec<&str> = text.lines().collect();
            out.push_str(&format!("---- {name}.log (last lines)\n"));
            out.push_str(&all[all.len().saturating_sub(lines)..].join("\n"));
            out.push('\n');
        }
        out.push_str(&self.containerd.log_tail());
        out
    }

    fn log_path(&self, name: &str) -> PathBuf {
        self.dir.path().join("logs").join(format!("{name}.log"))
    }

    fn spawn(&self, name: &str, args: &[OsString]) -> Result<Child> {
        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(self.log_path(name))?;
        let bin = Binaries::get()?.kube(name);
        let mut cmd = Command::new(&bin);
        cmd.args(args)
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            // The kubelet finds iptables, mount and friends on PATH.
            .env("PATH", std::env::var_os("PATH").unwrap_or_default());
        spawn_tied(cmd).with_context(|| format!("starting {}", bin.display()))
    }

    fn start_kubelet(&mut self) -> Result<()> {
        let args = self.kubelet_args.clone();
        self.kubelet = Some(self.spawn("kubelet", &args)?);
        Ok(())
    }

    fn start_kube_proxy(&mut self) -> Result<()> {
        let args: Vec<OsString> = vec![
            os("--kubeconfig=", &self.kubeconfig),
            format!("--hostname-override={}", self.name).into(),
            format!("--cluster-cidr={}", self.cluster_cidr).into(),
            "--proxy-mode=iptables".into(),
            "--masquerade-all".into(),
            format!("--healthz-bind-address=127.0.0.1:{}", free_port()?).into(),
            format!("--metrics-bind-address=127.0.0.1:{}", free_port()?).into(),
            // Leave the host's conntrack table size alone.
            "--conntrack-max-per-core=0".into(),
            // Negative oom_score_adj cannot be written here (its default is -999).
            "--oom-score-adj=0".into(),
        ];
        self.kube_proxy = Some(self.spawn("kube-proxy", &args)?);
        Ok(())
    }

    fn wait_ready(&mut self, cp: &ControlPlane) -> Result<()> {
        let started = Instant::now();
        loop {
            let out = cp
                .kubectl()
                .args([
                    "get",
                    "node",
                    &self.name,
                    "-o",
                    "jsonpath={.status.conditions[?(@.type==\"Ready\")].status}",
                ])
                .output()?;
            if out.status.success() && String::from_utf8_lossy(&out.stdout).trim() == "True" {
                return Ok(());
            }
            if let Some(exited) = self.exited() {
                bail!("{exited}:\n{}", self.log_tails(40));
            }
            if started.elapsed() > READY_LIMIT {
                bail!(
                    "node {} not Ready after {READY_LIMIT:?}:\n{}",
                    self.name,
                    self.log_tails(40)
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    /// "kubelet exited (status)" when one of our processes is gone.
    fn exited(&mut self) -> Option<String> {
        for (name, child) in [
            ("kubelet", &mut self.kubelet),
            ("kube-proxy", &mut self.kube_proxy),
        ] {
            if let Some(Ok(Some(status))) = child.as_mut().map(|c| c.try_wait()) {
                return Some(format!("{name} exited ({status})"));
            }
        }
        None
    }

    /// Stops the kubelet (SIGTERM) and starts it again; pods keep running meanwhile, as on a
    /// node whose kubelet restarts.
    pub fn restart_kubelet(&mut self, cp: &ControlPlane) -> Result<()> {
        if let Some(mut k) = self.kubelet.take() {
            stop_child(&mut k, STOP_GRACE);
        }
        self.start_kubelet()?;
        self.wait_ready(cp)
    }

    /// Stops containerd and starts it again on the same state; shims and their containers
    /// keep running, as on a node where containerd restarts.
    pub fn restart_containerd(&mut self, cp: &ControlPlane) -> Result<()> {
        self.containerd.restart();
        self.wait_ready(cp)
    }
}

impl Drop for Node {
    fn drop(&mut self) {
        // The kubelet first, so it does not restart what containerd's teardown removes.
        if let Some(mut k) = self.kubelet.take() {
            stop_child(&mut k, STOP_GRACE);
        }
        if let Some(mut p) = self.kube_proxy.take() {
            stop_child(&mut p, STOP_GRACE);
        }
        // kube-proxy's iptables chains outlive it: remove them.
        if let Ok(bins) = Binaries::get() {
            let _ = Command::new(bins.kube("kube-proxy"))
                .args(["--cleanup", "--proxy-mode=iptables"])
                .stdout(Stdio::null())
                .stderr(Stdio::null())
                .status();
        }
        // Secret and projected volumes are tmpfs mounts under the kubelet's root dir.
        unmount_under(self.dir.path());
        // self.containerd drops next (after this body): it removes the pods and containers.
    }
}

/// What goes into the kubelet's config file.
struct KubeletConfig<'a> {
    node_ip: Ipv4Addr,
    port: u16,
    runtime_socket: &'a Path,
    pod_logs: &'a Path,
    volume_plugins: &'a Path,
    cluster_dns: Option<Ipv4Addr>,
}

fn kubelet_config(c: &KubeletConfig) -> String {
    let dns = match c.cluster_dns {
        Some(ip) => format!("clusterDNS: [\"{ip}\"]\n"),
        None => String::new(),
    };
    format!(
        r#"apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This machine is cgroup v1 without systemd.
failCgroupV1: false
cgroupDriver: cgroupfs
containerRuntimeEndpoint: unix://{socket}
address: {ip}
port: {port}
readOnlyPort: 0
healthzPort: 0
# The API server is the only client, with the admin credentials of this test cluster.
authentication:
  anonymous:
    enabled: true
  webhook:
    enabled: false
authorization:
  mode: AlwaysAllow
failSwapOn: false
# Negative oom_score_adj cannot be written here (the default is -999).
oomScoreAdj: 0
podLogsDir: {logs}
volumePluginDir: {plugins}
clusterDomain: cluster.local
{dns}resolvConf: /etc/resolv.conf
serializeImagePulls: false
# A test machine: never evict for disk or memory pressure, never garbage-collect images.
# "0%" switches a disk signal off (a 1% floor still evicted every pod on a nearly full CI disk);
# every signal is listed so none falls back to its default.
evictionHard:
  memory.available: "1Mi"
  nodefs.available: "0%"
  nodefs.inodesFree: "0%"
  imagefs.available: "0%"
  imagefs.inodesFree: "0%"
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
nodeStatusUpdateFrequency: 2s
syncFrequency: 5s
fileCheckFrequency: 5s
"#,
        socket = c.runtime_socket.display(),
        ip = c.node_ip,
        port = c.port,
        logs = c.pod_logs.display(),
        plugins = c.volume_plugins.display(),
    )
}

pub(crate) fn free_port() -> Result<u16> {
    Ok(TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn os(flag: &str, value: impl AsRef<std::ffi::OsStr>) -> OsString {
    let mut s = OsString::from(flag);
    s.push(value);
    s
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn kubelet_config_allows_cgroup_v1_and_points_at_containerd() {
        let text = kubelet_config(&KubeletConfig {
            node_ip: Ipv4Addr::new(10, 208, 1, 1),
            port: 12345,
            runtime_socket: Path::new("/tmp/c/containerd.sock"),
            pod_logs: Path::new("/tmp/n/pod-logs"),
            volume_plugins: Path::new("/tmp/n/vp"),
            cluster_dns: Some(Ipv4Addr::new(10, 216, 1, 10)),
        });
        assert!(text.contains("failCgroupV1: false"));
        assert!(text.contains("cgroupDriver: cgroupfs"));
        assert!(text.contains("containerRuntimeEndpoint: unix:///tmp/c/containerd.sock"));
        assert!(text.contains("address: 10.208.1.1\nport: 12345"));
        assert!(text.contains("clusterDNS: [\"10.216.1.10\"]"));
    }
}
