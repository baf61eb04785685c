//! Accept loop: HTTP/1.1 and HTTP/2 (TLS optional), within [`ServerLimits`], and graceful
//! shutdown that lets in-flight requests finish.

use std::future::Future;
use std::path::Path;
use std::sync::Arc;
use std::time::Duration;

use anyhow::{Context, Result};
use hyper::service::service_fn;
use hyper_util::rt::{TokioExecutor, TokioIo, TokioTimer};
use hyper_util::server::conn::auto;
use std::net::SocketAddr;
use tokio::net::TcpListener;
use tokio::sync::{watch, Semaphore};
use tokio_rustls::TlsAcceptor;

use super::connection::{drive, Activity, BodyLimitHit, CountedBody, LimitedBody, ServerLimits};
use super::executor::{full_body, Body};
use super::{ConnInfo, HttpTrigger};

/// Loads a PEM certificate chain and private key (`SPIN_TLS_CERT`/`SPIN_TLS_KEY`).
pub fn tls_acceptor(cert: &Path, key: &Path) -> Result<TlsAcceptor> {
    let certs = rustls_pemfile::certs(&mut std::io::BufReader::new(
        std::fs::File::open(cert)
            .with_context(|| format!("opening TLS certificate {}", cert.display()))?,
    ))
    .collect::<Result<Vec<_>, _>>()
    .with_context(|| format!("reading TLS certificate {}", cert.display()))?;
    anyhow::ensure!(
        !certs.is_empty(),
        "no PEM certificate found in {}",
        cert.display()
    );
    let key = rustls_pemfile::private_key(&mut std::io::BufReader::new(
        std::fs::File::open(key).with_context(|| format!("opening TLS key {}", key.display()))?,
    ))
    .with_context(|| format!("reading TLS key {}", key.display()))?
    .with_context(|| format!("no PEM private key found in {}", key.display()))?;
    let mut config = rustls::ServerConfig::builder_with_provider(Arc::new(
        rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()?
    .with_no_client_auth()
    .with_single_cert(certs, key)
    .context("TLS certificate and key do not match")?;
    config.alpn_protocols = vec![b"h2".to_vec(), b"http/1.1".to_vec()];
    Ok(TlsAcceptor::from(Arc::new(config)))
}

/// The listen backlog: room for a burst of connects (the kernel caps it at `somaxconn`).
pub const LISTEN_BACKLOG: u32 = 4096;

/// Binds a listener for the HTTP trigger with a backlog sized for bursts (the standard
/// library's is 128: a burst of 200 connects would see some retried after a second).
pub fn bind(addr: SocketAddr) -> std::io::Result<TcpListener> {
    let socket = match addr {
        SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket.set_reuseaddr(true)?;
    socket.bind(addr)?;
    socket.listen(LISTEN_BACKLOG)
}

/// Serves until `shutdown` resolves, then lets open requests finish for up to `drain`.
pub async fn serve(
    trigger: Arc<HttpTrigger>,
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    limits: ServerLimits,
    shutdown: impl Future<Output = ()>,
    drain: Duration,
) -> Result<()> {
    let local_addr = listener.local_addr()?;
    let (closing_tx, closing_rx) = watch::channel(false);
    let slots = Arc::new(Semaphore::new(limits.max_connections));
    let mut builder = auto::Builder::new(TokioExecutor::new());
    builder
        .http1()
        .timer(TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout);
    builder.http2().timer(TokioTimer::new());
    let builder = Arc::new(builder);
    let limits = Arc::new(limits);
    tokio::pin!(shutdown);
    loop {
        let slot = match slots.clone().try_acquire_owned() {
            Ok(slot) => slot,
            Err(_) => {
                tracing::warn!(
                    "{} connections are open, the most allowed (--max-connections / \
                     SPINKUBE_MAX_CONNECTIONS): new ones wait in the listen backlog until one closes",
                    limits.max_connections
                );
                tokio::select! {
                    slot = slots.clone().acquire_owned() => slot?,
                    _ = &mut shutdown => break,
                }
            }
        };
        let (stream, client_addr) = tokio::select! {
            accepted = listener.accept() => match accepted {
                Ok(a) => a,
                Err(e) => {
                    // e.g. EMFILE: keep serving existing connections.
                    tracing::warn!("accept failed: {e}");
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    continue;
                }
            },
            _ = &mut shutdown => break,
        };
        let _ = stream.set_nodelay(true);
        let conn = ConnInfo {
            scheme: if tls.is_some() { "https" } else { "http" },
            client_addr,
            local_addr,
        };
        let activity = Activity::new();
        let service = {
            let (trigger, limits, activity) = (trigger.clone(), limits.clone(), activity.clone());
            service_fn(move |req| {
                let (trigger, limits) = (trigger.clone(), limits.clone());
                let guard = activity.begin();
                async move {
                    let response = respond(&trigger, req, conn, limits.max_request_body_size).await;
                    Ok::<_, std::convert::Infallible>(response.map(|b| CountedBody::new(b, guard)))
                }
            })
        };
        let builder = builder.clone();
        let acceptor = tls.clone();
        let (limits, closing) = (limits.clone(), closing_rx.clone());
        tokio::spawn(async move {
            let _slot = slot;
            let result = match acceptor {
                None => {
                    let conn =
                        builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    drive(
                        conn,
                        auto::UpgradeableConnection::graceful_shutdown,
                        activity,
                        limits.idle_timeout,
                        closing,
                    )
                    .await
                }
                Some(acceptor) => {
                    // A client that never finishes the handshake is dropped like a slow one.
                    let handshake = acceptor.accept(stream);
                    let stream =
                        match tokio::time::timeout(limits.header_read_timeout, handshake).await {
                            Ok(Ok(s)) => s,
                            Ok(Err(e)) => {
                                tracing::debug!("TLS handshake with {client_addr} failed: {e}");
                                return;
                            }
                            Err(_) => {
                                tracing::debug!("TLS handshake with {client_addr} timed out");
                                return;
                            }
                        };
                    let conn =
                        builder.serve_connection_with_upgrades(TokioIo::new(stream), service);
                    drive(
                        conn,
                        auto::UpgradeableConnection::graceful_shutdown,
                        activity,
                        limits.idle_timeout,
                        closing,
                    )
                    .await
                }
            };
            if let Some(Err(e)) = result {
                tracing::debug!("connection from {client_addr}: {e}");
            }
        });
    }
    drop(listener);
    let _ = closing_tx.send(true);
    // Every connection holds a slot until it ends: all slots back means all finished.
    let all = u32::try_from(limits.max_connections).unwrap_or(u32::MAX);
    tokio::select! {
        _ = slots.acquire_many(all) => tracing::info!("all in-flight requests finished"),
        _ = tokio::time::sleep(drain) => tracing::warn!("gave up waiting for in-flight requests after {drain:?}"),
    }
    Ok(())
}

/// One request: 413 for a body over the limit (from its Content-Length, or once it passes the
/// limit while the guest reads it), otherwise the trigger's answer.
async fn respond(
    trigger: &HttpTrigger,
    req: hyper::Request<hyper::body::Incoming>,
    conn: ConnInfo,
    max_body: Option<u64>,
) -> hyper::Response<Body> {
    let Some(limit) = max_body else {
        return trigger.handle(req, conn).await;
    };
    let declared = req
        .headers()
        .get(http::header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok()?.parse::<u64>().ok());
    if declared.is_some_and(|len| len > limit) {
        return too_large(limit);
    }
    let hit = Arc::new(BodyLimitHit::default());
    let req = req.map(|body| LimitedBody::new(body, limit, hit.clone()));
    let response = trigger.handle(req, conn).await;
    if hit.hit() {
        return too_large(limit);
    }
    response
}

fn too_large(limit: u64) -> hyper::Response<Body> {
    let mut response = hyper::Response::new(full_body(format!(
        "request body larger than the server's limit of {limit} bytes\n"
    )));
    *response.status_mut() = http::StatusCode::PAYLOAD_TOO_LARGE;
    response
}
