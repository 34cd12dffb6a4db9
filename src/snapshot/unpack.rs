//! Unpacking a layer tar into a directory: OCI whiteouts become overlayfs whiteouts (or are
//! applied by deleting, for a flattened rootfs), and no entry can land outside the destination.

use std::collections::HashSet;
use std::fs::File;
use std::io::{self, BufRead, BufReader, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use tar::EntryType;

use super::fsops;
use super::lower_links::{defer_link, link_from_lowers, DeferredLink};
use super::tar_layout::xattr_is_portable;
use super::whiteout::{self, Name};
use crate::util::safe_path::{self, OnEscape, SafePathError};
use crate::util::tar_fields::{numeric, Field};

/// Wraps a possibly compressed layer blob in the matching decompressor, chosen by its magic
/// bytes: gzip (also multi-member, as pigz writes), zstd, or a plain tar passed through.
pub fn decompress(r: Box<dyn Read + Send>) -> io::Result<Box<dyn Read + Send>> {
    let mut r = BufReader::with_capacity(256 * 1024, r);
    let head = r.fill_buf()?;
    let magic = &head[..head.len().min(6)];
    if magic.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(flate2::bufread::MultiGzDecoder::new(r)))
    } else if magic.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Ok(Box::new(zstd::stream::read::Decoder::with_buffer(r)?))
    } else if magic.starts_with(b"BZh") {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "bzip2-compressed layers are not supported",
        ))
    } else if magic.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Err(io::Error::new(
            io::ErrorKind::Unsupported,
            "xz-compressed layers are not supported",
        ))
    } else {
        Ok(Box::new(r))
    }
}

/// How OCI whiteouts are represented in the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WhiteoutMode {
    /// The destination holds this one layer as an overlayfs lowerdir: `.wh.x` becomes a 0/0
    /// character device `x` and `.wh..wh..opq` the `trusted.overlay.opaque=y` xattr
    /// (`user.overlay.opaque` in a user namespace, whose overlays are `userxattr` mounts).
    Overlay,
    /// The destination is the union of the layers so far (a flattened rootfs): whiteouts delete.
    Delete,
}

/// Options of [`unpack_layer_with`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct UnpackOptions {
    pub whiteouts: WhiteoutMode,
    /// What a symlink on the way to an entry may do. `Refuse` (the default) rejects any entry
    /// reached through a link that is absolute or climbs above the destination; `Clamp`
    /// resolves such links as if the destination were `/` (chroot semantics).
    pub symlinks: OnEscape,
}

impl Default for UnpackOptions {
    fn default() -> Self {
        UnpackOptions {
            whiteouts: WhiteoutMode::Overlay,
            symlinks: OnEscape::Refuse,
        }
    }
}

/// What an unpack did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UnpackStats {
    /// Entries created (whiteouts not included).
    pub entries: u64,
    /// Regular file bytes written.
    pub bytes: u64,
    /// Whiteouts and opaque markers applied.
    pub whiteouts: u64,
}

/// Why a layer could not be unpacked; every variant names the entry at fault.
#[derive(Debug, thiserror::Error)]
pub enum UnpackError {
    #[error("reading the layer tar: {0}")]
    Read(#[source] io::Error),
    #[error("tar entry {entry:?} would be written outside the destination: {reason}")]
    Escape { entry: String, reason: String },
    #[error("tar entry {entry:?}: {reason}")]
    Invalid { entry: String, reason: String },
    #[error("tar entry {entry:?}: {op} {path:?}: {source}")]
    Io {
        entry: String,
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Unpacks `tar` (already decompressed) into `dest` as one overlay lowerdir, refusing escapes.
pub fn unpack_layer(tar: &mut dyn Read, dest: &Path) -> Result<UnpackStats, UnpackError> {
    unpack_layer_with(tar, dest, &UnpackOptions::default())
}

/// Splits an archive name into its components, refusing absolute names and `..`.
/// `./a//b/` → `["a", "b"]`; `./` → `[]` (the root itself).
pub fn archive_components(name: &[u8]) -> Result<Vec<&[u8]>, &'static str> {
    if name.first() == Some(&b'/') {
        return Err("absolute path");
    }
    let mut out = Vec::new();
    for c in name.split(|&b| b == b'/') {
        match c {
            b"" | b"." => {}
            b".." => return Err("\"..\" in path"),
            c => out.push(c),
        }
    }
    Ok(out)
}

fn join(components: &[&[u8]]) -> PathBuf {
    let mut p = PathBuf::new();
    for c in components {
        p.push(std::ffi::OsStr::from_bytes(c));
    }
    p
}

/// Unpacks `tar` into `dest` with the given whiteout representation and symlink policy. A hard
/// link to a path the layer does not contain is an error (see [`unpack_layer_over`]).
pub fn unpack_layer_with(
    tar: &mut dyn Read,
    dest: &Path,
    opts: &UnpackOptions,
) -> Result<UnpackStats, UnpackError> {
    unpack_layer_over(tar, dest, opts, &[])
}

/// Unpacks `tar` into `dest` like [`unpack_layer_with`], where `lowerdirs` are the snapshot dirs
/// of the layers below (top first, as for overlayfs): a hard link whose target this layer does
/// not contain becomes a copy of the file the lower layers show there (see
/// [`super::lower_links`] for why a copy).
pub fn unpack_layer_over(
    tar: &mut dyn Read,
    dest: &Path,
    opts: &UnpackOptions,
    lowerdirs: &[PathBuf],
) -> Result<UnpackStats, UnpackError> {
    let (stats, links) = unpack_layer_deferring(tar, dest, opts)?;
    link_from_lowers(dest, &links, lowerdirs)?;
    Ok(stats)
}

/// Unpacks `tar` into `dest` except the hard links whose target is not in `dest`, which are
/// returned for [`link_from_lowers`] once the lower layers are at hand (so layers can be
/// unpacked in parallel). Until then `dest` lacks those paths.
pub fn unpack_layer_deferring(
    tar: &mut dyn Read,
    dest: &Path,
    opts: &UnpackOptions,
) -> Result<(UnpackStats, Vec<DeferredLink>), UnpackError> {
    let mut u = Unpacker {
        dest,
        opts: *opts,
        stats: UnpackStats::default(),
        written: HashSet::new(),
        whited: HashSet::new(),
        dir_times: Vec::new(),
        deferred: Vec::new(),
        buf: vec![0; 1 << 20],
    };
    let mut archive = tar::Archive::new(tar);
    for entry in archive.entries().map_err(UnpackError::Read)? {
        let mut entry = entry.map_err(UnpackError::Read)?;
        u.entry(&mut entry)?;
    }
    // Directory mtimes last: creating their contents moved them.
    for (path, mtime, entry) in u.dir_times.iter().rev() {
        fsops::set_mtime(path, *mtime).map_err(|source| UnpackError::Io {
            entry: entry.clone(),
            op: "set mtime of",
            path: path.clone(),
            source,
        })?;
    }
    Ok((u.stats, u.deferred))
}

struct Unpacker<'a> {
    dest: &'a Path,
    opts: UnpackOptions,
    stats: UnpackStats,
    /// Paths this layer created, which its own whiteouts must not delete.
    written: HashSet<PathBuf>,
    /// Overlay whiteout devices this layer created.
    whited: HashSet<PathBuf>,
    dir_times: Vec<(PathBuf, i64, String)>,
    /// Hard links to targets this layer does not hold, in tar order.
    deferred: Vec<DeferredLink>,
    /// Copy buffer: large, so big files take few syscalls.
    buf: Vec<u8>,
}

/// The metadata of an entry, gathered before its data is read.
struct Meta {
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: i64,
    xattrs: Vec<(Vec<u8>, Vec<u8>)>,
}

impl Unpacker<'_> {
    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<'_, R>) -> Result<(), UnpackError> {
        let kind = entry.header().entry_type();
        if matches!(kind, EntryType::XGlobalHeader | EntryType::XHeader) {
            return Ok(());
        }
        let raw = entry.path_bytes().into_owned();
        let name = String::from_utf8_lossy(&raw).into_owned();
        let comps = archive_components(&raw).map_err(|r| UnpackError::Escape {
            entry: name.clone(),
            reason: r.into(),
        })?;
        let invalid = |reason: &str| UnpackError::Invalid {
            entry: name.clone(),
            reason: reason.into(),
        };
        let meta = self.meta(entry, &name)?;

        let Some((last, parents)) = comps.split_last() else {
            // "./": the destination directory itself.
            if kind.is_dir() {
                self.apply_meta(self.dest, &meta, true, &name)?;
                self.dir_times
                    .push((self.dest.to_path_buf(), meta.mtime, name.clone()));
            }
            return Ok(());
        };
        let parent = self.resolve(&join(parents), true, &name)?;
        let class = whiteout::classify(last);
        if self.opts.whiteouts == WhiteoutMode::Delete
            && class != Name::Plain
            && std::fs::symlink_metadata(&parent).is_err()
        {
            // Nothing below to delete, and a whiteout must not conjure its directory up.
            self.stats.whiteouts += 1;
            return Ok(());
        }
        self.mkdirs(&parent, &name)?;

        match class {
            Name::Opaque => {
                self.stats.whiteouts += 1;
                return self.opaque(&parent, &name);
            }
            Name::Whiteout(target) => {
                if matches!(target, b"" | b"." | b"..") || target.contains(&b'/') {
                    return Err(invalid("whiteout of an invalid name"));
                }
                self.stats.whiteouts += 1;
                let path = parent.join(std::ffi::OsStr::from_bytes(target));
                return self.whiteout(&path, &name);
            }
            Name::Plain => {}
        }

        let target = parent.join(std::ffi::OsStr::from_bytes(last));
        let io_err = |op: &'static str, path: &Path| {
            let entry = name.clone();
            let path = path.to_path_buf();
            move |source| UnpackError::Io {
                entry,
                op,
                path,
                source,
            }
        };
        match kind {
            EntryType::Directory => {
                let is_dir = std::fs::symlink_metadata(&target).is_ok_and(|m| m.is_dir());
                if !is_dir {
                    fsops::remove_any(&target).map_err(io_err("remove", &target))?;
                    std::fs::create_dir(&target).map_err(io_err("create directory", &target))?;
                }
                if self.opts.whiteouts == WhiteoutMode::Overlay && self.whited.remove(&target) {
                    // Deleted and re-created in one layer: hide the lower directory's contents.
                    fsops::set_opaque(&target).map_err(io_err("mark opaque", &target))?;
                }
                self.apply_meta(&target, &meta, true, &name)?;
                self.dir_times
                    .push((target.clone(), meta.mtime, name.clone()));
            }
            EntryType::Regular | EntryType::Continuous => {
                fsops::remove_any(&target).map_err(io_err("remove", &target))?;
                let mut f = File::options()
                    .write(true)
                    .create_new(true)
                    .mode(0o600)
                    .custom_flags(libc::O_NOFOLLOW)
                    .open(&target)
                    .map_err(io_err("create", &target))?;
                let mut left = entry.size();
                while left > 0 {
                    let want = (self.buf.len() as u64).min(left) as usize;
                    let n = match entry.read(&mut self.buf[..want]) {
                        Ok(0) => {
                            return Err(UnpackError::Read(io::ErrorKind::UnexpectedEof.into()))
                        }
                        Ok(n) => n,
                        Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                        Err(e) => return Err(UnpackError::Read(e)),
                    };
                    f.write_all(&self.buf[..n])
                        .map_err(io_err("write", &target))?;
                    left -= n as u64;
                }
                self.stats.bytes += entry.size();
                drop(f);
                self.apply_meta(&target, &meta, true, &name)?;
                fsops::set_mtime(&target, meta.mtime).map_err(io_err("set mtime of", &target))?;
            }
            EntryType::Symlink => {
                let link = entry
                    .link_name_bytes()
                    .ok_or_else(|| invalid("symlink without a target"))?;
                fsops::remove_any(&target).map_err(io_err("remove", &target))?;
                std::os::unix::fs::symlink(std::ffi::OsStr::from_bytes(&link), &target)
                    .map_err(io_err("create symlink", &target))?;
                self.apply_meta(&target, &meta, false, &name)?;
                fsops::set_mtime(&target, meta.mtime).map_err(io_err("set mtime of", &target))?;
            }
            EntryType::Link => {
                let link = entry
                    .link_name_bytes()
                    .ok_or_else(|| invalid("hard link without a target"))?;
                let lcomps = archive_components(&link).map_err(|r| UnpackError::Escape {
                    entry: name.clone(),
                    reason: format!("hard link target: {r}"),
                })?;
                if lcomps.is_empty() {
                    return Err(invalid("hard link to the root"));
                }
                let source = self.resolve(&join(&lcomps), false, &name)?;
                let smd = match std::fs::symlink_metadata(&source) {
                    Ok(md) => md,
                    Err(e)
                        if e.kind() == io::ErrorKind::NotFound
                            || e.raw_os_error() == Some(libc::ENOTDIR) =>
                    {
                        // Not in this layer: it comes from a lower one, linked later.
                        fsops::remove_any(&target).map_err(io_err("remove", &target))?;
                        defer_link(&mut self.deferred, self.dest, name, &source, &target);
                        self.whited.remove(&target);
                        self.written.insert(target);
                        self.stats.entries += 1;
                        return Ok(());
                    }
                    Err(e) => return Err(io_err("find hard link target", &source)(e)),
                };
                if smd.is_dir() {
                    return Err(invalid("hard link to a directory"));
                }
                let same = std::fs::symlink_metadata(&target)
                    .is_ok_and(|t| t.ino() == smd.ino() && t.dev() == smd.dev());
                if !same {
                    fsops::remove_any(&target).map_err(io_err("remove", &target))?;
                    std::fs::hard_link(&source, &target).map_err(io_err("hard link", &target))?;
                }
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                let (major, minor) = (
                    entry.header().device_major().ok().flatten().unwrap_or(0),
                    entry.header().device_minor().ok().flatten().unwrap_or(0),
                );
                let fmt = match kind {
                    EntryType::Char => libc::S_IFCHR,
                    EntryType::Block => libc::S_IFBLK,
                    _ => libc::S_IFIFO,
                };
                fsops::remove_any(&target).map_err(io_err("remove", &target))?;
                match fsops::mknod(&target, fmt | 0o600, libc::makedev(major, minor)) {
                    Ok(()) => {}
                    // A user namespace may not make device nodes; a rootless build goes on
                    // without them (counted, and the CLI says so once).
                    Err(e) if fmt != libc::S_IFIFO && crate::util::userns::device_refused(&e) => {
                        return Ok(());
                    }
                    Err(e) => return Err(io_err("mknod", &target)(e)),
                }
                self.apply_meta(&target, &meta, true, &name)?;
                fsops::set_mtime(&target, meta.mtime).map_err(io_err("set mtime of", &target))?;
            }
            other => {
                return Err(invalid(&format!("unsupported entry type {other:?}")));
            }
        }
        // A later entry replaces an earlier one, even a link still to be made.
        self.deferred.retain(|d| d.path != target);
        self.whited.remove(&target);
        self.written.insert(target);
        self.stats.entries += 1;
        Ok(())
    }

    fn meta<R: Read>(
        &self,
        entry: &mut tar::Entry<'_, R>,
        name: &str,
    ) -> Result<Meta, UnpackError> {
        let h = entry.header();
        let bad = |what: &str| UnpackError::Invalid {
            entry: name.to_string(),
            reason: format!("bad {what} field"),
        };
        let mode = numeric(h, Field::Mode).map_err(|_| bad("mode"))? as u32 & 0o7777;
        let uid = numeric(h, Field::Uid).map_err(|_| bad("uid"))?;
        let gid = numeric(h, Field::Gid).map_err(|_| bad("gid"))?;
        let mut mtime = numeric(h, Field::Mtime).map_err(|_| bad("mtime"))? as i64;
        let mut xattrs = Vec::new();
        if let Some(pax) = entry.pax_extensions().map_err(UnpackError::Read)? {
            for ext in pax {
                let ext = ext.map_err(UnpackError::Read)?;
                let key = ext.key_bytes();
                if key == b"mtime" {
                    // PAX times may carry a fraction; whole seconds are what we keep.
                    let v = String::from_utf8_lossy(ext.value_bytes());
                    let secs = v.split('.').next().unwrap_or("");
                    mtime = secs.parse().map_err(|_| bad("PAX mtime"))?;
                } else if let Some(x) = key.strip_prefix(b"SCHILY.xattr.") {
                    if xattr_is_portable(x) {
                        xattrs.push((x.to_vec(), ext.value_bytes().to_vec()));
                    }
                }
            }
        }
        let uid = u32::try_from(uid).map_err(|_| bad("uid"))?;
        let gid = u32::try_from(gid).map_err(|_| bad("gid"))?;
        Ok(Meta {
            mode,
            uid,
            gid,
            mtime,
            xattrs,
        })
    }

    /// Owner, xattrs, then mode: chown clears setuid/setgid, so chmod must come after it.
    fn apply_meta(
        &self,
        path: &Path,
        meta: &Meta,
        chmod: bool,
        entry: &str,
    ) -> Result<(), UnpackError> {
        let err = |op: &'static str| {
            let entry = entry.to_string();
            let path = path.to_path_buf();
            move |source| UnpackError::Io {
                entry,
                op,
                path,
                source,
            }
        };
        fsops::lchown(path, meta.uid, meta.gid).map_err(err("chown"))?;
        for (k, v) in &meta.xattrs {
            fsops::lsetxattr(path, k, v).map_err(err("set xattr on"))?;
        }
        if chmod {
            fsops::chmod(path, meta.mode).map_err(err("chmod"))?;
        }
        Ok(())
    }

    fn resolve(&self, rel: &Path, follow_last: bool, entry: &str) -> Result<PathBuf, UnpackError> {
        safe_path::resolve(self.dest, rel, self.opts.symlinks, follow_last).map_err(|e| match e {
            SafePathError::Escape { reason, .. } => UnpackError::Escape {
                entry: entry.to_string(),
                reason,
            },
            SafePathError::TooManyLinks { path } => UnpackError::Invalid {
                entry: entry.to_string(),
                reason: format!("too many symlinks resolving {path:?}"),
            },
            SafePathError::Io { path, source } => UnpackError::Io {
                entry: entry.to_string(),
                op: "resolve",
                path,
                source,
            },
        })
    }

    /// Creates missing parent directories (0755, root-owned), as tar does when a layer omits them.
    fn mkdirs(&self, dir: &Path, entry: &str) -> Result<(), UnpackError> {
        match std::fs::symlink_metadata(dir) {
            Ok(md) if md.is_dir() => Ok(()),
            Ok(_) => Err(UnpackError::Invalid {
                entry: entry.to_string(),
                reason: format!("parent {dir:?} is not a directory"),
            }),
            Err(_) => std::fs::create_dir_all(dir).map_err(|source| UnpackError::Io {
                entry: entry.to_string(),
                op: "create parent directories",
                path: dir.to_path_buf(),
                source,
            }),
        }
    }

    fn opaque(&mut self, dir: &Path, entry: &str) -> Result<(), UnpackError> {
        let res = match self.opts.whiteouts {
            WhiteoutMode::Overlay => fsops::set_opaque(dir),
            WhiteoutMode::Delete => fsops::remove_unwritten_children(dir, &self.written),
        };
        res.map_err(|source| UnpackError::Io {
            entry: entry.to_string(),
            op: "make opaque",
            path: dir.to_path_buf(),
            source,
        })
    }

    fn whiteout(&mut self, path: &Path, entry: &str) -> Result<(), UnpackError> {
        let ours = self.written.contains(path);
        let is_dir = std::fs::symlink_metadata(path).is_ok_and(|m| m.is_dir());
        let res = match (self.opts.whiteouts, ours) {
            // Deleted and re-created in this layer: only lower content must go.
            (WhiteoutMode::Overlay, true) if is_dir => fsops::set_opaque(path),
            (WhiteoutMode::Delete, true) if is_dir => {
                fsops::remove_unwritten_children(path, &self.written)
            }
            (_, true) => Ok(()),
            (WhiteoutMode::Overlay, false) => {
                self.whited.insert(path.to_path_buf());
                fsops::remove_any(path).and_then(|()| fsops::mknod(path, libc::S_IFCHR, 0))
            }
            (WhiteoutMode::Delete, false) => fsops::remove_any(path),
        };
        res.map_err(|source| UnpackError::Io {
            entry: entry.to_string(),
            op: "apply whiteout at",
            path: path.to_path_buf(),
            source,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn archive_components_table() {
        let cases: &[(&str, Result<&[&str], &str>)] = &[
            ("a/b", Ok(&["a", "b"])),
            ("./a//b/", Ok(&["a", "b"])),
            ("./", Ok(&[])),
            ("/etc/passwd", Err("absolute path")),
            ("../x", Err("\"..\" in path")),
            ("a/../../x", Err("\"..\" in path")),
            ("a/..b", Ok(&["a", "..b"])),
        ];
        for (input, want) in cases {
            let got = archive_components(input.as_bytes());
            match want {
                Ok(w) => {
                    let w: Vec<&[u8]> = w.iter().map(|s| s.as_bytes()).collect();
                    assert_eq!(got.unwrap(), w, "{input}");
                }
                Err(e) => assert_eq!(got.unwrap_err(), *e, "{input}"),
            }
        }
    }

    #[test]
    fn decompress_detects_formats() {
        let tar = b"plain tar bytes".to_vec();
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        io::Write::write_all(&mut gz, &tar).unwrap();
        let gz = gz.finish().unwrap();
        let zst = zstd::encode_all(&tar[..], 3).unwrap();
        for blob in [tar.clone(), gz, zst] {
            let mut out = Vec::new();
            decompress(Box::new(io::Cursor::new(blob)))
                .unwrap()
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, tar);
        }
        let bz = decompress(Box::new(io::Cursor::new(b"BZh91AY".to_vec())));
        assert!(bz.is_err());
    }
}
