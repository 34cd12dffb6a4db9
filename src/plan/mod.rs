//! Stages → build graph with cache keys; the build context walker.

pub mod check;
pub mod context;
pub mod inputs;
pub mod platform;
pub mod resolve;
pub mod scope;
pub mod stages;
