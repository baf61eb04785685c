//! The HTTPS listener for the admission webhooks.
//!
//! The certificate comes from a [`CertStore`] consulted on every TLS handshake, so the rotation loop can
//! swap in a renewed certificate and new connections use it without a restart (connections already open
//! keep the one they negotiated). What a request means is the `handler`'s business; this module only
//! does TLS, HTTP/1.1 + HTTP/2, a body size limit and graceful shutdown.

use std::fmt;
use std::future::Future;
use std::net::SocketAddr;
use std::sync::{Arc, RwLock};
use std::time::Duration;

use bytes::Bytes;
use futures::future::BoxFuture;
use http_body_util::{BodyExt, Full, Limited};
use hyper::body::Incoming;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::server::conn::auto;
use hyper_util::server::graceful::GracefulShutdown;
use rustls::crypto::CryptoProvider;
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use tokio::net::TcpListener;
use tokio_rustls::TlsAcceptor;

use super::certs::{inspect, pem_certs, CertBundle};

/// Largest request body accepted (the API server's own limit for an AdmissionReview is about this).
pub const MAX_BODY_BYTES: usize = 3 * 1024 * 1024;
/// A client that has not finished the TLS handshake by then is dropped.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);
/// On shutdown, in-flight requests get this long to finish (the API server's webhook timeout is <= 30s).
pub const DRAIN_TIMEOUT: Duration = Duration::from_secs(30);

/// Answers one webhook request. The body is already read (and within [`MAX_BODY_BYTES`]).
pub type Handler =
    Arc<dyn Fn(http::Request<Bytes>) -> BoxFuture<'static, http::Response<Bytes>> + Send + Sync>;

/// Errors of the TLS server and the certificate store.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// The serving certificate/key from the bundle cannot be used by rustls.
    #[error("webhook serving certificate unusable: {0}")]
    BadCert(String),
    /// TLS configuration refused by rustls.
    #[error("webhook TLS configuration: {0}")]
    Config(#[from] rustls::Error),
    /// The listening address cannot be bound.
    #[error("cannot listen for webhooks on {addr} (is --webhook-bind-address free?): {source}")]
    Bind {
        /// The address from `--webhook-bind-address`.
        addr: SocketAddr,
        /// The I/O error.
        #[source]
        source: std::io::Error,
    },
}

struct Current {
    key: Arc<CertifiedKey>,
    cert_pem: String,
    key_pem: String,
    serial_hex: String,
}

/// The serving certificate currently in use, shared between the rotation loop (writer) and the TLS
/// server (reader). Cheap to clone. Until the first [`CertStore::set`] every handshake is refused.
#[derive(Clone)]
pub struct CertStore {
    provider: Arc<CryptoProvider>,
    current: Arc<RwLock<Option<Current>>>,
}

impl fmt::Debug for CertStore {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CertStore")
            .field("serial", &self.serial_hex())
            .finish()
    }
}

impl Default for CertStore {
    fn default() -> Self {
        Self::new()
    }
}

impl CertStore {
    /// An empty store (handshakes fail until [`CertStore::set`]).
    pub fn new() -> Self {
        Self {
            provider: Arc::new(rustls::crypto::ring::default_provider()),
            current: Arc::default(),
        }
    }

    /// Uses `bundle`'s serving certificate for new connections. Returns whether it changed (setting
    /// the same certificate again is a no-op).
    pub fn set(&self, bundle: &CertBundle) -> Result<bool, TlsError> {
        if self
            .read(|c| c.map(|c| c.cert_pem == bundle.cert_pem && c.key_pem == bundle.key_pem))
            .unwrap_or(false)
        {
            return Ok(false);
        }
        // rustls cannot always tell whether a key fits its certificate (ring's ECDSA keys don't say):
        // check the whole bundle ourselves, so a bad one never replaces a working certificate.
        let serial_hex = inspect(bundle)
            .map_err(|e| TlsError::BadCert(e.to_string()))?
            .serial_hex;
        let certs = pem_certs(&bundle.cert_pem, "serving certificate (tls.crt)")
            .map_err(|e| TlsError::BadCert(e.to_string()))?;
        let key = rustls_pemfile::private_key(&mut bundle.key_pem.as_bytes())
            .map_err(|e| TlsError::BadCert(format!("tls.key: bad PEM: {e}")))?
            .ok_or_else(|| TlsError::BadCert("tls.key: no PRIVATE KEY block".into()))?;
        let key = CertifiedKey::from_der(certs, key, &self.provider)
            .map_err(|e| TlsError::BadCert(format!("tls.key does not fit tls.crt: {e}")))?;
        let new = Current {
            key: Arc::new(key),
            cert_pem: bundle.cert_pem.clone(),
            key_pem: bundle.key_pem.clone(),
            serial_hex,
        };
        match self.current.write() {
            Ok(mut guard) => *guard = Some(new),
            Err(poisoned) => *poisoned.into_inner() = Some(new),
        }
        Ok(true)
    }

    /// Serial (lowercase hex) of the certificate in use, if any.
    pub fn serial_hex(&self) -> Option<String> {
        self.read(|c| c.map(|c| c.serial_hex.clone()))
    }

    /// Whether a certificate is loaded (for readiness).
    pub fn is_ready(&self) -> bool {
        self.read(|c| c.is_some())
    }

    fn read<T>(&self, f: impl FnOnce(Option<&Current>) -> T) -> T {
        match self.current.read() {
            Ok(guard) => f(guard.as_ref()),
            Err(poisoned) => f(poisoned.into_inner().as_ref()),
        }
    }

    fn server_config(&self) -> Result<rustls::ServerConfig, TlsError> {
        let mut config = rustls::ServerConfig::builder_with_provider(self.provider.clone())
            .with_safe_default_protocol_versions()?
            .with_no_client_auth()
            .with_cert_resolver(Arc::new(self.clone()));
        config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
        Ok(config)
    }
}

impl ResolvesServerCert for CertStore {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.read(|c| c.map(|c| c.key.clone()))
    }
}

/// Binds `addr` and returns the address actually bound (port 0 picks one) and the server future.
/// The future serves until `shutdown` resolves, then stops accepting and waits (up to
/// [`DRAIN_TIMEOUT`]) for in-flight requests.
pub async fn bind(
    addr: SocketAddr,
    store: CertStore,
    handler: Handler,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(SocketAddr, impl Future<Output = ()> + Send + 'static), TlsError> {
    let listener = TcpListener::bind(addr)
        .await
        .map_err(|source| TlsError::Bind { addr, source })?;
    let local = listener
        .local_addr()
        .map_err(|source| TlsError::Bind { addr, source })?;
    let acceptor = TlsAcceptor::from(Arc::new(store.server_config()?));
    Ok((local, accept_loop(listener, acceptor, handler, shutdown)))
}

/// [`bind`] and run until `shutdown`.
pub async fn serve(
    addr: SocketAddr,
    store: CertStore,
    handler: Handler,
    shutdown: impl Future<Output = ()> + Send + 'static,
) -> Result<(), TlsError> {
    let (local, server) = bind(addr, store, handler, shutdown).await?;
    tracing::info!(%local, "serving admission webhooks over HTTPS");
    server.await;
    Ok(())
}

async fn accept_loop(
    listener: TcpListener,
    acceptor: TlsAcceptor,
    handler: Handler,
    shutdown: impl Future<Output = ()> + Send + 'static,
) {
    let graceful = GracefulShutdown::new();
    let builder = auto::Builder::new(TokioExecutor::new());
    tokio::pin!(shutdown);
    loop {
        let (tcp, peer) = tokio::select! {
            () = &mut shutdown => break,
            accepted = listener.accept() => match accepted {
                Ok(conn) => conn,
                Err(e) => {
                    // Usually EMFILE or a connection reset before accept; keep serving.
                    tracing::warn!(error = %e, "webhook accept failed");
                    tokio::time::sleep(Duration::from_millis(100)).await;
                    continue;
                }
            },
        };
        let acceptor = acceptor.clone();
        let handler = handler.clone();
        let builder = builder.clone();
        // Taken before spawning so a shutdown during the handshake still waits for this connection.
        let watcher = graceful.watcher();
        tokio::spawn(async move {
            let tls = match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::debug!(%peer, error = %e, "webhook TLS handshake failed");
                    return;
                }
                Err(_) => {
                    tracing::debug!(%peer, "webhook TLS handshake timed out");
                    return;
                }
            };
            let service = hyper::service::service_fn(move |req| {
                let handler = handler.clone();
                async move { Ok::<_, std::convert::Infallible>(handle(req, handler).await) }
            });
            let conn = builder
                .serve_connection(TokioIo::new(tls), service)
                .into_owned();
            if let Err(e) = watcher.watch(conn).await {
                tracing::debug!(%peer, error = %e, "webhook connection ended with an error");
            }
        });
    }
    drop(listener);
    if tokio::time::timeout(DRAIN_TIMEOUT, graceful.shutdown())
        .await
        .is_err()
    {
        tracing::warn!("webhook server: in-flight requests still running after {DRAIN_TIMEOUT:?}; stopping anyway");
    }
}

async fn handle(req: http::Request<Incoming>, handler: Handler) -> http::Response<Full<Bytes>> {
    let declared_too_big = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok())
        .is_some_and(|len| len > MAX_BODY_BYTES as u64);
    if declared_too_big {
        return too_large();
    }
    let (parts, body) = req.into_parts();
    let body = match Limited::new(body, MAX_BODY_BYTES).collect().await {
        Ok(collected) => collected.to_bytes(),
        Err(e) if e.is::<http_body_util::LengthLimitError>() => return too_large(),
        Err(e) => {
            tracing::debug!(error = %e, "reading webhook request body failed");
            return plain(http::StatusCode::BAD_REQUEST, "cannot read request body\n");
        }
    };
    handler(http::Request::from_parts(parts, body))
        .await
        .map(Full::new)
}

fn too_large() -> http::Response<Full<Bytes>> {
    plain(
        http::StatusCode::PAYLOAD_TOO_LARGE,
        "request body larger than the 3 MiB webhook limit\n",
    )
}

fn plain(status: http::StatusCode, msg: &'static str) -> http::Response<Full<Bytes>> {
    let mut resp = http::Response::new(Full::new(Bytes::from_static(msg.as_bytes())));
    *resp.status_mut() = status;
    resp.headers_mut().insert(
        http::header::CONTENT_TYPE,
        http::HeaderValue::from_static("text/plain"),
    );
    resp
}
