//! The store's directory layout and `Store::open`.
//!
//! ```text
//! <root>/
//!   oci/            an OCI image layout (oci-layout, index.json, blobs/sha256/<hex>); tags are
//!                   `org.opencontainers.image.ref.name` annotations holding fully normalised
//!                   references, so `skopeo inspect oci:<root>/oci:docker.io/library/busybox:latest`
//!                   reads the store as it is
//!   snapshots-v1/   unpacked layers (owned by `snapshot`)
//!   chunks-v1/      per layer blob, where its compressed gzip chunks are (`snapshot::chunk_store`)
//!   tmp/            temp files and dirs; whatever is here when no strata process runs is garbage
//!   lock            flock serialising index.json updates
//!   gc.lock         flock: shared by every process using the store, exclusive for prune
//! ```

use std::fs;
use std::path::{Path, PathBuf};

use super::error::StoreError;
use super::index::IndexFile;
use super::lock::FileLock;
use crate::util::atomic::write_atomic;

pub const OCI_DIR: &str = "oci";
pub const TMP_DIR: &str = "tmp";
pub const SNAPSHOTS_DIR: &str = "snapshots-v1";
pub const CHUNKS_DIR: &str = "chunks-v1";
pub const INDEX_LOCK: &str = "lock";
pub const GC_LOCK: &str = "gc.lock";
const OCI_LAYOUT: &str = "oci-layout";
const OCI_LAYOUT_CONTENT: &[u8] = br#"{"imageLayoutVersion":"1.0.0"}"#;

/// An open store. Holding it holds `gc.lock` shared, which keeps `system prune` of another
/// process away from this process's temp files and freshly written blobs.
#[derive(Debug)]
pub struct Store {
    root: PathBuf,
    gc_lock: FileLock,
}

impl Store {
    /// Opens the store at `root`, creating the layout when it is missing.
    pub fn open(root: &Path) -> Result<Store, StoreError> {
        let oci = root.join(OCI_DIR);
        for dir in [
            root.to_path_buf(),
            oci.join("blobs/sha256"),
            root.join(TMP_DIR),
            root.join(SNAPSHOTS_DIR),
        ] {
            fs::create_dir_all(&dir).map_err(StoreError::io("cannot create directory", &dir))?;
        }
        let gc_lock = FileLock::acquire(&root.join(GC_LOCK), false)?;
        let store = Store {
            root: root.to_path_buf(),
            gc_lock,
        };
        let layout = oci.join(OCI_LAYOUT);
        if !layout.exists() {
            write_atomic(&layout, OCI_LAYOUT_CONTENT)
                .map_err(StoreError::io("cannot write", &layout))?;
        }
        if !store.index_path().exists() {
            // Under the index lock: a concurrent process may be creating it and adding a tag.
            let _l = store.lock_index()?;
            if !store.index_path().exists() {
                IndexFile::default().write(&store.index_path())?;
            }
        }
        Ok(store)
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
    /// The OCI image layout directory (`skopeo … oci:<this>:<ref>`).
    pub fn oci_dir(&self) -> PathBuf {
        self.root.join(OCI_DIR)
    }
    pub fn blobs_dir(&self) -> PathBuf {
        self.root.join(OCI_DIR).join("blobs/sha256")
    }
    pub fn index_path(&self) -> PathBuf {
        self.root.join(OCI_DIR).join("index.json")
    }
    pub fn tmp_dir(&self) -> PathBuf {
        self.root.join(TMP_DIR)
    }
    pub fn chunks_dir(&self) -> PathBuf {
        self.root.join(CHUNKS_DIR)
    }
    pub fn snapshots_dir(&self) -> PathBuf {
        self.root.join(SNAPSHOTS_DIR)
    }

    /// A fresh directory under `tmp/`, removed on drop.
    pub fn temp_dir(&self) -> Result<tempfile::TempDir, StoreError> {
        tempfile::Builder::new()
            .prefix("dir-")
            .tempdir_in(self.tmp_dir())
            .map_err(StoreError::io("cannot create temp dir in", self.tmp_dir()))
    }

    pub(crate) fn lock_index(&self) -> Result<FileLock, StoreError> {
        FileLock::acquire(&self.root.join(INDEX_LOCK), true)
    }

    pub(crate) fn gc_lock(&self) -> &FileLock {
        &self.gc_lock
    }
}
