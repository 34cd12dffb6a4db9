//! Thin wrappers over the metadata syscalls unpacking needs, none of which follow a final
//! symlink (lchown, lsetxattr, utimensat with AT_SYMLINK_NOFOLLOW).

use std::collections::HashSet;
use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

/// The xattr overlayfs reads to treat a lower directory as opaque (on a normal mount; a
/// user-namespace mount reads `user.overlay.opaque`, see [`set_opaque`]).
pub const OVERLAY_OPAQUE: &str = crate::util::userns::TRUSTED_OPAQUE;

fn cpath(p: &Path) -> io::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(io::Error::other)
}

fn check(rc: libc::c_int) -> io::Result<()> {
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

/// In a user namespace an id it does not map is left out (counted), not an error.
pub fn lchown(p: &Path, uid: u32, gid: u32) -> io::Result<()> {
    crate::util::userns::lchown(p, uid, gid)
}

pub fn chmod(p: &Path, mode: u32) -> io::Result<()> {
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(mode))
}

pub fn lsetxattr(p: &Path, name: &[u8], value: &[u8]) -> io::Result<()> {
    let c = cpath(p)?;
    let n = CString::new(name).map_err(io::Error::other)?;
    // SAFETY: valid NUL-terminated strings and a buffer of `value.len()` bytes.
    check(unsafe {
        libc::lsetxattr(
            c.as_ptr(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    })
}

/// Marks `dir` opaque with the xattr the overlays this process mounts will read: `trusted.` as
/// real root, `user.` in a user namespace (which may not set `trusted.` ones at all).
pub fn set_opaque(dir: &Path) -> io::Result<()> {
    lsetxattr(dir, crate::util::userns::opaque_xattr().as_bytes(), b"y")
}

pub fn mknod(p: &Path, mode: libc::mode_t, dev: libc::dev_t) -> io::Result<()> {
    let c = cpath(p)?;
    // SAFETY: valid NUL-terminated path.
    check(unsafe { libc::mknod(c.as_ptr(), mode, dev) })
}

/// Sets atime and mtime of `p` itself (not a symlink's target) to `mtime` seconds.
pub fn set_mtime(p: &Path, mtime: i64) -> io::Result<()> {
    let c = cpath(p)?;
    let t = libc::timespec {
        tv_sec: mtime as libc::time_t,
        tv_nsec: 0,
    };
    let times = [t, t];
    // SAFETY: valid path and a two-element timespec array.
    check(unsafe {
        libc::utimensat(
            libc::AT_FDCWD,
            c.as_ptr(),
            times.as_ptr(),
            libc::AT_SYMLINK_NOFOLLOW,
        )
    })
}

/// Removes whatever is at `p` (a directory recursively), never following a symlink; a missing
/// path is fine.
pub fn remove_any(p: &Path) -> io::Result<()> {
    match std::fs::symlink_metadata(p) {
        Ok(md) if md.is_dir() => std::fs::remove_dir_all(p),
        Ok(_) => std::fs::remove_file(p),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

/// An opaque directory in a flattened rootfs: removes everything under `dir` that the current
/// layer did not write itself (`written`), descending into the directories it did write.
pub fn remove_unwritten_children(dir: &Path, written: &HashSet<PathBuf>) -> io::Result<()> {
    for child in std::fs::read_dir(dir)? {
        let path = child?.path();
        if written.contains(&path) {
            if std::fs::symlink_metadata(&path)?.is_dir() {
                remove_unwritten_children(&path, written)?;
            }
        } else {
            remove_any(&path)?;
        }
    }
    Ok(())
}
