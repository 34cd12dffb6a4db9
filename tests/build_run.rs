//! RUN semantics end to end: what a RUN's layer holds (creations, changes, deletions, opaque
//! dirs, hard links, modes, owners, odd names) judged after `umoci unpack`, and what a RUN
//! sees (USER, WORKDIR, ENV, SHELL, network, /proc, /dev, hostname, its processes' fate).

mod build_support;
mod common;

use std::collections::BTreeSet;
use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::path::Path;
use std::time::{Duration, Instant};

use build_support::{read, steps, Bench};
use serde_json::Value;

/// Names in a directory of the unpacked rootfs, sorted.
fn names(root: &Path, dir: &str) -> BTreeSet<String> {
    fs::read_dir(root.join(dir))
        .unwrap_or_else(|e| panic!("{dir}: {e}"))
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .collect()
}

/// The history entries after the base image's, as (created_by, empty_layer).
fn our_history(cfg: &Value) -> Vec<(String, bool)> {
    cfg["history"]
        .as_array()
        .unwrap()
        .iter()
        .skip(1)
        .map(|h| {
            (
                h["created_by"].as_str().unwrap_or_default().to_string(),
                h["empty_layer"].as_bool().unwrap_or(false),
            )
        })
        .collect()
}

#[test]
fn files_created_changed_and_deleted_across_run_layers() {
    let b = Bench::new();
    b.dockerfile(
        r#"FROM busybox
RUN echo temp > /scratch-file && echo kept > /kept && echo extra >> /etc/passwd && echo staff:x:50: >> /etc/group
RUN rm /scratch-file /etc/group /usr/bin/yes && echo again >> /kept
RUN test ! -e /scratch-file && test ! -e /etc/group && test ! -e /usr/bin/yes
"#,
    );
    b.build("cmd", &[]);
    let root = b.unpack("cmd");
    assert!(!root.join("scratch-file").exists(), "created then deleted");
    assert_eq!(read(&root, "kept"), "kept\nagain\n");
    let passwd = read(&root, "etc/passwd");
    assert!(
        passwd.starts_with("root:x:0:0:") && passwd.ends_with("extra\n"),
        "{passwd}"
    );
    // /etc/group came from the base and was changed in RUN 1: the whiteout of RUN 2 must
    // hide both copies.
    assert!(!root.join("etc/group").exists());
    assert!(root.join("usr/bin/yes").symlink_metadata().is_err());
    assert!(root.join("bin/true").symlink_metadata().is_ok());

    let layers = b.layer_entries("cmd");
    assert_eq!(layers.len(), 3, "base + two RUNs with changes: {layers:?}");
    let second = &layers[2];
    for wh in [".wh.scratch-file", "etc/.wh.group", "usr/bin/.wh.yes"] {
        assert!(
            second.iter().any(|p| p.trim_start_matches("./") == wh),
            "{wh} in {second:?}"
        );
    }
}

#[test]
fn a_directory_replaced_by_a_new_one_is_opaque() {
    let b = Bench::new();
    b.dockerfile(
        r#"FROM busybox
RUN mkdir -p /dir/sub && echo a > /dir/a && echo b > /dir/sub/b
RUN rm -rf /dir && mkdir /dir && echo new > /dir/only
"#,
    );
    b.build("opaque", &[]);
    let root = b.unpack("opaque");
    assert_eq!(names(&root, "dir"), BTreeSet::from(["only".to_string()]));
    assert_eq!(read(&root, "dir/only"), "new\n");
    let layers = b.layer_entries("opaque");
    assert!(
        layers[2].iter().any(|p| p.ends_with("dir/.wh..wh..opq")),
        "{:?}",
        layers[2]
    );
}

#[test]
fn hard_links_modes_owners_and_odd_names_survive() {
    let long = "L".repeat(200);
    // 12 levels of 24-char names plus a leaf: well past tar's 100- and 155-byte fields.
    let seg = "nested-directory-level-x";
    let deep: String = (0..12).map(|i| format!("{seg}{i:02}/")).collect::<String>() + "leaf";
    assert!(deep.len() > 300);
    let b = Bench::new();
    b.dockerfile(&format!(
        r#"FROM busybox
RUN echo data > /a && ln /a /b && ln /bin/busybox /bin/bb2
RUN echo s > /suid && chmod 4755 /suid && echo g > /sgid && chmod 2755 /sgid && mkdir /sgdir && chmod 2775 /sgdir
RUN echo o > /owned && chown 1234:5678 /owned && mkdir /odir && chown 42:43 /odir
RUN echo long > /{long} && mkdir -p /$(dirname {deep}) && echo deep > /{deep}
RUN mkdir /names && echo e > /names/é && echo j > /names/日本 && echo r > /names/🚀
RUN cmp /bin/bb2 /bin/busybox && stat -c %h /bin/busybox > /bb2-out
"#
    ));
    b.build("odd", &[]);
    let root = b.unpack("odd");

    let (a, bm) = (
        fs::metadata(root.join("a")).unwrap(),
        fs::metadata(root.join("b")).unwrap(),
    );
    assert_eq!(a.ino(), bm.ino(), "a and b are one file");
    assert_eq!(a.nlink(), 2);
    assert_eq!(read(&root, "b"), "data\n");
    assert_eq!(
        fs::read(root.join("bin/bb2")).unwrap(),
        fs::read(root.join("bin/busybox")).unwrap()
    );
    assert_eq!(
        fs::metadata(root.join("bin/bb2")).unwrap().ino(),
        fs::metadata(root.join("bin/busybox")).unwrap().ino(),
        "bb2 links to the base layer's busybox"
    );
    assert_eq!(
        read(&root, "bb2-out"),
        "2\n",
        "the RUN after sees one file, twice linked"
    );

    let mode = |p: &str| fs::metadata(root.join(p)).unwrap().permissions().mode() & 0o7777;
    assert_eq!(mode("suid"), 0o4755);
    assert_eq!(mode("sgid"), 0o2755);
    assert_eq!(mode("sgdir"), 0o2775);
    let owned = fs::metadata(root.join("owned")).unwrap();
    assert_eq!((owned.uid(), owned.gid()), (1234, 5678));
    let odir = fs::metadata(root.join("odir")).unwrap();
    assert_eq!((odir.uid(), odir.gid()), (42, 43));

    assert_eq!(read(&root, &long), "long\n");
    assert_eq!(read(&root, &deep), "deep\n");
    assert_eq!(
        names(&root, "names"),
        ["é", "日本", "🚀"].iter().map(|s| s.to_string()).collect()
    );
    assert_eq!(read(&root, "names/日本"), "j\n");
}

#[test]
fn user_workdir_env_and_shell_take_effect_in_run() {
    let b = Bench::new();
    b.dockerfile(
        r#"FROM busybox
RUN echo "app:x:4321:4322::/home/app:/bin/sh" >> /etc/passwd && mkdir /out && chmod 777 /out
USER 1234:5678
RUN id -u > /out/numeric-uid && id -g > /out/numeric-gid
USER app
RUN id -u > /out/named-uid && id -g > /out/named-gid
USER root
WORKDIR /not/there/yet
RUN pwd > /out/pwd
ENV GREETING="hello there" EMPTY=
RUN echo "$GREETING|${EMPTY-unset}" > /out/env
SHELL ["/bin/sh", "-xc"]
RUN echo traced-$((20+1)) > /out/shell
"#,
    );
    let (_, log) = b.build_logged("who", &[]);
    let root = b.unpack("who");
    assert_eq!(read(&root, "out/numeric-uid"), "1234\n");
    assert_eq!(read(&root, "out/numeric-gid"), "5678\n");
    assert_eq!(read(&root, "out/named-uid"), "4321\n");
    assert_eq!(read(&root, "out/named-gid"), "4322\n");
    let f = fs::metadata(root.join("out/named-uid")).unwrap();
    assert_eq!(
        (f.uid(), f.gid()),
        (4321, 4322),
        "files the user makes are its"
    );
    assert_eq!(read(&root, "out/pwd"), "/not/there/yet\n");
    assert!(fs::metadata(root.join("not/there/yet")).unwrap().is_dir());
    assert_eq!(read(&root, "out/env"), "hello there|\n");
    assert_eq!(read(&root, "out/shell"), "traced-21\n");
    // sh -x traces the expanded command on stderr, which the progress output shows.
    assert!(log.contains("+ echo traced-21"), "{log}");
}

/// PIDs whose command line is exactly `argv`.
fn processes(argv: &[&str]) -> Vec<String> {
    let want: Vec<u8> = argv
        .iter()
        .flat_map(|a| [a.as_bytes(), b"\0"].concat())
        .collect();
    fs::read_dir("/proc")
        .unwrap()
        .filter_map(Result::ok)
        .filter(|e| {
            e.file_name()
                .to_string_lossy()
                .bytes()
                .all(|c| c.is_ascii_digit())
        })
        .filter(|e| fs::read(e.path().join("cmdline")).is_ok_and(|c| c == want))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect()
}

#[test]
fn a_background_process_does_not_outlive_its_run() {
    let b = Bench::new();
    // An odd duration, so no other process on the machine matches.
    b.dockerfile(
        "FROM busybox\nRUN (sleep 29.731 &) ; sleep 0.1; ps -o args | grep -x 'sleep 29.731' && echo started\n",
    );
    let t = Instant::now();
    let (_, log) = b.build_logged("bg", &[]);
    let took = t.elapsed();
    assert!(log.contains("started"), "the sleep ran in the RUN: {log}");
    assert!(took < Duration::from_secs(15), "build took {took:?}");
    // The pid namespace's processes die with its init; allow the kernel a moment to reap.
    let deadline = Instant::now() + Duration::from_secs(3);
    loop {
        let left = processes(&["sleep", "29.731"]);
        if left.is_empty() {
            break;
        }
        assert!(Instant::now() < deadline, "still running: {left:?}");
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Interface names from `ip link` output (`1: lo: <…>`).
fn links(out: &str) -> BTreeSet<String> {
    out.lines()
        .filter(|l| l.starts_with(|c: char| c.is_ascii_digit()))
        .filter_map(|l| l.split(": ").nth(1))
        .map(|n| n.split('@').next().unwrap().to_string())
        .collect()
}

#[test]
fn network_none_has_only_loopback_and_default_has_slirp() {
    let b = Bench::new();
    b.dockerfile(
        r#"FROM busybox
RUN mkdir /out
RUN --network=none ip link > /out/none-links && cat /etc/resolv.conf > /out/none-resolv
RUN ip link > /out/default-links && ip route > /out/default-route && cat /etc/resolv.conf > /out/default-resolv
"#,
    );
    b.build("net", &[]);
    let root = b.unpack("net");
    let none = read(&root, "out/none-links");
    assert_eq!(links(&none), BTreeSet::from(["lo".to_string()]), "{none}");
    assert!(none.contains("UP"), "lo is up: {none}");
    let default = read(&root, "out/default-links");
    let names = links(&default);
    assert!(
        names.contains("lo") && names.contains("tap0"),
        "slirp4netns's tap0: {default}"
    );
    assert!(
        read(&root, "out/default-route").contains("default via 10.0.2.2"),
        "{}",
        read(&root, "out/default-route")
    );
    assert_eq!(read(&root, "out/default-resolv"), "nameserver 10.0.2.3\n");
}

#[test]
fn run_steps_cannot_reach_the_host_loopback() {
    // Bound only to the host's 127.0.0.1; slirp4netns used to expose it as 10.0.2.2.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    listener.set_nonblocking(true).unwrap();
    let port = listener.local_addr().unwrap().port();
    let b = Bench::new();
    b.dockerfile(&format!(
        "FROM busybox\nRUN if nc -w 2 10.0.2.2 {port} </dev/null; then echo reached; else echo refused; fi > /probe\n"
    ));
    b.build("probe", &["--no-cache"]);
    let root = b.unpack("probe");
    assert_eq!(read(&root, "probe"), "refused\n");
    assert!(
        listener.accept().is_err(),
        "a RUN step reached the host's loopback"
    );
}

#[test]
fn runs_that_change_nothing_add_no_layer() {
    let b = Bench::new();
    let base_mode = fs::metadata(b.s.scratch("busybox-rootfs").join("bin/busybox"))
        .unwrap()
        .permissions()
        .mode()
        & 0o7777;
    b.dockerfile(&format!(
        r#"FROM busybox
RUN true
RUN chmod {base_mode:o} /bin/busybox && cat /etc/passwd > /dev/null
RUN echo changed > /changed
"#
    ));
    b.build("nochange", &[]);
    let cfg = b.config("nochange");
    let hist = our_history(&cfg);
    assert_eq!(hist.len(), 3, "{hist:?}");
    assert!(hist[0].0.contains("-c true") && hist[0].1, "{hist:?}");
    assert!(hist[1].0.contains("chmod") && hist[1].1, "{hist:?}");
    assert!(hist[2].0.contains("changed") && !hist[2].1, "{hist:?}");
    assert_eq!(cfg["rootfs"]["diff_ids"].as_array().unwrap().len(), 2);
    let layers = b.layer_entries("nochange");
    let last: Vec<&str> = layers[1]
        .iter()
        .map(|p| p.trim_start_matches("./").trim_end_matches('/'))
        .filter(|p| !p.is_empty())
        .collect();
    assert_eq!(last, vec!["changed"], "only the new file: {last:?}");
}

#[test]
fn a_cached_run_is_not_executed_again() {
    let b = Bench::new();
    // The marker is computed by the shell, so it is in the output only if the RUN ran.
    b.dockerfile("FROM busybox\nRUN echo \"marker-$((6*7))-ran\" && echo x > /x\n");
    let (first, log1) = b.build_logged("cached", &[]);
    assert!(log1.contains("marker-42-ran"), "{log1}");
    let run = |m: &Value| {
        steps(m)
            .into_iter()
            .find(|(l, _)| l.contains("RUN"))
            .unwrap_or_else(|| panic!("{:?}", steps(m)))
    };
    assert!(!run(&first).1);
    let (second, log2) = b.build_logged("cached", &[]);
    assert!(run(&second).1, "{:?}", steps(&second));
    assert!(!log2.contains("marker-42-ran"), "{log2}");
}

#[test]
fn the_sandbox_has_proc_dev_tmp_hostname_and_hosts_which_stay_out_of_the_layer() {
    let b = Bench::new();
    b.files(&[("my-hosts", "10.9.8.7\tmine\n")]);
    b.dockerfile(
        r#"FROM busybox AS plain
RUN mkdir /out && chmod 777 /out && cat /proc/self/status | grep -c '^Pid:' > /out/proc && \
    test -c /dev/null && echo gone > /dev/null && \
    head -c 32 /dev/urandom | wc -c > /out/urandom && \
    hostname > /out/hostname && cat /etc/hosts > /out/hosts && echo extra >> /etc/hosts
USER nobody
RUN echo by-nobody > /tmp/w && cat /tmp/w > /out/tmp

FROM busybox AS own-hosts
COPY my-hosts /etc/hosts
RUN cat /etc/hosts > /seen
"#,
    );
    b.build("sandbox", &["--target", "plain"]);
    let root = b.unpack("sandbox");
    assert_eq!(read(&root, "out/proc"), "1\n");
    assert_eq!(read(&root, "out/urandom").trim(), "32");
    assert_eq!(read(&root, "out/hostname"), "buildkitsandbox\n");
    let hosts = read(&root, "out/hosts");
    assert!(
        hosts.contains("127.0.0.1") && hosts.contains("buildkitsandbox"),
        "{hosts}"
    );
    assert_eq!(read(&root, "out/tmp"), "by-nobody\n");
    assert_eq!(read(&root, "tmp/w"), "by-nobody\n", "/tmp is the image's");
    for p in [
        "etc/hosts",
        "etc/resolv.conf",
        "etc/hostname",
        "proc",
        "sys",
        "dev",
    ] {
        assert!(
            root.join(p).symlink_metadata().is_err(),
            "{p} leaked into the image"
        );
    }
    for layer in b.layer_entries("sandbox") {
        assert!(
            !layer
                .iter()
                .any(|p| p.contains("etc/hosts") || p.contains("resolv")),
            "{layer:?}"
        );
    }

    // An image's own /etc/hosts is shadowed while RUN runs and kept as it was.
    b.build("own-hosts", &["--target", "own-hosts"]);
    let root = b.unpack("own-hosts");
    assert_eq!(read(&root, "etc/hosts"), "10.9.8.7\tmine\n");
    assert!(read(&root, "seen").contains("buildkitsandbox"));
}
