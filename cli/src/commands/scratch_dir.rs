//! `spinkube up`'s scratch directory (`$TMPDIR/spinkube-up-<pid>`: a registry app's files, copied
//! mounts): removed when `up` ends, on an error too, and swept at the next start when a process
//! that was killed left its own behind.

use std::path::{Path, PathBuf};

const PREFIX: &str = "spinkube-up-";

/// Removes its directory when dropped.
pub struct ScratchDir {
    path: PathBuf,
}

impl ScratchDir {
    /// Creates this process's scratch directory under `root`, after sweeping the ones of
    /// `spinkube up` processes that no longer run.
    pub fn create(root: &Path) -> std::io::Result<Self> {
        sweep(root);
        let path = root.join(format!("{PREFIX}{}", std::process::id()));
        std::fs::create_dir_all(&path)?;
        Ok(Self { path })
    }

    pub fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.path);
    }
}

/// Deletes the scratch directories under `root` whose process has gone. Best effort: a
/// directory another user owns, or one being created right now, is left alone.
fn sweep(root: &Path) {
    // Without /proc there is no cheap way to tell a dead process from a live one.
    if !Path::new("/proc/self").exists() {
        return;
    }
    let Ok(entries) = std::fs::read_dir(root) else {
        return;
    };
    let names: Vec<String> = entries
        .flatten()
        .filter_map(|e| e.file_name().into_string().ok())
        .collect();
    for name in stale(&names, |pid| Path::new(&format!("/proc/{pid}")).exists()) {
        let _ = std::fs::remove_dir_all(root.join(name));
    }
}

/// The names among `names` that are scratch directories of processes `alive` says are gone.
fn stale(names: &[String], alive: impl Fn(u32) -> bool) -> Vec<&str> {
    names
        .iter()
        .filter_map(|name| {
            let pid: u32 = name.strip_prefix(PREFIX)?.parse().ok()?;
            (!alive(pid) && pid != std::process::id()).then_some(name.as_str())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_scratch_dirs_of_gone_processes_are_stale() {
        let names: Vec<String> = [
            "spinkube-up-100",
            "spinkube-up-200",
            "spinkube-up-x",
            "spinkube-cluster",
            "other-100",
        ]
        .map(String::from)
        .to_vec();
        assert_eq!(stale(&names, |pid| pid == 200), ["spinkube-up-100"]);
    }

    #[test]
    fn a_killed_processs_dir_is_swept_and_ours_is_removed_when_dropped() {
        let root = tempfile::tempdir().unwrap();
        // pid_max is at most 2^22 on Linux: this process cannot exist.
        let gone = root.path().join("spinkube-up-4294967295");
        std::fs::create_dir_all(gone.join("files")).unwrap();
        let unrelated = root.path().join("keep-me");
        std::fs::create_dir(&unrelated).unwrap();
        let scratch = ScratchDir::create(root.path()).unwrap();
        assert!(!gone.exists(), "a dead process's scratch dir is swept");
        assert!(unrelated.exists());
        let ours = scratch.path().to_path_buf();
        assert!(ours.is_dir());
        drop(scratch);
        assert!(!ours.exists());
    }
}
