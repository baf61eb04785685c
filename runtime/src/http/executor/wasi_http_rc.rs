//! `wasi:http/incoming-handler` of the 2023 WASI 0.2 release candidates:
//! `@0.2.0-rc-2023-11-10` (Spin 2.1 era SDKs) and `@0.2.0-rc-2023-10-18`
//! (Spin 2.0 era). Their request and response-outparam resources are the
//! current wasmtime-wasi-http types (see `host::wasi_rc`), so requests and
//! streamed responses flow exactly as in `wasi_http.rs`.

use anyhow::{anyhow, Result};
use wasmtime::component::InstancePre;
use wasmtime_wasi_http::p2::bindings::http::types::Scheme;
use wasmtime_wasi_http::WasiHttpView;

use super::{explain_failure, Body, ComponentContext, Invocation};
use crate::engine::SpinEngine;
use crate::host::wasi_rc::{v2023_10_18, v2023_11_10};
use crate::host::InstanceState;

#[derive(Clone)]
enum GuestPre {
    V2023_11_10(v2023_11_10::GuestPre<InstanceState>),
    V2023_10_18(v2023_10_18::GuestPre<InstanceState>),
}

pub struct WasiHttpRcExecutor {
    engine: SpinEngine,
    ctx: ComponentContext,
    pre: GuestPre,
}

impl WasiHttpRcExecutor {
    /// Fails unless the component exports one of the rc incoming handlers
    /// (the newer one wins if, oddly, it exports both).
    pub fn new(
        engine: &SpinEngine,
        ctx: ComponentContext,
        pre: InstancePre<InstanceState>,
    ) -> Result<Self> {
        let pre = match v2023_11_10::GuestPre::new(pre.clone()) {
            Ok(p) => GuestPre::V2023_11_10(p),
            Err(_) => GuestPre::V2023_10_18(v2023_10_18::GuestPre::new(pre)?),
        };
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
                match pre {
                    GuestPre::V2023_11_10(pre) => {
                        let guest = pre.instantiate_async(&mut store).await?;
                        guest
                            .wasi_http_incoming_handler()
                            .call_handle(&mut store, request, outparam)
                            .await
                    }
                    GuestPre::V2023_10_18(pre) => {
                        let guest = pre.instantiate_async(&mut store).await?;
                        guest
                            .wasi_http_incoming_handler()
                            .call_handle(&mut store, request, outparam)
                            .await
                    }
                }
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
