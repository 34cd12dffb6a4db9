//! `strata run` in the foreground: exit codes (the command's, 126/127, 125 for strata's own
//! errors), stdin and output, config overrides, mounts, refused input leaving nothing behind,
//! `--rm`, and a SIGKILLed `strata run` leaving a manageable container.

mod common;
mod run_support;

use std::fs;
use std::time::Duration;

use run_support::Env;

#[test]
fn exit_codes_propagate() {
    let e = Env::new();
    e.code(
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "busybox",
            "sh",
            "-c",
            "exit 7",
        ],
        7,
    );
    e.code(&["run", "--rm", "--network", "none", "busybox", "true"], 0);
    let (_, err) = e.code(
        &["run", "--rm", "--network", "none", "busybox", "no-such-cmd"],
        127,
    );
    assert!(err.contains("not found"), "{err}");
    e.code(
        &["run", "--rm", "--network", "none", "busybox", "/no/such"],
        127,
    );
    // A file that exists but is not executable.
    let (_, err) = e.code(
        &["run", "--rm", "--network", "none", "busybox", "/etc/passwd"],
        126,
    );
    assert!(err.contains("permission denied"), "{err}");
    // Killed by a signal: 128 + N.
    e.code(
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "busybox",
            "sh",
            "-c",
            "kill -9 $$",
        ],
        137,
    );
    assert!(e.container_dirs().is_empty(), "{:?}", e.container_dirs());
}

#[test]
fn stdin_is_forwarded_and_output_captured() {
    let e = Env::new();
    let out = e.output(
        &[
            "run",
            "-i",
            "--rm",
            "--network",
            "none",
            "busybox",
            "sh",
            "-c",
            "tr a-z A-Z; echo err >&2",
        ],
        b"hello\nworld\n",
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(String::from_utf8_lossy(&out.stdout), "HELLO\nWORLD\n");
    assert_eq!(String::from_utf8_lossy(&out.stderr), "err\n");
    // Without -i the container's stdin is empty.
    let out = e.output(
        &["run", "--rm", "--network", "none", "busybox", "cat"],
        b"ignored",
    );
    assert_eq!(out.status.code(), Some(0));
    assert_eq!(out.stdout, b"");
}

#[test]
fn image_config_defaults_and_flag_overrides() {
    let e = Env::new();
    e.image_with(
        "conf",
        &[
            "ENV A=from-image B=keep",
            "WORKDIR /srv",
            "USER nobody",
            r#"ENTRYPOINT ["/bin/echo", "ep"]"#,
            r#"CMD ["default-cmd"]"#,
        ],
    );
    // Image defaults: entrypoint + cmd, workdir, user, env.
    let (out, _) = e.code(&["run", "--rm", "--network", "none", "conf"], 0);
    assert_eq!(out, "ep default-cmd\n");
    let (out, _) = e.code(&["run", "--rm", "--network", "none", "conf", "x", "y"], 0);
    assert_eq!(out, "ep x y\n");
    let script = "echo $A $B $C; pwd; id -u; echo $HOSTNAME";
    let (out, _) = e.code(
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "--entrypoint",
            "/bin/sh",
            "conf",
            "-c",
            script,
        ],
        0,
    );
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines[..3], ["from-image keep", "/srv", "65534"], "{out}");
    assert_eq!(
        lines[3].len(),
        12,
        "default hostname is the short id: {out}"
    );
    // Flags override.
    let envfile = e.s.scratch("envs").join("env");
    fs::write(&envfile, "# comment\nC=from-file\nA=from-file\n").unwrap();
    let (out, _) = e.code(
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "--env-file",
            envfile.to_str().unwrap(),
            "-e",
            "A=from-flag",
            "-w",
            "/tmp/new",
            "-u",
            "0",
            "--hostname",
            "box",
            "--entrypoint",
            "/bin/sh",
            "conf",
            "-c",
            script,
        ],
        0,
    );
    assert_eq!(out, "from-flag keep from-file\n/tmp/new\n0\nbox\n");
}

#[test]
fn bind_and_tmpfs_mounts() {
    let e = Env::new();
    let host = e.s.scratch("hostdir");
    fs::write(host.join("in.txt"), "from host").unwrap();
    let rw = e.s.scratch("rwdir");
    let ro_spec = format!("{}:/data:ro", host.display());
    let rw_spec = format!("type=bind,source={},target=/out", rw.display());
    let (out, _) = e.code(
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "-v",
            &ro_spec,
            "--mount",
            &rw_spec,
            "--mount",
            "type=tmpfs,target=/scratch",
            "busybox",
            "sh",
            "-c",
            "cat /data/in.txt; echo; touch /data/x 2>/dev/null && echo writable; \
             echo written > /out/o.txt; grep -c ' /scratch tmpfs ' /proc/mounts",
        ],
        0,
    );
    assert_eq!(out, "from host\n1\n");
    assert_eq!(fs::read_to_string(rw.join("o.txt")).unwrap(), "written\n");
    assert!(!host.join("x").exists());
}

#[test]
fn refused_input_exits_125_and_leaves_nothing() {
    let e = Env::new();
    e.code(
        &[
            "run",
            "--name",
            "taken",
            "--network",
            "none",
            "busybox",
            "true",
        ],
        0,
    );
    assert_eq!(e.container_dirs().len(), 1);
    let missing = e.s.scratch("x").join("missing");
    let missing_spec = format!("{}:/m", missing.display());
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec!["run", "--name", "taken", "busybox", "true"],
            "already in use",
        ),
        (
            vec!["run", "-v", &missing_spec, "busybox", "true"],
            "does not exist",
        ),
        (
            vec!["run", "--mount", "type=bind,target=/x", "busybox", "true"],
            "source is required",
        ),
        (
            vec![
                "run",
                "--mount",
                "type=nfs,src=/a,dst=/x",
                "busybox",
                "true",
            ],
            "unknown mount type",
        ),
        (
            vec!["run", "-v", "/a:relative", "busybox", "true"],
            "absolute",
        ),
        (
            vec!["run", "-w", "relative", "busybox", "true"],
            "absolute path",
        ),
        (
            vec!["run", "--name", "bad/name", "busybox", "true"],
            "invalid container name",
        ),
        (
            vec!["run", "--network", "bogus", "busybox", "true"],
            "network bogus not found",
        ),
        (
            vec!["run", "127.0.0.1:1/no/such:image", "true"],
            "127.0.0.1:1",
        ),
    ];
    for (args, want) in cases {
        let (_, err) = e.code(&args, 125);
        assert!(err.contains(want), "{args:?}: {err}");
    }
    assert_eq!(
        e.container_dirs().len(),
        1,
        "only the first container exists"
    );
    assert!(e.store_mounts().is_empty());
}

#[test]
fn rm_flag_leaves_nothing_behind() {
    let e = Env::new();
    let (out, _) = e.code(
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "busybox",
            "sh",
            "-c",
            "echo data > /f; grep -c overlay /proc/mounts",
        ],
        0,
    );
    assert_eq!(out.trim(), "1");
    assert!(e.container_dirs().is_empty(), "{:?}", e.container_dirs());
    assert!(e.store_mounts().is_empty(), "{:?}", e.store_mounts());
    // Without --rm the container and its upperdir stay.
    e.code(
        &[
            "run",
            "--name",
            "kept",
            "--network",
            "none",
            "busybox",
            "sh",
            "-c",
            "echo data > /f",
        ],
        0,
    );
    let dirs = e.container_dirs();
    assert_eq!(dirs.len(), 1);
    let upper = e.containers_dir().join(&dirs[0]).join("upper/f");
    assert_eq!(fs::read_to_string(upper).unwrap(), "data\n");
    assert_eq!(e.state_of("kept"), Some(("exited".into(), Some(0))));
    e.s.ok(&["rm", "kept"]);
    assert!(e.container_dirs().is_empty());
}

#[test]
fn a_killed_foreground_run_leaves_a_manageable_container() {
    let e = Env::new();
    let mut child =
        e.s.command(&[
            "run",
            "--name",
            "fg",
            "--network",
            "none",
            "busybox",
            "sleep",
            "60",
        ])
        .spawn()
        .unwrap();
    e.eventually(10, "fg running", || {
        e.state_of("fg").is_some_and(|(s, _)| s == "running")
    });
    child.kill().unwrap();
    child.wait().unwrap();
    // The sandbox dies with its owner; ps must not claim it still runs.
    e.eventually(5, "fg not running", || {
        e.state_of("fg").is_some_and(|(s, _)| s == "exited")
    });
    assert_eq!(e.state_of("fg"), Some(("exited".into(), Some(137))));
    e.s.ok(&["stop", "fg"]);
    // And it can run again.
    e.code(&["start", "fg"], 0);
    e.eventually(10, "fg running again", || {
        e.state_of("fg").is_some_and(|(s, _)| s == "running")
    });
    e.s.ok(&["rm", "-f", "fg"]);
    assert!(e.container_dirs().is_empty());
    assert!(e.store_mounts().is_empty());
    std::thread::sleep(Duration::from_millis(10));
}

#[test]
fn tty_and_read_only_root() {
    let e = Env::new();
    // -t: the command's streams are a terminal (output through the pty: CRLF line ends).
    let (out, _) = e.code(
        &[
            "run",
            "-t",
            "--rm",
            "--network",
            "none",
            "busybox",
            "sh",
            "-c",
            "test -t 0 && test -t 1 && echo on-a-tty; echo $TERM",
        ],
        0,
    );
    assert_eq!(out, "on-a-tty\r\nxterm\r\n");
    // The terminal is the container's own: /dev/pts/0 of its devpts, as Docker gives it.
    let (out, _) = e.code(
        &[
            "run",
            "-t",
            "--rm",
            "--network",
            "none",
            "busybox",
            "sh",
            "-c",
            "tty; ls -1 /dev/pts",
        ],
        0,
    );
    assert_eq!(out, "/dev/pts/0\r\n0\r\nptmx\r\n");
    // -it with a stdin that is not a terminal fails at once, creating nothing.
    let before = e.container_dirs().len();
    let out = e.output(&["run", "-it", "--rm", "busybox", "cat"], b"x\n");
    assert_eq!(out.status.code(), Some(1));
    assert_eq!(
        String::from_utf8_lossy(&out.stderr),
        "the input device is not a TTY\n"
    );
    assert_eq!(e.container_dirs().len(), before);
    let (out, _) = e.code(
        &[
            "run",
            "--rm",
            "--network",
            "none",
            "busybox",
            "sh",
            "-c",
            "test -t 1 || echo no-tty",
        ],
        0,
    );
    assert_eq!(out, "no-tty\n");
    // --read-only: the root refuses writes, mounts still work.
    let (out, _) = e.code(
        &[
            "run",
            "--rm",
            "--read-only",
            "--network",
            "none",
            "--mount",
            "type=tmpfs,dst=/w",
            "busybox",
            "sh",
            "-c",
            "touch /x 2>/dev/null || echo ro; touch /w/y && echo tmpfs-ok",
        ],
        0,
    );
    assert_eq!(out, "ro\ntmpfs-ok\n");
}
