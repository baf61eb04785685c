//! What guests link against: WASI 0.2, wasi:http, Spin's host interfaces,
//! and (for interfaces this runtime does not serve) stubs that fail when
//! called, never at load time.

pub mod bindings;
pub mod context;
pub mod guest;
pub mod key_value;
pub mod loader;
pub mod mqtt;
pub mod mysql;
pub mod p3;
pub mod postgres;
pub mod redis_outbound;
pub mod redis_pool;
pub mod sockets;
pub mod sqlite;
pub mod variables;
pub mod wasi_rc;

use std::sync::{Arc, OnceLock};

use anyhow::Result;
use wasmtime::component::types::{ComponentItem, Type};
use wasmtime::component::{Component, InstancePre, Linker, ResourceTable, ResourceType, Val};
use wasmtime_wasi::{WasiCtx, WasiCtxView, WasiView};
use wasmtime_wasi_http::{WasiHttpCtx, WasiHttpCtxView, WasiHttpView};

use crate::engine::{HasLimiter, MemoryLimiter};
use crate::outbound::allowed_hosts::{AllowedHosts, OutboundTarget};
use crate::outbound::http::{LocalHttpSlot, OutboundHttpHooks};
use crate::variables::Resolver;

/// Backends shared by every instance of an app.
#[derive(Clone)]
pub struct AppServices {
    pub key_value: key_value::KeyValueStores,
    pub sqlite: sqlite::Databases,
    pub variables: Arc<Resolver>,
    /// The HTTP trigger, for service chaining; set once it is built.
    pub local_http: LocalHttpSlot,
}

impl AppServices {
    pub fn new(
        key_value: key_value::KeyValueStores,
        sqlite: sqlite::Databases,
        variables: Resolver,
    ) -> Self {
        Self {
            key_value,
            sqlite,
            variables: Arc::new(variables),
            local_http: Arc::new(OnceLock::new()),
        }
    }
}

/// What one component may use (from its spin.toml section).
#[derive(Debug, Clone, Default)]
pub struct ComponentGrants {
    pub key_value_stores: Vec<String>,
    pub sqlite_databases: Vec<String>,
    pub allowed_hosts: Arc<AllowedHosts>,
}

impl ComponentGrants {
    /// Reads the grants from the component's metadata; `{{ variables }}` in
    /// `allowed_outbound_hosts` are rendered now, so a bad entry stops startup.
    pub fn from_component(
        c: &crate::app::locked::LockedComponent,
        vars: &Resolver,
    ) -> anyhow::Result<Self> {
        let location = format!("component `{}` allowed_outbound_hosts", c.id);
        let render = |t: &str| vars.render_at(&location, t).map_err(|e| e.to_string());
        let allowed = AllowedHosts::parse(&c.metadata_strings("allowed_outbound_hosts"), &render)
            .map_err(|e| anyhow::anyhow!("component `{}`: {e}", c.id))?;
        Ok(Self {
            key_value_stores: c.metadata_strings("key_value_stores"),
            sqlite_databases: c.metadata_strings("databases"),
            allowed_hosts: Arc::new(allowed),
        })
    }
}

/// Per-invocation store data of a component instance.
pub struct InstanceState {
    pub component_id: Arc<str>,
    wasi: WasiCtx,
    http: WasiHttpCtx,
    http_hooks: OutboundHttpHooks,
    table: ResourceTable,
    limiter: MemoryLimiter,
    services: Arc<AppServices>,
    grants: Arc<ComponentGrants>,
}

impl InstanceState {
    /// An `open` result as the guest gets it: the handle in the resource table, or the open
    /// error in the interface's error type.
    pub(in crate::host) fn opened<T: Send + 'static, E>(
        &mut self,
        opened: Result<T, impl Into<E>>,
    ) -> Result<Result<wasmtime::component::Resource<T>, E>, wasmtime::component::ResourceTableError>
    {
        match opened {
            Ok(handle) => Ok(Ok(self.table.push(handle)?)),
            Err(e) => Ok(Err(e.into())),
        }
    }

    pub fn new(
        component_id: Arc<str>,
        wasi: WasiCtx,
        max_memory: Option<usize>,
        services: Arc<AppServices>,
        grants: Arc<ComponentGrants>,
    ) -> Self {
        Self {
            component_id: component_id.clone(),
            wasi,
            http: WasiHttpCtx::new(),
            http_hooks: OutboundHttpHooks {
                component_id,
                allowed: grants.allowed_hosts.clone(),
                local: services.local_http.clone(),
            },
            table: ResourceTable::new(),
            limiter: MemoryLimiter::new(max_memory),
            services,
            grants,
        }
    }

    /// Whether `allowed_outbound_hosts` permits a connection to `url`; logs the fix when not.
    pub fn outbound_allowed(&self, url: &url::Url) -> bool {
        let host = url.host_str().unwrap_or_default();
        let target = OutboundTarget::new(url.scheme(), host, url.port());
        let allowed = self.grants.allowed_hosts.allows(&target);
        if !allowed {
            let port = url.port().map(|p| format!(":{p}")).unwrap_or_default();
            crate::outbound::allowed_hosts::log_denied(
                &self.component_id,
                "outbound",
                &format!("{}://{host}{port}", url.scheme()),
                &AllowedHosts::suggestion(&target),
            );
        }
        allowed
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
            hooks: &mut self.http_hooks,
        }
    }
}

/// The linker for components of `engine`: [`base_linker`], plus WASI 0.3 on the p3 engine
/// (the current Spin SDKs import WASI 0.2.x next to `wasi:http@0.3.0`).
pub fn linker_for(engine: &crate::engine::SpinEngine) -> Result<Linker<InstanceState>> {
    let mut linker = base_linker(engine.wasmtime())?;
    if engine.is_concurrent() {
        wasmtime_wasi::p3::add_to_linker(&mut linker)?;
        wasmtime_wasi_http::p3::add_to_linker(&mut linker)?;
        p3::add_to_linker(&mut linker)?;
        sockets::gate_name_lookup(&mut linker, true)?;
    }
    Ok(linker)
}

/// One linker per engine (p2, and p3 once a p3 component needs it), built on first use.
#[derive(Default)]
pub struct Linkers {
    p2: Option<Linker<InstanceState>>,
    p3: Option<Linker<InstanceState>>,
}

impl Linkers {
    pub fn for_engine(
        &mut self,
        engine: &crate::engine::SpinEngine,
    ) -> Result<&Linker<InstanceState>> {
        let slot = if engine.is_concurrent() {
            &mut self.p3
        } else {
            &mut self.p2
        };
        if slot.is_none() {
            *slot = Some(linker_for(engine)?);
        }
        Ok(slot.as_ref().expect("just set"))
    }
}

/// The linker every component starts from.
pub fn base_linker(engine: &wasmtime::Engine) -> Result<Linker<InstanceState>> {
    let mut linker = Linker::new(engine);
    wasmtime_wasi::p2::add_to_linker_async(&mut linker)?;
    wasmtime_wasi_http::p2::add_only_http_to_linker_async(&mut linker)?;
    sockets::gate_name_lookup(&mut linker, false)?;
    // Spin 2.x era guests import the 2023 release candidates of WASI 0.2.
    wasi_rc::add_to_linker(&mut linker)?;
    bindings::SpinHost::add_to_linker::<_, wasmtime::component::HasSelf<InstanceState>>(
        &mut linker,
        |s| s,
    )?;
    Ok(linker)
}

/// Interface packages the base linker serves (any 0.2.x version).
const SERVED_PREFIXES: &[&str] = &[
    "fermyon:spin/key-value@2",
    "fermyon:spin/sqlite@2",
    "fermyon:spin/redis@2",
    "fermyon:spin/mqtt@2",
    "fermyon:spin/postgres@2",
    "fermyon:spin/mysql@2",
    "fermyon:spin/rdbms-types@2",
    "spin:postgres/postgres@3.0.0",
    "spin:postgres/postgres@4.0.0",
    "fermyon:spin/variables@2",
    "spin:sqlite/sqlite@3",
    // Only p3 components can import these (their functions are async); see host::p3.
    "spin:key-value/key-value@3",
    "spin:variables/variables@3",
    "spin:redis/redis@3",
    "wasi:keyvalue/store@0.2.0-draft2",
    "wasi:keyvalue/atomics@0.2.0-draft2",
    "wasi:keyvalue/batch@0.2.0-draft2",
    "wasi:config/store@0.2.0-draft-2024-09-27",
    "wasi:cli/",
    "wasi:clocks/",
    "wasi:filesystem/",
    "wasi:io/",
    "wasi:random/",
    "wasi:sockets/",
    "wasi:http/",
];

/// Whether the base linker (or the p3 one) serves an import. WASI's `0.3.0-rc-*` release
/// candidates (Python spin-sdk 5 imports 23 of them beside 0.3.0) are not: no wasmtime
/// defines them and prerelease versions never match 0.3.0, so they get stubs like any other
/// unserved interface. The SDKs call only 0.3.0.
fn is_served(import: &str) -> bool {
    SERVED_PREFIXES.iter().any(|p| import.starts_with(p)) && !import.contains("@0.3.0-rc-")
}

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
        if is_served(name) {
            continue;
        }
        let ComponentItem::ComponentInstance(instance) = item.ty else {
            continue;
        };
        let mut root = linker.root();
        let mut inst = root.instance(name)?;
        for (export, item) in instance.exports(&engine) {
            match item.ty {
                ComponentItem::ComponentFunc(ty) if ty.async_() => {
                    // Async imports (the spin:*@3 interfaces) can only be defined concurrently.
                    let message = unsupported_message(&format!("{name}#{export}"));
                    inst.func_new_concurrent(export, move |_, ty, _, results| {
                        let outcome = answer_unsupported(&ty, &message, results);
                        Box::pin(async move { outcome })
                    })?;
                }
                ComponentItem::ComponentFunc(_) => {
                    let message = unsupported_message(&format!("{name}#{export}"));
                    inst.func_new(export, move |_, ty, _, results| {
                        answer_unsupported(&ty, &message, results)
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

/// What an unserved function does when called: where the signature has an error case that
/// carries text, the guest gets an error it can handle; otherwise it traps.
fn answer_unsupported(
    ty: &wasmtime::component::types::ComponentFunc,
    message: &str,
    results: &mut [Val],
) -> wasmtime::Result<()> {
    match (unsupported_error(ty, message), results.first_mut()) {
        (Some(err), Some(slot)) => {
            tracing::warn!("{message}");
            *slot = err;
            Ok(())
        }
        _ => Err(wasmtime::Error::msg(message.to_string())),
    }
}

fn unsupported_message(qualified: &str) -> String {
    format!(
        "`{qualified}` is not supported by this runtime (the app imports it, but spinkube does not serve that interface)"
    )
}

/// `result<_, E>` where `E` is a variant with a string case (`other(string)`,
/// `connection-failed(string)`, ...): that error, carrying `message`.
fn unsupported_error(ty: &wasmtime::component::types::ComponentFunc, message: &str) -> Option<Val> {
    let mut results = ty.results();
    let (Some(Type::Result(result)), None) = (results.next(), results.next()) else {
        return None;
    };
    let Some(Type::Variant(variant)) = result.err() else {
        return None;
    };
    const PREFERRED: &[&str] = &[
        "other",
        "runtime-error",
        "connection-failed",
        "io",
        "unexpected",
    ];
    let cases: Vec<_> = variant
        .cases()
        .filter(|c| matches!(c.ty, Some(Type::String)))
        .map(|c| c.name.to_string())
        .collect();
    let case = PREFERRED
        .iter()
        .find(|p| cases.iter().any(|c| c == *p))
        .map(|p| p.to_string())
        .or_else(|| cases.first().cloned())?;
    let error = Val::Variant(case, Some(Box::new(Val::String(message.to_string()))));
    Some(Val::Result(Err(Some(Box::new(error)))))
}

/// Host type behind resources of interfaces this runtime does not serve;
/// no value of it is ever created because every function that would is a stub.
struct UnservedResource;

#[cfg(test)]
mod tests {
    use super::is_served;

    #[test]
    fn wasi_release_candidates_of_0_3_are_not_served() {
        assert!(is_served("wasi:cli/stdout@0.3.0"));
        assert!(is_served("wasi:http/types@0.2.9"));
        assert!(is_served("spin:key-value/key-value@3.0.0"));
        assert!(!is_served("wasi:cli/stdout@0.3.0-rc-2026-03-15"));
        assert!(!is_served("wasi:http/types@0.3.0-rc-2026-03-15"));
        assert!(is_served("spin:postgres/postgres@4.0.0"));
        assert!(!is_served("spin:postgres/postgres@4.2.0"));
    }
}
