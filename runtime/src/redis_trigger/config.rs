//! `[application.trigger.redis] address` and `[[trigger.redis]] channel, component, address?`
//! (v1: `trigger = { type = "redis", address }` + `[component.trigger] channel`), checked
//! structurally at load time and rendered with the app's variables at startup.

use std::collections::BTreeMap;

use serde_json::Value;

use crate::app::LockedApp;
use crate::host::redis_pool::redact;
use crate::variables::Resolver;

/// A `[[trigger.redis]]` that cannot run; messages say which manifest key to fix.
#[derive(Debug, thiserror::Error)]
pub enum RedisConfigError {
    /// A required key (`channel`, `component`) is absent.
    #[error("Redis trigger `{trigger}`: `{field}` is missing; add `{field} = \"...\"` to its [[trigger.redis]] section ([component.trigger] in v1 manifests)")]
    Missing {
        /// Trigger id.
        trigger: String,
        /// The missing key.
        field: &'static str,
    },
    /// A key that must be a non-empty string is something else.
    #[error("Redis trigger `{trigger}`: `{field}` must be a non-empty string, found {found}")]
    NotAString {
        /// Trigger id.
        trigger: String,
        /// The offending key.
        field: &'static str,
        /// What was found instead, as JSON.
        found: String,
    },
    /// Neither the trigger nor `[application.trigger.redis]` sets `address`.
    #[error("Redis trigger `{trigger}` has no `address`: set `address = \"redis://host:port\"` in [application.trigger.redis] (v1: trigger = {{ type = \"redis\", address = \"...\" }}) or on the trigger")]
    NoAddress {
        /// Trigger id.
        trigger: String,
    },
    /// The rendered `address` is not a Redis URL.
    #[error("Redis trigger `{trigger}`: `address` {address:?} is not a valid Redis URL ({reason}); use redis://[:password@]host[:port][/db], or rediss:// for TLS")]
    BadAddress {
        /// Trigger id.
        trigger: String,
        /// The address as rendered (password redacted).
        address: String,
        /// Why the Redis client rejected it.
        reason: String,
    },
    /// A `{{ variable }}` template in a key failed to render.
    #[error("Redis trigger `{trigger}`: `{field}`: {source}")]
    Template {
        /// Trigger id.
        trigger: String,
        /// The key holding the template.
        field: &'static str,
        /// The variables error.
        source: crate::variables::VariablesError,
    },
}

/// One `[[trigger.redis]]` as written (templates not yet rendered).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RedisTriggerConfig {
    /// Trigger id.
    pub id: String,
    /// Component that receives the channel's messages.
    pub component: String,
    /// Redis pub/sub channel to subscribe to (may hold `{{ variable }}` templates).
    pub channel: String,
    /// The trigger's own address, else the app's `[application.trigger.redis] address`.
    pub address: String,
}

/// The channels of one Redis server and the components each one feeds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ServerPlan {
    /// Rendered Redis URL of the server.
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
mod tests;
