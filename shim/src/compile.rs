//! Ahead-of-time compilation on the node: runwasi calls this the first time an image runs and
//! keeps the result in containerd's content store, labelled with our engine's key, so later
//! containers of the image (and restarts) skip compiling.

use std::collections::HashSet;
use std::hash::Hash;

use anyhow::Result;
use containerd_shim_wasm::sandbox::context::WasmLayer;
use containerd_shim_wasm::shim::Compiler;
use oci_spec::image::MediaType;
use spinkube_runtime::app::LockedApp;
use spinkube_runtime::engine::SpinEngine;
use spinkube_runtime::oci;

use crate::container::engine_config;

pub struct SpinCompiler(SpinEngine);

impl SpinCompiler {
    pub fn new() -> Result<Self> {
        // The container's engine settings (see `engine_config`), so compiled code from one
        // loads in the other; the allocation strategy is not part of the code format (the test
        // below checks), and skipping the pooling reservation saves time on every container
        // start, since runwasi asks for the compiler's key each time.
        let mut config = engine_config(None);
        config.pooling = false;
        Ok(Self(SpinEngine::new(config)?))
    }
}

/// What to do with one layer.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    /// Not code (locked app, files), or already machine code from an earlier run: hand it back
    /// unchanged, so runwasi records it as done and does not precompile the image on every start.
    Keep,
    Component,
    /// A Wagi guest: a core module, not a component.
    Module,
}

pub fn action(media_type: &str, digest: &str, precompiled: bool, wagi: &HashSet<String>) -> Action {
    let is_wasm =
        media_type == oci::WASM_LAYER_MEDIA_TYPE || media_type == oci::WKG_WASM_MEDIA_TYPE;
    match (is_wasm, precompiled) {
        (false, _) | (true, true) => Action::Keep,
        (true, false) if wagi.contains(digest) => Action::Module,
        (true, false) => Action::Component,
    }
}

/// A layer's media type as the image manifest spells it.
pub fn media_type(layer: &WasmLayer) -> String {
    match layer.config.media_type() {
        MediaType::Other(t) => t.clone(),
        other => other.to_string(),
    }
}

/// Digests of components whose every HTTP trigger uses the Wagi executor.
pub fn wagi_digests(app: &LockedApp) -> HashSet<String> {
    let mut wagi = HashSet::new();
    let mut other = HashSet::new();
    for t in &app.triggers {
        let Some(id) = t.trigger_config.get("component").and_then(|c| c.as_str()) else {
            continue;
        };
        let is_wagi = t.trigger_type == "http"
            && t.trigger_config
                .get("executor")
                .and_then(|e| e.get("type"))
                .and_then(|t| t.as_str())
                == Some("wagi");
        if is_wagi {
            wagi.insert(id.to_string());
        } else {
            other.insert(id.to_string());
        }
    }
    app.components
        .iter()
        .filter(|c| wagi.contains(&c.id) && !other.contains(&c.id))
        .filter_map(|c| c.source.content.digest.clone())
        .collect()
}

impl Compiler for SpinCompiler {
    fn cache_key(&self) -> impl Hash {
        self.0.precompile_key()
    }

    async fn compile(&self, layers: &[WasmLayer]) -> Result<Vec<Option<Vec<u8>>>> {
        let wagi = layers
            .iter()
            .rev()
            .find(|l| media_type(l) == oci::SPIN_APPLICATION_MEDIA_TYPE)
            .and_then(|l| LockedApp::from_json(&l.layer).ok())
            .map(|app| wagi_digests(&app))
            .unwrap_or_default();
        layers
            .iter()
            .map(|layer| {
                let digest = layer.config.digest().to_string();
                let compiled = match action(&media_type(layer), &digest, layer.precompiled, &wagi) {
                    Action::Keep => return Ok(Some(layer.layer.clone())),
                    Action::Component => self.0.precompile_component(&layer.layer),
                    Action::Module => self.0.precompile_module(&layer.layer),
                };
                compiled
                    .map(Some)
                    .map_err(|e| e.context(format!("precompiling layer {digest}")))
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wagi_components_compile_as_modules_and_the_rest_as_components() {
        let app = LockedApp::from_json(
            br#"{"spin_lock_version": 0,
              "triggers": [
                {"id": "a", "trigger_type": "http", "trigger_config": {"route": "/a", "component": "cgi", "executor": {"type": "wagi"}}},
                {"id": "b", "trigger_type": "http", "trigger_config": {"route": "/b", "component": "hello"}},
                {"id": "c", "trigger_type": "redis", "trigger_config": {"channel": "x", "component": "both"}},
                {"id": "d", "trigger_type": "http", "trigger_config": {"route": "/d", "component": "both", "executor": {"type": "wagi"}}}
              ],
              "components": [
                {"id": "cgi", "source": {"content_type": "application/wasm", "digest": "sha256:01"}},
                {"id": "hello", "source": {"content_type": "application/wasm", "digest": "sha256:02"}},
                {"id": "both", "source": {"content_type": "application/wasm", "digest": "sha256:03"}}
              ]}"#,
        )
        .unwrap();
        let wagi = wagi_digests(&app);
        assert_eq!(wagi, HashSet::from(["sha256:01".to_string()]));
        let wasm = oci::WASM_LAYER_MEDIA_TYPE;
        assert_eq!(action(wasm, "sha256:01", false, &wagi), Action::Module);
        assert_eq!(action(wasm, "sha256:02", false, &wagi), Action::Component);
        assert_eq!(action(wasm, "sha256:03", false, &wagi), Action::Component);
        assert_eq!(action(wasm, "sha256:02", true, &wagi), Action::Keep);
        assert_eq!(
            action(oci::WKG_WASM_MEDIA_TYPE, "sha256:09", false, &wagi),
            Action::Component
        );
        assert_eq!(
            action(oci::SPIN_APPLICATION_MEDIA_TYPE, "sha256:04", false, &wagi),
            Action::Keep
        );
        assert_eq!(
            action(oci::DATA_MEDIA_TYPE, "sha256:05", false, &wagi),
            Action::Keep
        );
    }

    #[test]
    fn precompiled_code_loads_in_the_container_engine() {
        let compiler = SpinCompiler::new().unwrap();
        let wat = wat::parse_str("(component)").unwrap();
        let compiled = compiler.0.precompile_component(&wat).unwrap();
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("c.cwasm");
        std::fs::write(&path, compiled).unwrap();
        // The container may set a memory limit; compiled code must still load.
        let engine = SpinEngine::new(engine_config(Some(1 << 20))).unwrap();
        assert_eq!(engine.precompile_key(), compiler.0.precompile_key());
        // SAFETY: produced just above by our own compiler.
        unsafe { engine.load_precompiled_component(&path) }.unwrap();
    }
}
