//! The TLS client settings of outbound MQTT, PostgreSQL and MySQL: the system's trust store
//! (`SSL_CERT_FILE` / `SSL_CERT_DIR` honoured, as OpenSSL-based clients do) and ring, the
//! crypto provider used everywhere else in this runtime.

use std::sync::{Arc, OnceLock};

/// One config per process: loading the trust store reads many files.
pub fn client_config() -> Arc<rustls::ClientConfig> {
    static CONFIG: OnceLock<Arc<rustls::ClientConfig>> = OnceLock::new();
    CONFIG
        .get_or_init(|| {
            let mut roots = rustls::RootCertStore::empty();
            let found = rustls_native_certs::load_native_certs();
            for e in &found.errors {
                tracing::warn!("loading the system's TLS roots: {e}");
            }
            let (added, ignored) = roots.add_parsable_certificates(found.certs);
            tracing::debug!("{added} TLS roots loaded ({ignored} unusable)");
            let provider = Arc::new(rustls::crypto::ring::default_provider());
            let config = rustls::ClientConfig::builder_with_provider(provider)
                .with_safe_default_protocol_versions()
                .expect("ring supports the default TLS versions")
                .with_root_certificates(roots)
                .with_no_client_auth();
            Arc::new(config)
        })
        .clone()
}

/// Libraries that build their own rustls configs (rumqttc's URL parser, mysql_async) need
/// a process-wide provider; installing one twice is harmless.
pub fn install_default_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}
