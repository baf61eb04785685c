//! Admission webhook plumbing: the operator's own CA and serving certificate, `caBundle` patching and the
//! HTTPS server. What the webhooks decide lives in `crate::admission`.
//!
//! - [`certs`]: pure: make the CA and serving certificate, decide when to renew them.
//! - [`cert_manager`]: the Secret and the webhook configurations' `caBundle`, and the rotation loop.
//! - [`tls_server`]: the HTTPS server, whose certificate can be swapped while it runs.

pub mod cert_manager;
pub mod certs;
pub mod tls_server;

pub use cert_manager::{ensure_certificate, run_rotation_loop, CertConfig, CertManagerError};
pub use certs::CertBundle;
pub use tls_server::{bind, serve, CertStore, Handler, TlsError};
