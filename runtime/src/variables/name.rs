//! Spin's variable-name rule and the name → environment variable mapping.

use super::VariablesError;

/// Spin's rule (spin-expressions `Key`): `[a-z][a-z0-9_]*`, no `__`, no trailing `_`,
/// so that names map unambiguously to environment variables and back.
pub fn validate_name(name: &str, origin: &str) -> Result<(), VariablesError> {
    let reason = if name.is_empty() {
        Some("it is empty".to_owned())
    } else if let Some(c) = name
        .chars()
        .find(|c| !(c.is_ascii_lowercase() || c.is_ascii_digit() || *c == '_'))
    {
        Some(format!("it contains {c:?}"))
    } else if !name.starts_with(|c: char| c.is_ascii_lowercase()) {
        Some("it does not start with a lowercase letter".to_owned())
    } else if name.ends_with('_') {
        Some("it ends with `_`".to_owned())
    } else if name.contains("__") {
        Some("it contains `__`".to_owned())
    } else {
        None
    };
    let lower = name.to_ascii_lowercase();
    let reason = match reason {
        // `--variable API_KEY=...` is a common slip: suggest the real name.
        Some(r) if lower != name && validate_name(&lower, origin).is_ok() => {
            Some(format!("{r}; did you mean `{lower}`?"))
        }
        other => other,
    };
    match reason {
        None => Ok(()),
        Some(reason) => Err(VariablesError::InvalidName {
            name: name.to_owned(),
            origin: origin.to_owned(),
            reason,
        }),
    }
}

/// `api_key` → `<PREFIX>_API_KEY`. A prefix that already ends in `_` (SpinKube
/// writes `SPIN_VARIABLE_`) is used as is, and an empty prefix adds nothing, so
/// neither produces a doubled or leading underscore.
pub fn env_name(prefix: &str, name: &str) -> String {
    let upper = name.to_ascii_uppercase();
    if prefix.is_empty() || prefix.ends_with('_') {
        format!("{prefix}{upper}")
    } else {
        format!("{prefix}_{upper}")
    }
}
