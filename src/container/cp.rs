//! `strata cp`: copies between a container and the host with Docker's rules for files,
//! directories and a trailing `/.`. Both sides are a [`ContainerFs`] (the host is the live tree
//! rooted at `/`), so container paths resolve inside the container's root whichever way the
//! copy goes. Where the copy lands is a pure function ([`plan`]); the copy itself follows.

use std::ffi::{OsStr, OsString};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use super::rootdir::{Made, Slot};
use super::tree::{io_err, ContainerFs, Entry, TreeError};

/// Why a copy failed.
#[derive(Debug, thiserror::Error)]
pub enum CpError {
    #[error("could not find the file {0:?}")]
    NotFound(PathBuf),
    #[error("{0:?}: not a directory")]
    NotADirectory(PathBuf),
    #[error("the destination directory {0:?} must exist")]
    DestDirMissing(PathBuf),
    #[error("cannot copy a directory to a file: {0:?} is not a directory")]
    DirOntoFile(PathBuf),
    #[error("cannot overwrite directory {0:?} with a non-directory")]
    FileOntoDir(PathBuf),
    #[error(transparent)]
    Tree(#[from] TreeError),
}

/// What the destination path shows before the copy.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Dest {
    Missing,
    File,
    Dir,
}

/// Who owns what the copy creates.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Owner {
    /// The source's owner (`cp -a`).
    Keep,
    /// This uid:gid (Docker: root in the container, the caller on the host).
    Set(u32, u32),
}

/// Where the source lands (Docker's `cp` table): `dest` itself, or `dest/<source name>`.
/// `contents_only` is a source ending in `/.`; `dest_slash` a destination ending in `/`.
pub fn plan(
    src_is_dir: bool,
    src_name: Option<&OsStr>,
    contents_only: bool,
    dest: &Path,
    dest_state: Dest,
    dest_slash: bool,
) -> Result<PathBuf, CpError> {
    match (src_is_dir, dest_state) {
        (false, Dest::Missing) if dest_slash => Err(CpError::DestDirMissing(dest.to_path_buf())),
        (_, Dest::Missing) => Ok(dest.to_path_buf()),
        (false, Dest::File) => Ok(dest.to_path_buf()),
        (true, Dest::File) => Err(CpError::DirOntoFile(dest.to_path_buf())),
        (_, Dest::Dir) => match src_name {
            Some(name) if !contents_only => Ok(dest.join(name)),
            _ => Ok(dest.to_path_buf()),
        },
    }
}

/// Copies `src` (a path in `src_fs`, as typed) to `dst` (a path in `dst_fs`, as typed).
/// A source symlink is copied as a link unless `follow` (or the path ends in `/` or `/.`).
/// A directory never replaces a non-directory below `dst`, nor the reverse.
pub fn copy(
    src_fs: &ContainerFs,
    src: &Path,
    dst_fs: &ContainerFs,
    dst: &Path,
    follow: bool,
    owner: Owner,
) -> Result<(), CpError> {
    copy_with(src_fs, src, dst_fs, dst, follow, owner, false)
}

/// `copy`, where with `replace` a directory below `dst` gives way (with all it holds) to a
/// non-directory of the same name and the reverse, as Docker's untar does without
/// `NoOverwriteDirNonDir`.
pub fn copy_with(
    src_fs: &ContainerFs,
    src: &Path,
    dst_fs: &ContainerFs,
    dst: &Path,
    follow: bool,
    owner: Owner,
    replace: bool,
) -> Result<(), CpError> {
    let sb = src.as_os_str().as_bytes();
    let contents_only = sb.ends_with(b"/.") || sb == b".";
    let src_slash = sb.ends_with(b"/") || contents_only;
    let src_rel = src_fs.resolve(src, follow || src_slash)?;
    let entry = src_fs
        .lstat(&src_rel)?
        .ok_or_else(|| CpError::NotFound(src.to_path_buf()))?;
    if src_slash && !entry.md.is_dir() {
        return Err(CpError::NotADirectory(src.to_path_buf()));
    }
    let dst_slash = dst.as_os_str().as_bytes().ends_with(b"/");
    let dst_rel = dst_fs.resolve(dst, true)?;
    let dest_state = match dst_fs.lstat(&dst_rel)? {
        None => Dest::Missing,
        Some(e) if e.md.is_dir() => Dest::Dir,
        Some(_) if dst_slash => return Err(CpError::NotADirectory(dst.to_path_buf())),
        Some(_) => Dest::File,
    };
    let target = plan(
        entry.md.is_dir(),
        src_rel.file_name(),
        contents_only,
        &dst_rel,
        dest_state,
        dst_slash,
    )?;
    if dest_state == Dest::Missing {
        let parent = target.parent().unwrap_or(Path::new(""));
        if !dst_fs.lstat(parent)?.is_some_and(|e| e.md.is_dir()) {
            return Err(CpError::DestDirMissing(
                dst.parent().unwrap_or(Path::new("/")).to_path_buf(),
            ));
        }
    }
    copy_entry(src_fs, &entry, dst_fs, &target, owner, replace)
}

/// Copies one entry (recursively for a directory) to `rel` in `dst_fs`. Each entry is made with
/// `*at` calls in its parent directory as [`ContainerFs::prepare_write`] opened it, and its
/// data read from a descriptor [`ContainerFs::open_file`] opened: no path is looked up twice.
fn copy_entry(
    src_fs: &ContainerFs,
    src: &Entry,
    dst_fs: &ContainerFs,
    rel: &Path,
    owner: Owner,
    replace: bool,
) -> Result<(), CpError> {
    let ft = src.md.file_type();
    let existing = dst_fs.lstat(rel)?;
    let existing_dir = existing.as_ref().is_some_and(|e| e.md.is_dir());
    if ft.is_dir() {
        // With `replace`, `prepare_write` below removes the non-directory.
        if existing.is_some() && !existing_dir && !replace {
            return Err(CpError::DirOntoFile(shown(rel)));
        }
        let made = if existing_dir {
            None
        } else {
            let slot = dst_fs.prepare_write(rel)?;
            let dir = slot
                .mkdir()
                .map_err(io_err("create directory", slot.shown()))?;
            dst_fs.seal_new_dir(rel, &dir, slot.shown())?;
            Some((slot, Made::Open(dir)))
        };
        for (name, child) in src_fs.children(src)? {
            copy_entry(src_fs, &child, dst_fs, &rel.join(&name), owner, replace)?;
        }
        if let Some((slot, made)) = made {
            finish(&slot, &made, &src.md, owner)?;
        }
        return Ok(());
    }
    if existing_dir && !replace {
        return Err(CpError::FileOntoDir(shown(rel)));
    }
    if ft.is_socket() {
        return Ok(());
    }
    let slot = dst_fs.prepare_write(rel)?;
    if existing_dir {
        slot.clear_tree()
            .map_err(io_err("remove directory", slot.shown()))?;
    }
    let made = if ft.is_symlink() {
        let target = src_fs.read_link(src)?;
        slot.symlink(&target)
            .map_err(io_err("create symlink", slot.shown()))?;
        Made::Link
    } else if ft.is_file() {
        let mut from = src_fs.open_file(src)?;
        let mut to = slot.create_file().map_err(io_err("create", slot.shown()))?;
        std::io::copy(&mut from, &mut to).map_err(io_err("copy to", slot.shown()))?;
        Made::Open(to)
    } else {
        let kind = nix::sys::stat::SFlag::from_bits_truncate(src.md.mode() & libc::S_IFMT);
        let node = slot
            .mknod(kind, src.md.rdev())
            .map_err(io_err("create node", slot.shown()))?;
        Made::Node(node)
    };
    finish(&slot, &made, &src.md, owner)
}

/// Owner, mode and times of a created entry, after its contents.
fn finish(slot: &Slot, made: &Made, md: &std::fs::Metadata, owner: Owner) -> Result<(), CpError> {
    let (uid, gid) = match owner {
        Owner::Keep => (md.uid(), md.gid()),
        Owner::Set(u, g) => (u, g),
    };
    slot.finish(made, md, uid, gid)
        .map_err(io_err("set owner, mode and times of", slot.shown()))?;
    Ok(())
}

fn shown(rel: &Path) -> PathBuf {
    Path::new("/").join(rel)
}

/// `CONTAINER:PATH` split into its two halves; `None` for a host path (no `:` before the
/// first `/`, as Docker decides).
pub fn split_container_arg(arg: &str) -> Option<(&str, &str)> {
    if arg.starts_with('/') || arg.starts_with('.') {
        return None;
    }
    let (c, p) = arg.split_once(':')?;
    if c.is_empty() || c.contains('/') {
        return None;
    }
    Some((c, p))
}

/// The host as a tree, and a host path made absolute against the current directory (a
/// trailing `/` or `/.` kept, as it carries meaning).
pub fn host_path(p: &Path) -> std::io::Result<(ContainerFs, PathBuf)> {
    let abs = if p.is_absolute() {
        p.to_path_buf()
    } else {
        let mut s: OsString = std::env::current_dir()?.into_os_string();
        s.push("/");
        s.push(p.as_os_str());
        PathBuf::from(s)
    };
    let host = ContainerFs::live(Path::new("/")).map_err(std::io::Error::other)?;
    Ok((host, abs))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plan_table() {
        use Dest::*;
        let n = Some(OsStr::new("src"));
        // (src is dir, contents only, dest state, dest ends in /, expected target or error)
        let cases: &[(bool, bool, Dest, bool, Option<&str>)] = &[
            (false, false, Missing, false, Some("d")),
            (false, false, Missing, true, None),
            (false, false, File, false, Some("d")),
            (false, false, Dir, false, Some("d/src")),
            (true, false, Missing, false, Some("d")),
            (true, false, File, false, None),
            (true, false, Dir, false, Some("d/src")),
            (true, true, Dir, false, Some("d")),
            (true, true, Missing, false, Some("d")),
        ];
        for (dir, only, state, slash, want) in cases {
            let got = plan(*dir, n, *only, Path::new("d"), *state, *slash);
            match want {
                Some(w) => assert_eq!(got.unwrap(), PathBuf::from(w), "{dir} {only} {state:?}"),
                None => assert!(got.is_err(), "{dir} {only} {state:?} {slash}"),
            }
        }
    }

    #[test]
    fn container_args() {
        let cases: &[(&str, Option<(&str, &str)>)] = &[
            ("web:/etc/passwd", Some(("web", "/etc/passwd"))),
            ("abc123:rel", Some(("abc123", "rel"))),
            ("/tmp/a:b", None),
            ("./a:b", None),
            ("dir/a:b", None),
            ("plain", None),
        ];
        for (arg, want) in cases {
            assert_eq!(split_container_arg(arg), *want, "{arg}");
        }
    }
}
