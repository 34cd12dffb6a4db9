//! Running the real strata binary as another user, for the rootless tests: a system user made
//! once (with or without `/etc/subuid` and `/etc/subgid` ranges), a fresh home it owns, and
//! commands run through `setpriv` with that home's default store. `/dev/net/tun` is made 0666
//! (the mode distributions ship; this machine has 0600) in a private mount namespace around the
//! command, so the host's device is left alone.
#![allow(dead_code)]

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::Mutex;

use crate::common::STRATA;

/// useradd and the subid files are shared by tests running in parallel.
static SETUP: Mutex<()> = Mutex::new(());

/// A user and its home, for one test.
pub struct User {
    pub name: String,
    pub uid: u32,
    pub gid: u32,
    pub home: tempfile::TempDir,
}

fn id_of(name: &str, flag: &str) -> Option<u32> {
    let out = Command::new("id").args([flag, name]).output().ok()?;
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).trim().parse().ok())
        .flatten()
}

/// Keeps `name`'s line in a subid file as `range` (`start:count`), or removes it with `None`.
fn set_subids(file: &str, name: &str, range: Option<&str>) {
    let text = fs::read_to_string(file).unwrap_or_default();
    let prefix = format!("{name}:");
    let mut lines: Vec<String> = text
        .lines()
        .filter(|l| !l.starts_with(&prefix))
        .map(str::to_string)
        .collect();
    if let Some(r) = range {
        lines.push(format!("{name}:{r}"));
    }
    let mut new = lines.join("\n");
    if !new.is_empty() {
        new.push('\n');
    }
    if new != text {
        fs::write(file, new).unwrap();
    }
}

impl User {
    /// The system user `name` (created if missing) with delegated ids `range`
    /// (`"600000:65536"`) or none, and a new empty home.
    pub fn new(name: &str, range: Option<&str>) -> User {
        let guard = SETUP.lock().unwrap_or_else(|e| e.into_inner());
        if id_of(name, "-u").is_none() {
            let out = Command::new("useradd")
                .args([
                    "--system",
                    "--user-group",
                    "--no-create-home",
                    "--home-dir",
                    "/nonexistent",
                    "--shell",
                    "/usr/sbin/nologin",
                    name,
                ])
                .output()
                .expect("useradd");
            assert!(
                out.status.success() || id_of(name, "-u").is_some(),
                "useradd {name}: {}",
                String::from_utf8_lossy(&out.stderr)
            );
        }
        set_subids("/etc/subuid", name, range);
        set_subids("/etc/subgid", name, range);
        drop(guard);
        let (uid, gid) = (id_of(name, "-u").unwrap(), id_of(name, "-g").unwrap());
        let home = tempfile::Builder::new()
            .prefix("strata-rootless-")
            .tempdir()
            .unwrap();
        std::os::unix::fs::chown(home.path(), Some(uid), Some(gid)).unwrap();
        User {
            name: name.to_string(),
            uid,
            gid,
            home,
        }
    }

    pub fn home(&self) -> &Path {
        self.home.path()
    }

    /// The store strata picks for this user without `--root`.
    pub fn store(&self) -> PathBuf {
        self.home().join(".local/share/strata")
    }

    /// Gives a tree written by the test (as root) to the user.
    pub fn give(&self, path: &Path) {
        for e in walkdir::WalkDir::new(path) {
            let e = e.unwrap();
            std::os::unix::fs::lchown(e.path(), Some(self.uid), Some(self.gid)).unwrap();
        }
    }

    /// Runs strata as the user, in its home, with only HOME and PATH set.
    pub fn strata(&self, args: &[&str]) -> Output {
        self.command(args)
            .output()
            .expect("run strata as the test user")
    }

    /// The command [`Self::strata`] runs, to spawn it instead.
    pub fn command(&self, args: &[&str]) -> Command {
        let script = "mount -t tmpfs -o mode=755 tmpfs /dev/net && \
                      mknod -m 666 /dev/net/tun c 10 200 && \
                      u=$1 g=$2 && shift 2 && \
                      exec setpriv --reuid \"$u\" --regid \"$g\" --init-groups \"$@\"";
        let mut c = Command::new("unshare");
        c.args(["--mount", "--propagation", "private", "sh", "-c", script])
            .arg("sh")
            .arg(self.uid.to_string())
            .arg(self.gid.to_string())
            .arg(STRATA)
            .args(args)
            .env_clear()
            .env("HOME", self.home())
            .env("PATH", "/usr/local/bin:/usr/bin:/bin:/usr/sbin:/sbin")
            .current_dir(self.home())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        c
    }

    /// Runs and asserts success; returns stderr (the progress).
    pub fn ok(&self, args: &[&str]) -> String {
        let out = self.strata(args);
        assert!(out.status.success(), "{}", report(args, &out));
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    /// Processes of this user or of its delegated ids still running.
    pub fn processes(&self, range: Option<(u32, u32)>) -> Vec<String> {
        let mut left = Vec::new();
        for e in fs::read_dir("/proc").unwrap().flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !name.bytes().all(|b| b.is_ascii_digit()) {
                continue;
            }
            let Ok(md) = e.metadata() else { continue };
            let ours =
                md.uid() == self.uid || range.is_some_and(|(s, n)| (s..s + n).contains(&md.uid()));
            if ours {
                let cmd = fs::read_to_string(e.path().join("cmdline")).unwrap_or_default();
                let stat = fs::read_to_string(e.path().join("stat")).unwrap_or_default();
                left.push(format!(
                    "{name}: {} [{}]",
                    cmd.replace('\0', " "),
                    stat.trim()
                ));
            }
        }
        left
    }

    /// Mounts anywhere under the home, as the host sees them.
    pub fn mounts(&self) -> Vec<String> {
        let home = self.home().to_string_lossy().into_owned();
        fs::read_to_string("/proc/self/mountinfo")
            .unwrap()
            .lines()
            .filter(|l| l.contains(&home))
            .map(str::to_string)
            .collect()
    }
}

impl Drop for User {
    fn drop(&mut self) {
        // Files of delegated ids are not the user's: remove them as root.
        let _ = fs::remove_dir_all(self.home.path());
    }
}

pub fn report(args: &[&str], out: &Output) -> String {
    format!(
        "strata {} (as the test user): {}\n--- stdout\n{}\n--- stderr\n{}",
        args.join(" "),
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// One entry of a layer tar, with what the tests look at.
#[derive(Debug, Clone)]
pub struct Entry {
    pub path: String,
    pub uid: u64,
    pub gid: u64,
    pub mode: u32,
    /// Names of the xattrs the entry carries (PAX `SCHILY.xattr.*`).
    pub xattrs: Vec<String>,
    /// A regular file's content.
    pub data: Vec<u8>,
}

/// The entries of every layer of `tag` in the OCI layout at `store`, base first.
pub fn layers(store: &Path, tag: &str) -> Vec<Vec<Entry>> {
    let blobs = store.join("oci/blobs/sha256");
    let blob = |d: &str| fs::read(blobs.join(d.strip_prefix("sha256:").unwrap())).unwrap();
    let index: serde_json::Value =
        serde_json::from_slice(&fs::read(store.join("oci/index.json")).unwrap()).unwrap();
    let want = format!("docker.io/library/{tag}:latest");
    let manifest = index["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["annotations"]["org.opencontainers.image.ref.name"] == want.as_str())
        .unwrap_or_else(|| panic!("{want} not in {index}"));
    let manifest: serde_json::Value =
        serde_json::from_slice(&blob(manifest["digest"].as_str().unwrap())).unwrap();
    manifest["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| {
            let bytes = blob(l["digest"].as_str().unwrap());
            let mut a = tar::Archive::new(flate2::read::GzDecoder::new(&bytes[..]));
            a.entries()
                .unwrap()
                .map(|e| {
                    let mut e = e.unwrap();
                    let mut xattrs = Vec::new();
                    if let Some(pax) = e.pax_extensions().unwrap() {
                        for x in pax {
                            let k = x.unwrap().key().unwrap().to_string();
                            if let Some(n) = k.strip_prefix("SCHILY.xattr.") {
                                xattrs.push(n.to_string());
                            }
                        }
                    }
                    let mut data = Vec::new();
                    std::io::Read::read_to_end(&mut e, &mut data).unwrap();
                    let h = e.header();
                    Entry {
                        path: e.path().unwrap().to_string_lossy().into_owned(),
                        uid: h.uid().unwrap(),
                        gid: h.gid().unwrap(),
                        mode: h.mode().unwrap(),
                        xattrs,
                        data,
                    }
                })
                .collect()
        })
        .collect()
}
