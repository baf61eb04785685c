//! Content-addressed store of pulled blobs: `<root>/oci/blobs/sha256/<hex>`.
//!
//! A blob lands under its digest only after its bytes hashed to that digest: data is written to a
//! temp file in the same directory, verified, then renamed, so a crash or a corrupt download
//! never leaves an unverified file where a later run would trust it.

use std::io::Write;
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use super::OciError;

/// A verified, content-addressed blob store (see the module docs).
#[derive(Debug, Clone)]
pub struct BlobCache {
    dir: PathBuf,
}

impl BlobCache {
    /// The cache under a spinkube cache dir (see [`crate::engine::default_cache_dir`]).
    pub fn new(cache_root: &Path) -> Self {
        BlobCache {
            dir: cache_root.join("oci").join("blobs").join("sha256"),
        }
    }

    /// The default location, `<spinkube cache>/oci/blobs/sha256`.
    pub fn default_location() -> Result<Self, OciError> {
        crate::engine::default_cache_dir()
            .map(|d| Self::new(&d))
            .ok_or_else(|| {
                OciError::Cache("no cache directory: set SPINKUBE_CACHE_DIR or HOME".into())
            })
    }

    /// The directory holding the blobs, `<root>/oci/blobs/sha256`.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Where a blob with this digest lives (whether or not it is there yet).
    pub fn path(&self, digest: &str) -> Result<PathBuf, OciError> {
        Ok(self.dir.join(sha256_hex(digest)?))
    }

    /// The path of a cached blob, if present.
    pub fn get(&self, digest: &str) -> Option<PathBuf> {
        self.path(digest).ok().filter(|p| p.is_file())
    }

    /// Reads a cached blob whole; an error if it is absent.
    pub fn read(&self, digest: &str) -> Result<Vec<u8>, OciError> {
        let path = self.path(digest)?;
        std::fs::read(&path)
            .map_err(|e| OciError::Cache(format!("reading cached blob {}: {e}", path.display())))
    }

    /// Stores bytes already in memory, verifying them against `digest`.
    pub fn put(&self, digest: &str, bytes: &[u8]) -> Result<PathBuf, OciError> {
        let mut w = self.writer(digest)?;
        w.write_all(bytes)
            .map_err(|e| OciError::Cache(format!("writing blob {digest}: {e}")))?;
        w.commit()
    }

    /// A writer whose bytes become the blob `digest` only if [`BlobWriter::commit`] verifies them.
    pub fn writer(&self, digest: &str) -> Result<BlobWriter, OciError> {
        let expected = sha256_hex(digest)?.to_string();
        std::fs::create_dir_all(&self.dir)
            .map_err(|e| OciError::Cache(format!("cannot create {}: {e}", self.dir.display())))?;
        let tmp = tempfile::Builder::new()
            .prefix(".partial-")
            .tempfile_in(&self.dir)
            .map_err(|e| OciError::Cache(format!("temp file in {}: {e}", self.dir.display())))?;
        Ok(BlobWriter {
            tmp,
            hasher: Sha256::new(),
            expected,
            dest: self.dir.clone(),
            written: 0,
        })
    }
}

/// Bytes on their way into the cache; dropped without `commit` they vanish.
pub struct BlobWriter {
    tmp: tempfile::NamedTempFile,
    hasher: Sha256,
    expected: String,
    dest: PathBuf,
    written: u64,
}

impl BlobWriter {
    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.written
    }

    /// Verifies the digest and moves the blob into place.
    pub fn commit(mut self) -> Result<PathBuf, OciError> {
        self.tmp
            .flush()
            .map_err(|e| OciError::Cache(format!("writing blob: {e}")))?;
        let actual = hex::encode(self.hasher.finalize());
        if actual != self.expected {
            return Err(OciError::DigestMismatch {
                expected: format!("sha256:{}", self.expected),
                actual: format!("sha256:{actual}"),
            });
        }
        let path = self.dest.join(&self.expected);
        self.tmp
            .persist(&path)
            .map_err(|e| OciError::Cache(format!("storing {}: {e}", path.display())))?;
        Ok(path)
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.tmp.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.written += n as u64;
        Ok(n)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.tmp.flush()
    }
}

/// `sha256:<64 hex>` → the hex part; anything else is refused (it also keeps paths safe).
pub fn sha256_hex(digest: &str) -> Result<&str, OciError> {
    match digest.strip_prefix("sha256:") {
        Some(hex)
            if hex.len() == 64 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) =>
        {
            Ok(hex)
        }
        _ => Err(OciError::Invalid(format!(
            "unsupported digest {digest:?}; expected sha256:<64 lowercase hex digits>"
        ))),
    }
}

/// `sha256:<hex>` of some bytes.
pub fn digest_of(bytes: &[u8]) -> String {
    format!("sha256:{}", hex::encode(Sha256::digest(bytes)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stores_only_verified_blobs() {
        let dir = tempfile::tempdir().unwrap();
        let cache = BlobCache::new(dir.path());
        let d = digest_of(b"hello");
        let p = cache.put(&d, b"hello").unwrap();
        assert_eq!(std::fs::read(p).unwrap(), b"hello");
        assert!(cache.get(&d).is_some());

        let other = digest_of(b"other");
        let err = cache.put(&other, b"tampered").unwrap_err().to_string();
        assert!(err.contains("digest"), "{err}");
        assert!(cache.get(&other).is_none());
        let leftovers: Vec<_> = std::fs::read_dir(cache.dir()).unwrap().collect();
        assert_eq!(leftovers.len(), 1, "only the verified blob remains");
        assert!(sha256_hex("sha256:../../etc").is_err());
    }
}
