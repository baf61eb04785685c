//! Variable providers: where values come from besides `--variable` and defaults.

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use super::{dotenv, env_name, VariablesError};
use crate::runtime_config::VariablesProviderConfig;

/// Spin's env prefix: `api_key` is read from `SPIN_VARIABLE_API_KEY`.
pub const DEFAULT_ENV_PREFIX: &str = "SPIN_VARIABLE";

/// A source of app variable values, consulted in runtime-config order.
#[derive(Clone, PartialEq, Eq)]
pub enum Provider {
    /// Process environment first, then `dotenv` (same `<PREFIX>_<NAME>` keys).
    Env {
        /// Env var prefix, e.g. `SPIN_VARIABLE` (`api_key` → `SPIN_VARIABLE_API_KEY`).
        prefix: String,
        /// Key/value pairs read from the `.env` file, if any.
        dotenv: BTreeMap<String, String>,
    },
    /// `type = "static"` values from the runtime config.
    Static(BTreeMap<String, String>),
}

impl Provider {
    /// `base_dir` resolves a relative `dotenv_path`; `None` means the working
    /// directory, which is what Spin uses.
    pub fn from_config(
        cfg: &VariablesProviderConfig,
        base_dir: Option<&Path>,
    ) -> Result<Self, VariablesError> {
        match cfg {
            VariablesProviderConfig::Env {
                prefix,
                dotenv_path,
            } => {
                let dotenv = match dotenv_path {
                    Some(p) => load_dotenv(&resolve(base_dir, p))?,
                    None => BTreeMap::new(),
                };
                Ok(Provider::Env {
                    prefix: prefix.clone().unwrap_or_else(|| DEFAULT_ENV_PREFIX.into()),
                    dotenv,
                })
            }
            VariablesProviderConfig::Static { values } => Ok(Provider::Static(values.clone())),
        }
    }

    /// The provider Spin always adds last: `SPIN_VARIABLE_*` plus `.env` in
    /// `dir` (Spin: the working directory, i.e. `None`). A missing `.env` is
    /// normal; malformed lines are logged and skipped so startup still works.
    pub fn default_env(dir: Option<&Path>) -> Self {
        let path = resolve(dir, Path::new(".env"));
        let dotenv = match std::fs::read_to_string(&path) {
            Ok(text) => {
                let (entries, errors) = dotenv::parse(&text);
                for e in errors {
                    tracing::warn!("ignoring malformed entry in {}: {e}", path.display());
                }
                entries
            }
            Err(_) => BTreeMap::new(),
        };
        Provider::Env {
            prefix: DEFAULT_ENV_PREFIX.into(),
            dotenv,
        }
    }

    /// Looks `name` up; `env` reads the process environment (injectable for tests).
    pub(super) fn lookup(
        &self,
        name: &str,
        env: &EnvFn<'_>,
    ) -> Result<Option<String>, VariablesError> {
        match self {
            Provider::Env { prefix, dotenv } => {
                let key = env_name(prefix, name);
                Ok(env(&key)?.or_else(|| dotenv.get(&key).cloned()))
            }
            Provider::Static(values) => Ok(values.get(name).cloned()),
        }
    }
}

pub(super) type EnvFn<'a> = dyn Fn(&str) -> Result<Option<String>, VariablesError> + 'a;

pub(super) fn process_env(key: &str) -> Result<Option<String>, VariablesError> {
    match std::env::var(key) {
        Ok(v) => Ok(Some(v)),
        Err(std::env::VarError::NotPresent) => Ok(None),
        Err(std::env::VarError::NotUnicode(_)) => Err(VariablesError::Provider {
            provider: "env".into(),
            message: format!("environment variable {key} is not valid UTF-8"),
        }),
    }
}

/// The configured providers in order, then Spin's default env provider.
pub fn providers_from_config(
    cfgs: &[VariablesProviderConfig],
    base_dir: Option<&Path>,
) -> Result<Vec<Provider>, VariablesError> {
    let mut providers = cfgs
        .iter()
        .map(|c| Provider::from_config(c, base_dir))
        .collect::<Result<Vec<_>, _>>()?;
    providers.push(Provider::default_env(base_dir));
    Ok(providers)
}

fn resolve(base: Option<&Path>, p: &Path) -> PathBuf {
    match base {
        Some(base) => base.join(p),
        None => p.to_owned(),
    }
}

/// Like Spin, a configured dotenv file that does not exist is not an error.
fn load_dotenv(path: &Path) -> Result<BTreeMap<String, String>, VariablesError> {
    let text = match std::fs::read_to_string(path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            tracing::warn!("dotenv file {} not found; ignoring it", path.display());
            return Ok(BTreeMap::new());
        }
        Err(e) => return Err(provider_error(path, e.to_string())),
    };
    let (entries, errors) = dotenv::parse(&text);
    match errors.first() {
        None => Ok(entries),
        Some(first) => Err(provider_error(path, first.clone())),
    }
}

fn provider_error(path: &Path, message: String) -> VariablesError {
    VariablesError::Provider {
        provider: format!("env (dotenv file {})", path.display()),
        message,
    }
}

// Values may be secrets: show names only.
impl fmt::Debug for Provider {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Provider::Env { prefix, dotenv } => f
                .debug_struct("Env")
                .field("prefix", prefix)
                .field("dotenv_keys", &dotenv.keys().collect::<Vec<_>>())
                .finish(),
            Provider::Static(values) => f
                .debug_tuple("Static")
                .field(&values.keys().collect::<Vec<_>>())
                .finish(),
        }
    }
}
