//! `wasi:http/incoming-handler@0.2.x` guests (Python, JS, current Rust/Go SDKs).

use std::future::Future;
use std::panic::AssertUnwindSafe;
use std::pin::Pin;
use std::task::Poll;

use futures::FutureExt;

use anyhow::{anyhow, Result};
use wasmtime::component::{InstancePre, Resource};
use wasmtime::Store;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::types::{HostIncomingRequest, HostResponseOutparam};
use wasmtime_wasi_http::WasiHttpView;

use super::cut_short::GuestFailure;
use super::guest_run::GuestRun;
use super::{Body, ComponentContext, Invocation};
use crate::engine::SpinEngine;
use crate::host::guest;
use crate::host::InstanceState;

pub struct WasiHttpExecutor {
    engine: SpinEngine,
    ctx: ComponentContext,
    pre: ProxyPre<InstanceState>,
}

impl WasiHttpExecutor {
    pub fn new(
        engine: &SpinEngine,
        ctx: ComponentContext,
        pre: InstancePre<InstanceState>,
    ) -> Result<Self> {
        let pre = ProxyPre::new(pre)?;
        Ok(Self {
            engine: engine.clone(),
            ctx,
            pre,
        })
    }

    pub async fn execute(&self, inv: Invocation) -> Result<hyper::Response<Body>> {
        let pre = self.pre.clone();
        serve_incoming(
            &self.engine,
            &self.ctx,
            inv,
            move |mut store, request, outparam| async move {
                let result = async {
                    let proxy = pre.instantiate_async(&mut store).await?;
                    proxy
                        .wasi_http_incoming_handler()
                        .call_handle(&mut store, request, outparam)
                        .await
                }
                .await;
                (result, store)
            },
        )
        .await
    }
}

/// The request/response exchange every `incoming-handler` version shares (the
/// rc versions use the same resource types): `call` instantiates the guest and
/// calls its `handle`, then hands the store back so a memory-limit hit can be
/// reported. The guest runs on the caller's task until it sets the response, then on a task of
/// its own to stream the body ([`GuestRun`]).
pub(super) async fn serve_incoming<F, Fut>(
    engine: &SpinEngine,
    ctx: &ComponentContext,
    inv: Invocation,
    call: F,
) -> Result<hyper::Response<Body>>
where
    F: FnOnce(
            Store<InstanceState>,
            Resource<HostIncomingRequest>,
            Resource<HostResponseOutparam>,
        ) -> Fut
        + Send
        + 'static,
    Fut: Future<Output = (wasmtime::Result<()>, Store<InstanceState>)> + Send + 'static,
{
    let mut store = guest::new_store(engine, ctx)?;
    let failure = GuestFailure::new(ctx.id.clone(), inv.request.uri().path());
    let scheme = if inv.scheme == "https" {
        Scheme::Https
    } else {
        Scheme::Http
    };
    let request = store
        .data_mut()
        .http()
        .new_incoming_request(scheme, inv.request)?;
    let (tx, mut rx) = tokio::sync::oneshot::channel();
    let outparam = store.data_mut().http().new_response_outparam(tx)?;
    let engine = engine.clone();
    let mut guest = GuestRun::new({
        let failure = failure.clone();
        let run = async move {
            let run = call(store, request, outparam);
            tokio::pin!(run);
            // The epoch deadline stops guest code; this also stops a guest that waits in a host
            // call after its response started (as the dispatcher does before it starts).
            let backstop = engine.config().execution_timeout.map(|limit| limit * 2);
            let (outcome, _store) = match backstop {
                Some(limit) => match tokio::time::timeout(limit, run.as_mut()).await {
                    Ok((result, store)) => (guest::outcome(&engine, &store, result), Some(store)),
                    Err(_) => (Err(anyhow!("the guest ran longer than the execution limit (--request-timeout) and was stopped")), None),
                },
                None => {
                    let (result, store) = run.as_mut().await;
                    (guest::outcome(&engine, &store, result), Some(store))
                }
            };
            if let Err(e) = &outcome {
                // While the store (and with it the body's sender) still lives.
                failure.failed(e);
            }
            outcome
        };
        // A panic in host code fails this request only, as it did on a task of its own.
        AssertUnwindSafe(run).catch_unwind().map(|caught| {
            caught.unwrap_or_else(|_| Err(anyhow!("the host side of this guest call panicked (a bug in spinkube; the log has the panic)")))
        })
    });
    // The guest first, so that one done by now is seen done: its whole body is then written,
    // and the response leaves in one write.
    let head = std::future::poll_fn(|cx| match guest.poll_guest(cx) {
        Poll::Ready(outcome) => Poll::Ready(Head::GuestEnded(outcome)),
        Poll::Pending => Pin::new(&mut rx).poll(cx).map(Head::Set),
    })
    .await;
    let set = match head {
        Head::Set(Ok(set)) => {
            guest.detach();
            Ok(set)
        }
        Head::Set(Err(_dropped)) => Err(guest.finish().await.unwrap_or(Ok(()))),
        Head::GuestEnded(outcome) => rx.try_recv().map_err(|_| outcome),
    };
    match set {
        Ok(Ok(response)) => failure.hand_over(response).await,
        Ok(Err(code)) => Err(anyhow!("the guest returned an error response: {code:?}")),
        // The sender went with the guest's store (or the guest dropped its outparam).
        Err(outcome) => match outcome {
            Ok(()) => Err(anyhow!(
                "the guest returned without setting a response (response-outparam::set was never called)"
            )),
            Err(e) => Err(e),
        },
    }
}

/// How the wait for a guest's response head ended.
enum Head<S> {
    /// The guest set its response (or, if closed, dropped the outparam); it may still be running.
    Set(S),
    /// The guest's call returned.
    GuestEnded(Result<()>),
}
