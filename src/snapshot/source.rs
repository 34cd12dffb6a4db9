//! Reading a file's metadata from disk into a tar [`EntryHeader`]: type, mode, owner, clamped
//! mtime, device numbers, symlink target and portable xattrs.

use std::ffi::CString;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use super::tar_layout::{xattr_is_portable, EntryHeader, Kind};

/// The mtime a layer records: whole seconds, clamped to `SOURCE_DATE_EPOCH` when set.
pub fn clamp_mtime(mtime: i64, epoch: Option<i64>) -> i64 {
    match epoch {
        Some(e) => mtime.min(e),
        None => mtime,
    }
}

/// Builds the header of `full` (archive path `rel`) from its `lstat` metadata. Hard links are
/// resolved by the caller, which sees the whole ordering.
pub fn header_for(
    full: &Path,
    rel: &[u8],
    md: &std::fs::Metadata,
    epoch: Option<i64>,
) -> io::Result<EntryHeader> {
    let ft = md.file_type();
    let dev = md.rdev();
    let kind = if ft.is_file() {
        Kind::File { size: md.len() }
    } else if ft.is_dir() {
        Kind::Dir
    } else if ft.is_symlink() {
        Kind::Symlink {
            target: std::fs::read_link(full)?.as_os_str().as_bytes().to_vec(),
        }
    } else if ft.is_char_device() {
        Kind::Char {
            major: libc::major(dev),
            minor: libc::minor(dev),
        }
    } else if ft.is_block_device() {
        Kind::Block {
            major: libc::major(dev),
            minor: libc::minor(dev),
        }
    } else if ft.is_fifo() {
        Kind::Fifo
    } else {
        return Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "sockets cannot be stored in a layer",
        ));
    };
    Ok(EntryHeader {
        path: rel.to_vec(),
        kind,
        mode: md.mode() & 0o7777,
        uid: u64::from(md.uid()),
        gid: u64::from(md.gid()),
        mtime: clamp_mtime(md.mtime(), epoch),
        xattrs: read_xattrs(full)?,
    })
}

/// The portable xattrs of `path` itself (not following a symlink).
pub fn read_xattrs(path: &Path) -> io::Result<Vec<(Vec<u8>, Vec<u8>)>> {
    let c = CString::new(path.as_os_str().as_bytes())?;
    let names = loop {
        // SAFETY: a null buffer with size 0 asks only for the needed length.
        let n = unsafe { libc::llistxattr(c.as_ptr(), std::ptr::null_mut(), 0) };
        if n < 0 {
            return match io::Error::last_os_error() {
                e if e.raw_os_error() == Some(libc::ENOTSUP) => Ok(Vec::new()),
                e => Err(e),
            };
        }
        if n == 0 {
            return Ok(Vec::new());
        }
        let mut buf = vec![0u8; n as usize];
        // SAFETY: `buf` is valid for `buf.len()` bytes.
        let m = unsafe { libc::llistxattr(c.as_ptr(), buf.as_mut_ptr().cast(), buf.len()) };
        if m >= 0 {
            buf.truncate(m as usize);
            break buf;
        }
        // ERANGE: the list grew between the two calls; ask again.
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::ERANGE) {
            return Err(e);
        }
    };
    let mut out = Vec::new();
    for name in names.split(|&b| b == 0).filter(|n| !n.is_empty()) {
        if !xattr_is_portable(name) {
            continue;
        }
        let cname = CString::new(name)?;
        if let Some(v) = get_xattr(&c, &cname)? {
            out.push((name.to_vec(), v));
        }
    }
    out.sort();
    Ok(out)
}

fn get_xattr(path: &CString, name: &CString) -> io::Result<Option<Vec<u8>>> {
    loop {
        // SAFETY: size query with a null buffer.
        let n = unsafe { libc::lgetxattr(path.as_ptr(), name.as_ptr(), std::ptr::null_mut(), 0) };
        if n < 0 {
            let e = io::Error::last_os_error();
            return if e.raw_os_error() == Some(libc::ENODATA) {
                Ok(None)
            } else {
                Err(e)
            };
        }
        let mut buf = vec![0u8; n as usize];
        // SAFETY: `buf` is valid for `buf.len()` bytes.
        let m = unsafe {
            libc::lgetxattr(
                path.as_ptr(),
                name.as_ptr(),
                buf.as_mut_ptr().cast(),
                buf.len(),
            )
        };
        if m >= 0 {
            buf.truncate(m as usize);
            return Ok(Some(buf));
        }
        let e = io::Error::last_os_error();
        if e.raw_os_error() != Some(libc::ERANGE) {
            return Err(e);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clamp_table() {
        for (mtime, epoch, want) in [
            (100, None, 100),
            (100, Some(50), 50),
            (100, Some(200), 100),
            (-3, Some(0), -3),
        ] {
            assert_eq!(clamp_mtime(mtime, epoch), want, "{mtime} {epoch:?}");
        }
    }
}
