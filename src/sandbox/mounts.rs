//! Carrying out a mount plan through `Syscalls`, resolving every in-root path inside the root
//! (symlinks in the image are followed as if the root were `/`, never out of it).

use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::mount::{MntFlags, MsFlags};

use super::error::StepError;
use super::mount_plan::MountOp;
use super::syscalls::{FileKind, Syscalls};

const MAX_SYMLINKS: usize = 40;

/// Runs `ops` in order against a root mounted at `new_root` (a host path). Returns the
/// mountpoints created on the root filesystem, as paths inside the root, parents first.
pub fn apply(
    ops: &[MountOp],
    new_root: &Path,
    sys: &impl Syscalls,
) -> Result<Vec<PathBuf>, StepError> {
    let mut root = new_root.to_path_buf();
    let mut created = Vec::new();
    for op in ops {
        match op {
            MountOp::MakeRprivate => sys
                .mount(
                    None,
                    Path::new("/"),
                    None,
                    MsFlags::MS_REC | MsFlags::MS_PRIVATE,
                    None,
                )
                .map_err(|e| StepError::new("make / rprivate", "/", e))?,
            MountOp::OverlayRoot { data, chdir } => {
                if let Some(dir) = chdir {
                    sys.chdir(dir)
                        .map_err(|e| StepError::new("chdir", dir, e))?;
                }
                sys.mount(
                    Some(Path::new("overlay")),
                    &root,
                    Some("overlay"),
                    MsFlags::empty(),
                    Some(data),
                )
                .map_err(|e| StepError::new("mount overlay on", &root, e))?;
            }
            MountOp::OverlayRootLayers {
                lowerdirs,
                upperdir,
                workdir,
                userxattr,
            } => sys
                .mount_overlay_layers(lowerdirs, upperdir, workdir, *userxattr, &root)
                .map_err(|e| StepError::new("mount overlay (new mount API) on", &root, e))?,
            MountOp::BindRoot { dir } => sys
                .mount(
                    Some(dir),
                    &root,
                    None,
                    MsFlags::MS_BIND | MsFlags::MS_REC,
                    None,
                )
                .map_err(|e| StepError::new("bind root", dir, e))?,
            MountOp::EnsureDir { path, on_rootfs } => {
                ensure(sys, &root, path, false, *on_rootfs, &mut created)?
            }
            MountOp::EnsureFile { path, on_rootfs } => {
                ensure(sys, &root, path, true, *on_rootfs, &mut created)?
            }
            MountOp::EnsureLike {
                path,
                source,
                on_rootfs,
            } => {
                let is_file = match sys.lstat(source) {
                    Ok(Some(FileKind::Dir)) => false,
                    Ok(Some(_)) => true,
                    Ok(None) => return Err(StepError::new("bind source", source, Errno::ENOENT)),
                    Err(e) => return Err(StepError::new("bind source", source, e)),
                };
                ensure(sys, &root, path, is_file, *on_rootfs, &mut created)?
            }
            MountOp::Mount {
                source,
                target,
                fstype,
                flags,
                data,
            } => {
                let host = resolve_in_root(sys, &root, target)?;
                sys.mount(
                    Some(Path::new(source)),
                    &host,
                    Some(fstype),
                    *flags,
                    data.as_deref(),
                )
                .map_err(|e| StepError::new("mount", target, e))?
            }
            MountOp::Bind {
                source,
                target,
                recursive,
            } => {
                let host = resolve_in_root(sys, &root, target)?;
                let mut flags = MsFlags::MS_BIND;
                flags.set(MsFlags::MS_REC, *recursive);
                sys.mount(Some(source), &host, None, flags, None)
                    .map_err(|e| StepError::new("bind mount on", target, e))?
            }
            MountOp::Restrict { target, readonly } => {
                let host = resolve_in_root(sys, &root, target)?;
                let keep = sys
                    .mount_flags(&host)
                    .map_err(|e| StepError::new("statvfs", target, e))?;
                let mut flags = keep | MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_NODEV;
                flags.set(MsFlags::MS_RDONLY, *readonly);
                sys.mount(None, &host, None, flags, None)
                    .map_err(|e| StepError::new("remount nodev", target, e))?
            }
            MountOp::Mask { path } => {
                let host = resolve_in_root(sys, &root, path)?;
                let kind = sys
                    .lstat(&host)
                    .map_err(|e| StepError::new("stat", path, e))?;
                let result = match kind {
                    None => Ok(()),
                    Some(FileKind::Dir) => sys.mount(
                        Some(Path::new("tmpfs")),
                        &host,
                        Some("tmpfs"),
                        MsFlags::MS_RDONLY,
                        None,
                    ),
                    Some(_) => sys.mount(
                        Some(Path::new("/dev/null")),
                        &host,
                        None,
                        MsFlags::MS_BIND,
                        None,
                    ),
                };
                result.map_err(|e| StepError::new("mask", path, e))?
            }
            MountOp::ReadonlyPath { path } => {
                let host = resolve_in_root(sys, &root, path)?;
                if sys
                    .lstat(&host)
                    .map_err(|e| StepError::new("stat", path, e))?
                    .is_some()
                {
                    sys.mount(
                        Some(&host),
                        &host,
                        None,
                        MsFlags::MS_BIND | MsFlags::MS_REC,
                        None,
                    )
                    .map_err(|e| StepError::new("bind read-only path", path, e))?;
                    let keep = sys
                        .mount_flags(&host)
                        .map_err(|e| StepError::new("statvfs", path, e))?;
                    sys.mount(None, &host, None, ro_remount() | keep, None)
                        .map_err(|e| StepError::new("remount read-only", path, e))?
                }
            }
            MountOp::Symlink { link, points_to } => {
                let parent = resolve_in_root(sys, &root, link.parent().unwrap_or(Path::new("/")))?;
                let host = parent.join(link.file_name().unwrap_or_default());
                match sys.symlink(points_to, &host) {
                    Ok(()) | Err(Errno::EEXIST) => {}
                    Err(e) => return Err(StepError::new("symlink", link, e)),
                }
            }
            MountOp::PivotRoot => {
                sys.chdir(&root)
                    .map_err(|e| StepError::new("chdir", &root, e))?;
                let dot = Path::new(".");
                sys.pivot_root(dot, dot)
                    .map_err(|e| StepError::new("pivot_root", &root, e))?;
                sys.umount(dot, MntFlags::MNT_DETACH)
                    .map_err(|e| StepError::new("detach old root", "/", e))?;
                sys.chdir(Path::new("/"))
                    .map_err(|e| StepError::new("chdir", "/", e))?;
                root = PathBuf::from("/");
            }
            MountOp::RemountRootReadonly => {
                let keep = sys
                    .mount_flags(Path::new("/"))
                    .map_err(|e| StepError::new("statvfs", "/", e))?;
                sys.mount(None, Path::new("/"), None, ro_remount() | keep, None)
                    .map_err(|e| StepError::new("remount read-only", "/", e))?
            }
        }
    }
    Ok(created)
}

fn ro_remount() -> MsFlags {
    MsFlags::MS_BIND | MsFlags::MS_REMOUNT | MsFlags::MS_RDONLY
}

/// Makes `inner` exist (a dir, or an empty file when `is_file`), creating missing parents.
fn ensure(
    sys: &impl Syscalls,
    root: &Path,
    inner: &Path,
    is_file: bool,
    on_rootfs: bool,
    created: &mut Vec<PathBuf>,
) -> Result<(), StepError> {
    let host = resolve_in_root(sys, root, inner)?;
    let exists = |p: &Path| {
        sys.lstat(p)
            .map(|k| k.is_some())
            .map_err(|e| StepError::new("stat", p, e))
    };
    if exists(&host)? {
        return Ok(());
    }
    let rel = host.strip_prefix(root).unwrap_or(&host).to_path_buf();
    let mut cur = root.to_path_buf();
    let parts: Vec<_> = rel.components().collect();
    for (i, part) in parts.iter().enumerate() {
        cur.push(part);
        if exists(&cur)? {
            continue;
        }
        let last = i + 1 == parts.len();
        let result = if last && is_file {
            sys.create_file(&cur)
        } else {
            sys.mkdir(&cur, 0o755)
        };
        match result {
            Ok(()) => {
                if on_rootfs {
                    created.push(Path::new("/").join(cur.strip_prefix(root).unwrap_or(&cur)));
                }
            }
            Err(Errno::EEXIST) => {}
            Err(e) => return Err(StepError::new("create mountpoint", inner, e)),
        }
    }
    Ok(())
}

/// The host path of `inner` under `root`, following symlinks as if `root` were `/`.
/// Missing components are kept as they are.
pub fn resolve_in_root(
    sys: &impl Syscalls,
    root: &Path,
    inner: &Path,
) -> Result<PathBuf, StepError> {
    let mut done: Vec<std::ffi::OsString> = Vec::new();
    let mut todo: Vec<std::ffi::OsString> = Vec::new();
    push_components(&mut todo, inner);
    let mut links = 0;
    while let Some(part) = todo.pop() {
        if part == ".." {
            done.pop();
            continue;
        }
        let candidate = done
            .iter()
            .fold(root.to_path_buf(), |p, c| p.join(c))
            .join(&part);
        match sys.lstat(&candidate) {
            Ok(Some(FileKind::Symlink)) => {
                links += 1;
                if links > MAX_SYMLINKS {
                    return Err(StepError::new("resolve", inner, Errno::ELOOP));
                }
                let to = sys
                    .read_link(&candidate)
                    .map_err(|e| StepError::new("readlink", &candidate, e))?;
                if to.is_absolute() {
                    done.clear();
                }
                push_components(&mut todo, &to);
            }
            Ok(_) => done.push(part),
            Err(e) => return Err(StepError::new("stat", &candidate, e)),
        }
    }
    Ok(done.iter().fold(root.to_path_buf(), |p, c| p.join(c)))
}

/// Pushes `path`'s components so that popping yields them first to last.
fn push_components(todo: &mut Vec<std::ffi::OsString>, path: &Path) {
    let parts: Vec<_> = path
        .components()
        .filter_map(|c| match c {
            Component::Normal(n) => Some(n.to_os_string()),
            Component::ParentDir => Some("..".into()),
            _ => None,
        })
        .collect();
    todo.extend(parts.into_iter().rev());
}
