//! `RegistryError`: every failure of a registry exchange, in the user's terms (not found,
//! unauthorized with the registry's own message, digest mismatch, unreachable, …).

use crate::digest::Digest;
use crate::store::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    #[error("{registry}: {what} not found: {message}")]
    NameUnknown {
        registry: String,
        what: String,
        message: String,
    },
    #[error("{registry}: {what} not found: {message}")]
    ManifestUnknown {
        registry: String,
        what: String,
        message: String,
    },
    #[error("{registry}: {what} not found")]
    NotFound { registry: String, what: String },
    #[error("{registry}: unauthorized: {message}")]
    Unauthorized { registry: String, message: String },
    #[error("{registry}: denied: {message}")]
    Denied { registry: String, message: String },
    #[error("{registry} is unreachable: {message}")]
    Unreachable { registry: String, message: String },
    #[error(
        "{registry}: TLS failed: {message} (a private CA goes in /etc/docker/certs.d/{registry}/ca.crt)"
    )]
    Tls { registry: String, message: String },
    #[error("{registry}: connection lost during {what}: {message}")]
    Transfer {
        registry: String,
        what: String,
        message: String,
    },
    #[error("{what} from {registry} does not match its digest: expected {expected}, got {actual}")]
    DigestMismatch {
        registry: String,
        what: String,
        expected: Digest,
        actual: Digest,
    },
    #[error("{registry}: {what}: unexpected status {status}: {body}")]
    UnexpectedStatus {
        registry: String,
        what: String,
        status: u16,
        body: String,
    },
    #[error("{registry}: invalid {what}: {message}")]
    BadResponse {
        registry: String,
        what: String,
        message: String,
    },
    #[error(
        "{registry}: no image for platform {platform} in {reference} (available: {available})"
    )]
    NoMatchingPlatform {
        registry: String,
        reference: String,
        platform: String,
        available: String,
    },
    #[error("cannot read CA file {path}")]
    CaFile {
        path: std::path::PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error(transparent)]
    Store(#[from] StoreError),
}
