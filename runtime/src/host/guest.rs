//! What every trigger and executor does around one guest call: load the component's code
//! (compiled, cached or trusted-precompiled), give each invocation a fresh store with the
//! component's WASI context and limits, and word a failure so the user knows what to change.

use anyhow::{anyhow, Context, Result};
use wasmtime::component::Component;
use wasmtime::{Module, Store};

use super::context::ComponentContext;
use super::InstanceState;
use crate::app::content;
use crate::app::locked::LockedComponent;
use crate::engine::{check_complete, classify, SpinEngine, WasmKind, NOT_WASM};

/// The component's code, ready to instantiate.
pub fn load_component(
    engine: &SpinEngine,
    component: &LockedComponent,
) -> Result<(SpinEngine, Component)> {
    if component.source.precompiled {
        let path = content::local_path(&component.source.content)?;
        // SAFETY: `precompiled` is set only by the shim, for layers that runwasi marked as
        // written by the shim's own compiler (see `LockedComponentSource::precompiled`).
        return unsafe { engine.load_precompiled_component(&path) };
    }
    engine
        .load_component(&content::read(&component.source.content)?)
        .with_context(|| source_name(component))
}

/// A Wagi guest's core module.
pub fn load_module(engine: &SpinEngine, component: &LockedComponent) -> Result<Module> {
    if component.source.precompiled {
        let path = content::local_path(&component.source.content)?;
        // SAFETY: as in `load_component`.
        return unsafe { engine.load_precompiled_module(&path) };
    }
    let bytes = content::read(&component.source.content)?;
    let loaded = match classify(&bytes) {
        WasmKind::Component => Err(anyhow!("the Wagi executor runs WASI command modules (wasm32-wasi), but this is a component; remove `executor = {{ type = \"wagi\" }}` to run it as an HTTP component")),
        WasmKind::Unknown => Err(anyhow!(NOT_WASM)),
        WasmKind::CoreModule => check_complete(&bytes).and_then(|()| engine.load_module(&bytes)),
        WasmKind::Text => engine.load_module(&bytes),
    };
    loaded.with_context(|| source_name(component))
}

/// The component's Wasm as an error names it: its file, or that it was inline.
fn source_name(component: &LockedComponent) -> String {
    match content::local_path(&component.source.content) {
        Ok(path) => format!("loading {}", path.display()),
        Err(_) => "loading the component's inline Wasm".to_string(),
    }
}

/// A fresh store for one invocation of a component guest.
pub fn new_store(engine: &SpinEngine, ctx: &ComponentContext) -> Result<Store<InstanceState>> {
    let wasi = ctx.wasi_builder()?.build();
    let limit = engine.config().max_instance_memory;
    Ok(engine.new_store(ctx.instance_state(wasi, limit)))
}

/// The call's result, with the memory-limit explanation added when the guest hit it.
pub fn outcome<T>(
    engine: &SpinEngine,
    store: &Store<InstanceState>,
    result: wasmtime::Result<T>,
) -> Result<T> {
    result.map_err(|e| {
        explain_failure(
            e,
            store.data().memory_limit_exceeded(),
            engine.config().max_instance_memory,
        )
    })
}

/// Adds what the user should know about a failed invocation (memory limit hit).
pub fn explain_failure(
    err: impl Into<anyhow::Error>,
    memory_exceeded: bool,
    limit: Option<usize>,
) -> anyhow::Error {
    let err = err.into();
    if memory_exceeded {
        let limit = limit.map(|l| format!(" of {l} bytes")).unwrap_or_default();
        err.context(format!(
            "the guest tried to grow its memory past the limit{limit} (raise it with --max-instance-memory / SPIN_MAX_INSTANCE_MEMORY)"
        ))
    } else {
        err
    }
}
