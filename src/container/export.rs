//! `strata export`: a container's whole filesystem as one plain tar, entries in tree order
//! (parents before children, names sorted), with modes, owners and mtimes as they are.
//! Sockets are left out (tar cannot hold them); hard links are written as separate files.

use std::io::{self, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use super::tree::{io_err, ContainerFs, Entry, TreeError};

/// Writes the tree under `fs`'s root as a tar to `out`; returns the number of entries.
pub fn export(fs: &ContainerFs, out: &mut dyn Write) -> Result<u64, TreeError> {
    let mut b = tar::Builder::new(out);
    let root = fs.root()?;
    let mut n = 0;
    write_tree(fs, &mut b, &root, Path::new(""), &mut n)?;
    b.into_inner()
        .and_then(|w| w.flush())
        .map_err(io_err("write", Path::new("<export>")))?;
    Ok(n)
}

/// Writes the children of `dir` (at archive path `rel`), depth first.
pub(crate) fn write_tree(
    fs: &ContainerFs,
    b: &mut tar::Builder<&mut dyn Write>,
    dir: &Entry,
    rel: &Path,
    n: &mut u64,
) -> Result<(), TreeError> {
    for (name, e) in fs.children(dir)? {
        let child = rel.join(&name);
        if append_entry(fs, b, &e, &child)? {
            *n += 1;
        }
        if e.md.is_dir() {
            write_tree(fs, b, &e, &child, n)?;
        }
    }
    Ok(())
}

/// Appends one entry (not its children) at archive path `name`; false when skipped (sockets).
pub(crate) fn append_entry(
    fs: &ContainerFs,
    b: &mut tar::Builder<&mut dyn Write>,
    e: &Entry,
    name: &Path,
) -> Result<bool, TreeError> {
    let md = &e.md;
    let ft = md.file_type();
    if ft.is_socket() {
        return Ok(false);
    }
    let mut h = tar::Header::new_gnu();
    h.set_metadata_in_mode(md, tar::HeaderMode::Complete);
    h.set_mode(md.mode() & 0o7777);
    let werr = |e: io::Error| io_err("write archive entry", name)(e);
    if ft.is_symlink() {
        let target = fs.read_link(e)?;
        h.set_size(0);
        b.append_link(&mut h, name, &target).map_err(werr)?;
    } else if ft.is_file() {
        // The size in the header is the one looked at: a file that grows meanwhile is cut
        // there, one that shrinks is padded with zeros, so the archive stays whole.
        let f = io::Read::take(fs.open_file(e)?, md.size());
        let f = io::Read::take(io::Read::chain(f, io::repeat(0)), md.size());
        b.append_data(&mut h, name, f).map_err(werr)?;
    } else {
        h.set_size(0);
        if ft.is_char_device() || ft.is_block_device() {
            let rdev = md.rdev();
            h.set_device_major(libc::major(rdev)).map_err(werr)?;
            h.set_device_minor(libc::minor(rdev)).map_err(werr)?;
        }
        let mut path = name.as_os_str().as_bytes().to_vec();
        if ft.is_dir() {
            path.push(b'/');
        }
        b.append_data(
            &mut h,
            Path::new(std::ffi::OsStr::from_bytes(&path)),
            io::empty(),
        )
        .map_err(werr)?;
    }
    Ok(true)
}

/// `cp CONTAINER:PATH -`: the entry at `path` (resolved in `fs`, a final symlink kept) as a
/// tar named by its last component, a directory with everything under it; a path ending in
/// `/.` gives the directory's contents only. Returns the number of entries.
pub fn archive_path(fs: &ContainerFs, path: &Path, out: &mut dyn Write) -> Result<u64, TreeError> {
    let bytes = path.as_os_str().as_bytes();
    let contents_only = bytes.ends_with(b"/.");
    let follow = contents_only || bytes.ends_with(b"/");
    let rel = fs.resolve(path, follow)?;
    let entry = fs.lstat(&rel)?.ok_or_else(|| TreeError::Io {
        op: "find",
        path: path.to_path_buf(),
        source: io::Error::from(io::ErrorKind::NotFound),
    })?;
    let mut b = tar::Builder::new(out);
    let mut n = 0;
    if contents_only && entry.md.is_dir() {
        write_tree(fs, &mut b, &entry, Path::new(""), &mut n)?;
    } else {
        let name = rel.file_name().map(Path::new).unwrap_or(Path::new("."));
        if append_entry(fs, &mut b, &entry, name)? {
            n += 1;
        }
        if entry.md.is_dir() {
            write_tree(fs, &mut b, &entry, name, &mut n)?;
        }
    }
    b.into_inner()
        .and_then(|w| w.flush())
        .map_err(io_err("write", Path::new("<archive>")))?;
    Ok(n)
}
