//! The node's filesystem as the installer pod sees it: the host's `/` mounted at a root (the chart
//! mounts it at `/host`), so every host path is read and written through that prefix.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

#[derive(Debug, Clone)]
pub struct Host {
    root: PathBuf,
}

impl Host {
    pub fn new(root: impl Into<PathBuf>) -> Host {
        Host { root: root.into() }
    }

    /// Where the host's absolute `path` is in this pod.
    pub fn path(&self, path: &Path) -> PathBuf {
        self.root.join(path.strip_prefix("/").unwrap_or(path))
    }

    pub fn exists(&self, path: &Path) -> bool {
        self.path(path).exists()
    }

    pub fn read(&self, path: &Path) -> Result<String> {
        std::fs::read_to_string(self.path(path))
            .with_context(|| format!("cannot read {} on the node", path.display()))
    }

    /// Writes `text` to the host's `path` in one step (a temp file beside it, renamed over it), so
    /// containerd never reads half a file; the old file's permissions are kept.
    pub fn write_atomically(&self, path: &Path, text: &str) -> Result<()> {
        let target = self.path(path);
        let tmp = target.with_file_name(format!(
            ".{}.spinkube-tmp",
            target.file_name().unwrap_or_default().to_string_lossy()
        ));
        let fail = |e: std::io::Error| {
            anyhow::anyhow!(
                "cannot write {} on the node: {e}; the node is left as it was (is the host \
                 filesystem read-only, or the path wrong?)",
                path.display()
            )
        };
        std::fs::write(&tmp, text).map_err(fail)?;
        if let Ok(meta) = std::fs::metadata(&target) {
            std::fs::set_permissions(&tmp, meta.permissions()).map_err(fail)?;
        }
        std::fs::File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(fail)?;
        std::fs::rename(&tmp, &target).map_err(|e| {
            let _ = std::fs::remove_file(&tmp);
            fail(e)
        })
    }

    pub fn remove(&self, path: &Path) -> Result<bool> {
        match std::fs::remove_file(self.path(path)) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => {
                Err(e).with_context(|| format!("cannot remove {} on the node", path.display()))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn host_paths_are_under_the_root_and_writes_keep_the_mode() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let host = Host::new(dir.path());
        assert_eq!(
            host.path(Path::new("/etc/containerd/config.toml")),
            dir.path().join("etc/containerd/config.toml")
        );
        std::fs::create_dir_all(dir.path().join("etc")).unwrap();
        let file = dir.path().join("etc/c.toml");
        std::fs::write(&file, "old").unwrap();
        std::fs::set_permissions(&file, std::fs::Permissions::from_mode(0o600)).unwrap();
        host.write_atomically(Path::new("/etc/c.toml"), "new")
            .unwrap();
        assert_eq!(std::fs::read_to_string(&file).unwrap(), "new");
        assert_eq!(
            std::fs::metadata(&file).unwrap().permissions().mode() & 0o777,
            0o600
        );
        assert_eq!(
            std::fs::read_dir(dir.path().join("etc")).unwrap().count(),
            1,
            "no temp file left"
        );
        let err = host
            .write_atomically(Path::new("/nowhere/c.toml"), "x")
            .unwrap_err();
        assert!(err.to_string().contains("/nowhere/c.toml"), "{err}");
    }
}
