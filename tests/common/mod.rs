//! Integration-test harness: runs the real `strata` binary against a store in its own temp dir;
//! on failure prints the command, its stdout and stderr, and a listing of the store. Also makes
//! a busybox rootfs from Debian's busybox-static and imports it.
#![allow(dead_code)]

use std::ffi::OsStr;
use std::fmt::Write as _;
use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const STRATA: &str = env!("CARGO_BIN_EXE_strata");

/// A store in a temp dir and a way to run strata against it.
pub struct Strata {
    dir: tempfile::TempDir,
    pub root: PathBuf,
}

impl Default for Strata {
    fn default() -> Self {
        Self::new()
    }
}

impl Strata {
    pub fn new() -> Self {
        let dir = tempfile::Builder::new()
            .prefix("strata-test-")
            .tempdir()
            .expect("temp dir");
        let root = dir.path().join("root");
        Strata { dir, root }
    }

    /// A scratch directory next to the store, for inputs and outputs of a test.
    pub fn scratch(&self, name: &str) -> PathBuf {
        let p = self.dir.path().join(name);
        fs::create_dir_all(&p).expect("scratch dir");
        p
    }

    /// The command, with `--root` set, ready for more configuration.
    pub fn command<S: AsRef<OsStr>>(&self, args: &[S]) -> Command {
        let mut c = Command::new(STRATA);
        c.arg("--root").arg(&self.root).args(args);
        c.env_remove("STRATA_ROOT").env_remove("SOURCE_DATE_EPOCH");
        // Names that are not containers' go to the host's loopback, never to this machine's
        // resolver: tests send nothing beyond loopback and their own bridges.
        c.env("STRATA_DNS", "127.0.0.1");
        c.stdin(Stdio::null());
        c
    }

    /// Runs and asserts success; returns stdout.
    pub fn ok<S: AsRef<OsStr>>(&self, args: &[S]) -> String {
        let out = self.run_cmd(self.command(args));
        self.expect(&out, true, args);
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    /// Runs and asserts failure; returns stderr.
    pub fn fails<S: AsRef<OsStr>>(&self, args: &[S]) -> String {
        let out = self.run_cmd(self.command(args));
        self.expect(&out, false, args);
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    pub fn run_cmd(&self, mut c: Command) -> Output {
        c.output().expect("run strata")
    }

    /// Panics with the whole story unless the command's success is `success`.
    pub fn expect<S: AsRef<OsStr>>(&self, out: &Output, success: bool, args: &[S]) {
        if out.status.success() != success {
            panic!(
                "{}",
                self.report(
                    &format!("expected {}", if success { "success" } else { "failure" }),
                    args,
                    out
                )
            );
        }
    }

    pub fn report<S: AsRef<OsStr>>(&self, what: &str, args: &[S], out: &Output) -> String {
        let cmd: Vec<String> = args
            .iter()
            .map(|a| a.as_ref().to_string_lossy().into_owned())
            .collect();
        format!(
            "{what}\ncommand: strata --root {} {}\nstatus: {}\n--- stdout\n{}\n--- stderr\n{}\n--- store\n{}",
            self.root.display(),
            cmd.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr),
            self.listing()
        )
    }

    /// Every path in the store with its size, and index.json.
    pub fn listing(&self) -> String {
        let mut s = String::new();
        for e in walkdir::WalkDir::new(&self.root)
            .sort_by_file_name()
            .into_iter()
            .filter_map(Result::ok)
        {
            let md = e.metadata().ok();
            let size = md.as_ref().map_or(0, |m| m.len());
            let kind = if e.file_type().is_dir() { "/" } else { "" };
            let _ = writeln!(
                s,
                "{}{kind} {size}",
                e.path()
                    .strip_prefix(&self.root)
                    .unwrap_or(e.path())
                    .display()
            );
        }
        if let Ok(idx) = fs::read_to_string(self.root.join("oci/index.json")) {
            let _ = writeln!(s, "--- index.json\n{idx}");
        }
        s
    }

    /// Makes a busybox rootfs under the scratch dir and imports it as `reference`, with a fixed
    /// SOURCE_DATE_EPOCH; returns the image ID (`sha256:…`).
    pub fn import_busybox(&self, reference: &str) -> String {
        let dir = self.scratch("busybox-rootfs");
        if !dir.join("bin/busybox").exists() {
            busybox_rootfs(&dir);
        }
        self.import_rootfs(&dir, reference, &[])
    }

    /// Imports Debian's arm64 busybox-static (unpacked by `.ci/test.sh` at [`ARM64_BUSYBOX`])
    /// as a `linux/arm64` image `reference`; returns the image ID.
    pub fn import_busybox_arm64(&self, reference: &str) -> String {
        let dir = self.scratch("busybox-arm64-rootfs");
        if !dir.join("bin/busybox").exists() {
            busybox_rootfs_from(&dir, Path::new(ARM64_BUSYBOX));
        }
        self.import_rootfs(&dir, reference, &["--platform", "linux/arm64"])
    }

    /// `import [EXTRA…] DIR REFERENCE` with `CMD ["sh"]` and a fixed SOURCE_DATE_EPOCH;
    /// returns the image ID.
    pub fn import_rootfs(&self, dir: &Path, reference: &str, extra: &[&str]) -> String {
        let mut args = vec![
            OsStr::new("import"),
            OsStr::new("-c"),
            OsStr::new(r#"CMD ["sh"]"#),
        ];
        args.extend(extra.iter().map(OsStr::new));
        args.extend([dir.as_os_str(), OsStr::new(reference)]);
        let mut c = self.command(&args);
        c.env("SOURCE_DATE_EPOCH", "1700000000");
        let out = self.run_cmd(c);
        self.expect(&out, true, &args);
        String::from_utf8_lossy(&out.stdout).trim().to_string()
    }
}

/// A minimal busybox root: /bin/busybox (Debian's busybox-static), a symlink per applet,
/// /etc/passwd, /etc/group, /tmp (1777), /root.
pub fn busybox_rootfs(dir: &Path) {
    busybox_rootfs_from(dir, Path::new("/bin/busybox"))
}

/// Where `.ci/test.sh` unpacks Debian's `busybox-static:arm64` (downloaded, not installed).
pub const ARM64_BUSYBOX: &str = "/var/cache/strata-test/busybox-arm64/bin/busybox";

/// `busybox_rootfs` with another busybox binary (the applet list is the host's: Debian builds
/// every architecture's busybox-static from the same configuration).
pub fn busybox_rootfs_from(dir: &Path, busybox: &Path) {
    let bin = dir.join("bin");
    fs::create_dir_all(&bin).unwrap();
    fs::copy(busybox, bin.join("busybox")).unwrap_or_else(|e| {
        panic!(
            "{}: {e} (apt-get install busybox-static; the arm64 one comes from .ci/test.sh)",
            busybox.display()
        )
    });
    let list = Command::new("/bin/busybox")
        .arg("--list-full")
        .output()
        .expect("busybox --list-full");
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        let applet = applet.trim_start_matches('/');
        if applet.is_empty() || applet == "bin/busybox" {
            continue;
        }
        let p = dir.join(applet);
        fs::create_dir_all(p.parent().unwrap()).unwrap();
        if p.symlink_metadata().is_err() {
            symlink("/bin/busybox", &p).unwrap();
        }
    }
    let etc = dir.join("etc");
    fs::create_dir_all(&etc).unwrap();
    fs::write(
        etc.join("passwd"),
        "root:x:0:0:root:/root:/bin/sh\nnobody:x:65534:65534:nobody:/nonexistent:/bin/false\n",
    )
    .unwrap();
    fs::write(etc.join("group"), "root:x:0:\nnogroup:x:65534:\n").unwrap();
    for d in ["tmp", "root"] {
        fs::create_dir_all(dir.join(d)).unwrap();
    }
    fs::set_permissions(dir.join("tmp"), fs::Permissions::from_mode(0o1777)).unwrap();
    fs::set_permissions(dir.join("root"), fs::Permissions::from_mode(0o700)).unwrap();
}

/// Runs an outside tool (skopeo, umoci, tar), panicking with its output on failure.
pub fn tool(program: &str, args: &[&str]) -> String {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("cannot run {program}: {e} (is it installed?)"));
    if !out.status.success() {
        panic!(
            "{program} {} failed: {}\n--- stdout\n{}\n--- stderr\n{}",
            args.join(" "),
            out.status,
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
    }
    String::from_utf8_lossy(&out.stdout).into_owned()
}
