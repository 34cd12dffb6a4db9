//! The sandbox is as strict as Docker's default: a probe (tests/security_support/probe.c, built
//! static here) tries each way out from inside `run`, `exec` and a RUN step and must see every
//! one refused: namespaces, mount, keyrings, device nodes, capabilities, seccomp, the caller's
//! terminal and descriptors, the host's loopback. Flags that widen the sandbox
//! (`--cap-add`, `--privileged`, `--security-opt`, `--device`) widen exactly what they say.
//! Needs root (CI runs as root).

mod common;

use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use common::Strata;

/// Docker's 14 default capabilities as a mask.
const DOCKER_CAPS: u64 = 0xa80425fb;

/// Every capability this test process has (`--privileged` gives those).
fn all_we_have() -> u64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap();
    let v = status
        .lines()
        .find_map(|l| l.strip_prefix("CapBnd:"))
        .unwrap()
        .trim();
    u64::from_str_radix(v, 16).unwrap()
}

fn setup() -> (Strata, PathBuf) {
    let s = Strata::new();
    s.import_busybox("busybox");
    let dir = s.scratch("probe");
    let probe = dir.join("probe");
    let src = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/security_support/probe.c");
    let out = Command::new("gcc")
        .args(["-static", "-O1", "-o"])
        .arg(&probe)
        .arg(&src)
        .output()
        .expect("gcc (the probe is built static with gcc and libc6-dev)");
    assert!(
        out.status.success(),
        "building the probe: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    (s, probe)
}

/// Asserts the probe's report names every check and shows no escape.
fn assert_contained(report: &str, extra_dirs: &[&str]) {
    let mut names = vec![
        "fds",
        "unshare-user",
        "unshare-mount",
        "clone-newns",
        "mount",
        "setns",
        "personality",
        "keyctl",
        "add_key",
        "request_key",
        "proc-keys",
        "caps",
        "seccomp",
        "tiocsti",
    ];
    let dev_lines: Vec<String> = ["/", "/tmp", "/dev", "/dev/shm"]
        .iter()
        .chain(extra_dirs)
        .flat_map(|d| {
            ["loop0", "loop-control", "kvm", "hwrng", "mem"].map(|n| format!("device {n} in {d}"))
        })
        .collect();
    names.extend(dev_lines.iter().map(String::as_str));
    for name in names {
        assert!(
            report.lines().any(|l| l == format!("{name}: ok")),
            "check {name:?} did not report ok:\n{report}"
        );
    }
    assert!(!report.contains("ESCAPE"), "{report}");
    assert!(report.contains("escapes: 0"), "{report}");
}

/// The command line of `strata args…` for a shell (under `script`, for a terminal).
fn line(s: &Strata, args: &[&str]) -> String {
    let c = s.command(args);
    std::iter::once(c.get_program())
        .chain(c.get_args())
        .map(|a| format!("'{}'", a.to_string_lossy()))
        .collect::<Vec<_>>()
        .join(" ")
}

/// Runs `strata args…` under `script`, so its stdin and stdout are a terminal, without `-t`.
fn under_terminal(s: &Strata, args: &[&str]) -> String {
    let mut cmd = Command::new("script");
    for (k, v) in s.command(&["version"]).get_envs() {
        if let Some(v) = v {
            cmd.env(k, v);
        }
    }
    let out = cmd
        .args(["-qec", &line(s, args), "/dev/null"])
        .stdin(Stdio::null())
        .output()
        .expect("script (bsdutils)");
    let text = String::from_utf8_lossy(&out.stdout).replace('\r', "");
    assert!(out.status.success(), "{args:?}: {text}");
    text
}

fn bind(probe: &Path) -> String {
    format!("{}:/probe:ro", probe.display())
}

#[test]
fn run_refuses_every_escape_the_probe_tries() {
    let (s, probe) = setup();
    s.ok(&["volume", "create", "vol"]);
    let hostdir = s.scratch("hostdir");
    let hostbind = format!("{}:/hostdir", hostdir.display());
    let report = under_terminal(
        &s,
        &[
            "run",
            "--rm",
            "-v",
            &bind(&probe),
            "-v",
            "vol:/vol",
            "-v",
            &hostbind,
            "--mount",
            "type=tmpfs,target=/scratch",
            "busybox",
            "/probe",
            "all",
            "0",
            "/vol",
            "/hostdir",
            "/scratch",
        ],
    );
    assert_contained(&report, &["/vol", "/hostdir", "/scratch"]);
    // The terminal was there to be abused: the TIOCSTI check saw it and was refused.
    assert!(!report.contains("terminals seen: 0"), "{report}");
}

#[test]
fn exec_refuses_every_escape_the_probe_tries() {
    let (s, probe) = setup();
    let id = s.ok(&["run", "-d", "-v", &bind(&probe), "busybox", "sleep", "300"]);
    let id = id.trim();
    let report = under_terminal(&s, &["exec", id, "/probe", "all", "0"]);
    s.ok(&["rm", "-f", id]);
    assert_contained(&report, &[]);
    assert!(!report.contains("terminals seen: 0"), "{report}");
}

#[test]
fn a_run_step_refuses_every_escape_and_cannot_reach_the_hosts_loopback() {
    let (s, probe) = setup();
    // Something for a RUN step to reach on the host's 127.0.0.1, if slirp4netns let it.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let ctx = s.scratch("ctx");
    std::fs::copy(&probe, ctx.join("probe")).unwrap();
    std::fs::write(
        ctx.join("Dockerfile"),
        format!(
            "FROM busybox\nCOPY probe /probe\n\
             RUN --mount=type=cache,target=/cache /probe all {port} /cache > /report; cat /report; ! grep -q ESCAPE /report\n"
        ),
    )
    .unwrap();
    let mut c = s.command(&[
        "build",
        "--progress",
        "plain",
        "-t",
        "probed",
        ctx.to_str().unwrap(),
    ]);
    c.stdin(Stdio::null());
    let out = s.run_cmd(c);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(out.status.success(), "{text}");
    let report: String = s.ok(&["run", "--rm", "probed", "cat", "/report"]);
    assert_contained(&report, &["/cache"]);
    assert!(report.contains("host-loopback: ok"), "{report}");
}

fn caps_of(report: &str, field: &str) -> u64 {
    let v = report
        .split_whitespace()
        .find_map(|w| w.strip_prefix(&format!("{field}=")))
        .unwrap_or_else(|| panic!("no {field} in {report}"));
    u64::from_str_radix(v, 16).unwrap()
}

#[test]
fn capability_flags_widen_and_narrow_exactly_and_inherited_ones_never_pass() {
    let (s, probe) = setup();
    let caps = |flags: &[&str]| {
        let b = bind(&probe);
        let mut args = vec!["run", "--rm", "-v", b.as_str()];
        args.extend(flags);
        args.extend(["busybox", "/probe", "caps"]);
        s.ok(&args)
    };
    let r = caps(&[]);
    assert_eq!(caps_of(&r, "CapEff"), DOCKER_CAPS, "{r}");
    assert_eq!(caps_of(&r, "CapBnd"), DOCKER_CAPS, "{r}");
    let r = caps(&["--cap-add", "SYS_ADMIN", "--cap-drop", "net_raw"]);
    assert_eq!(
        caps_of(&r, "CapEff"),
        (DOCKER_CAPS | 1 << 21) & !(1 << 13),
        "{r}"
    );
    let r = caps(&["--cap-drop", "ALL", "--cap-add", "CAP_CHOWN"]);
    assert_eq!(caps_of(&r, "CapEff"), 1, "{r}");
    assert_eq!(caps_of(&r, "CapBnd"), 1, "{r}");
    let r = caps(&["--privileged"]);
    assert_eq!(caps_of(&r, "CapEff"), all_we_have(), "{r}");
    // A non-root user ends with none.
    let r = caps(&["-u", "65534"]);
    assert_eq!(caps_of(&r, "CapEff"), 0, "{r}");

    // Capabilities the caller has as inheritable and ambient stay outside.
    let b = bind(&probe);
    let inner = s.command(&["run", "--rm", "-v", &b, "busybox", "/probe", "caps"]);
    let mut c = Command::new("setpriv");
    c.args([
        "--inh-caps",
        "+sys_admin,+sys_module",
        "--ambient-caps",
        "+sys_admin,+sys_module",
    ]);
    c.arg(inner.get_program()).args(inner.get_args());
    for (k, v) in inner.get_envs() {
        if let Some(v) = v {
            c.env(k, v);
        }
    }
    let out = c.output().expect("setpriv (util-linux)");
    let r = String::from_utf8_lossy(&out.stdout);
    assert!(
        out.status.success(),
        "{r}{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(caps_of(&r, "CapInh"), 0, "{r}");
    assert_eq!(caps_of(&r, "CapAmb"), 0, "{r}");
    assert_eq!(caps_of(&r, "CapEff"), DOCKER_CAPS, "{r}");

    let err = s.fails(&["run", "--rm", "--cap-add", "BOGUS", "busybox", "true"]);
    assert!(err.contains("unknown capability: \"BOGUS\""), "{err}");
}

#[test]
fn exec_privileged_and_exec_cap_flags_change_only_the_exec() {
    let (s, probe) = setup();
    let b = bind(&probe);
    let id = s.ok(&["run", "-d", "-v", &b, "busybox", "sleep", "300"]);
    let id = id.trim();
    let r = s.ok(&["exec", "--privileged", id, "/probe", "caps"]);
    assert_eq!(caps_of(&r, "CapEff"), all_we_have(), "{r}");
    let r = s.ok(&["exec", "--cap-drop", "ALL", id, "/probe", "caps"]);
    assert_eq!(caps_of(&r, "CapEff"), 0, "{r}");
    let r = s.ok(&["exec", id, "/probe", "caps"]);
    assert_eq!(caps_of(&r, "CapEff"), DOCKER_CAPS, "{r}");
    // The exec'd command is in the container's cgroups (its limits and devices rules).
    let r = s.ok(&["exec", id, "cat", "/proc/self/cgroup"]);
    assert!(r.contains(&format!("/strata/{id}")), "{r}");
    s.ok(&["rm", "-f", id]);
}

#[test]
fn every_sandbox_gets_a_session_keyring_of_its_own() {
    let (s, probe) = setup();
    let host = Command::new(&probe).arg("keyring-id").output().unwrap();
    let host = String::from_utf8_lossy(&host.stdout).trim().to_string();
    assert!(host.parse::<i64>().unwrap() > 0, "host keyring id {host}");
    let b = bind(&probe);
    let inside = |_: ()| {
        s.ok(&[
            "run",
            "--rm",
            "--security-opt",
            "seccomp=unconfined",
            "-v",
            &b,
            "busybox",
            "/probe",
            "keyring-id",
        ])
        .trim()
        .to_string()
    };
    let (a, b2) = (inside(()), inside(()));
    assert!(a.parse::<i64>().unwrap() > 0, "{a}");
    assert_ne!(a, host, "the container shares the caller's session keyring");
    assert_ne!(a, b2, "two containers share a session keyring");
    // With the default filter, keyctl itself is refused.
    let refused = s.ok(&["run", "--rm", "-v", &b, "busybox", "/probe", "keyring-id"]);
    assert_eq!(refused.trim(), "-1");
}

#[test]
fn security_opts_choose_the_filter_and_no_new_privileges() {
    let (s, probe) = setup();
    let b = bind(&probe);
    let status = |flags: &[&str]| {
        let mut args = vec!["run", "--rm", "-v", b.as_str()];
        args.extend(flags);
        args.extend([
            "busybox",
            "grep",
            "-E",
            "^(Seccomp|NoNewPrivs):",
            "/proc/self/status",
        ]);
        s.ok(&args)
    };
    let r = status(&[]);
    assert!(
        r.contains("Seccomp:\t2") && r.contains("NoNewPrivs:\t0"),
        "{r}"
    );
    let r = status(&["--security-opt", "seccomp=unconfined"]);
    assert!(r.contains("Seccomp:\t0"), "{r}");
    let r = status(&["--privileged"]);
    assert!(r.contains("Seccomp:\t0"), "{r}");
    let r = status(&["--security-opt", "no-new-privileges"]);
    assert!(r.contains("NoNewPrivs:\t1"), "{r}");

    // A profile in Docker's format: everything allowed but mkdir, which fails with EACCES.
    let profile = s.scratch("seccomp").join("profile.json");
    std::fs::write(
        &profile,
        r#"{"defaultAction":"SCMP_ACT_ALLOW","syscalls":[{"names":["mkdir","mkdirat"],"action":"SCMP_ACT_ERRNO","errnoRet":13}]}"#,
    )
    .unwrap();
    let opt = format!("seccomp={}", profile.display());
    let mut c = s.command(&[
        "run",
        "--rm",
        "--security-opt",
        &opt,
        "busybox",
        "mkdir",
        "/x",
    ]);
    c.stdin(Stdio::null());
    let out = s.run_cmd(c);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("Permission denied"), "{err}");

    std::fs::write(&profile, r#"{"defaultAction":"SCMP_ACT_NOPE"}"#).unwrap();
    let err = s.fails(&["run", "--rm", "--security-opt", &opt, "busybox", "true"]);
    assert!(
        err.contains("defaultAction") && err.contains(profile.to_str().unwrap()),
        "{err}"
    );
}

#[test]
fn device_flag_adds_exactly_that_node() {
    let s = Strata::new();
    s.import_busybox("busybox");
    let r = s.ok(&[
        "run",
        "--rm",
        "--device",
        "/dev/zero:/dev/probe-zero",
        "busybox",
        "sh",
        "-c",
        "head -c 3 /dev/probe-zero | wc -c; echo x > /dev/probe-zero && echo written",
    ]);
    assert_eq!(r, "3\nwritten\n");
    // The devices cgroup allows a node read-only when asked: opening it for reading works,
    // for writing is refused. (/dev/fuse is not among the nodes every sandbox gets.)
    let open_both = "exec 3</dev/f && echo read-ok; exec 4>/dev/f && echo write-ok";
    let r = s.ok(&[
        "run",
        "--rm",
        "--device",
        "/dev/fuse:/dev/f",
        "busybox",
        "sh",
        "-c",
        open_both,
    ]);
    assert_eq!(r, "read-ok\nwrite-ok\n");
    let failing_stdout = |flag: &str, value: &str| {
        let out =
            s.run_cmd(s.command(&["run", "--rm", flag, value, "busybox", "sh", "-c", open_both]));
        assert!(
            !out.status.success(),
            "{flag} {value} opened /dev/f for writing"
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    assert_eq!(
        failing_stdout("--device", "/dev/fuse:/dev/f:r"),
        "read-ok\n"
    );
    // A host node bound in as a volume does not open at all.
    assert_eq!(failing_stdout("-v", "/dev/fuse:/dev/f"), "");
    let err = s.fails(&[
        "run",
        "--rm",
        "--device",
        "/dev/nonexistent-x",
        "busybox",
        "true",
    ]);
    assert!(err.contains("/dev/nonexistent-x"), "{err}");
}
