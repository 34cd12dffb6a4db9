//! Kept directories for build contexts that arrive as tar streams (`POST /build`), one per
//! project (a key made from what the client builds: its tags and Dockerfile name), under
//! `<root>/context-mirrors-v1/<key>`. Each stream is synced over the previous one
//! (`context_tar::sync_if_tar`), so a rebuild rewrites only the files that changed, and the
//! stat cache, keyed by the context's path, stays valid across builds. A fresh directory per
//! build instead costs creating and deleting every file of the context each time, which on
//! ext4 outweighs the build itself.
//!
//! A mirror is held under its `<key>.lock` flock for the whole build; a second build of the
//! same key meanwhile gets `None` (and a temp directory from its caller). At most [`KEEP`]
//! mirrors stay: the least recently used unheld ones go first.

use std::fs;
use std::path::{Path, PathBuf};
use std::time::SystemTime;

use crate::digest::Digest;
use crate::store::lock::FileLock;
use crate::store::StoreError;
use crate::util::owned_tmp::remove_tree;

/// The versioned directory of the mirrors, under a store's root.
pub const MIRRORS: &str = "context-mirrors-v1";
/// How many mirrors a store keeps.
pub const KEEP: usize = 8;

/// A mirror directory, held by this process until dropped.
#[derive(Debug)]
pub struct Mirror {
    dir: PathBuf,
    _lock: FileLock,
}

impl Mirror {
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// Empties the directory (after a failed sync: nothing half-written is kept).
    pub fn wipe(&self) {
        let _ = remove_tree(&self.dir);
        let _ = fs::create_dir_all(&self.dir);
    }
}

/// The key of a build: the same tags and Dockerfile name, the same mirror.
pub fn key(tags: &[String], dockerfile: &str) -> String {
    let mut text = dockerfile.to_string();
    for t in tags {
        text.push('\0');
        text.push_str(t);
    }
    Digest::of(text.as_bytes()).hex()[..32].to_string()
}

/// The mirror `key` of the store at `root`, held; `None` while another build holds it.
pub fn acquire(root: &Path, key: &str) -> Result<Option<Mirror>, StoreError> {
    let base = root.join(MIRRORS);
    fs::create_dir_all(&base).map_err(StoreError::io("cannot create", base.clone()))?;
    let lock_path = base.join(format!("{key}.lock"));
    let Some(lock) = FileLock::try_acquire(&lock_path, true)? else {
        return Ok(None);
    };
    // The lock file's mtime says when the mirror was last used.
    if let Ok(f) = fs::File::options().write(true).open(&lock_path) {
        let _ = f.set_modified(SystemTime::now());
    }
    let dir = base.join(key);
    fs::create_dir_all(&dir).map_err(StoreError::io("cannot create", dir.clone()))?;
    evict(&base, key);
    Ok(Some(Mirror { dir, _lock: lock }))
}

/// Removes the least recently used mirrors beyond [`KEEP`] that nobody holds (best effort:
/// a mirror is only a cache).
fn evict(base: &Path, current: &str) {
    let Ok(rd) = fs::read_dir(base) else { return };
    let mut locks: Vec<(SystemTime, String)> = rd
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            let key = name.strip_suffix(".lock")?.to_string();
            let used = e.metadata().and_then(|m| m.modified()).ok()?;
            (key != current).then_some((used, key))
        })
        .collect();
    if locks.len() < KEEP {
        return;
    }
    locks.sort();
    let excess = locks.len() + 1 - KEEP;
    for (_, key) in locks.into_iter().take(excess) {
        remove(base, &key);
    }
}

/// Removes mirror `key` under `base` unless it is held.
fn remove(base: &Path, key: &str) -> bool {
    let lock_path = base.join(format!("{key}.lock"));
    let Ok(Some(_held)) = FileLock::try_acquire(&lock_path, true) else {
        return false;
    };
    let ok = remove_tree(&base.join(key)).is_ok();
    ok && fs::remove_file(&lock_path).is_ok()
}

/// Removes every mirror of the store at `root` that no build holds (`builder prune`);
/// returns how many went.
pub fn prune(root: &Path) -> usize {
    let base = root.join(MIRRORS);
    let Ok(rd) = fs::read_dir(&base) else {
        return 0;
    };
    let keys: Vec<String> = rd
        .flatten()
        .filter_map(|e| {
            let name = e.file_name().to_string_lossy().into_owned();
            name.strip_suffix(".lock").map(str::to_string)
        })
        .collect();
    keys.iter().filter(|k| remove(&base, k)).count()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn held_mirrors_are_exclusive_and_evicted_least_recent_first() {
        let root = tempfile::tempdir().unwrap();
        let a = acquire(root.path(), "a").unwrap().expect("free");
        assert!(acquire(root.path(), "a").unwrap().is_none(), "held twice");
        fs::write(a.dir().join("f"), b"x").unwrap();
        drop(a);
        let again = acquire(root.path(), "a").unwrap().expect("released");
        assert!(again.dir().join("f").exists(), "kept between builds");
        drop(again);
        for i in 0..KEEP + 2 {
            drop(acquire(root.path(), &format!("k{i}")).unwrap().unwrap());
            std::thread::sleep(std::time::Duration::from_millis(5));
        }
        let left = fs::read_dir(root.path().join(MIRRORS))
            .unwrap()
            .filter(|e| e.as_ref().unwrap().path().is_dir())
            .count();
        assert_eq!(left, KEEP);
        assert!(
            !root.path().join(MIRRORS).join("a").exists(),
            "oldest evicted"
        );
        assert_eq!(prune(root.path()), KEEP);
    }
}
