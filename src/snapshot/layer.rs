//! The deterministic layer writer: a directory or a change list becomes a sorted tar stream,
//! hashed (diffID) and compressed while streaming, in one pass over the files.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt, OpenOptionsExt};
use std::path::{Component, Path, PathBuf};
use std::sync::Arc;

use crate::digest::Digest;

use super::chunks::{ChunkEntry, ChunkSource, FILE_CUT_MIN};
use super::sink::LayerSink;
use super::source::header_for;
use super::tar_layout::{cmp_names, cmp_paths, encode_header, padding, EntryHeader, Kind, TRAILER};
use super::whiteout;

pub const MEDIA_TYPE_TAR: &str = "application/vnd.oci.image.layer.v1.tar";
pub const MEDIA_TYPE_GZIP: &str = "application/vnd.oci.image.layer.v1.tar+gzip";
pub const MEDIA_TYPE_ZSTD: &str = "application/vnd.oci.image.layer.v1.tar+zstd";

/// How the layer blob is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compression {
    None,
    Gzip { level: u32 },
    Zstd { level: i32 },
}

/// The default gzip level. Not zlib's 6: on text with a small vocabulary (logs, generated
/// sources, the s2 benchmark's files) level 6 walks hash chains four times as long as level 5
/// and runs at 20 MB/s instead of 74 MB/s for an output 11% smaller; on binaries (a Debian
/// /usr) both levels give the same size. `--compression-level 6` still gives level 6.
pub const DEFAULT_GZIP_LEVEL: u32 = 5;

impl Default for Compression {
    fn default() -> Self {
        Compression::Gzip {
            level: DEFAULT_GZIP_LEVEL,
        }
    }
}

impl Compression {
    /// The OCI layer media type for blobs compressed this way.
    pub fn media_type(&self) -> &'static str {
        match self {
            Compression::None => MEDIA_TYPE_TAR,
            Compression::Gzip { .. } => MEDIA_TYPE_GZIP,
            Compression::Zstd { .. } => MEDIA_TYPE_ZSTD,
        }
    }
}

/// Options of the layer writer.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LayerOptions {
    pub compression: Compression,
    /// When set, every mtime is clamped to at most this (reproducible builds).
    pub source_date_epoch: Option<i64>,
}

/// What a written layer is, as a manifest and image config need it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerDigests {
    /// sha256 of the compressed blob, as written to `out`.
    pub digest: Digest,
    /// sha256 of the uncompressed tar.
    pub diff_id: Digest,
    /// Compressed bytes written.
    pub size: u64,
    pub media_type: &'static str,
    /// The blob's gzip chunks worth reusing (none for other compressions), for its index.
    pub chunks: Vec<ChunkEntry>,
}

/// One change of a layer relative to the layers below it; paths are relative to the root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Change {
    /// A new path; only the path itself is written (list a directory's contents separately).
    Added(PathBuf),
    /// A changed path; written like `Added`.
    Modified(PathBuf),
    /// A path removed from lower layers: written as a `.wh.<name>` whiteout.
    Deleted(PathBuf),
    /// A directory that hides everything lower layers had in it: the directory entry followed
    /// by its `.wh..wh..opq` marker. Its contents are listed separately as `Added`.
    OpaqueDir(PathBuf),
}

/// Why a layer could not be written.
#[derive(Debug, thiserror::Error)]
pub enum LayerError {
    #[error("{op} {path:?}: {source}")]
    Read {
        path: PathBuf,
        op: &'static str,
        #[source]
        source: io::Error,
    },
    #[error("{path:?} changed size while it was being archived (expected {expected} bytes)")]
    Changed { path: PathBuf, expected: u64 },
    #[error("change path {path:?}: {reason}")]
    BadChange { path: PathBuf, reason: &'static str },
    #[error("writing the layer: {0}")]
    Output(#[source] io::Error),
}

/// Writes every entry under `root` (not the root itself) as a layer.
pub fn write_dir_layer(
    root: &Path,
    opts: &LayerOptions,
    out: &mut dyn Write,
) -> Result<LayerDigests, LayerError> {
    write_dir_layer_reusing(root, opts, out, None)
}

/// [`write_dir_layer`], copying compressed chunks that `source` already has.
pub fn write_dir_layer_reusing(
    root: &Path,
    opts: &LayerOptions,
    out: &mut dyn Write,
    source: Option<Arc<dyn ChunkSource>>,
) -> Result<LayerDigests, LayerError> {
    let mut w = TarOut::new(out, opts, source)?;
    let walk = walkdir::WalkDir::new(root)
        .min_depth(1)
        .follow_links(false)
        .sort_by(|a, b| cmp_names(a.file_name().as_bytes(), b.file_name().as_bytes()));
    for entry in walk {
        let entry = entry.map_err(|e| {
            let path = e.path().unwrap_or(root).to_path_buf();
            LayerError::Read {
                path,
                op: "walk",
                source: e.into(),
            }
        })?;
        let rel = entry
            .path()
            .strip_prefix(root)
            .expect("walkdir yields paths under its root");
        let md = entry.metadata().map_err(|e| LayerError::Read {
            path: entry.path().to_path_buf(),
            op: "lstat",
            source: e.into(),
        })?;
        w.disk_entry(entry.path(), rel.as_os_str().as_bytes(), &md)?;
    }
    w.finish()
}

/// What one sorted item of a change layer is.
enum Item {
    Disk,
    Whiteout,
    Opaque,
}

/// Writes the entries named by `changes` (plus any missing parent directories, from disk) as a
/// layer, with whiteouts for deletions and opaque markers for replaced directories.
pub fn write_changes_layer(
    root: &Path,
    changes: &[Change],
    opts: &LayerOptions,
    out: &mut dyn Write,
) -> Result<LayerDigests, LayerError> {
    write_changes_layer_reusing(root, changes, opts, out, None)
}

/// [`write_changes_layer`], copying compressed chunks that `source` already has.
pub fn write_changes_layer_reusing(
    root: &Path,
    changes: &[Change],
    opts: &LayerOptions,
    out: &mut dyn Write,
    source: Option<Arc<dyn ChunkSource>>,
) -> Result<LayerDigests, LayerError> {
    let mut items: HashMap<Vec<u8>, Item> = HashMap::new();
    let add_parents = |items: &mut HashMap<Vec<u8>, Item>, p: &[u8]| {
        let mut end = 0;
        while let Some(i) = p[end..].iter().position(|&c| c == b'/') {
            end += i;
            items.entry(p[..end].to_vec()).or_insert(Item::Disk);
            end += 1;
        }
    };
    for change in changes {
        let (p, kind) = match change {
            Change::Added(p) | Change::Modified(p) => (p, Item::Disk),
            Change::Deleted(p) => (p, Item::Whiteout),
            Change::OpaqueDir(p) => (p, Item::Opaque),
        };
        let rel = normalize_change(p)?;
        add_parents(&mut items, &rel);
        match kind {
            Item::Disk => {
                items.insert(rel, Item::Disk);
            }
            Item::Whiteout => {
                items.insert(whiteout::whiteout_path(&rel), Item::Whiteout);
            }
            Item::Opaque => {
                items.insert(whiteout::opaque_path(&rel), Item::Opaque);
                items.insert(rel, Item::Disk);
            }
        }
    }
    let mut sorted: Vec<(Vec<u8>, Item)> = items.into_iter().collect();
    sorted.sort_by(|a, b| cmp_paths(&a.0, &b.0));

    let mut w = TarOut::new(out, opts, source)?;
    for (rel, item) in sorted {
        match item {
            Item::Disk => {
                let full = root.join(Path::new(std::ffi::OsStr::from_bytes(&rel)));
                let md = std::fs::symlink_metadata(&full).map_err(|source| LayerError::Read {
                    path: full.clone(),
                    op: "lstat",
                    source,
                })?;
                w.disk_entry(&full, &rel, &md)?;
            }
            Item::Whiteout | Item::Opaque => w.marker(rel)?,
        }
    }
    w.finish()
}

/// A change path as archive bytes: relative, no `.`/`..`, not empty.
fn normalize_change(p: &Path) -> Result<Vec<u8>, LayerError> {
    let bad = |reason| LayerError::BadChange {
        path: p.to_path_buf(),
        reason,
    };
    let mut out: Vec<u8> = Vec::new();
    for c in p.components() {
        match c {
            Component::Normal(n) => {
                if !out.is_empty() {
                    out.push(b'/');
                }
                out.extend_from_slice(n.as_bytes());
            }
            Component::CurDir => {}
            Component::ParentDir => return Err(bad("contains \"..\"")),
            Component::RootDir | Component::Prefix(_) => return Err(bad("is absolute")),
        }
    }
    if out.is_empty() {
        return Err(bad("names the root itself"));
    }
    Ok(out)
}

/// The tar stream being produced: headers, file data and hard-link bookkeeping.
struct TarOut<'a> {
    sink: LayerSink<'a>,
    media_type: &'static str,
    epoch: Option<i64>,
    /// (dev, ino) of multiply-linked files already written → their archive path.
    links: HashMap<(u64, u64), Vec<u8>>,
    scratch: Vec<u8>,
    buf: Vec<u8>,
}

impl<'a> TarOut<'a> {
    fn new(
        out: &'a mut dyn Write,
        opts: &LayerOptions,
        source: Option<Arc<dyn ChunkSource>>,
    ) -> Result<Self, LayerError> {
        Ok(TarOut {
            sink: LayerSink::new(out, &opts.compression, source).map_err(LayerError::Output)?,
            media_type: opts.compression.media_type(),
            epoch: opts.source_date_epoch,
            links: HashMap::new(),
            scratch: Vec::with_capacity(4096),
            buf: vec![0u8; 256 * 1024],
        })
    }

    fn disk_entry(
        &mut self,
        full: &Path,
        rel: &[u8],
        md: &std::fs::Metadata,
    ) -> Result<(), LayerError> {
        // Sockets are live endpoints of some process, not content; tar cannot hold them and
        // Docker skips them too.
        if md.file_type().is_socket() {
            return Ok(());
        }
        let mut h = header_for(full, rel, md, self.epoch).map_err(|source| LayerError::Read {
            path: full.to_path_buf(),
            op: "read metadata of",
            source,
        })?;
        if let Kind::File { .. } = h.kind {
            if md.nlink() > 1 {
                let key = (md.dev(), md.ino());
                if let Some(first) = self.links.get(&key) {
                    h.kind = Kind::HardLink {
                        target: first.clone(),
                    };
                } else {
                    self.links.insert(key, rel.to_vec());
                }
            }
        }
        self.header(&h)?;
        if let Kind::File { size } = h.kind {
            // A big file's data is a chunk of its own, compressed without what came before,
            // so the same file compresses to the same bytes in any layer (see `chunks`).
            let own_chunk = size >= FILE_CUT_MIN;
            if own_chunk {
                self.sink.cut(true).map_err(LayerError::Output)?;
            }
            self.file_data(full, size)?;
            if own_chunk {
                self.sink.cut(false).map_err(LayerError::Output)?;
            }
        }
        Ok(())
    }

    /// A whiteout or opaque marker: an empty regular file, mode 0, owned by 0:0, mtime 0, so
    /// it is identical whatever the host and epoch.
    fn marker(&mut self, rel: Vec<u8>) -> Result<(), LayerError> {
        self.header(&EntryHeader {
            path: rel,
            kind: Kind::File { size: 0 },
            mode: 0,
            uid: 0,
            gid: 0,
            mtime: 0,
            xattrs: Vec::new(),
        })
    }

    fn header(&mut self, h: &EntryHeader) -> Result<(), LayerError> {
        self.scratch.clear();
        encode_header(h, &mut self.scratch);
        self.sink
            .write_all(&self.scratch)
            .map_err(LayerError::Output)
    }

    fn file_data(&mut self, full: &Path, size: u64) -> Result<(), LayerError> {
        let read_err = |source| LayerError::Read {
            path: full.to_path_buf(),
            op: "read",
            source,
        };
        let mut f = File::options()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(full)
            .map_err(read_err)?;
        let mut left = size;
        while left > 0 {
            let want = (self.buf.len() as u64).min(left) as usize;
            let n = match f.read(&mut self.buf[..want]) {
                Ok(0) => {
                    return Err(LayerError::Changed {
                        path: full.to_path_buf(),
                        expected: size,
                    })
                }
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(read_err(e)),
            };
            self.sink
                .write_all(&self.buf[..n])
                .map_err(LayerError::Output)?;
            left -= n as u64;
        }
        let pad = padding(size);
        self.sink
            .write_all(&TRAILER[..pad])
            .map_err(LayerError::Output)
    }

    fn finish(mut self) -> Result<LayerDigests, LayerError> {
        self.sink.write_all(&TRAILER).map_err(LayerError::Output)?;
        let r = self.sink.finish().map_err(LayerError::Output)?;
        Ok(LayerDigests {
            digest: r.digest,
            diff_id: r.diff_id,
            size: r.size,
            media_type: self.media_type,
            chunks: r.chunks,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn normalize_change_table() {
        let cases: &[(&str, Option<&str>)] = &[
            ("a/b", Some("a/b")),
            ("./a/./b", Some("a/b")),
            ("a/b/", Some("a/b")),
            ("../a", None),
            ("/a", None),
            ("", None),
            (".", None),
        ];
        for (input, want) in cases {
            let got = normalize_change(Path::new(input)).ok();
            assert_eq!(got.as_deref(), want.map(str::as_bytes), "{input}");
        }
    }
}
