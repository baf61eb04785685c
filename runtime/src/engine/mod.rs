//! One wasmtime engine per process: pooling allocator, epoch interruption for
//! runaway guests, per-instance memory limits and an on-disk compile cache. Components built
//! with today's Spin SDKs (WASI p3) need component-model async, whose bookkeeping costs every
//! call: they get a second engine with it on, built on first use, so p2 guests keep the fast
//! path.

mod cache;
mod componentize;
mod limits;
mod wasi_rc_forward;

use std::hash::Hasher;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::{Duration, Instant};

use anyhow::{Context, Result};
use wasmtime::component::Component;
use wasmtime::{Module, Store, UpdateDeadline};

pub use componentize::{check_complete, classify, needs_async, WasmKind, NOT_WASM};
pub use limits::{HasLimiter, MemoryLimiter};
pub use wasi_rc_forward::FORWARDED_RC_HANDLER;

/// Bytes of each pooled memory, table and stack reset in place between instances, when the
/// kernel cannot say which pages an instance touched: the first pages are zeroed with memset.
const KEEP_RESIDENT: usize = 64 << 10;
/// The same with `PAGEMAP_SCAN` (Linux 6.7+): only the pages an instance dirtied are reset, and
/// they stay mapped, so a big guest (Python touches megabytes) neither faults them back in nor
/// pays for an madvise on every request.
const KEEP_RESIDENT_SCANNED: usize = 64 << 20;

/// How instances get their memory, best first: [`SpinEngine::build`] falls back down the list
/// when the host refuses one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Allocation {
    /// Pooled slots reset through `PAGEMAP_SCAN`.
    PoolingScanned,
    /// Pooled slots reset with memset and madvise.
    Pooling,
    /// Fresh mappings per instance (hosts with little virtual memory).
    OnDemand,
}

impl Allocation {
    fn fallback(self) -> Option<Allocation> {
        match self {
            Allocation::PoolingScanned => Some(Allocation::Pooling),
            Allocation::Pooling => Some(Allocation::OnDemand),
            Allocation::OnDemand => None,
        }
    }
}

/// How often the epoch advances; the granularity of guest timeouts and yields.
const EPOCH_TICK: Duration = Duration::from_millis(10);

/// Engine settings shared by the p2 and p3 engines.
#[derive(Debug, Clone)]
pub struct EngineConfig {
    /// Pooling allocator (fast instantiation); off for hosts with little virtual memory.
    pub pooling: bool,
    /// With pooling, reset each slot through the kernel's `PAGEMAP_SCAN` where it has it
    /// (Linux 6.7+; falls back to memset without it).
    pub pagemap_scan: bool,
    /// Where compiled components are kept between runs; `None` disables the cache.
    pub cache_dir: Option<PathBuf>,
    /// Largest linear memory one instance may grow to, in bytes.
    pub max_instance_memory: Option<usize>,
    /// Longest a guest may run for one event before it is interrupted.
    pub execution_timeout: Option<Duration>,
    /// How WASI p3 instances are reused (p2 components get a fresh instance per request).
    pub instance_reuse: crate::http::reuse::InstanceReuse,
}

impl Default for EngineConfig {
    fn default() -> Self {
        Self {
            pooling: true,
            pagemap_scan: true,
            cache_dir: default_cache_dir(),
            max_instance_memory: None,
            execution_timeout: None,
            instance_reuse: Default::default(),
        }
    }
}

/// `$SPINKUBE_CACHE_DIR`, else `$XDG_CACHE_HOME/spinkube`, else `~/.cache/spinkube`.
pub fn default_cache_dir() -> Option<PathBuf> {
    if let Some(dir) = std::env::var_os("SPINKUBE_CACHE_DIR") {
        return Some(PathBuf::from(dir));
    }
    let base = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))?;
    Some(base.join("spinkube"))
}

/// A configured wasmtime engine (cheap to clone), with its compile cache and lazily built p3 twin.
#[derive(Clone)]
pub struct SpinEngine {
    inner: Arc<Inner>,
}

struct Inner {
    engine: wasmtime::Engine,
    config: EngineConfig,
    cache: Option<cache::CompileCache>,
    /// Component-model async is on (the WASI p3 engine).
    concurrent: bool,
    /// The p3 engine, built by [`SpinEngine::for_component`] on first need.
    p3: std::sync::OnceLock<std::result::Result<SpinEngine, String>>,
}

impl SpinEngine {
    /// Builds the p2 engine (component-model async off), falling back to on-demand allocation if
    /// pooling is unavailable.
    pub fn new(config: EngineConfig) -> Result<Self> {
        Self::build(config, false)
    }

    fn build(config: EngineConfig, concurrent: bool) -> Result<Self> {
        let mut allocation = match (config.pooling, config.pagemap_scan) {
            (true, true) => Allocation::PoolingScanned,
            (true, false) => Allocation::Pooling,
            (false, _) => Allocation::OnDemand,
        };
        let engine = loop {
            match build_engine(&config, allocation, concurrent) {
                Ok(engine) => break engine,
                Err(e) => {
                    let Some(next) = allocation.fallback() else {
                        return Err(e);
                    };
                    // Pooling reserves a lot of virtual memory up front, and PAGEMAP_SCAN needs
                    // a recent kernel: fall back rather than fail.
                    match allocation {
                        Allocation::PoolingScanned => tracing::debug!(
                            "PAGEMAP_SCAN unavailable ({e:#}); pooled memory is reset with memset"
                        ),
                        _ => tracing::warn!(
                            "pooling allocator unavailable ({e:#}); using on-demand allocation"
                        ),
                    }
                    allocation = next;
                }
            }
        };
        let cache = config
            .cache_dir
            .as_ref()
            .map(|dir| cache::CompileCache::new(dir.join("components"), compat_key(&engine)));
        spawn_epoch_ticker(&engine);
        Ok(Self {
            inner: Arc::new(Inner {
                engine,
                config,
                cache,
                concurrent,
                p3: std::sync::OnceLock::new(),
            }),
        })
    }

    /// The engine for a component with these bytes: this one, or for a WASI p3 component the
    /// component-model async engine (same settings, built once).
    pub fn for_component(&self, bytes: &[u8]) -> Result<SpinEngine> {
        if self.inner.concurrent || !needs_async(bytes) {
            return Ok(self.clone());
        }
        self.p3_engine()
    }

    /// The component-model async engine (this one if it is).
    pub fn p3_engine(&self) -> Result<SpinEngine> {
        if self.inner.concurrent {
            return Ok(self.clone());
        }
        self.inner
            .p3
            .get_or_init(|| {
                SpinEngine::build(self.inner.config.clone(), true).map_err(|e| format!("{e:#}"))
            })
            .clone()
            .map_err(|e| anyhow::anyhow!("building the WASI p3 engine: {e}"))
    }

    /// Whether component-model async is on (WASI p3 components run here).
    pub fn is_concurrent(&self) -> bool {
        self.inner.concurrent
    }

    /// The underlying wasmtime engine.
    pub fn wasmtime(&self) -> &wasmtime::Engine {
        &self.inner.engine
    }

    /// The settings this engine was built with.
    pub fn config(&self) -> &EngineConfig {
        &self.inner.config
    }

    /// Compiles (or loads from cache) a component on the engine it needs (see
    /// [`Self::for_component`]); core modules carrying a `component-type` section are
    /// componentized with the WASI adapter first. Returns that engine with the component.
    pub fn load_component(&self, bytes: &[u8]) -> Result<(SpinEngine, Component)> {
        let engine = self.for_component(bytes)?;
        let component = engine.compile_component(bytes)?;
        Ok((engine, component))
    }

    fn compile_component(&self, bytes: &[u8]) -> Result<Component> {
        let engine = &self.inner.engine;
        if let Some(cache) = &self.inner.cache {
            if let Some(component) = cache.get_component(engine, bytes) {
                return Ok(component);
            }
        }
        let component_bytes = componentize::componentize(bytes)?;
        let component = Component::new(engine, &component_bytes)?;
        if let Some(cache) = &self.inner.cache {
            cache.put_component(bytes, &component);
        }
        Ok(component)
    }

    /// Compiles (or loads from cache) a core module, for the Wagi executor.
    pub fn load_module(&self, bytes: &[u8]) -> Result<Module> {
        let engine = &self.inner.engine;
        if let Some(cache) = &self.inner.cache {
            if let Some(module) = cache.get_module(engine, bytes) {
                return Ok(module);
            }
        }
        let module = Module::new(engine, bytes)?;
        if let Some(cache) = &self.inner.cache {
            cache.put_module(bytes, &module);
        }
        Ok(module)
    }

    /// Compiles a component (or a core module carrying a component type) ahead of time, for a
    /// node-side cache: the bytes load with [`Self::load_precompiled_component`] on an engine
    /// with the same [`Self::precompile_key`].
    /// A WASI p3 component is compiled by the p3 engine (and loads there, see
    /// [`Self::load_precompiled_component`]).
    pub fn precompile_component(&self, bytes: &[u8]) -> Result<Vec<u8>> {
        let component_bytes = componentize::componentize(bytes)?;
        let engine = self.for_component(&component_bytes)?;
        Ok(engine.inner.engine.precompile_component(&component_bytes)?)
    }

    /// Compiles a core module (a Wagi guest) ahead of time.
    pub fn precompile_module(&self, bytes: &[u8]) -> Result<Vec<u8>> {
        Ok(self.inner.engine.precompile_module(bytes)?)
    }

    /// Identifies the compiled-code format: artifacts from an engine with the same key load here.
    pub fn precompile_key(&self) -> u64 {
        compat_key(&self.inner.engine)
    }

    /// Loads a component that [`Self::precompile_component`] produced.
    ///
    /// # Safety
    /// The file must come from a trusted compiler for this engine: wasmtime runs its machine
    /// code as is. Only the shim passes such files, for layers its own compiler wrote.
    /// Returns the engine it loaded on: this one, or the p3 engine for a p3 component (whose
    /// compiled code only that engine accepts).
    pub unsafe fn load_precompiled_component(
        &self,
        path: &std::path::Path,
    ) -> Result<(SpinEngine, Component)> {
        // SAFETY: upheld by the caller (see above); wasmtime still checks the header.
        let first = unsafe { Component::deserialize_file(&self.inner.engine, path) };
        match first {
            Ok(c) => Ok((self.clone(), c)),
            Err(e) if !self.inner.concurrent => {
                let p3 = self.p3_engine()?;
                // SAFETY: as above.
                match unsafe { Component::deserialize_file(&p3.inner.engine, path) } {
                    Ok(c) => Ok((p3, c)),
                    Err(_) => Err(anyhow::Error::from(e)),
                }
            }
            Err(e) => Err(anyhow::Error::from(e)),
        }
        .with_context(|| format!("loading precompiled component {}", path.display()))
    }

    /// Loads a core module that [`Self::precompile_module`] produced.
    ///
    /// # Safety
    /// As for [`Self::load_precompiled_component`].
    pub unsafe fn load_precompiled_module(&self, path: &std::path::Path) -> Result<Module> {
        // SAFETY: upheld by the caller.
        unsafe { Module::deserialize_file(&self.inner.engine, path) }
            .map_err(anyhow::Error::from)
            .with_context(|| format!("loading precompiled module {}", path.display()))
    }

    /// A store for one guest invocation with the memory limit and execution
    /// deadline applied. Guests yield to the async runtime every tick so a
    /// busy guest cannot starve other requests.
    /// On the p3 engine a store serves many requests, so only yields happen here: the HTTP
    /// handler enforces the timeout per request.
    pub fn new_store<T: HasLimiter + Send + 'static>(&self, data: T) -> Store<T> {
        let mut store = Store::new(&self.inner.engine, data);
        store.limiter(|data| data.limiter());
        let started = Instant::now();
        let timeout = self
            .inner
            .config
            .execution_timeout
            .filter(|_| !self.inner.concurrent);
        store.set_epoch_deadline(1);
        store.epoch_deadline_callback(move |_| match timeout {
            Some(limit) if started.elapsed() >= limit => Ok(UpdateDeadline::Interrupt),
            _ => Ok(UpdateDeadline::Yield(1)),
        });
        store
    }
}

/// The engine's compiled-code compatibility as a number (the compile cache's directory, the
/// shim's precompile label).
fn compat_key(engine: &wasmtime::Engine) -> u64 {
    let mut h = std::hash::DefaultHasher::new();
    std::hash::Hash::hash(&engine.precompile_compatibility_hash(), &mut h);
    h.finish()
}

fn build_engine(
    config: &EngineConfig,
    allocation: Allocation,
    concurrent: bool,
) -> Result<wasmtime::Engine> {
    let pooling = allocation != Allocation::OnDemand;
    let mut c = wasmtime::Config::new();
    c.wasm_component_model(true).epoch_interruption(true);
    // Component-model async's bookkeeping costs every call: on only where p3 guests run.
    c.concurrency_support(concurrent)
        .wasm_component_model_async(concurrent);
    // Bounds-checked in code, not by guard pages: with guard pages wasmtime must mprotect a
    // reused slot back to the new instance's size and again on every memory.grow, and each
    // mprotect is a TLB shootdown on every core. Without them a slot stays read/write up to
    // its high-water mark. Measured: Rust hello +26% (issue 20 note).
    c.signals_based_traps(false).memory_guard_size(0);
    if pooling {
        let mut p = wasmtime::PoolingAllocationConfig::default();
        // Sized for big guests (Python components hold many core instances and tables).
        p.total_component_instances(1_000)
            .max_component_instance_size(16 << 20)
            .max_core_instances_per_component(200)
            .max_tables_per_component(64)
            .table_elements(200_000)
            .max_memories_per_component(32)
            .total_memories(1_000)
            .total_tables(4_000)
            .total_core_instances(4_000)
            .max_core_instance_size(16 << 20)
            .async_stack_keep_resident(KEEP_RESIDENT);
        // Reset memory in place instead of madvise: madvise flushes TLBs on every core and
        // dominated per-request cost.
        let keep = match allocation {
            Allocation::PoolingScanned => {
                p.pagemap_scan(wasmtime::Enabled::Yes);
                KEEP_RESIDENT_SCANNED
            }
            _ => KEEP_RESIDENT,
        };
        p.linear_memory_keep_resident(keep)
            .table_keep_resident(keep);
        if let Some(max) = config.max_instance_memory {
            p.max_memory_size(max);
        }
        c.allocation_strategy(wasmtime::InstanceAllocationStrategy::Pooling(p));
    }
    let engine = wasmtime::Engine::new(&c)?;
    if pooling {
        // Fail here (and fall back) instead of on the first request.
        let probe = Component::new(&engine, "(component)")
            .map_err(anyhow::Error::from)
            .context("probing pooling allocator")?;
        let linker = wasmtime::component::Linker::<()>::new(&engine);
        let mut store = Store::new(&engine, ());
        linker.instantiate(&mut store, &probe)?;
    }
    Ok(engine)
}

fn spawn_epoch_ticker(engine: &wasmtime::Engine) {
    let weak = engine.weak();
    std::thread::Builder::new()
        .name("epoch-ticker".into())
        .spawn(move || loop {
            std::thread::sleep(EPOCH_TICK);
            match weak.upgrade() {
                Some(engine) => engine.increment_epoch(),
                None => break,
            }
        })
        .ok();
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn allocation_falls_back_from_scanned_pooling_to_memset_pooling_to_on_demand() {
        let mut order = vec![Allocation::PoolingScanned];
        while let Some(next) = order.last().unwrap().fallback() {
            order.push(next);
        }
        assert_eq!(
            order,
            [
                Allocation::PoolingScanned,
                Allocation::Pooling,
                Allocation::OnDemand
            ]
        );
    }

    #[test]
    fn an_engine_builds_with_and_without_pagemap_scan() {
        for pagemap_scan in [true, false] {
            let config = EngineConfig {
                cache_dir: None,
                pagemap_scan,
                ..Default::default()
            };
            let engine = SpinEngine::new(config).expect("engine");
            engine
                .load_component(b"(component)")
                .expect("a component loads");
        }
    }

    /// An engine as `spinkube up` builds it (pooled slots, no code cache) and `wat` compiled on it.
    fn engine_with_module(wat: &str) -> (SpinEngine, wasmtime::Module, wasmtime::Linker<()>) {
        let engine = SpinEngine::new(EngineConfig {
            cache_dir: None,
            ..Default::default()
        })
        .expect("engine");
        let module = wasmtime::Module::new(engine.wasmtime(), wat).expect("module");
        let linker = wasmtime::Linker::<()>::new(engine.wasmtime());
        (engine, module, linker)
    }

    /// A fresh store and instance of `module`: a pooled slot, reused across calls.
    async fn fresh_instance(
        engine: &SpinEngine,
        linker: &wasmtime::Linker<()>,
        module: &wasmtime::Module,
    ) -> (Store<()>, wasmtime::Instance) {
        let mut store = Store::new(engine.wasmtime(), ());
        store.set_epoch_deadline(u64::MAX / 2);
        let instance = linker
            .instantiate_async(&mut store, module)
            .await
            .expect("instantiate");
        (store, instance)
    }

    /// Minor page faults of this thread so far.
    fn thread_minor_faults() -> i64 {
        let mut usage: libc::rusage = unsafe { std::mem::zeroed() };
        // SAFETY: getrusage only writes the struct it is given.
        assert_eq!(
            unsafe { libc::getrusage(libc::RUSAGE_THREAD, &mut usage) },
            0
        );
        usage.ru_minflt
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_guest_dirtying_many_regions_keeps_them_resident_between_instances() {
        // One byte written on every other page: 100 separate dirty regions, more than one
        // PAGEMAP_SCAN call returns (wasmtime asks for 32 in 48.0.8, 64 in 48.0.11; vendor/README.md).
        const PAGES: u32 = 200;
        let wat = format!(
            r#"(module
                (memory 4)
                (func (export "dirty") (local $page i32)
                  (memory.grow (i32.const {PAGES})) drop
                  (loop $next
                    (i32.store8 (i32.mul (local.get $page) (i32.const 8192)) (i32.const 1))
                    (local.set $page (i32.add (local.get $page) (i32.const 1)))
                    (br_if $next (i32.lt_u (local.get $page) (i32.const {half}))))))"#,
            half = PAGES / 2,
        );
        let (engine, module, linker) = engine_with_module(&wat);
        let mut faults = Vec::new();
        for _ in 0..3 {
            let before = thread_minor_faults();
            let (mut store, instance) = fresh_instance(&engine, &linker, &module).await;
            let dirty = instance
                .get_typed_func::<(), ()>(&mut store, "dirty")
                .expect("dirty export");
            dirty.call_async(&mut store, ()).await.expect("dirty runs");
            faults.push(thread_minor_faults() - before);
        }
        // The first instance faults its 100 pages in; later ones in the same slot find them
        // still mapped (a resumed scan) instead of decommitted past the last region returned.
        assert!(faults[0] >= 100, "first instance faults: {faults:?}");
        assert!(
            faults[2] < 30,
            "pages were decommitted between instances (faults per instance: {faults:?})"
        );
    }

    /// The permissions `/proc/self/maps` gives the mapping holding `addr`, e.g. `rw-p`.
    fn mapping_permissions(addr: usize) -> String {
        let maps = std::fs::read_to_string("/proc/self/maps").expect("maps");
        maps.lines()
            .find_map(|line| {
                let (range, rest) = line.split_once(' ')?;
                let (start, end) = range.split_once('-')?;
                let start = usize::from_str_radix(start, 16).ok()?;
                let end = usize::from_str_radix(end, 16).ok()?;
                (start..end).contains(&addr).then(|| rest[..4].to_string())
            })
            .expect("the address is mapped")
    }

    #[tokio::test(flavor = "current_thread")]
    async fn a_reused_slot_stays_read_write_up_to_what_its_last_instance_grew_to() {
        // The first instance grows its memory by 16 pages; the second, in the same slot, does
        // not. With guard pages wasmtime would mprotect the grown pages back to PROT_NONE (a
        // TLB shootdown per request); bounds checks in code leave them read/write.
        let wat = r#"(module
            (memory (export "memory") 1)
            (func (export "grow") (memory.grow (i32.const 16)) drop))"#;
        let (engine, module, linker) = engine_with_module(wat);
        let mut grown_page = None;
        for grow in [true, false] {
            let (mut store, instance) = fresh_instance(&engine, &linker, &module).await;
            let memory = instance.get_memory(&mut store, "memory").expect("memory");
            let page = memory.data_ptr(&store) as usize + 8 * 65536;
            if grow {
                instance
                    .get_typed_func::<(), ()>(&mut store, "grow")
                    .expect("grow export")
                    .call_async(&mut store, ())
                    .await
                    .expect("grow runs");
                grown_page = Some(page);
            } else {
                assert_eq!(
                    Some(page),
                    grown_page,
                    "the second instance reused the slot"
                );
                assert_eq!(
                    memory.data_size(&store),
                    65536,
                    "a fresh instance has one page"
                );
                assert_eq!(
                    mapping_permissions(page),
                    "rw-p",
                    "the slot was re-protected between instances"
                );
            }
        }
    }
}
