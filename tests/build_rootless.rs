//! `strata build` as a user other than root, judged from the layer blobs it writes: with
//! delegated ids (`/etc/subuid`), owners, whiteouts and opaque dirs are kept and RUN has every
//! network mode; without them (the single-id map) a build with RUN works and other owners
//! become root, with a warning. Nothing is left mounted or running afterwards.

mod common;
mod rootless_support;

use std::fs;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;

use rootless_support::{layers, report, Entry, User};
use serde_json::Value;

const RANGE: (u32, u32) = (600000, 65536);

fn write(path: &Path, text: &str, mode: u32) {
    fs::create_dir_all(path.parent().unwrap()).unwrap();
    fs::write(path, text).unwrap();
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).unwrap();
}

/// The busybox base imported into the user's own store, as the user.
fn import_base(u: &User) {
    let rootfs = u.home().join("busybox-rootfs");
    common::busybox_rootfs(&rootfs);
    u.give(&rootfs);
    u.ok(&["import", "-c", r#"CMD ["sh"]"#, "busybox-rootfs", "busybox"]);
}

fn build(u: &User, tag: &str, meta: &str) -> (Value, String) {
    let args = [
        "build",
        "--progress=plain",
        "-t",
        tag,
        "--metadata-file",
        meta,
        "--allow",
        "network.host",
        "ctx",
    ];
    let progress = u.ok(&args);
    let meta = fs::read_to_string(u.home().join(meta)).unwrap();
    (serde_json::from_str(&meta).unwrap(), progress)
}

fn find<'a>(layer: &'a [Entry], path: &str) -> &'a Entry {
    layer
        .iter()
        .find(|e| e.path.trim_end_matches('/') == path)
        .unwrap_or_else(|| {
            let all: Vec<&str> = layer.iter().map(|e| e.path.as_str()).collect();
            panic!("{path} not in layer {all:?}")
        })
}

fn assert_nothing_left(u: &User, range: Option<(u32, u32)>) {
    assert_eq!(u.mounts(), Vec::<String>::new(), "mounts left");
    // Killed processes may take a moment to be reaped by the host's init.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(3);
    while !u.processes(range).is_empty() && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    assert_eq!(u.processes(range), Vec::<String>::new(), "processes left");
}

#[test]
fn rootless_build_with_delegated_ids() {
    let u = User::new("strata-rl", Some(&format!("{}:{}", RANGE.0, RANGE.1)));
    import_base(&u);
    let ctx = u.home().join("ctx");
    write(&ctx.join("run.sh"), "#!/bin/sh\n", 0o755);
    write(&ctx.join("secret.txt"), "s\n", 0o640);
    write(&ctx.join("dir/sub/f"), "f\n", 0o600);
    write(
        &ctx.join("Dockerfile"),
        "FROM busybox\n\
         COPY run.sh secret.txt /opt/\n\
         COPY dir /opt/dir/\n\
         RUN echo made > /made && rm /etc/group && rm -rf /root && mkdir /root && \
             echo new > /root/new && touch /owned && chown 1000:1000 /owned\n\
         RUN --network=none ls /sys/class/net > /net-none\n\
         RUN ls /sys/class/net > /net-default\n\
         USER 1000:1000\n\
         RUN --network=host id -u > /tmp/whoami\n",
        0o644,
    );
    u.give(&ctx);

    let (meta, progress) = build(&u, "out", "meta1.json");
    let store = u.store();
    let l = layers(&store, "out");
    assert_eq!(l.len(), 7, "base, 2 COPY, 4 RUN layers\n{progress}");
    for (path, mode) in [
        ("opt/run.sh", 0o755),
        ("opt/secret.txt", 0o640),
        ("opt/dir/sub/f", 0o600),
    ] {
        let e = find(
            if path.starts_with("opt/dir") {
                &l[2]
            } else {
                &l[1]
            },
            path,
        );
        assert_eq!((e.mode & 0o7777, e.uid, e.gid), (mode, 0, 0), "{path}");
    }
    let run = &l[3];
    assert_eq!(find(run, "made").data, b"made\n");
    find(run, "etc/.wh.group");
    find(run, "root/.wh..wh..opq");
    assert_eq!(find(run, "root/new").data, b"new\n");
    let owned = find(run, "owned");
    assert_eq!(
        (owned.uid, owned.gid),
        (1000, 1000),
        "kept by the subuid map"
    );
    for e in l.iter().flatten() {
        assert!(
            e.xattrs.iter().all(|x| !x.contains(".overlay.")),
            "overlayfs bookkeeping leaked into the layer: {e:?}"
        );
    }
    assert_eq!(find(&l[4], "net-none").data, b"lo\n");
    assert_eq!(find(&l[5], "net-default").data, b"lo\ntap0\n");
    let whoami = find(&l[6], "tmp/whoami");
    assert_eq!((whoami.uid, whoami.data.as_slice()), (1000, &b"1000\n"[..]));
    assert!(!progress.contains("warning"), "{progress}");

    // A second build reuses every step.
    let (again, progress) = build(&u, "out", "meta2.json");
    let steps = again["strata.steps"].as_array().unwrap();
    assert!(
        steps.iter().all(|s| s["cached"] == true),
        "rebuilt: {steps:?}\n{progress}"
    );
    assert_eq!(
        again["containerimage.digest"],
        meta["containerimage.digest"]
    );

    // Store-only commands work without the namespace; prune removes snapshot dirs that hold
    // files of delegated ids, which only the namespace's root may do.
    let images = u.strata(&["images"]);
    assert!(
        String::from_utf8_lossy(&images.stdout).contains("out"),
        "{}",
        report(&["images"], &images)
    );
    u.ok(&["rmi", "out"]);
    u.ok(&["system", "prune", "-a", "-f"]);
    let left: Vec<_> = fs::read_dir(store.join("snapshots-v1")).unwrap().collect();
    assert!(left.is_empty(), "snapshots left after prune: {left:?}");
    assert_nothing_left(&u, Some(RANGE));
}

#[test]
fn rootless_build_with_a_single_id_map() {
    let u = User::new("strata-rl1", None);
    import_base(&u);
    let ctx = u.home().join("ctx");
    write(&ctx.join("f"), "f\n", 0o644);
    write(
        &ctx.join("Dockerfile"),
        "FROM busybox\n\
         COPY --chown=1000:1000 f /f\n\
         RUN --network=none echo made > /made && cat /proc/self/uid_map > /map && \
             (chown 1000 /made 2>/dev/null && echo chowned || echo refused) > /chown\n",
        0o644,
    );
    u.give(&ctx);

    let (_, progress) = build(&u, "single", "meta.json");
    let l = layers(&u.store(), "single");
    assert_eq!(l.len(), 3, "{progress}");
    let f = find(&l[1], "f");
    assert_eq!((f.uid, f.gid), (0, 0), "--chown needs a delegated id");
    assert!(
        progress.contains("1 ownership change(s) were skipped"),
        "{progress}"
    );
    let run = &l[2];
    assert_eq!(find(run, "made").data, b"made\n");
    let map = String::from_utf8(find(run, "map").data.clone()).unwrap();
    let fields: Vec<&str> = map.split_whitespace().collect();
    assert_eq!(fields, ["0", &u.uid.to_string(), "1"], "{map}");
    assert_eq!(find(run, "chown").data, b"refused\n");

    // No other id exists, so a RUN as another user cannot start.
    write(
        &ctx.join("Dockerfile"),
        "FROM busybox\nUSER 1000\nRUN --network=none true\n",
        0o644,
    );
    let args = ["build", "--progress=plain", "ctx"];
    let out = u.strata(&args);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(
        !out.status.success() && err.contains("Invalid argument"),
        "{}",
        report(&args, &out)
    );

    // A device node in a base layer cannot be made here: it is left out, with the warning;
    // a FIFO can.
    let tar_path = u.home().join("devbase.tar");
    write_device_base(&tar_path);
    u.give(&tar_path);
    let out = u.ok(&["import", "-c", r#"CMD ["sh"]"#, "devbase.tar", "devbase"]);
    assert!(
        out.contains("1 device node(s) of base layers were left out"),
        "{out}"
    );
    write(
        &ctx.join("Dockerfile"),
        "FROM devbase\nRUN --network=none ls /opt > /opt-list\n",
        0o644,
    );
    build(&u, "devs", "meta-devs.json");
    let l = layers(&u.store(), "devs");
    assert_eq!(find(&l[1], "opt-list").data, b"fifo\n");
    assert_nothing_left(&u, None);
}

#[test]
fn rootless_build_can_be_interrupted() {
    let u = User::new("strata-rl2", Some("700000:65536"));
    import_base(&u);
    let ctx = u.home().join("ctx");
    write(
        &ctx.join("Dockerfile"),
        "FROM busybox\nRUN --network=none sleep 60\n",
        0o644,
    );
    u.give(&ctx);
    let child = u
        .command(&["build", "--progress=plain", "ctx"])
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    // `unshare`, `sh` and `setpriv` exec one another, so the child is strata itself once the
    // sleep runs.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !u
        .processes(Some((700000, 65536)))
        .iter()
        .any(|p| p.contains("sleep 60"))
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the RUN never started"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let pid = nix::unistd::Pid::from_raw(child.id() as i32);
    nix::sys::signal::kill(pid, nix::sys::signal::Signal::SIGINT).unwrap();
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", report(&["build"], &out));
    assert_nothing_left(&u, Some((700000, 65536)));
}

/// A one-layer rootfs tar: busybox as `sh`, a character device and a FIFO under /opt.
fn write_device_base(path: &Path) {
    let mut b = tar::Builder::new(fs::File::create(path).unwrap());
    let mut add =
        |name: &str, kind: tar::EntryType, mode: u32, data: &[u8], dev: Option<(u32, u32)>| {
            let mut h = tar::Header::new_gnu();
            h.set_entry_type(kind);
            h.set_mode(mode);
            h.set_uid(0);
            h.set_gid(0);
            h.set_mtime(1_700_000_000);
            h.set_size(data.len() as u64);
            if let Some((major, minor)) = dev {
                h.set_device_major(major).unwrap();
                h.set_device_minor(minor).unwrap();
            }
            b.append_data(&mut h, name, data).unwrap();
        };
    let busybox = fs::read("/bin/busybox").unwrap();
    add("bin/", tar::EntryType::Directory, 0o755, b"", None);
    add(
        "bin/busybox",
        tar::EntryType::Regular,
        0o755,
        &busybox,
        None,
    );
    add("opt/", tar::EntryType::Directory, 0o755, b"", None);
    add("opt/null", tar::EntryType::Char, 0o666, b"", Some((1, 3)));
    add("opt/fifo", tar::EntryType::Fifo, 0o644, b"", None);
    let mut h = tar::Header::new_gnu();
    h.set_entry_type(tar::EntryType::Symlink);
    h.set_mode(0o777);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_700_000_000);
    h.set_size(0);
    for applet in ["sh", "ls"] {
        b.append_link(&mut h, format!("bin/{applet}"), "busybox")
            .unwrap();
    }
    b.finish().unwrap();
}
