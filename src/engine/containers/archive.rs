//! A container's files as tar archives, for `docker cp` through the API (`HEAD/GET/PUT
//! /containers/{id}/archive`) and for `strata cp` with `-` on one side: the stat of a path,
//! the archive of a path, and the extraction of an archive into a directory. Every path is
//! resolved inside the container's root (`ContainerFs`), so none can name a host file.

use std::io::{Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use super::error::{Error, Result};
use crate::container::access::cp_fs;
use crate::container::cp::{copy_with, host_path, CpError, Owner};
use crate::container::export::archive_path;
use crate::container::tree::{ContainerFs, TreeError};
use crate::container::Containers;
use crate::store::Store;

/// Docker's `PathStat` (`X-Docker-Container-Path-Stat`): `mode` carries Go's `os.FileMode`
/// bits, which the docker CLI reads.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct PathStat {
    pub name: String,
    pub size: i64,
    pub mode: u32,
    pub mtime: String,
    #[serde(rename = "linkTarget")]
    pub link_target: String,
}

/// How `put` treats what the archive holds.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PutOptions {
    /// Keep the archive's owners (`docker cp -a`); else root:root, as Docker makes them.
    pub copy_uid_gid: bool,
    /// Refuse to replace a directory with a non-directory or the reverse (the docker CLI's
    /// `cp` asks this); without it either gives way to the archive's entry, as with dockerd.
    pub no_overwrite_dir_non_dir: bool,
}

/// A container path is taken from the container's `/` (a relative one too, as Docker does
/// for its working directory `/`).
pub fn in_root(path: &str) -> PathBuf {
    let mut s = String::from("/");
    s.push_str(path);
    s.into()
}

fn not_found(path: &str, container: &str) -> Error {
    Error::FileNotFound {
        path: path.to_string(),
        container: container.to_string(),
    }
}

/// The container `query` names and the tree `cp` works on.
fn open(root: &Path, query: &str) -> Result<ContainerFs> {
    let store = Store::open(root)?;
    let c = Containers::new(store.root()).find(query)?;
    Ok(cp_fs(&store, &c)?)
}

/// Go's `os.FileMode` for a Unix mode: the permission bits, and the type and special bits
/// at Go's positions.
pub fn go_file_mode(mode: u32) -> u32 {
    const DIR: u32 = 1 << 31;
    const SYMLINK: u32 = 1 << 27;
    const DEVICE: u32 = 1 << 26;
    const PIPE: u32 = 1 << 25;
    const SOCKET: u32 = 1 << 24;
    const SETUID: u32 = 1 << 23;
    const SETGID: u32 = 1 << 22;
    const CHAR: u32 = 1 << 21;
    const STICKY: u32 = 1 << 20;
    let mut m = mode & 0o777;
    m |= match mode & libc::S_IFMT {
        libc::S_IFDIR => DIR,
        libc::S_IFLNK => SYMLINK,
        libc::S_IFBLK => DEVICE,
        libc::S_IFCHR => DEVICE | CHAR,
        libc::S_IFIFO => PIPE,
        libc::S_IFSOCK => SOCKET,
        _ => 0,
    };
    for (bit, go) in [
        (libc::S_ISUID, SETUID),
        (libc::S_ISGID, SETGID),
        (libc::S_ISVTX, STICKY),
    ] {
        if mode & bit != 0 {
            m |= go;
        }
    }
    m
}

/// RFC 3339 with nanoseconds, as Go's `time.Time` marshals.
pub fn rfc3339_nanos(secs: i64, nanos: i64) -> String {
    let base = crate::store::time::format_rfc3339(secs);
    match (base.strip_suffix('Z'), nanos) {
        (Some(b), n) if n > 0 => {
            let frac = format!("{n:09}");
            format!("{b}.{}Z", frac.trim_end_matches('0'))
        }
        _ => base,
    }
}

/// The stat of `path` in the container (a final symlink not followed).
pub fn stat(root: &Path, query: &str, path: &str) -> Result<PathStat> {
    let fs = open(root, query)?;
    stat_in(&fs, query, path)
}

fn stat_in(fs: &ContainerFs, query: &str, path: &str) -> Result<PathStat> {
    let abs = in_root(path);
    let rel = fs.resolve(&abs, false)?;
    let e = fs.lstat(&rel)?.ok_or_else(|| not_found(path, query))?;
    let link_target = if e.md.file_type().is_symlink() {
        // Docker names where the link leads, resolved inside the container.
        let to = fs.resolve(&abs, true)?;
        Path::new("/").join(to).display().to_string()
    } else {
        String::new()
    };
    let name = rel
        .file_name()
        .map(|n| String::from_utf8_lossy(n.as_bytes()).into_owned())
        .unwrap_or_else(|| "/".into());
    Ok(PathStat {
        name,
        size: e.md.size() as i64,
        mode: go_file_mode(e.md.mode()),
        mtime: rfc3339_nanos(e.md.mtime(), e.md.mtime_nsec()),
        link_target,
    })
}

/// The stat of `path`, and a function that writes its archive (found before the first byte
/// is written, so a missing path is an error of its own).
pub fn get(
    root: &Path,
    query: &str,
    path: &str,
) -> Result<(PathStat, impl FnOnce(&mut dyn Write) -> Result<u64>)> {
    let fs = open(root, query)?;
    let st = stat_in(&fs, query, path)?;
    let abs = in_root(path);
    Ok((st, move |out: &mut dyn Write| -> Result<u64> {
        Ok(archive_path(&fs, &abs, out)?)
    }))
}

/// Why an archive entry may not be unpacked: a path that climbs out with `..`.
fn escapes(p: &Path) -> bool {
    p.components().any(|c| matches!(c, Component::ParentDir))
}

/// Extracts the tar `input` into the directory `path` of the container. The archive is
/// unpacked into a temp dir of the store first (entries climbing out with `..` refused),
/// then copied in with the container-side path rules, so a symlink in the container can never
/// lead a write outside its root. A non-directory replaces a directory of its name, and the
/// reverse, unless `no_overwrite_dir_non_dir`, which refuses it in dockerd's words.
pub fn put(
    root: &Path,
    query: &str,
    path: &str,
    input: &mut dyn Read,
    opts: PutOptions,
) -> Result<()> {
    let store = Store::open(root)?;
    let c = Containers::new(store.root()).find(query)?;
    let fs = cp_fs(&store, &c)?;
    let dest = in_root(path);
    let rel = fs.resolve(&dest, true)?;
    match fs.lstat(&rel)? {
        None => return Err(not_found(path, query)),
        Some(e) if !e.md.is_dir() => return Err(Error::ExtractNotDir(path.to_string())),
        Some(_) => {}
    }
    let tmp = store.temp_dir()?;
    let mut ar = tar::Archive::new(input);
    ar.set_preserve_permissions(true);
    ar.set_preserve_ownerships(true);
    ar.set_preserve_mtime(true);
    ar.set_overwrite(true);
    let bad = |source| Error::Io {
        op: "reading the archive".into(),
        source,
    };
    for entry in ar.entries().map_err(bad)? {
        let mut entry = entry.map_err(bad)?;
        let name = entry.path().map_err(bad)?.into_owned();
        if escapes(&name) {
            return Err(Error::ArchiveEscape(name.display().to_string()));
        }
        entry.unpack_in(tmp.path()).map_err(bad)?;
    }
    let (host, _) = host_path(Path::new("/")).map_err(Error::io("the host's root"))?;
    let mut src = tmp.path().as_os_str().to_owned();
    src.push("/.");
    let owner = if opts.copy_uid_gid {
        Owner::Keep
    } else {
        Owner::Set(0, 0)
    };
    let replace = !opts.no_overwrite_dir_non_dir;
    copy_with(&host, Path::new(&src), &fs, &dest, false, owner, replace).map_err(|e| {
        let into = Path::new("/").join(&rel).display().to_string();
        match e {
            CpError::FileOntoDir(p) => Error::OverwriteDir {
                path: p.display().to_string(),
                dest: into,
            },
            CpError::DirOntoFile(p) => Error::OverwriteNonDir {
                path: p.display().to_string(),
                dest: into,
            },
            other => other.into(),
        }
    })
}

impl From<TreeError> for Error {
    fn from(e: TreeError) -> Error {
        Error::Tree(e)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_modes() {
        for (unix, go) in [
            (libc::S_IFREG | 0o644, 0o644),
            (libc::S_IFDIR | 0o755, (1 << 31) | 0o755),
            (libc::S_IFLNK | 0o777, (1 << 27) | 0o777),
            (libc::S_IFDIR | 0o1777, (1 << 31) | (1 << 20) | 0o777),
            (libc::S_IFREG | 0o4755, (1 << 23) | 0o755),
            (libc::S_IFCHR | 0o666, (1 << 26) | (1 << 21) | 0o666),
        ] {
            assert_eq!(go_file_mode(unix), go, "{unix:o}");
        }
    }

    #[test]
    fn times() {
        assert_eq!(rfc3339_nanos(0, 0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339_nanos(0, 500_000_000), "1970-01-01T00:00:00.5Z");
        assert_eq!(rfc3339_nanos(0, 1), "1970-01-01T00:00:00.000000001Z");
    }

    #[test]
    fn escaping_names() {
        for (p, want) in [
            ("a/b", false),
            ("../x", true),
            ("a/../../x", true),
            ("./a", false),
        ] {
            assert_eq!(escapes(Path::new(p)), want, "{p}");
        }
    }
}
