//! `wasi:http/incoming-handler@0.2.x` guests (Python, JS, current Rust/Go SDKs).

use std::future::Future;

use anyhow::{anyhow, Result};
use wasmtime::component::{InstancePre, Resource};
use wasmtime::Store;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::p2::types::{HostIncomingRequest, HostResponseOutparam};
use wasmtime_wasi_http::WasiHttpView;

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
/// reported. The guest keeps running after it sets the response, to stream the body.
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
    let scheme = if inv.scheme == "https" {
        Scheme::Https
    } else {
        Scheme::Http
    };
    let request = store
        .data_mut()
        .http()
        .new_incoming_request(scheme, inv.request)?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let outparam = store.data_mut().http().new_response_outparam(tx)?;
    let engine = engine.clone();
    let task = tokio::spawn(async move {
        let (result, store) = call(store, request, outparam).await;
        guest::outcome(&engine, &store, result)
    });
    match rx.await {
        Ok(Ok(response)) => Ok(response),
        Ok(Err(code)) => Err(anyhow!("the guest returned an error response: {code:?}")),
        Err(_) => match task.await {
            Ok(Ok(())) => Err(anyhow!(
                "the guest returned without setting a response (response-outparam::set was never called)"
            )),
            Ok(Err(e)) => Err(e),
            Err(join) => Err(anyhow!("guest task failed: {join}")),
        },
    }
}
