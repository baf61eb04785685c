//! Checks of the app model itself (ids, trigger types, references), before anything is compiled;
//! each trigger checks its own settings when the app is launched (`crate::launch`).

use super::{AppError, LockedApp};

/// Trigger types this runtime can run.
pub const KNOWN_TRIGGER_TYPES: &[&str] = &["http", "redis"];

/// Checks component ids are unique, trigger types are known and triggers refer to existing
/// components.
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
    Ok(())
}
