//! The seam named and anonymous volumes plug into: both are directories of `volume_store`,
//! an anonymous one (an image `VOLUME`, `-v /path`) named after its container and target.

use std::path::{Path, PathBuf};

use super::error::ContainerError;
use super::record::{Container, MountSpec, ProcRef};
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

/// Container `c` starts, run by this process: mounts its volume `name` if it has a mount
/// of its own (`volume_mount`).
pub fn activate(store: &Store, c: &Container, name: &str) -> Result<(), ContainerError> {
    let me = ProcRef::current().expect("this process runs");
    Ok(Volumes::new(store.root()).activate(name, &c.id, me)?)
}

/// Container `c` stopped: each volume it mounted is unmounted if nobody else uses it. A
/// failure is returned after trying them all.
pub fn deactivate(root: &Path, c: &Container) -> Result<(), ContainerError> {
    let vols = Volumes::new(root);
    let mut first = Ok(());
    for m in &c.config.mounts {
        if let MountSpec::Volume { name: Some(n), .. } = m {
            if let Err(e) = vols.deactivate(n, &c.id) {
                first = first.and(Err(e.into()));
            }
        }
    }
    first
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

/// Docker's `VolumesFrom`: for each `CONTAINER[:ro|:rw]`, that container's volumes and binds
/// at the same paths (its anonymous volumes by their names, so both share them), read-only
/// with `:ro`, writable with `:rw`, as they were without either. A path `own` mounts keeps
/// its own mount, and a path mounted already by an earlier entry keeps that one.
pub fn inherited(
    cs: &Containers,
    specs: &[String],
    own: &[MountSpec],
) -> Result<Vec<MountSpec>, ContainerError> {
    let mut out: Vec<MountSpec> = Vec::new();
    for spec in specs {
        let (name, mode) = match spec.rsplit_once(':') {
            Some((n, m)) => (n, Some(m)),
            None => (spec.as_str(), None),
        };
        let readonly = match mode {
            None => None,
            Some("ro") => Some(true),
            Some("rw") => Some(false),
            Some(m) => {
                return Err(ContainerError::BadMount {
                    spec: spec.clone(),
                    reason: format!("invalid mode for volumes-from: {m}"),
                })
            }
        };
        let other = cs.find(name)?;
        out.extend(shared_mounts(&other, readonly));
    }
    let mut kept: Vec<MountSpec> = Vec::new();
    for m in out {
        let taken = |t: &PathBuf| own.iter().chain(&kept).any(|o| o.target() == t);
        if !taken(m.target()) {
            kept.push(m);
        }
    }
    Ok(kept)
}

/// The mounts of `c` another container shares through `VolumesFrom` (a tmpfs is its own).
fn shared_mounts(c: &Container, readonly: Option<bool>) -> Vec<MountSpec> {
    c.config
        .mounts
        .iter()
        .filter_map(|m| match m {
            MountSpec::Bind {
                source,
                target,
                readonly: ro,
            } => Some(MountSpec::Bind {
                source: source.clone(),
                target: target.clone(),
                readonly: readonly.unwrap_or(*ro),
            }),
            MountSpec::Volume {
                name,
                target,
                readonly: ro,
            } => Some(MountSpec::Volume {
                name: Some(
                    name.clone()
                        .unwrap_or_else(|| super::volume_store::anonymous_name(&c.id, target)),
                ),
                target: target.clone(),
                readonly: readonly.unwrap_or(*ro),
            }),
            MountSpec::Tmpfs { .. } => None,
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::record::{test_record, Status};

    #[test]
    fn volumes_from_shares_volumes_and_binds_with_their_mode() {
        let mut c = test_record(Status::Created, None);
        c.config.mounts = vec![
            MountSpec::Volume {
                name: None,
                target: "/data".into(),
                readonly: false,
            },
            MountSpec::Bind {
                source: "/srv".into(),
                target: "/srv".into(),
                readonly: true,
            },
            MountSpec::Tmpfs {
                target: "/t".into(),
                size_bytes: None,
            },
        ];
        let anon = super::super::volume_store::anonymous_name(&c.id, Path::new("/data"));
        let vol = |ro| MountSpec::Volume {
            name: Some(anon.clone()),
            target: "/data".into(),
            readonly: ro,
        };
        let bind = |ro| MountSpec::Bind {
            source: "/srv".into(),
            target: "/srv".into(),
            readonly: ro,
        };
        assert_eq!(shared_mounts(&c, None), vec![vol(false), bind(true)]);
        assert_eq!(shared_mounts(&c, Some(true)), vec![vol(true), bind(true)]);
        assert_eq!(
            shared_mounts(&c, Some(false)),
            vec![vol(false), bind(false)]
        );
    }
}
