//! A RUN secret as a file for the sandbox to bind. It is written into an owned temp directory
//! under the store's `tmp/` (mode 0700, root's alone), on a small tmpfs mounted there so it never
//! reaches a disk; as soon as the sandbox has bound it, that tmpfs is detached on the host and
//! the secret lives on only inside the sandbox's mount namespace, which dies with the sandbox.
//! If strata is killed before that, the tmpfs is left under a dead owner's temp directory, and
//! the next strata to open the store detaches it (`util::owned_tmp`). Never anywhere
//! world-visible such as `/dev/shm`.

use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};

use nix::errno::Errno;
use nix::mount::{mount, umount2, MntFlags, MsFlags};

use super::error::StepError;
use crate::util::owned_tmp::OwnedDir;

/// One secret's file. Dropping it takes the secret off the host (if still there) and removes
/// its directory.
pub struct SecretFile {
    file: PathBuf,
    /// Whether our tmpfs is mounted on the directory (on the host side).
    mounted: AtomicBool,
    /// Declared last: dropped after `Drop::drop` has detached the tmpfs.
    dir: OwnedDir,
}

impl SecretFile {
    /// Writes `value` as `<dir>/secret` owned by `uid:gid` with `mode`, in a fresh owned
    /// directory under `area`.
    pub fn write(
        area: &Path,
        value: &[u8],
        mode: u32,
        uid: u32,
        gid: u32,
    ) -> Result<SecretFile, StepError> {
        let dir = OwnedDir::new_in(area, "secret-")
            .map_err(StepError::io("create a secret dir in", area))?;
        // Room for the secret (tmpfs counts whole pages), and not much more.
        let size_kib = value.len().div_ceil(4096) * 4 + 4;
        let data = format!("mode=0700,size={size_kib}k");
        let mounted = match mount(
            Some("tmpfs"),
            dir.path(),
            Some("tmpfs"),
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
            Some(data.as_str()),
        ) {
            Ok(()) => true,
            // Not allowed to mount here: the 0700 directory on the store's disk, for as
            // short a time as below.
            Err(Errno::EPERM) | Err(Errno::EACCES) => false,
            Err(source) => {
                return Err(StepError::MountFailed {
                    what: "tmpfs for a secret",
                    target: dir.path().to_path_buf(),
                    source,
                })
            }
        };
        let secret = SecretFile {
            file: dir.path().join("secret"),
            mounted: AtomicBool::new(mounted),
            dir,
        };
        let file = &secret.file;
        std::fs::write(file, value).map_err(StepError::io("write", file))?;
        std::os::unix::fs::chown(file, Some(uid), Some(gid))
            .map_err(StepError::io("chown", file))?;
        std::fs::set_permissions(file, std::fs::Permissions::from_mode(mode & 0o7777))
            .map_err(StepError::io("chmod", file))?;
        Ok(secret)
    }

    /// The file to bind into the sandbox.
    pub fn path(&self) -> &Path {
        &self.file
    }

    /// Takes the secret off the host: call once the sandbox has bound it (its command runs),
    /// and its mount keeps the file alive for it alone. Idempotent.
    pub fn withdraw(&self) {
        if self.mounted.swap(false, Ordering::SeqCst) {
            let _ = umount2(self.dir.path(), MntFlags::MNT_DETACH);
        } else {
            let _ = std::fs::remove_file(&self.file);
        }
    }
}

impl Drop for SecretFile {
    fn drop(&mut self) {
        self.withdraw();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn mounted_at(p: &Path) -> bool {
        let info = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let p = std::fs::canonicalize(p).unwrap();
        !crate::util::owned_tmp::mounts_under(&info, &p).is_empty()
    }

    #[test]
    fn a_secret_is_on_a_private_tmpfs_until_withdrawn() {
        let area = tempfile::tempdir().unwrap();
        let s = SecretFile::write(area.path(), b"hush", 0o400, 0, 0).unwrap();
        assert_eq!(std::fs::read(s.path()).unwrap(), b"hush");
        let dir = s.path().parent().unwrap().to_path_buf();
        let mode = std::fs::metadata(&dir).unwrap().permissions().mode();
        assert_eq!(mode & 0o777, 0o700);
        let root = nix::unistd::geteuid().is_root();
        if root {
            assert!(mounted_at(&dir), "a tmpfs of its own");
        }
        // A bind of the file (as the sandbox makes) outlives the withdrawal on the host.
        let keep = std::fs::File::open(s.path()).unwrap();
        s.withdraw();
        assert!(!s.path().exists());
        assert!(!mounted_at(&dir));
        use std::io::Read;
        let mut got = String::new();
        (&keep).read_to_string(&mut got).unwrap();
        assert_eq!(got, "hush");
        drop(s);
        assert!(!dir.exists());
        assert_eq!(std::fs::read_dir(area.path()).unwrap().count(), 0);
    }
}
