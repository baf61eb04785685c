//! Runs `fermyon:spin/inbound-redis.handle-message` in a fresh instance per message.

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

/// One component, pre-instantiated, ready to handle messages.
pub struct RedisHandler {
    engine: SpinEngine,
    ctx: ComponentContext,
    pre: bindings::RedisTriggerPre<InstanceState>,
}

impl RedisHandler {
    pub fn new(
        engine: &SpinEngine,
        linker: &Linker<InstanceState>,
        ctx: ComponentContext,
        component: &Component,
    ) -> Result<Self> {
        let pre = crate::host::instantiate_pre(linker, component)?;
        let pre = bindings::RedisTriggerPre::new(pre).map_err(|_| {
            let exports: Vec<String> = component
                .component_type()
                .exports(engine.wasmtime())
                .map(|(name, _)| name.to_string())
                .collect();
            anyhow::anyhow!(
                "the component exports no Redis handler: expected `fermyon:spin/inbound-redis`, found [{}]; \
                 build it with a Spin SDK's Redis component (e.g. componentize-py -w spin-redis), or fix the trigger's `component`",
                exports.join(", ")
            )
        })?;
        Ok(Self {
            engine: engine.clone(),
            ctx,
            pre,
        })
    }

    pub fn component_id(&self) -> &str {
        &self.ctx.id
    }

    /// Handles one payload; a guest `error` or a trap becomes `Err`.
    pub async fn handle(&self, payload: &[u8]) -> Result<()> {
        let mut store = guest::new_store(&self.engine, &self.ctx)?;
        let result = async {
            let instance = self.pre.instantiate_async(&mut store).await?;
            instance
                .fermyon_spin_inbound_redis()
                .call_handle_message(&mut store, &payload.to_vec())
                .await
        }
        .await;
        guest::outcome(&self.engine, &store, result)?
            .map_err(|_| anyhow::anyhow!("handle-message returned its `error` result"))
    }
}
