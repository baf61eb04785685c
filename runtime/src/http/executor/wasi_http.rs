//! `wasi:http/incoming-handler@0.2.x` guests (Python, JS, current Rust/Go SDKs).

use anyhow::{anyhow, Result};
use wasmtime::component::InstancePre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::p2::bindings::ProxyPre;
use wasmtime_wasi_http::WasiHttpView;

use super::{explain_failure, Body, ComponentContext, Invocation};
use crate::engine::SpinEngine;
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
        let wasi = self.ctx.wasi_builder()?.build();
        let limit = self.engine.config().max_instance_memory;
        let state = self.ctx.instance_state(wasi, limit);
        let mut store = self.engine.new_store(state);
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
        let pre = self.pre.clone();
        // The guest keeps running after it sets the response, to stream the body.
        let task = tokio::spawn(async move {
            let result = async {
                let proxy = pre.instantiate_async(&mut store).await?;
                proxy
                    .wasi_http_incoming_handler()
                    .call_handle(&mut store, request, outparam)
                    .await
            }
            .await
            .map_err(anyhow::Error::from);
            let exceeded = store.data().memory_limit_exceeded();
            result.map_err(|e| explain_failure(e, exceeded, limit))
        });
        match rx.await {
            Ok(Ok(response)) => Ok(response),
            Ok(Err(code)) => Err(anyhow!("the guest returned an error response: {code:?}")),
            Err(_) => match task.await {
                Ok(Ok(())) => Err(anyhow!("the guest returned without setting a response (response-outparam::set was never called)")),
                Ok(Err(e)) => Err(e),
                Err(join) => Err(anyhow!("guest task failed: {join}")),
            },
        }
    }
}
