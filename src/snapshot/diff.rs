//! An overlayfs upperdir as a change list: 0/0 character devices are deletions, directories
//! marked `trusted.overlay.opaque=y` (`user.` on a user-namespace mount) replace the lower directory, everything else was added or
//! changed. The classification of one entry is pure; [`upperdir_changes`] walks the disk, and
//! [`upperdir_changes_against`] also looks at the lowerdirs to drop what was only copied up.

use crate::util::read_full::read_full;
use std::ffi::OsString;
use std::fs::{File, Metadata};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use super::layer::Change;
use super::lowers::{self, context, is_opaque, is_whiteout};
use super::source::{read_raw_xattr, read_xattrs};

/// What is known about one upperdir entry, enough to classify it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UpperEntry {
    pub is_dir: bool,
    pub is_char_device: bool,
    pub rdev: u64,
    /// The directory carries `trusted.overlay.opaque=y` (or the `user.` one).
    pub opaque: bool,
}

/// The change an upperdir entry at `path` stands for.
pub fn classify(path: PathBuf, e: UpperEntry) -> Change {
    if e.is_char_device && e.rdev == 0 {
        Change::Deleted(path)
    } else if e.is_dir && e.opaque {
        Change::OpaqueDir(path)
    } else {
        // Without the lower layers at hand "added" and "modified" are written alike.
        Change::Added(path)
    }
}

/// Walks `upper` and returns its changes, paths relative to `upper`, in walk order.
pub fn upperdir_changes(upper: &Path) -> io::Result<Vec<Change>> {
    let mut out = Vec::new();
    for entry in walkdir::WalkDir::new(upper)
        .min_depth(1)
        .follow_links(false)
    {
        let entry = entry.map_err(io::Error::from)?;
        let md = entry.metadata().map_err(io::Error::from)?;
        let ft = md.file_type();
        let opaque = ft.is_dir() && is_opaque(entry.path())?;
        let rel = entry
            .path()
            .strip_prefix(upper)
            .expect("walkdir stays under its root")
            .to_path_buf();
        out.push(classify(
            rel,
            UpperEntry {
                is_dir: ft.is_dir(),
                is_char_device: ft.is_char_device(),
                rdev: md.rdev(),
                opaque,
            },
        ));
    }
    Ok(out)
}

/// The upperdir changes of a RUN step whose overlay had `lowerdirs` (top first) below `upper`,
/// leaving out what was only copied up: overlayfs copies a whole file up on any metadata
/// change or open for writing, even when nothing ends up different (`chmod` to the same mode,
/// a rewrite with the same bytes and a restored mtime), and copies up every parent directory
/// of a changed path.
///
/// An upper entry is compared with the entry the lowerdirs show at its path
/// ([`lowers::lookup`] rules): none there → `Added`; equal → left out; else `Modified`.
/// Equal means, as in BuildKit's overlay differ: same file type, permission bits, owner,
/// device number, xattrs (host-only ones and overlayfs's own `*.overlay.*` not counted),
/// and for non-directories also same size, mtime (seconds and nanoseconds), symlink target
/// and content (read only when all else is equal, stopping at the first different block).
/// A non-directory with more than one link in the upperdir is never equal: a hard link made
/// to a lower file needs its target in the layer.
/// A directory's mtime and size are not compared: they change whenever an entry inside is
/// added or removed, which its children already say. A directory left out is still walked.
///
/// Whiteouts become `Deleted` and opaque directories `OpaqueDir` (their contents `Added`),
/// except when the lowerdirs have nothing at that path: then a whiteout is dropped and an
/// opaque directory is a plain `Added` one, since there is nothing below to hide.
///
/// Files copied up with `metacopy=on` hold only metadata (an `*.overlay.metacopy` xattr, the
/// data stays in the lower file): such a file counts as having the lower file's content, so it
/// is left out when its metadata is equal. When its metadata changed it is refused, because
/// the layer writer reads data from the upperdir, where this file has none. Renamed
/// directories and files with an `*.overlay.redirect` xattr (`redirect_dir=on`) are refused
/// too: their lower contents live under another path, which no change list can express.
/// Mount the overlay with `redirect_dir=off,metacopy=off` to avoid both.
pub fn upperdir_changes_against(upper: &Path, lowerdirs: &[PathBuf]) -> io::Result<Vec<Change>> {
    let mut out = Vec::new();
    walk_against(upper, PathBuf::new(), lowerdirs.to_vec(), &mut out)?;
    Ok(out)
}

/// Walks the upperdir directory `upper/rel`, whose merged lower directory is `lower` (that
/// directory in each layer contributing to it, top first).
fn walk_against(
    upper: &Path,
    rel: PathBuf,
    lower: Vec<PathBuf>,
    out: &mut Vec<Change>,
) -> io::Result<()> {
    let dir = upper.join(&rel);
    let mut names: Vec<OsString> = std::fs::read_dir(&dir)
        .map_err(context("read directory", &dir))?
        .map(|e| e.map(|e| e.file_name()))
        .collect::<io::Result<_>>()
        .map_err(context("read directory", &dir))?;
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    for name in names {
        let path = dir.join(&name);
        let child_rel = rel.join(&name);
        let md = std::fs::symlink_metadata(&path).map_err(context("lstat", &path))?;
        let below = lowers::child(&lower, &name)?;
        if is_whiteout(&md) {
            if below.top.is_some() {
                out.push(Change::Deleted(child_rel));
            }
            continue;
        }
        if let Some(target) = overlay_xattr(&path, "redirect")? {
            return Err(io::Error::new(
                io::ErrorKind::Unsupported,
                format!(
                    "{path:?} was renamed by overlayfs redirect_dir (redirect to {:?}); \
                     mount the overlay with redirect_dir=off",
                    String::from_utf8_lossy(&target)
                ),
            ));
        }
        let metacopy = md.is_file() && overlay_xattr(&path, "metacopy")?.is_some();
        let Some((lower_path, lower_md)) = below.top else {
            if metacopy {
                return Err(metacopy_refused(&path));
            }
            out.push(Change::Added(child_rel.clone()));
            if md.is_dir() {
                walk_against(upper, child_rel, Vec::new(), out)?;
            }
            continue;
        };
        if md.is_dir() && is_opaque(&path)? {
            out.push(Change::OpaqueDir(child_rel.clone()));
            walk_against(upper, child_rel, Vec::new(), out)?;
            continue;
        }
        if !same_entry(&path, &md, metacopy, &lower_path, &lower_md)? {
            if metacopy {
                return Err(metacopy_refused(&path));
            }
            out.push(Change::Modified(child_rel.clone()));
        }
        if md.is_dir() {
            walk_against(upper, child_rel, below.dirs, out)?;
        }
    }
    Ok(())
}

fn metacopy_refused(path: &Path) -> io::Error {
    io::Error::new(
        io::ErrorKind::Unsupported,
        format!(
            "{path:?} changed with only its metadata copied up (overlayfs metacopy=on), so its \
             data is not in the upperdir; mount the overlay with metacopy=off"
        ),
    )
}

/// An overlayfs private xattr of `path` (`trusted.overlay.<key>`, or `user.overlay.<key>` on a
/// userxattr mount).
fn overlay_xattr(path: &Path, key: &str) -> io::Result<Option<Vec<u8>>> {
    for ns in ["trusted", "user"] {
        let name = format!("{ns}.overlay.{key}");
        if let Some(v) = read_raw_xattr(path, &name).map_err(context("read xattrs of", path))? {
            return Ok(Some(v));
        }
    }
    Ok(None)
}

/// Whether the upper entry `u` says nothing the lower entry `l` does not (see
/// [`upperdir_changes_against`] for what counts).
fn same_entry(
    u: &Path,
    umd: &Metadata,
    metacopy: bool,
    l: &Path,
    lmd: &Metadata,
) -> io::Result<bool> {
    if umd.mode() != lmd.mode() || umd.uid() != lmd.uid() || umd.gid() != lmd.gid() {
        return Ok(false);
    }
    let ft = umd.file_type();
    // Another upper name links to this copy-up (`ln /lower/file /new`): the layer must hold
    // it too, or its hard link entry has no target in the layer and the names come apart
    // on unpack. Docker's overlay2 export keeps both, one inode.
    if !ft.is_dir() && umd.nlink() > 1 {
        return Ok(false);
    }
    if (ft.is_char_device() || ft.is_block_device()) && umd.rdev() != lmd.rdev() {
        return Ok(false);
    }
    if !ft.is_dir()
        && (umd.len() != lmd.len()
            || umd.mtime() != lmd.mtime()
            || umd.mtime_nsec() != lmd.mtime_nsec())
    {
        return Ok(false);
    }
    if comparable_xattrs(u)? != comparable_xattrs(l)? {
        return Ok(false);
    }
    if ft.is_symlink() {
        let ut = std::fs::read_link(u).map_err(context("read link", u))?;
        let lt = std::fs::read_link(l).map_err(context("read link", l))?;
        return Ok(ut == lt);
    }
    if ft.is_file() {
        if metacopy {
            // Only metadata was copied up; the data is the lower file's, equal by definition.
            return Ok(true);
        }
        return same_content(u, l);
    }
    Ok(true)
}

/// The xattrs a layer would carry, minus overlayfs's bookkeeping on userxattr mounts (the
/// `trusted.overlay.*` ones are never portable).
fn comparable_xattrs(p: &Path) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let mut x = read_xattrs(p).map_err(context("read xattrs of", p))?;
    x.retain(|(k, _)| !k.starts_with(b"user.overlay."));
    Ok(x)
}

/// Compares two files of equal size block by block, stopping at the first difference.
fn same_content(a: &Path, b: &Path) -> io::Result<bool> {
    let open = |p: &Path| {
        File::options()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(p)
            .map_err(context("open", p))
    };
    let (mut fa, mut fb) = (open(a)?, open(b)?);
    let mut ba = vec![0u8; 64 * 1024];
    let mut bb = vec![0u8; 64 * 1024];
    loop {
        let na = read_full(&mut fa, &mut ba).map_err(context("read", a))?;
        let nb = read_full(&mut fb, &mut bb).map_err(context("read", b))?;
        if na != nb || ba[..na] != bb[..nb] {
            return Ok(false);
        }
        if na == 0 {
            return Ok(true);
        }
    }
}

#[cfg(test)]
#[path = "diff_tests.rs"]
mod against_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_table() {
        let e = |is_dir, is_char_device, rdev, opaque| UpperEntry {
            is_dir,
            is_char_device,
            rdev,
            opaque,
        };
        let p = || PathBuf::from("x");
        let cases = [
            (e(false, true, 0, false), Change::Deleted(p())),
            (e(false, true, 0x103, false), Change::Added(p())), // a real device, e.g. null
            (e(true, false, 0, true), Change::OpaqueDir(p())),
            (e(true, false, 0, false), Change::Added(p())),
            (e(false, false, 0, false), Change::Added(p())),
        ];
        for (entry, want) in cases {
            assert_eq!(classify(p(), entry), want, "{entry:?}");
        }
    }
}
