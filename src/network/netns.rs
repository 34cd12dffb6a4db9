//! Persistent network namespaces: an nsfs bind mount under `<run dir>/netns/<container id>`,
//! so a container's network outlives its processes between `stop` and `start` and can be torn
//! down by whoever finds it after a crash.

use std::fs;
use std::path::{Path, PathBuf};

use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sched::{unshare, CloneFlags};

use super::error::NetworkError;
use super::store::run_dir;

pub fn netns_dir() -> PathBuf {
    run_dir().join("netns")
}

pub fn path_for(container_id: &str) -> PathBuf {
    netns_dir().join(container_id)
}

/// Makes a fresh network namespace with `lo` up, pinned at `path` (replacing a leftover).
pub fn create(path: &Path) -> Result<(), NetworkError> {
    let fail = |step: &'static str| {
        let path = path.to_path_buf();
        move |source| NetworkError::Netns { path, step, source }
    };
    if let Some(dir) = path.parent() {
        fs::create_dir_all(dir).map_err(NetworkError::io("create", dir))?;
    }
    remove(path)?;
    fs::File::create(path).map_err(NetworkError::io("create", path))?;
    let target = path.to_path_buf();
    // A namespace belongs to a thread: a short-lived thread makes it, pins it and ends.
    let made = std::thread::spawn(move || -> Result<(), (&'static str, nix::Error)> {
        unshare(CloneFlags::CLONE_NEWNET).map_err(|e| ("unshare", e))?;
        crate::sandbox::network::loopback_up().map_err(|e| ("loopback up", e))?;
        mount(
            Some("/proc/thread-self/ns/net"),
            &target,
            None::<&str>,
            MsFlags::MS_BIND,
            None::<&str>,
        )
        .map_err(|e| ("bind mount", e))
    })
    .join()
    .unwrap_or(Err(("thread", nix::Error::EIO)));
    if let Err((step, e)) = made {
        let _ = fs::remove_file(path);
        return Err(fail(step)(e));
    }
    Ok(())
}

/// Unpins and deletes `path`; nothing there is fine.
pub fn remove(path: &Path) -> Result<(), NetworkError> {
    match umount2(path, MntFlags::MNT_DETACH) {
        Ok(()) | Err(nix::Error::EINVAL) | Err(nix::Error::ENOENT) => {}
        Err(source) => {
            return Err(NetworkError::Netns {
                path: path.to_path_buf(),
                step: "unmount",
                source,
            })
        }
    }
    match fs::remove_file(path) {
        Ok(()) => Ok(()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
        Err(e) => Err(NetworkError::io("remove", path)(e)),
    }
}

/// Whether `path` is a pinned namespace (not just the empty file left by a crash mid-create).
pub fn is_pinned(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    match (fs::metadata(path), path.parent().map(fs::metadata)) {
        (Ok(m), Some(Ok(parent))) => m.dev() != parent.dev(),
        _ => false,
    }
}
