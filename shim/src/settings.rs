//! The container's environment (from the OCI bundle, not the shim's own process env) turned
//! into run settings: the env vars SpinKube's operator and users set on a Spin container.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::time::Duration;

use anyhow::{anyhow, Result};
use spinkube_runtime::app::{retain::parse_component_list, LockedApp};
use spinkube_runtime::http::connection::{parse_max_connections, ServerLimits};
use spinkube_runtime::http::reuse::{self, InstanceReuse};
use spinkube_runtime::launch::DEFAULT_DRAIN_TIMEOUT;
use spinkube_runtime::redis_trigger::DEFAULT_CONCURRENCY;
use spinkube_runtime::units::{parse_bytes, parse_duration};
use spinkube_runtime::variables::DEFAULT_ENV_PREFIX;

/// Where SpinKube mounts the runtime config Secret.
pub const RUNTIME_CONFIG_PATH: &str = "/runtime-config.toml";
/// An ordinary image carries its app here.
pub const MANIFEST_PATH: &str = "/spin.toml";
const DEFAULT_LISTEN: &str = "0.0.0.0:80";

#[derive(Debug, Clone, PartialEq)]
pub struct Settings {
    /// `SPIN_HTTP_LISTEN_ADDR`.
    pub listen: String,
    /// `SPIN_TLS_CERT` and `SPIN_TLS_KEY`.
    pub tls: Option<(PathBuf, PathBuf)>,
    /// `SPIN_MAX_INSTANCE_MEMORY` (bytes; `64Mi` style suffixes allowed).
    pub max_instance_memory: Option<usize>,
    /// `SPIN_COMPONENTS_TO_RETAIN` (selective deployment).
    pub components_to_retain: Option<Vec<String>>,
    /// `RUNTIME_CONFIG_FILE`; else `/runtime-config.toml` when present.
    pub runtime_config_file: Option<PathBuf>,
    /// `SPINKUBE_REQUEST_TIMEOUT`: stop a guest that runs longer for one request.
    pub request_timeout: Option<Duration>,
    /// `SPINKUBE_DRAIN_TIMEOUT`: how long SIGTERM waits for in-flight work.
    pub drain_timeout: Duration,
    /// `SPINKUBE_REDIS_CONCURRENCY`: Redis messages in flight.
    pub redis_concurrency: usize,
    /// WASI p3 instance reuse, `spinkube up`'s flags with Spin's syntax and defaults:
    /// `SPINKUBE_MAX_INSTANCE_REUSE_COUNT`, `SPINKUBE_MAX_INSTANCE_CONCURRENT_REUSE_COUNT`,
    /// `SPINKUBE_IDLE_INSTANCE_TIMEOUT` (each N or A..B).
    pub instance_reuse: InstanceReuse,
    /// What the HTTP server allows clients, `spinkube up`'s flags and defaults:
    /// `SPINKUBE_HEADER_READ_TIMEOUT`, `SPINKUBE_IDLE_CONNECTION_TIMEOUT`,
    /// `SPINKUBE_MAX_CONNECTIONS`, `SPINKUBE_MAX_REQUEST_BODY_SIZE` (bytes, `64Mi` style).
    pub server_limits: ServerLimits,
}

/// `KEY=VALUE` entries as the OCI spec lists them; a later entry wins, as in a process env.
pub fn env_map(envs: &[String]) -> BTreeMap<String, String> {
    envs.iter()
        .map(|e| match e.split_once('=') {
            Some((k, v)) => (k.to_string(), v.to_string()),
            None => (e.clone(), String::new()),
        })
        .collect()
}

impl Settings {
    /// `runtime_config_present`: whether [`RUNTIME_CONFIG_PATH`] exists in the container.
    pub fn from_env(env: &BTreeMap<String, String>, runtime_config_present: bool) -> Result<Self> {
        let get = |k: &str| env.get(k).map(|v| v.trim()).filter(|v| !v.is_empty());
        let bad = |k: &str, e: String| anyhow!("environment variable {k}: {e}");
        let tls = match (get("SPIN_TLS_CERT"), get("SPIN_TLS_KEY")) {
            (Some(c), Some(k)) => Some((PathBuf::from(c), PathBuf::from(k))),
            (None, None) => None,
            _ => {
                return Err(anyhow!(
                    "SPIN_TLS_CERT and SPIN_TLS_KEY must be set together; set both or neither"
                ))
            }
        };
        let redis_concurrency = match get("SPINKUBE_REDIS_CONCURRENCY") {
            Some(v) => match v.parse::<usize>() {
                Ok(n) if n >= 1 => n,
                _ => {
                    return Err(bad(
                        "SPINKUBE_REDIS_CONCURRENCY",
                        format!("{v:?} is not a whole number of at least 1"),
                    ))
                }
            },
            None => DEFAULT_CONCURRENCY,
        };
        let defaults = InstanceReuse::default();
        let instance_reuse = InstanceReuse {
            max_requests: parsed_or(
                env,
                "SPINKUBE_MAX_INSTANCE_REUSE_COUNT",
                reuse::parse_count,
                defaults.max_requests,
            )?,
            max_concurrent: parsed_or(
                env,
                "SPINKUBE_MAX_INSTANCE_CONCURRENT_REUSE_COUNT",
                reuse::parse_count,
                defaults.max_concurrent,
            )?,
            idle_timeout: parsed_or(
                env,
                "SPINKUBE_IDLE_INSTANCE_TIMEOUT",
                reuse::parse_duration_span,
                defaults.idle_timeout,
            )?,
        };
        Ok(Self {
            listen: get("SPIN_HTTP_LISTEN_ADDR")
                .unwrap_or(DEFAULT_LISTEN)
                .to_string(),
            tls,
            max_instance_memory: get("SPIN_MAX_INSTANCE_MEMORY")
                .map(|v| parse_bytes(v).map_err(|e| bad("SPIN_MAX_INSTANCE_MEMORY", e)))
                .transpose()?,
            components_to_retain: get("SPIN_COMPONENTS_TO_RETAIN").and_then(parse_component_list),
            runtime_config_file: get("RUNTIME_CONFIG_FILE")
                .map(PathBuf::from)
                .or_else(|| runtime_config_present.then(|| PathBuf::from(RUNTIME_CONFIG_PATH))),
            request_timeout: parsed_or(
                env,
                "SPINKUBE_REQUEST_TIMEOUT",
                |v| parse_duration(v).map(Some),
                None,
            )?,
            drain_timeout: parsed_or(
                env,
                "SPINKUBE_DRAIN_TIMEOUT",
                parse_duration,
                DEFAULT_DRAIN_TIMEOUT,
            )?,
            redis_concurrency,
            instance_reuse,
            server_limits: server_limits(env)?,
        })
    }
}

fn server_limits(env: &BTreeMap<String, String>) -> Result<ServerLimits> {
    let defaults = ServerLimits::default();
    Ok(ServerLimits {
        header_read_timeout: parsed_or(
            env,
            "SPINKUBE_HEADER_READ_TIMEOUT",
            parse_duration,
            defaults.header_read_timeout,
        )?,
        idle_timeout: parsed_or(
            env,
            "SPINKUBE_IDLE_CONNECTION_TIMEOUT",
            parse_duration,
            defaults.idle_timeout,
        )?,
        max_connections: parsed_or(
            env,
            "SPINKUBE_MAX_CONNECTIONS",
            parse_max_connections,
            defaults.max_connections,
        )?,
        max_request_body_size: parsed_or(
            env,
            "SPINKUBE_MAX_REQUEST_BODY_SIZE",
            |v| parse_bytes(v).map(|b| Some(b as u64)),
            defaults.max_request_body_size,
        )?,
    })
}

/// The variable `key` parsed, or `default` when unset or empty; an error names the variable.
fn parsed_or<T>(
    env: &BTreeMap<String, String>,
    key: &str,
    parse: impl Fn(&str) -> Result<T, String>,
    default: T,
) -> Result<T> {
    match env.get(key).map(|v| v.trim()).filter(|v| !v.is_empty()) {
        Some(v) => parse(v).map_err(|e| anyhow!("environment variable {key}: {e}")),
        None => Ok(default),
    }
}

/// As SpinKube's shim does: a container env var named like an app variable, upper-cased
/// (`API_KEY` for `api_key`), also supplies it, unless `SPIN_VARIABLE_API_KEY` is set.
pub fn with_plain_variable_names(
    mut env: BTreeMap<String, String>,
    app: &LockedApp,
) -> BTreeMap<String, String> {
    for name in app.variables.keys() {
        let plain = name.to_ascii_uppercase();
        let prefixed = format!("{DEFAULT_ENV_PREFIX}_{plain}");
        if env.contains_key(&prefixed) {
            continue;
        }
        if let Some(v) = env.get(&plain).cloned() {
            env.insert(prefixed, v);
        }
    }
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    fn env(pairs: &[&str]) -> BTreeMap<String, String> {
        env_map(&pairs.iter().map(|s| s.to_string()).collect::<Vec<_>>())
    }

    #[test]
    fn defaults_match_spinkube() {
        let s = Settings::from_env(&env(&["PATH=/bin"]), false).unwrap();
        assert_eq!(s.listen, "0.0.0.0:80");
        assert_eq!(s.tls, None);
        assert_eq!(s.max_instance_memory, None);
        assert_eq!(s.components_to_retain, None);
        assert_eq!(s.runtime_config_file, None);
        assert_eq!(s.drain_timeout, DEFAULT_DRAIN_TIMEOUT);
        assert_eq!(s.instance_reuse, InstanceReuse::default());
        assert_eq!(s.server_limits, ServerLimits::default());
        assert!(
            s.drain_timeout < Duration::from_secs(30),
            "must beat the kubelet's grace period"
        );
        let s = Settings::from_env(&env(&[]), true).unwrap();
        assert_eq!(
            s.runtime_config_file,
            Some(PathBuf::from(RUNTIME_CONFIG_PATH))
        );
    }

    #[test]
    fn operator_env_is_honoured() {
        let s = Settings::from_env(
            &env(&[
                "SPIN_HTTP_LISTEN_ADDR=0.0.0.0:8080",
                "SPIN_MAX_INSTANCE_MEMORY=67108864",
                "SPIN_COMPONENTS_TO_RETAIN=a,b",
                "RUNTIME_CONFIG_FILE=/etc/rc.toml",
                "SPINKUBE_DRAIN_TIMEOUT=5s",
                "SPINKUBE_REQUEST_TIMEOUT=500ms",
                "SPINKUBE_REDIS_CONCURRENCY=1",
                "SPIN_TLS_CERT=/c.pem",
                "SPIN_TLS_KEY=/k.pem",
                "SPINKUBE_MAX_INSTANCE_REUSE_COUNT=10..20",
                "SPINKUBE_MAX_INSTANCE_CONCURRENT_REUSE_COUNT=1",
                "SPINKUBE_IDLE_INSTANCE_TIMEOUT=250ms",
                "SPINKUBE_HEADER_READ_TIMEOUT=5s",
                "SPINKUBE_IDLE_CONNECTION_TIMEOUT=10s",
                "SPINKUBE_MAX_CONNECTIONS=500",
                "SPINKUBE_MAX_REQUEST_BODY_SIZE=10Mi",
            ]),
            true,
        )
        .unwrap();
        assert_eq!(
            s.server_limits,
            ServerLimits {
                header_read_timeout: Duration::from_secs(5),
                idle_timeout: Duration::from_secs(10),
                max_connections: 500,
                max_request_body_size: Some(10 << 20),
            }
        );
        assert_eq!(
            s.instance_reuse,
            InstanceReuse {
                max_requests: reuse::Span { low: 10, high: 20 },
                max_concurrent: reuse::Span::exactly(1),
                idle_timeout: reuse::Span::exactly(Duration::from_millis(250)),
            }
        );
        assert_eq!(s.listen, "0.0.0.0:8080");
        assert_eq!(s.max_instance_memory, Some(64 << 20));
        assert_eq!(s.components_to_retain, Some(vec!["a".into(), "b".into()]));
        assert_eq!(s.runtime_config_file, Some(PathBuf::from("/etc/rc.toml")));
        assert_eq!(s.drain_timeout, Duration::from_secs(5));
        assert_eq!(s.request_timeout, Some(Duration::from_millis(500)));
        assert_eq!(s.redis_concurrency, 1);
        assert_eq!(s.tls, Some(("/c.pem".into(), "/k.pem".into())));
    }

    #[test]
    fn bad_values_name_the_variable() {
        for (e, expected) in [
            ("SPIN_MAX_INSTANCE_MEMORY=lots", "SPIN_MAX_INSTANCE_MEMORY"),
            ("SPINKUBE_DRAIN_TIMEOUT=soon", "SPINKUBE_DRAIN_TIMEOUT"),
            ("SPINKUBE_REDIS_CONCURRENCY=0", "SPINKUBE_REDIS_CONCURRENCY"),
            ("SPIN_TLS_CERT=/c.pem", "SPIN_TLS_KEY"),
            ("SPINKUBE_MAX_CONNECTIONS=0", "SPINKUBE_MAX_CONNECTIONS"),
            (
                "SPINKUBE_MAX_REQUEST_BODY_SIZE=big",
                "SPINKUBE_MAX_REQUEST_BODY_SIZE",
            ),
            (
                "SPINKUBE_HEADER_READ_TIMEOUT=x",
                "SPINKUBE_HEADER_READ_TIMEOUT",
            ),
            (
                "SPINKUBE_MAX_INSTANCE_REUSE_COUNT=0",
                "SPINKUBE_MAX_INSTANCE_REUSE_COUNT: `0` is not a whole number of at least 1",
            ),
            (
                "SPINKUBE_IDLE_INSTANCE_TIMEOUT=2s..1s",
                "SPINKUBE_IDLE_INSTANCE_TIMEOUT",
            ),
        ] {
            let err = Settings::from_env(&env(&[e]), false)
                .unwrap_err()
                .to_string();
            assert!(err.contains(expected), "{e}: {err}");
        }
    }

    #[test]
    fn plain_env_names_supply_app_variables() {
        let app = LockedApp::from_json(
            br#"{"spin_lock_version": 0, "triggers": [], "components": [],
                "variables": {"api_key": {}, "greeting": {}, "other": {"default": "x"}}}"#,
        )
        .unwrap();
        let out = with_plain_variable_names(
            env(&[
                "API_KEY=plain",
                "GREETING=plain",
                "SPIN_VARIABLE_GREETING=prefixed",
            ]),
            &app,
        );
        assert_eq!(out["SPIN_VARIABLE_API_KEY"], "plain");
        assert_eq!(out["SPIN_VARIABLE_GREETING"], "prefixed");
        assert!(!out.contains_key("SPIN_VARIABLE_OTHER"));
    }
}
