//! Table tests for the mount plan: the exact ordered op list for representative specs.

use super::*;
use crate::sandbox::mounts::apply;
use crate::sandbox::recording::{Call, Recording};
use crate::sandbox::spec::{Mount, RootFs, Spec};

fn input() -> PlanInput {
    PlanInput {
        new_root: "/state/root".into(),
        etc_dir: "/state/etc".into(),
        rootless: false,
    }
}

fn p(s: &str) -> PathBuf {
    PathBuf::from(s)
}

fn dir(path: &str, on_rootfs: bool) -> MountOp {
    MountOp::EnsureDir {
        path: p(path),
        on_rootfs,
    }
}

fn file(path: &str, on_rootfs: bool) -> MountOp {
    MountOp::EnsureFile {
        path: p(path),
        on_rootfs,
    }
}

fn mount(source: &str, target: &str, fstype: &str, flags: MsFlags, data: Option<&str>) -> MountOp {
    MountOp::Mount {
        source: source.into(),
        target: p(target),
        fstype: fstype.into(),
        flags,
        data: data.map(str::to_string),
    }
}

fn bind(source: &str, target: &str, recursive: bool) -> MountOp {
    MountOp::Bind {
        source: p(source),
        target: p(target),
        recursive,
    }
}

/// What every sandbox gets between the root mount and the spec's own mounts.
fn system_ops() -> Vec<MountOp> {
    let nsde = MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC;
    let mut ops = vec![
        restrict("/", false),
        dir("/proc", true),
        mount("proc", "/proc", "proc", nsde, None),
        dir("/dev", true),
        mount(
            "tmpfs",
            "/dev",
            "tmpfs",
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_STRICTATIME,
            Some("mode=755,size=65536k"),
        ),
    ];
    for d in ["null", "zero", "full", "random", "urandom", "tty"] {
        let path = format!("/dev/{d}");
        ops.push(file(&path, false));
        ops.push(bind(&path, &path, false));
    }
    ops.extend([
        dir("/dev/pts", false),
        mount(
            "devpts",
            "/dev/pts",
            "devpts",
            MsFlags::MS_NOSUID | MsFlags::MS_NOEXEC,
            Some("newinstance,ptmxmode=0666,mode=0620"),
        ),
        dir("/dev/shm", false),
        mount(
            "shm",
            "/dev/shm",
            "tmpfs",
            nsde,
            Some("mode=1777,size=67108864"),
        ),
    ]);
    for (link, to) in [
        ("/dev/ptmx", "pts/ptmx"),
        ("/dev/fd", "/proc/self/fd"),
        ("/dev/stdin", "/proc/self/fd/0"),
        ("/dev/stdout", "/proc/self/fd/1"),
        ("/dev/stderr", "/proc/self/fd/2"),
        ("/dev/core", "/proc/kcore"),
    ] {
        ops.push(MountOp::Symlink {
            link: p(link),
            points_to: p(to),
        });
    }
    ops.extend([
        dir("/sys", true),
        mount("sysfs", "/sys", "sysfs", nsde | MsFlags::MS_RDONLY, None),
    ]);
    for &path in crate::sandbox::devices::MASKED_PATHS {
        ops.push(MountOp::Mask { path: p(path) });
    }
    for &path in crate::sandbox::devices::READONLY_PATHS {
        ops.push(MountOp::ReadonlyPath { path: p(path) });
    }
    ops.extend([
        file("/etc/hosts", true),
        bind("/state/etc/hosts", "/etc/hosts", false),
        file("/etc/resolv.conf", true),
        bind("/state/etc/resolv.conf", "/etc/resolv.conf", false),
        file("/etc/hostname", true),
        bind("/state/etc/hostname", "/etc/hostname", false),
    ]);
    ops
}

#[test]
fn overlay_root_with_binds_tmpfs_and_readonly_root() {
    let mut spec = Spec::new(
        vec!["true".into()],
        RootFs::Overlay {
            lowerdirs: vec![p("/s/l2"), p("/s/l1")],
            upperdir: p("/s/up"),
            workdir: p("/s/work"),
        },
    );
    spec.readonly_root = true;
    spec.mounts = vec![
        Mount::Bind {
            source: p("/host/src"),
            target: p("/src"),
            readonly: true,
        },
        Mount::Tmpfs {
            target: p("/tmp"),
            size_bytes: Some(1 << 20),
        },
        Mount::Bind {
            source: p("/host/cache"),
            target: p("/tmp/cache/"),
            readonly: false,
        },
    ];
    let mut want = vec![
        MountOp::MakeRprivate,
        MountOp::OverlayRoot {
            data:
                "lowerdir=/s/l2:/s/l1,upperdir=/s/up,workdir=/s/work,redirect_dir=off,metacopy=off,volatile"
                    .into(),
            chdir: None,
        },
    ];
    want.extend(system_ops());
    want.extend([
        MountOp::EnsureLike {
            path: p("/src"),
            source: p("/host/src"),
            on_rootfs: true,
        },
        bind("/host/src", "/src", true),
        restrict("/src", true),
        dir("/tmp", true),
        mount(
            "tmpfs",
            "/tmp",
            "tmpfs",
            MsFlags::MS_NOSUID | MsFlags::MS_NODEV,
            Some("mode=1777,size=1048576"),
        ),
        MountOp::EnsureLike {
            path: p("/tmp/cache"),
            source: p("/host/cache"),
            on_rootfs: false,
        },
        bind("/host/cache", "/tmp/cache", true),
        restrict("/tmp/cache", false),
        MountOp::PivotRoot,
        MountOp::RemountRootReadonly,
    ]);
    assert_eq!(plan(&spec, &input()).unwrap(), want);
}

fn restrict(target: &str, readonly: bool) -> MountOp {
    MountOp::Restrict {
        target: p(target),
        readonly,
    }
}

#[test]
fn devices_are_bound_and_a_privileged_plan_keeps_dev_nodes_and_proc_open() {
    let mut spec = Spec::new(vec!["true".into()], RootFs::Dir(p("/rootfs")));
    spec.security.devices = vec![
        crate::sandbox::security::Device {
            host: p("/dev/fuse"),
            container: p("/dev/fuse"),
            permissions: "rwm".into(),
        },
        crate::sandbox::security::Device {
            host: p("/dev/sda"),
            container: p("/dev/xvda"),
            permissions: "r".into(),
        },
    ];
    spec.mounts = vec![Mount::Bind {
        source: p("/host/v"),
        target: p("/v"),
        readonly: false,
    }];
    let ops = plan(&spec, &input()).unwrap();
    let at = |op: &MountOp| ops.iter().position(|o| o == op).unwrap();
    let fuse = at(&bind("/dev/fuse", "/dev/fuse", false));
    assert!(fuse > at(&bind("/dev/tty", "/dev/tty", false)));
    assert!(at(&bind("/dev/sda", "/dev/xvda", false)) > fuse);
    assert!(ops.contains(&restrict("/", false)));
    assert!(ops.contains(&restrict("/v", false)));

    spec.security.privileged = true;
    let ops = plan(&spec, &input()).unwrap();
    assert!(!ops.iter().any(|o| matches!(
        o,
        MountOp::Restrict {
            readonly: false,
            ..
        } | MountOp::Mask { .. }
            | MountOp::ReadonlyPath { .. }
    )));
}

#[test]
fn dir_root() {
    let spec = Spec::new(vec!["true".into()], RootFs::Dir(p("/rootfs")));
    let mut want = vec![
        MountOp::MakeRprivate,
        MountOp::BindRoot { dir: p("/rootfs") },
    ];
    want.extend(system_ops());
    want.push(MountOp::PivotRoot);
    assert_eq!(plan(&spec, &input()).unwrap(), want);
}

fn overlay(lowers: Vec<PathBuf>, upper: &str, work: &str) -> Spec {
    Spec::new(
        vec!["true".into()],
        RootFs::Overlay {
            lowerdirs: lowers,
            upperdir: p(upper),
            workdir: p(work),
        },
    )
}

#[test]
fn long_layer_lists_use_relative_paths_then_the_new_mount_api() {
    // 50 layers of ~97 bytes: too long absolute, fits relative to the common parent.
    let base = "/var/lib/strata/snapshots-v1";
    let lowers: Vec<PathBuf> = (0..50).map(|i| p(&format!("{base}/{i:064x}/fs"))).collect();
    let spec = overlay(
        lowers.clone(),
        &format!("{base}/up/fs"),
        &format!("{base}/up/work"),
    );
    let ops = plan(&spec, &input()).unwrap();
    match &ops[1] {
        MountOp::OverlayRoot {
            data,
            chdir: Some(d),
        } => {
            assert_eq!(d, &p(base));
            assert!(data.len() <= MOUNT_DATA_MAX);
            assert!(
                data.starts_with(&format!("lowerdir={:064x}/fs:", 0)),
                "{data}"
            );
            assert!(
                data.ends_with(
                    ",upperdir=up/fs,workdir=up/work,redirect_dir=off,metacopy=off,volatile"
                ),
                "{data}"
            );
        }
        other => panic!("expected a relative overlay mount, got {other:?}"),
    }
    // 200 layers do not fit even relative: one layer at a time through fsconfig.
    let lowers: Vec<PathBuf> = (0..200)
        .map(|i| p(&format!("{base}/{i:064x}/fs")))
        .collect();
    let spec = overlay(lowers.clone(), "/u", "/w");
    assert_eq!(
        plan(&spec, &input()).unwrap()[1],
        MountOp::OverlayRootLayers {
            lowerdirs: lowers,
            upperdir: p("/u"),
            workdir: p("/w"),
            userxattr: false,
        }
    );
}

#[test]
fn invalid_specs_are_refused() {
    let bad_targets = ["relative", "/", "/a/../b"];
    for t in bad_targets {
        let mut spec = overlay(vec![p("/l")], "/u", "/w");
        spec.mounts = vec![Mount::Tmpfs {
            target: p(t),
            size_bytes: None,
        }];
        assert!(plan(&spec, &input()).is_err(), "target {t}");
    }
    for lowers in [vec![], vec![p("/a,b")], vec![p("/a:b")], vec![p("rel")]] {
        let spec = overlay(lowers.clone(), "/u", "/w");
        assert!(plan(&spec, &input()).is_err(), "lowers {lowers:?}");
    }
}

#[test]
fn applying_records_created_mountpoints_and_follows_symlinks_inside_the_root() {
    // The image has /proc and /sys, no /dev and no /etc files; /etc is a symlink to /cfg
    // (absolute), which must resolve inside the root, not to the host's /cfg.
    let root = "/state/root";
    let sys = Recording::new()
        .with_dir(root)
        .with_dir(format!("{root}/proc"))
        .with_dir(format!("{root}/sys"))
        .with_dir(format!("{root}/cfg"))
        .with_symlink(format!("{root}/etc"), "/cfg")
        .with_file("/host/file");
    let mut spec = Spec::new(vec!["true".into()], RootFs::Dir(p("/img")));
    spec.mounts = vec![Mount::Bind {
        source: p("/host/file"),
        target: p("/opt/conf/app.ini"),
        readonly: true,
    }];
    let ops = plan(&spec, &input()).unwrap();
    let created = apply(&ops, Path::new(root), &sys).unwrap();
    assert_eq!(
        created,
        [
            "/dev",
            "/cfg/hosts",
            "/cfg/resolv.conf",
            "/cfg/hostname",
            "/opt",
            "/opt/conf",
            "/opt/conf/app.ini"
        ]
        .map(p)
    );
    let calls = sys.calls();
    assert!(calls.contains(&Call::Mount {
        source: Some(p("/state/etc/hosts")),
        target: p("/state/root/cfg/hosts"),
        fstype: None,
        flags: MsFlags::MS_BIND,
        data: None,
    }));
    // Files get files, not directories, and the read-only remount follows the bind.
    assert!(calls.contains(&Call::CreateFile(p("/state/root/opt/conf/app.ini"))));
    let bind_at = calls
        .iter()
        .position(|c| matches!(c, Call::Mount { target, flags, .. } if target == &p("/state/root/opt/conf/app.ini") && flags.contains(MsFlags::MS_BIND) && !flags.contains(MsFlags::MS_REMOUNT)))
        .unwrap();
    // The remount repeats the mount's own flags (the fake says nosuid) and adds nodev.
    let ro = MsFlags::MS_BIND
        | MsFlags::MS_REMOUNT
        | MsFlags::MS_RDONLY
        | MsFlags::MS_NOSUID
        | MsFlags::MS_NODEV;
    assert!(matches!(&calls[bind_at + 1], Call::Mount { flags, .. } if *flags == ro));
    // The tail is the pivot_root dance.
    let n = calls.len();
    assert_eq!(
        calls[n - 4..],
        [
            Call::Chdir(p(root)),
            Call::PivotRoot(p("."), p(".")),
            Call::Umount(p("."), nix::mount::MntFlags::MNT_DETACH),
            Call::Chdir(p("/")),
        ]
    );
}

#[test]
fn a_failing_mount_stops_the_plan() {
    let sys = Recording::new()
        .with_dir("/r")
        .fail_on(|c| matches!(c, Call::Mount { fstype: Some(t), .. } if t == "sysfs"));
    let spec = Spec::new(vec!["true".into()], RootFs::Dir(p("/img")));
    let err = apply(&plan(&spec, &input()).unwrap(), Path::new("/r"), &sys).unwrap_err();
    assert_eq!((err.step, err.path), ("mount", p("/sys")));
    assert!(!sys.calls().iter().any(|c| matches!(c, Call::PivotRoot(..))));
}

#[test]
fn rootless_overlay_uses_userxattr_and_host_net_binds_sys() {
    let mut spec = overlay(vec![p("/l")], "/u", "/w");
    let rootless = PlanInput {
        rootless: true,
        ..input()
    };
    let ops = plan(&spec, &rootless).unwrap();
    assert_eq!(
        ops[1],
        MountOp::OverlayRoot {
            data: "lowerdir=/l,upperdir=/u,workdir=/w,userxattr".into(),
            chdir: None,
        }
    );
    assert!(ops
        .iter()
        .any(|op| matches!(op, MountOp::Mount { fstype, .. } if fstype == "sysfs")));
    spec.network = crate::sandbox::spec::NetworkMode::Host;
    let ops = plan(&spec, &rootless).unwrap();
    assert!(ops.contains(&bind("/sys", "/sys", true)));
    assert!(!ops
        .iter()
        .any(|op| matches!(op, MountOp::Mount { fstype, .. } if fstype == "sysfs")));
}

#[test]
fn masks_skip_missing_paths_and_pick_by_kind() {
    let root = "/r";
    let sys = Recording::new()
        .with_dir(root)
        .with_dir("/r/proc")
        .with_file("/r/proc/kcore")
        .with_dir("/r/proc/scsi")
        .with_dir("/r/proc/sys");
    let ops = [
        MountOp::Mask {
            path: p("/proc/kcore"),
        },
        MountOp::Mask {
            path: p("/proc/scsi"),
        },
        MountOp::Mask {
            path: p("/proc/acpi"),
        },
        MountOp::ReadonlyPath {
            path: p("/proc/sys"),
        },
        MountOp::ReadonlyPath {
            path: p("/proc/irq"),
        },
    ];
    apply(&ops, Path::new(root), &sys).unwrap();
    let m = |source: &str, target: &str, fstype: Option<&str>, flags: MsFlags| Call::Mount {
        source: Some(p(source)),
        target: p(target),
        fstype: fstype.map(str::to_string),
        flags,
        data: None,
    };
    assert_eq!(
        sys.calls(),
        vec![
            m("/dev/null", "/r/proc/kcore", None, MsFlags::MS_BIND),
            m("tmpfs", "/r/proc/scsi", Some("tmpfs"), MsFlags::MS_RDONLY),
            m(
                "/r/proc/sys",
                "/r/proc/sys",
                None,
                MsFlags::MS_BIND | MsFlags::MS_REC
            ),
            Call::Mount {
                source: None,
                target: p("/r/proc/sys"),
                fstype: None,
                flags: MsFlags::MS_BIND
                    | MsFlags::MS_REMOUNT
                    | MsFlags::MS_RDONLY
                    | MsFlags::MS_NOSUID,
                data: None,
            },
        ]
    );
}

#[test]
fn shm_size_is_the_dev_shm_tmpfs_size_in_bytes() {
    let cases = [
        (64u64 << 20, "mode=1777,size=67108864"),
        (1 << 20, "mode=1777,size=1048576"),
    ];
    for (size, want) in cases {
        let mut spec = Spec::new(vec!["true".into()], RootFs::Dir(p("/rootfs")));
        spec.shm_size = size;
        let ops = plan(&spec, &input()).unwrap();
        let data = ops.iter().find_map(|op| match op {
            MountOp::Mount { target, data, .. } if target == &p("/dev/shm") => data.clone(),
            _ => None,
        });
        assert_eq!(data.as_deref(), Some(want), "{size}");
    }
}
