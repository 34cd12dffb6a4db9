//! The one seam for privileged and filesystem calls made while building the sandbox: the
//! `Syscalls` trait and its real implementation. `recording::Recording` is the fake.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;
use nix::unistd::{Gid, Uid};

/// What `lstat` says is at a path, as far as mountpoint creation and path resolution care.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum FileKind {
    Dir,
    Symlink,
    Other,
}

/// Every call the sandbox setup makes that needs privilege or touches the root filesystem.
pub trait Syscalls {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()>;
    /// An overlay through the new mount API, one `lowerdir+` per layer (Linux 6.8+), for
    /// layer lists too long for `mount(2)`'s one-page option string. `userxattr` is needed
    /// inside a user namespace.
    fn mount_overlay_layers(
        &self,
        lowerdirs: &[PathBuf],
        upperdir: &Path,
        workdir: &Path,
        userxattr: bool,
        target: &Path,
    ) -> nix::Result<()>;
    /// The per-mount flags (`nosuid`, `nodev`, …) of the mount holding `path`: a read-only
    /// remount must repeat them, or a user namespace refuses to drop the locked ones.
    fn mount_flags(&self, path: &Path) -> nix::Result<MsFlags>;
    fn umount(&self, target: &Path, flags: MntFlags) -> nix::Result<()>;
    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> nix::Result<()>;
    fn unshare(&self, flags: CloneFlags) -> nix::Result<()>;
    /// Joins the namespace `fd` (an open `/proc/PID/ns/*`) refers to.
    fn setns(&self, fd: std::os::fd::BorrowedFd<'_>, nstype: CloneFlags) -> nix::Result<()>;
    fn sethostname(&self, name: &str) -> nix::Result<()>;
    fn set_loopback_up(&self) -> nix::Result<()>;
    fn chdir(&self, path: &Path) -> nix::Result<()>;
    fn mkdir(&self, path: &Path, mode: u32) -> nix::Result<()>;
    /// Creates an empty regular file, failing with `EEXIST` if anything is there.
    fn create_file(&self, path: &Path) -> nix::Result<()>;
    fn symlink(&self, target: &Path, link: &Path) -> nix::Result<()>;
    /// `None` when nothing is there.
    fn lstat(&self, path: &Path) -> nix::Result<Option<FileKind>>;
    fn read_link(&self, path: &Path) -> nix::Result<PathBuf>;
    fn setgroups(&self, gids: &[u32]) -> nix::Result<()>;
    fn setresgid(&self, gid: u32) -> nix::Result<()>;
    fn setresuid(&self, uid: u32) -> nix::Result<()>;
    /// Drops every capability not in `keep` from the bounding set.
    fn drop_bounding_caps(&self, keep: &[u32]) -> nix::Result<()>;
    /// Empties the ambient set, so nothing the caller had survives an `execve`.
    fn clear_ambient_caps(&self) -> nix::Result<()>;
    /// Sets the permitted and effective sets to `caps` and the inheritable set to nothing.
    fn set_caps(&self, caps: &[u32]) -> nix::Result<()>;
    /// Joins a new anonymous session keyring: no key of the caller's session is reachable.
    fn join_new_session_keyring(&self) -> nix::Result<()>;
    /// Starts a new session: no controlling terminal, so `TIOCSTI` cannot reach the caller's.
    fn setsid(&self) -> nix::Result<()>;
    fn set_no_new_privs(&self) -> nix::Result<()>;
    /// Installs seccomp filters, in order; needs `CAP_SYS_ADMIN` or no_new_privs.
    fn install_seccomp(&self, programs: &[Vec<libc::sock_filter>]) -> nix::Result<()>;
}

/// The real thing, through nix and (where nix has no wrapper) libc.
#[derive(Debug, Default, Clone, Copy)]
pub struct RealSyscalls;

fn cpath(p: &Path) -> nix::Result<CString> {
    CString::new(p.as_os_str().as_bytes()).map_err(|_| Errno::EINVAL)
}

fn cstr(s: &str) -> nix::Result<CString> {
    CString::new(s).map_err(|_| Errno::EINVAL)
}

// The new mount API's constants, from <linux/mount.h>.
const FSOPEN_CLOEXEC: libc::c_uint = 1;
const FSCONFIG_SET_FLAG: libc::c_uint = 0;
const FSCONFIG_SET_STRING: libc::c_uint = 1;
const FSCONFIG_CMD_CREATE: libc::c_uint = 6;
const FSMOUNT_CLOEXEC: libc::c_uint = 1;
const MOVE_MOUNT_F_EMPTY_PATH: libc::c_uint = 4;

fn fd_result(ret: libc::c_long) -> nix::Result<std::os::fd::OwnedFd> {
    use std::os::fd::FromRawFd;
    if ret < 0 {
        return Err(Errno::last());
    }
    // SAFETY: the kernel just returned this descriptor to us and nothing else owns it.
    Ok(unsafe { std::os::fd::OwnedFd::from_raw_fd(ret as i32) })
}

fn fsconfig_string(fd: &std::os::fd::OwnedFd, key: &str, value: &Path) -> nix::Result<()> {
    use std::os::fd::AsRawFd;
    let (k, v) = (cstr(key)?, cpath(value)?);
    // SAFETY: both strings are NUL-terminated and live across the call.
    let ret = unsafe {
        libc::syscall(
            libc::SYS_fsconfig,
            fd.as_raw_fd(),
            FSCONFIG_SET_STRING,
            k.as_ptr(),
            v.as_ptr(),
            0,
        )
    };
    Errno::result(ret).map(drop)
}

impl Syscalls for RealSyscalls {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()> {
        nix::mount::mount(source, target, fstype, flags, data)
    }

    fn mount_overlay_layers(
        &self,
        lowerdirs: &[PathBuf],
        upperdir: &Path,
        workdir: &Path,
        userxattr: bool,
        target: &Path,
    ) -> nix::Result<()> {
        use std::os::fd::AsRawFd;
        let name = cstr("overlay")?;
        // SAFETY: `name` is NUL-terminated; the result is checked.
        let fs =
            fd_result(unsafe { libc::syscall(libc::SYS_fsopen, name.as_ptr(), FSOPEN_CLOEXEC) })?;
        for dir in lowerdirs {
            fsconfig_string(&fs, "lowerdir+", dir)?;
        }
        fsconfig_string(&fs, "upperdir", upperdir)?;
        fsconfig_string(&fs, "workdir", workdir)?;
        if userxattr {
            let key = cstr("userxattr")?;
            // SAFETY: `key` is NUL-terminated; a flag takes no value.
            let ret = unsafe {
                libc::syscall(
                    libc::SYS_fsconfig,
                    fs.as_raw_fd(),
                    FSCONFIG_SET_FLAG,
                    key.as_ptr(),
                    std::ptr::null::<libc::c_void>(),
                    0,
                )
            };
            Errno::result(ret)?;
        }
        // SAFETY: plain integer arguments.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_fsconfig,
                fs.as_raw_fd(),
                FSCONFIG_CMD_CREATE,
                std::ptr::null::<libc::c_char>(),
                std::ptr::null::<libc::c_void>(),
                0,
            )
        };
        Errno::result(ret)?;
        // SAFETY: plain integer arguments.
        let mnt = fd_result(unsafe {
            libc::syscall(libc::SYS_fsmount, fs.as_raw_fd(), FSMOUNT_CLOEXEC, 0)
        })?;
        let (empty, to) = (cstr("")?, cpath(target)?);
        // SAFETY: both strings are NUL-terminated and live across the call.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_move_mount,
                mnt.as_raw_fd(),
                empty.as_ptr(),
                libc::AT_FDCWD,
                to.as_ptr(),
                MOVE_MOUNT_F_EMPTY_PATH,
            )
        };
        Errno::result(ret).map(drop)
    }

    fn mount_flags(&self, path: &Path) -> nix::Result<MsFlags> {
        use nix::sys::statvfs::FsFlags;
        let got = nix::sys::statvfs::statvfs(path)?.flags();
        let pairs = [
            (FsFlags::ST_NOSUID, MsFlags::MS_NOSUID),
            (FsFlags::ST_NODEV, MsFlags::MS_NODEV),
            (FsFlags::ST_NOEXEC, MsFlags::MS_NOEXEC),
            (FsFlags::ST_NOATIME, MsFlags::MS_NOATIME),
            (FsFlags::ST_NODIRATIME, MsFlags::MS_NODIRATIME),
            (FsFlags::ST_RELATIME, MsFlags::MS_RELATIME),
        ];
        Ok(pairs
            .iter()
            .filter(|(st, _)| got.contains(*st))
            .fold(MsFlags::empty(), |acc, (_, ms)| acc | *ms))
    }

    fn umount(&self, target: &Path, flags: MntFlags) -> nix::Result<()> {
        nix::mount::umount2(target, flags)
    }

    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> nix::Result<()> {
        nix::unistd::pivot_root(new_root, put_old)
    }

    fn setns(&self, fd: std::os::fd::BorrowedFd<'_>, nstype: CloneFlags) -> nix::Result<()> {
        nix::sched::setns(fd, nstype)
    }

    fn unshare(&self, flags: CloneFlags) -> nix::Result<()> {
        nix::sched::unshare(flags)
    }

    fn sethostname(&self, name: &str) -> nix::Result<()> {
        nix::unistd::sethostname(name)
    }

    fn set_loopback_up(&self) -> nix::Result<()> {
        crate::sandbox::network::loopback_up()
    }

    fn chdir(&self, path: &Path) -> nix::Result<()> {
        nix::unistd::chdir(path)
    }

    fn mkdir(&self, path: &Path, mode: u32) -> nix::Result<()> {
        nix::unistd::mkdir(path, nix::sys::stat::Mode::from_bits_truncate(mode))
    }

    fn create_file(&self, path: &Path) -> nix::Result<()> {
        use nix::fcntl::OFlag;
        let flags =
            OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_WRONLY | OFlag::O_CLOEXEC | OFlag::O_NOFOLLOW;
        nix::fcntl::open(path, flags, nix::sys::stat::Mode::from_bits_truncate(0o644)).map(drop)
    }

    fn symlink(&self, target: &Path, link: &Path) -> nix::Result<()> {
        nix::unistd::symlinkat(target, nix::fcntl::AT_FDCWD, link)
    }

    fn lstat(&self, path: &Path) -> nix::Result<Option<FileKind>> {
        match nix::sys::stat::lstat(path) {
            Ok(st) => Ok(Some(match st.st_mode & libc::S_IFMT {
                libc::S_IFDIR => FileKind::Dir,
                libc::S_IFLNK => FileKind::Symlink,
                _ => FileKind::Other,
            })),
            Err(Errno::ENOENT) => Ok(None),
            Err(e) => Err(e),
        }
    }

    fn read_link(&self, path: &Path) -> nix::Result<PathBuf> {
        nix::fcntl::readlink(path).map(PathBuf::from)
    }

    fn setgroups(&self, gids: &[u32]) -> nix::Result<()> {
        let gids: Vec<Gid> = gids.iter().map(|g| Gid::from_raw(*g)).collect();
        nix::unistd::setgroups(&gids)
    }

    fn setresgid(&self, gid: u32) -> nix::Result<()> {
        let g = Gid::from_raw(gid);
        nix::unistd::setresgid(g, g, g)
    }

    fn setresuid(&self, uid: u32) -> nix::Result<()> {
        let u = Uid::from_raw(uid);
        nix::unistd::setresuid(u, u, u)
    }

    fn drop_bounding_caps(&self, keep: &[u32]) -> nix::Result<()> {
        let last: u32 = std::fs::read_to_string("/proc/sys/kernel/cap_last_cap")
            .ok()
            .and_then(|s| s.trim().parse().ok())
            .unwrap_or(40);
        for cap in (0..=last).filter(|c| !keep.contains(c)) {
            // SAFETY: PR_CAPBSET_DROP takes a capability number; no pointers involved.
            let ret = unsafe { libc::prctl(libc::PR_CAPBSET_DROP, cap as libc::c_ulong, 0, 0, 0) };
            match Errno::result(ret) {
                Ok(_) | Err(Errno::EINVAL) => {}
                Err(e) => return Err(e),
            }
        }
        Ok(())
    }

    fn clear_ambient_caps(&self) -> nix::Result<()> {
        // SAFETY: integer arguments only.
        let ret = unsafe {
            libc::prctl(
                libc::PR_CAP_AMBIENT,
                libc::PR_CAP_AMBIENT_CLEAR_ALL as libc::c_ulong,
                0,
                0,
                0,
            )
        };
        // Kernels before 4.3 have no ambient set, hence nothing to clear.
        match Errno::result(ret) {
            Ok(_) | Err(Errno::EINVAL) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn set_caps(&self, caps: &[u32]) -> nix::Result<()> {
        super::capset::set(caps)
    }

    fn join_new_session_keyring(&self) -> nix::Result<()> {
        const KEYCTL_JOIN_SESSION_KEYRING: libc::c_long = 1;
        // SAFETY: a null name asks for a new anonymous keyring; no other pointer is passed.
        let ret = unsafe {
            libc::syscall(
                libc::SYS_keyctl,
                KEYCTL_JOIN_SESSION_KEYRING,
                std::ptr::null::<libc::c_char>(),
            )
        };
        // A kernel built without keys has nothing to share either.
        match Errno::result(ret) {
            Ok(_) | Err(Errno::ENOSYS) => Ok(()),
            Err(e) => Err(e),
        }
    }

    fn setsid(&self) -> nix::Result<()> {
        nix::unistd::setsid().map(drop)
    }

    fn set_no_new_privs(&self) -> nix::Result<()> {
        // SAFETY: integer arguments only.
        Errno::result(unsafe { libc::prctl(libc::PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) }).map(drop)
    }

    fn install_seccomp(&self, programs: &[Vec<libc::sock_filter>]) -> nix::Result<()> {
        super::seccomp::install(programs)
            .map_err(|e| Errno::from_raw(e.raw_os_error().unwrap_or(0)))
    }
}
