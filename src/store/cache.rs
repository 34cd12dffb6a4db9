//! The build cache index: one small JSON file per step result, `cache-v1/<key-hex>`, mapping a
//! step's `CacheKey` to what the step produced — a layer, or only a config change. Written
//! atomically (a crash leaves the old entry or none), read without locks (entries are immutable
//! once written; a rewrite of the same key replaces the file whole).
//!
//! An entry whose layer blob has gone (pruned) reads as a miss, so a hit always means the
//! result can be used without rebuilding.

use std::io;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::error::StoreError;
use super::layout::Store;
use crate::digest::{CacheKey, Digest};
use crate::util::atomic::write_atomic;

/// The cache index's directory under the store root; the version is in the name so a future
/// format can live next to it and old entries can be pruned.
pub const CACHE_DIR: &str = "cache-v1";

/// What a cached step produced.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "snake_case")]
pub enum CacheResult {
    /// A filesystem step (COPY, ADD, RUN, WORKDIR that created its directory).
    Layer {
        digest: Digest,
        diff_id: Digest,
        size: u64,
        media_type: String,
    },
    /// A step that only changes the image config (ENV, LABEL, CMD, …) or changed no file.
    ConfigOnly,
}

/// One cache entry.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheEntry {
    pub key: CacheKey,
    pub result: CacheResult,
    /// When the entry was recorded (RFC 3339), for `builder prune --filter until=…`.
    pub created: String,
    /// The step as the user wrote it (`RUN make`), for `--explain` and progress output.
    pub description: String,
}

impl Store {
    fn cache_path(&self, key: &CacheKey) -> PathBuf {
        self.root().join(CACHE_DIR).join(key.hex())
    }

    /// Records a step result; replaces any earlier entry for the same key.
    pub fn cache_put(&self, entry: &CacheEntry) -> Result<(), StoreError> {
        let path = self.cache_path(&entry.key);
        let dir = self.root().join(CACHE_DIR);
        std::fs::create_dir_all(&dir).map_err(|source| StoreError::Io {
            op: "create",
            path: dir.clone(),
            source,
        })?;
        let bytes = serde_json::to_vec(entry).expect("a cache entry serialises");
        write_atomic(&path, &bytes).map_err(|source| StoreError::Io {
            op: "write",
            path,
            source,
        })
    }

    /// The result recorded for `key`, if it is still usable: `None` when there is no entry, the
    /// entry is unreadable (a cache is never worth failing a build for), or its layer blob is
    /// gone.
    pub fn cache_get(&self, key: &CacheKey) -> Result<Option<CacheEntry>, StoreError> {
        let path = self.cache_path(key);
        let bytes = match std::fs::read(&path) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(source) => {
                return Err(StoreError::Io {
                    op: "read",
                    path,
                    source,
                })
            }
        };
        let Ok(entry) = serde_json::from_slice::<CacheEntry>(&bytes) else {
            return Ok(None);
        };
        if entry.key != *key {
            return Ok(None);
        }
        if let CacheResult::Layer { digest, .. } = &entry.result {
            if !self.has_blob(digest) {
                return Ok(None);
            }
        }
        Ok(Some(entry))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn key(n: u8) -> CacheKey {
        CacheKey::from_bytes([n; 32])
    }

    fn store() -> (tempfile::TempDir, Store) {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("root")).unwrap();
        (dir, store)
    }

    #[test]
    fn put_then_get_and_misses() {
        let (_d, store) = store();
        assert_eq!(store.cache_get(&key(1)).unwrap(), None);
        let blob = store.write_blob(b"layer bytes").unwrap();
        let layer = CacheEntry {
            key: key(1),
            result: CacheResult::Layer {
                digest: blob,
                diff_id: Digest::of(b"tar"),
                size: 11,
                media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
            },
            created: "2026-11-22T00:00:00Z".into(),
            description: "COPY . .".into(),
        };
        let config = CacheEntry {
            key: key(2),
            result: CacheResult::ConfigOnly,
            created: "2026-11-22T00:00:00Z".into(),
            description: "ENV A=1".into(),
        };
        store.cache_put(&layer).unwrap();
        store.cache_put(&config).unwrap();
        assert_eq!(store.cache_get(&key(1)).unwrap(), Some(layer.clone()));
        assert_eq!(store.cache_get(&key(2)).unwrap(), Some(config));
        assert_eq!(store.cache_get(&key(3)).unwrap(), None);
        // The file is named by the key and holds nothing but JSON.
        let path = store.root().join(CACHE_DIR).join(key(1).hex());
        let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&path).unwrap()).unwrap();
        assert_eq!(v["result"]["kind"], "layer");
        assert_eq!(v["key"], key(1).to_string());

        // A pruned layer blob turns the entry into a miss rather than a broken hit.
        std::fs::remove_file(store.blob_path(&blob)).unwrap();
        assert_eq!(store.cache_get(&key(1)).unwrap(), None);
    }

    #[test]
    fn corrupt_or_misfiled_entries_are_misses() {
        let (_d, store) = store();
        let dir = store.root().join(CACHE_DIR);
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(key(4).hex()), b"{not json").unwrap();
        assert_eq!(store.cache_get(&key(4)).unwrap(), None);
        // An entry stored under another key's name is not trusted.
        let entry = CacheEntry {
            key: key(6),
            result: CacheResult::ConfigOnly,
            created: String::new(),
            description: String::new(),
        };
        std::fs::write(dir.join(key(5).hex()), serde_json::to_vec(&entry).unwrap()).unwrap();
        assert_eq!(store.cache_get(&key(5)).unwrap(), None);
    }
}
