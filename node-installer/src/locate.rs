//! Which file on the node holds containerd's config, and which file we edit: the config itself,
//! or for k3s and rke2 (which write their containerd config on every start) the template they
//! read it from.

use std::path::{Path, PathBuf};

use anyhow::{bail, Result};

use crate::config_edit::{self, Format};
use crate::host::Host;

pub const DEFAULT_CONFIG: &str = "/etc/containerd/config.toml";
const K3S_CONFIG: &str = "/var/lib/rancher/k3s/agent/etc/containerd/config.toml";
const RKE2_CONFIG: &str = "/var/lib/rancher/rke2/agent/etc/containerd/config.toml";
/// Looked for in this order when no path is given: the distributions first, as their nodes may
/// also carry an unused /etc/containerd/config.toml.
const CANDIDATES: &[&str] = &[K3S_CONFIG, RKE2_CONFIG, DEFAULT_CONFIG];

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Target {
    /// Edit containerd's config in place.
    Config { config: PathBuf },
    /// k3s/rke2: containerd reads `generated`, which is rewritten from `template` (created if
    /// missing) on every start.
    Template {
        generated: PathBuf,
        template: PathBuf,
    },
}

impl Target {
    /// The config containerd is started with (`--config`).
    pub fn containerd_config(&self) -> &Path {
        match self {
            Target::Config { config } => config,
            Target::Template { generated, .. } => generated,
        }
    }

    /// The file the installer writes.
    pub fn edited(&self) -> &Path {
        match self {
            Target::Config { config } => config,
            Target::Template { template, .. } => template,
        }
    }
}

/// Finds the config: `explicit` (a host path) if given, else the first candidate that exists.
pub fn locate(host: &Host, explicit: Option<&Path>) -> Result<Target> {
    let config = match explicit {
        Some(path) => {
            if !host.exists(path) {
                bail!(
                    "no containerd config at {} on this node (nodeInstaller.containerdConfig); \
                     point it at the file containerd is started with (`--config`), or leave it \
                     empty to look in {}",
                    path.display(),
                    CANDIDATES.join(", ")
                );
            }
            path.to_path_buf()
        }
        None => match CANDIDATES.iter().map(Path::new).find(|p| host.exists(p)) {
            Some(p) => p.to_path_buf(),
            None => bail!(
                "no containerd config found on this node (looked in {}); if containerd runs on \
                 its built-in defaults, write them out first (`containerd config default > \
                 {DEFAULT_CONFIG}`), or set nodeInstaller.containerdConfig to the file it is \
                 started with",
                CANDIDATES.join(", ")
            ),
        },
    };
    if !is_generated_by_rancher(&config) {
        return Ok(Target::Config { config });
    }
    let format = config_edit::format_of(&host.read(&config)?).map_err(|e| {
        anyhow::anyhow!(
            "cannot read {} as a containerd config: {e}",
            config.display()
        )
    })?;
    let dir = config.parent().unwrap_or(Path::new("/"));
    let existing = |name: &str| host.exists(&dir.join(name));
    let name = template_name(
        format,
        existing("config-v3.toml.tmpl"),
        existing("config.toml.tmpl"),
    );
    Ok(Target::Template {
        template: dir.join(name),
        generated: config,
    })
}

fn is_generated_by_rancher(config: &Path) -> bool {
    config.starts_with("/var/lib/rancher/") && config.ends_with("agent/etc/containerd/config.toml")
}

/// k3s/rke2 read `config-v3.toml.tmpl` for containerd 2.x and `config.toml.tmpl` for 1.x (and,
/// lacking the v3 one, for 2.x too): use the one there is, else the one for this version.
fn template_name(format: Format, v3_exists: bool, v2_exists: bool) -> &'static str {
    match (format, v3_exists, v2_exists) {
        (Format::V3, true, _) => "config-v3.toml.tmpl",
        (_, _, true) => "config.toml.tmpl",
        (Format::V3, false, false) => "config-v3.toml.tmpl",
        (Format::V2, _, false) => "config.toml.tmpl",
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn host_with(files: &[(&str, &str)]) -> (tempfile::TempDir, Host) {
        let dir = tempfile::tempdir().unwrap();
        for (path, text) in files {
            let p = dir.path().join(path.trim_start_matches('/'));
            std::fs::create_dir_all(p.parent().unwrap()).unwrap();
            std::fs::write(p, text).unwrap();
        }
        let host = Host::new(dir.path());
        (dir, host)
    }

    #[test]
    fn plain_containerd_is_edited_in_place() {
        let (_d, host) = host_with(&[(DEFAULT_CONFIG, "version = 3\n")]);
        assert_eq!(
            locate(&host, None).unwrap(),
            Target::Config {
                config: DEFAULT_CONFIG.into()
            }
        );
        let (_d, host) = host_with(&[("/srv/ctd/config.toml", "version = 3\n")]);
        let explicit = Path::new("/srv/ctd/config.toml");
        assert_eq!(locate(&host, Some(explicit)).unwrap().edited(), explicit);
    }

    #[test]
    fn k3s_and_rke2_get_a_template() {
        let (_d, host) = host_with(&[
            (K3S_CONFIG, "version = 3\n"),
            (DEFAULT_CONFIG, "version = 2\n"),
        ]);
        let t = locate(&host, None).unwrap();
        assert_eq!(t.containerd_config(), Path::new(K3S_CONFIG));
        assert_eq!(
            t.edited(),
            Path::new("/var/lib/rancher/k3s/agent/etc/containerd/config-v3.toml.tmpl")
        );
        let (_d, host) = host_with(&[
            (RKE2_CONFIG, "version = 3\n"),
            (
                "/var/lib/rancher/rke2/agent/etc/containerd/config.toml.tmpl",
                "{{ template \"base\" . }}\n",
            ),
        ]);
        assert_eq!(
            locate(&host, None).unwrap().edited(),
            Path::new("/var/lib/rancher/rke2/agent/etc/containerd/config.toml.tmpl")
        );
        assert_eq!(template_name(Format::V2, false, false), "config.toml.tmpl");
        assert_eq!(template_name(Format::V3, true, true), "config-v3.toml.tmpl");
    }

    #[test]
    fn no_config_names_where_it_looked_and_what_to_do() {
        let (_d, host) = host_with(&[]);
        let err = locate(&host, None).unwrap_err().to_string();
        assert!(
            err.contains(DEFAULT_CONFIG) && err.contains("containerd config default"),
            "{err}"
        );
        let err = locate(&host, Some(Path::new("/x/config.toml")))
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("/x/config.toml") && err.contains("nodeInstaller.containerdConfig"),
            "{err}"
        );
    }
}
