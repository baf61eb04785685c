//! Typed `[[trigger.http]]` settings read from a locked app.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::app::LockedApp;

/// One `[[trigger.http]]` entry; exactly one of `component` and `static_response` is set.
#[derive(Debug, Clone, Deserialize)]
pub struct HttpTriggerConfig {
    /// Trigger id (from the locked trigger, not the JSON).
    #[serde(skip)]
    pub id: String,
    /// Component that handles matching requests.
    #[serde(default)]
    pub component: Option<String>,
    /// Where the trigger is mounted.
    pub route: RouteSpec,
    /// How the component is called; `None` means auto-detected `http`.
    #[serde(default)]
    pub executor: Option<ExecutorConfig>,
    /// A fixed response served without any component.
    #[serde(default)]
    pub static_response: Option<StaticResponse>,
}

/// `route = "/path"` or `route = { private = true }` (reachable only by service chaining).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RouteSpec {
    /// A route pattern such as `/api/...` (`/...` is a wildcard suffix).
    Path(String),
    /// `{ private = true }`: no public route.
    Private {
        /// Must be `true`; `false` is rejected.
        private: bool,
    },
}

/// `executor = { type = "http" | "wagi" }`.
#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ExecutorConfig {
    /// Auto-detects wasi:http or the legacy Spin interface (`"spin"` is its old name).
    #[serde(alias = "spin")]
    Http,
    /// WAGI: a WASI command run as a CGI script.
    Wagi(WagiConfig),
}

/// `executor = { type = "wagi", ... }` settings.
#[derive(Debug, Clone, Deserialize)]
pub struct WagiConfig {
    /// Export to call; `_start` by default.
    #[serde(default = "default_entrypoint")]
    pub entrypoint: String,
    /// Guest argv template; `${SCRIPT_NAME} ${ARGS}` by default.
    #[serde(default = "default_argv")]
    pub argv: String,
}

fn default_entrypoint() -> String {
    "_start".into()
}

fn default_argv() -> String {
    "${SCRIPT_NAME} ${ARGS}".into()
}

/// `static_response = { ... }`: a response served by the host.
#[derive(Debug, Clone, Deserialize)]
pub struct StaticResponse {
    /// Status code; 200 when absent.
    #[serde(default)]
    pub status_code: Option<u16>,
    /// Response headers.
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    /// Response body.
    #[serde(default)]
    pub body: Option<String>,
}

/// An HTTP trigger whose settings Spin would not accept.
#[derive(Debug, thiserror::Error)]
#[error("HTTP trigger `{trigger}`: {message}")]
pub struct ConfigError {
    /// Trigger id.
    pub trigger: String,
    /// What is wrong and how to fix it.
    pub message: String,
}

impl HttpTriggerConfig {
    /// All HTTP triggers of the app, checked for the combinations Spin accepts.
    pub fn from_app(app: &LockedApp) -> Result<Vec<Self>, ConfigError> {
        app.triggers
            .iter()
            .filter(|t| t.trigger_type == "http")
            .map(|t| {
                let err = |message: String| ConfigError { trigger: t.id.clone(), message };
                let mut cfg: HttpTriggerConfig = serde_json::from_value(t.trigger_config.clone())
                    .map_err(|e| err(format!("{e}; expected e.g. route = \"/...\", component = \"name\", executor = {{ type = \"wagi\" }}")))?;
                cfg.id = t.id.clone();
                match (&cfg.component, &cfg.static_response) {
                    (None, None) => {
                        return Err(err("needs a `component` (or a `static_response`)".into()))
                    }
                    (Some(_), Some(_)) => {
                        return Err(err("has both `component` and `static_response`; keep one".into()))
                    }
                    _ => {}
                }
                if let RouteSpec::Private { private: false } = cfg.route {
                    return Err(err("`route = { private = false }` is not valid; use a path such as \"/...\"".into()));
                }
                Ok(cfg)
            })
            .collect()
    }

    /// Whether the trigger uses the WAGI executor.
    pub fn is_wagi(&self) -> bool {
        matches!(self.executor, Some(ExecutorConfig::Wagi(_)))
    }
}
