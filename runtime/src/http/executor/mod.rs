//! The three ways a Spin component can answer an HTTP request.

mod cut_short;
mod guest_run;
mod legacy;
mod settle;
mod wagi;
mod wasi_http;
mod wasi_http_p3;
mod wasi_http_rc;

use std::net::SocketAddr;

use anyhow::{bail, Result};
use bytes::Bytes;
use http_body_util::{combinators::UnsyncBoxBody, BodyExt, Full};
use wasmtime::component::{Component, Linker};

use crate::engine::SpinEngine;
use crate::host::InstanceState;

// Shared with the Redis trigger; re-exported so executor code keeps its paths.
pub use crate::host::context::ComponentContext;

pub use wagi::{WagiBody, WagiRequest};

/// Response body type of every executor.
pub type Body = UnsyncBoxBody<Bytes, wasmtime_wasi_http::Error>;

/// A response body holding `bytes` in full.
pub fn full_body(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into())
        .map_err(|never| match never {})
        .boxed_unsync()
}

/// A component prepared for one executor, ready to instantiate per request.
pub enum Executor {
    /// `wasi:http/incoming-handler@0.2.x` (Python, JS and the current Rust/Go SDKs).
    WasiHttp(wasi_http::WasiHttpExecutor),
    /// `wasi:http/handler@0.3.x` (spin-sdk 6/7 `#[http_service]`, Python spin-sdk 5), with
    /// instance reuse; also `handler@0.3.0-rc-2026-03-15` (Python spin-sdk 4), fresh per request.
    WasiHttpP3(wasi_http_p3::WasiHttpP3Executor),
    /// `wasi:http/incoming-handler@0.2.0-rc-2023-{11-10,10-18}` (Spin 2.x SDKs).
    WasiHttpRc(wasi_http_rc::WasiHttpRcExecutor),
    /// Spin 1's `fermyon:spin/inbound-http` interface.
    Legacy(legacy::LegacyExecutor),
    /// A WASI command module run CGI-style (`executor = { type = "wagi" }`).
    Wagi(wagi::WagiExecutor),
}

/// Request body as executors receive it.
pub type RequestBody = UnsyncBoxBody<Bytes, wasmtime_wasi_http::Error>;

/// Per-request inputs shared by all executors.
pub struct Invocation {
    /// The request, body streamed or limited as the server decided.
    pub request: hyper::Request<RequestBody>,
    /// `"http"` or `"https"`, for the guest-visible URL and headers.
    pub scheme: &'static str,
    /// The client's address (`spin-client-addr`, WAGI `REMOTE_ADDR`).
    pub client_addr: SocketAddr,
    /// The CGI environment, argv and stdin; only for the WAGI executor.
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

    /// The WAGI executor for `module`, called as `cfg` says.
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

    /// Runs one request through the component and returns its response.
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
