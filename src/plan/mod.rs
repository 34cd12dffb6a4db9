//! Stages → build graph with cache keys; the build context walker and hasher.

pub mod check;
pub mod config_values;
pub mod context;
pub mod copy;
pub mod graph;
pub mod inputs;
pub mod platform;
pub mod platform_choice;
pub mod resolve;
pub mod scope;
pub mod stages;
