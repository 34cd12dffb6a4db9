//! The cache keys of the steps that built an image, by image ID: what lets a local image serve
//! as a build's cache source (`docker build --cache-from IMAGE` with the classic builder), which
//! trusts a cached step only when it lies along that image's own build.

use std::collections::HashSet;
use std::path::PathBuf;

use super::error::StoreError;
use super::layout::Store;
use crate::digest::{CacheKey, Digest};
use crate::util::atomic::write_atomic;

pub const BUILD_KEYS_DIR: &str = "build-keys-v1";

impl Store {
    fn build_keys_path(&self, image: &Digest) -> PathBuf {
        self.root().join(BUILD_KEYS_DIR).join(image.hex())
    }

    /// Remembers the keys of the steps that made `image` (added to what earlier builds of the
    /// same image recorded).
    pub fn record_build_keys(&self, image: &Digest, keys: &[CacheKey]) -> Result<(), StoreError> {
        let mut all = self.build_keys(image);
        all.extend(keys.iter().copied());
        let mut sorted: Vec<String> = all.iter().map(|k| k.to_string()).collect();
        sorted.sort();
        let dir = self.root().join(BUILD_KEYS_DIR);
        std::fs::create_dir_all(&dir).map_err(|source| StoreError::Io {
            op: "create",
            path: dir.clone(),
            source,
        })?;
        let path = self.build_keys_path(image);
        let bytes = serde_json::to_vec(&sorted).expect("strings serialise");
        write_atomic(&path, &bytes).map_err(|source| StoreError::Io {
            op: "write",
            path,
            source,
        })
    }

    /// The keys recorded for `image`; none for an image this store did not build.
    pub fn build_keys(&self, image: &Digest) -> HashSet<CacheKey> {
        std::fs::read(self.build_keys_path(image))
            .ok()
            .and_then(|b| serde_json::from_slice::<Vec<String>>(&b).ok())
            .unwrap_or_default()
            .iter()
            .filter_map(|k| k.parse().ok())
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn keys_accumulate_per_image() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let img = Digest::of(b"config");
        assert!(store.build_keys(&img).is_empty());
        let (a, b) = (CacheKey::from_bytes([1; 32]), CacheKey::from_bytes([2; 32]));
        store.record_build_keys(&img, &[a]).unwrap();
        store.record_build_keys(&img, &[b]).unwrap();
        assert_eq!(store.build_keys(&img), HashSet::from([a, b]));
        assert!(store.build_keys(&Digest::of(b"other")).is_empty());
    }
}
