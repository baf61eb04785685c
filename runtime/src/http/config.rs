//! Typed `[[trigger.http]]` settings read from a locked app.

use std::collections::BTreeMap;

use serde::Deserialize;

use crate::app::LockedApp;

#[derive(Debug, Clone, Deserialize)]
pub struct HttpTriggerConfig {
    #[serde(skip)]
    pub id: String,
    #[serde(default)]
    pub component: Option<String>,
    pub route: RouteSpec,
    #[serde(default)]
    pub executor: Option<ExecutorConfig>,
    #[serde(default)]
    pub static_response: Option<StaticResponse>,
}

/// `route = "/path"` or `route = { private = true }` (reachable only by service chaining).
#[derive(Debug, Clone, Deserialize)]
#[serde(untagged)]
pub enum RouteSpec {
    Path(String),
    Private { private: bool },
}

#[derive(Debug, Clone, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum ExecutorConfig {
    /// Auto-detects wasi:http or the legacy Spin interface (`"spin"` is its old name).
    #[serde(alias = "spin")]
    Http,
    Wagi(WagiConfig),
}

#[derive(Debug, Clone, Deserialize)]
pub struct WagiConfig {
    #[serde(default = "default_entrypoint")]
    pub entrypoint: String,
    #[serde(default = "default_argv")]
    pub argv: String,
}

fn default_entrypoint() -> String {
    "_start".into()
}

fn default_argv() -> String {
    "${SCRIPT_NAME} ${ARGS}".into()
}

#[derive(Debug, Clone, Deserialize)]
pub struct StaticResponse {
    #[serde(default)]
    pub status_code: Option<u16>,
    #[serde(default)]
    pub headers: BTreeMap<String, String>,
    #[serde(default)]
    pub body: Option<String>,
}

#[derive(Debug, thiserror::Error)]
#[error("HTTP trigger `{trigger}`: {message}")]
pub struct ConfigError {
    pub trigger: String,
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

    pub fn is_wagi(&self) -> bool {
        matches!(self.executor, Some(ExecutorConfig::Wagi(_)))
    }
}
