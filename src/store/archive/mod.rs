//! Image archives: `load` reads a docker-archive (as `docker save` writes it, legacy layout or
//! with an OCI layout inside) or an oci-archive (a tar of an OCI layout, as
//! `skopeo copy … oci-archive:` writes it) in one streaming pass, verifying every blob;
//! `save` writes either format.
//!
//! Crash safety of `load`: every file of the archive streams into `tmp/` first; blobs enter
//! `blobs/` only once verified, and index.json changes last, so a load killed half-way leaves
//! the store's images as they were, plus temp files that `system prune` reclaims.

mod docker;
mod entries;
pub mod escape;
mod oci;

use std::io::{self, BufRead, BufReader, Read, Write};

use crate::digest::Digest;
use crate::reference::Reference;

use super::error::StoreError;
use super::image::Image;
use super::layout::Store;

pub use entries::Entries;

/// Why an archive could not be loaded or saved.
#[derive(Debug, thiserror::Error)]
pub enum ArchiveError {
    #[error("reading the archive: {0}")]
    Read(#[source] io::Error),
    #[error("reading {path} in the archive")]
    ReadEntry {
        path: String,
        #[source]
        source: io::Error,
    },
    #[error("writing the archive")]
    Write(#[source] io::Error),
    #[error("not a docker-archive or oci-archive: it has neither manifest.json nor index.json")]
    UnknownFormat,
    #[error("{path} is missing from the archive")]
    Missing { path: String },
    #[error("invalid {path} in the archive: {reason}")]
    Invalid { path: String, reason: String },
    #[error("{path} in the archive does not match its digest: expected {expected}, got {actual}")]
    DigestMismatch {
        path: String,
        expected: Digest,
        actual: Digest,
    },
    #[error("{entry:?} in the archive would land outside it: {reason}")]
    Escape { entry: String, reason: String },
    #[error(
        "layer {layer}: tar entry {entry:?} would be written outside the image's root: {reason}"
    )]
    LayerEscape {
        layer: String,
        entry: String,
        reason: String,
    },
    #[error("invalid reference {name:?} in {path}")]
    BadReference {
        path: String,
        name: String,
        #[source]
        source: crate::reference::ReferenceError,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}

/// One image a load added.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LoadedImage {
    pub id: Digest,
    pub manifest: Digest,
    pub tags: Vec<Reference>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SaveFormat {
    /// manifest.json, repositories, `<config>.json`, `<diffID>/layer.tar` (uncompressed); with
    /// a multi-platform image, an OCI layout holding every platform plus manifest.json, as
    /// Docker 28's containerd image store writes it.
    Docker,
    /// A tar of an OCI image layout; blobs as the store holds them.
    Oci,
}

/// An image to save and the names to record for it (none when it was named by ID).
#[derive(Debug, Clone)]
pub struct SaveItem {
    pub image: Image,
    pub tags: Vec<Reference>,
}

/// Loads every image of a docker-archive or oci-archive read from `input`.
pub fn load(store: &Store, input: &mut dyn Read) -> Result<Vec<LoadedImage>, ArchiveError> {
    let mut entries = Entries::read(store, input)?;
    if entries.has("index.json") {
        oci::load(store, &mut entries)
    } else if entries.has("manifest.json") {
        docker::load(store, &mut entries)
    } else {
        Err(ArchiveError::UnknownFormat)
    }
}

/// Writes `items` as an archive of `format` to `out`.
pub fn save(
    store: &Store,
    items: &[SaveItem],
    format: SaveFormat,
    out: &mut dyn Write,
) -> Result<(), ArchiveError> {
    match format {
        // The legacy layout holds one image per name: an index needs the OCI layout.
        SaveFormat::Docker if items.iter().any(|i| i.image.index.is_some()) => {
            oci::save(store, items, out, true)
        }
        SaveFormat::Docker => docker::save(store, items, out),
        SaveFormat::Oci => oci::save(store, items, out, false),
    }
}

/// How a layer blob is compressed, by its magic bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Compressed {
    None,
    Gzip,
    Zstd,
}

impl Compressed {
    pub fn detect(head: &[u8]) -> Self {
        if head.starts_with(&[0x1f, 0x8b]) {
            Compressed::Gzip
        } else if head.starts_with(&[0x28, 0xb5, 0x2f, 0xfd]) {
            Compressed::Zstd
        } else {
            Compressed::None
        }
    }

    pub fn layer_media_type(self) -> &'static str {
        match self {
            Compressed::None => "application/vnd.oci.image.layer.v1.tar",
            Compressed::Gzip => "application/vnd.oci.image.layer.v1.tar+gzip",
            Compressed::Zstd => "application/vnd.oci.image.layer.v1.tar+zstd",
        }
    }
}

/// The uncompressed content of a (possibly compressed) layer.
pub fn decoded<'a>(r: impl Read + 'a) -> io::Result<(Compressed, Box<dyn Read + 'a>)> {
    let mut r = BufReader::with_capacity(256 * 1024, r);
    let kind = Compressed::detect(r.fill_buf()?);
    let out: Box<dyn Read + 'a> = match kind {
        Compressed::None => Box::new(r),
        Compressed::Gzip => Box::new(flate2::bufread::MultiGzDecoder::new(r)),
        Compressed::Zstd => Box::new(zstd::stream::read::Decoder::with_buffer(r)?),
    };
    Ok((kind, out))
}

/// Where a blob lives in an OCI layout.
pub(crate) fn blob_path(d: &Digest) -> String {
    format!("blobs/sha256/{}", d.hex())
}

/// Writes one regular file entry to an archive.
pub(crate) fn append_file(
    tar: &mut tar::Builder<&mut dyn Write>,
    path: &str,
    size: u64,
    data: &mut dyn Read,
) -> Result<(), ArchiveError> {
    let mut h = tar::Header::new_ustar();
    h.set_size(size);
    h.set_mode(0o644);
    h.set_mtime(0);
    h.set_uid(0);
    h.set_gid(0);
    h.set_entry_type(tar::EntryType::Regular);
    tar.append_data(&mut h, path, data)
        .map_err(ArchiveError::Write)
}

pub(crate) fn append_bytes(
    tar: &mut tar::Builder<&mut dyn Write>,
    path: &str,
    data: &[u8],
) -> Result<(), ArchiveError> {
    append_file(tar, path, data.len() as u64, &mut &data[..])
}

pub(crate) fn append_dir(
    tar: &mut tar::Builder<&mut dyn Write>,
    path: &str,
) -> Result<(), ArchiveError> {
    let mut h = tar::Header::new_ustar();
    h.set_size(0);
    h.set_mode(0o755);
    h.set_mtime(0);
    h.set_entry_type(tar::EntryType::Directory);
    tar.append_data(&mut h, path, io::empty())
        .map_err(ArchiveError::Write)
}
