//! Talking to registries: credentials, transport trust, and the HTTP client for pull and push.

mod base64;
pub mod credentials;
pub mod tls;
pub mod verify;
