//! Runs a build graph: scheduling, one file per op kind, image assembly, progress events.
pub mod copy;
pub mod events;
pub mod mounts;
