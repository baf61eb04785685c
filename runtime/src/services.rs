//! Turns a locked app plus runtime config into the backends its components
//! use (key-value stores, SQLite databases, variables), checking up front
//! everything that would otherwise fail on the first request.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context, Result};

use crate::app::LockedApp;
use crate::host::key_value::{KeyValueStores, StoreBackendConfig};
use crate::host::sqlite::Databases;
use crate::host::AppServices;
use crate::runtime_config::{KeyValueStoreConfig, RuntimeConfig, SqliteDatabaseConfig};
use crate::variables::{providers_from_config, Resolver};

/// SQLite's name for a database that lives only in memory.
const IN_MEMORY: &str = ":memory:";

/// Where an app's backends are configured (`spinkube up` flags or the shim's environment).
#[derive(Debug, Default, Clone)]
pub struct ServiceOptions {
    /// `--runtime-config-file`.
    pub runtime_config_file: Option<PathBuf>,
    /// `--state-dir`.
    pub state_dir: Option<PathBuf>,
    /// Directory of spin.toml (default state dir is `<app dir>/.spin`).
    pub app_dir: Option<PathBuf>,
    /// `--variable k=v`.
    pub variables: BTreeMap<String, String>,
    /// Environment the `env` variables providers read (the shim passes the container's);
    /// `None` reads the process environment.
    pub env: Option<BTreeMap<String, String>>,
}

/// The backends of one app, opened and checked.
pub struct Opened {
    /// Services shared by every component instance.
    pub services: Arc<AppServices>,
    /// The runtime config in effect (parsed file, or Spin's defaults).
    pub runtime_config: RuntimeConfig,
    /// The state dir used for `default` stores, if any (`<app dir>/.spin` unless overridden).
    pub state_dir: Option<PathBuf>,
}

/// Loads the runtime config and opens the stores, databases and variables the app uses.
pub fn open(app: &LockedApp, opts: &ServiceOptions) -> Result<Opened> {
    let rc = match &opts.runtime_config_file {
        Some(file) => crate::runtime_config::load(file)?,
        None => RuntimeConfig::default(),
    };
    rc.check_app(app)?;
    let state_dir = rc.effective_state_dir(opts.state_dir.as_deref(), opts.app_dir.as_deref());
    let providers = providers_from_config(&rc.variables_providers, None)?;
    let resolver = match &opts.env {
        Some(env) => Resolver::with_env_map(app, providers, opts.variables.clone(), env)?,
        None => Resolver::new(app, providers, opts.variables.clone())?,
    };
    resolver.validate()?;

    let kv = KeyValueStores::new(
        labels(app, "key_value_stores", rc.key_value_stores.keys()).filter_map(|label| {
            let cfg = match rc.key_value_store(&label, state_dir.as_deref())? {
                KeyValueStoreConfig::Spin { path } => StoreBackendConfig::Sqlite {
                    path: path_or_memory(path),
                },
                KeyValueStoreConfig::Redis { url } => StoreBackendConfig::Redis { url },
                KeyValueStoreConfig::Unsupported(_) => return None, // rejected by check_app
            };
            Some((label, cfg))
        }),
    );
    let sqlite = Databases::new(
        labels(app, "databases", rc.sqlite_databases.keys()).filter_map(|label| {
            match rc.sqlite_database(&label, state_dir.as_deref())? {
                SqliteDatabaseConfig::Spin { path } => Some((label, path_or_memory(path))),
                SqliteDatabaseConfig::Unsupported(_) => None,
            }
        }),
    );
    if let Some(dir) = &state_dir {
        std::fs::create_dir_all(dir)
            .with_context(|| format!("creating state directory {}", dir.display()))?;
    }
    Ok(Opened {
        services: Arc::new(AppServices::new(kv, sqlite, resolver)),
        runtime_config: rc,
        state_dir,
    })
}

/// Every label components are granted, plus every label the runtime config defines.
fn labels<'a>(
    app: &LockedApp,
    metadata_key: &str,
    configured: impl Iterator<Item = &'a String>,
) -> impl Iterator<Item = String> {
    let mut all: BTreeSet<String> = configured.cloned().collect();
    for c in &app.components {
        all.extend(c.metadata_strings(metadata_key));
    }
    all.into_iter()
}

fn path_or_memory(path: Option<PathBuf>) -> PathBuf {
    path.unwrap_or_else(|| Path::new(IN_MEMORY).to_path_buf())
}
