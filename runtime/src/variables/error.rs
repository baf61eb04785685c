//! Variable errors. None of them carries a variable's value, so they are safe
//! to print even for secrets.

#[derive(Debug, thiserror::Error)]
pub enum VariablesError {
    #[error("invalid variable name {name:?} ({origin}): {reason}; variable names are lower_snake_case: a lowercase letter first, then lowercase letters, digits and single underscores, not ending in `_`")]
    InvalidName {
        name: String,
        /// Where the name came from, e.g. `[variables]` or `--variable`.
        origin: String,
        reason: String,
    },
    #[error("{}", undefined_message(.component.as_deref(), .name))]
    Undefined {
        /// `None` for an app-level variable.
        component: Option<String>,
        name: String,
    },
    #[error("no value for required variable{} {}: {hint}", plural(.names), quoted(.names))]
    MissingRequired { names: Vec<String>, hint: String },
    #[error("{location}: invalid template {template:?}: {reason}")]
    BadTemplate {
        location: String,
        template: String,
        reason: String,
    },
    #[error("variables provider {provider}: {message}")]
    Provider { provider: String, message: String },
}

fn undefined_message(component: Option<&str>, name: &str) -> String {
    match component {
        Some(c) => format!("component `{c}` has no variable `{name}`; add it to [component.{c}.variables] in spin.toml"),
        None => format!("the app declares no variable `{name}`; add it to [variables] in spin.toml"),
    }
}

fn plural(names: &[String]) -> &'static str {
    if names.len() == 1 {
        ""
    } else {
        "s"
    }
}

pub(super) fn quoted(names: &[String]) -> String {
    let quoted: Vec<String> = names.iter().map(|n| format!("`{n}`")).collect();
    quoted.join(", ")
}
