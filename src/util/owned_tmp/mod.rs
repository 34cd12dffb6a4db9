//! Temp files and directories owned through a lock, so that what a killed strata left behind
//! can be told apart from what a live one is using, and reclaimed by the next one that looks.
//!
//! An item `<area>/<name>` (a file or a directory tree) belongs to whoever holds an exclusive
//! `flock` on `<area>/<name>.lock`. The owner takes the lock before the item exists and removes
//! the item before the lock, so an item whose lock file is free has no owner. The kernel drops a
//! flock when its holder dies, however it dies, so no pid or age is ever guessed at:
//! [`sweep`] (run when the store is opened) removes exactly the items whose owners are gone,
//! detaching first whatever the dead owner left mounted under them.
//!
//! Items keep their lock for as long as their guard ([`OwnedDir`], [`OwnedFile`]) lives; a
//! guard dropped normally removes the item and then its lock file, so a clean exit leaves the
//! area as it found it.

mod mountinfo;
mod sweep;

use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{DirBuilderExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

pub use mountinfo::{detach_mounts_under, mounts_under};
pub use sweep::{
    group, sweep, sweep_with, Found, LockState, Orphans, SweepOps, SweepReport, LOCK_SUFFIX,
};

/// Attempts at a fresh name before giving up (each clash is a 40-bit random collision or a
/// sweeper that probed the brand-new lock file in the instant before it was taken).
const NAME_ATTEMPTS: usize = 16;

/// A name in an area, held through its lock file; the item itself is made by [`OwnedDir`] or
/// [`OwnedFile`]. Dropping it removes the item, then the lock.
#[derive(Debug)]
struct Lease {
    item: PathBuf,
    lock_path: PathBuf,
    /// `None` once released.
    lock: Option<Flock<File>>,
    /// Whether the item at `item` was made by us (so is ours to delete).
    created: bool,
}

impl Lease {
    /// Takes a fresh name `<prefix><random>` in `area`, locked.
    fn take(area: &Path, prefix: &str) -> io::Result<Lease> {
        for _ in 0..NAME_ATTEMPTS {
            let name = format!("{prefix}{}", &super::random_id()[..10]);
            let item = area.join(&name);
            let lock_path = area.join(format!("{name}{LOCK_SUFFIX}"));
            let file = match OpenOptions::new()
                .read(true)
                .write(true)
                .create_new(true)
                .mode(0o600)
                .open(&lock_path)
            {
                Ok(f) => f,
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => continue,
                Err(e) => return Err(e),
            };
            let lock = match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
                Ok(l) => l,
                // A sweeper is probing the new file: it will delete it; pick another name.
                Err((_, Errno::EWOULDBLOCK)) => continue,
                Err((_, e)) => return Err(e.into()),
            };
            // A sweeper that got the lock in the instant before we did has unlinked the file:
            // our lock would then guard nothing. The name counts only if the path still leads
            // to the file we locked.
            if !same_file(&lock, &lock_path) {
                continue;
            }
            return Ok(Lease {
                item,
                lock_path,
                lock: Some(lock),
                created: false,
            });
        }
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("no free temp name {prefix}… in {}", area.display()),
        ))
    }

    /// Gives the name up without touching the item (it was moved away, or deleted already).
    fn release(&mut self) {
        if self.lock.take().is_some() {
            let _ = fs::remove_file(&self.lock_path);
        }
    }

    fn remove_item(&mut self) -> io::Result<()> {
        if !self.created {
            return Ok(());
        }
        remove_tree(&self.item)?;
        self.created = false;
        Ok(())
    }
}

impl Drop for Lease {
    fn drop(&mut self) {
        // The item goes first: an item without its lock file would look like nobody's. When it
        // cannot be removed, the lock file stays (and is freed as the descriptor closes), so
        // the next sweep finds an item with a dead owner and tries again.
        if self.lock.is_some() && self.remove_item().is_ok() {
            self.release();
        }
    }
}

/// Whether `path` names the file behind `f`.
fn same_file(f: &File, path: &Path) -> bool {
    match (f.metadata(), fs::symlink_metadata(path)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}

/// Removes a file or a whole tree, making read-only directories writable when that is what
/// stands in the way (a layer's upperdir keeps the modes of its image). A missing path is fine.
pub fn remove_tree(path: &Path) -> io::Result<()> {
    let meta = match fs::symlink_metadata(path) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(e),
    };
    let res = if meta.is_dir() {
        fs::remove_dir_all(path).or_else(|_| {
            make_dirs_writable(path);
            fs::remove_dir_all(path)
        })
    } else {
        fs::remove_file(path)
    };
    match res {
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        r => r,
    }
}

fn make_dirs_writable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for e in walkdir::WalkDir::new(path)
        .same_file_system(true)
        .into_iter()
        .filter_map(Result::ok)
    {
        if e.file_type().is_dir() {
            let _ = fs::set_permissions(e.path(), fs::Permissions::from_mode(0o700));
        }
    }
}

/// An owned temp directory: made (mode 0700) under a fresh locked name, removed with
/// everything in it on drop.
#[derive(Debug)]
pub struct OwnedDir {
    lease: Lease,
}

impl OwnedDir {
    /// A new directory `<area>/<prefix><random>`.
    pub fn new_in(area: &Path, prefix: &str) -> io::Result<OwnedDir> {
        let mut lease = Lease::take(area, prefix)?;
        fs::DirBuilder::new().mode(0o700).create(&lease.item)?;
        lease.created = true;
        Ok(OwnedDir { lease })
    }

    pub fn path(&self) -> &Path {
        &self.lease.item
    }

    /// Removes the directory now, reporting a failure (drop ignores it).
    pub fn close(mut self) -> io::Result<()> {
        let r = self.lease.remove_item();
        if r.is_ok() {
            self.lease.release();
        }
        r
    }

    /// The directory was renamed away (into its final place): give the name up, delete nothing.
    pub fn moved(mut self) {
        self.lease.created = false;
        self.lease.release();
    }
}

/// An owned temp file (mode 0600), open for reading and writing; removed on drop unless
/// persisted.
#[derive(Debug)]
pub struct OwnedFile {
    file: File,
    lease: Lease,
}

impl OwnedFile {
    /// A new empty file `<area>/<prefix><random>`.
    pub fn new_in(area: &Path, prefix: &str) -> io::Result<OwnedFile> {
        let mut lease = Lease::take(area, prefix)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(&lease.item)?;
        lease.created = true;
        Ok(OwnedFile { file, lease })
    }

    pub fn path(&self) -> &Path {
        &self.lease.item
    }

    pub fn as_file(&self) -> &File {
        &self.file
    }

    /// Renames the file to `dest` (same filesystem) and gives the temp name up. On failure the
    /// file is still owned and still at its temp path.
    pub fn persist(mut self, dest: &Path) -> Result<(), (io::Error, OwnedFile)> {
        if let Err(e) = fs::rename(&self.lease.item, dest) {
            return Err((e, self));
        }
        self.lease.created = false;
        self.lease.release();
        Ok(())
    }
}

impl Write for OwnedFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Read for OwnedFile {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        self.file.read(buf)
    }
}

impl Seek for OwnedFile {
    fn seek(&mut self, pos: SeekFrom) -> io::Result<u64> {
        self.file.seek(pos)
    }
}

#[cfg(test)]
mod tests;
