//! A container's filesystem as one tree, read and written without mounting anything: a
//! running container through `/proc/PID/root` of its init, opened once and every path under it
//! resolved by the kernel inside it ([`RootDir`]: its processes may swap a directory for a
//! symlink while strata works), a stopped one by merging its
//! upperdir over the image snapshots in code, with the overlayfs rules of `snapshot::lowers`
//! (whiteouts, opaque directories) and writes copying parent directories up as the kernel would.
//!
//! Why merge in code rather than mount the overlay in a private mount namespace: no privileged
//! call and no child process (a fork from a multi-threaded caller may only exec), it works the
//! same for every stopped container, and the merge rules already exist and are tested in
//! `snapshot::lowers`. A running container is read through its init's root instead, because
//! writing into an upperdir under a live overlay mount is undefined behaviour for overlayfs.

use std::collections::{BTreeSet, VecDeque};
use std::ffi::{CString, OsStr, OsString};
use std::fs::Metadata;
use std::io;
use std::os::unix::fs::MetadataExt;
use std::path::{Component, Path, PathBuf};

use super::rootdir::{RootDir, Slot};
use crate::snapshot::lowers::{self, is_whiteout};

/// Linux gives up after 40 link traversals (ELOOP); so do we.
const MAX_LINKS: usize = 40;

/// Why a container path could not be read or written.
#[derive(Debug, thiserror::Error)]
pub enum TreeError {
    #[error("{op} {path:?}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("{path:?}: more than {MAX_LINKS} symlinks followed")]
    TooManyLinks { path: PathBuf },
    #[error("{path:?}: a parent is not a directory in the container")]
    NotADirectory { path: PathBuf },
}

pub(crate) fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> TreeError {
    let path = path.to_path_buf();
    move |source| TreeError::Io { op, path, source }
}

/// Where a container's files are.
#[derive(Debug, Clone)]
pub enum ContainerFs {
    /// A directory taken as `/`, opened once (a running container's `/proc/PID/root`, or the
    /// host's `/`): every operation is resolved by the kernel inside it.
    Live { root: std::sync::Arc<RootDir> },
    /// A stopped container: its upperdir over the image snapshots (top first), and the host
    /// directories its volumes and binds put over some of its paths (relative target, host
    /// path), where reads and writes go instead, as they would while it runs.
    Layered {
        upper: PathBuf,
        lowers: Vec<PathBuf>,
        mounts: Vec<(PathBuf, PathBuf)>,
    },
}

/// One entry of the tree.
#[derive(Debug)]
pub struct Entry {
    /// The real path holding the entry (in the top-most layer that has it).
    pub path: PathBuf,
    pub md: Metadata,
    /// For a directory, that directory in every layer merged into it, top first.
    dirs: Vec<PathBuf>,
    /// Its path in the tree.
    rel: PathBuf,
    /// A plain host directory (a live root or a mount): no layers below it.
    live: bool,
}

impl ContainerFs {
    /// The tree rooted at `root` (opened now; later changes to what `root` names do not
    /// matter).
    pub fn live(root: &Path) -> Result<ContainerFs, TreeError> {
        let dir = RootDir::open(root).map_err(io_err("open", root))?;
        Ok(ContainerFs::Live {
            root: std::sync::Arc::new(dir),
        })
    }

    fn stack(&self) -> Vec<PathBuf> {
        match self {
            ContainerFs::Live { root } => vec![root.path().to_path_buf()],
            ContainerFs::Layered { upper, lowers, .. } => {
                let mut v = Vec::with_capacity(lowers.len() + 1);
                v.push(upper.clone());
                v.extend(lowers.iter().cloned());
                v
            }
        }
    }

    /// The root directory of the tree.
    pub fn root(&self) -> Result<Entry, TreeError> {
        let stack = self.stack();
        let md = match self {
            ContainerFs::Live { root } => root
                .lstat(Path::new(""))
                .and_then(|m| m.ok_or_else(|| io::ErrorKind::NotFound.into())),
            ContainerFs::Layered { .. } => std::fs::metadata(&stack[0]),
        }
        .map_err(io_err("stat", &stack[0]))?;
        Ok(Entry {
            path: stack[0].clone(),
            md,
            dirs: stack,
            rel: PathBuf::new(),
            live: matches!(self, ContainerFs::Live { .. }),
        })
    }

    /// The entry at `rel` (plain relative components, symlinks not followed), if visible.
    pub fn lstat(&self, rel: &Path) -> Result<Option<Entry>, TreeError> {
        let mut cur = self.root()?;
        for c in rel.components() {
            let Component::Normal(name) = c else { continue };
            if !cur.md.is_dir() {
                return Ok(None);
            }
            match self.child(&cur, name)? {
                Some(e) => cur = e,
                None => return Ok(None),
            }
        }
        Ok(Some(cur))
    }

    fn child(&self, dir: &Entry, name: &OsStr) -> Result<Option<Entry>, TreeError> {
        let rel = dir.rel.join(name);
        if let Some((_, host)) = self.mounts().iter().find(|(t, _)| *t == rel) {
            let md = std::fs::metadata(host).map_err(io_err("stat", host))?;
            return Ok(Some(Entry {
                path: host.clone(),
                md,
                dirs: vec![host.clone()],
                rel,
                live: true,
            }));
        }
        if let ContainerFs::Live { root } = self {
            let shown = root.shown(&rel);
            let md = root.lstat(&rel).map_err(io_err("lstat", &shown))?;
            return Ok(md.map(|md| Entry {
                dirs: vec![shown.clone()],
                path: shown,
                md,
                rel,
                live: true,
            }));
        }
        if dir.live {
            let p = dir.path.join(name);
            return match std::fs::symlink_metadata(&p) {
                Ok(md) => Ok(Some(Entry {
                    dirs: vec![p.clone()],
                    path: p,
                    md,
                    rel,
                    live: true,
                })),
                Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
                Err(e) => Err(io_err("lstat", &p)(e)),
            };
        }
        let c = lowers::child(&dir.dirs, name).map_err(io_err("look up", &dir.path.join(name)))?;
        Ok(c.top.map(|(path, md)| Entry {
            path,
            md,
            dirs: c.dirs,
            rel,
            live: false,
        }))
    }

    fn mounts(&self) -> &[(PathBuf, PathBuf)] {
        match self {
            ContainerFs::Live { .. } => &[],
            ContainerFs::Layered { mounts, .. } => mounts,
        }
    }

    /// The host path `rel` maps to when it lies under a mount (the innermost one), or is a
    /// mounted file itself (a bind of a single file).
    fn under_mount(&self, rel: &Path) -> Option<PathBuf> {
        self.mounts()
            .iter()
            .filter(|(t, host)| rel.starts_with(t) && (rel != t || !host.is_dir()))
            .max_by_key(|(t, _)| t.components().count())
            .map(
                |(t, host)| match rel.strip_prefix(t).expect("starts_with checked") {
                    rest if rest.as_os_str().is_empty() => host.clone(),
                    rest => host.join(rest),
                },
            )
    }

    /// The visible entries of directory `dir`, sorted by name.
    pub fn children(&self, dir: &Entry) -> Result<Vec<(OsString, Entry)>, TreeError> {
        let mut names = BTreeSet::new();
        if let ContainerFs::Live { root } = self {
            let listed = root.read_dir(&dir.rel);
            names.extend(listed.map_err(io_err("read directory", &dir.path))?);
        }
        for d in dir
            .dirs
            .iter()
            .filter(|_| !matches!(self, ContainerFs::Live { .. }))
        {
            for e in std::fs::read_dir(d).map_err(io_err("read directory", d))? {
                let e = e.map_err(io_err("read directory", d))?;
                names.insert(e.file_name());
            }
        }
        let mut out = Vec::with_capacity(names.len());
        for name in names {
            if let Some(e) = self.child(dir, &name)? {
                if !is_whiteout(&e.md) || e.live {
                    out.push((name, e));
                }
            }
        }
        Ok(out)
    }

    /// Resolves a path inside the container as the container's own processes would see it
    /// from `/`, following symlinks (the last one only when `follow_last`), with `/` as the
    /// root: `..` stops there and absolute link targets restart there, so nothing outside the
    /// container is ever named. Returns plain relative components (empty for the root).
    pub fn resolve(&self, path: &Path, follow_last: bool) -> Result<PathBuf, TreeError> {
        let mut queue: VecDeque<OsString> = VecDeque::new();
        push_components(path, &mut queue);
        let mut stack: Vec<OsString> = Vec::new();
        let mut links = 0;
        while let Some(comp) = queue.pop_front() {
            if comp == ".." {
                stack.pop();
                continue;
            }
            let is_last = queue.is_empty();
            let mut cand: PathBuf = stack.iter().collect();
            cand.push(&comp);
            if is_last && !follow_last {
                stack.push(comp);
                break;
            }
            match self.lstat(&cand)? {
                Some(e) if e.md.file_type().is_symlink() => {
                    links += 1;
                    if links > MAX_LINKS {
                        return Err(TreeError::TooManyLinks {
                            path: path.to_path_buf(),
                        });
                    }
                    let target = self.read_link(&e)?;
                    if target.is_absolute() {
                        stack.clear();
                    }
                    let mut spliced = VecDeque::new();
                    push_components(&target, &mut spliced);
                    for c in spliced.into_iter().rev() {
                        queue.push_front(c);
                    }
                }
                _ => stack.push(comp),
            }
        }
        Ok(stack.iter().collect())
    }

    /// The target of the symlink `e`.
    pub fn read_link(&self, e: &Entry) -> Result<PathBuf, TreeError> {
        match self {
            ContainerFs::Live { root } => root.read_link(&e.rel),
            ContainerFs::Layered { .. } => std::fs::read_link(&e.path),
        }
        .map_err(io_err("read link", &e.path))
    }

    /// The regular file `e`, open for reading (never through a symlink put in its place).
    pub fn open_file(&self, e: &Entry) -> Result<std::fs::File, TreeError> {
        use std::os::unix::fs::OpenOptionsExt;
        match self {
            ContainerFs::Live { root } => root.open_file(&e.rel),
            ContainerFs::Layered { .. } => std::fs::File::options()
                .read(true)
                .custom_flags(libc::O_NOFOLLOW | libc::O_NONBLOCK)
                .open(&e.path),
        }
        .map_err(io_err("open", &e.path))
    }

    /// Makes `rel` ready to be created or replaced and returns where to make it: for a stopped
    /// container the parent directories are copied up into the upperdir (mode, owner, times)
    /// and a whiteout at `rel` is removed; an existing non-directory there is removed. The
    /// parent must be a directory in the container.
    pub fn prepare_write(&self, rel: &Path) -> Result<Slot, TreeError> {
        let parent = rel.parent().unwrap_or(Path::new(""));
        match self.lstat(parent)? {
            Some(e) if e.md.is_dir() => {}
            _ => {
                return Err(TreeError::NotADirectory {
                    path: rel.to_path_buf(),
                })
            }
        }
        let slot = match self {
            ContainerFs::Live { root } => root.slot(rel).map_err(io_err("open", &root.shown(rel))),
            ContainerFs::Layered { .. } if self.under_mount(rel).is_some() => {
                let out = self.under_mount(rel).expect("checked");
                Slot::at_path(&out).map_err(io_err("open", &out))
            }
            ContainerFs::Layered { upper, .. } => {
                let mut prefix = PathBuf::new();
                for c in parent.components() {
                    let Component::Normal(name) = c else { continue };
                    prefix.push(name);
                    self.copy_up_dir(upper, &prefix)?;
                }
                let out = upper.join(rel);
                Slot::at_path(&out).map_err(io_err("open", &out))
            }
        }?;
        slot.clear().map_err(io_err("remove", slot.shown()))?;
        Ok(slot)
    }

    /// Whether a directory just created at `rel` must be marked opaque: on a stopped container
    /// it must not show what the image had at that path (something hidden by a whiteout).
    pub fn seal_new_dir(
        &self,
        rel: &Path,
        dir: &std::fs::File,
        shown: &Path,
    ) -> Result<(), TreeError> {
        if let ContainerFs::Layered { lowers, .. } = self {
            if self.under_mount(rel).is_some() {
                return Ok(());
            }
            let below = lowers::lookup(lowers, rel).map_err(io_err("look up", shown))?;
            if below.is_some() {
                fsetxattr(dir, "trusted.overlay.opaque", b"y")
                    .map_err(io_err("mark opaque", shown))?;
            }
        }
        Ok(())
    }

    fn copy_up_dir(&self, upper: &Path, rel: &Path) -> Result<(), TreeError> {
        let dst = upper.join(rel);
        if let Ok(md) = std::fs::symlink_metadata(&dst) {
            if md.is_dir() {
                return Ok(());
            }
        }
        let src = self.lstat(rel)?.ok_or_else(|| TreeError::NotADirectory {
            path: rel.to_path_buf(),
        })?;
        if !src.md.is_dir() {
            return Err(TreeError::NotADirectory {
                path: rel.to_path_buf(),
            });
        }
        std::fs::create_dir(&dst).map_err(io_err("create directory", &dst))?;
        copy_metadata(&dst, &src.md)?;
        Ok(())
    }
}

/// Gives `dst` the permission bits, owner and times of `md` (not following a final symlink).
pub(crate) fn copy_metadata(dst: &Path, md: &Metadata) -> Result<(), TreeError> {
    std::os::unix::fs::lchown(dst, Some(md.uid()), Some(md.gid())).map_err(io_err("chown", dst))?;
    if !md.file_type().is_symlink() {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(dst, std::fs::Permissions::from_mode(md.mode() & 0o7777))
            .map_err(io_err("chmod", dst))?;
    }
    set_times(dst, md)
}

/// Sets the access and modification times of `dst` itself to those of `md`.
pub(crate) fn set_times(dst: &Path, md: &Metadata) -> Result<(), TreeError> {
    use nix::sys::stat::{utimensat, UtimensatFlags};
    use nix::sys::time::TimeSpec;
    let at = TimeSpec::new(md.atime(), md.atime_nsec());
    let mt = TimeSpec::new(md.mtime(), md.mtime_nsec());
    utimensat(
        nix::fcntl::AT_FDCWD,
        dst,
        &at,
        &mt,
        UtimensatFlags::NoFollowSymlink,
    )
    .map_err(|e| io_err("set times of", dst)(io::Error::from(e)))
}

fn fsetxattr(f: &std::fs::File, name: &str, value: &[u8]) -> io::Result<()> {
    use std::os::fd::AsRawFd;
    let n = CString::new(name).map_err(io::Error::other)?;
    // SAFETY: an open descriptor, a NUL-terminated name and a buffer of `value.len()` bytes.
    let rc = unsafe {
        libc::fsetxattr(
            f.as_raw_fd(),
            n.as_ptr(),
            value.as_ptr().cast(),
            value.len(),
            0,
        )
    };
    if rc < 0 {
        Err(io::Error::last_os_error())
    } else {
        Ok(())
    }
}

fn push_components(p: &Path, queue: &mut VecDeque<OsString>) {
    for c in p.components() {
        match c {
            Component::RootDir | Component::Prefix(_) => queue.clear(),
            Component::CurDir => {}
            Component::ParentDir => queue.push_back("..".into()),
            Component::Normal(n) => queue.push_back(n.to_os_string()),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    /// A lower with a few files and links, and an upper that deletes one and adds one.
    fn layered() -> (tempfile::TempDir, ContainerFs) {
        let t = tempfile::tempdir().unwrap();
        let (lower, upper) = (t.path().join("lower"), t.path().join("upper"));
        std::fs::create_dir_all(lower.join("etc")).unwrap();
        std::fs::create_dir_all(lower.join("usr/lib")).unwrap();
        std::fs::write(lower.join("etc/passwd"), "root").unwrap();
        std::fs::write(lower.join("etc/gone"), "x").unwrap();
        symlink("/usr/lib", lower.join("lib")).unwrap();
        symlink("../../../..", lower.join("usr/lib/up")).unwrap();
        std::fs::create_dir_all(upper.join("etc")).unwrap();
        std::fs::write(upper.join("etc/new"), "n").unwrap();
        nix::sys::stat::mknod(
            &upper.join("etc/gone"),
            nix::sys::stat::SFlag::S_IFCHR,
            nix::sys::stat::Mode::empty(),
            0,
        )
        .unwrap();
        let fs = ContainerFs::Layered {
            upper,
            lowers: vec![lower],
            mounts: Vec::new(),
        };
        (t, fs)
    }

    #[test]
    fn resolve_stays_inside_the_root() {
        let (_t, fs) = layered();
        let cases: &[(&str, bool, &str)] = &[
            ("/etc/passwd", true, "etc/passwd"),
            ("/../../etc/passwd", true, "etc/passwd"),
            ("/lib/x", true, "usr/lib/x"),
            ("/lib", false, "lib"),
            ("/lib", true, "usr/lib"),
            ("/usr/lib/up/etc", true, "etc"),
            ("/", true, ""),
        ];
        for (input, follow, want) in cases {
            assert_eq!(
                fs.resolve(Path::new(input), *follow).unwrap(),
                PathBuf::from(want),
                "{input}"
            );
        }
    }

    #[test]
    fn children_merge_and_hide_whiteouts() {
        let (_t, fs) = layered();
        let etc = fs.lstat(Path::new("etc")).unwrap().unwrap();
        let names: Vec<_> = fs
            .children(&etc)
            .unwrap()
            .into_iter()
            .map(|(n, _)| n.into_string().unwrap())
            .collect();
        assert_eq!(names, ["new", "passwd"]);
        assert!(fs.lstat(Path::new("etc/gone")).unwrap().is_none());
    }

    #[test]
    fn prepare_write_copies_parents_up_and_clears_whiteouts() {
        let (t, fs) = layered();
        let p = fs.prepare_write(Path::new("usr/lib/f")).unwrap();
        assert_eq!(p.shown(), t.path().join("upper/usr/lib/f"));
        assert!(t.path().join("upper/usr/lib").is_dir());
        let p = fs.prepare_write(Path::new("etc/gone")).unwrap();
        assert!(
            std::fs::symlink_metadata(p.shown()).is_err(),
            "whiteout removed"
        );
        assert!(matches!(
            fs.prepare_write(Path::new("etc/passwd/x")),
            Err(TreeError::NotADirectory { .. })
        ));
    }
}
