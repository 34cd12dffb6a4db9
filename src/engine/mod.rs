//! The operations a user asks for, combining the modules below; the CLI and the API are thin
//! doors over them: typed requests in, typed results (or a stream of events) out, no clap and
//! no HTTP types. Everything here is synchronous; the API server runs it on tokio's blocking
//! pool.

pub mod archive;
pub mod auth;
pub mod build;
pub mod container_inspect;
pub mod containers;
pub mod context_mirror;
mod context_reuse;
pub mod context_source;
pub mod context_tar;
pub mod distribution;
mod error;
pub mod events;
pub mod image_inspect;
pub mod image_tree;
pub mod images;
pub mod import;
pub mod inspect_security;
pub mod inspect_sent;
pub mod networks;
pub mod pull;
pub mod push;
pub mod registry;
pub mod system;
pub mod system_prune;
pub mod volumes;

pub use error::EngineError;
