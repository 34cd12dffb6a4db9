//! Unpacked layers keyed by chain ID, the deterministic layer writer, and unpacking with
//! whiteouts and escape refusal.

pub mod chunk_store;
pub mod chunks;
pub mod diff;
mod fsops;
pub mod gzip_parallel;
pub mod layer;
pub mod lower_links;
pub mod lowers;
mod sink;
pub mod snapshots;
mod source;
pub mod tar_layout;
pub mod unpack;
pub mod whiteout;

pub use crate::digest::{chain_id, chain_ids};
pub use diff::upperdir_changes;
pub use layer::{
    write_changes_layer, write_changes_layer_reusing, write_dir_layer, write_dir_layer_reusing,
    Change, Compression, LayerDigests, LayerError, LayerOptions, DEFAULT_GZIP_LEVEL,
};
pub use snapshots::{lowerdir_option, BlobOpener, SnapshotError, Snapshots};
pub use unpack::{
    decompress, unpack_layer, unpack_layer_with, UnpackError, UnpackOptions, UnpackStats,
    WhiteoutMode,
};
