//! Portable build caches for runners that start empty: `--cache-to` exports the entries a build
//! used (and their layer blobs) as an OCI artifact in a registry or an OCI layout directory, or
//! inline in the image config; `--cache-from` imports such entries for the executor to consult
//! after its local index (see [`crate::exec::remote_cache`]; blobs come lazily from a
//! [`BlobSource`]). The artifact format is in [`format`].
//!
//! Sits above `exec` and `distribution`: it uses the executor's records and the registry
//! client, and neither knows it.

pub mod format;
mod local;
mod mounts;
mod registry;
pub mod spec;

use std::path::PathBuf;

use crate::distribution::RegistryError;
use crate::exec::remote_cache::{BlobSource, CacheDocument, CacheRecord, ImportedCache};
use crate::exec::StepError;
use crate::store::{Store, StoreError};

pub use format::{ArtifactConfig, MountBlob};
pub use local::{export_local, import_local};
pub use mounts::{pack_cache_mounts, restore_cache_mounts};
pub use registry::{export_registry, import_registry};
pub use spec::{parse_cache_from, parse_cache_to, CacheFrom, CacheTo, Mode};

/// Why an import or export failed (the build goes on; the CLI prints it as a warning).
#[derive(Debug, thiserror::Error)]
pub enum CacheError {
    #[error("{reference}: {source}")]
    Registry {
        reference: String,
        #[source]
        source: Box<RegistryError>,
    },
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Blob(Box<StepError>),
    /// The cache is there but is not one strata can read.
    #[error("{source_name}: {message}")]
    Invalid {
        source_name: String,
        message: String,
    },
}

impl CacheError {
    fn io(op: &'static str, path: &std::path::Path) -> impl FnOnce(std::io::Error) -> CacheError {
        let path = path.to_path_buf();
        move |source| CacheError::Io { op, path, source }
    }
}

/// An imported cache: where its blobs are, its entries, and its cache-mount tars.
pub struct Imported {
    pub source: Box<dyn BlobSource>,
    pub doc: CacheDocument,
    pub mounts: Vec<MountBlob>,
}

/// What an export wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Exported {
    pub entries: usize,
    pub blobs: usize,
    /// Blobs that had to be written (the rest were there already).
    pub written: usize,
}

/// The entries `mode` exports from a build's records.
pub fn select(records: &[CacheRecord], mode: Mode) -> CacheDocument {
    CacheDocument::new(
        records
            .iter()
            .filter(|r| mode == Mode::Max || r.in_output)
            .map(|r| r.entry.clone())
            .collect(),
    )
}

/// Makes sure a blob an export needs is in the store: fetched from the imported cache when
/// a hit left it remote.
fn ensure_local(
    store: &Store,
    imported: Option<&ImportedCache>,
    digest: &crate::digest::Digest,
) -> Result<(), CacheError> {
    if store.has_blob(digest) {
        return Ok(());
    }
    match imported {
        Some(imp) => imp
            .ensure_blob(store, digest)
            .map_err(|e| CacheError::Blob(Box::new(e))),
        None => Err(StoreError::MissingBlob(*digest).into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::CacheKey;
    use crate::store::cache::{CacheEntry, CacheResult};

    #[test]
    fn min_keeps_the_output_steps_max_all() {
        let rec = |n: u8, in_output| CacheRecord {
            entry: CacheEntry {
                key: CacheKey::from_bytes([n; 32]),
                result: CacheResult::ConfigOnly,
                created: String::new(),
                description: String::new(),
            },
            in_output,
        };
        let records = vec![rec(1, false), rec(2, true), rec(3, true)];
        let keys = |d: CacheDocument| -> Vec<u8> {
            d.entries.iter().map(|e| e.key.as_bytes()[0]).collect()
        };
        assert_eq!(keys(select(&records, Mode::Min)), vec![2, 3]);
        assert_eq!(keys(select(&records, Mode::Max)), vec![1, 2, 3]);
    }
}
