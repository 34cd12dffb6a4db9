//! `import`: a rootfs tarball (plain, gzip or zstd) or a directory becomes a one-layer image,
//! with a config as `docker import` writes it (`strata import`, `POST /images/create?fromSrc=`).
//!
//! A tarball is unpacked into a temp dir under the store and re-packed by the deterministic
//! layer writer, so the stored layer is canonical whatever tool made the tarball; with
//! `SOURCE_DATE_EPOCH` set (it fixes `created` and clamps mtimes), importing the same input
//! twice gives the same image ID. A tarball that ends early or is no tar imports nothing.

use std::fs::File;
use std::io::Read;
use std::path::{Path, PathBuf};

use oci_spec::image::{Descriptor, HistoryBuilder};

use super::context_source::{download, is_loopback, ContextError};
use crate::digest::Digest;
use crate::plan::platform::Platform;
use crate::reference::{Reference, ReferenceError};
use crate::snapshot::chunk_store::ChunkStore;
use crate::snapshot::{
    self, BlobOpener, Compression, LayerError, LayerOptions, SnapshotError, Snapshots,
};
use crate::store::changes::{apply_change, ChangeError};
use crate::store::image::layer_descriptor;
use crate::store::time::{format_rfc3339, now_unix};
use crate::store::{Image, ImageConfig, Store, StoreError};

/// Where the filesystem comes from.
pub enum ImportSource {
    /// A directory taken as it is.
    Dir(PathBuf),
    /// A tar stream, maybe compressed.
    Tar(Box<dyn Read + Send>),
    /// A tarball at an http(s) URL on a loopback host (strata fetches nothing from further).
    Url(String),
}

/// What to import and how.
pub struct ImportRequest {
    pub source: ImportSource,
    /// How the source is named in the history comment (`Imported from -`).
    pub source_name: String,
    pub reference: Option<String>,
    /// Dockerfile instructions applied to the config (CMD, ENV, …).
    pub changes: Vec<String>,
    /// The history comment; `Imported from SOURCE` when `None`.
    pub message: Option<String>,
    /// The image's platform; the host's when `None`.
    pub platform: Option<Platform>,
    pub compression: Compression,
}

#[derive(Debug, thiserror::Error)]
pub enum ImportError {
    #[error("invalid reference format: {value:?}")]
    BadReference {
        value: String,
        #[source]
        source: ReferenceError,
    },
    #[error("refusing to import to a digest reference: {0}")]
    DigestReference(String),
    #[error("invalid SOURCE_DATE_EPOCH {0:?}")]
    Epoch(String),
    #[error(transparent)]
    Change(#[from] ChangeError),
    #[error("cannot open {path}")]
    Open {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot read {name}")]
    Read {
        name: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot unpack {name}")]
    Unpack {
        name: String,
        #[source]
        source: snapshot::UnpackError,
    },
    #[error("cannot archive {path}")]
    Layer {
        path: PathBuf,
        #[source]
        source: LayerError,
    },
    #[error("cannot unpack the layer into the snapshot store")]
    Snapshot(#[source] SnapshotError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("importing from {0}: strata imports URLs on loopback hosts only")]
    RemoteUrl(String),
    #[error(transparent)]
    Download(Box<ContextError>),
}

impl ImportError {
    /// Whether the request itself is wrong (a reference, a change), not the host or the input.
    pub fn is_invalid_request(&self) -> bool {
        matches!(
            self,
            ImportError::BadReference { .. }
                | ImportError::DigestReference(_)
                | ImportError::Change(_)
                | ImportError::RemoteUrl(_)
        )
    }
}

/// Opens a file source (a tarball, or a directory kept as such).
pub fn file_source(path: &Path) -> Result<ImportSource, ImportError> {
    if path.is_dir() {
        return Ok(ImportSource::Dir(path.to_path_buf()));
    }
    let f = File::open(path).map_err(|source| ImportError::Open {
        path: path.to_path_buf(),
        source,
    })?;
    Ok(ImportSource::Tar(Box::new(f)))
}

/// Imports `req.source` as a new image; returns it.
pub fn import(root: &Path, req: ImportRequest) -> Result<Image, ImportError> {
    let tag = match &req.reference {
        Some(r) => {
            let parsed = Reference::parse(r).map_err(|source| ImportError::BadReference {
                value: r.clone(),
                source,
            })?;
            if parsed.digest().is_some() {
                return Err(ImportError::DigestReference(r.clone()));
            }
            Some(parsed)
        }
        None => None,
    };
    let epoch = source_date_epoch()?;
    let mut config = ImageConfig::new_for_host();
    if let Some(p) = &req.platform {
        config.os = p.os.clone();
        config.architecture = p.architecture.clone();
        config.variant = p.variant.clone();
    }
    for c in &req.changes {
        apply_change(&mut config.config, c)?;
    }

    let store = Store::open(root)?;
    let opts = LayerOptions {
        compression: req.compression,
        source_date_epoch: epoch,
    };
    let name = &req.source_name;
    let layer = match req.source {
        ImportSource::Dir(dir) => write_layer(&store, &dir, &opts)?,
        ImportSource::Tar(input) => tar_layer(&store, input, name, &opts)?,
        ImportSource::Url(url) => {
            if !is_loopback(&url) {
                return Err(ImportError::RemoteUrl(url));
            }
            let body = download(&url).map_err(|e| ImportError::Download(Box::new(e)))?;
            tar_layer(&store, Box::new(body), name, &opts)?
        }
    };

    let created = format_rfc3339(epoch.unwrap_or_else(now_unix));
    let comment = req
        .message
        .clone()
        .unwrap_or_else(|| format!("Imported from {name}"));
    config.created = Some(created.clone());
    config.rootfs.set_diff_ids(vec![layer.1.to_string()]);
    config.history = vec![HistoryBuilder::default()
        .created(created)
        .comment(comment)
        .build()
        .expect("a history entry with two fields builds")];

    let tags: Vec<Reference> = tag.into_iter().collect();
    let img = store.commit_image(&config, &[layer.0], &tags)?;
    // Keep the layer unpacked once, keyed by its chain ID, ready to be an overlay lowerdir.
    let blob_path = store.blob_path(&layer.2);
    let open: BlobOpener = Box::new(move || {
        let f = File::open(&blob_path)?;
        Ok(Box::new(f) as Box<dyn Read + Send>)
    });
    Snapshots::new(root)
        .ensure_chain(vec![(layer.1, open)])
        .map_err(ImportError::Snapshot)?;
    crate::store::events::image_event(root, "import", &img.id.to_string(), "");
    Ok(img)
}

/// Unpacks the tarball `input` into a temp dir of the store and writes that as a layer blob.
fn tar_layer(
    store: &Store,
    input: Box<dyn Read + Send>,
    name: &str,
    opts: &LayerOptions,
) -> Result<(Descriptor, Digest, Digest), ImportError> {
    let read = |source| ImportError::Read {
        name: name.to_string(),
        source,
    };
    let mut tar = snapshot::decompress(input).map_err(read)?;
    let dir = store.temp_dir()?;
    let rootfs = dir.path().join("rootfs");
    std::fs::create_dir(&rootfs).map_err(read)?;
    snapshot::unpack_layer(&mut tar, &rootfs).map_err(|source| ImportError::Unpack {
        name: name.to_string(),
        source,
    })?;
    write_layer(store, &rootfs, opts)
}

/// Writes `dir` as a layer blob; returns its descriptor, diff ID and blob digest.
fn write_layer(
    store: &Store,
    dir: &Path,
    opts: &LayerOptions,
) -> Result<(Descriptor, Digest, Digest), ImportError> {
    let chunks = ChunkStore::new(store.chunks_dir(), store.blobs_dir());
    let mut w = store.blob_writer()?;
    let d = snapshot::write_dir_layer_reusing(dir, opts, &mut w, chunks.source(&[])).map_err(
        |source| ImportError::Layer {
            path: dir.to_path_buf(),
            source,
        },
    )?;
    let (digest, size) = w.commit(Some(&d.digest))?;
    // Indexed so that layers built on this one can reuse its compressed files; without the
    // index they are only compressed again.
    let _ = chunks.save(&digest, &d.chunks);
    Ok((
        layer_descriptor(&digest, size, d.media_type),
        d.diff_id,
        digest,
    ))
}

/// `SOURCE_DATE_EPOCH` (Unix seconds), when set and not empty.
fn source_date_epoch() -> Result<Option<i64>, ImportError> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) if !v.is_empty() => Ok(Some(
            v.trim()
                .parse()
                .map_err(|_| ImportError::Epoch(v.clone()))?,
        )),
        _ => Ok(None),
    }
}
