//! `StoreError`: every failure of the on-disk store, carrying the path, digest or reference at
//! fault.

use std::io;
use std::path::PathBuf;

use crate::digest::Digest;
use crate::reference::ReferenceError;

#[derive(Debug, thiserror::Error)]
pub enum StoreError {
    #[error("{op} {path}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("cannot lock {path}")]
    Lock {
        path: PathBuf,
        #[source]
        source: nix::Error,
    },
    #[error("the store {0} is in use by another strata process; try again when it has finished")]
    Busy(PathBuf),
    #[error("content of {what} does not match its digest: expected {expected}, got {actual}")]
    DigestMismatch {
        what: String,
        expected: Digest,
        actual: Digest,
    },
    #[error(
        "size of {what} does not match its descriptor: expected {expected} bytes, got {actual}"
    )]
    SizeMismatch {
        what: String,
        expected: u64,
        actual: u64,
    },
    #[error("blob {0} is missing from the store")]
    MissingBlob(Digest),
    #[error("invalid JSON in {what}")]
    Json {
        what: String,
        #[source]
        source: serde_json::Error,
    },
    #[error("invalid digest {value:?} in {what}")]
    BadDigest { what: String, value: String },
    #[error("unsupported media type {media_type:?} for {digest}")]
    UnsupportedMediaType { media_type: String, digest: Digest },
    #[error("No such image: {0}")]
    NoSuchImage(String),
    #[error("image with reference {reference} was found but does not provide the specified platform ({wanted}); it has: {available}")]
    PlatformMismatch {
        reference: String,
        wanted: String,
        available: String,
    },
    #[error("invalid image index {digest}: {message}")]
    BadIndex { digest: Digest, message: String },
    #[error("{0}: ambiguous image ID prefix, it matches several images")]
    AmbiguousId(String),
    #[error(transparent)]
    Conflict(#[from] super::image_delete::DeleteConflict),
    #[error(transparent)]
    Reference(#[from] ReferenceError),
}

impl StoreError {
    pub(crate) fn io(op: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> Self {
        let path = path.into();
        move |source| StoreError::Io { op, path, source }
    }
}
