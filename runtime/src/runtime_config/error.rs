//! Errors from reading a runtime config file. Every message names the file and
//! the dotted key so the user can find the line, and says what would be accepted.

use std::path::{Path, PathBuf};

/// A runtime config file that cannot be used; every variant names the file and the offending key.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeConfigError {
    // Not a `source`: the message already carries the I/O error, and a source would print it
    // a second time in an error chain.
    /// The file could not be read.
    #[error("cannot read runtime config file {}: {error}", file.display())]
    Read {
        /// The runtime config file.
        file: PathBuf,
        /// The I/O error, already part of the message (so not a `source`).
        error: std::io::Error,
    },
    /// The file is not valid TOML.
    #[error("runtime config file {} is not valid TOML: {message}", file.display())]
    Syntax {
        /// The runtime config file.
        file: PathBuf,
        /// The TOML parser's message.
        message: String,
    },
    /// A key this runtime (and Spin) does not accept at that place.
    #[error("runtime config file {}: unknown key `{key}`; accepted here: {accepted}", file.display())]
    UnknownKey {
        /// The runtime config file.
        file: PathBuf,
        /// Dotted key that is not accepted.
        key: String,
        /// Comma-separated keys that are accepted there.
        accepted: String,
    },
    /// A `type = "..."` value that names no known backend.
    #[error("runtime config file {}: `{key}` = {found:?} is not a known type; accepted: {accepted}", file.display())]
    UnknownType {
        /// The runtime config file.
        file: PathBuf,
        /// Dotted key of the `type`.
        key: String,
        /// The `type` value found.
        found: String,
        /// Comma-separated types that are accepted.
        accepted: String,
    },
    /// A backend or section Spin has but this runtime does not implement yet.
    #[error("runtime config file {}: `{key}`{what} is not supported by this runtime yet; {hint}", file.display())]
    Unsupported {
        /// The runtime config file.
        file: PathBuf,
        /// Dotted key of the section or `type`.
        key: String,
        /// ` = "vault"` for a type, empty for a whole section.
        what: String,
        /// What to use instead.
        hint: String,
    },
    /// A required key is absent.
    #[error("runtime config file {}: `{key}` is missing; {hint}", file.display())]
    Missing {
        /// The runtime config file.
        file: PathBuf,
        /// Dotted key that is missing.
        key: String,
        /// What to add.
        hint: String,
    },
    /// A key whose value has the wrong type or form.
    #[error("runtime config file {}: invalid `{key}`: {message}", file.display())]
    Invalid {
        /// The runtime config file.
        file: PathBuf,
        /// Dotted key with the bad value.
        key: String,
        /// What is wrong with it.
        message: String,
    },
    /// A component is granted a store/database label the runtime config does not define.
    #[error("component `{component}` is granted {kind} `{label}` (in `{grant}`), but no such {kind} is defined; add `[{section}.{label}]` to the runtime config file or remove the grant")]
    UndefinedLabel {
        /// Component that holds the grant.
        component: String,
        /// `key-value store` or `SQLite database`, for the message.
        kind: &'static str,
        /// The granted label.
        label: String,
        /// Manifest field holding the grant (`key_value_stores` or `sqlite_databases`).
        grant: &'static str,
        /// Runtime config section that defines such labels (`key_value_store` or
        /// `sqlite_database`).
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
