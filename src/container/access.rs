//! How `cp`, `export` and `commit` reach a container's files: its upperdir over the image
//! snapshots, or, for `cp` into a running container, its init's root (writing into an upperdir
//! under a live overlay mount is undefined behaviour for overlayfs).

use std::path::PathBuf;

use super::error::ContainerError;
use super::record::{Container, MountSpec};
use super::rootdir::RootDir;
use super::rootfs::lowerdirs;
use super::store::Containers;
use super::tree::ContainerFs;
use super::volume_store::{anonymous_name, Volumes};
use crate::store::Store;

/// The container's upperdir and the snapshot dirs below it (top first; empty for scratch).
pub fn layers(store: &Store, c: &Container) -> Result<(PathBuf, Vec<PathBuf>), ContainerError> {
    let upper = Containers::new(store.root()).upperdir(&c.id);
    Ok((upper, lowerdirs(store, c)?))
}

/// The container's own filesystem, merged from its layers (never its mounts or `/proc`).
pub fn layered_fs(store: &Store, c: &Container) -> Result<ContainerFs, ContainerError> {
    let (upper, lowers) = layers(store, c)?;
    Ok(ContainerFs::Layered {
        upper,
        lowers,
        mounts: Vec::new(),
    })
}

/// Where the container's volumes and binds are on the host (relative target, host path), for
/// `cp` to a stopped container to read and write them as its processes would. A tmpfs holds
/// nothing once the container stops, and a volume never mounted yet does not exist: both are
/// left out, so the path shows the container's own layer.
pub fn mount_sources(store: &Store, c: &Container) -> Vec<(PathBuf, PathBuf)> {
    let vols = Volumes::new(store.root());
    let mut out = Vec::new();
    for m in &c.config.mounts {
        let host = match m {
            MountSpec::Bind { source, .. } => source.clone(),
            MountSpec::Volume { name, target, .. } => {
                let name = name
                    .clone()
                    .unwrap_or_else(|| anonymous_name(&c.id, target));
                vols.data_dir(&name)
            }
            MountSpec::Tmpfs { .. } => continue,
        };
        if host.exists() {
            let t = m.target();
            out.push((t.strip_prefix("/").unwrap_or(t).to_path_buf(), host));
        }
    }
    out
}

/// The filesystem `cp` works on: the live root of a running container (with its volumes and
/// mounts, as its processes see it), else the merged layers with its volumes and binds over
/// them.
pub fn cp_fs(store: &Store, c: &Container) -> Result<ContainerFs, ContainerError> {
    if c.is_running() {
        if let Some(pid) = c.state.pid.filter(|p| p.alive()) {
            // Opened once: every path is then resolved inside it (see `rootdir`).
            let root = PathBuf::from(format!("/proc/{}/root", pid.pid));
            match RootDir::open(&root) {
                Ok(dir) => {
                    return Ok(ContainerFs::Live {
                        root: std::sync::Arc::new(dir),
                    })
                }
                // It stopped meanwhile: its layers are what it leaves.
                Err(_) if !pid.alive() => {}
                Err(source) => {
                    return Err(ContainerError::Io {
                        op: "open",
                        path: root,
                        source,
                    })
                }
            }
        }
    }
    let (upper, lowers) = layers(store, c)?;
    Ok(ContainerFs::Layered {
        upper,
        lowers,
        mounts: mount_sources(store, c),
    })
}
