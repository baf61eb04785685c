//! The async Spin 4 host interfaces (`spin:*@3`, wit/spin-p3) that WASI p3 guests import.
//!
//! They exist only on the component-model-async engine: their functions are `async func`s, which
//! wasmtime defines concurrently. Each one is served by the same backend code as its
//! `fermyon:spin@2.0.0` twin (key_value, sqlite, variables, redis_outbound) with the same grants;
//! a call takes what it needs from the store, awaits without it, and comes back to record results.

mod key_value;
mod redis;
mod sqlite;
mod variables;

use anyhow::Result;
use wasmtime::component::{HasData, Linker};

use crate::host::InstanceState;

pub mod bindings {
    wasmtime::component::bindgen!({
        path: "../wit/spin-p3",
        world: "spinkube:host-p3/spin-host-p3",
        imports: { default: async | trappable },
        with: {
            "spin:key-value/key-value.store": crate::host::key_value::StoreHandle,
            "spin:sqlite/sqlite.connection": crate::host::sqlite::ConnectionHandle,
            "spin:redis/redis.connection": crate::host::redis_outbound::RedisHandle,
        },
    });
}

/// The `HasData` of the p3 Spin interfaces: their concurrent functions get an accessor onto
/// the whole [`InstanceState`].
pub struct SpinP3;

impl HasData for SpinP3 {
    type Data<'a> = &'a mut InstanceState;
}

/// Adds the `spin:*@3` interfaces; the linker's engine must support concurrency.
pub fn add_to_linker(linker: &mut Linker<InstanceState>) -> Result<()> {
    bindings::SpinHostP3::add_to_linker::<_, SpinP3>(linker, |s| s)?;
    Ok(())
}
