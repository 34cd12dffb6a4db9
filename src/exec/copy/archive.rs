//! ADD's auto-extraction: unpacking a (possibly compressed) tar archive into a directory of the
//! destination rootfs without ever writing outside it. Recognising one is `plan::copy::detect`.

use std::io::{self, Read};
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::{Path, PathBuf};

use super::apply::{io_err, record, set_meta, Writer};
use crate::plan::copy::detect::decompress;
use crate::plan::copy::{ChangeKind, CopyError, MTime};
use crate::util::safe_path::{resolve, OnEscape};
use crate::util::tar_fields::{numeric, Field};

/// A member name made relative and clean; `None` when it climbs above the archive root
/// (Docker's "breakout" refusal).
fn clean_member(name: &Path) -> Option<PathBuf> {
    let mut out: Vec<&std::ffi::OsStr> = Vec::new();
    for c in name.components() {
        match c {
            std::path::Component::Normal(n) => out.push(n),
            std::path::Component::ParentDir => {
                out.pop()?;
            }
            _ => {}
        }
    }
    Some(out.iter().collect())
}

/// Extracts a (possibly compressed) tar stream into `dir_rel` (a path relative to the rootfs
/// root, already resolved). Member names that climb out of the archive are refused; every write
/// goes through a safe join of the *rootfs*, so a symlink planted by an earlier member can
/// never lead a later one outside it. With `chown`, every member gets that owner (BuildKit
/// passes the `--chown` user to `applyRootArchive`); otherwise the archive's own ids are kept.
pub fn unpack(
    w: &mut Writer<'_>,
    origin: &str,
    r: Box<dyn Read + '_>,
    dir_rel: &Path,
    chown: Option<(u32, u32)>,
) -> Result<(), CopyError> {
    let bad = |e: io::Error| CopyError::Archive {
        source_path: origin.to_string(),
        message: e.to_string(),
    };
    let mut ar = tar::Archive::new(decompress(r).map_err(bad)?);
    let mut dirs: Vec<(PathBuf, MTime)> = Vec::new();
    for entry in ar.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let raw = entry.path().map_err(bad)?.into_owned();
        let Some(member) = clean_member(&raw) else {
            return Err(CopyError::ArchiveEscape {
                source_path: origin.to_string(),
                member: raw.display().to_string(),
            });
        };
        if member.as_os_str().is_empty() {
            continue;
        }
        let h = entry.header();
        let etype = h.entry_type();
        let mode = numeric(h, Field::Mode).map_err(bad)? as u32 & 0o7777;
        let (uid, gid) = match chown {
            Some(ids) => ids,
            None => (
                numeric(h, Field::Uid).map_err(bad)? as u32,
                numeric(h, Field::Gid).map_err(bad)? as u32,
            ),
        };
        let mtime = MTime {
            secs: numeric(h, Field::Mtime).map_err(bad)? as i64,
            nanos: 0,
        };
        let rel = dir_rel.join(&member);
        // Parent resolved inside the rootfs (following links met so far), last name literal.
        let parent = resolve(
            w.root,
            rel.parent().unwrap_or(Path::new("")),
            OnEscape::Clamp,
            true,
        )
        .map_err(|e| CopyError::Resolve(e.to_string()))?;
        w.mkdir_all_abs(&parent, chown.unwrap_or((0, 0)))?;
        let path = parent.join(rel.file_name().expect("member has a name"));
        let existed = std::fs::symlink_metadata(&path).ok();
        let kind = if existed.is_some() {
            ChangeKind::Modified
        } else {
            ChangeKind::Added
        };
        if etype.is_dir() {
            match &existed {
                Some(md) if md.is_dir() => {}
                Some(_) => remove_any(&path)?,
                None => {}
            }
            if !path.is_dir() {
                std::fs::create_dir(&path).map_err(|e| io_err("mkdir", &path, e))?;
            }
            set_meta(&path, mode, uid, gid, None, false)?;
            dirs.push((path.clone(), mtime));
            record(w, &path, kind);
            continue;
        }
        if let Some(md) = &existed {
            if md.is_dir() && !etype.is_dir() {
                std::fs::remove_dir_all(&path).map_err(|e| io_err("remove", &path, e))?;
            } else {
                remove_any(&path)?;
            }
        }
        if etype.is_file() || etype == tar::EntryType::Continuous {
            let mut f = std::fs::File::create(&path).map_err(|e| io_err("create", &path, e))?;
            io::copy(&mut entry, &mut f).map_err(bad)?;
            drop(f);
            set_meta(&path, mode, uid, gid, Some(mtime), false)?;
        } else if etype.is_symlink() {
            let target = entry
                .link_name()
                .map_err(bad)?
                .ok_or_else(|| bad(io::Error::other("symlink without target")))?;
            symlink(&*target, &path).map_err(|e| io_err("symlink", &path, e))?;
            set_meta(&path, 0, uid, gid, Some(mtime), true)?;
        } else if etype.is_hard_link() {
            let target = entry
                .link_name()
                .map_err(bad)?
                .ok_or_else(|| bad(io::Error::other("hard link without target")))?;
            let Some(t) = clean_member(&target) else {
                return Err(CopyError::ArchiveEscape {
                    source_path: origin.to_string(),
                    member: target.display().to_string(),
                });
            };
            let tpath = resolve(w.root, &dir_rel.join(t), OnEscape::Clamp, false)
                .map_err(|e| CopyError::Resolve(e.to_string()))?;
            std::fs::hard_link(&tpath, &path).map_err(|e| io_err("link", &path, e))?;
        } else if etype.is_character_special() || etype.is_block_special() || etype.is_fifo() {
            let ft = if etype.is_fifo() {
                libc::S_IFIFO
            } else if etype.is_block_special() {
                libc::S_IFBLK
            } else {
                libc::S_IFCHR
            };
            let major = h.device_major().map_err(bad)?.unwrap_or(0);
            let minor = h.device_minor().map_err(bad)?.unwrap_or(0);
            let rdev = libc::makedev(major, minor);
            super::apply::mknod(&path, ft, mode, rdev)?;
            set_meta(&path, mode, uid, gid, Some(mtime), false)?;
        } else {
            // PAX/GNU metadata records are consumed by the reader; anything else is skipped,
            // as containerd's applier does.
            continue;
        }
        record(w, &path, kind);
    }
    // Directory mtimes last: creating their children moved them.
    for (path, mtime) in dirs.into_iter().rev() {
        let md = std::fs::symlink_metadata(&path).map_err(|e| io_err("lstat", &path, e))?;
        set_meta(
            &path,
            md.mode() & 0o7777,
            md.uid(),
            md.gid(),
            Some(mtime),
            false,
        )?;
    }
    Ok(())
}

fn remove_any(path: &Path) -> Result<(), CopyError> {
    std::fs::remove_file(path).map_err(|e| io_err("remove", path, e))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn member_names_cannot_climb() {
        assert_eq!(clean_member(Path::new("a/../b")), Some(PathBuf::from("b")));
        assert_eq!(
            clean_member(Path::new("/etc/x")),
            Some(PathBuf::from("etc/x"))
        );
        assert_eq!(clean_member(Path::new("../x")), None);
        assert_eq!(clean_member(Path::new("a/../../x")), None);
    }
}
