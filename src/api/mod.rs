//! The Docker Engine API front door (`strata system service`): a thin translation of HTTP
//! requests into `engine/` calls and of their results into Docker's JSON shapes (bollard's
//! models where the API version we speak matches them).
//!
//! Concurrency model: the engine stays synchronous. The server is a small tokio runtime (two
//! worker threads) that only accepts connections and parses HTTP; every handler runs its
//! engine call with `tokio::task::spawn_blocking`, so a slow store operation or a slow client
//! never holds up the others. The store's own locks keep the service and concurrent `strata`
//! commands consistent: the store stays the only state.

mod archive;
mod body;
mod body_reader;
mod build;
mod build_progress;
mod channel_body;
mod commit;
mod container_files;
mod container_update;
mod containers;
mod containers_create;
mod create_endpoints;
mod distribution;
mod error;
mod events;
mod exec;
mod hijack;
mod images;
mod import;
mod listen;
mod logs;
mod networks;
mod pull;
mod push;
mod query;
mod registry_auth;
mod router;
mod search;
mod server;
mod stats;
mod stream;
mod system;
mod tls;
mod upload;
mod volumes;

use std::path::PathBuf;

pub use error::ApiError;
pub use listen::{default_socket, ListenAddr, ListenError};
pub use server::{serve, ServeConfig, ServeError};
pub use tls::TlsFiles;

use crate::engine::EngineError;

/// What every handler shares: the store's root.
#[derive(Debug)]
pub struct State {
    pub root: PathBuf,
    /// Container records parsed by earlier listings, reused while their files are unchanged.
    pub records: crate::container::record_cache::RecordCache,
}

/// Runs a synchronous engine call on the blocking pool.
async fn blocking<T, F>(f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, EngineError> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("the operation failed: {e}")))?
        .map_err(ApiError::from)
}
