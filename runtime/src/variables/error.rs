//! Variable errors. None of them carries a variable's value, so they are safe
//! to print even for secrets.

/// Why a variable could not be resolved or rendered; never includes a value.
#[derive(Debug, thiserror::Error)]
pub enum VariablesError {
    /// A variable or component-variable name that is not lower_snake_case.
    #[error("invalid variable name {name:?} ({origin}): {reason}; variable names are lower_snake_case: a lowercase letter first, then lowercase letters, digits and single underscores, not ending in `_`")]
    InvalidName {
        /// The rejected name.
        name: String,
        /// Where the name came from, e.g. `[variables]` or `--variable`.
        origin: String,
        /// Which rule it breaks.
        reason: String,
    },
    /// A lookup or template names a variable that is not declared.
    #[error("{}", undefined_message(.component.as_deref(), .name))]
    Undefined {
        /// `None` for an app-level variable.
        component: Option<String>,
        /// The undeclared name.
        name: String,
    },
    /// Required variables that no provider supplied.
    #[error("no value for required variable{} {}: {hint}", plural(.names), quoted(.names))]
    MissingRequired {
        /// The variables without a value.
        names: Vec<String>,
        /// How to supply them (e.g. the env var names to set).
        hint: String,
    },
    /// A `{{ ... }}` template that does not parse or names an undeclared variable.
    #[error("{location}: invalid template {template:?}: {reason}")]
    BadTemplate {
        /// Where the template is, e.g. "component `x` variable `y`".
        location: String,
        /// The template text.
        template: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A provider failed (e.g. its `.env` file could not be read).
    #[error("variables provider {provider}: {message}")]
    Provider {
        /// Which provider, e.g. `env`.
        provider: String,
        /// What went wrong.
        message: String,
    },
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
