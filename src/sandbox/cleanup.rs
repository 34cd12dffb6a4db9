//! Undoing what a run leaves behind on the host: the mountpoints it had to create on the
//! root filesystem, and descriptors a forked helper must not keep.

use std::os::fd::RawFd;
use std::path::{Path, PathBuf};

/// Removes created mountpoints (inside-root paths, parents first) from `base` (the upperdir
/// or root dir) when they are still an empty file or empty directory, children first.
/// Anything else is left alone: the command put it there.
pub fn remove_created_mountpoints(base: &Path, created: &[PathBuf]) {
    for inner in created.iter().rev() {
        let host = base.join(inner.strip_prefix("/").unwrap_or(inner));
        let Ok(meta) = std::fs::symlink_metadata(&host) else {
            continue;
        };
        if meta.is_file() && meta.len() == 0 {
            let _ = std::fs::remove_file(&host);
        } else if meta.is_dir() {
            let _ = std::fs::remove_dir(&host);
        }
    }
}

/// Closes every descriptor above 2 except `keep`, in a forked child that holds copies of
/// all the caller's descriptors (other runs' pipes among them, which would otherwise never
/// see end-of-file).
pub fn close_fds_except(keep: &[RawFd]) {
    let mut keep: Vec<RawFd> = keep.iter().copied().filter(|fd| *fd > 2).collect();
    keep.sort_unstable();
    let mut first: libc::c_uint = 3;
    for fd in keep {
        let fd = fd as libc::c_uint;
        if fd > first {
            close_range(first, fd - 1);
        }
        first = fd + 1;
    }
    close_range(first, libc::c_uint::MAX);
}

fn close_range(first: libc::c_uint, last: libc::c_uint) {
    // SAFETY: close_range only closes descriptors; the ones we still use are outside the range.
    let ret = unsafe { libc::syscall(libc::SYS_close_range, first, last, 0) };
    if ret < 0 {
        for fd in first..=last.min(65535) {
            // SAFETY: as above, one descriptor at a time (kernels before 5.9).
            unsafe { libc::close(fd as RawFd) };
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_empty_created_mountpoints_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let b = dir.path();
        std::fs::create_dir_all(b.join("etc")).unwrap();
        std::fs::write(b.join("etc/hosts"), "").unwrap();
        std::fs::write(b.join("etc/resolv.conf"), "written by the command").unwrap();
        std::fs::create_dir_all(b.join("mnt/cache")).unwrap();
        std::fs::create_dir_all(b.join("data")).unwrap();
        std::fs::write(b.join("data/x"), "x").unwrap();
        let created: Vec<PathBuf> = [
            "/etc",
            "/etc/hosts",
            "/etc/resolv.conf",
            "/mnt",
            "/mnt/cache",
            "/data",
            "/gone",
        ]
        .iter()
        .map(PathBuf::from)
        .collect();
        remove_created_mountpoints(b, &created);
        assert!(!b.join("etc/hosts").exists());
        assert!(b.join("etc/resolv.conf").exists());
        assert!(b.join("etc").exists());
        assert!(!b.join("mnt").exists());
        assert!(b.join("data/x").exists());
    }
}
