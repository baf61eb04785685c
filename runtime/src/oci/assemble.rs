//! A loaded app → the layers and locked-app JSON of a Spin OCI artifact, as `spin registry push`
//! lays them out: one Wasm layer per component source, one data layer per static file (or one
//! archive per files mount past [`MAX_LAYER_COUNT`]), content ≤ [`INLINE_MAX_SIZE`] bytes inlined,
//! identical layers once, and the locked app (sources replaced by digests) as the last layer.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::cache::digest_of;
use super::{
    OciError, ARCHIVE_LAYERS_ENV, ARCHIVE_MEDIA_TYPE, DATA_MEDIA_TYPE, INLINE_MAX_SIZE,
    MAX_LAYER_COUNT, SPIN_APPLICATION_MEDIA_TYPE, WASM_LAYER_MEDIA_TYPE,
};
use crate::app::locked::{ContentPath, ContentRef};
use crate::app::{content, LockedApp};

/// One layer of an artifact to push, with its digest computed up front.
#[derive(Debug, Clone)]
pub struct Layer {
    /// Layer media type, e.g. [`WASM_LAYER_MEDIA_TYPE`].
    pub media_type: String,
    /// `sha256:<hex>` of `data`.
    pub digest: String,
    /// The layer bytes.
    pub data: Bytes,
}

impl Layer {
    /// A layer of `data`, digesting it.
    pub fn new(media_type: &str, data: Vec<u8>) -> Self {
        Layer {
            media_type: media_type.into(),
            digest: digest_of(&data),
            data: data.into(),
        }
    }
}

/// What gets pushed: layers in order (locked app last) and the manifest annotations.
#[derive(Debug)]
pub struct Artifact {
    /// Layers in push order; the locked-app JSON layer comes last.
    pub layers: Vec<Layer>,
    /// The locked app as pushed: sources replaced by layer digests or inline bytes.
    pub locked: LockedApp,
    /// OCI manifest annotations (e.g. `org.opencontainers.image.title`).
    pub annotations: BTreeMap<String, String>,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum Mode {
    FileLayers,
    Archives,
}

/// Builds the artifact for an app loaded from spin.toml (sources are `file://` URLs).
pub fn assemble(app: &LockedApp) -> Result<Artifact, OciError> {
    let mut artifact = assemble_with(app, Mode::FileLayers)?;
    if std::env::var_os(ARCHIVE_LAYERS_ENV).is_some() || artifact.layers.len() > MAX_LAYER_COUNT {
        artifact = assemble_with(app, Mode::Archives)?;
    }
    Ok(artifact)
}

fn assemble_with(app: &LockedApp, mode: Mode) -> Result<Artifact, OciError> {
    let mut locked = app.clone();
    locked.metadata.remove("origin");
    let mut layers = Vec::new();
    for c in &mut locked.components {
        let bytes = content::read(&c.source.content)?;
        let layer = Layer::new(WASM_LAYER_MEDIA_TYPE, bytes);
        c.source.content = content_ref(&layer.data, &layer.digest);
        layers.push(layer);
        let mut files = Vec::new();
        for mount in &c.files {
            let found = walk_mount(mount)?;
            for (rel, path) in &found {
                let data = std::fs::read(path).map_err(|e| {
                    OciError::Invalid(format!("cannot read file {}: {e}", path.display()))
                })?;
                let layer = Layer::new(DATA_MEDIA_TYPE, data);
                files.push(ContentPath {
                    content: content_ref(&layer.data, &layer.digest),
                    path: rel.clone(),
                });
                // Tiny files travel inline: some registries reject very small blobs.
                if mode == Mode::FileLayers && layer.data.len() > INLINE_MAX_SIZE {
                    layers.push(layer);
                }
            }
            if mode == Mode::Archives && !found.is_empty() {
                layers.push(Layer::new(
                    ARCHIVE_MEDIA_TYPE,
                    super::archive::pack(&found)?,
                ));
            }
        }
        c.files = files;
    }
    let mut seen = std::collections::HashSet::new();
    layers.retain(|l| seen.insert((l.media_type.clone(), l.digest.clone())));
    locked.spin_lock_version =
        u32::from(!(locked.must_understand.is_empty() && locked.host_requirements.is_empty()));
    let json = serde_json::to_vec(&locked)
        .map_err(|e| OciError::Invalid(format!("serialising the locked app: {e}")))?;
    layers.push(Layer::new(SPIN_APPLICATION_MEDIA_TYPE, json));
    let annotations = annotations(&locked);
    Ok(Artifact {
        layers,
        locked,
        annotations,
    })
}

fn content_ref(data: &[u8], digest: &str) -> ContentRef {
    ContentRef {
        source: None,
        inline: (data.len() <= INLINE_MAX_SIZE).then(|| data.to_vec()),
        digest: Some(digest.to_string()),
    }
}

/// The files under one mount as (path relative to the guest root, host path), sorted.
fn walk_mount(mount: &ContentPath) -> Result<Vec<(String, PathBuf)>, OciError> {
    let src = content::local_path(&mount.content)?;
    let base = mount.path.trim_matches('/');
    let mut out = Vec::new();
    if src.is_file() {
        out.push((base.to_string(), src));
        return Ok(out);
    }
    walk(&src, &src, &mut out)?;
    for (rel, _) in &mut out {
        if !base.is_empty() {
            *rel = format!("{base}/{rel}");
        }
    }
    out.sort();
    Ok(out)
}

fn walk(root: &Path, dir: &Path, out: &mut Vec<(String, PathBuf)>) -> Result<(), OciError> {
    let io = |e: std::io::Error| OciError::Invalid(format!("reading {}: {e}", dir.display()));
    for entry in std::fs::read_dir(dir).map_err(io)? {
        let path = entry.map_err(io)?.path();
        if path.is_dir() {
            walk(root, &path, out)?;
        } else if path.is_file() {
            let rel = path.strip_prefix(root).unwrap_or(&path);
            // Registry paths are portable: forward slashes.
            let rel = rel
                .components()
                .map(|c| c.as_os_str().to_string_lossy())
                .collect::<Vec<_>>()
                .join("/");
            out.push((rel, path));
        }
    }
    Ok(())
}

/// `org.opencontainers.image.*` annotations from the app metadata, as Spin infers them.
fn annotations(app: &LockedApp) -> BTreeMap<String, String> {
    let meta = |k: &str| {
        app.metadata
            .get(k)
            .and_then(|v| v.as_str())
            .map(String::from)
    };
    let mut out = BTreeMap::new();
    let authors: Vec<String> = app
        .metadata
        .get("authors")
        .and_then(|v| v.as_array())
        .map(|a| {
            a.iter()
                .filter_map(|s| s.as_str().map(String::from))
                .collect()
        })
        .unwrap_or_default();
    if !authors.is_empty() {
        out.insert(
            "org.opencontainers.image.authors".into(),
            authors.join(", "),
        );
    }
    for (key, field) in [
        ("title", "name"),
        ("description", "description"),
        ("version", "version"),
    ] {
        if let Some(v) = meta(field) {
            out.insert(format!("org.opencontainers.image.{key}"), v);
        }
    }
    out.insert(
        "org.opencontainers.image.created".into(),
        chrono::Utc::now().to_rfc3339(),
    );
    out
}
