//! Hard links to files of lower layers. A layer tar may hold a hard link whose target it does
//! not contain, because the file came from a layer below (`ln /bin/busybox /bin/x` in a RUN
//! step over a base image, written by a differ that leaves the unchanged target out). A
//! snapshot dir holds one layer only, so the link is made a copy of the file the lower
//! snapshots show at the target path, with its metadata.
//!
//! Copying rather than hard-linking across snapshot dirs keeps every snapshot self-contained:
//! a snapshot is keyed by its chain ID and must mean the same bytes and inodes whoever made it
//! and whatever else exists; it is removed, re-made and gc'd on its own; a cross-directory link
//! would tie two snapshots' inodes together (shared link count, ctime and any in-place repair)
//! and fail outright when the lower dirs live on another filesystem. Links between files of the
//! same layer stay hard links, and two links to one lower file become one copy plus a hard link
//! to it, so the pair still shares an inode inside the layer. The cost is the size of the linked
//! files, which such layers rarely have many of.

use std::collections::HashMap;
use std::fs::{File, Metadata};
use std::io;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::fsops;
use super::lowers;
use super::source::read_xattrs;
use super::unpack::UnpackError;

/// A hard link of a layer whose target was not in the layer, to be made from the lower layers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeferredLink {
    /// The tar entry that asked for it, for errors.
    pub entry: String,
    /// Where the link goes: a path inside the destination.
    pub path: PathBuf,
    /// What it links to, relative to the root of the layers.
    pub target: PathBuf,
}

/// Records in `deferred` a hard link at `target` to `source`, both paths inside `dest`, where
/// `source` is not in this layer. A later entry at `target` replaces an earlier pending link.
pub fn defer_link(
    deferred: &mut Vec<DeferredLink>,
    dest: &Path,
    entry: String,
    source: &Path,
    target: &Path,
) {
    // A link to a path that is itself such a link goes to the same lower file.
    let lower = match deferred.iter().rev().find(|d| d.path == source) {
        Some(d) => d.target.clone(),
        None => source
            .strip_prefix(dest)
            .expect("resolve stays under the destination")
            .to_path_buf(),
    };
    deferred.retain(|d| d.path != target);
    deferred.push(DeferredLink {
        entry,
        path: target.to_path_buf(),
        target: lower,
    });
}

/// Makes each link of `links` (in `dest`) a copy of the entry the union of `lowerdirs` (top
/// first, as overlayfs stacks them) shows at its target. Parent directory mtimes are kept.
pub fn link_from_lowers(
    dest: &Path,
    links: &[DeferredLink],
    lowerdirs: &[PathBuf],
) -> Result<(), UnpackError> {
    // Lower file → its first copy here, so later links to it share that inode.
    let mut copies: HashMap<PathBuf, PathBuf> = HashMap::new();
    for l in links {
        let io_err = |op: &'static str, path: &Path| {
            let entry = l.entry.clone();
            let path = path.to_path_buf();
            move |source| UnpackError::Io {
                entry,
                op,
                path,
                source,
            }
        };
        let invalid = |reason: String| UnpackError::Invalid {
            entry: l.entry.clone(),
            reason,
        };
        let found = lowers::lookup(lowerdirs, &l.target).map_err(io_err(
            "look up hard link target in the lower layers",
            &l.target,
        ))?;
        let Some((src, md)) = found else {
            return Err(invalid(format!(
                "hard link target {:?} is neither in this layer nor in a lower one",
                l.target
            )));
        };
        if md.is_dir() {
            return Err(invalid("hard link to a directory".into()));
        }
        let parent = l.path.parent().unwrap_or(dest);
        let parent_md = std::fs::symlink_metadata(parent).map_err(io_err("lstat", parent))?;
        fsops::remove_any(&l.path).map_err(io_err("remove", &l.path))?;
        match copies.get(&src) {
            Some(first) => {
                std::fs::hard_link(first, &l.path).map_err(io_err("hard link", &l.path))?
            }
            None => {
                copy_entry(&src, &md, &l.path).map_err(io_err("copy lower file to", &l.path))?;
                copies.insert(src, l.path.clone());
            }
        }
        fsops::set_mtime(parent, parent_md.mtime()).map_err(io_err("set mtime of", parent))?;
    }
    Ok(())
}

/// Re-creates the non-directory `src` (lstat'ed as `md`) at `dst`: content or link target or
/// device number, owner, portable xattrs, mode and mtime.
fn copy_entry(src: &Path, md: &Metadata, dst: &Path) -> io::Result<()> {
    let ft = md.file_type();
    if ft.is_file() {
        let mut from = File::options()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(src)?;
        let mut to = File::options()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .custom_flags(libc::O_NOFOLLOW)
            .open(dst)?;
        // std uses copy_file_range here, which clones extents where the filesystem can.
        io::copy(&mut from, &mut to)?;
    } else if ft.is_symlink() {
        std::os::unix::fs::symlink(std::fs::read_link(src)?, dst)?;
    } else {
        let fmt = if ft.is_char_device() {
            libc::S_IFCHR
        } else if ft.is_block_device() {
            libc::S_IFBLK
        } else if ft.is_fifo() {
            libc::S_IFIFO
        } else {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!("{src:?} is a socket"),
            ));
        };
        fsops::mknod(dst, fmt | 0o600, md.rdev())?;
    }
    fsops::lchown(dst, md.uid(), md.gid())?;
    for (k, v) in read_xattrs(src)? {
        fsops::lsetxattr(dst, &k, &v)?;
    }
    if !ft.is_symlink() {
        fsops::chmod(dst, md.mode() & 0o7777)?;
    }
    fsops::set_mtime(dst, md.mtime())
}
