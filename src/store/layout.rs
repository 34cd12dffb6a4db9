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
//!   tmp/            temp files and dirs, each owned through a lock (`util::owned_tmp`): an
//!                   item whose owner died is reclaimed by the next `Store::open`
//!   lock            flock serialising index.json updates
//!   gc.lock         flock: shared by every process using the store, exclusive for prune
//! ```

use std::fs;
use std::path::{Path, PathBuf};

use super::error::StoreError;
use super::index::IndexFile;
use super::lock::FileLock;
use crate::util::atomic::write_atomic;
use crate::util::owned_tmp::{self, Orphans, OwnedDir, OwnedFile, SweepReport};

pub const OCI_DIR: &str = "oci";
pub const TMP_DIR: &str = "tmp";
pub const SNAPSHOTS_DIR: &str = "snapshots-v1";
pub const CHUNKS_DIR: &str = "chunks-v1";
pub const INDEX_LOCK: &str = "lock";
pub const GC_LOCK: &str = "gc.lock";
/// Names in tmp/ kept on purpose rather than left behind: a failed pull's partial blob waits
/// there for the next pull to resume from (`system prune` removes it).
pub const KEPT_TMP_PREFIXES: &[&str] = &["partial-"];
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
    /// Opens the store at `root`, creating the layout when it is missing, and reclaims what
    /// killed strata processes left in tmp/ (see [`Store::reclaim_tmp`]).
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
        store.reclaim_tmp()?;
        Ok(store)
    }

    /// Removes the temp items of dead owners from tmp/, detaching what they left mounted. An
    /// unleased leftover (an older strata's temp file) is taken only when no other process has
    /// the store open, proven by getting `gc.lock` exclusively for a moment. When tmp/ is empty
    /// this costs one directory listing.
    pub fn reclaim_tmp(&self) -> Result<SweepReport, StoreError> {
        let tmp = self.tmp_dir();
        let mut report = owned_tmp::sweep(&tmp, Orphans::Keep);
        if report.orphans(KEPT_TMP_PREFIXES) > 0 {
            let alone = self.gc_lock.try_make_exclusive()?;
            if alone {
                let more = owned_tmp::sweep(
                    &tmp,
                    Orphans::Reclaim {
                        except: KEPT_TMP_PREFIXES,
                    },
                );
                report.reclaimed.extend(more.reclaimed);
                report.bytes += more.bytes;
                report.unleased = more.unleased;
                report.failed.extend(more.failed);
            }
            // Shared again (after a failed try no lock is held at all): this waits out a
            // prune that got in meanwhile, before this process writes anything.
            self.gc_lock.make_shared()?;
        }
        Ok(report)
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

    /// A fresh directory under `tmp/`, owned by this process and removed on drop.
    pub fn temp_dir(&self) -> Result<OwnedDir, StoreError> {
        self.temp_dir_named("dir-")
    }

    /// A fresh directory `tmp/<prefix><random>`, owned by this process and removed on drop.
    pub fn temp_dir_named(&self, prefix: &str) -> Result<OwnedDir, StoreError> {
        OwnedDir::new_in(&self.tmp_dir(), prefix)
            .map_err(StoreError::io("cannot create temp dir in", self.tmp_dir()))
    }

    /// A fresh file `tmp/<prefix><random>`, owned by this process and removed on drop.
    pub fn temp_file(&self, prefix: &str) -> Result<OwnedFile, StoreError> {
        OwnedFile::new_in(&self.tmp_dir(), prefix)
            .map_err(StoreError::io("cannot create temp file in", self.tmp_dir()))
    }

    pub(crate) fn lock_index(&self) -> Result<FileLock, StoreError> {
        FileLock::acquire(&self.root.join(INDEX_LOCK), true)
    }

    pub(crate) fn gc_lock(&self) -> &FileLock {
        &self.gc_lock
    }
}
