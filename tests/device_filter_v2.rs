//! On cgroup v2 a container's devices are restricted by an eBPF program attached to its
//! cgroup, as runc does where v1's devices controller does not exist. These machines run v1
//! hybrid with a v2 hierarchy at `/sys/fs/cgroup/unified`; the kernel runs a cgroup's device
//! program besides v1's controller, so the program is checked here for real in two ways:
//! attached to a fresh v2 cgroup that a host process joins, and through `strata run` in a
//! mount namespace whose only cgroup mount is the v2 one (what strata sees on a pure v2
//! host). Needs root.

mod common;

use std::os::unix::process::CommandExt;
use std::path::PathBuf;
use std::process::Command;

use common::{Strata, STRATA};
use strata::sandbox::security::Security;

/// Where the v2 hierarchy is mounted, from this process's mountinfo.
fn unified_root() -> PathBuf {
    let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
    text.lines()
        .find_map(|line| {
            let (left, right) = line.split_once(" - ")?;
            (right.split_whitespace().next()? == "cgroup2")
                .then(|| PathBuf::from(left.split_whitespace().nth(4).unwrap()))
        })
        .expect("a cgroup2 hierarchy is mounted (/sys/fs/cgroup/unified on v1 hybrid hosts)")
}

/// `sh -c script` run in the v2 cgroup `dir` (joined before exec); (exit code, stderr).
fn sh_in(dir: Option<&PathBuf>, script: &str) -> (i32, String) {
    let mut cmd = Command::new("sh");
    cmd.args(["-c", script]);
    if let Some(dir) = dir {
        let procs = dir.join("cgroup.procs");
        // SAFETY: only a write(2) of "0" (the caller) between fork and exec.
        unsafe {
            cmd.pre_exec(move || std::fs::write(&procs, "0"));
        }
    }
    let out = cmd.output().unwrap();
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// Open /dev/null, then /dev/kmsg (1:11, not in Docker's list) for reading.
const PROBE: &str = ": < /dev/null && : < /dev/kmsg";

#[test]
fn the_program_allows_dockers_list_and_refuses_the_rest_in_a_v2_cgroup() {
    let dir = unified_root().join(format!("strata-test-devfilter-{}", std::process::id()));
    std::fs::create_dir(&dir).unwrap();
    let result = std::panic::catch_unwind(|| {
        // Without the program /dev/kmsg opens: the refusal below is the program's.
        assert_eq!(sh_in(Some(&dir), PROBE).0, 0);
        strata::sandbox::device_filter_attach::attach(&dir, &Security::default()).unwrap();
        let (code, err) = sh_in(Some(&dir), PROBE);
        assert_eq!(code, 2, "{err}");
        assert!(err.contains("/dev/kmsg"), "{err}");
        assert!(err.contains("Operation not permitted"), "{err}");
        assert_eq!(sh_in(Some(&dir), ": < /dev/null; : > /dev/null").0, 0);
        // Only members are filtered.
        assert_eq!(sh_in(None, PROBE).0, 0);
    });
    let _ = std::fs::remove_dir(&dir);
    if let Err(e) = result {
        std::panic::resume_unwind(e);
    }
}

/// `strata args…` in a new mount namespace without the v1 cgroup mounts.
fn strata_on_v2_only(s: &Strata, args: &[&str]) -> std::process::Output {
    let mut script = String::from(
        "for m in $(awk '{split($0, a, \" - \"); split(a[2], b, \" \"); \
         if (b[1] == \"cgroup\") print $5}' /proc/self/mountinfo); do umount \"$m\" || exit 99; done; \
         exec \"$@\"",
    );
    script.push('\n');
    let mut cmd = Command::new("unshare");
    cmd.args([
        "--mount",
        "--propagation",
        "private",
        "sh",
        "-c",
        &script,
        "sh",
    ])
    .arg(STRATA)
    .arg("--root")
    .arg(&s.root)
    .args(args)
    .env("STRATA_DNS", "127.0.0.1");
    cmd.output().unwrap()
}

/// `run --device /dev/kmsg:/dev/kmsg:PERMS` on the v2-only view; (stdout, stderr).
fn run_kmsg(s: &Strata, perms: &str) -> (String, String) {
    let device = format!("/dev/kmsg:/dev/kmsg:{perms}");
    // Writing to /dev/kmsg needs no capability (reading it does: CAP_SYSLOG), so only a
    // device filter refuses the write.
    let script = "cat /proc/self/cgroup; echo -n > /dev/null && echo null-ok; \
                  echo -n > /dev/kmsg && echo write-ok; true";
    let args = [
        "run",
        "--rm",
        "--network",
        "none",
        "--device",
        &device,
        "busybox",
        "sh",
        "-c",
        script,
    ];
    let out = strata_on_v2_only(s, &args);
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{stdout}\n{stderr}");
    // The container was in a cgroup of its own in the v2 hierarchy.
    assert!(
        stdout.lines().any(|l| l.starts_with("0::/strata/")),
        "{stdout}"
    );
    assert!(stdout.contains("null-ok"), "{stdout}\n{stderr}");
    (stdout, stderr)
}

#[test]
fn run_on_a_v2_only_host_restricts_devices_with_the_program() {
    let s = Strata::new();
    s.import_busybox("busybox");
    // Read is granted, write is not.
    let (stdout, stderr) = run_kmsg(&s, "r");
    assert!(!stdout.contains("write-ok"), "{stdout}\n{stderr}");
    assert!(stderr.contains("Operation not permitted"), "{stderr}");
    // With `w` the --device line lets it through.
    let (stdout, stderr) = run_kmsg(&s, "w");
    assert!(stdout.contains("write-ok"), "{stdout}\n{stderr}");
}
