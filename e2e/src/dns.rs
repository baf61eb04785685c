//! Cluster DNS: CoreDNS on the node's IP serving `cluster.local` from the API server, as the
//! kube-dns add-on does in a cluster. Pods get it as their nameserver (the kubelet's
//! `clusterDNS`), so `NAME.NAMESPACE.svc.cluster.local` and the short forms resolve. Only that
//! zone is served: other names are refused, never forwarded off the machine.

use std::io::{Read, Write};
use std::net::{Ipv4Addr, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use spinkube_testenv::{spawn_tied, stop_child, tools_dir};

/// Must match the default in e2e/dns/build-coredns.sh.
const COREDNS_VERSION: &str = "v1.14.7";
/// How long CoreDNS may take to sync Services and report ready.
const READY_LIMIT: Duration = Duration::from_secs(60);

pub struct ClusterDns {
    pub ip: Ipv4Addr,
    child: Option<Child>,
    log: PathBuf,
}

impl ClusterDns {
    /// Starts CoreDNS on `ip:53` reading Services through `kubeconfig`; waits until it is ready
    /// (its `ready` plugin answers once the Kubernetes watch has synced).
    pub fn start(kubeconfig: &Path, ip: Ipv4Addr, dir: &Path) -> Result<ClusterDns> {
        let bin = tools_dir()
            .join(format!("coredns-{COREDNS_VERSION}"))
            .join("bin/coredns");
        if !bin.is_file() {
            bail!(
                "{} is missing: run `make cluster-tools` (e2e/dns/build-coredns.sh builds it)",
                bin.display()
            );
        }
        let ready_port = crate::node::free_port()?;
        let corefile = dir.join("Corefile");
        std::fs::write(&corefile, corefile_text(ip, ready_port, kubeconfig))?;
        let log = dir.join("coredns.log");
        let out = std::fs::File::create(&log)?;
        let mut cmd = Command::new(&bin);
        cmd.arg("-conf")
            .arg(&corefile)
            .stdin(Stdio::null())
            .stdout(out.try_clone()?)
            .stderr(out);
        let child = spawn_tied(cmd).with_context(|| format!("starting {}", bin.display()))?;
        let mut dns = ClusterDns {
            ip,
            child: Some(child),
            log,
        };
        dns.wait_ready(ready_port)?;
        Ok(dns)
    }

    fn wait_ready(&mut self, port: u16) -> Result<()> {
        let started = Instant::now();
        loop {
            if ready_answers(port) {
                return Ok(());
            }
            if let Some(Ok(Some(status))) = self.child.as_mut().map(|c| c.try_wait()) {
                bail!("coredns exited ({status}):\n{}", self.log_tail());
            }
            if started.elapsed() > READY_LIMIT {
                bail!(
                    "coredns not ready after {READY_LIMIT:?}:\n{}",
                    self.log_tail()
                );
            }
            std::thread::sleep(Duration::from_millis(200));
        }
    }

    pub fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        format!(
            "---- coredns.log (last lines)\n{}\n",
            lines[lines.len().saturating_sub(20)..].join("\n")
        )
    }
}

impl Drop for ClusterDns {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            stop_child(&mut c, Duration::from_secs(5));
        }
    }
}

fn corefile_text(ip: Ipv4Addr, ready_port: u16, kubeconfig: &Path) -> String {
    format!(
        "cluster.local:53 {{
    bind {ip}
    errors
    ready 127.0.0.1:{ready_port}
    kubernetes cluster.local {{
        kubeconfig {kubeconfig}
        pods insecure
    }}
}}
",
        kubeconfig = kubeconfig.display()
    )
}

/// `GET /ready` on CoreDNS's ready plugin answers 200.
fn ready_answers(port: u16) -> bool {
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return false;
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(2)));
    if s.write_all(b"GET /ready HTTP/1.0\r\nHost: localhost\r\n\r\n")
        .is_err()
    {
        return false;
    }
    let mut reply = String::new();
    let _ = s.read_to_string(&mut reply);
    reply.starts_with("HTTP/1.1 200") || reply.starts_with("HTTP/1.0 200")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_corefile_serves_only_the_cluster_zone_on_the_node_ip() {
        let text = corefile_text(
            Ipv4Addr::new(10, 208, 3, 1),
            4321,
            Path::new("/tmp/kc/admin.kubeconfig"),
        );
        assert!(text.starts_with("cluster.local:53 {"), "{text}");
        assert!(text.contains("bind 10.208.3.1"), "{text}");
        assert!(
            text.contains("kubeconfig /tmp/kc/admin.kubeconfig"),
            "{text}"
        );
        assert!(text.contains("ready 127.0.0.1:4321"), "{text}");
        assert!(
            !text.contains("forward"),
            "no forwarding off the machine: {text}"
        );
    }
}
