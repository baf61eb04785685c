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

/// Why an app could not be loaded or validated; messages say how to fix the app.
#[derive(Debug, thiserror::Error)]
pub enum AppError {
    /// The manifest file could not be read.
    #[error("cannot read Spin manifest {path}: {source}; check the path or pass the app's spin.toml with -f")]
    ReadManifest {
        /// Path of the manifest.
        path: PathBuf,
        /// The I/O error from reading it.
        source: std::io::Error,
    },
    /// The manifest is not valid TOML or does not match the manifest schema.
    #[error("{path} is not a valid Spin manifest: {message}")]
    ParseManifest {
        /// Path of the manifest.
        path: PathBuf,
        /// What the TOML parser or schema check reported.
        message: String,
    },
    /// `spin_manifest_version` is neither 1 nor 2.
    #[error("{path}: unsupported spin_manifest_version {found}; this runtime reads manifest versions 1 and 2")]
    ManifestVersion {
        /// Path of the manifest.
        path: PathBuf,
        /// The `spin_manifest_version` value found.
        found: String,
    },
    /// A component's local `source` file does not exist (usually: the app is not built).
    #[error("component `{component}`: Wasm file {path} does not exist; build the app first (e.g. `spin build`) or fix `source` in spin.toml")]
    MissingSource {
        /// Component id.
        component: String,
        /// The expected Wasm file.
        path: PathBuf,
    },
    /// Locked-app JSON that does not parse.
    #[error("invalid locked app JSON: {0}")]
    LockedJson(String),
    /// `must_understand` features this runtime does not know.
    #[error("the app needs features this runtime does not understand ({}); upgrade spinkube or lock the app with an older Spin", .0.join(", "))]
    MustUnderstand(Vec<String>),
    /// Required `host_requirements` this runtime cannot satisfy.
    #[error("the app requires host features this runtime does not support: {}", .0.join(", "))]
    HostRequirements(Vec<String>),
    /// Any other invalid app (bad ids, unknown trigger types, dangling references, ...).
    #[error("{0}")]
    Invalid(String),
}
