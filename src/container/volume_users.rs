//! What containers do to volumes: use one (made when missing, filled from the image the first
//! time), and stop using it at `rm`. Each user is an empty `users/<id>` file beside the
//! volume, so `volume rm` can refuse a volume in use without reading container records.

use std::path::{Path, PathBuf};

use super::cp::{self, Owner};
use super::record::ProcRef;
use super::tree::ContainerFs;
use super::volume_opts::needs_mount;
use super::volume_store::{anonymous_name, io_err, valid_name, VolumeError, Volumes};

impl Volumes {
    /// The containers recorded as using volume `name` for which `exists` holds.
    pub fn users(
        &self,
        name: &str,
        exists: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<String>, VolumeError> {
        let users = self.vol_dir(name).join("users");
        let mut out = Vec::new();
        let rd = match std::fs::read_dir(&users) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(io_err("read directory", &users)(e)),
        };
        for e in rd {
            let id = e
                .map_err(io_err("read directory", &users))?
                .file_name()
                .to_string_lossy()
                .into_owned();
            if exists(&id) {
                out.push(id);
            }
        }
        out.sort();
        Ok(out)
    }

    /// The host directory to mount for volume `name` (anonymous: `None`, named after the
    /// container and target) of container `container_id` at `target`. Creates the volume when
    /// missing and records the container as a user. The first time a container uses a volume
    /// whose `_data` is empty, the content `rootfs` has at `target` (the container's own
    /// view of it) is copied in with owners, modes and times, and `_data` takes the mode and
    /// owner of the image's directory there, as Docker does. A volume with a mount of its own
    /// is mounted for that copy and unmounted after it, as dockerd populates one (so a tmpfs
    /// keeps nothing of it). Idempotent: called on every start.
    pub fn mount_source(
        &self,
        name: Option<&str>,
        container_id: &str,
        target: &Path,
        rootfs: &ContainerFs,
    ) -> Result<PathBuf, VolumeError> {
        let _l = self.lock()?;
        let (name, anonymous) = match name {
            Some(n) => (n.to_string(), false),
            None => (anonymous_name(container_id, target), true),
        };
        let v = self.create_locked(&name, anonymous)?;
        let data = self.data_dir(&name);
        let users = self.vol_dir(&name).join("users");
        std::fs::create_dir_all(&users).map_err(io_err("create", &users))?;
        let marker = users.join(container_id);
        if marker.exists() {
            return Ok(data);
        }
        let fill_if_empty = || {
            let empty = std::fs::read_dir(&data)
                .map_err(io_err("read directory", &data))?
                .next()
                .is_none();
            if !empty {
                return Ok(());
            }
            fill(rootfs, target, &data).map_err(|source| VolumeError::Fill {
                name: name.clone(),
                target: target.to_path_buf(),
                source: Box::new(source),
            })
        };
        if !needs_mount(&v.options) {
            fill_if_empty()?;
        } else if image_has_dir(rootfs, target) {
            let me = ProcRef::current().expect("this process runs");
            let populate = |e| VolumeError::Populate(Box::new(e));
            self.activate_locked(&v, container_id, me)
                .map_err(populate)?;
            let filled = fill_if_empty();
            self.deactivate_locked(&v, container_id).map_err(populate)?;
            filled?;
        }
        std::fs::write(&marker, b"").map_err(io_err("write", &marker))?;
        Ok(data)
    }

    /// Forgets container `container_id` as a user of the volumes `names` (named or anonymous
    /// by target), removing its anonymous ones when `remove_anonymous` (`rm -v`) and nobody
    /// else uses them. A mount a killed strata left behind goes when nobody is left using it.
    pub fn release(
        &self,
        container_id: &str,
        mounts: &[(Option<String>, PathBuf)],
        remove_anonymous: bool,
    ) -> Result<(), VolumeError> {
        let _l = self.lock()?;
        for (name, target) in mounts {
            let (name, anonymous) = match name {
                Some(n) => (n.clone(), false),
                None => (anonymous_name(container_id, target), true),
            };
            if !valid_name(&name) || !self.vol_dir(&name).is_dir() {
                continue;
            }
            let marker = self.vol_dir(&name).join("users").join(container_id);
            match std::fs::remove_file(&marker) {
                Ok(()) => {}
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_err("remove", &marker)(e)),
            }
            if anonymous && remove_anonymous && self.users(&name, &|_| true)?.is_empty() {
                self.remove_locked(&name)?;
            } else {
                self.deactivate_locked(&self.get(&name)?, container_id)?;
            }
        }
        Ok(())
    }
}

/// Whether the image has a directory at `target` (following symlinks inside it): only then
/// has a new volume anything to be filled with.
fn image_has_dir(rootfs: &ContainerFs, target: &Path) -> bool {
    rootfs
        .resolve(target, true)
        .ok()
        .and_then(|rel| rootfs.lstat(&rel).ok().flatten())
        .is_some_and(|e| e.md.is_dir())
}

/// Copies what `rootfs` shows at `target` (following symlinks inside it) into `data`.
fn fill(rootfs: &ContainerFs, target: &Path, data: &Path) -> Result<(), cp::CpError> {
    let rel = rootfs.resolve(target, true)?;
    let Some(entry) = rootfs.lstat(&rel)? else {
        return Ok(());
    };
    if !entry.md.is_dir() {
        return Ok(());
    }
    let dst = ContainerFs::live(data)?;
    let mut src = target.as_os_str().to_owned();
    src.push("/.");
    cp::copy(
        rootfs,
        Path::new(&src),
        &dst,
        Path::new("/"),
        true,
        Owner::Keep,
    )?;
    super::tree::copy_metadata(data, &entry.md)?;
    Ok(())
}
