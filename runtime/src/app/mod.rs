//! The app model: manifests (v1, v2) and locked apps become one [`LockedApp`].

pub mod content;
pub mod locked;
pub mod manifest;
pub mod retain;
mod validate;

use std::path::PathBuf;

pub use locked::LockedApp;
pub use manifest::{load_manifest_file, LoadOptions};
pub use validate::{validate, KNOWN_TRIGGER_TYPES};

#[derive(Debug, thiserror::Error)]
pub enum AppError {
    #[error("cannot read Spin manifest {path}: {source}; check the path or pass the app's spin.toml with -f")]
    ReadManifest {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("{path} is not a valid Spin manifest: {message}")]
    ParseManifest { path: PathBuf, message: String },
    #[error("{path}: unsupported spin_manifest_version {found}; this runtime reads manifest versions 1 and 2")]
    ManifestVersion { path: PathBuf, found: String },
    #[error("component `{component}`: Wasm file {path} does not exist; build the app first (e.g. `spin build`) or fix `source` in spin.toml")]
    MissingSource { component: String, path: PathBuf },
    #[error("invalid locked app JSON: {0}")]
    LockedJson(String),
    #[error("the app needs features this runtime does not understand ({}); upgrade spinkube or lock the app with an older Spin", .0.join(", "))]
    MustUnderstand(Vec<String>),
    #[error("the app requires host features this runtime does not support: {}", .0.join(", "))]
    HostRequirements(Vec<String>),
    #[error("{0}")]
    Invalid(String),
}
