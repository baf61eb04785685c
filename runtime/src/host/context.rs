//! What a component needs at each instantiation besides its code; shared by
//! every trigger (HTTP, Redis).

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::{Context, Result};
use wasmtime_wasi::{FsPerms, WasiCtxBuilder};

use crate::app::content;
use crate::app::locked::LockedComponent;
use crate::host::{AppServices, ComponentGrants, InstanceState};

/// A component's per-instantiation inputs: services, grants, environment and file mounts.
#[derive(Clone)]
pub struct ComponentContext {
    /// Component id.
    pub id: Arc<str>,
    /// The app's shared backends.
    pub services: Arc<AppServices>,
    /// What the component may access.
    pub grants: Arc<ComponentGrants>,
    /// Environment variables (`environment` in spin.toml).
    pub env: Vec<(String, String)>,
    /// (host directory, guest path) mounted read-only.
    pub files: Vec<(PathBuf, String)>,
}

impl ComponentContext {
    /// Env, file mounts and grants from the component's locked-app section.
    pub fn from_component(
        component: &LockedComponent,
        services: &Arc<AppServices>,
    ) -> Result<Self> {
        let files = component
            .files
            .iter()
            .map(|f| Ok((content::local_path(&f.content)?, f.path.clone())))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            id: Arc::from(component.id.as_str()),
            services: services.clone(),
            grants: Arc::new(ComponentGrants::from_component(
                component,
                &services.variables,
            )?),
            env: component
                .env
                .iter()
                .map(|(k, v)| (k.clone(), v.clone()))
                .collect(),
            files,
        })
    }

    /// The store data for one instance of this component, with a memory limit of `max_memory` bytes
    /// (`None` = unlimited).
    pub fn instance_state(
        &self,
        wasi: wasmtime_wasi::WasiCtx,
        max_memory: Option<usize>,
    ) -> InstanceState {
        InstanceState::new(
            self.id.clone(),
            wasi,
            max_memory,
            self.services.clone(),
            self.grants.clone(),
        )
    }

    /// A WASI context with the component's env, stdout/stderr inherited, read-only file mounts and
    /// outbound-gated sockets.
    pub fn wasi_builder(&self) -> Result<WasiCtxBuilder> {
        let mut b = WasiCtxBuilder::new();
        b.inherit_stdout().inherit_stderr().envs(&self.env);
        crate::host::sockets::configure(&mut b, self.id.clone(), self.grants.allowed_hosts.clone());
        for (host, guest) in &self.files {
            b.preopened_dir(host, guest, FsPerms::ReadOnly)
                .map_err(anyhow::Error::from)
                .with_context(|| format!("mounting {} at {guest}", host.display()))?;
        }
        Ok(b)
    }
}
