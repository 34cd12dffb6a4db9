//! The seam named and anonymous volumes plug into. Until volumes land, a named volume is an
//! error ("volumes not supported yet") and an anonymous one (an image `VOLUME`, `-v /path`)
//! is not mounted: its path stays in the container's own layer.

use std::path::{Path, PathBuf};

use super::error::ContainerError;
use super::record::Container;
use crate::store::Store;

/// The host directory to bind at `target` for the volume `name` (`None`: anonymous) of
/// container `c`, creating the volume (and copying the image's content at `target` into a
/// new one, as Docker does) when needed. `Ok(None)`: nothing to mount.
/// Called each time the container starts, so it must be idempotent.
pub fn resolve(
    _store: &Store,
    _c: &Container,
    name: Option<&str>,
    target: &Path,
) -> Result<Option<PathBuf>, ContainerError> {
    match name {
        None => Ok(None),
        Some(n) => Err(ContainerError::VolumesUnsupported {
            name: n.to_string(),
            target: target.to_path_buf(),
        }),
    }
}

/// Called by `rm` (after the container has stopped, before its directory goes): drops the
/// container's anonymous volumes (`rm -v`) and its references to named ones.
pub fn release(
    _store: &Store,
    _c: &Container,
    _remove_anonymous: bool,
) -> Result<(), ContainerError> {
    Ok(())
}
