//! Registry push and pull over the distribution HTTP API: auth, the client, and the two flows.

pub mod auth;
pub mod client;
pub mod error;
pub mod known_blobs;
pub mod pull;
pub mod push;

pub use auth::BasicCredential;
pub use client::{default_plain_http, ClientConfig, RegistryClient};
pub use error::RegistryError;
pub use pull::pull;
pub use push::{push, Pushed};
