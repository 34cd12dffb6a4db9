//! The image a committed image was made from, by image ID: Docker's `Parent`, which an OCI
//! config cannot hold.

use std::path::PathBuf;

use super::error::StoreError;
use super::layout::Store;
use crate::digest::Digest;
use crate::util::atomic::write_atomic;

pub const PARENTS_DIR: &str = "image-parents-v1";

impl Store {
    fn parent_path(&self, image: &Digest) -> PathBuf {
        self.root().join(PARENTS_DIR).join(image.hex())
    }

    pub fn record_parent(&self, image: &Digest, parent: &Digest) -> Result<(), StoreError> {
        let dir = self.root().join(PARENTS_DIR);
        std::fs::create_dir_all(&dir).map_err(|source| StoreError::Io {
            op: "create",
            path: dir.clone(),
            source,
        })?;
        let path = self.parent_path(image);
        write_atomic(&path, parent.to_string().as_bytes()).map_err(|source| StoreError::Io {
            op: "write",
            path,
            source,
        })
    }

    /// The recorded parent, if it is still in the store (Docker shows none once it is gone).
    pub fn parent_of(&self, image: &Digest) -> Option<Digest> {
        let text = std::fs::read_to_string(self.parent_path(image)).ok()?;
        let parent: Digest = text.trim().parse().ok()?;
        self.resolve(&parent.to_string()).ok().map(|_| parent)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn no_parent_unless_recorded() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(dir.path()).unwrap();
        let (child, parent) = (Digest::of(b"child"), Digest::of(b"parent"));
        assert_eq!(store.parent_of(&child), None);
        store.record_parent(&child, &parent).unwrap();
        // Recorded, but the parent is not an image of this store.
        assert_eq!(store.parent_of(&child), None);
    }
}
