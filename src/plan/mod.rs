//! Stages → build graph with cache keys; the build context walker.
pub mod context;
