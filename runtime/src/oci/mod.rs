//! OCI distribution of Spin apps: the artifact format `spin registry push` writes, pushing and
//! pulling it with `oci-client`, a verified content-addressed blob cache, and a loader that turns
//! a manifest plus cached layers into a [`crate::app::LockedApp`] with `file://` sources.

pub mod archive;
pub mod assemble;
pub mod auth;
pub mod cache;
pub mod client;
pub mod layers;
pub mod loader;

pub use auth::Credentials;
pub use cache::BlobCache;
pub use client::{Progress, PullOutcome, PushOutcome, RegistryClient, RegistryOptions};
pub use loader::load_app;

/// The locked app JSON (the last layer of a Spin artifact).
pub const SPIN_APPLICATION_MEDIA_TYPE: &str = "application/vnd.fermyon.spin.application.v1+config";
/// A component's Wasm binary.
pub const WASM_LAYER_MEDIA_TYPE: &str = "application/vnd.wasm.content.layer.v1+wasm";
/// One static file.
pub const DATA_MEDIA_TYPE: &str = "application/vnd.wasm.content.layer.v1+data";
/// A tar+gzip of one component's files (used when there are too many files for one layer each).
pub const ARCHIVE_MEDIA_TYPE: &str = "application/vnd.wasm.content.bundle.v1.tar+gzip";
/// A single Wasm component as `wkg oci push` writes it.
pub const WKG_WASM_MEDIA_TYPE: &str = "application/wasm";
/// Image manifest and config media types.
pub const OCI_MANIFEST_MEDIA_TYPE: &str = "application/vnd.oci.image.manifest.v1+json";
/// Docker's v2 image manifest, accepted on pull alongside the OCI one.
pub const DOCKER_MANIFEST_MEDIA_TYPE: &str = "application/vnd.docker.distribution.manifest.v2+json";
/// Label in the image config naming the locked app layer (so each app gets its own image ID).
pub const LOCKED_APP_DIGEST_LABEL: &str = "com.fermyon.spin.lockedAppDigest";

/// Registries cap layers per manifest (500 on ECR); above this Spin switches to archive layers.
pub const MAX_LAYER_COUNT: usize = 500;
/// Content up to this size is inlined into the locked app instead of becoming a layer.
pub const INLINE_MAX_SIZE: usize = 128;
/// Forces archive layers, as `SPIN_OCI_ARCHIVE_LAYERS` does for `spin registry push`.
pub const ARCHIVE_LAYERS_ENV: &str = "SPIN_OCI_ARCHIVE_LAYERS";

/// Why pushing, pulling or loading an OCI artifact failed; messages say what to check.
#[derive(Debug, thiserror::Error)]
pub enum OciError {
    /// The image reference does not parse.
    #[error("invalid image reference {reference:?}: {message}; use REGISTRY/REPOSITORY[:TAG|@DIGEST], e.g. 127.0.0.1:5000/my-app:v1")]
    Reference {
        /// The reference as given.
        reference: String,
        /// Why it does not parse.
        message: String,
    },
    /// HTTP 401: the registry rejected the credentials (or their absence).
    #[error("{reference}: the registry refused the credentials (HTTP 401); check --username/--password-stdin or the `auths` entry for {registry} in your Docker config (~/.docker/config.json or $DOCKER_CONFIG)")]
    Unauthorized {
        /// The image reference as given.
        reference: String,
        /// Registry host whose credentials were refused.
        registry: String,
    },
    /// HTTP 403: authenticated, but not allowed.
    #[error("{reference}: access denied (HTTP 403); the account may lack {operation} permission on this repository")]
    Forbidden {
        /// The image reference as given.
        reference: String,
        /// `pull` or `push`, for the message.
        operation: &'static str,
    },
    /// HTTP 404: no such repository or tag.
    #[error("{reference}: not found in the registry (HTTP 404); check the repository name and tag, or push the app first with `spinkube push`")]
    NotFound {
        /// The image reference as given.
        reference: String,
    },
    /// The registry could not be reached at all.
    #[error("{reference}: cannot reach the registry at {registry}: {message}; is it running? For a plain-HTTP registry pass --insecure")]
    Unreachable {
        /// The image reference as given.
        reference: String,
        /// The registry host (and port).
        registry: String,
        /// The transport error.
        message: String,
    },
    /// A blob's bytes do not hash to the digest they were fetched under.
    #[error("blob digest mismatch: expected {expected}, got {actual}; the registry returned corrupted or truncated data (nothing was cached)")]
    DigestMismatch {
        /// Digest the blob was requested by.
        expected: String,
        /// Digest of the bytes received.
        actual: String,
    },
    /// Any other registry error.
    #[error("{reference}: {message}")]
    Registry {
        /// The image reference as given.
        reference: String,
        /// The registry's error.
        message: String,
    },
    /// The local blob cache failed (I/O, bad digest syntax).
    #[error("OCI cache: {0}")]
    Cache(String),
    /// The image is not a usable Spin app (no locked-app layer, bad archive layer, ...).
    #[error("{0}")]
    Invalid(String),
    /// The locked app inside the artifact is invalid.
    #[error(transparent)]
    App(#[from] crate::app::AppError),
}
