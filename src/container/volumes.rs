//! The seam named and anonymous volumes plug into: both are directories of `volume_store`,
//! an anonymous one (an image `VOLUME`, `-v /path`) named after its container and target.

use std::path::{Path, PathBuf};

use super::error::ContainerError;
use super::record::{Container, MountSpec};
use super::store::Containers;
use super::tree::ContainerFs;
use super::volume_store::Volumes;
use crate::store::Store;

/// The host directory to bind at `target` for the volume `name` (`None`: anonymous) of
/// container `c`, creating the volume (and copying the image's content at `target` into a
/// new one, as Docker does) when needed. `Ok(None)`: nothing to mount.
/// Called each time the container starts, so it must be idempotent.
pub fn resolve(
    store: &Store,
    c: &Container,
    name: Option<&str>,
    target: &Path,
) -> Result<Option<PathBuf>, ContainerError> {
    let fs = ContainerFs::Layered {
        upper: Containers::new(store.root()).upperdir(&c.id),
        lowers: super::rootfs::lowerdirs(store, c)?,
        mounts: Vec::new(),
    };
    Ok(Some(
        Volumes::new(store.root()).mount_source(name, &c.id, target, &fs)?,
    ))
}

/// Called by `rm` (after the container has stopped, before its directory goes): drops the
/// container's anonymous volumes (`rm -v`) and its references to named ones.
pub fn release(store: &Store, c: &Container, remove_anonymous: bool) -> Result<(), ContainerError> {
    let mounts: Vec<(Option<String>, PathBuf)> = c
        .config
        .mounts
        .iter()
        .filter_map(|m| match m {
            MountSpec::Volume { name, target, .. } => Some((name.clone(), target.clone())),
            _ => None,
        })
        .collect();
    Volumes::new(store.root()).release(&c.id, &mounts, remove_anonymous)?;
    Ok(())
}
