//! Advisory `flock` locks: `<root>/lock` serialises index.json updates; `<root>/gc.lock` is held
//! shared by every process using the store and exclusively by prune, so prune never deletes a
//! temp file or a not-yet-indexed blob of a live process.

use std::fs::{File, OpenOptions};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use super::error::StoreError;

/// A held lock; released on drop (or when the process dies, so a SIGKILL never leaves a stale
/// lock behind).
pub struct FileLock {
    _lock: Flock<File>,
    path: PathBuf,
}

impl std::fmt::Debug for FileLock {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FileLock({})", self.path.display())
    }
}

impl FileLock {
    /// Blocks until the lock is held.
    pub fn acquire(path: &Path, exclusive: bool) -> Result<Self, StoreError> {
        let arg = if exclusive {
            FlockArg::LockExclusive
        } else {
            FlockArg::LockShared
        };
        Self::lock(path, arg)?.ok_or_else(|| StoreError::Busy(path.to_path_buf()))
    }

    /// Takes the lock only if nobody holds a conflicting one; `Ok(None)` when busy.
    pub fn try_acquire(path: &Path, exclusive: bool) -> Result<Option<Self>, StoreError> {
        let arg = if exclusive {
            FlockArg::LockExclusiveNonblock
        } else {
            FlockArg::LockSharedNonblock
        };
        Self::lock(path, arg)
    }

    fn lock(path: &Path, arg: FlockArg) -> Result<Option<Self>, StoreError> {
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create(true)
            .truncate(false)
            .open(path)
            .map_err(StoreError::io("cannot open lock file", path))?;
        match Flock::lock(file, arg) {
            Ok(lock) => Ok(Some(FileLock {
                _lock: lock,
                path: path.to_path_buf(),
            })),
            Err((_, Errno::EWOULDBLOCK)) => Ok(None),
            Err((_, e)) => Err(StoreError::Lock {
                path: path.to_path_buf(),
                source: e,
            }),
        }
    }

    /// Turns the lock shared again (after `try_make_exclusive`, whatever it returned), waiting
    /// while another process holds it exclusively.
    pub fn make_shared(&self) -> Result<(), StoreError> {
        loop {
            match self._lock.relock(FlockArg::LockShared) {
                Ok(()) => return Ok(()),
                Err(Errno::EINTR) => continue,
                Err(e) => {
                    return Err(StoreError::Lock {
                        path: self.path.clone(),
                        source: e,
                    })
                }
            }
        }
    }

    /// Turns a held lock exclusive without blocking; `false` when another process holds it.
    /// flock drops the old lock before taking the new one, so after `false` no lock is held.
    pub fn try_make_exclusive(&self) -> Result<bool, StoreError> {
        match self._lock.relock(FlockArg::LockExclusiveNonblock) {
            Ok(()) => Ok(true),
            Err(Errno::EWOULDBLOCK) => Ok(false),
            Err(e) => Err(StoreError::Lock {
                path: self.path.clone(),
                source: e,
            }),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusive_excludes_and_release_frees() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("lock");
        let a = FileLock::acquire(&p, false).unwrap();
        // flock locks belong to open file descriptions, so a second open in the same process
        // conflicts like another process would.
        assert!(FileLock::try_acquire(&p, true).unwrap().is_none());
        assert!(FileLock::try_acquire(&p, false).unwrap().is_some());
        drop(a);
        let b = FileLock::try_acquire(&p, true).unwrap();
        assert!(b.is_some());
        assert!(FileLock::try_acquire(&p, false).unwrap().is_none());
    }
}
