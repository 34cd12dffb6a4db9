//! Talking to registries over the distribution HTTP API: credentials (Docker's config file and
//! credential helpers), transport trust (certs.d, plain HTTP rules), auth, the client, and the
//! pull and push flows.

pub mod auth;
pub(crate) mod base64;
pub mod client;
pub mod credentials;
pub mod error;
pub mod inspect;
pub mod known_blobs;
pub mod pull;
pub mod push;
pub mod search;
pub mod tls;
pub mod verify;

pub use auth::BasicCredential;
pub use client::{default_plain_http, ClientConfig, RegistryClient};
pub use error::RegistryError;
pub use pull::pull;
pub use push::{push, Pushed};
