//! What `info` and `version` report, in the shapes of Docker's `/info` and `/version`: the
//! store's counts (containers by state, images), the host's facts (kernel, OS, cgroups, CPUs,
//! memory) and strata's own build (version, git commit, compiler).
//!
//! The host files are read leniently: a fact that cannot be read is reported empty (or as
//! Docker's fallback), never as an error. Their parsers are pure and table-tested.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::Serialize;

use super::error::ContainerError;
use super::store::Containers;
use crate::store::{Store, StoreError};

/// strata's version, from Cargo.toml.
pub const VERSION: &str = env!("CARGO_PKG_VERSION");
/// The commit strata was built from (`unknown` outside a git checkout; see build.rs).
pub const GIT_COMMIT: &str = env!("STRATA_GIT_COMMIT");
/// The commit's time as Unix seconds (empty when unknown): a build time that stays the same
/// when the same commit is built again.
pub const BUILD_TIME: &str = env!("STRATA_BUILD_TIME");
/// `rustc --version` of the compiler that built strata (Docker's `GoVersion`).
pub const RUSTC_VERSION: &str = env!("STRATA_RUSTC_VERSION");
/// The Engine API version whose JSON shapes strata's output follows (Docker 28.0's).
pub const API_VERSION: &str = "1.48";
/// The oldest Engine API version Docker 28 still serves.
pub const MIN_API_VERSION: &str = "1.24";

/// The file under the store root holding the engine's ID.
pub const ENGINE_ID_FILE: &str = "engine-id";

#[derive(Debug, thiserror::Error)]
pub enum InfoError {
    #[error(transparent)]
    Containers(#[from] ContainerError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("engine ID {path}: {source}")]
    EngineId {
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
}

/// Docker's `/info` object, with the fields that apply to strata (Docker's names).
#[derive(Debug, Clone, Serialize)]
pub struct SystemInfo {
    #[serde(rename = "ID")]
    pub id: String,
    #[serde(rename = "Containers")]
    pub containers: usize,
    #[serde(rename = "ContainersRunning")]
    pub containers_running: usize,
    #[serde(rename = "ContainersPaused")]
    pub containers_paused: usize,
    #[serde(rename = "ContainersStopped")]
    pub containers_stopped: usize,
    #[serde(rename = "Images")]
    pub images: usize,
    #[serde(rename = "Driver")]
    pub driver: String,
    #[serde(rename = "DriverStatus")]
    pub driver_status: Vec<[String; 2]>,
    #[serde(rename = "Plugins")]
    pub plugins: BTreeMap<String, Vec<String>>,
    #[serde(rename = "Debug")]
    pub debug: bool,
    #[serde(rename = "SystemTime")]
    pub system_time: String,
    #[serde(rename = "LoggingDriver")]
    pub logging_driver: String,
    #[serde(rename = "CgroupDriver")]
    pub cgroup_driver: String,
    #[serde(rename = "CgroupVersion")]
    pub cgroup_version: String,
    #[serde(rename = "KernelVersion")]
    pub kernel_version: String,
    #[serde(rename = "OperatingSystem")]
    pub operating_system: String,
    #[serde(rename = "OSVersion")]
    pub os_version: String,
    #[serde(rename = "OSType")]
    pub os_type: String,
    #[serde(rename = "Architecture")]
    pub architecture: String,
    #[serde(rename = "IndexServerAddress")]
    pub index_server_address: String,
    #[serde(rename = "NCPU")]
    pub ncpu: usize,
    #[serde(rename = "MemTotal")]
    pub mem_total: u64,
    #[serde(rename = "DockerRootDir")]
    pub docker_root_dir: PathBuf,
    #[serde(rename = "Name")]
    pub name: String,
    #[serde(rename = "Labels")]
    pub labels: Vec<String>,
    #[serde(rename = "ExperimentalBuild")]
    pub experimental_build: bool,
    #[serde(rename = "ServerVersion")]
    pub server_version: String,
    #[serde(rename = "LiveRestoreEnabled")]
    pub live_restore_enabled: bool,
    #[serde(rename = "SecurityOptions")]
    pub security_options: Vec<String>,
    #[serde(rename = "Warnings")]
    pub warnings: Vec<String>,
}

/// Gathers `info` for the store at `root`.
pub fn system_info(root: &Path, store: &Store) -> Result<SystemInfo, InfoError> {
    let containers = Containers::new(root).list()?;
    let running = containers
        .iter()
        .filter(|c| c.is_running() && !c.state.paused)
        .count();
    let paused = containers
        .iter()
        .filter(|c| c.is_running() && c.state.paused)
        .count();
    let uname = Uname::get();
    let os_release = std::fs::read_to_string("/etc/os-release")
        .or_else(|_| std::fs::read_to_string("/usr/lib/os-release"))
        .unwrap_or_default();
    let os = parse_os_release(&os_release);
    let mountinfo = std::fs::read_to_string("/proc/self/mountinfo").unwrap_or_default();
    let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
    let rootless = !nix::unistd::geteuid().is_root();
    let plugins = [
        ("Volume", vec!["local"]),
        ("Network", vec!["bridge", "host", "none"]),
        ("Log", vec!["json-file"]),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.into_iter().map(str::to_string).collect()))
    .collect();
    Ok(SystemInfo {
        id: engine_id(root)?,
        containers: containers.len(),
        containers_running: running,
        containers_paused: paused,
        containers_stopped: containers.len() - running - paused,
        images: store.images()?.len(),
        driver: "overlayfs".into(),
        driver_status: Vec::new(),
        plugins,
        debug: false,
        system_time: crate::store::events::format_rfc3339_nanos(crate::store::events::now_ns()),
        logging_driver: "json-file".into(),
        cgroup_driver: "cgroupfs".into(),
        cgroup_version: cgroup_version(&mountinfo).into(),
        kernel_version: uname.release,
        operating_system: os.pretty_name,
        os_version: os.version_id,
        os_type: "linux".into(),
        architecture: uname.machine,
        index_server_address: "https://index.docker.io/v1/".into(),
        ncpu: cpu_count(),
        mem_total: parse_mem_total(&meminfo).unwrap_or(0),
        docker_root_dir: root.to_path_buf(),
        name: uname.nodename,
        labels: Vec::new(),
        experimental_build: false,
        server_version: VERSION.into(),
        live_restore_enabled: false,
        security_options: if rootless {
            vec!["name=rootless".into()]
        } else {
            Vec::new()
        },
        warnings: Vec::new(),
    })
}

/// The store's engine ID, a random UUID made the first time it is asked for. Concurrent
/// first callers agree: the file is linked into place only if none is there yet.
pub fn engine_id(root: &Path) -> Result<String, InfoError> {
    let path = root.join(ENGINE_ID_FILE);
    let err = |source| InfoError::EngineId {
        path: path.clone(),
        source,
    };
    match std::fs::read_to_string(&path) {
        Ok(s) if !s.trim().is_empty() => return Ok(s.trim().to_string()),
        Ok(_) => {}
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
        Err(e) => return Err(err(e)),
    }
    let mut tmp = tempfile::Builder::new()
        .prefix(".tmp-engine-id-")
        .tempfile_in(root)
        .map_err(err)?;
    use std::io::Write;
    tmp.write_all(format!("{}\n", new_uuid()).as_bytes())
        .and_then(|_| tmp.as_file().sync_all())
        .map_err(err)?;
    match tmp.persist_noclobber(&path) {
        Ok(_) => {}
        Err(e) if e.error.kind() == std::io::ErrorKind::AlreadyExists => {}
        Err(e) => return Err(err(e.error)),
    }
    Ok(std::fs::read_to_string(&path)
        .map_err(err)?
        .trim()
        .to_string())
}

/// A random (version 4) UUID.
fn new_uuid() -> String {
    let mut b = [0u8; 16];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut b);
    }
    b[6] = (b[6] & 0x0f) | 0x40;
    b[8] = (b[8] & 0x3f) | 0x80;
    let h: String = b.iter().map(|x| format!("{x:02x}")).collect();
    format!(
        "{}-{}-{}-{}-{}",
        &h[..8],
        &h[8..12],
        &h[12..16],
        &h[16..20],
        &h[20..]
    )
}

/// `uname(2)`: kernel release, machine and node name.
struct Uname {
    release: String,
    machine: String,
    nodename: String,
}

impl Uname {
    fn get() -> Uname {
        // SAFETY: `utsname` is plain old data, fully written by a successful uname(2); its
        // fields are NUL-terminated arrays, read only when the call succeeded.
        unsafe {
            let mut u: libc::utsname = std::mem::zeroed();
            if libc::uname(&mut u) != 0 {
                return Uname {
                    release: String::new(),
                    machine: std::env::consts::ARCH.into(),
                    nodename: String::new(),
                };
            }
            let field = |f: &[libc::c_char]| {
                std::ffi::CStr::from_ptr(f.as_ptr())
                    .to_string_lossy()
                    .into_owned()
            };
            Uname {
                release: field(&u.release),
                machine: field(&u.machine),
                nodename: field(&u.nodename),
            }
        }
    }
}

/// The CPUs this process may run on (Go's `runtime.NumCPU`, which Docker reports).
fn cpu_count() -> usize {
    match nix::sched::sched_getaffinity(nix::unistd::Pid::from_raw(0)) {
        Ok(set) => (0..nix::sched::CpuSet::count())
            .filter(|&i| set.is_set(i).unwrap_or(false))
            .count(),
        Err(_) => std::thread::available_parallelism().map_or(1, |n| n.get()),
    }
}

/// What `info` takes from os-release(5).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct OsRelease {
    /// `PRETTY_NAME`, or `Linux` as Docker falls back to.
    pub pretty_name: String,
    pub version_id: String,
}

/// Parses os-release(5): `KEY=value` lines, values optionally in single or double quotes
/// (with `\` escapes inside double quotes), comments and blank lines ignored.
pub fn parse_os_release(text: &str) -> OsRelease {
    let mut out = OsRelease::default();
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('#') {
            continue;
        }
        let Some((k, v)) = line.split_once('=') else {
            continue;
        };
        let v = unquote(v.trim());
        match k.trim() {
            "PRETTY_NAME" => out.pretty_name = v,
            "VERSION_ID" => out.version_id = v,
            _ => {}
        }
    }
    if out.pretty_name.is_empty() {
        out.pretty_name = "Linux".into();
    }
    out
}

fn unquote(v: &str) -> String {
    let inner = |q: char| v.strip_prefix(q).and_then(|s| s.strip_suffix(q));
    if let Some(s) = inner('\'') {
        return s.to_string();
    }
    let Some(s) = inner('"') else {
        return v.to_string();
    };
    let mut out = String::new();
    let mut chars = s.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(n) = chars.next() {
                out.push(n);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// `"2"` when /sys/fs/cgroup is a cgroup2 mount in `mountinfo` (proc(5)'s format), else `"1"`.
pub fn cgroup_version(mountinfo: &str) -> &'static str {
    for line in mountinfo.lines() {
        let Some((left, right)) = line.split_once(" - ") else {
            continue;
        };
        let mount_point = left.split_whitespace().nth(4);
        let fstype = right.split_whitespace().next();
        if mount_point == Some("/sys/fs/cgroup") && fstype == Some("cgroup2") {
            return "2";
        }
    }
    "1"
}

/// `MemTotal` of /proc/meminfo in bytes.
pub fn parse_mem_total(meminfo: &str) -> Option<u64> {
    let line = meminfo.lines().find(|l| l.starts_with("MemTotal:"))?;
    let mut parts = line["MemTotal:".len()..].split_whitespace();
    let n: u64 = parts.next()?.parse().ok()?;
    match parts.next() {
        Some("kB") | None => Some(n * 1024),
        Some(_) => None,
    }
}

/// Docker's `/version` object for strata (its `Server`; the `Client` half is the same build).
pub fn version_json() -> serde_json::Value {
    let uname = Uname::get();
    let arch = crate::store::config::host_arch();
    let build_time = BUILD_TIME
        .parse::<i64>()
        .map(|t| {
            let s = crate::store::time::format_rfc3339(t);
            format!("{}.000000000+00:00", &s[..19])
        })
        .unwrap_or_default();
    serde_json::json!({
        "Platform": {"Name": "strata"},
        "Components": [{
            "Name": "Engine",
            "Version": VERSION,
            "Details": {
                "ApiVersion": API_VERSION,
                "Arch": arch,
                "BuildTime": build_time,
                "Experimental": "false",
                "GitCommit": GIT_COMMIT,
                "GoVersion": RUSTC_VERSION,
                "KernelVersion": uname.release,
                "MinAPIVersion": MIN_API_VERSION,
                "Os": "linux",
            },
        }],
        "Version": VERSION,
        "ApiVersion": API_VERSION,
        "MinAPIVersion": MIN_API_VERSION,
        "GitCommit": GIT_COMMIT,
        "GoVersion": RUSTC_VERSION,
        "Os": "linux",
        "Arch": arch,
        "KernelVersion": uname.release,
        "BuildTime": build_time,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn os_release_lines() {
        for (text, pretty, version) in [
            (
                "NAME=\"Debian GNU/Linux\"\nPRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nVERSION_ID=\"12\"\n",
                "Debian GNU/Linux 12 (bookworm)",
                "12",
            ),
            ("PRETTY_NAME='Alpine Linux v3.20'\nVERSION_ID=3.20.1", "Alpine Linux v3.20", "3.20.1"),
            ("# comment\nPRETTY_NAME=\"say \\\"hi\\\"\"", "say \"hi\"", ""),
            ("", "Linux", ""),
            ("NAME=Thing", "Linux", ""),
        ] {
            let os = parse_os_release(text);
            assert_eq!((os.pretty_name.as_str(), os.version_id.as_str()), (pretty, version), "{text:?}");
        }
    }

    #[test]
    fn cgroup_version_from_mountinfo() {
        for (text, want) in [
            (
                "35 24 0:30 / /sys/fs/cgroup rw,nosuid - cgroup2 cgroup2 rw,nsdelegate",
                "2",
            ),
            (
                "31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755\n\
                 32 31 0:29 / /sys/fs/cgroup/cpu rw,relatime - cgroup cgroup rw,cpu",
                "1",
            ),
            // A hybrid host: cgroup2 only under unified/.
            (
                "40 31 0:35 / /sys/fs/cgroup/unified rw - cgroup2 cgroup2 rw",
                "1",
            ),
            // Optional fields before the separator.
            (
                "35 24 0:30 / /sys/fs/cgroup rw shared:9 master:1 - cgroup2 cgroup2 rw",
                "2",
            ),
            ("", "1"),
        ] {
            assert_eq!(cgroup_version(text), want, "{text:?}");
        }
    }

    #[test]
    fn mem_total_in_bytes() {
        for (text, want) in [
            (
                "MemTotal:       16303012 kB\nMemFree: 1 kB",
                Some(16303012 * 1024),
            ),
            ("MemFree: 1 kB\nMemTotal: 2 kB", Some(2048)),
            ("MemFree: 1 kB", None),
            ("MemTotal: x kB", None),
        ] {
            assert_eq!(parse_mem_total(text), want, "{text:?}");
        }
    }

    #[test]
    fn uuids_are_version_4() {
        let u = new_uuid();
        assert_eq!(u.len(), 36);
        assert_eq!(&u[14..15], "4");
        assert!(matches!(&u[19..20], "8" | "9" | "a" | "b"), "{u}");
    }
}
