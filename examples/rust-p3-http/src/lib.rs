//! A Spin HTTP component as spin-sdk 7's README writes one: an async handler built for
//! wasm32-wasip2, exported as `wasi:http/handler@0.3.0`. The counter shows instance reuse:
//! `/count` answers how many requests this instance has served.
//!
//! Routes the tests of instance reuse and streaming use (cli/tests/p3_instances.rs):
//! - `/hold?url=U`: GETs `U` (outbound `wasi:http` 0.3) and, once that answers, replies
//!   `instance=ID in_flight=N peak=P status=S`: a random id of this instance, how many `/hold`
//!   requests were running on it when this one started (itself included), the most that ever
//!   ran on it at once, and the upstream status.
//! - `/stream?mib=N`: N MiB where byte `i` is `i % 251`, produced chunk by chunk only as the
//!   host takes them (nothing is generated ahead of the reader). With `&trailer=1`, no
//!   content-length and a trailer `x-pattern-bytes: <bytes sent>` after the body.
//! - `POST /fail?then=trap|loop`: answers 200 with the first `/stream` chunk (open length), reads
//!   the request body to its end (the client decides when: it has seen the chunk by then), then
//!   traps, or spins until `--request-timeout` stops it (cli/tests/http_hardening.rs).
//! - `/alloc?mib=N`: keeps N MiB allocated (and touched) in this instance, then answers
//!   `allocated N MiB`; past `--max-instance-memory` it traps instead.
//! - `POST /upload`: reads the body as a stream and answers `bytes=N pattern=ok|bad` (the same
//!   `i % 251` pattern), holding one chunk at a time.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::OnceLock;
use std::task::{Context, Poll};

use bytes::Bytes;
use futures::StreamExt;
use http_body::{Frame, SizeHint};
use spin_sdk::http::body::IncomingBodyExt;
use spin_sdk::http::{IntoResponse, Request, Response, StatusCode};
use spin_sdk::http_service;

static SERVED: AtomicU64 = AtomicU64::new(0);
static IN_FLIGHT: AtomicU64 = AtomicU64::new(0);
static PEAK: AtomicU64 = AtomicU64::new(0);
static HELD: std::sync::Mutex<Vec<Vec<u8>>> = std::sync::Mutex::new(Vec::new());

/// Bytes per generated `/stream` chunk.
const CHUNK: u64 = 64 * 1024;
const MIB: u64 = 1024 * 1024;

#[http_service]
async fn handle(req: Request) -> impl IntoResponse {
    let served = SERVED.fetch_add(1, Ordering::Relaxed) + 1;
    let query = req.uri().query().unwrap_or_default().to_string();
    match req.uri().path() {
        "/count" => served.to_string().into_response(),
        "/url" => req.uri().to_string().into_response(),
        "/trap" => panic!("trap requested"),
        "/hold" => hold(&param(&query, "url").unwrap_or_default())
            .await
            .into_response(),
        "/stream" => {
            let mib: u64 = param(&query, "mib")
                .and_then(|m| m.parse().ok())
                .unwrap_or(1);
            let trailer = param(&query, "trailer").is_some();
            let body = Pattern {
                sent: 0,
                total: mib * MIB,
                trailer,
            };
            let mut response =
                Response::builder().header("content-type", "application/octet-stream");
            // With a trailer the length is left open (chunked on HTTP/1.1), and the trailer is
            // declared, as HTTP/1.1 servers send only declared trailer fields.
            response = match trailer {
                true => response.header("trailer", "x-pattern-bytes"),
                false => response.header("content-length", body.total.to_string()),
            };
            response.body(body).unwrap().into_response()
        }
        "/upload" => upload(req).await.into_response(),
        "/fail" => {
            let body = Failing {
                first: Some((0..CHUNK).map(|i| (i % 251) as u8).collect::<Vec<u8>>().into()),
                request: Box::pin(req.into_body().stream()),
                then: param(&query, "then").unwrap_or_default(),
            };
            Response::new(body).into_response()
        }
        "/alloc" => {
            let mib: usize = param(&query, "mib")
                .and_then(|m| m.parse().ok())
                .unwrap_or(1);
            // Kept for the instance's life, so repeated calls add up.
            HELD.lock().unwrap().push(vec![1u8; mib << 20]);
            format!("allocated {mib} MiB").into_response()
        }
        _ => "Hello from Rust p3!".into_response(),
    }
}

/// Random per instance: each instance has its own memory, so its own `INSTANCE`.
fn instance_id() -> u64 {
    use std::hash::{BuildHasher, Hasher};
    *INSTANCE.get_or_init(|| {
        std::collections::hash_map::RandomState::new()
            .build_hasher()
            .finish()
    })
}

static INSTANCE: OnceLock<u64> = OnceLock::new();

async fn hold(url: &str) -> (StatusCode, String) {
    let id = instance_id();
    let in_flight = IN_FLIGHT.fetch_add(1, Ordering::SeqCst) + 1;
    PEAK.fetch_max(in_flight, Ordering::SeqCst);
    let status = match spin_sdk::http::get(url).await {
        Ok(resp) => {
            let status = resp.status().as_u16();
            match resp.into_body().bytes().await {
                Ok(_) => status.to_string(),
                Err(e) => format!("{e:?}"),
            }
        }
        Err(e) => format!("{e:?}"),
    };
    IN_FLIGHT.fetch_sub(1, Ordering::SeqCst);
    let peak = PEAK.load(Ordering::SeqCst);
    (
        StatusCode::OK,
        format!("instance={id:016x} in_flight={in_flight} peak={peak} status={status}"),
    )
}

/// The `/stream` body: each chunk is made when the host polls for it.
struct Pattern {
    sent: u64,
    total: u64,
    /// A trailer still to send after the data.
    trailer: bool,
}

impl http_body::Body for Pattern {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        _cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        let start = self.sent;
        if start >= self.total {
            if std::mem::take(&mut self.trailer) {
                let mut trailers = http::HeaderMap::new();
                trailers.insert("x-pattern-bytes", self.total.into());
                return Poll::Ready(Some(Ok(Frame::trailers(trailers))));
            }
            return Poll::Ready(None);
        }
        let end = (start + CHUNK).min(self.total);
        let chunk: Vec<u8> = (start..end).map(|i| (i % 251) as u8).collect();
        self.sent = end;
        Poll::Ready(Some(Ok(Frame::data(Bytes::from(chunk)))))
    }

    fn is_end_stream(&self) -> bool {
        self.sent >= self.total && !self.trailer
    }

    fn size_hint(&self) -> SizeHint {
        SizeHint::with_exact(self.total - self.sent)
    }
}

/// The `/fail` body: one chunk, then (once the request body has ended) a trap or a busy loop.
struct Failing<S> {
    first: Option<Bytes>,
    request: Pin<Box<S>>,
    then: String,
}

impl<S: futures::Stream> http_body::Body for Failing<S> {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(first) = self.first.take() {
            return Poll::Ready(Some(Ok(Frame::data(first))));
        }
        while let Some(_chunk) = std::task::ready!(self.request.as_mut().poll_next(cx)) {}
        if self.then == "loop" {
            let mut n = 0u64;
            loop {
                n = std::hint::black_box(n.wrapping_add(1));
            }
        }
        panic!("asked to fail after the first chunk")
    }
}

async fn upload(req: Request) -> (StatusCode, String) {
    let mut stream = req.into_body().stream();
    let (mut bytes, mut intact) = (0u64, true);
    while let Some(chunk) = stream.next().await {
        let chunk = match chunk {
            Ok(c) => c,
            Err(e) => return (StatusCode::BAD_REQUEST, format!("{e:?}")),
        };
        for (k, b) in chunk.iter().enumerate() {
            intact &= *b == ((bytes + k as u64) % 251) as u8;
        }
        bytes += chunk.len() as u64;
    }
    let pattern = if intact { "ok" } else { "bad" };
    (StatusCode::OK, format!("bytes={bytes} pattern={pattern}"))
}

/// A query parameter, decoded as a form (`%XX` and `+`).
fn param(query: &str, name: &str) -> Option<String> {
    form_urlencoded::parse(query.as_bytes()).find_map(|(k, v)| (k == name).then(|| v.into_owned()))
}
