//! The mount plan: a pure function from a `Spec` to the ordered list of mount operations that
//! build its root, so the order (which is what matters) is data and tested as a table.
//!
//! Paths in ops are *inside* the new root (`/proc`, `/etc/hosts`) unless named `source`;
//! `mounts::apply` resolves them under the root without following symlinks out of it.

use std::path::{Component, Path, PathBuf};

use nix::mount::MsFlags;

use super::devices::{DEVICES, DEV_SYMLINKS, MASKED_PATHS, READONLY_PATHS};
use super::error::SandboxError;
use super::spec::{Mount, NetworkMode, RootFs, Spec};

/// `mount(2)` copies at most one page of option data, NUL included.
pub const MOUNT_DATA_MAX: usize = 4095;

/// Host-side inputs the plan needs besides the spec.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlanInput {
    /// An empty host directory the root is mounted on before `pivot_root`.
    pub new_root: PathBuf,
    /// A host directory holding `hosts`, `resolv.conf` and `hostname` for the sandbox.
    pub etc_dir: PathBuf,
    /// Running in a user namespace (the one the helper makes when not root, or the one a
    /// rootless strata entered): overlay needs `userxattr`,
    /// and sysfs can only be mounted fresh in a network namespace of our own.
    pub rootless: bool,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum MountOp {
    /// `mount --make-rprivate /`, so nothing below propagates back to the host.
    MakeRprivate,
    /// Overlay on the new root with `mount(2)`; `chdir` first when `data` uses paths relative
    /// to it (the short-path trick for long layer lists).
    OverlayRoot {
        data: String,
        chdir: Option<PathBuf>,
    },
    /// Overlay on the new root through the new mount API, one layer at a time.
    OverlayRootLayers {
        lowerdirs: Vec<PathBuf>,
        upperdir: PathBuf,
        workdir: PathBuf,
        userxattr: bool,
    },
    /// Bind a host directory on the new root (pivot_root needs a mount point).
    BindRoot {
        dir: PathBuf,
    },
    /// `mkdir -p`; `on_rootfs` when it would land on the root filesystem itself (so a
    /// creation must be reported), not on a tmpfs mounted earlier in the plan.
    EnsureDir {
        path: PathBuf,
        on_rootfs: bool,
    },
    /// Create an empty file (and parents) if nothing is there.
    EnsureFile {
        path: PathBuf,
        on_rootfs: bool,
    },
    /// `EnsureDir` or `EnsureFile`, whichever matches the host `source`.
    EnsureLike {
        path: PathBuf,
        source: PathBuf,
        on_rootfs: bool,
    },
    Mount {
        source: String,
        target: PathBuf,
        fstype: String,
        flags: MsFlags,
        data: Option<String>,
    },
    Bind {
        source: PathBuf,
        target: PathBuf,
        recursive: bool,
    },
    /// Add `nodev` (and `MS_RDONLY` when `readonly`) to an existing mount, keeping its other
    /// flags (a bind mount ignores flags on creation; a user namespace locks some).
    Restrict {
        target: PathBuf,
        readonly: bool,
    },
    /// Hide a path if it exists: `/dev/null` over a file, a read-only tmpfs over a directory.
    Mask {
        path: PathBuf,
    },
    /// Bind a path on itself read-only, if it exists.
    ReadonlyPath {
        path: PathBuf,
    },
    Symlink {
        link: PathBuf,
        points_to: PathBuf,
    },
    /// `pivot_root` into the new root and detach the old one; later paths are plain.
    PivotRoot,
    RemountRootReadonly,
}

/// Builds the ordered plan. Fails only on specs that cannot be mounted as given.
pub fn plan(spec: &Spec, input: &PlanInput) -> Result<Vec<MountOp>, SandboxError> {
    let mut ops = vec![MountOp::MakeRprivate];
    ops.push(root_op(&spec.rootfs, input.rootless)?);
    let privileged = spec.security.privileged;
    // A device node made with `mknod` (CAP_MKNOD is in the default set) must not open: every
    // writable filesystem is `nodev`; the nodes the sandbox itself binds are mounts of their own.
    if !privileged {
        ops.push(MountOp::Restrict {
            target: "/".into(),
            readonly: false,
        });
    }

    let nosuid_dev_exec = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let mut p = Planner {
        ops,
        mounted: Vec::new(),
    };
    p.ensure_dir("/proc");
    p.mount("proc", "/proc", "proc", nosuid_dev_exec, None);
    p.ensure_dir("/dev");
    p.mount(
        "tmpfs",
        "/dev",
        "tmpfs",
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_STRICTATIME,
        Some("mode=755,size=65536k"),
    );
    for dev in DEVICES {
        let path = PathBuf::from("/dev").join(dev);
        p.ensure_file(&path);
        p.bind(&path, &path, false);
    }
    for dev in &spec.security.devices {
        let target = checked_target(&dev.container)?;
        p.ensure_file(&target);
        p.bind(&dev.host, &target, false);
    }
    p.ensure_dir("/dev/pts");
    p.mount(
        "devpts",
        "/dev/pts",
        "devpts",
        MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
        Some("newinstance,ptmxmode=0666,mode=0620"),
    );
    p.ensure_dir("/dev/shm");
    // In bytes, as Docker writes it (`--shm-size`, 64 MiB by default).
    let shm = format!("mode=1777,size={}", spec.shm_size);
    p.mount("shm", "/dev/shm", "tmpfs", nosuid_dev_exec, Some(&shm));
    for (link, to) in DEV_SYMLINKS {
        p.ops.push(MountOp::Symlink {
            link: link.into(),
            points_to: to.into(),
        });
    }
    p.ensure_dir("/sys");
    if input.rootless && spec.network == NetworkMode::Host {
        // sysfs belongs to the host's netns here; an unprivileged user cannot write it anyway.
        p.bind(Path::new("/sys"), Path::new("/sys"), true);
    } else {
        p.mount(
            "sysfs",
            "/sys",
            "sysfs",
            nosuid_dev_exec | MsFlags::MS_RDONLY,
            None,
        );
    }
    if !privileged {
        for path in MASKED_PATHS {
            p.ops.push(MountOp::Mask { path: path.into() });
        }
        for path in READONLY_PATHS {
            p.ops.push(MountOp::ReadonlyPath { path: path.into() });
        }
    }
    for name in ["hosts", "resolv.conf", "hostname"] {
        let target = PathBuf::from("/etc").join(name);
        p.ensure_file(&target);
        p.bind(&input.etc_dir.join(name), &target, false);
    }

    for m in &spec.mounts {
        let target = checked_target(m.target())?;
        match m {
            Mount::Bind {
                source, readonly, ..
            } => {
                if !source.is_absolute() {
                    return Err(SandboxError::InvalidSpec(format!(
                        "bind source {} is not absolute",
                        source.display()
                    )));
                }
                let on_rootfs = p.on_rootfs(&target);
                p.ops.push(MountOp::EnsureLike {
                    path: target.clone(),
                    source: source.clone(),
                    on_rootfs,
                });
                p.bind(source, &target, true);
                if *readonly || !privileged {
                    p.ops.push(MountOp::Restrict {
                        target,
                        readonly: *readonly,
                    });
                }
            }
            Mount::Tmpfs { size_bytes, .. } => {
                p.ensure_dir(&target);
                let data = match size_bytes {
                    Some(n) => format!("mode=1777,size={n}"),
                    None => "mode=1777".to_string(),
                };
                p.mount(
                    "tmpfs",
                    &target,
                    "tmpfs",
                    MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
                    Some(&data),
                );
            }
        }
    }

    p.ops.push(MountOp::PivotRoot);
    if spec.readonly_root {
        p.ops.push(MountOp::RemountRootReadonly);
    }
    Ok(p.ops)
}

struct Planner {
    ops: Vec<MountOp>,
    /// Targets mounted so far, to tell whether a new path lands on the root filesystem.
    mounted: Vec<PathBuf>,
}

impl Planner {
    fn on_rootfs(&self, path: &Path) -> bool {
        !self
            .mounted
            .iter()
            .any(|m| path.starts_with(m) && path != m.as_path())
    }

    fn ensure_dir(&mut self, path: impl AsRef<Path>) {
        let path = path.as_ref().to_path_buf();
        let on_rootfs = self.on_rootfs(&path);
        self.ops.push(MountOp::EnsureDir { path, on_rootfs });
    }

    fn ensure_file(&mut self, path: &Path) {
        let on_rootfs = self.on_rootfs(path);
        self.ops.push(MountOp::EnsureFile {
            path: path.to_path_buf(),
            on_rootfs,
        });
    }

    fn mount(
        &mut self,
        source: &str,
        target: impl AsRef<Path>,
        fstype: &str,
        flags: MsFlags,
        data: Option<&str>,
    ) {
        let target = target.as_ref().to_path_buf();
        self.mounted.push(target.clone());
        self.ops.push(MountOp::Mount {
            source: source.to_string(),
            target,
            fstype: fstype.to_string(),
            flags,
            data: data.map(str::to_string),
        });
    }

    fn bind(&mut self, source: &Path, target: &Path, recursive: bool) {
        self.mounted.push(target.to_path_buf());
        self.ops.push(MountOp::Bind {
            source: source.to_path_buf(),
            target: target.to_path_buf(),
            recursive,
        });
    }
}

/// A mount target must be absolute, not `/` itself, and free of `..`.
fn checked_target(target: &Path) -> Result<PathBuf, SandboxError> {
    let bad = !target.is_absolute()
        || target.components().any(|c| c == Component::ParentDir)
        || target.components().count() < 2;
    if bad {
        return Err(SandboxError::InvalidSpec(format!(
            "mount target {} must be an absolute path below / without ..",
            target.display()
        )));
    }
    Ok(target.components().collect())
}

fn root_op(rootfs: &RootFs, userxattr: bool) -> Result<MountOp, SandboxError> {
    let (lowerdirs, upperdir, workdir) = match rootfs {
        RootFs::Dir(dir) => return Ok(MountOp::BindRoot { dir: dir.clone() }),
        RootFs::Overlay {
            lowerdirs,
            upperdir,
            workdir,
        } => (lowerdirs, upperdir, workdir),
    };
    if lowerdirs.is_empty() {
        return Err(SandboxError::InvalidSpec(
            "an overlay root needs at least one lowerdir (use an empty directory for scratch)"
                .into(),
        ));
    }
    let all: Vec<&PathBuf> = lowerdirs.iter().chain([upperdir, workdir]).collect();
    for p in &all {
        let s = p.to_string_lossy();
        if !p.is_absolute() || s.contains([',', ':', '\\']) {
            return Err(SandboxError::InvalidSpec(format!(
                "overlay directory {s:?} must be absolute and free of ',', ':' and '\\'"
            )));
        }
    }
    // Renamed-dir redirects and metadata-only copy-ups cannot be expressed in a layer, so they
    // are off whatever the kernel's default (a user-namespace mount has them off already and
    // refuses the options).
    let extra = if userxattr {
        ",userxattr"
    } else {
        // `volatile`: no sync of the whole upper filesystem when the namespace's mount goes
        // away (0.2 s and more per RUN on a busy disk); the layer blob is fsynced on its own.
        ",redirect_dir=off,metacopy=off,volatile"
    };
    let data = overlay_data(lowerdirs.iter().map(|p| p.as_path()), upperdir, workdir) + extra;
    if data.len() <= MOUNT_DATA_MAX {
        return Ok(MountOp::OverlayRoot { data, chdir: None });
    }
    // Too long: paths relative to their common ancestor, as Docker's overlay2 driver does.
    let base = common_ancestor(&all);
    if base != Path::new("/") {
        let rel = |p: &PathBuf| {
            p.strip_prefix(&base)
                .map(Path::to_path_buf)
                .unwrap_or_default()
        };
        let lowers: Vec<PathBuf> = lowerdirs.iter().map(rel).collect();
        let data = overlay_data(
            lowers.iter().map(|p| p.as_path()),
            &rel(upperdir),
            &rel(workdir),
        ) + extra;
        if data.len() <= MOUNT_DATA_MAX {
            return Ok(MountOp::OverlayRoot {
                data,
                chdir: Some(base),
            });
        }
    }
    Ok(MountOp::OverlayRootLayers {
        lowerdirs: lowerdirs.clone(),
        upperdir: upperdir.clone(),
        workdir: workdir.clone(),
        userxattr,
    })
}

fn overlay_data<'a>(lowers: impl Iterator<Item = &'a Path>, upper: &Path, work: &Path) -> String {
    let lowers: Vec<String> = lowers.map(|p| p.display().to_string()).collect();
    format!(
        "lowerdir={},upperdir={},workdir={}",
        lowers.join(":"),
        upper.display(),
        work.display()
    )
}

fn common_ancestor(paths: &[&PathBuf]) -> PathBuf {
    let mut base: PathBuf = paths[0].parent().unwrap_or(Path::new("/")).to_path_buf();
    while !paths
        .iter()
        .all(|p| p.starts_with(&base) && p.as_path() != base)
    {
        if !base.pop() {
            return PathBuf::from("/");
        }
    }
    base
}

#[cfg(test)]
#[path = "mount_plan_tests.rs"]
mod tests;
