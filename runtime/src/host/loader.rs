//! Loads the components an app's triggers run: each component is compiled once however many
//! triggers (HTTP routes, Redis channels) run it, and each engine's linker is built once.

use std::collections::HashMap;
use std::sync::Arc;

use anyhow::{Context, Result};
use wasmtime::component::{Component, Linker};
use wasmtime::Module;

use super::context::ComponentContext;
use super::{guest, AppServices, InstanceState, Linkers};
use crate::app::locked::LockedComponent;
use crate::app::LockedApp;
use crate::engine::SpinEngine;

/// One per app build; the triggers borrow it in turn.
pub struct ComponentLoader<'a> {
    app: &'a LockedApp,
    engine: &'a SpinEngine,
    services: Arc<AppServices>,
    linkers: Linkers,
    /// By component id: the engine it needs (p2 or p3) and its compiled code.
    compiled: HashMap<String, (SpinEngine, Component)>,
}

/// A component ready to pre-instantiate.
pub struct LoadedComponent<'l> {
    /// The engine the component runs on (the p3 one when it needs component-model async).
    pub engine: SpinEngine,
    /// The linker of `engine` (shared by every component on that engine).
    pub linker: &'l Linker<InstanceState>,
    /// The compiled component.
    pub component: Component,
    /// Its env, mounts and grants.
    pub ctx: ComponentContext,
}

impl<'a> ComponentLoader<'a> {
    /// A loader for `app` on `engine`; `services` are shared by every component it loads.
    pub fn new(app: &'a LockedApp, engine: &'a SpinEngine, services: Arc<AppServices>) -> Self {
        Self {
            app,
            engine,
            services,
            linkers: Linkers::default(),
            compiled: HashMap::new(),
        }
    }

    /// The app being loaded.
    pub fn app(&self) -> &'a LockedApp {
        self.app
    }

    /// The app-wide engine (Wagi modules and p2 components run on it).
    pub fn engine(&self) -> &'a SpinEngine {
        self.engine
    }

    /// The app's shared backends.
    pub fn services(&self) -> &Arc<AppServices> {
        &self.services
    }

    /// Component `id`, compiled on its first use.
    pub fn component(&mut self, id: &str) -> Result<LoadedComponent<'_>> {
        let (locked, ctx) = self.context(id)?;
        let (engine, component) = match self.compiled.get(id) {
            Some(c) => c.clone(),
            None => {
                let c = guest::load_component(self.engine, locked)?;
                self.compiled.insert(id.to_string(), c.clone());
                c
            }
        };
        let linker = self.linkers.for_engine(&engine)?;
        Ok(LoadedComponent {
            engine,
            linker,
            component,
            ctx,
        })
    }

    /// Component `id` as a core module (the Wagi executor's guests).
    pub fn module(&self, id: &str) -> Result<(Module, ComponentContext)> {
        let (locked, ctx) = self.context(id)?;
        Ok((guest::load_module(self.engine, locked)?, ctx))
    }

    /// The component's locked section and what each of its instances gets (env, files, grants).
    fn context(&self, id: &str) -> Result<(&'a LockedComponent, ComponentContext)> {
        let locked = self
            .app
            .component(id)
            .with_context(|| format!("component `{id}` is not defined"))?;
        Ok((
            locked,
            ComponentContext::from_component(locked, &self.services)?,
        ))
    }
}
