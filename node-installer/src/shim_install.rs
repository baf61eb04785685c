//! Puts the shim binary onto the node: checked against the checksum the image was built with,
//! written beside its final name and renamed over it, so running shims (which keep the old file
//! open) go on and new pods start the new build.

use std::io::Read;
use std::path::{Path, PathBuf};

use anyhow::{bail, Context, Result};
use sha2::{Digest, Sha256};

use crate::host::Host;

pub const SHIM_NAME: &str = "containerd-shim-spin-v2";

#[derive(Debug, PartialEq, Eq)]
pub enum ShimChange {
    /// The node has this build already.
    Unchanged,
    /// Written (first install or a new build).
    Written,
}

/// The shim as the image carries it, with the checksum of the build.
pub struct ShimSource {
    pub path: PathBuf,
    pub sha256: String,
}

impl ShimSource {
    /// Reads `PATH.sha256` (what the image build wrote) and checks the binary against it.
    pub fn checked(path: &Path) -> Result<ShimSource> {
        let sum_file = path.with_extension("sha256");
        let expected = std::fs::read_to_string(&sum_file)
            .with_context(|| format!("cannot read the shim's checksum {}", sum_file.display()))?;
        let expected = expected.split_whitespace().next().unwrap_or("").to_string();
        let actual = sha256_of(path)?;
        if actual != expected {
            bail!(
                "{} does not match its checksum ({actual} instead of {expected}): the image is \
                 damaged; pull it again",
                path.display()
            );
        }
        Ok(ShimSource {
            path: path.to_path_buf(),
            sha256: actual,
        })
    }
}

/// Installs `source` as `dir/containerd-shim-spin-v2` on the host.
pub fn install(host: &Host, source: &ShimSource, dir: &Path) -> Result<ShimChange> {
    let dest = host.path(&dir.join(SHIM_NAME));
    if sha256_of(&dest).ok().as_deref() == Some(source.sha256.as_str()) {
        return Ok(ShimChange::Unchanged);
    }
    let fail = |what: &str, e: std::io::Error| {
        anyhow::anyhow!(
            "cannot {what} the shim at {} on the node: {e} (is the host filesystem read-only? \
             nodeInstaller.shimDir names the directory)",
            dir.join(SHIM_NAME).display()
        )
    };
    std::fs::create_dir_all(host.path(dir)).map_err(|e| fail("create the directory for", e))?;
    let tmp = host.path(&dir.join(format!(".{SHIM_NAME}.spinkube-tmp")));
    std::fs::copy(&source.path, &tmp).map_err(|e| fail("copy", e))?;
    {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))
            .map_err(|e| fail("make executable", e))?;
    }
    std::fs::File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| fail("sync", e))?;
    let written = sha256_of(&tmp)?;
    if written != source.sha256 {
        let _ = std::fs::remove_file(&tmp);
        bail!(
            "the shim copied to {} has checksum {written}, not {}: the node's disk lost it",
            dir.display(),
            source.sha256
        );
    }
    std::fs::rename(&tmp, &dest).map_err(|e| fail("rename", e))?;
    Ok(ShimChange::Written)
}

pub fn sha256_of(path: &Path) -> Result<String> {
    let mut file =
        std::fs::File::open(path).with_context(|| format!("cannot open {}", path.display()))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn source_in(dir: &Path, bytes: &[u8]) -> ShimSource {
        let path = dir.join(SHIM_NAME);
        std::fs::write(&path, bytes).unwrap();
        let sum = hex::encode(Sha256::digest(bytes));
        std::fs::write(
            path.with_extension("sha256"),
            format!("{sum}  {SHIM_NAME}\n"),
        )
        .unwrap();
        ShimSource::checked(&path).unwrap()
    }

    #[test]
    fn a_new_build_replaces_the_old_one_and_the_same_build_is_left_alone() {
        let image = tempfile::tempdir().unwrap();
        let root = tempfile::tempdir().unwrap();
        let host = Host::new(root.path());
        let dir = Path::new("/opt/spinkube/bin");
        let v1 = source_in(image.path(), b"build 1");
        assert_eq!(install(&host, &v1, dir).unwrap(), ShimChange::Written);
        assert_eq!(install(&host, &v1, dir).unwrap(), ShimChange::Unchanged);
        let on_host = root.path().join("opt/spinkube/bin").join(SHIM_NAME);
        // A running shim keeps the file it started from.
        let running = std::fs::File::open(&on_host).unwrap();
        let v2 = source_in(image.path(), b"build 2");
        assert_eq!(install(&host, &v2, dir).unwrap(), ShimChange::Written);
        assert_eq!(std::fs::read(&on_host).unwrap(), b"build 2");
        let mut old = String::new();
        std::io::Read::read_to_string(&mut &running, &mut old).unwrap();
        assert_eq!(old, "build 1");
        use std::os::unix::fs::PermissionsExt;
        assert_eq!(
            std::fs::metadata(&on_host).unwrap().permissions().mode() & 0o777,
            0o755
        );
    }

    #[test]
    fn a_damaged_image_is_refused() {
        let image = tempfile::tempdir().unwrap();
        let path = image.path().join(SHIM_NAME);
        std::fs::write(&path, b"build 1").unwrap();
        std::fs::write(path.with_extension("sha256"), "00ff\n").unwrap();
        let err = ShimSource::checked(&path).err().unwrap().to_string();
        assert!(err.contains("does not match its checksum"), "{err}");
    }
}
