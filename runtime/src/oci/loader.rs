//! An image manifest plus its cached blobs → a [`LockedApp`] whose sources are `file://` URLs
//! into the blob cache, so the triggers run it exactly like an app loaded from spin.toml.
//!
//! Three kinds of image are understood: Spin artifacts (locked-app layer), single-component
//! `application/wasm` artifacts (`wkg oci push`), and ordinary images with `spin.toml` at the
//! root of their filesystem.

use std::path::{Component, Path, PathBuf};

use oci_client::manifest::OciImageManifest;
use serde_json::json;

use super::cache::{digest_of, BlobCache};
use super::{
    OciError, ARCHIVE_MEDIA_TYPE, SPIN_APPLICATION_MEDIA_TYPE, WASM_LAYER_MEDIA_TYPE,
    WKG_WASM_MEDIA_TYPE,
};
use crate::app::locked::{
    ContentPath, ContentRef, LockedComponent, LockedComponentSource, LockedTrigger,
};
use crate::app::{load_manifest_file, LoadOptions, LockedApp};

/// Builds the app. `files_root` receives each component's static files (copied, so a guest
/// cannot alter the cache); `name` (the repository) names a single-component artifact.
pub fn load_app(
    manifest: &OciImageManifest,
    cache: &BlobCache,
    files_root: &Path,
    name: &str,
) -> Result<LockedApp, OciError> {
    load_app_with(manifest, cache, files_root, name, &Precompiled::new())
}

/// Component sources by digest that are machine code from the shim's own compiler (see
/// [`crate::app::locked::LockedComponentSource::precompiled`]), kept outside the blob cache
/// because their bytes no longer match the digest.
pub(super) type Precompiled = std::collections::HashMap<String, PathBuf>;

pub(super) fn load_app_with(
    manifest: &OciImageManifest,
    cache: &BlobCache,
    files_root: &Path,
    name: &str,
    precompiled: &Precompiled,
) -> Result<LockedApp, OciError> {
    let locked_layer =
        manifest
            .layers
            .iter()
            .rev()
            .find(|l| l.media_type == SPIN_APPLICATION_MEDIA_TYPE)
            .or((manifest.config.media_type == SPIN_APPLICATION_MEDIA_TYPE)
                .then_some(&manifest.config));
    if let Some(layer) = locked_layer {
        for archive in manifest
            .layers
            .iter()
            .filter(|l| l.media_type == ARCHIVE_MEDIA_TYPE)
        {
            for (_, bytes) in super::archive::unpack_files(&cache.read(&archive.digest)?)? {
                cache.put(&digest_of(&bytes), &bytes)?;
            }
        }
        let app = LockedApp::from_json(&cache.read(&layer.digest)?)?;
        return resolve_locked(app, cache, files_root, precompiled);
    }
    let wasm: Vec<_> = manifest
        .layers
        .iter()
        .filter(|l| l.media_type == WKG_WASM_MEDIA_TYPE || l.media_type == WASM_LAYER_MEDIA_TYPE)
        .collect();
    if let [only] = wasm.as_slice() {
        return single_component(&only.digest, cache, name, precompiled);
    }
    let fs_layers: Vec<_> = manifest
        .layers
        .iter()
        .filter(|l| l.media_type.contains(".tar") || l.media_type.contains("rootfs.diff"))
        .collect();
    if !fs_layers.is_empty() {
        let rootfs = files_root.join("rootfs");
        let _ = std::fs::remove_dir_all(&rootfs);
        for l in fs_layers {
            super::archive::apply_layer(&cache.read(&l.digest)?, &rootfs)?;
        }
        let spin_toml = rootfs.join("spin.toml");
        if !spin_toml.is_file() {
            return Err(OciError::Invalid(
                "the image is an ordinary container image without /spin.toml; push the app with `spinkube push` (or `spin registry push`) or add spin.toml at the image root".into(),
            ));
        }
        return Ok(load_manifest_file(
            &spin_toml,
            &LoadOptions {
                files_root: files_root.join("files"),
            },
        )?);
    }
    let types: Vec<_> = manifest
        .layers
        .iter()
        .map(|l| l.media_type.as_str())
        .collect();
    Err(OciError::Invalid(format!(
        "not a Spin app: no `{SPIN_APPLICATION_MEDIA_TYPE}` layer, no single Wasm layer and no filesystem layers (layers: {}); push it with `spinkube push`",
        types.join(", ")
    )))
}

fn file_url(path: &Path) -> Result<String, OciError> {
    url::Url::from_file_path(path)
        .map(|u| u.to_string())
        .map_err(|_| OciError::Cache(format!("bad cache path {}", path.display())))
}

fn cached_source(
    content: &ContentRef,
    cache: &BlobCache,
    what: &str,
) -> Result<ContentRef, OciError> {
    if content.inline.is_some() {
        return Ok(content.clone());
    }
    let digest = content
        .digest
        .as_deref()
        .ok_or_else(|| OciError::Invalid(format!("{what} has neither `digest` nor `inline`")))?;
    let path = cache.get(digest).ok_or_else(|| {
        OciError::Invalid(format!(
            "{what}: blob {digest} is not in the image (or was not pulled); the artifact is incomplete, push it again"
        ))
    })?;
    Ok(ContentRef {
        source: Some(file_url(&path)?),
        inline: None,
        digest: Some(digest.to_string()),
    })
}

/// A component's code: its precompiled file when the shim has one, else the cached blob.
fn component_source(
    source: &mut LockedComponentSource,
    cache: &BlobCache,
    what: &str,
    precompiled: &Precompiled,
) -> Result<(), OciError> {
    let compiled = source
        .content
        .digest
        .as_ref()
        .and_then(|d| precompiled.get(d));
    match compiled {
        Some(path) => {
            source.content.source = Some(file_url(path)?);
            source.content.inline = None;
            source.precompiled = true;
        }
        None => source.content = cached_source(&source.content, cache, what)?,
    }
    Ok(())
}

fn resolve_locked(
    mut app: LockedApp,
    cache: &BlobCache,
    files_root: &Path,
    precompiled: &Precompiled,
) -> Result<LockedApp, OciError> {
    for c in &mut app.components {
        let what = format!("component `{}` source", c.id);
        component_source(&mut c.source, cache, &what, precompiled)?;
        if c.files.is_empty() {
            continue;
        }
        let dir = files_root.join(&c.id);
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir)
            .map_err(|e| OciError::Cache(format!("creating {}: {e}", dir.display())))?;
        for f in &c.files {
            let dest = dir.join(safe_relative(&f.path)?);
            let what = format!("component `{}` file {}", c.id, f.path);
            let bytes = match &f.content.inline {
                Some(b) => b.clone(),
                None => {
                    let src = cached_source(&f.content, cache, &what)?;
                    std::fs::read(crate::app::content::local_path(&src)?)
                        .map_err(|e| OciError::Cache(format!("{what}: {e}")))?
                }
            };
            if let Some(parent) = dest.parent() {
                std::fs::create_dir_all(parent)
                    .map_err(|e| OciError::Cache(format!("{}: {e}", parent.display())))?;
            }
            std::fs::write(&dest, bytes)
                .map_err(|e| OciError::Cache(format!("writing {}: {e}", dest.display())))?;
        }
        let url = url::Url::from_directory_path(&dir)
            .map_err(|_| OciError::Cache(format!("bad files directory {}", dir.display())))?;
        c.files = vec![ContentPath {
            content: ContentRef {
                source: Some(url.to_string()),
                ..Default::default()
            },
            path: "/".into(),
        }];
    }
    Ok(app)
}

/// A guest path from the registry, refused if it could escape the files directory.
fn safe_relative(path: &str) -> Result<PathBuf, OciError> {
    let rel = PathBuf::from(path.trim_start_matches('/'));
    if rel.as_os_str().is_empty() || rel.components().any(|c| !matches!(c, Component::Normal(_))) {
        return Err(OciError::Invalid(format!(
            "file path {path:?} in the locked app is not a plain relative path"
        )));
    }
    Ok(rel)
}

/// A bare component becomes an app serving every route, like `spin up -f app.wasm`.
fn single_component(
    digest: &str,
    cache: &BlobCache,
    name: &str,
    precompiled: &Precompiled,
) -> Result<LockedApp, OciError> {
    let id = kebab(name.rsplit('/').next().unwrap_or(name));
    let mut source = LockedComponentSource {
        content_type: "application/wasm".into(),
        content: ContentRef {
            digest: Some(digest.into()),
            ..Default::default()
        },
        precompiled: false,
    };
    component_source(&mut source, cache, "the Wasm layer", precompiled)?;
    let mut metadata = serde_json::Map::new();
    metadata.insert("name".into(), json!(id));
    metadata.insert("trigger".into(), json!({"type": "http"}));
    Ok(LockedApp {
        metadata,
        triggers: vec![LockedTrigger {
            id: format!("trigger-{id}"),
            trigger_type: "http".into(),
            trigger_config: json!({"route": "/...", "component": id}),
        }],
        components: vec![LockedComponent {
            id: id.clone(),
            metadata: Default::default(),
            source,
            env: Default::default(),
            files: Vec::new(),
            config: Default::default(),
            dependencies: Default::default(),
        }],
        ..Default::default()
    })
}

fn kebab(s: &str) -> String {
    let mut out = String::new();
    for c in s.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    let out = out.trim_end_matches('-').to_string();
    match out.chars().next() {
        Some(c) if c.is_ascii_lowercase() => out,
        _ => format!("app-{out}").trim_end_matches('-').to_string(),
    }
}

#[cfg(test)]
mod tests;
