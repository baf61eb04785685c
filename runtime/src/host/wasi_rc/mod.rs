//! Host side of the 2023 release candidates of WASI 0.2 that Spin 2.x SDKs
//! target. wasmtime no longer ships them, so each version gets bindings for
//! its own WIT whose host functions delegate to the current 0.2 implementation
//! on the same resource table. Resources whose shape did not change are the
//! current types, so only records, variants and flags are converted.

#[macro_use]
mod macros;
#[macro_use]
mod shared;

pub mod v2023_10_18;
pub mod v2023_11_10;

use anyhow::Result;
use wasmtime::component::{Linker, ResourceTable};
use wasmtime_wasi::WasiView;
use wasmtime_wasi_http::p2::HeaderError;

use super::InstanceState;

/// The current WASI 0.2 bindings every rc function delegates to.
pub(crate) mod latest {
    pub use wasmtime_wasi::p2::bindings::*;
}
pub(crate) use wasmtime_wasi_http::p2::bindings::http as latest_http;

/// Resource type of rc-2023-10-18 UDP sockets, whose API was redesigned
/// before 0.2.0; no value is ever created (see `create-udp-socket`).
pub struct UnsupportedUdpSocket;

/// Adds both rc versions' interfaces. Their names carry prerelease versions,
/// which the linker never matches against the 0.2.x names it also serves.
pub fn add_to_linker(linker: &mut Linker<InstanceState>) -> Result<()> {
    v2023_10_18::add_to_linker(linker)?;
    v2023_11_10::add_to_linker(linker)?;
    Ok(())
}

fn table(state: &mut InstanceState) -> &mut ResourceTable {
    state.ctx().table
}

/// For rc functions that had no way to report an invalid header.
fn header_trap(e: HeaderError) -> wasmtime::Error {
    match e.downcast() {
        Ok(code) => wasmtime::format_err!("invalid HTTP header: {code:?}"),
        Err(trap) => trap,
    }
}

#[cfg(test)]
mod tests {
    use wasmtime::component::Component;

    use crate::host::{base_linker, instantiate_pre};

    /// A component importing `get-random-u64` from each named instance.
    fn importing(engine: &wasmtime::Engine, names: &[&str]) -> Component {
        let imports: String = names
            .iter()
            .map(|n| {
                format!(
                    r#"(import "{n}" (instance (export "get-random-u64" (func (result u64)))))"#
                )
            })
            .collect();
        Component::new(engine, format!("(component {imports})")).expect("test component")
    }

    fn engine() -> wasmtime::Engine {
        let mut config = wasmtime::Config::new();
        config.wasm_component_model(true);
        wasmtime::Engine::new(&config).expect("engine")
    }

    #[test]
    fn rc_and_newer_0_2_names_link_side_by_side() {
        let engine = engine();
        let linker = base_linker(&engine).expect("base linker");
        let component = importing(
            &engine,
            &[
                "wasi:random/random@0.2.0-rc-2023-10-18",
                "wasi:random/random@0.2.0-rc-2023-11-10",
                "wasi:random/random@0.2.0",
                // Newer than wasmtime ships: still matched by semver.
                "wasi:random/random@0.2.12",
            ],
        );
        instantiate_pre(&linker, &component).expect("links");
    }

    #[test]
    fn other_prereleases_of_served_packages_are_not_linked() {
        let engine = engine();
        let linker = base_linker(&engine).expect("base linker");
        let component = importing(&engine, &["wasi:random/random@0.2.0-rc-2023-12-05"]);
        let Err(err) = instantiate_pre(&linker, &component) else {
            panic!("an unknown prerelease linked");
        };
        assert!(
            format!("{err:#}").contains("0.2.0-rc-2023-12-05"),
            "{err:#}"
        );
    }
}
