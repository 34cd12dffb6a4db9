//! ADD's auto-extraction: recognising a tar archive by its *content* (plain, gzip, bzip2, xz,
//! zstd — never by extension, as BuildKit's `isArchivePath` reads the first header), and
//! unpacking it into a directory of the destination rootfs without ever writing outside it.

use std::io::{self, BufReader, Read};
use std::os::unix::fs::{symlink, MetadataExt};
use std::path::{Path, PathBuf};

use super::apply::{io_err, record, set_meta, Writer};
use super::spec::{ChangeKind, MTime};
use super::CopyError;
use crate::util::safe_path::{resolve, OnEscape};

/// The compression wrapped around a tar stream, from its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip,
    Bzip2,
    Xz,
    Zstd,
}

/// Recognises the compression from the first bytes of a file.
pub fn detect_compression(head: &[u8]) -> Compression {
    if head.starts_with(&[0x1f, 0x8b]) {
        Compression::Gzip
    } else if head.starts_with(b"BZh") {
        Compression::Bzip2
    } else if head.starts_with(&[0xfd, b'7', b'z', b'X', b'Z', 0x00]) {
        Compression::Xz
    } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
        Compression::Zstd
    } else {
        Compression::None
    }
}

/// Wraps `r` in the decompressor its first bytes call for.
pub fn decompress<'a>(r: Box<dyn Read + 'a>) -> io::Result<Box<dyn Read + 'a>> {
    let mut r = BufReader::with_capacity(64 * 1024, r);
    let head = io::BufRead::fill_buf(&mut r)?.to_vec();
    Ok(match detect_compression(&head) {
        Compression::None => Box::new(r),
        Compression::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(r)),
        Compression::Bzip2 => Box::new(bzip2::bufread::MultiBzDecoder::new(r)),
        Compression::Xz => Box::new(lzma_rust2::XzReader::new(r, true)),
        Compression::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(r)?),
    })
}

/// Whether the stream is a (possibly compressed) tar archive: its first 512-byte block, after
/// decompression, is a tar header with a valid checksum.
pub fn is_tar_archive(r: Box<dyn Read + '_>) -> bool {
    let Ok(mut r) = decompress(r) else {
        return false;
    };
    let mut block = [0u8; 512];
    let mut got = 0;
    while got < block.len() {
        match r.read(&mut block[got..]) {
            Ok(0) => return false,
            Ok(n) => got += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(_) => return false,
        }
    }
    valid_header(&block)
}

/// A tar header block whose checksum field matches its bytes (Go's `archive/tar` accepts both
/// the unsigned and the historical signed sum). An all-zero block is the end marker, not a header.
pub fn valid_header(block: &[u8; 512]) -> bool {
    if block.iter().all(|&b| b == 0) {
        return false;
    }
    let field = &block[148..156];
    let text: String = field
        .iter()
        .take_while(|&&b| b != 0)
        .map(|&b| b as char)
        .collect();
    let Ok(want) = i64::from_str_radix(text.trim(), 8) else {
        return false;
    };
    let (mut unsigned, mut signed) = (0i64, 0i64);
    for (i, &b) in block.iter().enumerate() {
        let b = if (148..156).contains(&i) { b' ' } else { b };
        unsigned += b as i64;
        signed += (b as i8) as i64;
    }
    want == unsigned || want == signed
}

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
        let mode = h.mode().map_err(bad)? & 0o7777;
        let (uid, gid) = match chown {
            Some(ids) => ids,
            None => (h.uid().map_err(bad)? as u32, h.gid().map_err(bad)? as u32),
        };
        let mtime = MTime {
            secs: h.mtime().map_err(bad)? as i64,
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

    fn tar_bytes() -> Vec<u8> {
        let mut b = tar::Builder::new(Vec::new());
        let mut h = tar::Header::new_gnu();
        h.set_size(5);
        h.set_mode(0o644);
        h.set_cksum();
        b.append_data(&mut h, "hello.txt", &b"hello"[..]).unwrap();
        b.into_inner().unwrap()
    }

    const FIXTURES: &[(&str, &[u8], Compression)] = &[
        (
            "tar",
            include_bytes!("../../../testdata/copy/archives/hello.tar"),
            Compression::None,
        ),
        (
            "gz",
            include_bytes!("../../../testdata/copy/archives/hello.tar.gz"),
            Compression::Gzip,
        ),
        (
            "bz2",
            include_bytes!("../../../testdata/copy/archives/hello.tar.bz2"),
            Compression::Bzip2,
        ),
        (
            "xz",
            include_bytes!("../../../testdata/copy/archives/hello.tar.xz"),
            Compression::Xz,
        ),
        (
            "zst",
            include_bytes!("../../../testdata/copy/archives/hello.tar.zst"),
            Compression::Zstd,
        ),
    ];

    #[test]
    fn detects_archives_by_content() {
        for &(name, data, c) in FIXTURES {
            assert_eq!(detect_compression(data), c, "{name}");
            assert!(is_tar_archive(Box::new(data)), "{name}");
            // The whole stream decompresses to the same tar.
            let mut out = Vec::new();
            decompress(Box::new(data))
                .unwrap()
                .read_to_end(&mut out)
                .unwrap();
            assert_eq!(out, FIXTURES[0].1, "{name}");
        }
    }

    #[test]
    fn non_archives_are_not_archives() {
        let text = b"just some text, not a tar header".repeat(40);
        assert!(!is_tar_archive(Box::new(&text[..])));
        assert!(!is_tar_archive(Box::new(&[0u8; 1024][..])));
        // Gzip of something that is not a tar.
        use std::io::Write;
        let mut e = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        e.write_all(&text).unwrap();
        let gz = e.finish().unwrap();
        assert!(!is_tar_archive(Box::new(&gz[..])));
        // A corrupted checksum.
        let mut raw = tar_bytes();
        raw[150] ^= 1;
        assert!(!is_tar_archive(Box::new(&raw[..])));
    }

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
