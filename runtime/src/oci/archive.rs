//! tar+gzip helpers: archive layers of static files and the layers of ordinary images.

use std::io::Read;
use std::path::{Component, Path};

use super::OciError;

/// A deterministic tar+gzip of `files` (relative path, absolute source), in the given order, so
/// pushing the same app twice yields the same digest.
pub fn pack(files: &[(String, std::path::PathBuf)]) -> Result<Vec<u8>, OciError> {
    let io = |e: std::io::Error| OciError::Invalid(format!("building archive layer: {e}"));
    let gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
    let mut tar = tar::Builder::new(gz);
    for (rel, src) in files {
        let data = std::fs::read(src).map_err(io)?;
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_entry_type(tar::EntryType::Regular);
        tar.append_data(&mut header, rel, data.as_slice())
            .map_err(io)?;
    }
    tar.into_inner().map_err(io)?.finish().map_err(io)
}

/// Every regular file in a tar+gzip, as (relative path, bytes).
pub fn unpack_files(gz: &[u8]) -> Result<Vec<(String, Vec<u8>)>, OciError> {
    let bad = |e: std::io::Error| OciError::Invalid(format!("bad archive layer: {e}"));
    let mut out = Vec::new();
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(gz));
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        if !entry.header().entry_type().is_file() {
            continue;
        }
        let path = entry.path().map_err(bad)?.to_string_lossy().into_owned();
        let mut data = Vec::new();
        entry.read_to_end(&mut data).map_err(bad)?;
        out.push((path, data));
    }
    Ok(out)
}

/// Applies one image layer (tar, optionally gzipped) onto `root`, honouring `.wh.` whiteouts.
pub fn apply_layer(layer: &[u8], root: &Path) -> Result<(), OciError> {
    let bad = |e: std::io::Error| OciError::Invalid(format!("bad image layer: {e}"));
    let reader: Box<dyn Read + '_> = if layer.starts_with(&[0x1f, 0x8b]) {
        Box::new(flate2::read::GzDecoder::new(layer))
    } else {
        Box::new(layer)
    };
    // `unpack_in` resolves paths against the canonical root, which must exist.
    std::fs::create_dir_all(root).map_err(bad)?;
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(false);
    for entry in archive.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let rel = entry.path().map_err(bad)?.into_owned();
        if rel
            .components()
            .any(|c| matches!(c, Component::ParentDir | Component::Prefix(_)))
        {
            continue;
        }
        let name = rel.file_name().and_then(|n| n.to_str()).unwrap_or("");
        if let Some(hidden) = name.strip_prefix(".wh.") {
            let parent = root.join(rel.parent().unwrap_or(Path::new("")));
            if hidden == ".wh..opq" {
                let _ = std::fs::remove_dir_all(&parent);
                std::fs::create_dir_all(&parent).map_err(bad)?;
            } else {
                let target = parent.join(hidden);
                let _ = std::fs::remove_dir_all(&target);
                let _ = std::fs::remove_file(&target);
            }
            continue;
        }
        // `unpack_in` refuses paths escaping `root` (absolute or `..` links).
        entry.unpack_in(root).map_err(bad)?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pack_is_deterministic_and_round_trips() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("a"), b"alpha").unwrap();
        let files = vec![("static/a.txt".to_string(), dir.path().join("a"))];
        let one = pack(&files).unwrap();
        assert_eq!(one, pack(&files).unwrap());
        assert_eq!(
            unpack_files(&one).unwrap(),
            vec![("static/a.txt".to_string(), b"alpha".to_vec())]
        );
        let root = dir.path().join("root");
        apply_layer(&one, &root).unwrap();
        assert_eq!(std::fs::read(root.join("static/a.txt")).unwrap(), b"alpha");
    }
}
