//! Runs a component's Redis handler in a fresh instance per message: `fermyon:spin/inbound-redis`
//! (Spin SDKs up to Rust 5.2 / Python 3.4) or, on the component-model-async engine,
//! `spin:redis/inbound-redis@3.0.0` (spin-sdk 6 and later, `#[redis_subscriber]`).

use anyhow::Result;
use wasmtime::component::{Component, Linker};

use crate::engine::SpinEngine;
use crate::host::context::ComponentContext;
use crate::host::guest;
use crate::host::InstanceState;

mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/spin-legacy",
        world: "fermyon:spin/redis-trigger",
        exports: { default: async },
    });
}

mod bindings_p3 {
    wasmtime::component::bindgen!({
        path: "../wit/spin-p3",
        world: "spinkube:host-p3/spin-redis-p3",
        imports: { default: async | trappable },
        with: { "spin:redis/redis": crate::host::p3::bindings::spin::redis::redis },
    });
}

enum Pre {
    Legacy(bindings::RedisTriggerPre<InstanceState>),
    P3(bindings_p3::SpinRedisP3Pre<InstanceState>),
}

/// One component, pre-instantiated, ready to handle messages.
pub struct RedisHandler {
    /// The engine the component was compiled for (the p3 one for p3 components).
    engine: SpinEngine,
    ctx: ComponentContext,
    pre: Pre,
}

impl RedisHandler {
    /// Pre-instantiates `ctx`'s component, which must export `fermyon:spin/inbound-redis` (or, on
    /// the p3 engine, `spin:redis/inbound-redis@3.0.0`).
    pub fn new(
        engine: &SpinEngine,
        linker: &Linker<InstanceState>,
        ctx: ComponentContext,
        component: &Component,
    ) -> Result<Self> {
        let pre = crate::host::instantiate_pre(linker, component)?;
        let pre = match bindings::RedisTriggerPre::new(pre.clone()) {
            Ok(legacy) => Pre::Legacy(legacy),
            Err(_) if engine.is_concurrent() => Pre::P3(
                bindings_p3::SpinRedisP3Pre::new(pre).map_err(|_| no_handler(engine, component))?,
            ),
            Err(_) => return Err(no_handler(engine, component)),
        };
        Ok(Self {
            engine: engine.clone(),
            ctx,
            pre,
        })
    }

    /// Id of the component this handler runs.
    pub fn component_id(&self) -> &str {
        &self.ctx.id
    }

    /// Handles one payload; a guest `error` or a trap becomes `Err`.
    pub async fn handle(&self, payload: &[u8]) -> Result<()> {
        match &self.pre {
            Pre::Legacy(pre) => self.handle_legacy(pre, payload).await,
            Pre::P3(pre) => self.handle_p3(pre, payload).await,
        }
    }

    async fn handle_legacy(
        &self,
        pre: &bindings::RedisTriggerPre<InstanceState>,
        payload: &[u8],
    ) -> Result<()> {
        let mut store = guest::new_store(&self.engine, &self.ctx)?;
        let result = async {
            let instance = pre.instantiate_async(&mut store).await?;
            instance
                .fermyon_spin_inbound_redis()
                .call_handle_message(&mut store, &payload.to_vec())
                .await
        }
        .await;
        guest::outcome(&self.engine, &store, result)?
            .map_err(|_| anyhow::anyhow!("handle-message returned its `error` result"))
    }

    /// p3 stores only yield at epochs (the engine's timeout is for p2 stores), so the
    /// execution timeout is applied around the whole call here.
    async fn handle_p3(
        &self,
        pre: &bindings_p3::SpinRedisP3Pre<InstanceState>,
        payload: &[u8],
    ) -> Result<()> {
        let mut store = guest::new_store(&self.engine, &self.ctx)?;
        let payload = payload.to_vec();
        let call = async {
            let instance = pre.instantiate_async(&mut store).await?;
            let handler = instance.spin_redis_inbound_redis();
            store
                .run_concurrent(async |acc| handler.call_handle_message(acc, payload).await)
                .await?
        };
        let result = match self.engine.config().execution_timeout {
            Some(limit) => tokio::time::timeout(limit, call).await.unwrap_or_else(|_| {
                Err(wasmtime::Error::msg(format!(
                    "the handler ran longer than the execution timeout of {limit:?}"
                )))
            }),
            None => call.await,
        };
        match guest::outcome(&self.engine, &store, result)? {
            Ok(()) => Ok(()),
            Err(e) => anyhow::bail!("handle-message returned its `error` result: {e:?}"),
        }
    }
}

fn no_handler(engine: &SpinEngine, component: &Component) -> anyhow::Error {
    let exports: Vec<String> = component
        .component_type()
        .exports(engine.wasmtime())
        .map(|(name, _)| name.to_string())
        .collect();
    anyhow::anyhow!(
        "the component exports no Redis handler: expected `fermyon:spin/inbound-redis` or \
         `spin:redis/inbound-redis@3.0.0`, found [{}]; build it with a Spin SDK's Redis \
         component (e.g. `#[redis_subscriber]`, componentize-py -w spin-redis), or fix the \
         trigger's `component`",
        exports.join(", ")
    )
}
