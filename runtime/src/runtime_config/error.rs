//! Errors from reading a runtime config file. Every message names the file and
//! the dotted key so the user can find the line, and says what would be accepted.

use std::path::{Path, PathBuf};

#[derive(Debug, thiserror::Error)]
pub enum RuntimeConfigError {
    // Not a `source`: the message already carries the I/O error, and a source would print it
    // a second time in an error chain.
    #[error("cannot read runtime config file {}: {error}", file.display())]
    Read {
        file: PathBuf,
        error: std::io::Error,
    },
    #[error("runtime config file {} is not valid TOML: {message}", file.display())]
    Syntax { file: PathBuf, message: String },
    #[error("runtime config file {}: unknown key `{key}`; accepted here: {accepted}", file.display())]
    UnknownKey {
        file: PathBuf,
        key: String,
        accepted: String,
    },
    #[error("runtime config file {}: `{key}` = {found:?} is not a known type; accepted: {accepted}", file.display())]
    UnknownType {
        file: PathBuf,
        key: String,
        found: String,
        accepted: String,
    },
    #[error("runtime config file {}: `{key}`{what} is not supported by this runtime yet; {hint}", file.display())]
    Unsupported {
        file: PathBuf,
        key: String,
        /// ` = "vault"` for a type, empty for a whole section.
        what: String,
        hint: String,
    },
    #[error("runtime config file {}: `{key}` is missing; {hint}", file.display())]
    Missing {
        file: PathBuf,
        key: String,
        hint: String,
    },
    #[error("runtime config file {}: invalid `{key}`: {message}", file.display())]
    Invalid {
        file: PathBuf,
        key: String,
        message: String,
    },
    /// A component is granted a store/database label the runtime config does not define.
    #[error("component `{component}` is granted {kind} `{label}` (in `{grant}`), but no such {kind} is defined; add `[{section}.{label}]` to the runtime config file or remove the grant")]
    UndefinedLabel {
        component: String,
        kind: &'static str,
        label: String,
        grant: &'static str,
        section: &'static str,
    },
}

impl RuntimeConfigError {
    pub(super) fn invalid(file: &Path, key: &str, message: impl Into<String>) -> Self {
        Self::Invalid {
            file: file.to_owned(),
            key: key.to_owned(),
            message: message.into(),
        }
    }
}
