//! The pieces of syncing a tar context over an earlier extraction (see
//! `context_tar::sync_if_tar`): keeping a file that already holds its entry's bytes, removing
//! what the archive no longer lists, and setting modes and mtimes only when they differ. Every
//! file left alone keeps its inode and times, so the build's stat cache still vouches for it,
//! and no inode is freed and allocated again (on ext4 that churn costs more than the bytes).

use std::collections::HashSet;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::{MetadataExt, OpenOptionsExt, PermissionsExt};
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use tar::EntryType;

use crate::util::owned_tmp::remove_tree;
use crate::util::read_full::read_full;

/// Bytes compared per read.
const CHUNK: usize = 64 * 1024;

/// The two compare buffers, allocated once per archive rather than once per file.
pub struct Scratch {
    new: Vec<u8>,
    old: Vec<u8>,
}

impl Default for Scratch {
    fn default() -> Scratch {
        Scratch {
            new: vec![0; CHUNK],
            old: vec![0; CHUNK],
        }
    }
}

/// Whether what is at `target` now holds `entry` (a regular file or a symlink), with its mode
/// and mtime set: `false` leaves `entry` unread, for the caller to write anew. A regular file
/// of the same size is compared as the entry streams by; from the first byte that differs it
/// is overwritten in place. Only a file with one link and an owner-writable mode is reused,
/// so a write never shows through another name.
pub fn keep<R: Read>(
    entry: &mut tar::Entry<'_, R>,
    target: &Path,
    scratch: &mut Scratch,
) -> io::Result<bool> {
    let meta = match fs::symlink_metadata(target) {
        Ok(m) => m,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(false),
        Err(e) => return Err(e),
    };
    let header = entry.header();
    let mode = header.mode().unwrap_or(0o644);
    let mtime = header.mtime().ok();
    match header.entry_type() {
        EntryType::Symlink => {
            let want = entry.link_name()?;
            Ok(meta.file_type().is_symlink()
                && want.is_some_and(|w| fs::read_link(target).is_ok_and(|have| have == *w)))
        }
        EntryType::Regular | EntryType::Continuous => {
            if !meta.is_file()
                || meta.nlink() != 1
                || meta.len() != entry.size()
                || meta.mode() & 0o200 == 0
            {
                return Ok(false);
            }
            if same_or_rewritten(entry, target, meta.len(), scratch)? {
                set_mode_and_mtime(target, mode, mtime)?;
            } else {
                // Untouched: the metadata read above still holds, no second lstat.
                set_if_changed(target, &meta, mode, mtime)?;
            }
            Ok(true)
        }
        _ => Ok(false),
    }
}

/// Reads all `size` bytes of `entry` against the file `target`; from the first difference on,
/// writes the rest of the entry over the file. Tells whether it wrote.
fn same_or_rewritten(
    entry: &mut impl Read,
    target: &Path,
    size: u64,
    scratch: &mut Scratch,
) -> io::Result<bool> {
    if size == 0 {
        return Ok(false);
    }
    let mut old = File::open(target)?;
    let len = CHUNK.min(size as usize);
    let (new_buf, old_buf) = (&mut scratch.new[..len], &mut scratch.old[..len]);
    let mut at: u64 = 0;
    while at < size {
        let want = len.min((size - at) as usize);
        let n = read_full(entry, &mut new_buf[..want])?;
        if n < want {
            return Err(io::ErrorKind::UnexpectedEof.into());
        }
        let m = read_full(&mut old, &mut old_buf[..n])?;
        if m < n || new_buf[..n] != old_buf[..n] {
            let mut f = OpenOptions::new()
                .write(true)
                .custom_flags(nix::libc::O_NOFOLLOW)
                .open(target)?;
            f.seek(SeekFrom::Start(at))?;
            f.write_all(&new_buf[..n])?;
            let rest = size - at - n as u64;
            let copied = io::copy(&mut entry.take(rest), &mut f)?;
            if copied < rest {
                return Err(io::ErrorKind::UnexpectedEof.into());
            }
            return Ok(true);
        }
        at += n as u64;
    }
    Ok(false)
}

/// Sets `path`'s permission bits and mtime (whole seconds, as tar keeps them) unless they are
/// those already: an unchanged file keeps its ctime too.
pub fn set_mode_and_mtime(path: &Path, mode: u32, mtime: Option<u64>) -> io::Result<()> {
    set_if_changed(path, &fs::symlink_metadata(path)?, mode, mtime)
}

/// [`set_mode_and_mtime`] against `meta`, `path`'s metadata as it is now.
fn set_if_changed(
    path: &Path,
    meta: &fs::Metadata,
    mode: u32,
    mtime: Option<u64>,
) -> io::Result<()> {
    if meta.mode() & 0o7777 != mode & 0o7777 {
        fs::set_permissions(path, fs::Permissions::from_mode(mode & 0o7777))?;
    }
    if let Some(secs) = mtime {
        if meta.mtime() != secs as i64 || meta.mtime_nsec() != 0 {
            File::open(path)?.set_modified(SystemTime::UNIX_EPOCH + Duration::from_secs(secs))?;
        }
    }
    Ok(())
}

/// Removes everything under `dest` whose path (relative to `dest`) is not in `listed`, which
/// holds every listed path's parents too.
pub fn remove_unlisted(dest: &Path, listed: &HashSet<PathBuf>) -> io::Result<()> {
    fn walk(dest: &Path, rel: &Path, listed: &HashSet<PathBuf>) -> io::Result<()> {
        for e in fs::read_dir(dest.join(rel))? {
            let e = e?;
            let r = rel.join(e.file_name());
            if !listed.contains(&r) {
                remove_tree(&e.path())?;
            } else if e.file_type()?.is_dir() {
                walk(dest, &r, listed)?;
            }
        }
        Ok(())
    }
    walk(dest, Path::new(""), listed)
}
