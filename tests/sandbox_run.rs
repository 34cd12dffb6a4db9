//! The sandbox, for real (as root): what the command sees and what it leaves behind.

mod sandbox_common;

use std::path::PathBuf;

use sandbox_common::fixture;
use strata::sandbox::{ExitStatus, Mount, RootFs, SandboxError};

#[test]
fn exit_codes_and_signals_propagate() {
    let fx = fixture();
    assert_eq!(fx.run(&fx.spec("exit 7")).status, ExitStatus::Exited(7));
    assert_eq!(fx.run(&fx.spec("true")).status, ExitStatus::Exited(0));
    assert_eq!(
        fx.run(&fx.spec("kill -9 $$")).status,
        ExitStatus::Signaled(9)
    );
    assert_eq!(
        fx.run(&fx.spec("kill -TERM $$")).status,
        ExitStatus::Signaled(15)
    );
}

#[test]
fn env_cwd_and_stdout() {
    let fx = fixture();
    let mut spec = fx.spec("echo \"$FOO\"; pwd; echo \"$HOME\"; ls -ld /work/sub | cut -c1");
    spec.env.push("FOO=bar baz".into());
    spec.cwd = PathBuf::from("/work/sub");
    fx.run(&spec);
    assert_eq!(
        fx.stdout(),
        "bar baz\n/work/sub\n/root\nd\n",
        "{}",
        fx.stderr()
    );
}

#[test]
fn user_by_name_and_by_number() {
    let fx = fixture();
    let mut spec = fx.spec("id; echo $HOME");
    spec.user = "app".into();
    fx.run(&spec);
    assert_eq!(
        fx.stdout(),
        // busybox id prints getgroups() as is: Docker sets only the groups listing the user.
        "uid=1000(app) gid=1000(app) groups=2000(extra)\n/home/app\n",
        "{}",
        fx.stderr()
    );
    spec.user = "4242".into();
    fx.run(&spec);
    assert_eq!(fx.stdout(), "uid=4242 gid=0(root)\n/\n");
    spec.user = "app:extra".into();
    spec.argv[2] = "id -u; id -g; id -G".into();
    fx.run(&spec);
    assert_eq!(fx.stdout(), "1000\n2000\n2000\n");
    spec.user = "nobody-here".into();
    match fx.try_run(&spec) {
        Err(SandboxError::Setup { step, .. }) => assert_eq!(step, "user"),
        other => panic!("expected a user error, got {other:?}"),
    }
}

#[test]
fn hostname_and_etc_files() {
    let fx = fixture();
    let mut spec = fx.spec("hostname; cat /etc/hostname; grep -c 'localhost box1' /etc/hosts; test -f /etc/resolv.conf && echo resolv");
    spec.hostname = "box1".into();
    let out = fx.run(&spec);
    assert_eq!(fx.stdout(), "box1\nbox1\n1\nresolv\n", "{}", fx.stderr());
    // The image had no such files: their mountpoints were created, reported and removed again.
    let created: Vec<PathBuf> = ["/etc/hosts", "/etc/resolv.conf", "/etc/hostname"]
        .iter()
        .map(PathBuf::from)
        .collect();
    assert_eq!(out.created_mountpoints, created);
    for f in ["hosts", "resolv.conf", "hostname"] {
        assert!(
            !fx.upper.join("etc").join(f).exists(),
            "{f} left in the upperdir"
        );
        assert!(!fx.lower.join("etc").join(f).exists());
    }
}

#[test]
fn proc_dev_and_readonly_sys() {
    let fx = fixture();
    let script = "echo $$; \
        echo x > /dev/null && echo null-ok; \
        head -c 16 /dev/urandom | wc -c; \
        test -c /dev/pts/ptmx && test -e /dev/ptmx && echo pts-ok; \
        ls /proc/1/status >/dev/null && echo proc-ok; \
        touch /sys/x 2>/dev/null || echo sys-ro; \
        grep ' /sys ' /proc/self/mounts | grep -c ' ro,'; \
        ls /dev/shm >/dev/null && echo shm-ok; \
        awk '$5 == \"/proc/sys\" {print $6}' /proc/self/mountinfo | cut -d, -f1; \
        echo x > /proc/sys/kernel/domainname 2>/dev/null || echo procsys-ro; \
        awk '$5 == \"/proc/keys\"' /proc/self/mountinfo | wc -l; \
        wc -c < /proc/keys";
    fx.run(&fx.spec(script));
    assert_eq!(
        fx.stdout(),
        "2\nnull-ok\n16\npts-ok\nproc-ok\nsys-ro\n1\nshm-ok\nro\nprocsys-ro\n1\n0\n",
        "{}",
        fx.stderr()
    );
}

#[test]
fn writes_land_in_the_upperdir_only() {
    let fx = fixture();
    fx.run(&fx.spec("echo hi > /tmp/new; rm /bin/true; mkdir -p /opt/x"));
    assert_eq!(
        std::fs::read_to_string(fx.upper.join("tmp/new")).unwrap(),
        "hi\n"
    );
    assert!(fx.upper.join("opt/x").is_dir());
    assert!(!fx.lower.join("tmp/new").exists());
    assert!(std::fs::symlink_metadata(fx.lower.join("bin/true")).is_ok());
    // The removal is a whiteout (a 0/0 character device) in the upperdir.
    let wh = std::fs::symlink_metadata(fx.upper.join("bin/true")).unwrap();
    use std::os::unix::fs::FileTypeExt;
    assert!(wh.file_type().is_char_device());
}

#[test]
fn extra_mounts_and_readonly_root() {
    let fx = fixture();
    let ro = fx.path("ro-src");
    let rw = fx.path("rw-src");
    std::fs::create_dir_all(&ro).unwrap();
    std::fs::create_dir_all(&rw).unwrap();
    std::fs::write(ro.join("in"), "from host\n").unwrap();
    let mut spec = fx.spec(
        "cat /src/in; touch /src/no 2>/dev/null || echo src-ro; \
         echo out > /out/file; \
         echo t > /scratch/t && echo tmpfs-ok; \
         touch /rootfile 2>/dev/null || echo root-ro",
    );
    spec.readonly_root = true;
    spec.mounts = vec![
        Mount::Bind {
            source: ro,
            target: "/src".into(),
            readonly: true,
        },
        Mount::Bind {
            source: rw.clone(),
            target: "/out".into(),
            readonly: false,
        },
        Mount::Tmpfs {
            target: "/scratch".into(),
            size_bytes: Some(1 << 20),
        },
    ];
    let out = fx.run(&spec);
    assert_eq!(
        fx.stdout(),
        "from host\nsrc-ro\ntmpfs-ok\nroot-ro\n",
        "{}",
        fx.stderr()
    );
    assert_eq!(std::fs::read_to_string(rw.join("file")).unwrap(), "out\n");
    assert!(out.created_mountpoints.contains(&PathBuf::from("/scratch")));
    assert!(!fx.upper.join("scratch").exists());
    assert!(!fx.upper.join("src").exists());
}

#[test]
fn plain_directory_root() {
    let fx = fixture();
    let mut spec = fx.spec("echo dir > /tmp/f; cat /tmp/f");
    spec.rootfs = RootFs::Dir(fx.lower.clone());
    fx.run(&spec);
    assert_eq!(fx.stdout(), "dir\n");
    assert!(fx.lower.join("tmp/f").exists());
    assert!(
        !fx.lower.join("etc/hosts").exists(),
        "mountpoint left in the root dir"
    );
}

#[test]
fn missing_executable_is_an_error() {
    let fx = fixture();
    let mut spec = fx.spec("");
    spec.argv = vec!["no-such-cmd".into()];
    match fx.try_run(&spec) {
        Err(SandboxError::Exec { argv0, detail }) => {
            assert_eq!(argv0, "no-such-cmd");
            assert!(detail.contains("not found"), "{detail}");
        }
        other => panic!("expected an exec error, got {other:?}"),
    }
    // A setup step failing (a bind source that does not exist) names the step.
    let mut bad = fx.spec("true");
    bad.mounts = vec![Mount::Bind {
        source: "/nonexistent-strata-source".into(),
        target: "/x".into(),
        readonly: true,
    }];
    match fx.try_run(&bad) {
        Err(SandboxError::Setup { step, detail }) => {
            assert_eq!(step, "mount");
            assert!(detail.contains("/nonexistent-strata-source"), "{detail}");
        }
        other => panic!("expected a setup error, got {other:?}"),
    }
    // Found through PATH, without a slash.
    spec.argv = vec!["echo".into(), "via-path".into()];
    fx.run(&spec);
    assert_eq!(fx.stdout(), "via-path\n");
}

#[test]
fn many_layers() {
    // 70 layers with long names overflow mount(2)'s one page unless relative; 200 need the
    // new mount API. Every layer must be visible.
    let fx = fixture();
    for n in [70usize, 200] {
        let base = fx.path(&format!("layers{n}"));
        let mut lowers = Vec::new();
        for i in 0..n {
            let l = base.join(format!("{i:064x}"));
            std::fs::create_dir_all(l.join("layers")).unwrap();
            std::fs::write(l.join("layers").join(i.to_string()), "").unwrap();
            lowers.push(l);
        }
        lowers.reverse();
        lowers.push(fx.lower.clone());
        let upper = base.join("upper");
        let work = base.join("work");
        std::fs::create_dir_all(&upper).unwrap();
        std::fs::create_dir_all(&work).unwrap();
        let mut spec = fx.spec("ls /layers | wc -l");
        spec.rootfs = RootFs::Overlay {
            lowerdirs: lowers,
            upperdir: upper,
            workdir: work,
        };
        fx.run(&spec);
        assert_eq!(fx.stdout().trim(), n.to_string(), "{}", fx.stderr());
    }
}

#[test]
fn a_run_is_fast() {
    // Guard against a regression to seconds per step (e.g. a timeout on some exit path).
    let fx = fixture();
    let spec = fx.spec("true");
    let start = std::time::Instant::now();
    for _ in 0..10 {
        fx.run(&spec);
    }
    let per_run = start.elapsed() / 10;
    eprintln!("sandbox run of `true`: {per_run:?}");
    assert!(
        per_run < std::time::Duration::from_millis(500),
        "{per_run:?}"
    );
}

#[test]
fn stdin_from_a_file_stdout_to_a_pipe() {
    use std::io::Read;
    use std::os::fd::AsRawFd;
    let fx = fixture();
    let input = fx.path("input");
    std::fs::write(&input, "line one\nline two\n").unwrap();
    let (r, w) = nix::unistd::pipe2(nix::fcntl::OFlag::O_CLOEXEC).unwrap();
    let mut spec = fx.spec("wc -l; echo to-stderr >&2");
    spec.stdin = strata::sandbox::Stdio::File(input);
    spec.stdout = strata::sandbox::Stdio::Fd(w.as_raw_fd());
    fx.run(&spec);
    drop(w);
    let mut out = String::new();
    std::fs::File::from(r).read_to_string(&mut out).unwrap();
    assert_eq!(out.trim(), "2");
    assert_eq!(fx.stderr(), "to-stderr\n");
}
