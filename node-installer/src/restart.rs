//! Restarting the node's containerd so it reads the new config. The pod shares the host's PID
//! namespace (`hostPID`): containerd is found by its command line, and restarted through its
//! systemd unit when it has one (the unit also covers k3s and rke2, which run containerd
//! themselves), else with SIGTERM to whatever supervises it. Either way we wait until a new
//! containerd answers on its socket.

use std::os::unix::process::CommandExt;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{bail, Context, Result};

use crate::host::Host;
use crate::locate::DEFAULT_CONFIG;

/// How long a restarted containerd may take to answer.
const BACK_LIMIT: Duration = Duration::from_secs(120);
const POLL: Duration = Duration::from_millis(200);
const DEFAULT_SOCKET: &str = "/run/containerd/containerd.sock";

/// A running containerd.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Daemon {
    pub pid: u32,
    /// The systemd unit it runs in, if any (`containerd.service`, `k3s.service`...).
    pub unit: Option<String>,
}

/// The containerd started with `config` (a host path), among the host's processes.
pub fn find(config: &Path) -> Option<Daemon> {
    let entries = std::fs::read_dir("/proc").ok()?;
    for entry in entries.flatten() {
        let Ok(pid) = entry.file_name().to_string_lossy().parse::<u32>() else {
            continue;
        };
        let dir = entry.path();
        let comm = std::fs::read_to_string(dir.join("comm")).unwrap_or_default();
        if comm.trim() != "containerd" {
            continue;
        }
        let cmdline = std::fs::read(dir.join("cmdline")).unwrap_or_default();
        let args: Vec<String> = cmdline
            .split(|b| *b == 0)
            .map(|a| String::from_utf8_lossy(a).into_owned())
            .collect();
        if config_arg(&args).unwrap_or(DEFAULT_CONFIG) != config.to_string_lossy() {
            continue;
        }
        let cgroup = std::fs::read_to_string(dir.join("cgroup")).unwrap_or_default();
        return Some(Daemon {
            pid,
            unit: systemd_unit(&cgroup),
        });
    }
    None
}

/// The value of containerd's `--config`/`-c` flag.
fn config_arg(args: &[String]) -> Option<&str> {
    let mut it = args.iter().skip(1);
    while let Some(a) = it.next() {
        if a == "--config" || a == "-c" {
            return it.next().map(String::as_str);
        }
        if let Some(v) = a
            .strip_prefix("--config=")
            .or_else(|| a.strip_prefix("-c="))
        {
            return Some(v);
        }
    }
    None
}

/// The systemd service a process runs in, from its `/proc/PID/cgroup`.
fn systemd_unit(cgroup: &str) -> Option<String> {
    cgroup
        .lines()
        .filter_map(|l| l.splitn(3, ':').nth(2))
        .flat_map(|path| path.split('/'))
        .find(|seg| seg.ends_with(".service"))
        .map(str::to_string)
}

/// containerd's socket: `[grpc] address` in its config, or the default.
pub fn socket_of(config_text: &str) -> PathBuf {
    config_text
        .parse::<toml::Table>()
        .ok()
        .and_then(|t| t.get("grpc")?.get("address")?.as_str().map(PathBuf::from))
        .filter(|p| !p.as_os_str().is_empty())
        .unwrap_or_else(|| PathBuf::from(DEFAULT_SOCKET))
}

/// Restarts the containerd started with `config` and waits for the new one to answer on
/// `socket` (a host path).
pub fn restart(host: &Host, config: &Path, socket: &Path) -> Result<()> {
    let Some(old) = find(config) else {
        bail!(
            "no containerd process started with {} runs on this node (the pod needs hostPID); \
             the config is updated, restart containerd yourself to use it",
            config.display()
        );
    };
    match &old.unit {
        Some(unit) => systemctl_restart(unit)?,
        None => {
            tracing::info!(
                pid = old.pid,
                "no systemd unit: sending SIGTERM to containerd for its supervisor to restart it"
            );
            // SAFETY: kill(2) with a pid read from /proc.
            if unsafe { libc::kill(old.pid as libc::pid_t, libc::SIGTERM) } != 0 {
                bail!(
                    "cannot signal containerd (pid {}): {}",
                    old.pid,
                    std::io::Error::last_os_error()
                );
            }
        }
    }
    let started = Instant::now();
    loop {
        let new = find(config).filter(|d| d.pid != old.pid);
        if new.is_some() && std::os::unix::net::UnixStream::connect(host.path(socket)).is_ok() {
            return Ok(());
        }
        if started.elapsed() > BACK_LIMIT {
            bail!(
                "containerd (pid {}) did not come back within {BACK_LIMIT:?} after the restart; \
                 nothing restarted it (is it supervised, e.g. by systemd?)",
                old.pid
            );
        }
        std::thread::sleep(POLL);
    }
}

/// `systemctl restart UNIT` run in the host's mount namespace (the host's own systemctl, talking
/// to the host's systemd).
fn systemctl_restart(unit: &str) -> Result<()> {
    tracing::info!(unit, "restarting containerd through systemd");
    let mut cmd = std::process::Command::new("systemctl");
    cmd.args(["restart", unit]);
    // SAFETY: only async-signal-safe calls (open, setns, close) between fork and exec.
    unsafe {
        cmd.pre_exec(|| {
            let fd = libc::open(c"/proc/1/ns/mnt".as_ptr(), libc::O_RDONLY | libc::O_CLOEXEC);
            if fd < 0 {
                return Err(std::io::Error::last_os_error());
            }
            let r = libc::setns(fd, libc::CLONE_NEWNS);
            libc::close(fd);
            if r != 0 {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
    let status = cmd
        .status()
        .with_context(|| format!("cannot run `systemctl restart {unit}` on the node"))?;
    if !status.success() {
        bail!("`systemctl restart {unit}` on the node failed ({status})");
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn args(s: &str) -> Vec<String> {
        s.split(' ').map(String::from).collect()
    }

    #[test]
    fn the_config_flag_in_each_spelling() {
        assert_eq!(
            config_arg(&args("containerd --config /a.toml --log-level info")),
            Some("/a.toml")
        );
        assert_eq!(config_arg(&args("containerd -c /b.toml")), Some("/b.toml"));
        assert_eq!(
            config_arg(&args("containerd --config=/c.toml")),
            Some("/c.toml")
        );
        assert_eq!(config_arg(&args("/usr/bin/containerd")), None);
    }

    #[test]
    fn the_unit_comes_from_the_cgroup_path() {
        assert_eq!(
            systemd_unit("0::/system.slice/containerd.service\n").as_deref(),
            Some("containerd.service")
        );
        assert_eq!(
            systemd_unit(
                "12:pids:/system.slice/k3s.service\n11:memory:/system.slice/k3s.service\n"
            )
            .as_deref(),
            Some("k3s.service")
        );
        assert_eq!(systemd_unit("0::/\n"), None);
        assert_eq!(systemd_unit("0::/kubepods/besteffort/podabc/123\n"), None);
    }

    #[test]
    fn the_socket_is_read_from_the_config() {
        assert_eq!(
            socket_of("version = 3\n[grpc]\n  address = '/run/k3s/containerd/containerd.sock'\n"),
            Path::new("/run/k3s/containerd/containerd.sock")
        );
        assert_eq!(socket_of("version = 3\n"), Path::new(DEFAULT_SOCKET));
    }
}
