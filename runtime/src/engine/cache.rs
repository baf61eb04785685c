//! On-disk cache of compiled components and modules. The key covers the
//! input bytes and the engine's compatibility hash, so a different wasmtime
//! or different engine settings never load a stale artifact.

use std::path::PathBuf;

use sha2::{Digest, Sha256};
use wasmtime::component::Component;
use wasmtime::{Engine, Module};

pub struct CompileCache {
    dir: PathBuf,
    engine_key: String,
}

impl CompileCache {
    /// `engine_key`: [`super::compat_key`] of the engine whose artifacts go here.
    pub fn new(dir: PathBuf, engine_key: u64) -> Self {
        Self {
            dir,
            engine_key: format!("{engine_key:016x}"),
        }
    }

    fn path(&self, kind: &str, bytes: &[u8]) -> PathBuf {
        let digest = hex::encode(Sha256::digest(bytes));
        self.dir
            .join(&self.engine_key)
            .join(format!("{digest}.{kind}"))
    }

    pub fn get_component(&self, engine: &Engine, bytes: &[u8]) -> Option<Component> {
        let path = self.path("cwasm", bytes);
        if !path.is_file() {
            return None;
        }
        // SAFETY: the file was written by `put_component` below from
        // `Component::serialize` for an engine with the same compatibility hash
        // (part of the path); wasmtime also checks the header before use.
        match unsafe { Component::deserialize_file(engine, &path) } {
            Ok(c) => Some(c),
            Err(e) => {
                tracing::warn!(
                    "ignoring unreadable compile cache entry {}: {e}",
                    path.display()
                );
                None
            }
        }
    }

    pub fn put_component(&self, bytes: &[u8], component: &Component) {
        match component.serialize() {
            Ok(data) => self.write(self.path("cwasm", bytes), &data),
            Err(e) => tracing::warn!("cannot serialize component for the cache: {e}"),
        }
    }

    pub fn get_module(&self, engine: &Engine, bytes: &[u8]) -> Option<Module> {
        let path = self.path("cwasm-module", bytes);
        if !path.is_file() {
            return None;
        }
        // SAFETY: as for components: written by `put_module` for this engine.
        unsafe { Module::deserialize_file(engine, &path) }.ok()
    }

    pub fn put_module(&self, bytes: &[u8], module: &Module) {
        match module.serialize() {
            Ok(data) => self.write(self.path("cwasm-module", bytes), &data),
            Err(e) => tracing::warn!("cannot serialize module for the cache: {e}"),
        }
    }

    /// Write to a temp file then rename, so a concurrent reader never sees half a file.
    fn write(&self, path: PathBuf, data: &[u8]) {
        let result = (|| -> std::io::Result<()> {
            let parent = path.parent().unwrap_or(&self.dir);
            std::fs::create_dir_all(parent)?;
            let tmp = parent.join(format!(".tmp-{}", std::process::id()));
            std::fs::write(&tmp, data)?;
            std::fs::rename(&tmp, &path)
        })();
        if let Err(e) = result {
            tracing::warn!("cannot write compile cache entry {}: {e}", path.display());
        }
    }
}
