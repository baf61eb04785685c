//! `wasi:http/incoming-handler` of the 2023 WASI 0.2 release candidates:
//! `@0.2.0-rc-2023-11-10` (Spin 2.1 era SDKs) and `@0.2.0-rc-2023-10-18`
//! (Spin 2.0 era). Their request and response-outparam resources are the
//! current wasmtime-wasi-http types (see `host::wasi_rc`), so requests and
//! streamed responses flow exactly as in `wasi_http.rs`.

use anyhow::Result;
use wasmtime::component::InstancePre;

use super::wasi_http::serve_incoming;
use super::{Body, ComponentContext, Invocation};
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
        let pre = self.pre.clone();
        serve_incoming(
            &self.engine,
            &self.ctx,
            inv,
            move |mut store, request, outparam| async move {
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
                .await;
                (result, store)
            },
        )
        .await
    }
}
