//! Filesystems for steps, made from snapshots: a read-only merged view of a chain (the source of
//! `COPY --from`) and a writable overlay over a parent chain with a fresh upperdir (COPY, WORKDIR
//! and RUN write there). Mounts live in strata's mount namespace (the host's, or the one a
//! rootless strata made with its user namespace) under `<store>/tmp/`, in
//! directories named with strata's pid, and are detached when their guard drops; mounts left by
//! a killed strata are found by that pid and detached by the next build.

use std::ffi::OsString;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};

use super::error::StepError;
use super::state::StepState;
use crate::sandbox::mount_plan::MOUNT_DATA_MAX;
use crate::sandbox::syscalls::{RealSyscalls, Syscalls};
use crate::snapshot::{lowerdir_option, Snapshots};
use crate::store::Store;

const TMP: &str = "tmp";

fn tmp_root(store: &Store) -> Result<PathBuf, StepError> {
    let dir = store.root().join(TMP);
    std::fs::create_dir_all(&dir).map_err(StepError::io("create", &dir))?;
    Ok(dir)
}

/// A temp directory under the store named `<what>-<pid>-…`, removed on drop.
pub fn step_dir(store: &Store, what: &str) -> Result<tempfile::TempDir, StepError> {
    let root = tmp_root(store)?;
    tempfile::Builder::new()
        .prefix(&format!("{what}-{}-", std::process::id()))
        .tempdir_in(&root)
        .map_err(StepError::io("create temp dir in", &root))
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

/// Detaches mounts under `<store>/tmp/` whose directory names a pid that is no longer running
/// (left by a strata that was killed), and removes their directories.
pub fn reap_stale_mounts(store: &Store) {
    let tmp = store.root().join(TMP);
    let Ok(info) = std::fs::read_to_string("/proc/self/mountinfo") else {
        return;
    };
    let mut stale: Vec<PathBuf> = Vec::new();
    for line in info.lines() {
        let Some(mp) = line.split(' ').nth(4) else {
            continue;
        };
        let mp = PathBuf::from(unescape_mountinfo(mp));
        let Ok(rel) = mp.strip_prefix(&tmp) else {
            continue;
        };
        let Some(first) = rel.components().next() else {
            continue;
        };
        if let Some(pid) = owner_pid(&first.as_os_str().to_string_lossy()) {
            if !Path::new(&format!("/proc/{pid}")).exists() {
                stale.push(mp);
            }
        }
    }
    // Deepest first, so nested mounts go before the ones they sit on.
    stale.sort_by_key(|p| std::cmp::Reverse(p.components().count()));
    for mp in &stale {
        let _ = umount2(mp, MntFlags::MNT_DETACH);
    }
    if let Ok(rd) = std::fs::read_dir(&tmp) {
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if let Some(pid) = owner_pid(&name) {
                if !Path::new(&format!("/proc/{pid}")).exists() {
                    let _ = std::fs::remove_dir_all(e.path());
                }
            }
        }
    }
}

/// The pid in a step directory name `<what>-<pid>-<random>`.
pub fn owner_pid(name: &str) -> Option<u32> {
    let mut parts = name.splitn(3, '-');
    let what = parts.next()?;
    if !matches!(what, "step" | "view" | "run") {
        return None;
    }
    parts.next()?.parse().ok()
}

/// mountinfo escapes space, tab, newline and backslash as octal.
fn unescape_mountinfo(s: &str) -> String {
    let b = s.as_bytes();
    let mut out = Vec::with_capacity(b.len());
    let mut i = 0;
    while i < b.len() {
        if b[i] == b'\\'
            && i + 3 < b.len()
            && b[i + 1..i + 4].iter().all(|c| (b'0'..=b'7').contains(c))
        {
            out.push((b[i + 1] - b'0') * 64 + (b[i + 2] - b'0') * 8 + (b[i + 3] - b'0'));
            i += 4;
        } else {
            out.push(b[i]);
            i += 1;
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn step_dirs_name_their_owner() {
        assert_eq!(owner_pid("step-123-abc"), Some(123));
        assert_eq!(owner_pid("view-9-x"), Some(9));
        assert_eq!(owner_pid("snapshot-abc-1"), None);
        assert_eq!(owner_pid("step-x-1"), None);
    }

    #[test]
    fn mountinfo_octal_escapes() {
        assert_eq!(unescape_mountinfo(r"/a\040b\134c"), "/a b\\c");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
    }
}
