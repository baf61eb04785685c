//! `[application.trigger.redis] address` and `[[trigger.redis]] channel, component, address?`
//! (v1: `trigger = { type = "redis", address }` + `[component.trigger] channel`), checked
//! structurally at load time and rendered with the app's variables at startup.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::app::LockedApp;
use crate::host::redis_pool::redact;
use crate::variables::Resolver;

#[derive(Debug, thiserror::Error)]
pub enum RedisConfigError {
    #[error("Redis trigger `{trigger}`: `{field}` is missing; add `{field} = \"...\"` to its [[trigger.redis]] section ([component.trigger] in v1 manifests)")]
    Missing {
        trigger: String,
        field: &'static str,
    },
    #[error("Redis trigger `{trigger}`: `{field}` must be a non-empty string, found {found}")]
    NotAString {
        trigger: String,
        field: &'static str,
        found: String,
    },
    #[error("Redis trigger `{trigger}` has no `address`: set `address = \"redis://host:port\"` in [application.trigger.redis] (v1: trigger = {{ type = \"redis\", address = \"...\" }}) or on the trigger")]
    NoAddress { trigger: String },
    #[error("Redis trigger `{trigger}`: `address` {address:?} is not a valid Redis URL ({reason}); use redis://[:password@]host[:port][/db], or rediss:// for TLS")]
    BadAddress {
        trigger: String,
        address: String,
        reason: String,
    },
    #[error("Redis trigger `{trigger}`: `{field}`: {source}")]
    Template {
        trigger: String,
        field: &'static str,
        source: crate::variables::VariablesError,
    },
}

/// One `[[trigger.redis]]` as written (templates not yet rendered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisTriggerConfig {
    pub id: String,
    pub component: String,
    pub channel: String,
    /// The trigger's own address, else the app's `[application.trigger.redis] address`.
    pub address: String,
}

/// The channels of one Redis server and the components each one feeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerPlan {
    pub address: String,
    /// channel → component ids, in manifest order.
    pub channels: BTreeMap<String, Vec<String>>,
}

impl RedisTriggerConfig {
    /// Every Redis trigger of the app. Addresses without templates are checked now.
    pub fn from_app(app: &LockedApp) -> Result<Vec<Self>, RedisConfigError> {
        let default_address = app
            .trigger_settings("redis")
            .and_then(|s| s.get("address"))
            .and_then(Value::as_str)
            .filter(|a| !a.trim().is_empty());
        let mut out = Vec::new();
        for t in app.triggers.iter().filter(|t| t.trigger_type == "redis") {
            let field = |name: &'static str| -> Result<Option<String>, RedisConfigError> {
                match t.trigger_config.get(name) {
                    None | Some(Value::Null) => Ok(None),
                    Some(Value::String(s)) if !s.trim().is_empty() => Ok(Some(s.clone())),
                    Some(other) => Err(RedisConfigError::NotAString {
                        trigger: t.id.clone(),
                        field: name,
                        found: other.to_string(),
                    }),
                }
            };
            let required = |name: &'static str| {
                field(name)?.ok_or_else(|| RedisConfigError::Missing {
                    trigger: t.id.clone(),
                    field: name,
                })
            };
            let component = required("component")?;
            let channel = required("channel")?;
            let address = match field("address")? {
                Some(a) => a,
                None => default_address.map(str::to_string).ok_or_else(|| {
                    RedisConfigError::NoAddress {
                        trigger: t.id.clone(),
                    }
                })?,
            };
            if !address.contains("{{") {
                check_address(&t.id, &address)?;
            }
            out.push(Self {
                id: t.id.clone(),
                component,
                channel,
                address,
            });
        }
        Ok(out)
    }
}

/// Renders addresses and channels and groups channels by server: one
/// subscription connection per distinct address.
pub fn plan(
    configs: &[RedisTriggerConfig],
    vars: &Resolver,
) -> Result<Vec<ServerPlan>, RedisConfigError> {
    let mut servers: BTreeMap<String, BTreeMap<String, Vec<String>>> = BTreeMap::new();
    for c in configs {
        let render = |field: &'static str, template: &str| {
            let location = format!("Redis trigger `{}` {field}", c.id);
            vars.render_at(&location, template)
                .map_err(|source| RedisConfigError::Template {
                    trigger: c.id.clone(),
                    field,
                    source,
                })
        };
        let address = render("address", &c.address)?;
        check_address(&c.id, &address)?;
        let channel = render("channel", &c.channel)?;
        if channel.is_empty() {
            return Err(RedisConfigError::Missing {
                trigger: c.id.clone(),
                field: "channel",
            });
        }
        servers
            .entry(address)
            .or_default()
            .entry(channel)
            .or_default()
            .push(c.component.clone());
    }
    Ok(servers
        .into_iter()
        .map(|(address, channels)| ServerPlan { address, channels })
        .collect())
}

fn check_address(trigger: &str, address: &str) -> Result<(), RedisConfigError> {
    let bad = |reason: String| RedisConfigError::BadAddress {
        trigger: trigger.to_string(),
        address: redact(address),
        reason,
    };
    let url = url::Url::parse(address).map_err(|e| bad(e.to_string()))?;
    if !matches!(url.scheme(), "redis" | "rediss") {
        return Err(bad(format!("unsupported scheme `{}`", url.scheme())));
    }
    if url.host_str().unwrap_or_default().is_empty() {
        return Err(bad("no host".into()));
    }
    redis::Client::open(address)
        .map(drop)
        .map_err(|e| bad(e.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::app::locked::{LockedComponent, LockedComponentSource, LockedTrigger, Variable};

    fn app(settings: Option<&str>, triggers: &[(&str, Value)]) -> LockedApp {
        let mut app = LockedApp::default();
        if let Some(a) = settings {
            app.metadata.insert(
                "triggers".into(),
                serde_json::json!({ "redis": { "address": a } }),
            );
        }
        for (id, config) in triggers {
            app.triggers.push(LockedTrigger {
                id: id.to_string(),
                trigger_type: "redis".into(),
                trigger_config: config.clone(),
            });
        }
        app.components.push(LockedComponent {
            id: "c".into(),
            metadata: Default::default(),
            source: LockedComponentSource {
                content_type: "application/wasm".into(),
                content: Default::default(),
                precompiled: false,
            },
            env: Default::default(),
            files: vec![],
            config: Default::default(),
            dependencies: Default::default(),
        });
        app
    }

    fn resolver(app: &mut LockedApp, vars: &[(&str, &str)]) -> Resolver {
        for (name, value) in vars {
            app.variables.insert(
                name.to_string(),
                Variable {
                    default: Some(value.to_string()),
                    secret: false,
                },
            );
        }
        Resolver::new(app, vec![], Default::default()).unwrap()
    }

    #[test]
    fn trigger_address_overrides_the_app_default_and_channels_group_by_server() {
        let mut app = app(
            Some("redis://{{ host }}:6379"),
            &[
                (
                    "a",
                    serde_json::json!({"component": "c", "channel": "{{ ch }}"}),
                ),
                (
                    "b",
                    serde_json::json!({"component": "d", "channel": "orders"}),
                ),
                (
                    "x",
                    serde_json::json!({"component": "c", "channel": "other",
                    "address": "rediss://:pw@cache.example:6380/1"}),
                ),
            ],
        );
        let vars = resolver(&mut app, &[("host", "127.0.0.1"), ("ch", "orders")]);
        let configs = RedisTriggerConfig::from_app(&app).unwrap();
        assert_eq!(configs[0].address, "redis://{{ host }}:6379");
        let plan = plan(&configs, &vars).unwrap();
        assert_eq!(plan.len(), 2);
        assert_eq!(plan[0].address, "redis://127.0.0.1:6379");
        assert_eq!(plan[0].channels["orders"], vec!["c", "d"]);
        assert_eq!(plan[1].address, "rediss://:pw@cache.example:6380/1");
        assert_eq!(plan[1].channels["other"], vec!["c"]);
    }

    #[test]
    fn v1_trigger_metadata_supplies_the_address() {
        let mut app = app(
            None,
            &[("t", serde_json::json!({"component": "c", "channel": "m"}))],
        );
        app.metadata.insert(
            "trigger".into(),
            serde_json::json!({"type": "redis", "address": "redis://localhost"}),
        );
        let configs = RedisTriggerConfig::from_app(&app).unwrap();
        assert_eq!(configs[0].address, "redis://localhost");
    }

    #[test]
    fn bad_config_names_the_field_and_the_trigger() {
        let cases = [
            (
                None,
                serde_json::json!({"component": "c", "channel": "m"}),
                "has no `address`",
            ),
            (
                Some("redis://h"),
                serde_json::json!({"component": "c"}),
                "`channel` is missing",
            ),
            (
                Some("redis://h"),
                serde_json::json!({"channel": "m"}),
                "`component` is missing",
            ),
            (
                Some("redis://h"),
                serde_json::json!({"component": "c", "channel": 5}),
                "`channel` must be",
            ),
            (
                Some("http://h"),
                serde_json::json!({"component": "c", "channel": "m"}),
                "unsupported scheme `http`",
            ),
            (
                Some("not a url"),
                serde_json::json!({"component": "c", "channel": "m"}),
                "not a valid Redis URL",
            ),
        ];
        for (address, config, expected) in cases {
            let app = app(address, &[("trig-1", config.clone())]);
            let err = RedisTriggerConfig::from_app(&app).unwrap_err().to_string();
            assert!(err.contains(expected), "{config}: {err}");
            assert!(err.contains("trig-1"), "{err}");
        }
    }

    #[test]
    fn rendered_address_is_checked_and_password_redacted() {
        let mut app = app(
            Some("{{ url }}"),
            &[("t", serde_json::json!({"component": "c", "channel": "m"}))],
        );
        let vars = resolver(&mut app, &[("url", "ftp://:hunter2@h")]);
        let configs = RedisTriggerConfig::from_app(&app).unwrap();
        let err = plan(&configs, &vars).unwrap_err().to_string();
        assert!(err.contains("`address`") && err.contains("ftp"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn undeclared_variable_in_channel_is_an_error() {
        let mut app = app(
            Some("redis://h"),
            &[(
                "t",
                serde_json::json!({"component": "c", "channel": "{{ nope }}"}),
            )],
        );
        let vars = resolver(&mut app, &[]);
        let configs = RedisTriggerConfig::from_app(&app).unwrap();
        let err = plan(&configs, &vars).unwrap_err().to_string();
        assert!(err.contains("`channel`") && err.contains("nope"), "{err}");
    }
}
