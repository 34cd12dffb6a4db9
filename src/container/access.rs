//! How `cp`, `export` and `commit` reach a container's files: its upperdir over the image
//! snapshots, or, for `cp` into a running container, its init's root (writing into an upperdir
//! under a live overlay mount is undefined behaviour for overlayfs).

use std::path::PathBuf;

use super::error::ContainerError;
use super::record::Container;
use super::rootfs::lowerdirs;
use super::store::Containers;
use super::tree::ContainerFs;
use crate::store::Store;

/// The container's upperdir and the snapshot dirs below it (top first; empty for scratch).
pub fn layers(store: &Store, c: &Container) -> Result<(PathBuf, Vec<PathBuf>), ContainerError> {
    let upper = Containers::new(store.root()).upperdir(&c.id);
    Ok((upper, lowerdirs(store, c)?))
}

/// The container's own filesystem, merged from its layers (never its mounts or `/proc`).
pub fn layered_fs(store: &Store, c: &Container) -> Result<ContainerFs, ContainerError> {
    let (upper, lowers) = layers(store, c)?;
    Ok(ContainerFs::Layered { upper, lowers })
}

/// The filesystem `cp` works on: the live root of a running container (with its volumes and
/// mounts, as its processes see it), else the merged layers.
pub fn cp_fs(store: &Store, c: &Container) -> Result<ContainerFs, ContainerError> {
    if c.is_running() {
        if let Some(pid) = c.state.pid.filter(|p| p.alive()) {
            return Ok(ContainerFs::Live {
                root: PathBuf::from(format!("/proc/{}/root", pid.pid)),
            });
        }
    }
    layered_fs(store, c)
}
