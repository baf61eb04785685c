//! Reading content referenced by a locked app (`file://` URLs or inline bytes).

use std::path::PathBuf;

use super::locked::ContentRef;
use super::AppError;

/// Local path of `file://` content.
pub fn local_path(content: &ContentRef) -> Result<PathBuf, AppError> {
    let source = content
        .source
        .as_deref()
        .ok_or_else(|| AppError::Invalid("content has neither `source` nor `inline`".into()))?;
    let url = url::Url::parse(source)
        .map_err(|e| AppError::Invalid(format!("bad content source {source:?}: {e}")))?;
    if url.scheme() != "file" {
        return Err(AppError::Invalid(format!(
            "content source {source:?} is not a local file; pull the app first"
        )));
    }
    url.to_file_path()
        .map_err(|_| AppError::Invalid(format!("bad file URL {source:?}")))
}

/// The content's bytes: inline bytes if present, else the `file://` file read from disk.
pub fn read(content: &ContentRef) -> Result<Vec<u8>, AppError> {
    if let Some(bytes) = &content.inline {
        return Ok(bytes.clone());
    }
    let path = local_path(content)?;
    std::fs::read(&path)
        .map_err(|e| AppError::Invalid(format!("cannot read {}: {e}", path.display())))
}
