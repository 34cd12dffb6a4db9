//! The on-disk store: an OCI image layout (blobs, index.json with tags), cache index, locks, gc.

pub mod archive;
pub mod blobs;
pub mod build_keys;
pub mod build_prune;
pub mod cache;
pub mod changes;
pub mod config;
pub mod error;
pub mod events;
pub mod gc;
pub mod image;
pub mod image_delete;
pub mod image_filter;
pub mod image_parent;
pub mod index;
pub mod layout;
pub mod lock;
pub mod platform_index;
pub mod time;

pub use blobs::{BlobWriter, PendingBlob};
pub use config::{Healthcheck, ImageConfig, RuntimeConfig};
pub use error::StoreError;
pub use image::{Image, RemoveEvent};
pub use index::{IndexEntry, IndexFile, REF_NAME};
pub use layout::Store;

use crate::digest::Digest;

/// A strata `Digest` as oci-spec's digest type.
pub fn oci_digest(d: &Digest) -> oci_spec::image::Digest {
    d.to_string()
        .parse()
        .expect("a sha256 digest is a valid OCI digest")
}

/// oci-spec's digest as a strata `Digest` (sha256 only).
pub fn digest_of(d: &oci_spec::image::Digest) -> Result<Digest, StoreError> {
    d.to_string().parse().map_err(|_| StoreError::BadDigest {
        what: "descriptor".into(),
        value: d.to_string(),
    })
}
