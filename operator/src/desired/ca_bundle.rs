//! The default CA bundle Secret for executors with `installDefaultCACerts`.

use std::collections::BTreeMap;
use std::sync::OnceLock;

use base64::Engine;
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;

use crate::api::SpinApp;

/// Name SpinKube gives the default CA Secret when the executor names none.
pub const DEFAULT_CA_SECRET: &str = "spin-ca";
/// Key of the bundle in the Secret (mounted at /etc/ssl/certs/ca-certificates.crt).
pub const CA_BUNDLE_KEY: &str = "ca-certificates.crt";

/// The Secret to create in the app's namespace when it is missing (it is shared by every app there and may
/// be replaced by the cluster operator, so it is created once, never overwritten, and has no owner).
pub fn ca_secret(app: &SpinApp, name: &str) -> Secret {
    Secret {
        metadata: ObjectMeta {
            name: Some(name.to_string()),
            namespace: app.metadata.namespace.clone(),
            annotations: Some(BTreeMap::from([(
                "app.kubernetes.io/managed-by".to_string(),
                "spin-operator.spinkube.dev".to_string(),
            )])),
            ..Default::default()
        },
        string_data: Some(BTreeMap::from([(
            CA_BUNDLE_KEY.to_string(),
            default_bundle().to_string(),
        )])),
        ..Default::default()
    }
}

/// The Mozilla root store (as shipped by webpki-root-certs) in PEM.
fn default_bundle() -> &'static str {
    static BUNDLE: OnceLock<String> = OnceLock::new();
    BUNDLE.get_or_init(|| {
        let engine = base64::engine::general_purpose::STANDARD;
        let mut pem = String::new();
        for cert in webpki_root_certs::TLS_SERVER_ROOT_CERTS {
            pem.push_str("-----BEGIN CERTIFICATE-----\n");
            let b64 = engine.encode(cert.as_ref());
            for chunk in b64.as_bytes().chunks(64) {
                pem.push_str(std::str::from_utf8(chunk).unwrap_or_default());
                pem.push('\n');
            }
            pem.push_str("-----END CERTIFICATE-----\n");
        }
        pem
    })
}
