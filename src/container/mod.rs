//! Containers (placeholder until the container record module lands).

pub mod commit;
pub mod cp;
pub mod export;
pub mod tree;
pub mod volume_store;
