//! What runwasi asks of a shim: its name, the layer types to fetch and its compiler.

use containerd_shim_wasm::shim::{version, Shim, Version};
use spinkube_runtime::oci;

use crate::compile::SpinCompiler;
use crate::container::SpinSandbox;

pub struct SpinShim;

/// Layers runwasi reads from the content store and hands over, in image order.
pub const LAYER_TYPES: &[&str] = &[
    oci::SPIN_APPLICATION_MEDIA_TYPE,
    oci::WASM_LAYER_MEDIA_TYPE,
    oci::DATA_MEDIA_TYPE,
    oci::ARCHIVE_MEDIA_TYPE,
    oci::WKG_WASM_MEDIA_TYPE,
];

impl Shim for SpinShim {
    type Sandbox = SpinSandbox;

    fn name() -> &'static str {
        // Precompiled layers are labelled runwasi.io/precompiled/spin/<engine key>, as
        // SpinKube's shim names them.
        "spin"
    }

    fn version() -> Version {
        version!()
    }

    fn supported_layers_types() -> &'static [&'static str] {
        LAYER_TYPES
    }

    #[allow(refining_impl_trait)]
    async fn compiler() -> Option<SpinCompiler> {
        match SpinCompiler::new() {
            Ok(c) => Some(c),
            Err(e) => {
                log::error!("no precompilation: {e:#}");
                None
            }
        }
    }
}
