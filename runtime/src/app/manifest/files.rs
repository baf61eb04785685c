//! Component `files` mounts: copied into a per-component directory that the
//! guest sees at `/` (what `spin up` does by default).

use std::path::{Path, PathBuf};

use super::v2::FilesDecl;
use crate::app::locked::{ContentPath, ContentRef};

pub fn resolve(
    app_dir: &Path,
    dest_root: &Path,
    mounts: &[FilesDecl],
    exclude: &[String],
) -> Result<Vec<ContentPath>, String> {
    if mounts.is_empty() {
        return Ok(Vec::new());
    }
    let exclude = exclude
        .iter()
        .map(|p| glob::Pattern::new(p).map_err(|e| format!("bad exclude_files pattern {p:?}: {e}")))
        .collect::<Result<Vec<_>, _>>()?;
    if dest_root.exists() {
        std::fs::remove_dir_all(dest_root).map_err(|e| format!("{}: {e}", dest_root.display()))?;
    }
    std::fs::create_dir_all(dest_root).map_err(|e| format!("{}: {e}", dest_root.display()))?;
    for mount in mounts {
        match mount {
            FilesDecl::Pattern(pattern) => {
                let path = app_dir.join(pattern);
                if path.exists() {
                    copy_tree(app_dir, &path, &dest_root.join(pattern), &exclude)?;
                } else if pattern.contains(['*', '?', '[']) {
                    let full = app_dir.join(pattern);
                    let matches = glob::glob(&full.to_string_lossy())
                        .map_err(|e| format!("bad files pattern {pattern:?}: {e}"))?;
                    for entry in matches.flatten() {
                        if entry.is_file() {
                            let rel = entry.strip_prefix(app_dir).unwrap_or(&entry);
                            copy_tree(app_dir, &entry, &dest_root.join(rel), &exclude)?;
                        }
                    }
                } else {
                    return Err(format!(
                        "{pattern:?} does not exist and is not a glob pattern; fix the `files` entry"
                    ));
                }
            }
            FilesDecl::Placement {
                source,
                destination,
            } => {
                let src = app_dir.join(source);
                if !src.exists() {
                    return Err(format!("files source {source:?} does not exist"));
                }
                copy_tree(
                    app_dir,
                    &src,
                    &dest_root.join(destination.trim_start_matches('/')),
                    &exclude,
                )?;
            }
        }
    }
    let url = url::Url::from_directory_path(dest_root)
        .map_err(|_| format!("bad files directory {}", dest_root.display()))?;
    Ok(vec![ContentPath {
        content: ContentRef {
            source: Some(url.to_string()),
            ..Default::default()
        },
        path: "/".into(),
    }])
}

fn copy_tree(
    app_dir: &Path,
    src: &Path,
    dest: &Path,
    exclude: &[glob::Pattern],
) -> Result<(), String> {
    let rel: PathBuf = src.strip_prefix(app_dir).unwrap_or(src).to_path_buf();
    if exclude.iter().any(|p| p.matches_path(&rel)) {
        return Ok(());
    }
    let io = |e: std::io::Error| format!("copying {}: {e}", src.display());
    if src.is_dir() {
        std::fs::create_dir_all(dest).map_err(io)?;
        for entry in std::fs::read_dir(src).map_err(io)? {
            let entry = entry.map_err(io)?;
            copy_tree(
                app_dir,
                &entry.path(),
                &dest.join(entry.file_name()),
                exclude,
            )?;
        }
    } else {
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(io)?;
        }
        std::fs::copy(src, dest).map_err(io)?;
    }
    Ok(())
}
