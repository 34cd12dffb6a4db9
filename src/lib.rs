//! strata: a daemonless Dockerfile image builder with content-addressed layer caching.
//!
//! Data flows one way: `syntax` → `plan` → `exec` → `snapshot`/`store` → `distribution`/`runtime`,
//! with `cli` a thin shell on top (see ARCHITECTURE.md in the design notes).

pub mod digest;
pub mod reference;
pub mod util;

pub mod sandbox;
pub mod syntax;

pub mod network;
pub mod plan;
pub mod snapshot;
pub mod store;

pub mod engine;
pub mod exec;

pub mod container;

pub mod distribution;

pub mod cache;

pub mod api;
pub mod cli;
