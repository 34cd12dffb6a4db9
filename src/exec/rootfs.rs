//! Filesystems for steps, made from snapshots: a read-only merged view of a chain (the source of
//! `COPY --from`) and a writable overlay over a parent chain with a fresh upperdir (COPY, WORKDIR
//! and RUN write there). Mounts live in strata's mount namespace (the host's, or the one a
//! rootless strata made with its user namespace) under `<store>/tmp/`, in owned temp
//! directories, and are detached when their guard drops; mounts left by a killed strata are
//! detached by the next one to open the store, which finds the directory's owner gone
//! (`util::owned_tmp`).

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};

use super::error::StepError;
use super::state::StepState;
use crate::sandbox::mount_plan::MOUNT_DATA_MAX;
use crate::sandbox::syscalls::{RealSyscalls, Syscalls};
use crate::snapshot::{lowerdir_option, Snapshots};
use crate::store::Store;
use crate::util::owned_tmp::OwnedDir;

/// An owned temp directory under the store named `<what>-…`, removed on drop.
pub fn step_dir(store: &Store, what: &str) -> Result<OwnedDir, StepError> {
    let root = store.tmp_dir();
    std::fs::create_dir_all(&root).map_err(StepError::io("create", &root))?;
    OwnedDir::new_in(&root, &format!("{what}-")).map_err(StepError::io("create temp dir in", &root))
}

/// The snapshot dirs of a state's layers, unpacking missing ones; `lowerdir=` order.
pub fn lowerdirs(store: &Store, state: &StepState) -> Result<Vec<PathBuf>, StepError> {
    if state.layers.is_empty() {
        return Ok(Vec::new());
    }
    Ok(Snapshots::new(store.root()).ensure_chain(state.openers(store))?)
}

/// A mounted overlay; detached (lazily, so a straggling reader cannot make it fail) on drop.
pub struct OverlayMount {
    target: PathBuf,
    mounted: bool,
}

impl OverlayMount {
    pub fn path(&self) -> &Path {
        &self.target
    }
}

impl Drop for OverlayMount {
    fn drop(&mut self) {
        if self.mounted {
            let _ = umount2(&self.target, MntFlags::MNT_DETACH);
        }
    }
}

/// Mounts an overlay of `lowers` (top first) with `upper`/`work` at `target`. A `lowerdir=`
/// string longer than a page (about 37 layers with store paths) goes through the new mount
/// API, which takes one lower at a time, as the sandbox does.
fn mount_overlay(
    lowers: &[PathBuf],
    upper: &Path,
    work: &Path,
    target: &Path,
) -> Result<OverlayMount, StepError> {
    let mut opts = OsString::from("lowerdir=");
    opts.push(lowerdir_option(lowers));
    opts.push(",upperdir=");
    opts.push(upper);
    opts.push(",workdir=");
    opts.push(work);
    // Renamed-dir redirects and metadata-only copy-ups cannot be expressed in a layer.
    // `volatile` skips overlayfs's sync of the whole upper filesystem at unmount, which costs
    // 0.1 s and more on a busy disk: the layer blob is fsynced on its own, and the upperdir
    // kept as a snapshot is no less durable than an unpacked one after a crash of strata
    // (only a power loss can lose it, as with Docker's overlay2 driver).
    //
    // In a user namespace (a rootless build) overlayfs keeps its bookkeeping in `user.overlay.*`
    // xattrs (`userxattr`), where redirects and metacopy are off and may not even be named.
    let userxattr = crate::util::userns::in_user_namespace();
    opts.push(if userxattr {
        ",userxattr,volatile"
    } else {
        ",redirect_dir=off,metacopy=off,volatile"
    });
    let result = if opts.len() <= MOUNT_DATA_MAX {
        mount(
            Some("overlay"),
            target,
            Some("overlay"),
            MsFlags::empty(),
            Some(opts.as_os_str()),
        )
    } else {
        RealSyscalls.mount_overlay_layers(lowers, upper, work, userxattr, target)
    };
    result.map_err(|source| StepError::MountFailed {
        what: "overlay",
        target: target.to_path_buf(),
        source,
    })?;
    Ok(OverlayMount {
        target: target.to_path_buf(),
        mounted: true,
    })
}

/// A writable overlay at `dir/merged` over `lowers` with `dir/upper` as its upperdir. With no
/// lowers (scratch), an empty `dir/empty` stands in, since overlayfs needs one.
pub fn mount_writable(
    dir: &Path,
    lowers: &[PathBuf],
) -> Result<(OverlayMount, PathBuf), StepError> {
    let upper = dir.join("upper");
    let work = dir.join("work");
    let merged = dir.join("merged");
    let empty = dir.join("empty");
    for d in [&upper, &work, &merged, &empty] {
        std::fs::create_dir(d).map_err(StepError::io("create", d))?;
    }
    set_mode_755(&upper)?;
    let lowers: Vec<PathBuf> = if lowers.is_empty() {
        vec![empty]
    } else {
        lowers.to_vec()
    };
    let m = mount_overlay(&lowers, &upper, &work, &merged)?;
    Ok((m, upper))
}

fn set_mode_755(p: &Path) -> Result<(), StepError> {
    use std::os::unix::fs::PermissionsExt;
    std::fs::set_permissions(p, std::fs::Permissions::from_mode(0o755))
        .map_err(StepError::io("chmod", p))
}

/// A merged view of `lowers` for reading (a `COPY --from` source): a writable overlay whose
/// throwaway upperdir nothing writes to. An empty chain is an empty directory.
pub fn mount_view(
    dir: &Path,
    lowers: &[PathBuf],
) -> Result<(Option<OverlayMount>, PathBuf), StepError> {
    if lowers.is_empty() {
        let view = dir.join("view");
        std::fs::create_dir(&view).map_err(StepError::io("create", &view))?;
        return Ok((None, view));
    }
    let (m, _) = mount_writable(dir, lowers)?;
    let view = m.path().to_path_buf();
    Ok((Some(m), view))
}
