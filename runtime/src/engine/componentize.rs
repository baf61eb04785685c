//! Core modules as the Rust/C/Go Spin SDKs build them (wasm32-wasip1 with an
//! embedded `component-type` section) become components here, at load time,
//! by linking the WASI preview1 adapter — as Spin does.

use std::borrow::Cow;

use anyhow::{bail, Context, Result};
use wasi_preview1_component_adapter_provider::{
    WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME, WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
};

/// What a Wasm binary is, from its header.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WasmKind {
    /// A Wasm component: run as-is.
    Component,
    /// A core module: componentized with the WASI preview1 adapter.
    CoreModule,
    /// WebAssembly text: compiled as-is.
    Text,
    /// Not Wasm at all.
    Unknown,
}

/// Classifies `bytes` by header (binary component or module) or by a leading `(` (text).
pub fn classify(bytes: &[u8]) -> WasmKind {
    if wasmparser::Parser::is_component(bytes) {
        WasmKind::Component
    } else if wasmparser::Parser::is_core_wasm(bytes) {
        WasmKind::CoreModule
    } else if bytes.iter().find(|b| !b.is_ascii_whitespace()) == Some(&b'(') {
        WasmKind::Text
    } else {
        WasmKind::Unknown
    }
}

/// Exports whose components run on the component-model-async (WASI p3) engine.
const ASYNC_EXPORTS: &[&str] = &["wasi:http/handler@0.3", "spin:redis/inbound-redis@3"];

/// Whether a component exports a WASI p3 (component-model async) entry point, as the current
/// Spin SDKs build them. Only the top-level export names are read.
pub fn needs_async(bytes: &[u8]) -> bool {
    if classify(bytes) != WasmKind::Component {
        return false;
    }
    let mut depth = 0usize;
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        match payload {
            Ok(wasmparser::Payload::ModuleSection { .. })
            | Ok(wasmparser::Payload::ComponentSection { .. }) => depth += 1,
            Ok(wasmparser::Payload::End(_)) => depth = depth.saturating_sub(1),
            Ok(wasmparser::Payload::ComponentExportSection(exports)) if depth == 0 => {
                for export in exports.into_iter().flatten() {
                    if ASYNC_EXPORTS
                        .iter()
                        .any(|p| export.name.name.starts_with(p))
                    {
                        return true;
                    }
                }
            }
            Err(_) => return false,
            _ => {}
        }
    }
    false
}

/// Returns component bytes for any Wasm the HTTP/Redis triggers can run (components built
/// against WASI 0.3.0-rc-2026-03-15 renamed to 0.3.0, see `wasi_rc_forward`).
pub fn componentize(bytes: &[u8]) -> Result<Cow<'_, [u8]>> {
    match classify(bytes) {
        WasmKind::Component => Ok(match super::wasi_rc_forward::forward(bytes)? {
            Some(renamed) => Cow::Owned(renamed),
            None => Cow::Borrowed(bytes),
        }),
        WasmKind::Text => Ok(Cow::Borrowed(bytes)),
        WasmKind::CoreModule => {
            check_complete(bytes)?;
            if !has_component_type(bytes) {
                bail!(
                    "this is a core Wasm module without an embedded component type, so its \
                     exports cannot be known; rebuild it with a current Spin SDK (or as a \
                     component), or run it with `executor = {{ type = \"wagi\" }}`"
                );
            }
            let component = wit_component::ComponentEncoder::default()
                .validate(true)
                .module(bytes)
                .context("reading the module's component type")?
                .adapter(
                    WASI_SNAPSHOT_PREVIEW1_ADAPTER_NAME,
                    WASI_SNAPSHOT_PREVIEW1_REACTOR_ADAPTER,
                )
                .context("loading the WASI preview1 adapter")?
                .encode()
                .context("turning the core module into a component")?;
            Ok(Cow::Owned(component))
        }
        WasmKind::Unknown => {
            bail!(NOT_WASM)
        }
    }
}

/// A module cut short (an interrupted download or copy) fails to parse part way: say that, with
/// the offset, rather than what a later check would conclude from the part that parsed.
pub fn check_complete(bytes: &[u8]) -> Result<()> {
    for payload in wasmparser::Parser::new(0).parse_all(bytes) {
        if let Err(e) = payload {
            bail!(
                "the Wasm module is truncated or malformed: {} (at offset {:#x} of {} bytes); \
                 rebuild it or copy it again",
                e.message(),
                e.offset(),
                bytes.len()
            );
        }
    }
    Ok(())
}

/// The message for bytes that are neither Wasm nor WebAssembly text.
pub const NOT_WASM: &str =
    "not a WebAssembly module or component (the file does not start with the Wasm magic bytes)";

fn has_component_type(bytes: &[u8]) -> bool {
    wasmparser::Parser::new(0)
        .parse_all(bytes)
        .filter_map(Result::ok)
        .any(|payload| match payload {
            wasmparser::Payload::CustomSection(s) => s.name().starts_with("component-type"),
            _ => false,
        })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classifies_binaries_and_text() {
        assert_eq!(classify(b"\0asm\x0d\0\x01\0"), WasmKind::Component);
        assert_eq!(classify(b"\0asm\x01\0\0\0"), WasmKind::CoreModule);
        assert_eq!(classify(b"  (component)"), WasmKind::Text);
        assert_eq!(classify(b"#!/bin/sh"), WasmKind::Unknown);
    }

    #[test]
    fn a_truncated_core_module_is_called_truncated() {
        // A module with one (empty) type section, cut inside the section.
        let whole = b"\0asm\x01\0\0\0\x01\x04\x01\x60\0\0";
        assert!(check_complete(whole).is_ok());
        let err = componentize(&whole[..11]).unwrap_err().to_string();
        assert!(err.contains("truncated or malformed"), "{err}");
        assert!(err.contains("at offset"), "{err}");
    }

    #[test]
    fn core_module_without_component_type_gets_a_clear_error() {
        let err = componentize(b"\0asm\x01\0\0\0").unwrap_err().to_string();
        assert!(err.contains("without an embedded component type"), "{err}");
        assert!(err.contains("wagi"), "{err}");
    }

    /// What wasm32-unknown-unknown builds look like: a core module with no WASI
    /// imports plus a `component-type` section. It must become a component that
    /// exports the legacy Spin HTTP interface.
    #[test]
    fn unknown_unknown_module_with_component_type_becomes_a_component() {
        let mut resolve = wit_parser::Resolve::default();
        let pkg = resolve
            .push_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../wit/spin-legacy"))
            .unwrap()
            .0;
        let world = resolve.select_world(&[pkg], Some("http-trigger")).unwrap();
        let mut module =
            wit_component::dummy_module(&resolve, world, wit_parser::ManglingAndAbi::Standard32);
        wit_component::embed_component_metadata(
            &mut module,
            &resolve,
            world,
            wit_component::StringEncoding::UTF8,
            false,
        )
        .unwrap();
        assert_eq!(classify(&module), WasmKind::CoreModule);
        let component = componentize(&module).unwrap();
        assert_eq!(classify(&component), WasmKind::Component);
        let engine = wasmtime::Engine::default();
        let compiled = wasmtime::component::Component::new(&engine, &component).unwrap();
        let exports: Vec<String> = compiled
            .component_type()
            .exports(&engine)
            .map(|(name, _)| name.to_string())
            .collect();
        assert_eq!(exports, vec!["fermyon:spin/inbound-http"]);
    }

    #[test]
    fn garbage_is_rejected() {
        let err = componentize(b"hello").unwrap_err().to_string();
        assert!(err.contains("not a WebAssembly"), "{err}");
    }
}
