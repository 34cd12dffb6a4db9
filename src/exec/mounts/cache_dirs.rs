//! The persistent directories of `RUN --mount=type=cache` in the store, and how concurrent
//! users share them.
//!
//! Layout under the store root:
//! - `cache-mounts-v1/<sha256 of id, from, source>/`: the directory the RUN sees;
//! - `cache-mounts-v1/<same>.lock`: flocked by every guard of that cache. It lives beside the
//!   directory, never inside it, so wiping a cache from a RUN cannot remove it;
//! - `cache-mounts-v1/.create.lock`: serialises first creation (a directory is built under a
//!   temporary name with its mode, owner and seed, then renamed into place);
//! - `cache-mounts-v1/private/`: fresh directories of `sharing=private` users that found the
//!   cache busy, removed when their guard drops.
//!
//! Sharing, with one flock per cache: `shared` takes a shared lock (any number at once),
//! `locked` an exclusive one (waits for every other user, and makes later ones wait).
//! `private` tries the exclusive lock without waiting: if it gets it the RUN has the cache to
//! itself; if not it gets a new empty directory of its own. Private directories are not kept
//! across builds (BuildKit keeps and reuses them; keeping one per concurrent user would need
//! an index of them, and a private user only asks not to share).

use std::fs::{self, File, OpenOptions, Permissions};
use std::io;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};
use sha2::{Digest as _, Sha256};
use tempfile::TempDir;

use super::{CacheMount, MountError, Sharing};

/// The versioned directory of cache mounts under the store root.
pub const CACHE_MOUNTS_DIR: &str = "cache-mounts-v1";

/// Every cache mount directory under the store root (shared ones and leftover private ones),
/// for `builder prune`.
pub fn cache_mount_dirs(root: &Path) -> Vec<PathBuf> {
    let base = root.join(CACHE_MOUNTS_DIR);
    let mut out = Vec::new();
    for dir in [base.clone(), base.join("private")] {
        let Ok(rd) = fs::read_dir(&dir) else { continue };
        for e in rd.flatten() {
            let name = e.file_name();
            if name != "private" && e.file_type().is_ok_and(|t| t.is_dir()) {
                out.push(e.path());
            }
        }
    }
    out.sort();
    out
}

/// One RUN's hold on a cache directory; the lock (or private directory) goes when it drops.
#[derive(Debug)]
pub struct CacheDirGuard {
    id: String,
    path: PathBuf,
    created: bool,
    _lock: Option<Flock<File>>,
    private: Option<TempDir>,
}

impl CacheDirGuard {
    /// The directory to mount at the target.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether this guard created the directory (it started empty or from the seed).
    pub fn created(&self) -> bool {
        self.created
    }

    /// Whether this is a throw-away `sharing=private` directory rather than the cache itself.
    pub fn is_private(&self) -> bool {
        self.private.is_some()
    }

    /// Drops the guard, reporting a failure to remove a private directory (which `Drop` can
    /// only ignore).
    pub fn release(mut self) -> Result<(), MountError> {
        match self.private.take() {
            Some(dir) => {
                let path = dir.path().to_path_buf();
                dir.close().map_err(|source| MountError::CacheIo {
                    id: self.id.clone(),
                    op: "remove private cache dir",
                    path,
                    source,
                })
            }
            None => Ok(()),
        }
    }
}

/// Acquires the cache directory of `mount` under the store `root`, creating it empty on first
/// use. Blocks while the sharing mode says to wait.
pub fn acquire(root: &Path, mount: &CacheMount) -> Result<CacheDirGuard, MountError> {
    acquire_seeded(root, mount, &|_| Ok(()))
}

/// Like [`acquire`], with `seed` filling a directory this call creates (a cache `from=`
/// another stage) before any other user can see it.
pub fn acquire_seeded(
    root: &Path,
    mount: &CacheMount,
    seed: &dyn Fn(&Path) -> io::Result<()>,
) -> Result<CacheDirGuard, MountError> {
    let io_err = |op: &'static str, path: &Path| {
        let id = mount.id.clone();
        let path = path.to_path_buf();
        move |source| MountError::CacheIo {
            id,
            op,
            path,
            source,
        }
    };
    let base = root.join(CACHE_MOUNTS_DIR);
    let private_root = base.join("private");
    fs::create_dir_all(&private_root).map_err(io_err("create", &private_root))?;
    let key = cache_key(mount);
    let dir = base.join(&key);
    let lock_path = base.join(format!("{key}.lock"));
    let lock_file = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&lock_path)
        .map_err(io_err("open lock", &lock_path))?;
    let arg = match mount.sharing {
        Sharing::Shared => FlockArg::LockShared,
        Sharing::Locked => FlockArg::LockExclusive,
        Sharing::Private => FlockArg::LockExclusiveNonblock,
    };
    let lock = match flock(lock_file, arg) {
        Ok(lock) => lock,
        Err(Errno::EWOULDBLOCK) => {
            let private = tempfile::Builder::new()
                .prefix(&format!("{key}-"))
                .tempdir_in(&private_root)
                .map_err(io_err("create private cache dir", &private_root))?;
            prepare(private.path(), mount, seed).map_err(io_err("prepare", private.path()))?;
            return Ok(CacheDirGuard {
                id: mount.id.clone(),
                path: private.path().to_path_buf(),
                created: true,
                _lock: None,
                private: Some(private),
            });
        }
        Err(e) => return Err(io_err("flock", &lock_path)(e.into())),
    };
    let created = ensure_dir(&base, &dir, mount, seed).map_err(io_err("create", &dir))?;
    Ok(CacheDirGuard {
        id: mount.id.clone(),
        path: dir,
        created,
        _lock: Some(lock),
        private: None,
    })
}

/// The directory name of a cache: its id, and its seed when it has one, since a cache seeded
/// from another stage is another cache.
fn cache_key(m: &CacheMount) -> String {
    let mut h = Sha256::new();
    h.update(b"strata.cache-mount.v1\0id=");
    h.update(m.id.as_bytes());
    if let Some(from) = &m.from {
        h.update(b"\0from=");
        h.update(from.as_bytes());
    }
    if let Some(source) = &m.source {
        h.update(b"\0source=");
        h.update(source.as_bytes());
    }
    h.finalize().iter().map(|b| format!("{b:02x}")).collect()
}

/// `flock` that retries when a signal interrupts the wait.
fn flock(file: File, arg: FlockArg) -> Result<Flock<File>, Errno> {
    let mut file = file;
    loop {
        match Flock::lock(file, arg) {
            Ok(lock) => return Ok(lock),
            Err((f, Errno::EINTR)) => file = f,
            Err((_, e)) => return Err(e),
        }
    }
}

/// Creates `dir` when missing, returning whether this call did.
fn ensure_dir(
    base: &Path,
    dir: &Path,
    mount: &CacheMount,
    seed: &dyn Fn(&Path) -> io::Result<()>,
) -> io::Result<bool> {
    if dir.is_dir() {
        return Ok(false);
    }
    let create_lock = OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(base.join(".create.lock"))?;
    let _create_lock = flock(create_lock, FlockArg::LockExclusive)?;
    if dir.is_dir() {
        return Ok(false);
    }
    let tmp = tempfile::Builder::new().prefix(".tmp-").tempdir_in(base)?;
    prepare(tmp.path(), mount, seed)?;
    fs::rename(tmp.path(), dir)?;
    // The temporary name is gone; keep TempDir from deleting the renamed directory's old path.
    let _ = tmp.keep();
    Ok(true)
}

/// Seeds a new directory, then gives it the mount's mode and owner.
fn prepare(
    path: &Path,
    mount: &CacheMount,
    seed: &dyn Fn(&Path) -> io::Result<()>,
) -> io::Result<()> {
    seed(path)?;
    let meta = fs::metadata(path)?;
    // chown only when needed, so an unprivileged store works for its own uid.
    if meta.uid() != mount.uid || meta.gid() != mount.gid {
        std::os::unix::fs::chown(path, Some(mount.uid), Some(mount.gid))?;
    }
    fs::set_permissions(path, Permissions::from_mode(mount.mode & 0o7777))
}

#[cfg(test)]
#[path = "cache_dirs_tests.rs"]
mod tests;
