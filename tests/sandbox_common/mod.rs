//! Shared fixture for the sandbox tests: a busybox root filesystem in a temp dir, an overlay
//! spec over it, and host-side checks (mount table, process table).
#![allow(dead_code)]

use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::Command;

use strata::sandbox::{Outcome, RootFs, SandboxError, Spec, Stdio};

pub struct Fixture {
    pub dir: tempfile::TempDir,
    pub lower: PathBuf,
    pub upper: PathBuf,
    pub work: PathBuf,
}

/// A root with static busybox and its applets, `root` and `app` (1000, also in group
/// `extra` 2000), `/tmp` 1777, empty `/proc`, `/dev`, `/sys` and no `/etc/hosts`.
pub fn fixture() -> Fixture {
    let dir = tempfile::tempdir().unwrap();
    let lower = dir.path().join("lower");
    make_busybox_root(&lower);
    let (upper, work) = (dir.path().join("upper"), dir.path().join("work"));
    std::fs::create_dir(&upper).unwrap();
    std::fs::create_dir(&work).unwrap();
    Fixture {
        dir,
        lower,
        upper,
        work,
    }
}

pub fn make_busybox_root(root: &Path) {
    for d in [
        "bin", "etc", "proc", "dev", "sys", "root", "home/app", "tmp",
    ] {
        std::fs::create_dir_all(root.join(d)).unwrap();
    }
    std::fs::set_permissions(root.join("tmp"), std::fs::Permissions::from_mode(0o1777)).unwrap();
    std::fs::copy("/bin/busybox", root.join("bin/busybox"))
        .expect("apt-get install busybox-static");
    let list = Command::new("/bin/busybox").arg("--list").output().unwrap();
    for applet in String::from_utf8(list.stdout).unwrap().lines() {
        if applet != "busybox" {
            symlink("busybox", root.join("bin").join(applet)).unwrap();
        }
    }
    std::fs::write(
        root.join("etc/passwd"),
        "root:x:0:0:root:/root:/bin/sh\napp:x:1000:1000:app:/home/app:/bin/sh\n",
    )
    .unwrap();
    std::fs::write(
        root.join("etc/group"),
        "root:x:0:\napp:x:1000:\nextra:x:2000:app\n",
    )
    .unwrap();
}

impl Fixture {
    pub fn path(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// `sh -c script` over the overlay, stdout and stderr to files, no network.
    pub fn spec(&self, script: &str) -> Spec {
        let mut spec = Spec::new(
            vec!["/bin/sh".into(), "-c".into(), script.into()],
            RootFs::Overlay {
                lowerdirs: vec![self.lower.clone()],
                upperdir: self.upper.clone(),
                workdir: self.work.clone(),
            },
        );
        spec.env = vec!["PATH=/bin".into()];
        spec.network = strata::sandbox::NetworkMode::None;
        spec.stdout = Stdio::File(self.path("stdout"));
        spec.stderr = Stdio::File(self.path("stderr"));
        spec
    }

    pub fn stdout(&self) -> String {
        std::fs::read_to_string(self.path("stdout")).unwrap_or_default()
    }

    pub fn stderr(&self) -> String {
        std::fs::read_to_string(self.path("stderr")).unwrap_or_default()
    }

    /// Runs and panics with the captured streams on a sandbox error.
    pub fn run(&self, spec: &Spec) -> Outcome {
        self.try_run(spec)
            .unwrap_or_else(|e| panic!("{e}\nstdout: {}\nstderr: {}", self.stdout(), self.stderr()))
    }

    pub fn try_run(&self, spec: &Spec) -> Result<Outcome, SandboxError> {
        strata::sandbox::run(spec)
    }
}

/// Mount points of this process's mount namespace (ids left out: they are stable anyway).
pub fn mount_table() -> Vec<String> {
    std::fs::read_to_string("/proc/self/mountinfo")
        .unwrap()
        .lines()
        .map(str::to_string)
        .collect()
}

/// Host processes whose command line is exactly `argv`.
pub fn processes_running(argv: &[&str]) -> Vec<u32> {
    let want = argv.join("\0") + "\0";
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read(format!("/proc/{pid}/cmdline")).is_ok_and(|c| c == want.as_bytes())
        })
        .collect()
}

/// This process's children (live or zombie) whose command name is `comm`.
pub fn children_named(comm: &str) -> Vec<u32> {
    let me = std::process::id().to_string();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            let Ok(stat) = std::fs::read_to_string(format!("/proc/{pid}/stat")) else {
                return false;
            };
            // "pid (comm) state ppid ..."; comm may hold spaces, so split at the last ')'.
            let Some((head, tail)) = stat.rsplit_once(')') else {
                return false;
            };
            let name = head.split_once('(').map(|(_, n)| n).unwrap_or("");
            name == comm && tail.split_whitespace().nth(1) == Some(me.as_str())
        })
        .collect()
}

/// Processes, in any mount namespace, whose mount table mentions `needle` (e.g. an overlay's
/// upperdir, which shows in its super options).
pub fn mounted_anywhere(needle: &Path) -> Vec<u32> {
    let needle = needle.to_string_lossy().into_owned();
    std::fs::read_dir("/proc")
        .unwrap()
        .filter_map(|e| e.ok()?.file_name().to_str()?.parse::<u32>().ok())
        .filter(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/mountinfo"))
                .is_ok_and(|m| m.contains(&needle))
        })
        .collect()
}
