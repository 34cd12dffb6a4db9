//! Turning a step's changes into a layer blob in the store, and keeping the step's upperdir as
//! the snapshot of the new chain (no re-extraction of what was just written).

use std::path::Path;

use super::error::StepError;
use super::state::LayerRef;
use crate::digest::{chain_id, Digest};
use crate::snapshot::chunk_store::ChunkStore;
use crate::snapshot::{write_changes_layer_reusing, Change, LayerOptions, Snapshots};
use crate::store::Store;

/// Writes `changes` (read from `root`) as a layer blob; the digest is checked as it enters the
/// store, so a torn write never becomes a blob. Compressed chunks of the `parents` blobs and of
/// recently written layers are reused (see `snapshot::chunks`), and this blob's are indexed.
pub fn write_layer(
    store: &Store,
    root: &Path,
    changes: &[Change],
    opts: &LayerOptions,
    parents: &[Digest],
) -> Result<LayerRef, StepError> {
    let chunks = ChunkStore::new(store.chunks_dir(), store.blobs_dir());
    let mut blob = store.blob_writer()?;
    let d = write_changes_layer_reusing(root, changes, opts, &mut blob, chunks.source(parents))?;
    blob.commit(Some(&d.digest))?;
    // Without its index the blob is only never reused: not worth failing the build for.
    let _ = chunks.save(&d.digest, &d.chunks);
    Ok(LayerRef {
        digest: d.digest,
        diff_id: d.diff_id,
        size: d.size,
        media_type: d.media_type.to_string(),
    })
}

/// Renames `upper` into place as the snapshot of the chain `diff_ids` (base first, the new
/// layer last). When that snapshot already exists (another build made it), ours is dropped by
/// the caller's temp dir.
pub fn adopt_snapshot(store: &Store, upper: &Path, diff_ids: &[Digest]) -> Result<(), StepError> {
    let snaps = Snapshots::new(store.root());
    let chain = chain_id(diff_ids);
    let dir = snaps.dir(&chain);
    if dir.is_dir() {
        return Ok(());
    }
    let parent = dir.parent().expect("snapshot dirs have a parent");
    std::fs::create_dir_all(parent).map_err(StepError::io("create", parent))?;
    match std::fs::rename(upper, &dir) {
        Ok(()) => Ok(()),
        Err(_) if dir.is_dir() => Ok(()),
        Err(e) => Err(StepError::io("rename into place", &dir)(e)),
    }
}
