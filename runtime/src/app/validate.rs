//! Checks a locked app can run here before anything is compiled.

use super::{AppError, LockedApp};

pub const KNOWN_TRIGGER_TYPES: &[&str] = &["http", "redis"];

pub fn validate(app: &LockedApp) -> Result<(), AppError> {
    let mut seen = std::collections::HashSet::new();
    for c in &app.components {
        if !seen.insert(c.id.as_str()) {
            return Err(AppError::Invalid(format!(
                "component id `{}` is used twice; give each component a unique id",
                c.id
            )));
        }
    }
    for t in &app.triggers {
        if !KNOWN_TRIGGER_TYPES.contains(&t.trigger_type.as_str()) {
            return Err(AppError::Invalid(format!(
                "trigger `{}` has unknown type `{}`; this runtime supports: {}",
                t.id,
                t.trigger_type,
                KNOWN_TRIGGER_TYPES.join(", ")
            )));
        }
        if let Some(component) = t.trigger_config.get("component").and_then(|c| c.as_str()) {
            if app.component(component).is_none() {
                return Err(AppError::Invalid(format!(
                    "trigger `{}` refers to component `{component}`, which is not defined; add a [component.{component}] section or fix the trigger's `component`",
                    t.id
                )));
            }
        }
    }
    crate::redis_trigger::RedisTriggerConfig::from_app(app)
        .map_err(|e| AppError::Invalid(e.to_string()))?;
    let http = crate::http::HttpTriggerConfig::from_app(app)
        .map_err(|e| AppError::Invalid(e.to_string()))?;
    let base = app
        .trigger_settings("http")
        .and_then(|s| s.get("base"))
        .and_then(|b| b.as_str())
        .unwrap_or("/");
    let routes = http.iter().filter_map(|t| match &t.route {
        crate::http::RouteSpec::Path(p) => Some((p.clone(), ())),
        crate::http::RouteSpec::Private { .. } => None,
    });
    crate::http::routing::Router::build(base, routes)
        .map_err(|e| AppError::Invalid(e.to_string()))?;
    Ok(())
}
