//! What guests link against: WASI 0.2, wasi:http, and (for interfaces this
//! runtime does not serve yet) stubs that fail when called, never at load time.

use std::sync::Arc;

use anyhow::Result;
use wasmtime::component::types::ComponentItem;
use wasmtime::component::{Component, InstancePre, Linker, ResourceTable, ResourceType};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::engine::{HasLimiter, MemoryLimiter};

/// Per-invocation store data of a component instance.
pub struct InstanceState {
    pub component_id: Arc<str>,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    table: ResourceTable,
    limiter: MemoryLimiter,
}

impl InstanceState {
    pub fn new(component_id: Arc<str>, wasi: WasiCtx, max_memory: Option<usize>) -> Self {
        Self {
            component_id,
            wasi,
            http: WasiHttpCtx::new(),
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(max_memory),
        }
    }

    pub fn memory_limit_exceeded(&self) -> bool {
        self.limiter.exceeded()
    }
}

impl HasLimiter for InstanceState {
    fn limiter(&mut self) -> &mut MemoryLimiter {
        &mut self.limiter
    }
}

impl WasiView for InstanceState {
    fn ctx(&mut self) -> WasiCtxView<'_> {
        WasiCtxView {
            ctx: &mut self.wasi,
            table: &mut self.table,
        }
    }
}

impl WasiHttpView for InstanceState {
    fn http(&mut self) -> WasiHttpCtxView<'_> {
        WasiHttpCtxView {
            ctx: &mut self.http,
            table: &mut self.table,
            hooks: wasmtime_wasi_http::default_hooks(),
        }
    }
}

/// The linker every component starts from.
pub fn base_linker(engine: &wasmtime::Engine) -> Result<Linker<InstanceState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    Ok(linker)
}

/// Interface packages the base linker serves (any 0.2.x version).
const SERVED_PREFIXES: &[&str] = &[
    "wasi:cli/",
    "wasi:clocks/",
    "wasi:filesystem/",
    "wasi:io/",
    "wasi:random/",
    "wasi:sockets/",
    "wasi:http/",
];

/// Pre-instantiates a component. Imports nobody serves (Python guests import
/// all of Spin 3's world) are linked to functions that fail with an error
/// naming the interface, so the app still starts.
pub fn instantiate_pre(
    base: &Linker<InstanceState>,
    component: &Component,
) -> Result<InstancePre<InstanceState>> {
    let mut linker = base.clone();
    stub_unserved_imports(&mut linker, component)?;
    Ok(linker.instantiate_pre(component)?)
}

/// Unlike wasmtime's `define_unknown_imports_as_traps`, this leaves served
/// packages alone: their resource types must stay the real ones even when the
/// guest asks for a newer 0.2.x than wasmtime ships.
fn stub_unserved_imports(linker: &mut Linker<InstanceState>, component: &Component) -> Result<()> {
    let engine = linker.engine().clone();
    for (name, item) in component.component_type().imports(&engine) {
        if SERVED_PREFIXES.iter().any(|p| name.starts_with(p)) {
            continue;
        }
        let ComponentItem::ComponentInstance(instance) = item.ty else {
            continue;
        };
        let mut root = linker.root();
        let mut inst = root.instance(name)?;
        for (export, item) in instance.exports(&engine) {
            match item.ty {
                ComponentItem::ComponentFunc(_) => {
                    let qualified = format!("{name}#{export}");
                    inst.func_new(export, move |_, _, _, _| {
                        Err(wasmtime::Error::msg(format!(
                            "`{qualified}` is not supported by this runtime (the app imports it, but spinkube does not serve that interface yet)"
                        )))
                    })?;
                }
                ComponentItem::Resource(_) => {
                    inst.resource(export, ResourceType::host::<UnservedResource>(), |_, _| {
                        Ok(())
                    })?;
                }
                _ => {}
            }
        }
    }
    Ok(())
}

/// Host type behind resources of interfaces this runtime does not serve;
/// no value of it is ever created because every function that would is a stub.
struct UnservedResource;
