//! Unpacked layers keyed by chain ID, the deterministic layer writer, and unpacking with
//! whiteouts and escape refusal.

pub mod chain;
pub mod gzip_parallel;
pub mod layer;
mod sink;
mod source;
pub mod tar_layout;
pub mod whiteout;

pub use chain::{chain_id, chain_ids};
pub use layer::{
    write_changes_layer, write_dir_layer, Change, Compression, LayerDigests, LayerError,
    LayerOptions,
};
