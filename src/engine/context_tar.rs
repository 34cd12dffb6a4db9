//! A build context that arrives as bytes: which compression wraps it, whether it is a tar at
//! all, and extraction that never writes outside its destination. Blocking I/O throughout.

use super::context_reuse;
use crate::util::read_full::read_full;
use std::collections::HashSet;
use std::ffi::OsStr;
use std::fs;
use std::io::{self, Cursor, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::DirBuilderExt;
use std::path::{Path, PathBuf};

use tar::EntryType;

/// The size of a tar header (and of every tar block).
pub const BLOCK: usize = 512;

/// The compressions a context stream may carry, told apart by magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Xz,
    Bzip2,
    Zstd,
}

/// What a possibly compressed stream turned out to hold.
#[derive(Debug, PartialEq, Eq)]
pub enum Contents {
    /// A tar archive, now extracted.
    Tar,
    /// Anything else, decompressed (for a context: the Dockerfile itself).
    Other(Vec<u8>),
}

#[derive(Debug, thiserror::Error)]
pub enum TarError {
    #[error("reading: {0}")]
    Read(#[source] io::Error),
    /// The input ended inside the archive (Go's and so Docker's `unexpected EOF`).
    #[error("unexpected EOF: the archive is truncated")]
    Truncated(#[source] Box<TarError>),
    #[error("tar entry {entry:?} refused: {reason}")]
    Refused { entry: String, reason: String },
    #[error("tar entry {entry:?}: {op} {path:?}: {source}")]
    Write {
        entry: String,
        op: &'static str,
        path: PathBuf,
        source: io::Error,
    },
}

/// Which compression `head`, the first bytes of a stream (six suffice), starts with.
pub fn sniff(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0]) {
        Compression::Xz
    } else if head.starts_with(b"BZh") && head.get(3).is_some_and(|b| (b'1'..=b'9').contains(b)) {
        Compression::Bzip2
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Whether `block` starts with a ustar or GNU tar header whose checksum holds. An all-zero block
/// (the end-of-archive marker, so an empty archive) counts too: no Dockerfile is made of NULs.
pub fn looks_like_tar(block: &[u8]) -> bool {
    let Some(block) = block.get(..BLOCK) else {
        return false;
    };
    if block.iter().all(|&b| b == 0) {
        return true;
    }
    let magic = &block[257..265];
    if magic != b"ustar\x0000" && magic != b"ustar  \x00" {
        return false;
    }
    let Some(stored) = octal(&block[148..156]) else {
        return false;
    };
    // The checksum field itself counts as spaces; old tars summed signed bytes.
    let field = 148..156;
    let byte = |(i, &b): (usize, &u8)| if field.contains(&i) { b' ' } else { b };
    let unsigned: i64 = block.iter().enumerate().map(|p| i64::from(byte(p))).sum();
    let signed: i64 = block
        .iter()
        .enumerate()
        .map(|p| i64::from(byte(p) as i8))
        .sum();
    stored == unsigned || stored == signed
}

/// A NUL- or space-terminated octal header field.
fn octal(field: &[u8]) -> Option<i64> {
    let digits = field
        .split(|&b| b == 0 || b == b' ')
        .find(|s| !s.is_empty())?;
    let text = std::str::from_utf8(digits).ok()?;
    i64::from_str_radix(text, 8).ok()
}

/// Wraps `reader` in the decoder its magic bytes call for (multi-member gzip and bzip2, and
/// multi-stream xz, as `tar` and `pigz` write them), and says which one that was.
pub fn decompress<'a, R: Read + 'a>(
    mut reader: R,
) -> io::Result<(Compression, Box<dyn Read + 'a>)> {
    let mut head = [0u8; 6];
    let n = read_full(&mut reader, &mut head)?;
    let kind = sniff(&head[..n]);
    let whole = Cursor::new(head).take(n as u64).chain(reader);
    let plain: Box<dyn Read + 'a> = match kind {
        Compression::None => Box::new(whole),
        Compression::Gzip => Box::new(flate2::read::MultiGzDecoder::new(whole)),
        Compression::Xz => Box::new(lzma_rust2::XzReader::new(whole, true)),
        Compression::Bzip2 => Box::new(bzip2::read::MultiBzDecoder::new(whole)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::new(whole)?),
    };
    Ok((kind, plain))
}

/// Decompresses `reader`; a tar is extracted into `dest`, anything else comes back as bytes.
pub fn extract_if_tar(reader: impl Read, dest: &Path) -> Result<Contents, TarError> {
    unpack_if_tar(reader, dest, Mode::Fresh)
}

/// [`extract_if_tar`] into a directory that may hold an earlier context: files already
/// holding the bytes (or link target) of their entry keep their inode, only their mode and
/// mtime are set; whatever the archive does not list is removed, so `dest` ends up as a
/// fresh extraction would. A stream that is not a tar leaves `dest` empty.
pub fn sync_if_tar(reader: impl Read, dest: &Path) -> Result<Contents, TarError> {
    unpack_if_tar(reader, dest, Mode::Sync)
}

/// How entries land in the destination.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Mode {
    /// Into an empty directory (an entry listed twice still replaces the first).
    Fresh,
    /// Over an earlier extraction, rewriting only what differs (see [`sync_if_tar`]).
    Sync,
}

fn unpack_if_tar(reader: impl Read, dest: &Path, mode: Mode) -> Result<Contents, TarError> {
    let (_, mut plain) = decompress(reader).map_err(TarError::Read)?;
    let mut head = vec![0u8; BLOCK];
    let n = read_full(&mut plain, &mut head).map_err(TarError::Read)?;
    head.truncate(n);
    if looks_like_tar(&head) {
        unpack_tar(Cursor::new(head).chain(plain), dest, mode)?;
        return Ok(Contents::Tar);
    }
    plain.read_to_end(&mut head).map_err(TarError::Read)?;
    if mode == Mode::Sync {
        context_reuse::remove_unlisted(dest, &HashSet::new()).map_err(|source| {
            TarError::Write {
                entry: String::new(),
                op: "emptying",
                path: dest.to_path_buf(),
                source,
            }
        })?;
    }
    Ok(Contents::Other(head))
}

/// Extracts a plain tar into the existing directory `dest`, keeping modes and mtimes but not
/// ownership. Absolute names, `..` that climbs out, hard links to outside, and any entry whose
/// way in passes a symlink or a non-directory are refused; symlinks themselves are stored as
/// they are, wherever they point. Devices and FIFOs are skipped: a context only holds files.
pub fn extract_tar(reader: impl Read, dest: &Path) -> Result<(), TarError> {
    unpack_tar(reader, dest, Mode::Fresh)
}

fn unpack_tar(reader: impl Read, dest: &Path, mode: Mode) -> Result<(), TarError> {
    let ended = std::cell::Cell::new(false);
    let watched = EndWatch {
        inner: reader,
        ended: &ended,
    };
    match extract_entries(watched, dest, mode) {
        // The data ran out under an entry (the tar crate says only "failed to write entire
        // file", or fails to read a header): the archive was cut short.
        Err(e) if ended.get() && !matches!(e, TarError::Refused { .. }) => {
            Err(TarError::Truncated(Box::new(e)))
        }
        r => r,
    }
}

/// A reader that remembers whether it reached the end of its input.
struct EndWatch<'a, R> {
    inner: R,
    ended: &'a std::cell::Cell<bool>,
}

impl<R: Read> Read for EndWatch<'_, R> {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = self.inner.read(buf)?;
        if n == 0 && !buf.is_empty() {
            self.ended.set(true);
        }
        Ok(n)
    }
}

fn extract_entries(reader: impl Read, dest: &Path, mode: Mode) -> Result<(), TarError> {
    let mut archive = tar::Archive::new(reader);
    archive.set_preserve_permissions(true);
    archive.set_preserve_mtime(true);
    archive.set_overwrite(true);
    // Directory modes and mtimes go on last: a read-only directory must still take its
    // children, and each child written would bump the mtime again.
    let mut dirs: Vec<(PathBuf, u32, Option<u64>)> = Vec::new();
    // In sync mode: every path the archive lists, and their parents.
    let mut listed: HashSet<PathBuf> = HashSet::new();
    let mut known = KnownDirs::default();
    let mut scratch = context_reuse::Scratch::default();
    for entry in archive.entries().map_err(TarError::Read)? {
        let mut entry = entry.map_err(TarError::Read)?;
        let raw = entry.path_bytes().into_owned();
        let name = String::from_utf8_lossy(&raw).into_owned();
        let refuse = |reason: String| TarError::Refused {
            entry: name.clone(),
            reason,
        };
        let rel = lexical(&raw).map_err(|why| refuse(why.to_string()))?;
        let is_dir = match entry.header().entry_type() {
            EntryType::Directory => true,
            // Old tars mark directories by a trailing slash alone.
            EntryType::Regular if raw.ends_with(b"/") => true,
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => false,
            EntryType::Symlink | EntryType::Link => false,
            _ => continue,
        };
        if rel.as_os_str().is_empty() {
            if is_dir {
                continue;
            }
            return Err(refuse("names the destination itself".into()));
        }
        if mode == Mode::Sync {
            for p in rel.ancestors().filter(|p| !p.as_os_str().is_empty()) {
                if !listed.insert(p.to_path_buf()) {
                    break;
                }
            }
        }
        let target = walk(dest, &rel, true, &name, &mut known)?;
        let write = |op: &'static str, path: &Path| {
            let (entry, path) = (name.clone(), path.to_path_buf());
            move |source: io::Error| TarError::Write {
                entry,
                op,
                path,
                source,
            }
        };
        if is_dir {
            if !known.0.contains(&target)
                && !fs::symlink_metadata(&target).is_ok_and(|m| m.is_dir())
            {
                clear(&target, &mut dirs, &mut known).map_err(write("removing", &target))?;
                dir_builder()
                    .create(&target)
                    .map_err(write("creating", &target))?;
            }
            known.0.insert(target.clone());
            let header = entry.header();
            dirs.push((target, header.mode().unwrap_or(0o755), header.mtime().ok()));
            continue;
        }
        if mode == Mode::Sync
            && context_reuse::keep(&mut entry, &target, &mut scratch)
                .map_err(write("updating", &target))?
        {
            continue;
        }
        clear(&target, &mut dirs, &mut known).map_err(write("removing", &target))?;
        if entry.header().entry_type().is_hard_link() {
            let link = entry.link_name_bytes().unwrap_or_default().into_owned();
            let shown = String::from_utf8_lossy(&link).into_owned();
            let source = match lexical(&link) {
                Ok(p) if !p.as_os_str().is_empty() => walk(dest, &p, false, &name, &mut known)?,
                Ok(_) => return Err(refuse("is a hard link without a target".into())),
                Err(why) => return Err(refuse(format!("hard link to {shown:?}, which {why}"))),
            };
            fs::hard_link(&source, &target).map_err(write("hard linking", &source))?;
        } else {
            // The parents are real directories and the target is gone, so this creates a
            // new file or symlink and never writes through an existing one.
            entry.unpack(&target).map_err(write("writing", &target))?;
        }
    }
    if mode == Mode::Sync {
        // Before the directories' mtimes are set: removing their children changes them.
        context_reuse::remove_unlisted(dest, &listed).map_err(|source| TarError::Write {
            entry: String::new(),
            op: "removing what the archive no longer lists from",
            path: dest.to_path_buf(),
            source,
        })?;
    }
    for (path, mode, mtime) in dirs.iter().rev() {
        finish_dir(path, *mode, *mtime).map_err(|source| TarError::Write {
            entry: path
                .strip_prefix(dest)
                .unwrap_or(path)
                .display()
                .to_string(),
            op: "setting mode and mtime of",
            path: path.clone(),
            source,
        })?;
    }
    Ok(())
}

/// An archive name as a relative path, `.` and `..` resolved by name alone (never by following
/// what is on disk); `Err` says why it points outside.
fn lexical(raw: &[u8]) -> Result<PathBuf, &'static str> {
    if raw.starts_with(b"/") {
        return Err("is an absolute path");
    }
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in raw.split(|&b| b == b'/') {
        match part {
            b"" | b"." => {}
            b".." if parts.pop().is_none() => return Err("climbs out of the destination"),
            b".." => {}
            p => parts.push(p),
        }
    }
    Ok(parts.into_iter().map(OsStr::from_bytes).collect())
}

/// The directories this extraction has made or checked to be real directories, so each is
/// looked at once rather than once per entry beneath it (20,000 files in a context meant
/// 60,000 `lstat`s). Whatever `clear` removes leaves the set with it.
#[derive(Default)]
struct KnownDirs(HashSet<PathBuf>);

/// `dest/rel`, once every directory above it is known to be a real directory (created when
/// missing and `create` is set). A symlink or a file on the way is refused: following it could
/// lead anywhere.
fn walk(
    dest: &Path,
    rel: &Path,
    create: bool,
    entry: &str,
    known: &mut KnownDirs,
) -> Result<PathBuf, TarError> {
    let mut at = dest.to_path_buf();
    let refuse = |reason: String| TarError::Refused {
        entry: entry.to_string(),
        reason,
    };
    for part in rel.parent().into_iter().flat_map(Path::components) {
        at.push(part);
        if known.0.contains(&at) {
            continue;
        }
        let shown = at.strip_prefix(dest).unwrap_or(&at).display().to_string();
        match fs::symlink_metadata(&at) {
            Ok(m) if m.is_dir() => {}
            Ok(m) if m.file_type().is_symlink() => {
                return Err(refuse(format!(
                    "its path passes through the symlink {shown:?}"
                )));
            }
            Ok(_) => return Err(refuse(format!("{shown:?} on its path is not a directory"))),
            Err(e) if create && e.kind() == io::ErrorKind::NotFound => {
                dir_builder()
                    .create(&at)
                    .map_err(|source| TarError::Write {
                        entry: entry.to_string(),
                        op: "creating",
                        path: at.clone(),
                        source,
                    })?;
            }
            Err(_) => return Err(refuse(format!("{shown:?} on its path does not exist"))),
        }
        known.0.insert(at.clone());
    }
    Ok(dest.join(rel))
}

fn dir_builder() -> fs::DirBuilder {
    let mut b = fs::DirBuilder::new();
    b.mode(0o755);
    b
}

/// Removes whatever is at `path` without following it, forgetting directories recorded under a
/// removed one so their deferred mode change cannot land elsewhere, and so that a later entry
/// beneath it is checked again.
fn clear(
    path: &Path,
    dirs: &mut Vec<(PathBuf, u32, Option<u64>)>,
    known: &mut KnownDirs,
) -> io::Result<()> {
    match fs::symlink_metadata(path) {
        Ok(m) if m.is_dir() => {
            dirs.retain(|(p, _, _)| !p.starts_with(path));
            known.0.retain(|p| !p.starts_with(path));
            fs::remove_dir_all(path)
        }
        Ok(_) => fs::remove_file(path),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(e),
    }
}

fn finish_dir(path: &Path, mode: u32, mtime: Option<u64>) -> io::Result<()> {
    // A later entry may have replaced the directory; never chmod through a symlink.
    if !fs::symlink_metadata(path)?.is_dir() {
        return Ok(());
    }
    context_reuse::set_mode_and_mtime(path, mode, mtime)
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::io::Write;
    use std::os::unix::fs::{MetadataExt, PermissionsExt};

    /// One raw tar entry, its name and link name written straight into the header because
    /// `tar::Builder` (rightly) refuses to write the hostile ones.
    fn raw(out: &mut Vec<u8>, name: &str, kind: EntryType, link: &str, data: &[u8]) {
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(kind);
        h.set_size(data.len() as u64);
        h.set_mode(if kind.is_dir() { 0o755 } else { 0o644 });
        h.set_mtime(1_700_000_000);
        let old = h.as_old_mut();
        old.name[..name.len()].copy_from_slice(name.as_bytes());
        old.linkname[..link.len()].copy_from_slice(link.as_bytes());
        h.set_cksum();
        out.extend_from_slice(h.as_bytes());
        out.extend_from_slice(data);
        out.resize(out.len().next_multiple_of(BLOCK), 0);
    }

    /// Name, type, link target, data.
    type Entry<'a> = (&'a str, EntryType, &'a str, &'a [u8]);

    fn archive(entries: &[Entry]) -> Vec<u8> {
        let mut out = Vec::new();
        for (name, kind, link, data) in entries {
            raw(&mut out, name, *kind, link, data);
        }
        out.resize(out.len() + 2 * BLOCK, 0);
        out
    }

    #[test]
    fn sniff_table() {
        let cases: &[(&[u8], Compression)] = &[
            (&[0x1f, 0x8b, 8, 0], Compression::Gzip),
            (&[0xfd, b'7', b'z', b'X', b'Z', 0], Compression::Xz),
            (b"BZh91AY", Compression::Bzip2),
            (b"BZhx", Compression::None),
            (&[0x28, 0xb5, 0x2f, 0xfd, 0], Compression::Zstd),
            (b"FROM scratch", Compression::None),
            (b"", Compression::None),
            (&[0x1f], Compression::None),
        ];
        for (head, want) in cases {
            assert_eq!(sniff(head), *want, "{head:?}");
        }
    }

    #[test]
    fn looks_like_tar_table() {
        let ustar = archive(&[("a", EntryType::Regular, "", b"x")]);
        let mut gnu = tar::Header::new_gnu();
        gnu.set_path("a").unwrap();
        gnu.set_cksum();
        let mut bad_sum = ustar.clone();
        bad_sum[0] = b'b';
        let mut v7 = ustar.clone();
        v7[257..265].fill(0);
        let mut text = b"FROM scratch\nRUN echo hi\n".to_vec();
        text.resize(BLOCK, b' ');
        let cases: &[(&str, &[u8], bool)] = &[
            ("ustar", &ustar, true),
            ("gnu", gnu.as_bytes(), true),
            ("empty archive", &[0; BLOCK], true),
            ("bad checksum", &bad_sum, false),
            ("v7 without magic", &v7, false),
            ("dockerfile", &text, false),
            ("short", &ustar[..BLOCK - 1], false),
        ];
        for (what, block, want) in cases {
            assert_eq!(looks_like_tar(block), *want, "{what}");
        }
    }

    #[test]
    fn decompress_round_trips() {
        let plain = b"FROM scratch\n".repeat(100);
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::default());
        gz.write_all(&plain).unwrap();
        let mut bz = bzip2::write::BzEncoder::new(Vec::new(), bzip2::Compression::default());
        bz.write_all(&plain).unwrap();
        let cases = [
            (plain.clone(), Compression::None),
            (gz.finish().unwrap(), Compression::Gzip),
            (bz.finish().unwrap(), Compression::Bzip2),
            (zstd::encode_all(&plain[..], 3).unwrap(), Compression::Zstd),
            (b"hi".to_vec(), Compression::None),
        ];
        for (bytes, want) in cases {
            let (kind, mut r) = decompress(&bytes[..]).unwrap();
            let mut out = Vec::new();
            r.read_to_end(&mut out).unwrap();
            assert_eq!(kind, want);
            assert!(out == plain || out == b"hi", "{want:?}");
        }
    }

    #[test]
    fn extracts_files_links_modes_and_mtimes() {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_ustar();
        h.set_entry_type(EntryType::Directory);
        h.set_mode(0o700);
        h.set_mtime(1_000_000);
        h.set_size(0);
        b.append_data(&mut h, "d/", io::empty()).unwrap();
        h.set_entry_type(EntryType::Regular);
        h.set_mode(0o755);
        h.set_mtime(2_000_000);
        h.set_size(3);
        b.append_data(&mut h, "d/run.sh", &b"hi\n"[..]).unwrap();
        raw(b.get_mut(), "d/../top", EntryType::Regular, "", b"up\n");
        let mut l = tar::Header::new_ustar();
        l.set_entry_type(EntryType::Symlink);
        l.set_size(0);
        b.append_link(&mut l, "abs", "/etc/passwd").unwrap();
        l.set_entry_type(EntryType::Link);
        b.append_link(&mut l, "hard", "d/run.sh").unwrap();
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path();
        extract_tar(&b.into_inner().unwrap()[..], dest).unwrap();

        let dir = fs::metadata(dest.join("d")).unwrap();
        assert_eq!((dir.mode() & 0o7777, dir.mtime()), (0o700, 1_000_000));
        let file = fs::metadata(dest.join("d/run.sh")).unwrap();
        assert_eq!((file.mode() & 0o7777, file.mtime()), (0o755, 2_000_000));
        assert_eq!(fs::read(dest.join("top")).unwrap(), b"up\n");
        assert_eq!(
            fs::read_link(dest.join("abs")).unwrap(),
            Path::new("/etc/passwd")
        );
        assert_eq!(fs::metadata(dest.join("hard")).unwrap().ino(), file.ino());
    }

    #[test]
    fn sync_rewrites_only_what_changed_and_removes_what_is_gone() {
        use EntryType::{Directory as D, Regular as F, Symlink as S};
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path();
        #[rustfmt::skip]
        let first = archive(&[
            ("d/", D, "", b""), ("d/same", F, "", b"same bytes"), ("d/edit", F, "", b"old text"),
            ("d/grow", F, "", b"short"), ("gone", F, "", b"x"), ("gone-dir/", D, "", b""),
            ("gone-dir/f", F, "", b"y"), ("link", S, "d/same", b""),
        ]);
        assert_eq!(sync_if_tar(&first[..], dest).unwrap(), Contents::Tar);
        let ino = |p: &str| fs::symlink_metadata(dest.join(p)).unwrap().ino();
        let before = (ino("d/same"), ino("d/edit"), ino("link"));
        #[rustfmt::skip]
        let second = archive(&[
            ("d/", D, "", b""), ("d/same", F, "", b"same bytes"), ("d/edit", F, "", b"new text"),
            ("d/grow", F, "", b"much longer"), ("new", F, "", b"z"), ("link", S, "d/same", b""),
        ]);
        assert_eq!(sync_if_tar(&second[..], dest).unwrap(), Contents::Tar);
        let fresh = tempfile::tempdir().unwrap();
        extract_tar(&second[..], fresh.path()).unwrap();
        let listing = |root: &Path| -> Vec<(String, Vec<u8>, u32, i64)> {
            let mut out: Vec<_> = walkdir::WalkDir::new(root)
                .into_iter()
                .map(|e| e.unwrap())
                .map(|e| {
                    let m = e.path().symlink_metadata().unwrap();
                    let rel = e.path().strip_prefix(root).unwrap().display().to_string();
                    let data = if m.is_file() {
                        fs::read(e.path()).unwrap()
                    } else {
                        vec![]
                    };
                    (
                        rel,
                        data,
                        m.mode(),
                        if m.is_dir() && rel_is_root(&e, root) {
                            0
                        } else {
                            m.mtime()
                        },
                    )
                })
                .collect();
            out.sort();
            out
        };
        fn rel_is_root(e: &walkdir::DirEntry, root: &Path) -> bool {
            e.path() == root
        }
        assert_eq!(
            listing(dest),
            listing(fresh.path()),
            "as a fresh extraction"
        );
        // Unchanged and same-size files keep their inode (the stat cache still knows them).
        assert_eq!((ino("d/same"), ino("d/edit"), ino("link")), before);

        // A stream that is not a tar (the Dockerfile alone) leaves the directory empty.
        let other = sync_if_tar(&b"FROM scratch\n"[..], dest).unwrap();
        assert_eq!(other, Contents::Other(b"FROM scratch\n".to_vec()));
        assert_eq!(fs::read_dir(dest).unwrap().count(), 0);
    }

    #[test]
    fn escaping_entries_are_refused() {
        use EntryType::{Directory as D, Link as H, Regular as F, Symlink as S};
        let evil = format!("evil-{}", std::process::id());
        #[rustfmt::skip]
        let cases: &[(&[Entry], &str, &str)] = &[
            (&[("../x", F, "", b"x")], "../x", "climbs out"),
            (&[("d/../../x", F, "", b"x")], "d/../../x", "climbs out"),
            (&[("/abs", F, "", b"x")], "/abs", "absolute"),
            (&[("/", D, "", b"")], "/", "absolute"),
            (&[("h", H, "../../etc/passwd", b"")], "h", "hard link"),
            (&[("h", H, "/etc/passwd", b"")], "h", "absolute"),
            (&[("a", S, "/", b""), (&format!("a/{evil}"), F, "", b"x")], "a/", "symlink"),
            (&[("a", S, "..", b""), ("a/x", F, "", b"x")], "a/x", "symlink"),
            (&[("a", S, "..", b""), ("a/x", D, "", b"")], "a/x", "symlink"),
            (&[("a", S, "..", b""), ("h", H, "a/escaped", b"")], "h", "symlink"),
            (&[("a", D, "", b""), ("a/l", S, "../..", b""), ("a/l/x", F, "", b"x")], "a/l/x", "symlink"),
            (&[("f", F, "", b"x"), ("f/x", F, "", b"x")], "f/x", "not a directory"),
            // A directory already walked, then replaced by a symlink: checked again.
            (&[("a/y", F, "", b"y"), ("a", S, "..", b""), ("a/x", F, "", b"x")], "a/x", "symlink"),
            (&[("a", D, "", b""), ("a", S, "..", b""), ("a/x", D, "", b"")], "a/x", "symlink"),
            (&[("b/c/y", F, "", b"y"), ("b", S, "..", b""), ("b/c/x", F, "", b"x")], "b/c/x", "symlink"),
            (&[(".", F, "", b"x")], ".", "destination itself"),
        ];
        for (entries, entry, reason) in cases {
            let tmp = tempfile::tempdir().unwrap();
            let dest = tmp.path().join("dest");
            fs::create_dir(&dest).unwrap();
            fs::write(tmp.path().join("escaped"), b"outside").unwrap();
            let err = extract_tar(&archive(entries)[..], &dest)
                .unwrap_err()
                .to_string();
            assert!(
                err.contains(entry) && err.contains(reason),
                "{entry}: {err}"
            );
            let mut outside: Vec<_> = fs::read_dir(tmp.path())
                .unwrap()
                .map(|e| e.unwrap().file_name())
                .collect();
            outside.sort();
            assert_eq!(outside, ["dest", "escaped"], "{entry}");
            assert!(fs::symlink_metadata(dest.join("x")).is_err(), "{entry}");
            assert!(!Path::new("/").join(&evil).exists());
        }
    }

    #[test]
    fn a_later_entry_replaces_an_earlier_one_without_following_it() {
        use EntryType::{Directory as D, Regular as F, Symlink as S};
        let tmp = tempfile::tempdir().unwrap();
        let dest = tmp.path().join("dest");
        fs::create_dir(&dest).unwrap();
        fs::write(tmp.path().join("outside"), b"keep").unwrap();
        fs::set_permissions(tmp.path(), fs::Permissions::from_mode(0o711)).unwrap();
        let entries: &[Entry] = &[
            ("l", S, "../outside", b""),
            ("l", F, "", b"new"),
            ("d/", D, "", b""),
            ("d", S, "..", b""),
        ];
        extract_tar(&archive(entries)[..], &dest).unwrap();
        assert_eq!(fs::read(tmp.path().join("outside")).unwrap(), b"keep");
        assert_eq!(fs::read(dest.join("l")).unwrap(), b"new");
        assert_eq!(fs::read_link(dest.join("d")).unwrap(), Path::new(".."));
        assert_eq!(fs::metadata(tmp.path()).unwrap().mode() & 0o7777, 0o711);
    }

    #[test]
    fn extract_if_tar_tells_text_from_archives() {
        let tmp = tempfile::tempdir().unwrap();
        let text = b"FROM scratch\n";
        let got = extract_if_tar(&text[..], tmp.path()).unwrap();
        assert_eq!(got, Contents::Other(text.to_vec()));
        let tar = archive(&[("Dockerfile", EntryType::Regular, "", text)]);
        let gz = {
            let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
            e.write_all(&tar).unwrap();
            e.finish().unwrap()
        };
        assert_eq!(extract_if_tar(&gz[..], tmp.path()).unwrap(), Contents::Tar);
        assert_eq!(fs::read(tmp.path().join("Dockerfile")).unwrap(), text);
    }
}
