//! `Recording`: a fake `Syscalls` that records every call and models just enough of a
//! filesystem (which paths exist, which are symlinks) to test mount plans and user
//! switching without root.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};
use nix::sched::CloneFlags;

use super::syscalls::{FileKind, Syscalls};

/// One recorded call, with its arguments.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Call {
    Mount {
        source: Option<PathBuf>,
        target: PathBuf,
        fstype: Option<String>,
        flags: MsFlags,
        data: Option<String>,
    },
    MountOverlayLayers {
        lowerdirs: Vec<PathBuf>,
        upperdir: PathBuf,
        workdir: PathBuf,
        userxattr: bool,
        target: PathBuf,
    },
    Umount(PathBuf, MntFlags),
    PivotRoot(PathBuf, PathBuf),
    Unshare(CloneFlags),
    Setns(CloneFlags),
    Sethostname(String),
    LoopbackUp,
    Chdir(PathBuf),
    Mkdir(PathBuf, u32),
    CreateFile(PathBuf),
    Symlink(PathBuf, PathBuf),
    Setgroups(Vec<u32>),
    Setresgid(u32),
    Setresuid(u32),
    DropBoundingCaps(Vec<u32>),
    ClearAmbientCaps,
    SetCaps(Vec<u32>),
    JoinNewSessionKeyring,
    Setsid,
    SetNoNewPrivs,
    /// How many filter programs were installed.
    InstallSeccomp(usize),
}

#[derive(Debug, Clone)]
enum Node {
    Dir,
    File,
    Link(PathBuf),
}

type FailPredicate = Box<dyn Fn(&Call) -> bool>;

/// The fake. Paths not added with `with_dir`/`with_file`/`with_symlink` (or created through
/// it) do not exist. `fail_on` makes the first call matching a predicate fail with `EPERM`.
#[derive(Default)]
pub struct Recording {
    calls: RefCell<Vec<Call>>,
    fs: RefCell<BTreeMap<PathBuf, Node>>,
    fail: RefCell<Option<FailPredicate>>,
}

impl Recording {
    pub fn new() -> Self {
        Self::default()
    }

    pub fn with_dir(self, p: impl Into<PathBuf>) -> Self {
        self.fs.borrow_mut().insert(p.into(), Node::Dir);
        self
    }

    pub fn with_file(self, p: impl Into<PathBuf>) -> Self {
        self.fs.borrow_mut().insert(p.into(), Node::File);
        self
    }

    pub fn with_symlink(self, p: impl Into<PathBuf>, to: impl Into<PathBuf>) -> Self {
        self.fs.borrow_mut().insert(p.into(), Node::Link(to.into()));
        self
    }

    pub fn fail_on(self, pred: impl Fn(&Call) -> bool + 'static) -> Self {
        *self.fail.borrow_mut() = Some(Box::new(pred));
        self
    }

    pub fn calls(&self) -> Vec<Call> {
        self.calls.borrow().clone()
    }

    fn record(&self, call: Call) -> nix::Result<()> {
        let fails = self.fail.borrow().as_ref().is_some_and(|f| f(&call));
        self.calls.borrow_mut().push(call);
        if fails {
            *self.fail.borrow_mut() = None;
            return Err(Errno::EPERM);
        }
        Ok(())
    }

    fn create(&self, path: &Path, node: Node) -> nix::Result<()> {
        let mut fs = self.fs.borrow_mut();
        if fs.contains_key(path) {
            return Err(Errno::EEXIST);
        }
        fs.insert(path.to_path_buf(), node);
        Ok(())
    }
}

impl Syscalls for Recording {
    fn mount(
        &self,
        source: Option<&Path>,
        target: &Path,
        fstype: Option<&str>,
        flags: MsFlags,
        data: Option<&str>,
    ) -> nix::Result<()> {
        self.record(Call::Mount {
            source: source.map(Path::to_path_buf),
            target: target.to_path_buf(),
            fstype: fstype.map(str::to_string),
            flags,
            data: data.map(str::to_string),
        })
    }

    fn mount_overlay_layers(
        &self,
        lowerdirs: &[PathBuf],
        upperdir: &Path,
        workdir: &Path,
        userxattr: bool,
        target: &Path,
    ) -> nix::Result<()> {
        self.record(Call::MountOverlayLayers {
            lowerdirs: lowerdirs.to_vec(),
            upperdir: upperdir.to_path_buf(),
            workdir: workdir.to_path_buf(),
            userxattr,
            target: target.to_path_buf(),
        })
    }

    /// Every mount in the fake is `nosuid`, so tests see the flag carried into a remount.
    fn mount_flags(&self, _path: &Path) -> nix::Result<MsFlags> {
        Ok(MsFlags::MS_NOSUID)
    }

    fn umount(&self, target: &Path, flags: MntFlags) -> nix::Result<()> {
        self.record(Call::Umount(target.to_path_buf(), flags))
    }

    fn pivot_root(&self, new_root: &Path, put_old: &Path) -> nix::Result<()> {
        self.record(Call::PivotRoot(
            new_root.to_path_buf(),
            put_old.to_path_buf(),
        ))
    }

    fn unshare(&self, flags: CloneFlags) -> nix::Result<()> {
        self.record(Call::Unshare(flags))
    }

    fn setns(&self, _fd: std::os::fd::BorrowedFd<'_>, nstype: CloneFlags) -> nix::Result<()> {
        self.record(Call::Setns(nstype))
    }

    fn sethostname(&self, name: &str) -> nix::Result<()> {
        self.record(Call::Sethostname(name.to_string()))
    }

    fn set_loopback_up(&self) -> nix::Result<()> {
        self.record(Call::LoopbackUp)
    }

    fn chdir(&self, path: &Path) -> nix::Result<()> {
        self.record(Call::Chdir(path.to_path_buf()))
    }

    fn mkdir(&self, path: &Path, mode: u32) -> nix::Result<()> {
        self.record(Call::Mkdir(path.to_path_buf(), mode))?;
        self.create(path, Node::Dir)
    }

    fn create_file(&self, path: &Path) -> nix::Result<()> {
        self.record(Call::CreateFile(path.to_path_buf()))?;
        self.create(path, Node::File)
    }

    fn symlink(&self, target: &Path, link: &Path) -> nix::Result<()> {
        self.record(Call::Symlink(target.to_path_buf(), link.to_path_buf()))?;
        self.create(link, Node::Link(target.to_path_buf()))
    }

    fn lstat(&self, path: &Path) -> nix::Result<Option<FileKind>> {
        Ok(self.fs.borrow().get(path).map(|n| match n {
            Node::Dir => FileKind::Dir,
            Node::File => FileKind::Other,
            Node::Link(_) => FileKind::Symlink,
        }))
    }

    fn read_link(&self, path: &Path) -> nix::Result<PathBuf> {
        match self.fs.borrow().get(path) {
            Some(Node::Link(to)) => Ok(to.clone()),
            Some(_) => Err(Errno::EINVAL),
            None => Err(Errno::ENOENT),
        }
    }

    fn setgroups(&self, gids: &[u32]) -> nix::Result<()> {
        self.record(Call::Setgroups(gids.to_vec()))
    }

    fn setresgid(&self, gid: u32) -> nix::Result<()> {
        self.record(Call::Setresgid(gid))
    }

    fn setresuid(&self, uid: u32) -> nix::Result<()> {
        self.record(Call::Setresuid(uid))
    }

    fn drop_bounding_caps(&self, keep: &[u32]) -> nix::Result<()> {
        self.record(Call::DropBoundingCaps(keep.to_vec()))
    }

    fn clear_ambient_caps(&self) -> nix::Result<()> {
        self.record(Call::ClearAmbientCaps)
    }

    fn set_caps(&self, caps: &[u32]) -> nix::Result<()> {
        self.record(Call::SetCaps(caps.to_vec()))
    }

    fn join_new_session_keyring(&self) -> nix::Result<()> {
        self.record(Call::JoinNewSessionKeyring)
    }

    fn setsid(&self) -> nix::Result<()> {
        self.record(Call::Setsid)
    }

    fn set_no_new_privs(&self) -> nix::Result<()> {
        self.record(Call::SetNoNewPrivs)
    }

    fn install_seccomp(&self, programs: &[Vec<libc::sock_filter>]) -> nix::Result<()> {
        self.record(Call::InstallSeccomp(programs.len()))
    }
}
