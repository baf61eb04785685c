//! Readying one node and undoing it: the shim binary, the `spin` runtime in containerd's config
//! (with a backup of the original), and a containerd restart when the config changed. Nothing is
//! written before every check has passed, so a node the installer does not understand is left as
//! it was.

use std::path::{Path, PathBuf};

use anyhow::{Context, Result};

use crate::config_edit::{self, Added};
use crate::host::Host;
use crate::locate::{self, Target};
use crate::restart;
use crate::shim_install::{self, ShimChange, ShimSource, SHIM_NAME};

/// Where things go on the node (host paths).
#[derive(Debug, Clone)]
pub struct NodePaths {
    pub shim_dir: PathBuf,
    /// containerd's config; None looks in the usual places.
    pub containerd_config: Option<PathBuf>,
}

#[derive(Debug)]
pub struct Installed {
    pub shim: ShimChange,
    pub config_changed: bool,
    /// A `spin` runtime the config already had, kept as it is: (type, path).
    pub foreign: Option<(String, String)>,
    pub edited: PathBuf,
}

#[derive(Debug)]
pub struct Removed {
    pub config_changed: bool,
    pub shim_removed: bool,
}

/// The backup of a file's content before our first edit.
fn backup_of(path: &Path) -> PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(".spinkube-backup");
    PathBuf::from(name)
}

pub fn install(host: &Host, source: &ShimSource, paths: &NodePaths) -> Result<Installed> {
    let target = locate::locate(host, paths.containerd_config.as_deref())?;
    let shim_path = paths.shim_dir.join(SHIM_NAME);
    let before = match &target {
        Target::Config { config } => Some(host.read(config)?),
        Target::Template { template, .. } if host.exists(template) => Some(host.read(template)?),
        Target::Template { .. } => None,
    };
    let added = edit(
        host,
        &target,
        before.as_deref(),
        &shim_path.to_string_lossy(),
    )?;
    let shim = shim_install::install(host, source, &paths.shim_dir)?;
    let mut installed = Installed {
        shim,
        config_changed: false,
        foreign: None,
        edited: target.edited().to_path_buf(),
    };
    match added {
        Added::Unchanged => {}
        Added::Foreign {
            runtime_type,
            runtime_path,
        } => installed.foreign = Some((runtime_type, runtime_path)),
        Added::Changed(text) => {
            // The original, for cleanup to restore byte for byte (a file without our block is the
            // original; one with it was backed up when the block went in).
            if let Some(original) = before
                .as_deref()
                .filter(|b| config_edit::remove_runtime(b).is_none())
            {
                host.write_atomically(&backup_of(target.edited()), original)?;
            }
            host.write_atomically(target.edited(), &text)?;
            installed.config_changed = true;
            restart_containerd(host, &target)?;
        }
    }
    Ok(installed)
}

fn edit(host: &Host, target: &Target, before: Option<&str>, shim: &str) -> Result<Added> {
    let result = match target {
        Target::Config { .. } => config_edit::add_runtime(before.unwrap_or_default(), shim),
        Target::Template { generated, .. } => {
            config_edit::add_to_template(&host.read(generated)?, before, shim)
        }
    };
    result.map_err(|e| {
        anyhow::anyhow!(
            "cannot add the spin runtime to {}: {e}. The node is left as it was.",
            target.edited().display()
        )
    })
}

pub fn uninstall(host: &Host, paths: &NodePaths) -> Result<Removed> {
    let target = locate::locate(host, paths.containerd_config.as_deref())?;
    let edited = target.edited();
    let backup = backup_of(edited);
    let mut config_changed = false;
    if host.exists(edited) {
        let current = host.read(edited)?;
        if let Some(without) = config_edit::remove_runtime(&current) {
            let original = host.read(&backup).ok();
            let matches = |o: &String| o.trim_end() == without.trim_end();
            match (&target, original.filter(matches)) {
                (_, Some(original)) => host.write_atomically(edited, &original)?,
                (Target::Template { .. }, None)
                    if config_edit::template_is_ours_alone(&without) =>
                {
                    host.remove(edited)?;
                }
                (_, None) => host.write_atomically(edited, &without)?,
            }
            config_changed = true;
        }
    }
    host.remove(&backup)?;
    let shim_removed = host.remove(&paths.shim_dir.join(SHIM_NAME))?;
    // The directory goes too if we were its only user.
    let _ = std::fs::remove_dir(host.path(&paths.shim_dir));
    if config_changed {
        restart_containerd(host, &target)?;
    }
    Ok(Removed {
        config_changed,
        shim_removed,
    })
}

fn restart_containerd(host: &Host, target: &Target) -> Result<()> {
    let config = target.containerd_config();
    let socket = restart::socket_of(&host.read(config)?);
    restart::restart(host, config, &socket).with_context(|| {
        format!(
            "restarting containerd to load {}",
            target.edited().display()
        )
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use sha2::Digest;

    const CONFIG: &str = "/etc/containerd/config.toml";

    fn node(config: &str) -> (tempfile::TempDir, Host, ShimSource, NodePaths) {
        let root = tempfile::tempdir().unwrap();
        let host = Host::new(root.path());
        let cfg = root.path().join(CONFIG.trim_start_matches('/'));
        std::fs::create_dir_all(cfg.parent().unwrap()).unwrap();
        std::fs::write(&cfg, config).unwrap();
        let image = root.path().join("image");
        std::fs::create_dir_all(&image).unwrap();
        let shim = image.join(SHIM_NAME);
        std::fs::write(&shim, b"shim").unwrap();
        std::fs::write(
            shim.with_extension("sha256"),
            hex::encode(sha2::Sha256::digest(b"shim")),
        )
        .unwrap();
        let source = ShimSource::checked(&shim).unwrap();
        let paths = NodePaths {
            shim_dir: "/opt/spinkube/bin".into(),
            containerd_config: None,
        };
        (root, host, source, paths)
    }

    #[test]
    fn a_config_that_cannot_be_edited_leaves_the_node_untouched() {
        let (root, host, source, paths) = node("version = 2\n[plugins\n");
        let err = install(&host, &source, &paths).unwrap_err().to_string();
        assert!(
            err.contains(CONFIG) && err.contains("not valid TOML"),
            "{err}"
        );
        assert!(!root.path().join("opt/spinkube").exists(), "no shim copied");
        assert!(!host.exists(&backup_of(Path::new(CONFIG))));
        assert_eq!(
            host.read(Path::new(CONFIG)).unwrap(),
            "version = 2\n[plugins\n"
        );
    }

    #[test]
    fn an_existing_spin_runtime_is_reported_and_kept() {
        let text = include_str!("../testdata/existing-spin.toml");
        let (_root, host, source, paths) = node(text);
        let installed = install(&host, &source, &paths).unwrap();
        assert!(!installed.config_changed);
        assert_eq!(
            installed.foreign.unwrap().0,
            "/opt/kwasm/bin/containerd-shim-spin-v2"
        );
        assert_eq!(host.read(Path::new(CONFIG)).unwrap(), text);
    }

    #[test]
    fn uninstall_without_an_install_changes_nothing() {
        let (_root, host, _source, paths) = node("version = 3\n");
        let removed = uninstall(&host, &paths).unwrap();
        assert!(!removed.config_changed && !removed.shim_removed);
        assert_eq!(host.read(Path::new(CONFIG)).unwrap(), "version = 3\n");
    }
}
