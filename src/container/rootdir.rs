//! A directory opened once, under which the kernel resolves every path as if that directory
//! were `/` (`openat2` with `RESOLVE_IN_ROOT | RESOLVE_NO_MAGICLINKS`): `..` stops there and
//! absolute symlinks restart there, in one lookup, whatever the tree does meanwhile.
//!
//! Why: a running container's processes may swap a directory for a symlink to `/` at any
//! moment. A path checked in one call and opened by name in the next (`/proc/PID/root/x/d/f`,
//! where `d` has just become a link to `/`) then names a host file. Here each operation is one
//! resolution inside the root, and creating or changing an entry is done with `*at` calls on
//! its parent directory, opened that way, so no name is ever looked up again from the host's
//! `/`.

use std::ffi::{OsStr, OsString};
use std::fs::{File, Metadata};
use std::io;
use std::os::fd::{AsFd, AsRawFd, OwnedFd};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat, openat2, AtFlags, OFlag, OpenHow, ResolveFlag};
use nix::sys::stat::{Mode, SFlag};

/// How often an `openat2` refused with EAGAIN (a rename raced a `..` lookup, which the kernel
/// cannot then vouch for) is tried again before giving up.
const EAGAIN_TRIES: usize = 16;

/// A directory treated as `/` for the paths under it.
#[derive(Debug)]
pub struct RootDir {
    fd: OwnedFd,
    path: PathBuf,
}

fn errno(e: Errno) -> io::Error {
    io::Error::from(e)
}

/// `rel`, or `.` for the root itself (the kernel wants a non-empty name).
fn name_or_dot(rel: &Path) -> &Path {
    if rel.as_os_str().is_empty() {
        Path::new(".")
    } else {
        rel
    }
}

impl RootDir {
    /// Opens `path` (following it, so `/proc/PID/root` gives that process's root).
    pub fn open(path: &Path) -> io::Result<RootDir> {
        let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
        let fd = nix::fcntl::open(path, flags, Mode::empty()).map_err(errno)?;
        Ok(RootDir {
            fd,
            path: path.to_path_buf(),
        })
    }

    /// The path it was opened at, for messages.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// How `rel` is shown in messages.
    pub fn shown(&self, rel: &Path) -> PathBuf {
        self.path.join(rel)
    }

    /// Opens `rel` with `flags`, resolved inside the root.
    pub fn open_at(&self, rel: &Path, flags: OFlag) -> io::Result<OwnedFd> {
        let how = OpenHow::new()
            .flags(flags | OFlag::O_CLOEXEC)
            .resolve(ResolveFlag::RESOLVE_IN_ROOT | ResolveFlag::RESOLVE_NO_MAGICLINKS);
        let mut tries = 0;
        loop {
            match openat2(&self.fd, name_or_dot(rel), how) {
                Err(Errno::EAGAIN) if tries < EAGAIN_TRIES => tries += 1,
                r => return r.map_err(errno),
            }
        }
    }

    /// The entry at `rel` itself (a final symlink not followed); `None` when it, or a parent,
    /// is not there.
    pub fn lstat(&self, rel: &Path) -> io::Result<Option<Metadata>> {
        match self.open_at(rel, OFlag::O_PATH | OFlag::O_NOFOLLOW) {
            Ok(fd) => File::from(fd).metadata().map(Some),
            Err(e) if matches!(e.raw_os_error(), Some(libc::ENOENT | libc::ENOTDIR)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// The target of the symlink at `rel`.
    pub fn read_link(&self, rel: &Path) -> io::Result<PathBuf> {
        let fd = self.open_at(rel, OFlag::O_PATH | OFlag::O_NOFOLLOW)?;
        // An empty name reads the link the O_PATH descriptor stands for.
        let target = nix::fcntl::readlinkat(&fd, "").map_err(errno)?;
        Ok(target.into())
    }

    /// The regular file at `rel`, open for reading. Anything else there (it may have changed
    /// since it was looked at) is an error, and a FIFO swapped in cannot block the open.
    pub fn open_file(&self, rel: &Path) -> io::Result<File> {
        let fd = self.open_at(
            rel,
            OFlag::O_RDONLY | OFlag::O_NOFOLLOW | OFlag::O_NONBLOCK | OFlag::O_NOCTTY,
        )?;
        let f = File::from(fd);
        if !f.metadata()?.is_file() {
            return Err(io::Error::other("no longer a regular file"));
        }
        Ok(f)
    }

    /// The names in the directory at `rel` (not `.` and `..`), in directory order.
    pub fn read_dir(&self, rel: &Path) -> io::Result<Vec<OsString>> {
        let fd = self.open_at(
            rel,
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW,
        )?;
        let mut dir = nix::dir::Dir::from_fd(fd).map_err(errno)?;
        let mut out = Vec::new();
        for e in dir.iter() {
            let e = e.map_err(errno)?;
            let name = e.file_name().to_bytes();
            if name != b"." && name != b".." {
                out.push(OsStr::from_bytes(name).to_os_string());
            }
        }
        Ok(out)
    }

    /// Where `rel` is to be made: its parent directory, opened inside the root (a parent that
    /// is, or has become, a symlink is an error), and its name.
    pub fn slot(&self, rel: &Path) -> io::Result<Slot> {
        let name = rel
            .file_name()
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        let parent = rel.parent().unwrap_or(Path::new(""));
        let dir = self.open_at(
            parent,
            OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW,
        )?;
        Ok(Slot {
            dir,
            name: name.to_os_string(),
            shown: self.shown(rel),
        })
    }
}

/// A name in an open directory, where one entry is created. Every operation is an `*at` call
/// on that directory, never a path looked up again.
#[derive(Debug)]
pub struct Slot {
    dir: OwnedFd,
    name: OsString,
    shown: PathBuf,
}

/// A created entry whose mode, owner and times are still to be set.
#[derive(Debug)]
pub enum Made {
    /// A file or directory, open: set through its descriptor.
    Open(File),
    /// A device node or FIFO, held by an O_PATH descriptor (opening it could block or act).
    Node(OwnedFd),
    /// A symlink: set by name in its directory, never following it.
    Link,
}

/// Removes everything in the directory `name` of `parent`, depth first.
fn empty_dir(parent: &OwnedFd, name: &OsStr) -> io::Result<()> {
    let flags = OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
    let fd = openat(parent, name, flags, Mode::empty()).map_err(errno)?;
    let dir_fd = fd.try_clone()?;
    let mut dir = nix::dir::Dir::from_fd(fd).map_err(errno)?;
    let mut names = Vec::new();
    for e in dir.iter() {
        let e = e.map_err(errno)?;
        let n = e.file_name().to_bytes();
        if n != b"." && n != b".." {
            names.push(OsStr::from_bytes(n).to_os_string());
        }
    }
    for n in names {
        let st = nix::sys::stat::fstatat(&dir_fd, n.as_os_str(), AtFlags::AT_SYMLINK_NOFOLLOW)
            .map_err(errno)?;
        let how = if st.st_mode & libc::S_IFMT == libc::S_IFDIR {
            empty_dir(&dir_fd, &n)?;
            nix::unistd::UnlinkatFlags::RemoveDir
        } else {
            nix::unistd::UnlinkatFlags::NoRemoveDir
        };
        nix::unistd::unlinkat(&dir_fd, n.as_os_str(), how).map_err(errno)?;
    }
    Ok(())
}

impl Slot {
    /// The slot for the real path `path` (its parent opened by path): for trees that nothing
    /// else changes while strata works on them.
    pub fn at_path(path: &Path) -> io::Result<Slot> {
        let name = path
            .file_name()
            .ok_or_else(|| io::Error::from(io::ErrorKind::InvalidInput))?;
        let parent = path.parent().unwrap_or(Path::new("/"));
        let flags = OFlag::O_PATH | OFlag::O_DIRECTORY | OFlag::O_CLOEXEC;
        let dir = nix::fcntl::open(parent, flags, Mode::empty()).map_err(errno)?;
        Ok(Slot {
            dir,
            name: name.to_os_string(),
            shown: path.to_path_buf(),
        })
    }

    /// How the slot is shown in messages.
    pub fn shown(&self) -> &Path {
        &self.shown
    }

    /// The directory holding the slot (for setting an opaque marker, say).
    pub fn dir(&self) -> &OwnedFd {
        &self.dir
    }

    /// What is there now, not following a symlink.
    pub fn lstat(&self) -> io::Result<Option<nix::sys::stat::FileStat>> {
        match nix::sys::stat::fstatat(
            &self.dir,
            self.name.as_os_str(),
            AtFlags::AT_SYMLINK_NOFOLLOW,
        ) {
            Ok(st) => Ok(Some(st)),
            Err(Errno::ENOENT) => Ok(None),
            Err(e) => Err(errno(e)),
        }
    }

    /// Removes what is there unless it is a directory.
    pub fn clear(&self) -> io::Result<()> {
        match self.lstat()? {
            Some(st) if st.st_mode & libc::S_IFMT != libc::S_IFDIR => nix::unistd::unlinkat(
                &self.dir,
                self.name.as_os_str(),
                nix::unistd::UnlinkatFlags::NoRemoveDir,
            )
            .map_err(errno),
            _ => Ok(()),
        }
    }

    /// Removes what is there, a directory with all it holds included. Each directory is
    /// opened (never through a symlink) in the one above it and emptied with `*at` calls,
    /// so the removal cannot be led out of the tree by a link swapped in meanwhile.
    pub fn clear_tree(&self) -> io::Result<()> {
        match self.lstat()? {
            Some(st) if st.st_mode & libc::S_IFMT == libc::S_IFDIR => {
                empty_dir(&self.dir, &self.name)?;
                nix::unistd::unlinkat(
                    &self.dir,
                    self.name.as_os_str(),
                    nix::unistd::UnlinkatFlags::RemoveDir,
                )
                .map_err(errno)
            }
            _ => self.clear(),
        }
    }

    /// Makes a directory (private until its mode is set) and opens it.
    pub fn mkdir(&self) -> io::Result<File> {
        nix::sys::stat::mkdirat(
            &self.dir,
            self.name.as_os_str(),
            Mode::from_bits_truncate(0o700),
        )
        .map_err(errno)?;
        let fd = openat(
            &self.dir,
            self.name.as_os_str(),
            OFlag::O_RDONLY | OFlag::O_DIRECTORY | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(errno)?;
        Ok(File::from(fd))
    }

    /// Creates a regular file (it must not exist) and opens it for writing.
    pub fn create_file(&self) -> io::Result<File> {
        let flags =
            OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_EXCL | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC;
        let fd = openat(
            &self.dir,
            self.name.as_os_str(),
            flags,
            Mode::from_bits_truncate(0o600),
        )
        .map_err(errno)?;
        Ok(File::from(fd))
    }

    pub fn symlink(&self, target: &Path) -> io::Result<()> {
        nix::unistd::symlinkat(target, &self.dir, self.name.as_os_str()).map_err(errno)
    }

    /// Makes a device node or FIFO (private until its mode is set) and holds it.
    pub fn mknod(&self, kind: SFlag, rdev: u64) -> io::Result<OwnedFd> {
        nix::sys::stat::mknodat(
            &self.dir,
            self.name.as_os_str(),
            kind,
            Mode::from_bits_truncate(0o600),
            rdev,
        )
        .map_err(errno)?;
        openat(
            &self.dir,
            self.name.as_os_str(),
            OFlag::O_PATH | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC,
            Mode::empty(),
        )
        .map_err(errno)
    }

    /// Gives what was made the owner `uid:gid`, the permission bits of `md` and its times, in
    /// that order (a chown clears set-id bits).
    pub fn finish(&self, made: &Made, md: &Metadata, uid: u32, gid: u32) -> io::Result<()> {
        use nix::sys::time::TimeSpec;
        let (uid, gid) = (
            Some(nix::unistd::Uid::from_raw(uid)),
            Some(nix::unistd::Gid::from_raw(gid)),
        );
        let mode = Mode::from_bits_truncate(md.mode() & 0o7777);
        let at = TimeSpec::new(md.atime(), md.atime_nsec());
        let mt = TimeSpec::new(md.mtime(), md.mtime_nsec());
        match made {
            Made::Open(f) => {
                nix::unistd::fchown(f, uid, gid).map_err(errno)?;
                nix::sys::stat::fchmod(f, mode).map_err(errno)?;
                nix::sys::stat::futimens(f, &at, &mt).map_err(errno)
            }
            Made::Node(fd) => {
                // An O_PATH descriptor takes no fchmod; its /proc/self/fd link names exactly
                // that inode, so following it cannot land anywhere else.
                let proc = PathBuf::from(format!("/proc/self/fd/{}", fd.as_fd().as_raw_fd()));
                nix::unistd::fchownat(fd, "", uid, gid, AtFlags::AT_EMPTY_PATH).map_err(errno)?;
                nix::sys::stat::fchmodat(
                    nix::fcntl::AT_FDCWD,
                    &proc,
                    mode,
                    nix::sys::stat::FchmodatFlags::FollowSymlink,
                )
                .map_err(errno)?;
                nix::sys::stat::utimensat(
                    nix::fcntl::AT_FDCWD,
                    &proc,
                    &at,
                    &mt,
                    nix::sys::stat::UtimensatFlags::FollowSymlink,
                )
                .map_err(errno)
            }
            Made::Link => {
                let name = self.name.as_os_str();
                nix::unistd::fchownat(&self.dir, name, uid, gid, AtFlags::AT_SYMLINK_NOFOLLOW)
                    .map_err(errno)?;
                nix::sys::stat::utimensat(
                    &self.dir,
                    name,
                    &at,
                    &mt,
                    nix::sys::stat::UtimensatFlags::NoFollowSymlink,
                )
                .map_err(errno)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    #[test]
    fn paths_stay_inside_the_root() {
        let t = tempfile::tempdir().unwrap();
        let root = t.path().join("root");
        std::fs::create_dir_all(root.join("x")).unwrap();
        std::fs::write(root.join("f"), "inside").unwrap();
        std::fs::write(t.path().join("f"), "outside").unwrap();
        symlink("/", root.join("x/up")).unwrap();
        symlink("../../..", root.join("x/dots")).unwrap();
        let r = RootDir::open(&root).unwrap();
        let read = |rel: &str| {
            let mut s = String::new();
            io::Read::read_to_string(&mut r.open_file(Path::new(rel)).unwrap(), &mut s).unwrap();
            s
        };
        assert_eq!(read("f"), "inside");
        assert_eq!(read("x/up/f"), "inside");
        assert_eq!(read("x/dots/f"), "inside");
        assert_eq!(read("../f"), "inside");
        assert!(r.lstat(Path::new("x/up")).unwrap().unwrap().is_symlink());
        assert_eq!(r.read_link(Path::new("x/up")).unwrap(), PathBuf::from("/"));
        assert!(r.lstat(Path::new("nope/x")).unwrap().is_none());
        let mut names = r.read_dir(Path::new("x")).unwrap();
        names.sort();
        assert_eq!(names, ["dots", "up"]);

        // Made through a parent that is a symlink: refused, not written through it.
        assert!(r.slot(Path::new("x/up/new")).is_err());
        let s = r.slot(Path::new("x/new")).unwrap();
        let f = s.create_file().unwrap();
        let md = std::fs::metadata(root.join("f")).unwrap();
        s.finish(&Made::Open(f), &md, 0, 0).unwrap();
        assert!(root.join("x/new").is_file());
        assert!(!t.path().join("new").exists());
    }
}
