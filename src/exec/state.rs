//! What a finished step leaves for the steps after it: its final cache key, the image config so
//! far (with history and diff IDs) and the layers, base first. Filesystems are not part of it:
//! a step that needs one materialises it from the layers' snapshots.

use crate::digest::{CacheKey, Digest};
use crate::snapshot::BlobOpener;
use crate::store::config::ImageConfig;
use crate::store::Store;

/// One layer of an image being built, as its manifest needs it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerRef {
    pub digest: Digest,
    pub diff_id: Digest,
    pub size: u64,
    pub media_type: String,
}

/// The result of one step.
#[derive(Debug, Clone)]
pub struct StepState {
    pub key: CacheKey,
    pub config: ImageConfig,
    pub layers: Vec<LayerRef>,
    /// Whether this stage set CMD itself (a later ENTRYPOINT keeps it).
    pub cmd_set: bool,
    /// The step's result came from the cache.
    pub cached: bool,
}

impl StepState {
    /// Appends a layer, keeping the config's diff IDs in step.
    pub fn push_layer(&mut self, layer: LayerRef) {
        self.config
            .rootfs
            .diff_ids_mut()
            .push(layer.diff_id.to_string());
        self.layers.push(layer);
    }

    /// (diff ID, blob opener) per layer, base first, for `Snapshots::ensure_chain`.
    pub fn openers<'s>(&self, store: &'s Store) -> Vec<(Digest, BlobOpener<'s>)> {
        self.layers
            .iter()
            .map(|l| {
                let digest = l.digest;
                let open: BlobOpener<'s> = Box::new(move || {
                    store
                        .open_blob(&digest)
                        .map(|f| Box::new(f) as Box<dyn std::io::Read + Send>)
                        .map_err(|e| std::io::Error::other(e.to_string()))
                });
                (l.diff_id, open)
            })
            .collect()
    }
}
