//! Keeps the webhook certificate in its Secret and the CA in the webhook configurations' `caBundle`.
//!
//! The Secret is the single source of truth: every replica reads it, creates it if missing and renews
//! it when [`certs::needs_rotation`] says so, with optimistic concurrency (create, or update at the
//! read `resourceVersion`; the loser of a race re-reads and uses the winner's certificate). So replicas
//! never fight over the certificate and all serve certificates from the CA in `caBundle`.
//!
//! Webhook configurations are patched with the whole `webhooks` list read back (as untyped JSON, so no
//! field a newer API server knows is dropped) and the read `resourceVersion`. A configuration that does
//! not exist yet is skipped: the operator can start before the chart installs them, and the rotation
//! loop patches them as soon as they appear.

use std::future::Future;
use std::time::Duration;

use base64::Engine as _;
use chrono::Utc;
use futures::{Stream, StreamExt};
use k8s_openapi::api::admissionregistration::v1::{
    MutatingWebhookConfiguration, ValidatingWebhookConfiguration,
};
use k8s_openapi::api::core::v1::Secret;
use k8s_openapi::ByteString;
use kube::api::{ApiResource, DynamicObject, Patch, PatchParams, PostParams};
use kube::runtime::watcher::{self, Event};
use kube::runtime::WatchStreamExt;
use kube::{Api, Client};
use tokio::time::Instant;

use super::certs::{self, CertBundle, CertError};
use super::tls_server::CertStore;

/// Secret data keys.
pub const CA_CERT_KEY: &str = "ca.crt";
/// Secret data key of the CA private key (PEM).
pub const CA_KEY_KEY: &str = "ca.key";
/// Secret data key of the serving certificate (PEM), as in a `kubernetes.io/tls` Secret.
pub const TLS_CERT_KEY: &str = "tls.crt";
/// Secret data key of the serving private key (PEM), as in a `kubernetes.io/tls` Secret.
pub const TLS_KEY_KEY: &str = "tls.key";

/// How often the rotation loop re-checks the Secret when nothing happens.
pub const CHECK_INTERVAL: Duration = Duration::from_secs(3600);
/// First retry delay after a failed check (doubles up to [`MAX_RETRY`]).
const FIRST_RETRY: Duration = Duration::from_secs(5);
const MAX_RETRY: Duration = Duration::from_secs(300);
/// Optimistic-concurrency attempts before giving up on one check.
const ATTEMPTS: usize = 5;
const FIELD_MANAGER: &str = "spin-operator";

/// Where the certificate lives and who must trust it (from the `--webhook-*` and `--namespace` flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CertConfig {
    /// The operator's namespace: holds the Secret and the webhook Service.
    pub namespace: String,
    /// `--webhook-cert-secret`.
    pub secret_name: String,
    /// `--webhook-service-name`: its in-cluster DNS names go into the certificate.
    pub service_name: String,
    /// `--webhook-extra-san`: more DNS names or IP addresses.
    pub extra_sans: Vec<String>,
    /// `--mutating-webhook-configuration`; empty to manage none.
    pub mutating_webhook_configuration: String,
    /// `--validating-webhook-configuration`; empty to manage none.
    pub validating_webhook_configuration: String,
}

impl CertConfig {
    /// The subject alternative names the serving certificate must carry.
    pub fn sans(&self) -> Vec<String> {
        certs::webhook_sans(&self.service_name, &self.namespace, &self.extra_sans)
    }
}

/// Errors talking to the API server about the certificate.
#[derive(Debug, thiserror::Error)]
pub enum CertManagerError {
    /// Reading or writing the certificate Secret failed.
    #[error(
        "cannot {action} webhook certificate Secret {namespace}/{name}: {source} \
         (the operator needs get/create/update on secrets in its namespace)"
    )]
    Secret {
        /// What was attempted (`get`, `create`, `update`).
        action: &'static str,
        /// Namespace of the Secret.
        namespace: String,
        /// Name of the Secret.
        name: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// The Secret changed under every retry of a renewal (optimistic concurrency conflicts).
    #[error(
        "webhook certificate Secret {namespace}/{name} kept changing while being renewed ({attempts} tries); \
         is another program writing it?"
    )]
    Contended {
        /// Namespace of the Secret.
        namespace: String,
        /// Name of the Secret.
        name: String,
        /// Tries made before giving up.
        attempts: usize,
    },
    /// Generating or parsing the certificates failed.
    #[error("cannot make a webhook certificate for Secret {namespace}/{name}: {source}")]
    Cert {
        /// Namespace of the Secret.
        namespace: String,
        /// Name of the Secret.
        name: String,
        /// The certificate error.
        #[source]
        source: CertError,
    },
    /// Reading or patching a webhook configuration's `caBundle` failed.
    #[error(
        "cannot {action} {kind} {name} to set its caBundle: {source} \
         (the operator needs get/patch on {resource})"
    )]
    WebhookConfiguration {
        /// What was attempted (`get` or `patch`).
        action: &'static str,
        /// `MutatingWebhookConfiguration` or `ValidatingWebhookConfiguration`.
        kind: &'static str,
        /// RBAC resource name, for the permission hint.
        resource: &'static str,
        /// Name of the webhook configuration.
        name: String,
        /// The API error.
        #[source]
        source: kube::Error,
    },
    /// The webhook configuration changed under every retry of the `caBundle` patch.
    #[error("{kind} {name} kept changing while its caBundle was being patched ({attempts} tries)")]
    WebhookConfigurationContended {
        /// `MutatingWebhookConfiguration` or `ValidatingWebhookConfiguration`.
        kind: &'static str,
        /// Name of the webhook configuration.
        name: String,
        /// Tries made before giving up.
        attempts: usize,
    },
}

/// Reads (creating or renewing as needed) the certificate in the Secret and makes both webhook
/// configurations trust its CA. Call before serving; the result goes into [`CertStore::set`].
pub async fn ensure_certificate(
    client: &Client,
    cfg: &CertConfig,
) -> Result<CertBundle, CertManagerError> {
    let bundle = ensure_secret(client, cfg).await?;
    for kind in WebhookKind::ALL {
        patch_ca_bundle(client, kind, kind.name(cfg), &bundle.ca_cert_pem).await?;
    }
    Ok(bundle)
}

/// Keeps the certificate fresh until `shutdown`: re-checks every [`CHECK_INTERVAL`], re-patches when a
/// webhook configuration appears (or is re-created) without our CA, picks up a certificate another
/// replica renewed, and puts the current one into `store`. Failures are logged and retried with backoff.
pub async fn run_rotation_loop(
    client: Client,
    cfg: CertConfig,
    store: CertStore,
    shutdown: impl Future<Output = ()>,
) {
    let mut mutating = watch_webhooks(&client, WebhookKind::Mutating, &cfg);
    let mut validating = watch_webhooks(&client, WebhookKind::Validating, &cfg);
    let secret_api: Api<Secret> = Api::namespaced(client.clone(), &cfg.namespace);
    let secret_cfg =
        watcher::Config::default().fields(&format!("metadata.name={}", cfg.secret_name));
    let mut secret = watcher::watcher(secret_api, secret_cfg)
        .default_backoff()
        .boxed();

    let mut current: Option<CertBundle> = None;
    let mut next_check = Instant::now();
    let mut retry = FIRST_RETRY;
    tokio::pin!(shutdown);
    loop {
        let recheck = tokio::select! {
            () = &mut shutdown => return,
            () = tokio::time::sleep_until(next_check) => true,
            Some(ev) = mutating.next() => webhooks_stale(WebhookKind::Mutating, ev, current.as_ref()),
            Some(ev) = validating.next() => webhooks_stale(WebhookKind::Validating, ev, current.as_ref()),
            Some(ev) = secret.next() => secret_changed(ev, current.as_ref()),
        };
        if !recheck {
            continue;
        }
        match ensure_certificate(&client, &cfg).await {
            Ok(bundle) => {
                match store.set(&bundle) {
                    Ok(true) => tracing::info!(
                        serial = store.serial_hex().unwrap_or_default(),
                        secret = %cfg.secret_name,
                        "webhook server now uses the certificate from the Secret"
                    ),
                    Ok(false) => {}
                    Err(e) => {
                        tracing::error!(error = %e, secret = %cfg.secret_name, "cannot load webhook certificate")
                    }
                }
                current = Some(bundle);
                retry = FIRST_RETRY;
                next_check = Instant::now() + CHECK_INTERVAL;
            }
            Err(e) => {
                tracing::warn!(error = %e, retry_in = ?retry, "webhook certificate check failed");
                next_check = Instant::now() + retry;
                retry = (retry * 2).min(MAX_RETRY);
            }
        }
    }
}

// ---- Secret ----

async fn ensure_secret(client: &Client, cfg: &CertConfig) -> Result<CertBundle, CertManagerError> {
    let api: Api<Secret> = Api::namespaced(client.clone(), &cfg.namespace);
    let sans = cfg.sans();
    let secret_err = |action, source| CertManagerError::Secret {
        action,
        namespace: cfg.namespace.clone(),
        name: cfg.secret_name.clone(),
        source,
    };
    let cert_err = |source| CertManagerError::Cert {
        namespace: cfg.namespace.clone(),
        name: cfg.secret_name.clone(),
        source,
    };
    for _ in 0..ATTEMPTS {
        let now = Utc::now();
        let Some(mut secret) = api
            .get_opt(&cfg.secret_name)
            .await
            .map_err(|e| secret_err("read", e))?
        else {
            let bundle = certs::generate(&sans, now).map_err(cert_err)?;
            match api.create(&post_params(), &new_secret(cfg, &bundle)).await {
                Ok(_) => {
                    tracing::info!(secret = %cfg.secret_name, namespace = %cfg.namespace, "created webhook certificate");
                    return Ok(bundle);
                }
                // Another replica created it first: use theirs.
                Err(kube::Error::Api(s)) if s.is_already_exists() || s.is_conflict() => continue,
                Err(e) => return Err(secret_err("create", e)),
            }
        };
        let stored = bundle_from_secret(&secret);
        let Some(reason) = certs::needs_rotation(&stored, now, &sans) else {
            return Ok(stored);
        };
        let renewed = certs::renew(&stored, &reason, &sans, now).map_err(cert_err)?;
        put_bundle(&mut secret, &renewed);
        // `secret` still carries the resourceVersion we read: the update fails with 409 if it changed.
        match api.replace(&cfg.secret_name, &post_params(), &secret).await {
            Ok(_) => {
                tracing::info!(secret = %cfg.secret_name, namespace = %cfg.namespace, %reason, "renewed webhook certificate");
                return Ok(renewed);
            }
            Err(kube::Error::Api(s)) if s.is_conflict() => continue,
            Err(e) => return Err(secret_err("update", e)),
        }
    }
    Err(CertManagerError::Contended {
        namespace: cfg.namespace.clone(),
        name: cfg.secret_name.clone(),
        attempts: ATTEMPTS,
    })
}

/// The bundle stored in `secret`; missing or non-UTF-8 entries come back empty, which
/// [`certs::needs_rotation`] reports as unusable.
pub fn bundle_from_secret(secret: &Secret) -> CertBundle {
    let get = |key: &str| {
        secret
            .data
            .as_ref()
            .and_then(|d| d.get(key))
            .and_then(|v| String::from_utf8(v.0.clone()).ok())
            .unwrap_or_default()
    };
    CertBundle {
        ca_cert_pem: get(CA_CERT_KEY),
        ca_key_pem: get(CA_KEY_KEY),
        cert_pem: get(TLS_CERT_KEY),
        key_pem: get(TLS_KEY_KEY),
    }
}

fn post_params() -> PostParams {
    PostParams {
        field_manager: Some(FIELD_MANAGER.into()),
        ..Default::default()
    }
}

fn put_bundle(secret: &mut Secret, bundle: &CertBundle) {
    let data = secret.data.get_or_insert_with(Default::default);
    for (key, value) in [
        (CA_CERT_KEY, &bundle.ca_cert_pem),
        (CA_KEY_KEY, &bundle.ca_key_pem),
        (TLS_CERT_KEY, &bundle.cert_pem),
        (TLS_KEY_KEY, &bundle.key_pem),
    ] {
        data.insert(key.to_string(), ByteString(value.as_bytes().to_vec()));
    }
}

fn new_secret(cfg: &CertConfig, bundle: &CertBundle) -> Secret {
    let mut secret = Secret {
        metadata: kube::api::ObjectMeta {
            name: Some(cfg.secret_name.clone()),
            namespace: Some(cfg.namespace.clone()),
            labels: Some(
                [(
                    "app.kubernetes.io/managed-by".to_string(),
                    "spin-operator".to_string(),
                )]
                .into(),
            ),
            ..Default::default()
        },
        type_: Some("kubernetes.io/tls".to_string()),
        ..Default::default()
    };
    put_bundle(&mut secret, bundle);
    secret
}

// ---- webhook configurations ----

#[derive(Debug, Clone, Copy)]
enum WebhookKind {
    Mutating,
    Validating,
}

impl WebhookKind {
    const ALL: [Self; 2] = [Self::Mutating, Self::Validating];

    fn name(self, cfg: &CertConfig) -> &str {
        match self {
            Self::Mutating => &cfg.mutating_webhook_configuration,
            Self::Validating => &cfg.validating_webhook_configuration,
        }
    }

    fn kind(self) -> &'static str {
        match self {
            Self::Mutating => "MutatingWebhookConfiguration",
            Self::Validating => "ValidatingWebhookConfiguration",
        }
    }

    fn resource(self) -> &'static str {
        match self {
            Self::Mutating => "mutatingwebhookconfigurations",
            Self::Validating => "validatingwebhookconfigurations",
        }
    }

    /// Untyped, so patching the read-back `webhooks` keeps fields k8s-openapi does not know.
    fn api(self, client: &Client) -> Api<DynamicObject> {
        let ar = match self {
            Self::Mutating => ApiResource::erase::<MutatingWebhookConfiguration>(&()),
            Self::Validating => ApiResource::erase::<ValidatingWebhookConfiguration>(&()),
        };
        Api::all_with(client.clone(), &ar)
    }
}

fn b64(ca_pem: &str) -> String {
    base64::engine::general_purpose::STANDARD.encode(ca_pem.as_bytes())
}

/// Number of webhooks in `obj` whose `clientConfig.caBundle` is not `want_b64`.
fn stale_count(obj: &DynamicObject, want_b64: &str) -> usize {
    obj.data
        .get("webhooks")
        .and_then(|w| w.as_array())
        .map(|hooks| {
            hooks
                .iter()
                .filter(|h| {
                    h.pointer("/clientConfig/caBundle").and_then(|v| v.as_str()) != Some(want_b64)
                })
                .count()
        })
        .unwrap_or(0)
}

async fn patch_ca_bundle(
    client: &Client,
    kind: WebhookKind,
    name: &str,
    ca_pem: &str,
) -> Result<(), CertManagerError> {
    if name.is_empty() {
        return Ok(());
    }
    let api = kind.api(client);
    let want = b64(ca_pem);
    let err = |action, source| CertManagerError::WebhookConfiguration {
        action,
        kind: kind.kind(),
        resource: kind.resource(),
        name: name.to_string(),
        source,
    };
    for _ in 0..ATTEMPTS {
        let Some(obj) = api.get_opt(name).await.map_err(|e| err("read", e))? else {
            tracing::info!(
                kind = kind.kind(),
                name,
                "webhook configuration not found; caBundle will be set when it appears"
            );
            return Ok(());
        };
        let stale = stale_count(&obj, &want);
        if stale == 0 {
            return Ok(());
        }
        let mut hooks = obj.data.get("webhooks").cloned().unwrap_or_default();
        if let Some(list) = hooks.as_array_mut() {
            for hook in list.iter_mut().filter_map(|h| h.as_object_mut()) {
                let client_config = hook
                    .entry("clientConfig")
                    .or_insert_with(|| serde_json::Value::Object(Default::default()));
                if let Some(cc) = client_config.as_object_mut() {
                    cc.insert("caBundle".into(), serde_json::Value::String(want.clone()));
                }
            }
        }
        let patch = serde_json::json!({
            "metadata": { "resourceVersion": obj.metadata.resource_version },
            "webhooks": hooks,
        });
        match api
            .patch(
                name,
                &PatchParams {
                    field_manager: Some(FIELD_MANAGER.into()),
                    ..Default::default()
                },
                &Patch::Merge(&patch),
            )
            .await
        {
            Ok(_) => {
                tracing::info!(
                    kind = kind.kind(),
                    name,
                    webhooks = stale,
                    "patched caBundle"
                );
                return Ok(());
            }
            // Changed since we read it (e.g. the chart was upgraded): read again.
            Err(kube::Error::Api(s)) if s.is_conflict() => continue,
            Err(e) => return Err(err("patch", e)),
        }
    }
    Err(CertManagerError::WebhookConfigurationContended {
        kind: kind.kind(),
        name: name.to_string(),
        attempts: ATTEMPTS,
    })
}

type WatchStream =
    std::pin::Pin<Box<dyn Stream<Item = Result<Event<DynamicObject>, watcher::Error>> + Send>>;

fn watch_webhooks(client: &Client, kind: WebhookKind, cfg: &CertConfig) -> WatchStream {
    let name = kind.name(cfg);
    if name.is_empty() {
        return futures::stream::pending().boxed();
    }
    let config = watcher::Config::default().fields(&format!("metadata.name={name}"));
    watcher::watcher(kind.api(client), config)
        .default_backoff()
        .boxed()
}

/// Whether a webhook-configuration event shows a caBundle other than the current CA (e.g. the chart
/// re-created it).
fn webhooks_stale(
    kind: WebhookKind,
    ev: Result<Event<DynamicObject>, watcher::Error>,
    current: Option<&CertBundle>,
) -> bool {
    match ev {
        Ok(Event::Apply(obj) | Event::InitApply(obj)) => match current {
            Some(bundle) => stale_count(&obj, &b64(&bundle.ca_cert_pem)) > 0,
            None => false, // the first check is already due
        },
        Ok(_) => false,
        Err(e) => {
            tracing::warn!(kind = kind.kind(), error = %e, "watching webhook configuration failed; retrying");
            false
        }
    }
}

/// Whether a Secret event shows content other than what we serve (another replica renewed it, or it
/// was deleted or edited).
fn secret_changed(ev: Result<Event<Secret>, watcher::Error>, current: Option<&CertBundle>) -> bool {
    match ev {
        Ok(Event::Apply(s) | Event::InitApply(s)) => {
            current.is_some_and(|c| *c != bundle_from_secret(&s))
        }
        Ok(Event::Delete(_)) => true,
        Ok(_) => false,
        Err(e) => {
            tracing::warn!(error = %e, "watching webhook certificate Secret failed; retrying");
            false
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn obj(webhooks: serde_json::Value) -> DynamicObject {
        serde_json::from_value(serde_json::json!({
            "apiVersion": "admissionregistration.k8s.io/v1",
            "kind": "ValidatingWebhookConfiguration",
            "metadata": { "name": "v" },
            "webhooks": webhooks,
        }))
        .expect("object")
    }

    fn bundle() -> CertBundle {
        certs::generate(&["hook.ns.svc".to_string()], Utc::now()).expect("generate")
    }

    #[test]
    fn stale_count_counts_webhooks_without_our_ca() {
        let want = b64("CA");
        let o = obj(serde_json::json!([
            { "name": "a", "clientConfig": { "caBundle": want } },
            { "name": "b", "clientConfig": { "url": "https://x" } },
            { "name": "c", "clientConfig": { "caBundle": b64("OTHER") } },
        ]));
        assert_eq!(stale_count(&o, &want), 2);
        assert_eq!(stale_count(&obj(serde_json::json!([])), &want), 0);
    }

    #[test]
    fn secret_round_trip_and_missing_keys() {
        let b = bundle();
        let cfg = CertConfig {
            namespace: "ns".into(),
            secret_name: "s".into(),
            service_name: "hook".into(),
            extra_sans: vec![],
            mutating_webhook_configuration: String::new(),
            validating_webhook_configuration: String::new(),
        };
        let secret = new_secret(&cfg, &b);
        assert_eq!(secret.type_.as_deref(), Some("kubernetes.io/tls"));
        assert_eq!(bundle_from_secret(&secret), b);
        let empty = bundle_from_secret(&Secret::default());
        assert!(
            certs::needs_rotation(&empty, Utc::now(), &cfg.sans()).is_some_and(|r| r.renews_ca())
        );
    }

    #[test]
    fn events_trigger_a_check_only_when_something_differs() {
        let b = bundle();
        let mut secret = Secret::default();
        put_bundle(&mut secret, &b);
        assert!(!secret_changed(Ok(Event::Apply(secret.clone())), Some(&b)));
        let other = bundle();
        assert!(secret_changed(
            Ok(Event::Apply(secret.clone())),
            Some(&other)
        ));
        assert!(secret_changed(Ok(Event::Delete(secret)), Some(&b)));

        let ours = obj(
            serde_json::json!([{ "name": "a", "clientConfig": { "caBundle": b64(&b.ca_cert_pem) } }]),
        );
        assert!(!webhooks_stale(
            WebhookKind::Validating,
            Ok(Event::Apply(ours.clone())),
            Some(&b)
        ));
        assert!(webhooks_stale(
            WebhookKind::Validating,
            Ok(Event::InitApply(ours)),
            Some(&other)
        ));
    }
}
