//! The three ways a Spin component can answer an HTTP request.

mod legacy;
mod wagi;
mod wasi_http;
mod wasi_http_p3;
mod wasi_http_rc;

use std::collections::VecDeque;
use std::net::SocketAddr;
use std::pin::Pin;
use std::task::{Context, Poll};

use anyhow::{bail, Result};
use bytes::Bytes;
use http_body::Body as _;
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Full};
use wasmtime::component::{Component, Linker};

use crate::engine::SpinEngine;
use crate::host::InstanceState;

// Shared with the Redis trigger; re-exported so executor code keeps its paths.
pub use crate::host::context::ComponentContext;

pub use wagi::WagiRequest;

/// Response body type of every executor.
pub type Body = UnsyncBoxBody<Bytes, wasmtime_wasi_http::Error>;

pub fn full_body(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A component prepared for one executor, ready to instantiate per request.
pub enum Executor {
    WasiHttp(wasi_http::WasiHttpExecutor),
    /// `wasi:http/handler@0.3.x` (spin-sdk 6/7 `#[http_service]`, Python spin-sdk 5), with
    /// instance reuse; also `handler@0.3.0-rc-2026-03-15` (Python spin-sdk 4), fresh per request.
    WasiHttpP3(wasi_http_p3::WasiHttpP3Executor),
    /// `wasi:http/incoming-handler@0.2.0-rc-2023-{11-10,10-18}` (Spin 2.x SDKs).
    WasiHttpRc(wasi_http_rc::WasiHttpRcExecutor),
    Legacy(legacy::LegacyExecutor),
    Wagi(wagi::WagiExecutor),
}

/// Request body as executors receive it.
pub type RequestBody = UnsyncBoxBody<Bytes, wasmtime_wasi_http::Error>;

/// Per-request inputs shared by all executors.
pub struct Invocation {
    pub request: hyper::Request<RequestBody>,
    pub scheme: &'static str,
    pub client_addr: SocketAddr,
    pub wagi: Option<WagiRequest>,
}

impl Executor {
    /// Picks the executor from the component's exports: on the p3 engine wasi:http 0.3.x;
    /// else wasi:http 0.2.x first, then its 2023 release candidates (newest first), then the
    /// legacy `fermyon:spin/inbound-http`.
    pub fn for_component(
        engine: &SpinEngine,
        linker: &Linker<InstanceState>,
        ctx: ComponentContext,
        component: &Component,
    ) -> Result<Self> {
        let pre = crate::host::instantiate_pre(linker, component)?;
        if engine.is_concurrent() {
            if let Ok(e) = wasi_http_p3::WasiHttpP3Executor::new(engine, ctx.clone(), pre.clone()) {
                return Ok(Executor::WasiHttpP3(e));
            }
        }
        if let Ok(e) = wasi_http::WasiHttpExecutor::new(engine, ctx.clone(), pre.clone()) {
            return Ok(Executor::WasiHttp(e));
        }
        if let Ok(e) = wasi_http_rc::WasiHttpRcExecutor::new(engine, ctx.clone(), pre.clone()) {
            return Ok(Executor::WasiHttpRc(e));
        }
        if let Ok(e) = legacy::LegacyExecutor::new(engine, ctx, pre) {
            return Ok(Executor::Legacy(e));
        }
        let exports = export_names(engine, component);
        bail!(
            "the component exports no HTTP handler: expected `wasi:http/handler@0.3.0` \
             (or its 0.3.0-rc-2026-03-15), \
             `wasi:http/incoming-handler@0.2.x` (or a 0.2.0-rc-2023-10-18/11-10 one) or \
             `fermyon:spin/inbound-http`, found [{}]; build it with a Spin SDK's HTTP \
             component macro, or fix the trigger's `component`",
            exports.join(", ")
        )
    }

    pub fn wagi(
        engine: &SpinEngine,
        ctx: ComponentContext,
        module: wasmtime::Module,
        cfg: crate::http::config::WagiConfig,
    ) -> Result<Self> {
        Ok(Executor::Wagi(wagi::WagiExecutor::new(
            engine, ctx, module, cfg,
        )?))
    }

    pub async fn execute(&self, inv: Invocation) -> Result<hyper::Response<Body>> {
        match self {
            Executor::WasiHttp(e) => e.execute(inv).await,
            Executor::WasiHttpP3(e) => e.execute(inv).await,
            Executor::WasiHttpRc(e) => e.execute(inv).await,
            Executor::Legacy(e) => e.execute(inv).await,
            Executor::Wagi(e) => e.execute(inv).await,
        }
    }
}

fn export_names(engine: &SpinEngine, component: &Component) -> Vec<String> {
    component
        .component_type()
        .exports(engine.wasmtime())
        .map(|(name, _)| name.to_string())
        .collect()
}

/// Most bytes [`settle`] reads ahead of the connection.
const SETTLE_MAX_BYTES: usize = 64 << 10;
/// Most frames [`settle`] reads ahead of the connection.
const SETTLE_MAX_FRAMES: usize = 16;

/// Lets a response body of open length (chunked on HTTP/1.1) that the guest is still writing
/// finish before hyper sees it: reads the frames it already holds, gives the guest one turn of
/// the scheduler (it writes the body and closes it after handing over the response, on another
/// task), and reads again. A small response then leaves in one write (head, chunk and end)
/// instead of two, each a TCP segment and a wake-up of the client (writes were a fifth of the
/// CPU of a p3 hello under load). Never waits longer than that turn: a body still streaming
/// goes on as it is, the frames read so far first; at most [`SETTLE_MAX_BYTES`] are read
/// ahead. Frames, their order and the open length are unchanged.
pub async fn settle(response: hyper::Response<Body>) -> hyper::Response<Body> {
    let (parts, mut body) = response.into_parts();
    if body.is_end_stream() || body.size_hint().exact().is_some() {
        // hyper needs no end marker after a known length.
        return hyper::Response::from_parts(parts, body);
    }
    let mut ahead = Ahead::default();
    std::future::poll_fn(|cx| ahead.read(&mut body, cx)).await;
    if !ahead.ended && !ahead.full() {
        tokio::task::yield_now().await;
        std::future::poll_fn(|cx| ahead.read(&mut body, cx)).await;
    }
    if ahead.frames.is_empty() && !ahead.ended {
        return hyper::Response::from_parts(parts, body);
    }
    let settled = Settled {
        frames: ahead.frames,
        rest: (!ahead.ended).then_some(body),
    };
    hyper::Response::from_parts(parts, settled.boxed_unsync())
}

type BodyFrame = Result<http_body::Frame<Bytes>, wasmtime_wasi_http::Error>;

/// The frames [`settle`] has read.
#[derive(Default)]
struct Ahead {
    frames: VecDeque<BodyFrame>,
    bytes: usize,
    /// No frame follows the last one read.
    ended: bool,
}

impl Ahead {
    fn full(&self) -> bool {
        self.bytes >= SETTLE_MAX_BYTES || self.frames.len() >= SETTLE_MAX_FRAMES
    }

    /// Takes the frames `body` has ready; never pending.
    fn read(&mut self, body: &mut Body, cx: &mut Context<'_>) -> Poll<()> {
        while !self.ended && !self.full() {
            match Pin::new(&mut *body).poll_frame(cx) {
                Poll::Ready(Some(frame)) => {
                    // Nothing follows trailers or an error.
                    self.ended = match &frame {
                        Ok(f) => {
                            self.bytes += f.data_ref().map_or(0, |d| d.len());
                            f.is_trailers()
                        }
                        Err(_) => true,
                    };
                    self.frames.push_back(frame);
                }
                Poll::Ready(None) => self.ended = true,
                Poll::Pending => break,
            }
        }
        Poll::Ready(())
    }
}

/// A body whose first frames [`settle`] read; `rest` is `None` once it has ended.
struct Settled {
    frames: VecDeque<BodyFrame>,
    rest: Option<Body>,
}

impl http_body::Body for Settled {
    type Data = Bytes;
    type Error = wasmtime_wasi_http::Error;

    fn poll_frame(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<BodyFrame>> {
        if let Some(frame) = self.frames.pop_front() {
            return Poll::Ready(Some(frame));
        }
        match self.rest.as_mut() {
            Some(rest) => Pin::new(rest).poll_frame(cx),
            None => Poll::Ready(None),
        }
    }

    fn is_end_stream(&self) -> bool {
        self.frames.is_empty() && self.rest.as_ref().is_none_or(|r| r.is_end_stream())
    }

    fn size_hint(&self) -> http_body::SizeHint {
        // Never exact, as the original's was not: hyper chunks the body as it would have.
        let ahead: u64 = self
            .frames
            .iter()
            .filter_map(|f| f.as_ref().ok()?.data_ref().map(|d| d.len() as u64))
            .sum();
        let rest = self.rest.as_ref().map_or(0, |r| r.size_hint().lower());
        let mut hint = http_body::SizeHint::new();
        hint.set_lower(ahead + rest);
        hint
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use http_body_util::StreamBody;

    fn frames(chunks: Vec<BodyFrame>) -> Body {
        StreamBody::new(futures::stream::iter(chunks)).boxed_unsync()
    }

    async fn collect(body: Body) -> (Vec<Bytes>, Option<http::HeaderMap>) {
        let collected = body.collect().await.expect("body");
        let trailers = collected.trailers().cloned();
        (vec![collected.to_bytes()], trailers)
    }

    #[tokio::test]
    async fn a_finished_body_is_read_ahead_with_its_length_left_open() {
        let mut trailers = http::HeaderMap::new();
        trailers.insert("x-t", "1".parse().unwrap());
        let body = frames(vec![
            Ok(http_body::Frame::data(Bytes::from("hello "))),
            Ok(http_body::Frame::data(Bytes::from("world"))),
            Ok(http_body::Frame::trailers(trailers.clone())),
        ]);
        let resp = settle(hyper::Response::new(body)).await;
        let body = resp.into_body();
        assert!(!body.is_end_stream());
        assert_eq!(body.size_hint().exact(), None);
        assert_eq!(body.size_hint().lower(), 11);
        let (data, got) = collect(body).await;
        assert_eq!(data, [Bytes::from("hello world")]);
        assert_eq!(got, Some(trailers));
    }

    #[tokio::test]
    async fn a_body_still_streaming_is_not_waited_for() {
        let (tx, rx) = futures::channel::mpsc::unbounded::<BodyFrame>();
        tx.unbounded_send(Ok(http_body::Frame::data(Bytes::from("first"))))
            .unwrap();
        let body = StreamBody::new(rx).boxed_unsync();
        let resp = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            settle(hyper::Response::new(body)),
        )
        .await
        .expect("settle waits for no more than it has");
        let mut body = resp.into_body();
        let first = body.frame().await.unwrap().unwrap().into_data().unwrap();
        assert_eq!(first, "first");
        tx.unbounded_send(Ok(http_body::Frame::data(Bytes::from("second"))))
            .unwrap();
        drop(tx);
        let (data, _) = collect(body).await;
        assert_eq!(data, [Bytes::from("second")]);
    }

    #[tokio::test]
    async fn a_known_length_body_is_left_alone() {
        let resp = settle(hyper::Response::new(full_body("abc"))).await;
        assert_eq!(resp.into_body().size_hint().exact(), Some(3));
    }
}
