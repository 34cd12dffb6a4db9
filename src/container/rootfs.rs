//! A container's filesystem for the sandbox: an overlay of its image's snapshots (unpacked
//! when missing) with the container's own upperdir, and its extra mounts as sandbox mounts.

use std::path::PathBuf;

use super::error::ContainerError;
use super::record::{Container, MountSpec};
use super::store::Containers;
use super::volumes;
use crate::digest::{chain_ids, Digest};
use crate::sandbox::{Mount, RootFs};
use crate::snapshot::{BlobOpener, Snapshots};
use crate::store::Store;

/// The snapshot dirs of the container's image, top first (overlayfs `lowerdir=` order),
/// unpacking any that are missing.
pub fn lowerdirs(store: &Store, c: &Container) -> Result<Vec<PathBuf>, ContainerError> {
    let snapshots = Snapshots::new(store.root());
    // The common case, every snapshot present, without starting `ensure_chain`'s thread pool
    // (which costs more than the rest of a container's start-up).
    let diff_ids: Vec<Digest> = c.layers.iter().map(|l| l.diff_id).collect();
    let present: Vec<PathBuf> = chain_ids(&diff_ids)
        .iter()
        .rev()
        .map(|chain| snapshots.dir(chain))
        .take_while(|d| d.is_dir())
        .collect();
    if present.len() == c.layers.len() {
        return Ok(present);
    }
    let layers: Vec<(Digest, BlobOpener<'_>)> = c
        .layers
        .iter()
        .map(|l| {
            let digest = l.digest;
            let open: BlobOpener<'_> = Box::new(move || {
                store
                    .open_blob(&digest)
                    .map(|f| Box::new(f) as Box<dyn std::io::Read + Send>)
                    .map_err(|e| std::io::Error::other(e.to_string()))
            });
            (l.diff_id, open)
        })
        .collect();
    if layers.is_empty() {
        return Ok(Vec::new());
    }
    snapshots
        .ensure_chain(layers)
        .map_err(|source| ContainerError::Snapshot {
            id: c.id.clone(),
            source: Box::new(source),
        })
}

/// The root the container runs on: image snapshots as lowerdirs (top first) under its
/// upperdir/workdir. A scratch image gets the container's empty dir as its only lower.
pub fn rootfs(store: &Store, c: &Container) -> Result<RootFs, ContainerError> {
    let cs = Containers::new(store.root());
    let mut lowerdirs = lowerdirs(store, c)?;
    if lowerdirs.is_empty() {
        lowerdirs.push(cs.emptydir(&c.id));
    }
    Ok(RootFs::Overlay {
        lowerdirs,
        upperdir: cs.upperdir(&c.id),
        workdir: cs.workdir(&c.id),
    })
}

/// Checks what can be checked before a container exists: every bind source is there.
pub fn check_mounts(mounts: &[MountSpec]) -> Result<(), ContainerError> {
    for m in mounts {
        if let MountSpec::Bind { source, .. } = m {
            if std::fs::symlink_metadata(source).is_err() {
                return Err(ContainerError::MissingBindSource(source.clone()));
            }
        }
    }
    Ok(())
}

/// The container's mounts as the sandbox takes them; volumes go through `volumes::resolve`
/// (an anonymous volume it does not provide stays in the container's own layer), and a named
/// one with a mount of its own is mounted now (`volumes::deactivate` undoes it at the end).
pub fn sandbox_mounts(store: &Store, c: &Container) -> Result<Vec<Mount>, ContainerError> {
    let mut out = Vec::new();
    for m in &c.config.mounts {
        match m {
            MountSpec::Bind {
                source,
                target,
                readonly,
            } => {
                if std::fs::symlink_metadata(source).is_err() {
                    return Err(ContainerError::MissingBindSource(source.clone()));
                }
                out.push(Mount::Bind {
                    source: source.clone(),
                    target: target.clone(),
                    readonly: *readonly,
                });
            }
            MountSpec::Volume {
                name,
                target,
                readonly,
            } => {
                if let Some(source) = volumes::resolve(store, c, name.as_deref(), target)? {
                    if let Some(n) = name {
                        volumes::activate(store, c, n)?;
                    }
                    out.push(Mount::Bind {
                        source,
                        target: target.clone(),
                        readonly: *readonly,
                    });
                }
            }
            MountSpec::Tmpfs { target, size_bytes } => out.push(Mount::Tmpfs {
                target: target.clone(),
                size_bytes: *size_bytes,
            }),
        }
    }
    Ok(out)
}
