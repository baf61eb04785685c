//! Spin runtime config files (`spin up --runtime-config-file`, SpinKube's
//! `/runtime-config.toml`): key-value stores, SQLite databases, variables
//! providers and the state/log directories.
//!
//! Backends Spin has but this runtime lacks come in two flavours:
//! - ones SpinKube's operator writes into the generated file (key-value
//!   `azure_cosmos`/`aws_dynamo`, sqlite `libsql`, `[llm_compute]`) parse into
//!   [`UnsupportedBackend`] so that an app which never uses them still starts;
//!   [`RuntimeConfig::check_app`] turns them into errors when a component is
//!   granted the label;
//! - the rest (`vault`/`azure_key_vault` variables providers, `[outbound_http]`,
//!   `[[client_tls]]`) fail at parse time, since silently ignoring them would
//!   change what the app sees.

mod error;
mod parse;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use crate::app::LockedApp;

pub use error::RuntimeConfigError;

/// The store every component may be granted without configuring it.
pub const DEFAULT_LABEL: &str = "default";
/// Spin's file name for the implicit `default` key-value store in the state dir.
pub const DEFAULT_KV_FILENAME: &str = "sqlite_key_value.db";
/// Spin's file name for the implicit `default` SQLite database in the state dir.
pub const DEFAULT_SQLITE_FILENAME: &str = "sqlite_db.db";
/// Spin's state dir for a local app: `<app dir>/.spin`.
pub const DEFAULT_STATE_DIR: &str = ".spin";

/// A parsed runtime config file; `Default` is what Spin uses when no file is given.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RuntimeConfig {
    /// `[key_value_store.<label>]` tables, by label.
    pub key_value_stores: BTreeMap<String, KeyValueStoreConfig>,
    /// `[sqlite_database.<label>]` tables, by label.
    pub sqlite_databases: BTreeMap<String, SqliteDatabaseConfig>,
    /// `[[variables_provider]]` (or the legacy `[[config_provider]]`) in file order.
    pub variables_providers: Vec<VariablesProviderConfig>,
    /// As written (Spin resolves it against the working directory, not the
    /// file). An empty path means "explicitly unset": default stores in memory.
    pub state_dir: Option<PathBuf>,
    /// As written; an empty path disables logging to files.
    pub log_dir: Option<PathBuf>,
    /// Bytes per instance (a spinkube extension; Spin takes it as a flag only).
    pub max_instance_memory: Option<usize>,
    /// `[llm_compute]`: accepted so SpinKube configs load, but not implemented.
    pub llm_compute: Option<UnsupportedBackend>,
}

/// Backend of a `[key_value_store.<label>]` (`type = "spin"` or `"redis"`).
#[derive(Clone, PartialEq, Eq)]
pub enum KeyValueStoreConfig {
    /// SQLite file; relative paths are already resolved against the config
    /// file's directory. `None` means in memory.
    Spin {
        /// SQLite file of the store.
        path: Option<PathBuf>,
    },
    /// `type = "redis"`: a Redis server holds the store.
    Redis {
        /// Redis URL, `redis://host[:port][/db]`.
        url: String,
    },
    /// A backend Spin has but this runtime lacks (`azure_cosmos`, `aws_dynamo`); fails only when
    /// granted.
    Unsupported(UnsupportedBackend),
}

/// Backend of a `[sqlite_database.<label>]` (`type = "spin"`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SqliteDatabaseConfig {
    /// Relative paths are resolved against the config file's directory; `None` = in memory.
    Spin {
        /// SQLite file of the database.
        path: Option<PathBuf>,
    },
    /// A backend Spin has but this runtime lacks (`libsql`); fails only when granted.
    Unsupported(UnsupportedBackend),
}

/// One `[[variables_provider]]` entry.
#[derive(Clone, PartialEq, Eq)]
pub enum VariablesProviderConfig {
    /// `dotenv_path` is kept as written: Spin opens it relative to the working directory.
    Env {
        /// Env var prefix; `SPIN_VARIABLE` when absent (`api_key` → `SPIN_VARIABLE_API_KEY`).
        prefix: Option<String>,
        /// Optional `.env` file read as a fallback for the environment.
        dotenv_path: Option<PathBuf>,
    },
    /// `type = "static"`: values written in the config file itself.
    Static {
        /// Variable values by name.
        values: BTreeMap<String, String>,
    },
}

/// A backend Spin knows that this runtime does not implement yet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UnsupportedBackend {
    /// The runtime config file that names the backend.
    pub file: PathBuf,
    /// Dotted key of the offending `type`, e.g. `sqlite_database.default.type`.
    pub key: String,
    /// The unsupported `type` value, e.g. `libsql`.
    pub kind: String,
    /// What would work instead, for the error message.
    pub supported: &'static str,
}

impl UnsupportedBackend {
    /// The error to report when a component is granted this backend's label.
    pub fn error(&self) -> RuntimeConfigError {
        RuntimeConfigError::Unsupported {
            file: self.file.clone(),
            key: self.key.clone(),
            what: format!(" = {:?}", self.kind),
            hint: format!("supported: {}", self.supported),
        }
    }
}

/// Parses runtime config text; `file` is used for messages and as the base of relative paths.
pub fn parse(text: &str, file: &Path) -> Result<RuntimeConfig, RuntimeConfigError> {
    parse::parse(text, file)
}

/// Reads and parses a runtime config file (see [`parse`]).
pub fn load(file: &Path) -> Result<RuntimeConfig, RuntimeConfigError> {
    let text = std::fs::read_to_string(file).map_err(|error| RuntimeConfigError::Read {
        file: file.to_owned(),
        error,
    })?;
    parse(&text, file)
}

impl RuntimeConfig {
    /// File of the `default` key-value store: the configured Spin path, else
    /// `<state_dir>/sqlite_key_value.db`. Only meaningful when `default` is a
    /// Spin store; [`Self::key_value_store`] gives the whole picture.
    pub fn default_kv_path(&self, state_dir: &Path) -> PathBuf {
        match self.key_value_stores.get(DEFAULT_LABEL) {
            Some(KeyValueStoreConfig::Spin { path: Some(path) }) => path.clone(),
            _ => state_dir.join(DEFAULT_KV_FILENAME),
        }
    }

    /// File of the `default` SQLite database, like [`Self::default_kv_path`].
    pub fn default_sqlite_path(&self, state_dir: &Path) -> PathBuf {
        match self.sqlite_databases.get(DEFAULT_LABEL) {
            Some(SqliteDatabaseConfig::Spin { path: Some(path) }) => path.clone(),
            _ => state_dir.join(DEFAULT_SQLITE_FILENAME),
        }
    }

    /// The store behind `label`, including Spin's implicit `default` (a SQLite
    /// file in the state dir, or in memory without a state dir).
    pub fn key_value_store(
        &self,
        label: &str,
        state_dir: Option<&Path>,
    ) -> Option<KeyValueStoreConfig> {
        match self.key_value_stores.get(label) {
            Some(store) => Some(store.clone()),
            None if label == DEFAULT_LABEL => Some(KeyValueStoreConfig::Spin {
                path: state_dir.map(|d| d.join(DEFAULT_KV_FILENAME)),
            }),
            None => None,
        }
    }

    /// The database behind `label`, including Spin's implicit `default`.
    pub fn sqlite_database(
        &self,
        label: &str,
        state_dir: Option<&Path>,
    ) -> Option<SqliteDatabaseConfig> {
        match self.sqlite_databases.get(label) {
            Some(db) => Some(db.clone()),
            None if label == DEFAULT_LABEL => Some(SqliteDatabaseConfig::Spin {
                path: state_dir.map(|d| d.join(DEFAULT_SQLITE_FILENAME)),
            }),
            None => None,
        }
    }

    /// Spin's order: `--state-dir`, then the file's `state_dir`, then
    /// `<app dir>/.spin` for a local app. An empty value means no state dir.
    pub fn effective_state_dir(
        &self,
        cli: Option<&Path>,
        app_dir: Option<&Path>,
    ) -> Option<PathBuf> {
        match cli.or(self.state_dir.as_deref()) {
            Some(dir) if dir.as_os_str().is_empty() => None,
            Some(dir) => Some(dir.to_owned()),
            None => app_dir.map(|d| d.join(DEFAULT_STATE_DIR)),
        }
    }

    /// Spin's order: `--log-dir`, the file's `log_dir`, then `<state dir>/logs`.
    pub fn effective_log_dir(
        &self,
        cli: Option<&Path>,
        state_dir: Option<&Path>,
    ) -> Option<PathBuf> {
        match cli.or(self.log_dir.as_deref()) {
            Some(dir) if dir.as_os_str().is_empty() => None,
            Some(dir) => Some(dir.to_owned()),
            None => state_dir.map(|d| d.join("logs")),
        }
    }

    /// Startup check like Spin's: every granted store/database label must be
    /// defined, and granted backends must be implemented.
    pub fn check_app(&self, app: &LockedApp) -> Result<(), RuntimeConfigError> {
        for c in &app.components {
            for label in c.metadata_strings("key_value_stores") {
                match self.key_value_store(&label, None) {
                    Some(KeyValueStoreConfig::Unsupported(u)) => return Err(u.error()),
                    Some(_) => {}
                    None => return Err(undefined(&c.id, &label, true)),
                }
            }
            for label in c.metadata_strings("databases") {
                match self.sqlite_database(&label, None) {
                    Some(SqliteDatabaseConfig::Unsupported(u)) => return Err(u.error()),
                    Some(_) => {}
                    None => return Err(undefined(&c.id, &label, false)),
                }
            }
            if let Some(llm) = &self.llm_compute {
                if !c.metadata_strings("ai_models").is_empty() {
                    return Err(llm.error());
                }
            }
        }
        Ok(())
    }
}

fn undefined(component: &str, label: &str, kv: bool) -> RuntimeConfigError {
    let (kind, grant, section) = if kv {
        ("key-value store", "key_value_stores", "key_value_store")
    } else {
        ("SQLite database", "sqlite_databases", "sqlite_database")
    };
    RuntimeConfigError::UndefinedLabel {
        component: component.to_owned(),
        kind,
        label: label.to_owned(),
        grant,
        section,
    }
}

// Redis URLs may carry a password: keep it out of logs and panics.
impl fmt::Debug for KeyValueStoreConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Spin { path } => f.debug_struct("Spin").field("path", path).finish(),
            Self::Redis { url } => f
                .debug_struct("Redis")
                .field("url", &redact_url(url))
                .finish(),
            Self::Unsupported(u) => f.debug_tuple("Unsupported").field(u).finish(),
        }
    }
}

// Static provider values are often secrets: show only the names.
impl fmt::Debug for VariablesProviderConfig {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::Env {
                prefix,
                dotenv_path,
            } => f
                .debug_struct("Env")
                .field("prefix", prefix)
                .field("dotenv_path", dotenv_path)
                .finish(),
            Self::Static { values } => f
                .debug_struct("Static")
                .field("names", &values.keys().collect::<Vec<_>>())
                .finish(),
        }
    }
}

/// `redis://user:secret@host` → `redis://user:***@host`.
pub fn redact_url(raw: &str) -> String {
    match url::Url::parse(raw) {
        Ok(mut url) => {
            if url.password().is_some() {
                // Only fails for cannot-be-a-base URLs, which have no password.
                let _ = url.set_password(Some("***"));
            }
            url.to_string()
        }
        Err(_) => "<unparsable url>".to_owned(),
    }
}
