//! `/healthz`, `/readyz` and `/metrics` over plain HTTP.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use bytes::Bytes;
use http_body_util::Full;
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::{TokioExecutor, TokioIo};
use tokio::net::TcpListener;

use super::metrics::Metrics;

/// What the probes report. A replica is ready when its webhook server serves (or webhooks are off) and it
/// either reconciles with synced caches or stands by for the leader lease: standby replicas still answer
/// webhooks, so they must receive traffic.
#[derive(Default)]
pub struct Health {
    /// The webhook server serves (or webhooks are off).
    pub webhooks: AtomicBool,
    /// This replica leads and its controllers' caches are synced.
    pub controllers: AtomicBool,
    /// This replica is waiting for the leader lease.
    pub standby: AtomicBool,
}

impl Health {
    /// Whether `/readyz` reports ready: webhooks up, and leading with synced caches or standing by.
    pub fn ready(&self) -> bool {
        self.webhooks.load(Ordering::SeqCst)
            && (self.controllers.load(Ordering::SeqCst) || self.standby.load(Ordering::SeqCst))
    }
}

fn respond(
    status: StatusCode,
    body: impl Into<Bytes>,
    content_type: &str,
) -> Response<Full<Bytes>> {
    let mut r = Response::new(Full::new(body.into()));
    *r.status_mut() = status;
    if let Ok(v) = content_type.parse() {
        r.headers_mut().insert(http::header::CONTENT_TYPE, v);
    }
    r
}

fn route(path: &str, health: &Health, metrics: &Metrics) -> Response<Full<Bytes>> {
    match path {
        "/healthz" | "/livez" => respond(StatusCode::OK, "ok", "text/plain"),
        "/readyz" if health.ready() => respond(StatusCode::OK, "ok", "text/plain"),
        "/readyz" => respond(
            StatusCode::SERVICE_UNAVAILABLE,
            "not ready: caches syncing or webhook not serving",
            "text/plain",
        ),
        "/metrics" => respond(
            StatusCode::OK,
            metrics.encode(),
            "application/openmetrics-text; version=1.0.0; charset=utf-8",
        ),
        _ => respond(StatusCode::NOT_FOUND, "not found", "text/plain"),
    }
}

/// Binds `addr` and serves until `shutdown` resolves; returns the bound address at once.
pub async fn serve(
    addr: SocketAddr,
    health: Arc<Health>,
    metrics: Arc<Metrics>,
    shutdown: impl std::future::Future<Output = ()> + Send + 'static,
) -> std::io::Result<(SocketAddr, tokio::task::JoinHandle<()>)> {
    let listener = TcpListener::bind(addr).await?;
    let local = listener.local_addr()?;
    let task = tokio::spawn(async move {
        tokio::pin!(shutdown);
        loop {
            let accepted = tokio::select! {
                _ = &mut shutdown => break,
                a = listener.accept() => a,
            };
            let Ok((stream, _)) = accepted else { continue };
            let (health, metrics) = (health.clone(), metrics.clone());
            tokio::spawn(async move {
                let service =
                    hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
                        let r = route(req.uri().path(), &health, &metrics);
                        async move { Ok::<_, Infallible>(r) }
                    });
                let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                    .serve_connection(TokioIo::new(stream), service)
                    .await;
            });
        }
    });
    Ok((local, task))
}
