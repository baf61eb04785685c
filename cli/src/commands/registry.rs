//! Shared by `push`, `pull` and `up --from REF`: registry flags, progress bars, and telling a
//! local path from an image reference.

use std::io::{IsTerminal, Read};
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use clap::Args;
use spinkube_runtime::app::LockedApp;
use spinkube_runtime::oci::{self, BlobCache, Credentials, RegistryClient, RegistryOptions};

#[derive(Args, Debug, Clone, Default)]
pub struct RegistryArgs {
    /// Use plain HTTP for the registry (loopback registries such as 127.0.0.1:5000 always do)
    #[arg(long)]
    pub insecure: bool,

    /// Registry user name (default: the Docker config's `auths` entry, else anonymous)
    #[arg(long, requires = "password_stdin")]
    pub username: Option<String>,

    /// Read the registry password from standard input
    #[arg(long, requires = "username")]
    pub password_stdin: bool,
}

impl RegistryArgs {
    pub fn options(&self) -> Result<RegistryOptions> {
        let credentials = match &self.username {
            Some(username) => {
                let mut password = String::new();
                std::io::stdin()
                    .read_to_string(&mut password)
                    .context("--password-stdin: reading the password from standard input")?;
                let password = password.trim_end_matches(['\r', '\n']).to_string();
                if password.is_empty() {
                    bail!("--password-stdin: standard input was empty; pipe the password in, e.g. `echo \"$PW\" | spinkube ... --password-stdin`");
                }
                Some(Credentials::Basic {
                    username: username.clone(),
                    password,
                })
            }
            None => None,
        };
        Ok(RegistryOptions {
            insecure: self.insecure,
            credentials,
        })
    }
}

/// Where `up -f X` / `push -f X` reads an app from.
#[derive(Debug, PartialEq, Eq)]
pub enum AppSource {
    Path(PathBuf),
    Registry(String),
}

/// An existing path always wins; otherwise a reference that names its registry
/// (`host.domain/...`, `host:port/...`, `localhost/...`) is pulled; anything else is a path
/// (and fails later with a "cannot read spin.toml" error).
pub fn app_source(from: &Path) -> AppSource {
    if from.exists() {
        return AppSource::Path(from.to_path_buf());
    }
    let s = from.to_string_lossy();
    match s.split_once('/') {
        Some((host, rest))
            if !rest.is_empty()
                && (host.contains('.') || host.contains(':') || host == "localhost")
                && !host.starts_with('.')
                && oci::client::parse_reference(&s).is_ok() =>
        {
            AppSource::Registry(s.into_owned())
        }
        _ => AppSource::Path(from.to_path_buf()),
    }
}

pub fn cache() -> Result<BlobCache> {
    Ok(BlobCache::default_location()?)
}

/// Pulls `reference` (reusing cached blobs) and builds its app with files under `files_root`.
pub async fn load_remote(
    reference: &str,
    args: &RegistryArgs,
    files_root: &Path,
) -> Result<LockedApp> {
    let client = RegistryClient::new(reference, &args.options()?)?;
    let cache = cache()?;
    let bar = Bar::new("pulling");
    let pulled = client.pull(&cache, &bar).await?;
    tracing::info!(
        "{reference}@{}: {} blobs downloaded, {} from cache",
        pulled.digest,
        pulled.layers_downloaded,
        pulled.layers_cached
    );
    let app = oci::load_app(
        &pulled.manifest,
        &cache,
        files_root,
        client.reference().repository(),
    )?;
    Ok(app)
}

/// A byte progress bar on a terminal; nothing otherwise.
pub struct Bar(Option<indicatif::ProgressBar>);

impl Bar {
    pub fn new(label: &'static str) -> Self {
        if !std::io::stdout().is_terminal() {
            return Bar(None);
        }
        let bar = indicatif::ProgressBar::new(0);
        bar.set_style(
            indicatif::ProgressStyle::with_template(
                "{msg} [{bar:30}] {bytes}/{total_bytes} {bytes_per_sec}",
            )
            .unwrap_or_else(|_| indicatif::ProgressStyle::default_bar())
            .progress_chars("=> "),
        );
        bar.set_message(label);
        Bar(Some(bar))
    }
}

impl oci::Progress for Bar {
    fn start(&self, total: u64) {
        if let Some(b) = &self.0 {
            b.set_length(total);
        }
    }
    fn advance(&self, bytes: u64) {
        if let Some(b) = &self.0 {
            b.inc(bytes);
        }
    }
    fn finish(&self) {
        if let Some(b) = &self.0 {
            b.finish_and_clear();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_references() {
        let reg = |s: &str| AppSource::Registry(s.into());
        let path = |s: &str| AppSource::Path(s.into());
        assert_eq!(
            app_source(Path::new("127.0.0.1:5000/app:v1")),
            reg("127.0.0.1:5000/app:v1")
        );
        assert_eq!(app_source(Path::new("ghcr.io/org/app@sha256:0000000000000000000000000000000000000000000000000000000000000000")),
            reg("ghcr.io/org/app@sha256:0000000000000000000000000000000000000000000000000000000000000000"));
        assert_eq!(app_source(Path::new("localhost/app")), reg("localhost/app"));
        assert_eq!(app_source(Path::new("spin.toml")), path("spin.toml"));
        assert_eq!(app_source(Path::new("apps/hello")), path("apps/hello"));
        assert_eq!(
            app_source(Path::new("../x/spin.toml")),
            path("../x/spin.toml")
        );
        // An existing directory wins over a reference-looking name.
        let dir = tempfile::tempdir().unwrap();
        let odd = dir.path().join("example.com");
        std::fs::create_dir_all(odd.join("app")).unwrap();
        let p = odd.join("app");
        assert_eq!(app_source(&p), AppSource::Path(p.clone()));
    }
}
