//! Redis outside the cluster, as a managed Redis is for most users: a `redis-server` on the
//! node's IP, reached from pods by a Service name through a selector-less Service whose
//! EndpointSlice points at it.

use std::net::{Ipv4Addr, SocketAddrV4};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};
use spinkube_testenv::{spawn_tied, stop_child};

/// How long a fresh server may take to answer PING.
const READY_LIMIT: Duration = Duration::from_secs(20);

pub struct HostRedis {
    pub addr: SocketAddrV4,
    child: Option<Child>,
    _dir: tempfile::TempDir,
}

impl HostRedis {
    /// A `redis-server` on `ip` and a free port, without persistence; waits for PING.
    pub fn start(ip: Ipv4Addr) -> Result<HostRedis> {
        let port = crate::node::free_port()?;
        let dir = tempfile::Builder::new()
            .prefix("spinkube-redis-")
            .tempdir()?;
        let mut cmd = Command::new("redis-server");
        cmd.args(["--bind", &ip.to_string(), "--port", &port.to_string()])
            .args(["--save", "", "--appendonly", "no", "--protected-mode", "no"])
            .arg("--dir")
            .arg(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::null());
        let child = spawn_tied(cmd)
            .context("starting redis-server (Debian package redis-server; e2e/install-tools.sh)")?;
        let redis = HostRedis {
            addr: SocketAddrV4::new(ip, port),
            child: Some(child),
            _dir: dir,
        };
        let started = Instant::now();
        while redis.connection().is_err() {
            if started.elapsed() > READY_LIMIT {
                bail!(
                    "redis-server on {} did not answer within {READY_LIMIT:?}",
                    redis.addr
                );
            }
            std::thread::sleep(Duration::from_millis(50));
        }
        Ok(redis)
    }

    pub fn url(&self) -> String {
        format!("redis://{}", self.addr)
    }

    pub fn connection(&self) -> Result<redis::Connection> {
        let client = redis::Client::open(self.url())?;
        let mut conn = client.get_connection_with_timeout(Duration::from_secs(5))?;
        redis::cmd("PING").query::<String>(&mut conn)?;
        Ok(conn)
    }

    /// `PUBLISH channel message`: how many subscribers got it.
    pub fn publish(&self, channel: &str, message: &str) -> Result<usize> {
        let mut conn = self.connection()?;
        Ok(redis::cmd("PUBLISH")
            .arg(channel)
            .arg(message)
            .query(&mut conn)?)
    }

    /// How many clients are subscribed to `channel` (`PUBSUB NUMSUB`).
    pub fn subscribers(&self, channel: &str) -> Result<usize> {
        let mut conn = self.connection()?;
        let reply: (String, usize) = redis::cmd("PUBSUB")
            .arg("NUMSUB")
            .arg(channel)
            .query(&mut conn)?;
        Ok(reply.1)
    }

    /// A Service `name` (port 6379) for pods, with no selector and one EndpointSlice pointing at
    /// this server.
    pub fn service_manifest(&self, name: &str) -> String {
        service_manifest(name, self.addr)
    }
}

impl Drop for HostRedis {
    fn drop(&mut self) {
        if let Some(mut c) = self.child.take() {
            stop_child(&mut c, Duration::from_secs(5));
        }
    }
}

fn service_manifest(name: &str, backend: SocketAddrV4) -> String {
    format!(
        "apiVersion: v1
kind: Service
metadata:
  name: {name}
spec:
  ports:
  - name: redis
    port: 6379
    targetPort: {port}
---
apiVersion: discovery.k8s.io/v1
kind: EndpointSlice
metadata:
  name: {name}-host
  labels:
    kubernetes.io/service-name: {name}
addressType: IPv4
ports:
- name: redis
  port: {port}
  protocol: TCP
endpoints:
- addresses: [\"{ip}\"]
  conditions:
    ready: true
",
        port = backend.port(),
        ip = backend.ip()
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_service_has_no_selector_and_its_slice_points_at_the_host() {
        let text = service_manifest(
            "redis",
            SocketAddrV4::new(Ipv4Addr::new(10, 208, 3, 1), 41234),
        );
        assert!(!text.contains("selector"), "{text}");
        assert!(text.contains("kubernetes.io/service-name: redis"), "{text}");
        assert!(text.contains("addresses: [\"10.208.3.1\"]"), "{text}");
        assert!(text.contains("port: 41234"), "{text}");
        assert!(text.contains("port: 6379"), "{text}");
    }
}
