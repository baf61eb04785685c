//! An app from layers already on the machine, as containerd hands them to the shim: (media type,
//! digest, bytes) triples, the same artifact format as a registry pull, but with no registry and
//! with wasm layers possibly replaced by the shim's own precompiled code.

use std::path::Path;

use oci_client::manifest::{OciDescriptor, OciImageManifest};

use super::cache::{sha256_hex, BlobCache};
use super::loader::{load_app_with, Precompiled};
use super::{OciError, WASM_LAYER_MEDIA_TYPE, WKG_WASM_MEDIA_TYPE};
use crate::app::LockedApp;

/// One image layer as the content store holds it.
pub struct Layer {
    /// Layer media type, as in the image manifest.
    pub media_type: String,
    /// The digest in the image manifest (of the original bytes).
    pub digest: String,
    /// The layer content (original or precompiled, see `precompiled`).
    pub bytes: Vec<u8>,
    /// `bytes` is machine code that this runtime's ahead-of-time compiler produced from the
    /// original layer (runwasi tracks this in the content store); meaningful for wasm layers only.
    pub precompiled: bool,
}

/// Builds the app from `layers` in image order. `files_root` receives the blobs, precompiled
/// code and each component's files; `name` names a single-component artifact.
pub fn load_layers(
    layers: Vec<Layer>,
    files_root: &Path,
    name: &str,
) -> Result<LockedApp, OciError> {
    let cache = BlobCache::new(files_root);
    let precompiled_dir = files_root.join("precompiled");
    let mut precompiled = Precompiled::new();
    let mut descriptors = Vec::with_capacity(layers.len());
    for layer in layers {
        let is_wasm =
            layer.media_type == WASM_LAYER_MEDIA_TYPE || layer.media_type == WKG_WASM_MEDIA_TYPE;
        if layer.precompiled && is_wasm {
            std::fs::create_dir_all(&precompiled_dir).map_err(|e| {
                OciError::Cache(format!("creating {}: {e}", precompiled_dir.display()))
            })?;
            let path = precompiled_dir.join(format!("{}.cwasm", sha256_hex(&layer.digest)?));
            std::fs::write(&path, &layer.bytes)
                .map_err(|e| OciError::Cache(format!("writing {}: {e}", path.display())))?;
            precompiled.insert(layer.digest.clone(), path);
        } else {
            cache.put(&layer.digest, &layer.bytes)?;
        }
        descriptors.push(OciDescriptor {
            media_type: layer.media_type,
            digest: layer.digest,
            size: layer.bytes.len() as i64,
            ..Default::default()
        });
    }
    let manifest = OciImageManifest {
        layers: descriptors,
        ..Default::default()
    };
    load_app_with(
        &manifest,
        &cache,
        &files_root.join("files"),
        name,
        &precompiled,
    )
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::oci::cache::digest_of;
    use crate::oci::{DATA_MEDIA_TYPE, SPIN_APPLICATION_MEDIA_TYPE};

    fn layer(media_type: &str, bytes: &[u8], precompiled: bool) -> Layer {
        Layer {
            media_type: media_type.into(),
            digest: digest_of(bytes),
            bytes: bytes.to_vec(),
            precompiled,
        }
    }

    fn locked_app(wasm: &[u8], file: &[u8]) -> Vec<u8> {
        serde_json::json!({
            "spin_lock_version": 0,
            "triggers": [{"id": "t", "trigger_type": "http", "trigger_config": {"route": "/...", "component": "hello"}}],
            "components": [{
                "id": "hello",
                "source": {"content_type": "application/wasm", "digest": digest_of(wasm)},
                "files": [{"digest": digest_of(file), "path": "static/a.txt"}]
            }]
        })
        .to_string()
        .into_bytes()
    }

    #[test]
    fn spin_artifact_layers_become_an_app_with_local_files() {
        let dir = tempfile::tempdir().unwrap();
        let (wasm, file) = (b"\0asm\x0d\0\x01\0".as_slice(), b"static text".as_slice());
        let app = load_layers(
            vec![
                layer(WASM_LAYER_MEDIA_TYPE, wasm, false),
                layer(DATA_MEDIA_TYPE, file, false),
                layer(SPIN_APPLICATION_MEDIA_TYPE, &locked_app(wasm, file), false),
            ],
            dir.path(),
            "registry/hello",
        )
        .unwrap();
        let c = &app.components[0];
        assert!(!c.source.precompiled);
        assert_eq!(crate::app::content::read(&c.source.content).unwrap(), wasm);
        let files = crate::app::content::local_path(&c.files[0].content).unwrap();
        assert_eq!(std::fs::read(files.join("static/a.txt")).unwrap(), file);
    }

    #[test]
    fn precompiled_wasm_layers_are_marked_and_kept_apart() {
        let dir = tempfile::tempdir().unwrap();
        let wasm = b"\0asm\x0d\0\x01\0".as_slice();
        let mut compiled = layer(WASM_LAYER_MEDIA_TYPE, wasm, true);
        compiled.bytes = b"machine code".to_vec();
        let app = load_layers(
            vec![
                compiled,
                layer(DATA_MEDIA_TYPE, b"x", true),
                layer(SPIN_APPLICATION_MEDIA_TYPE, &locked_app(wasm, b"x"), true),
            ],
            dir.path(),
            "hello",
        )
        .unwrap();
        let c = &app.components[0];
        assert!(c.source.precompiled);
        assert_eq!(
            crate::app::content::read(&c.source.content).unwrap(),
            b"machine code"
        );
    }

    #[test]
    fn a_layer_that_does_not_match_its_digest_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut bad = layer(DATA_MEDIA_TYPE, b"one", false);
        bad.bytes = b"two".to_vec();
        let err = load_layers(vec![bad], dir.path(), "x").unwrap_err();
        assert!(err.to_string().contains("digest"), "{err}");
    }

    #[test]
    fn a_single_wasm_layer_is_an_app_on_every_route() {
        let dir = tempfile::tempdir().unwrap();
        let wasm = b"\0asm\x0d\0\x01\0".as_slice();
        let app = load_layers(
            vec![layer(WKG_WASM_MEDIA_TYPE, wasm, false)],
            dir.path(),
            "my-app",
        )
        .unwrap();
        assert_eq!(app.components[0].id, "my-app");
        assert_eq!(app.triggers[0].trigger_config["route"], "/...");
    }
}
