//! Containers (placeholder until the container record module lands).

pub mod export;
pub mod tree;
