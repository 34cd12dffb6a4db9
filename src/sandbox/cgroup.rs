//! A container's own cgroup: made in each relevant v1 hierarchy or in the unified (v2) one,
//! joined by pid, frozen and thawed for `pause`/`unpause`, read for `stats` and `top`, and
//! removed with the container. Every control file's format has a pure parser, tested on samples.

use std::collections::BTreeMap;
use std::io;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

/// The v1 controllers a container gets its own directory in. A new cpuset cgroup is unusable
/// until `cpuset.cpus` and `cpuset.mems` are set: `create` copies its parent's into it.
pub const V1_CONTROLLERS: &[&str] = &[
    "freezer", "memory", "cpu", "cpuacct", "pids", "blkio", "devices", "cpuset",
];

/// The v2 controllers enabled for children in each ancestor's `cgroup.subtree_control`.
const V2_CONTROLLERS: &[&str] = &["cpu", "memory", "pids", "io", "cpuset"];

/// The v1 cpuset files a child starts without (runc copies them down the same way).
const CPUSET_INHERITED: [&str; 2] = ["cpuset.cpus", "cpuset.mems"];

/// Every v1 controller name a kernel may list among a cgroup mount's options; the rest of the
/// options (`rw`, `name=systemd`, `xattr`, …) are not controllers.
const KNOWN_V1: &str = concat!(
    "blkio cpu cpuacct cpuset devices freezer hugetlb memory misc net_cls net_prio perf_event ",
    "pids rdma"
);

/// v1 writes "no limit" as the largest page-aligned i64 (9223372036854771712 with 4 KiB pages),
/// so any value this large means unlimited.
const UNLIMITED_FLOOR: u64 = 1 << 62;

/// How long `freeze`/`thaw` wait for the kernel to report the new state.
const STATE_TIMEOUT: Duration = Duration::from_secs(5);
/// How long `remove` retries EBUSY while killed processes leave the cgroup.
const REMOVE_TIMEOUT: Duration = Duration::from_secs(2);

#[derive(Debug, thiserror::Error)]
pub enum CgroupError {
    /// A control file or directory operation failed; `step` says which.
    #[error("{step} {path}: {source}")]
    Io {
        step: &'static str,
        path: PathBuf,
        source: io::Error,
    },
    #[error("writing {value:?} to {path}: {source}")]
    Write {
        path: PathBuf,
        value: String,
        source: io::Error,
    },
    #[error("no cgroup hierarchy is mounted (according to {path})")]
    NotMounted { path: PathBuf },
    #[error("invalid cgroup name {0:?}: it must be a relative path without `..`")]
    InvalidName(String),
    #[error("cgroup {path} does not exist")]
    Missing { path: PathBuf },
    #[error("unexpected contents in {path}: {detail}")]
    Parse { path: PathBuf, detail: String },
    #[error("cgroup {path} has no {controller} controller")]
    NoController {
        path: PathBuf,
        controller: &'static str,
    },
    #[error("cgroup {path} did not become {state} within {timeout:?}")]
    StateTimeout {
        path: PathBuf,
        state: &'static str,
        timeout: Duration,
    },
    #[error("removing cgroup {path}: processes {pids:?} still run in it")]
    Busy { path: PathBuf, pids: Vec<i32> },
}

/// An `Io` error maker for `map_err`.
fn io_err<'a>(step: &'static str, path: &'a Path) -> impl FnOnce(io::Error) -> CgroupError + 'a {
    move |source| CgroupError::Io {
        step,
        path: path.to_path_buf(),
        source,
    }
}

/// Removes the children of `parent` whose names `pick` accepts, that no process is in and
/// whose directories are older than `min_age` in every hierarchy: what a killed strata left.
/// The age spares one being set up (made just before its processes join it). Every
/// hierarchy is listed, since a removal cut short may have left only some of them. Returns
/// how many went.
pub fn remove_idle_children(
    layout: &Layout,
    parent: &str,
    pick: impl Fn(&str) -> bool,
    min_age: std::time::Duration,
) -> usize {
    let Ok(parent_cg) = Cgroup::open(layout, parent) else {
        return 0;
    };
    // name → whether its directory is old enough in every hierarchy it is in.
    let mut found: BTreeMap<String, bool> = BTreeMap::new();
    for dir in parent_cg.paths() {
        let Ok(listing) = std::fs::read_dir(dir) else {
            continue;
        };
        for entry in listing.flatten() {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !pick(&name) {
                continue;
            }
            let old_enough = entry
                .metadata()
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|age| age >= min_age));
            *found.entry(name).or_insert(true) &= old_enough;
        }
    }
    let mut removed = 0;
    for (name, old_enough) in found {
        if !old_enough {
            continue;
        }
        let Ok(cg) = Cgroup::open(layout, &format!("{parent}/{name}")) else {
            continue;
        };
        if cg.pids().is_ok_and(|pids| pids.is_empty()) && cg.remove().is_ok() {
            removed += 1;
        }
    }
    removed
}

/// Which cgroup hierarchies the host has mounted.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Layout {
    /// Only the unified hierarchy (no v1 controller is mounted).
    V2 { root: PathBuf },
    /// v1 controllers, each at its mount directory; co-mounted ones (`cpu,cpuacct`) share one.
    /// A hybrid host counts as v1: its unified mount holds no controllers.
    V1 {
        controllers: BTreeMap<String, PathBuf>,
    },
}

impl Layout {
    /// The host's layout, from `/proc/self/mountinfo`, read once per process: the kernel
    /// formats every mount for each read, and a container's start, exit and removal each
    /// need the layout.
    pub fn detect() -> Result<Layout, CgroupError> {
        static FOUND: std::sync::OnceLock<Layout> = std::sync::OnceLock::new();
        if let Some(layout) = FOUND.get() {
            return Ok(layout.clone());
        }
        let path = PathBuf::from("/proc/self/mountinfo");
        // In one read: `read_to_string`'s small first reads make the kernel format the
        // table again for each.
        let mut text = String::with_capacity(64 * 1024);
        std::fs::File::open(&path)
            .and_then(|mut f| io::Read::read_to_string(&mut f, &mut text))
            .map_err(io_err("reading", &path))?;
        let layout = parse_mountinfo(&text).ok_or(CgroupError::NotMounted { path })?;
        Ok(FOUND.get_or_init(|| layout).clone())
    }
}

/// The layout described by a mountinfo text, or `None` when no cgroup is mounted.
pub fn parse_mountinfo(text: &str) -> Option<Layout> {
    let mut controllers = BTreeMap::new();
    let mut unified = None;
    for (mount_point, fstype, options) in text.lines().filter_map(mount_entry) {
        match fstype {
            "cgroup" => {
                let known = |o: &&str| KNOWN_V1.split(' ').any(|k| k == *o);
                for opt in options.split(',').filter(known) {
                    controllers
                        .entry(opt.to_string())
                        .or_insert_with(|| mount_point.clone());
                }
            }
            "cgroup2" => {
                unified.get_or_insert(mount_point);
            }
            _ => {}
        }
    }
    if !controllers.is_empty() {
        Some(Layout::V1 { controllers })
    } else {
        unified.map(|root| Layout::V2 { root })
    }
}

/// (mount point, filesystem type, super options) of one mountinfo line.
fn mount_entry(line: &str) -> Option<(PathBuf, &str, &str)> {
    let (left, right) = line.split_once(" - ")?;
    let mount_point = left.split(' ').nth(4)?;
    let mut right = right.split(' ');
    let fstype = right.next()?;
    let options = right.nth(1).unwrap_or("");
    Some((PathBuf::from(unescape_octal(mount_point)), fstype, options))
}

/// mountinfo writes space, tab, newline and backslash in paths as octal escapes.
fn unescape_octal(s: &str) -> String {
    s.replace("\\040", " ")
        .replace("\\011", "\t")
        .replace("\\012", "\n")
        .replace("\\134", "\\")
}

/// Resource usage read from a cgroup's control files; a controller that is not mounted reads as
/// zero (or `None` for a limit).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CgroupStats {
    pub cpu_total_ns: u64,
    pub memory_usage: u64,
    /// `None` when unlimited.
    pub memory_limit: Option<u64>,
    /// Inactive file pages, which Docker subtracts from the usage it shows.
    pub memory_cache: u64,
    pub pids_current: u64,
    pub pids_limit: Option<u64>,
    pub blkio_read_bytes: u64,
    pub blkio_write_bytes: u64,
}

/// One control-file write that sets a limit: `value` into `file` of `controller` (ignored on
/// v2, where every controller's files share one directory).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Write {
    pub controller: &'static str,
    pub file: &'static str,
    pub value: String,
}

/// One container's cgroup, `rel` below each hierarchy's root.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Cgroup {
    rel: String,
    v2: bool,
    /// Controller name → this cgroup's directory in its hierarchy; v2 has one entry, named "".
    dirs: BTreeMap<&'static str, PathBuf>,
}

impl Cgroup {
    /// Makes the cgroup (and its parents) in every relevant hierarchy.
    pub fn create(layout: &Layout, rel: &str) -> Result<Cgroup, CgroupError> {
        let cg = Cgroup::at(layout, rel)?;
        for dir in cg.paths() {
            match layout {
                Layout::V2 { root } => create_v2(root, dir)?,
                Layout::V1 { controllers } => {
                    std::fs::create_dir_all(dir).map_err(io_err("creating cgroup", dir))?;
                    match controllers.get("cpuset") {
                        Some(top) if dir.starts_with(top) => inherit_cpuset_v1(top, dir)?,
                        _ => {}
                    }
                }
            }
        }
        Ok(cg)
    }

    /// An existing cgroup; v1 controllers where it has no directory are left out.
    pub fn open(layout: &Layout, rel: &str) -> Result<Cgroup, CgroupError> {
        let mut cg = Cgroup::at(layout, rel)?;
        let first = cg.dirs.values().next().cloned();
        cg.dirs.retain(|_, d| d.is_dir());
        if cg.dirs.is_empty() {
            let path = first.unwrap_or_else(|| PathBuf::from(rel));
            return Err(CgroupError::Missing { path });
        }
        Ok(cg)
    }

    /// The cgroup `rel` would be, made or not (nothing is read or written).
    pub fn at(layout: &Layout, rel: &str) -> Result<Cgroup, CgroupError> {
        let clean = rel.trim_matches('/');
        let bad = |c: &str| c.is_empty() || c == "." || c == "..";
        if clean.is_empty() || clean.split('/').any(bad) {
            return Err(CgroupError::InvalidName(rel.to_string()));
        }
        let (v2, dirs) = match layout {
            Layout::V2 { root } => (true, [("", root.join(clean))].into()),
            Layout::V1 { controllers } => {
                let dir = |c: &&'static str| Some((*c, controllers.get(*c)?.join(clean)));
                (false, V1_CONTROLLERS.iter().filter_map(dir).collect())
            }
        };
        let rel = clean.to_string();
        Ok(Cgroup { rel, v2, dirs })
    }

    /// The name below each hierarchy's root, e.g. `strata/<id>`.
    pub fn rel(&self) -> &str {
        &self.rel
    }

    /// Every directory of this cgroup, once each (co-mounted controllers share one).
    pub fn paths(&self) -> Vec<&Path> {
        let mut out: Vec<&Path> = self.dirs.values().map(PathBuf::as_path).collect();
        out.sort();
        out.dedup();
        out
    }

    /// This cgroup's directory in a v1 `controller`'s hierarchy (`None` on v2 or when absent).
    pub fn v1_dir(&self, controller: &str) -> Option<&Path> {
        (!self.v2)
            .then(|| self.dirs.get(controller))
            .flatten()
            .map(PathBuf::as_path)
    }

    /// The path of a control file of `controller`, or `None` when that controller is absent.
    fn file(&self, controller: &str, name: &str) -> Option<PathBuf> {
        let key = if self.v2 { "" } else { controller };
        self.dirs.get(key).map(|d| d.join(name))
    }

    /// Moves process `pid` (with its threads) into the cgroup in every hierarchy.
    pub fn add(&self, pid: i32) -> Result<(), CgroupError> {
        for dir in self.paths() {
            write(&dir.join("cgroup.procs"), &pid.to_string())?;
        }
        Ok(())
    }

    /// The processes in the cgroup and in any cgroup below it, sorted. v1 reads the freezer
    /// (or pids) hierarchy, where every container process is.
    pub fn pids(&self) -> Result<Vec<i32>, CgroupError> {
        let dir = ["", "freezer", "pids"]
            .iter()
            .find_map(|c| self.dirs.get(c));
        let mut out = Vec::new();
        if let Some(dir) = dir.or_else(|| self.dirs.values().next()) {
            collect_pids(dir, &mut out)?;
        }
        out.sort_unstable();
        out.dedup();
        Ok(out)
    }

    /// Freezes every process, returning once the kernel reports them all frozen.
    pub fn freeze(&self) -> Result<(), CgroupError> {
        self.set_frozen(true)
    }

    /// Thaws the processes `freeze` stopped.
    pub fn thaw(&self) -> Result<(), CgroupError> {
        self.set_frozen(false)
    }

    fn set_frozen(&self, frozen: bool) -> Result<(), CgroupError> {
        let (file, value) = match (self.v2, frozen) {
            (false, true) => ("freezer.state", "FROZEN"),
            (false, false) => ("freezer.state", "THAWED"),
            (true, true) => ("cgroup.freeze", "1"),
            (true, false) => ("cgroup.freeze", "0"),
        };
        let path = match self.file("freezer", file) {
            Some(path) if path.exists() => path,
            other => {
                let path = other.unwrap_or_else(|| PathBuf::from(&self.rel));
                let controller = "freezer";
                return Err(CgroupError::NoController { path, controller });
            }
        };
        let start = Instant::now();
        loop {
            // Writing again is harmless and re-kicks a v1 freeze stuck in FREEZING, which
            // happens while a task sits in an uninterruptible state.
            write(&path, value)?;
            if self.frozen_state()? == Some(frozen) {
                return Ok(());
            }
            if start.elapsed() > STATE_TIMEOUT {
                if frozen {
                    // Leave nothing half frozen behind; the timeout is the error to report.
                    let _ = self.set_frozen(false);
                }
                let state = if frozen { "frozen" } else { "thawed" };
                let timeout = STATE_TIMEOUT;
                return Err(CgroupError::StateTimeout {
                    path,
                    state,
                    timeout,
                });
            }
            std::thread::sleep(Duration::from_millis(5));
        }
    }

    /// Whether the kernel reports every process frozen (a v1 freeze still in FREEZING is not).
    pub fn is_frozen(&self) -> Result<bool, CgroupError> {
        Ok(self.frozen_state()? == Some(true))
    }

    /// `Some(true)` frozen, `Some(false)` thawed, `None` in between or without a freezer.
    fn frozen_state(&self) -> Result<Option<bool>, CgroupError> {
        if self.v2 {
            return Ok(keyed(&self.text("", "cgroup.events")?, "frozen").map(|v| v == 1));
        }
        Ok(match self.text("freezer", "freezer.state")?.trim() {
            "FROZEN" => Some(true),
            "THAWED" => Some(false),
            _ => None,
        })
    }

    /// SIGKILLs every process in the cgroup and waits (a while) until none is left: v2's
    /// `cgroup.kill` where the kernel has it, else each process of `pids`, frozen first so
    /// that none forks a new one meanwhile.
    pub fn kill_all(&self) -> Result<(), CgroupError> {
        let kill_file = self
            .file("", "cgroup.kill")
            .filter(|p| self.v2 && p.exists());
        if let Some(path) = kill_file {
            write(&path, "1")?;
        } else {
            let frozen = self.freeze().is_ok();
            for pid in self.pids()? {
                // SAFETY: a plain kill(2).
                unsafe { libc::kill(pid, libc::SIGKILL) };
            }
            if frozen {
                self.thaw()?;
            }
        }
        let start = Instant::now();
        while !self.pids()?.is_empty() && start.elapsed() < STATE_TIMEOUT {
            std::thread::sleep(Duration::from_millis(5));
        }
        Ok(())
    }

    /// Removes the cgroup's directories (and any cgroup made below them). Already gone is fine.
    pub fn remove(&self) -> Result<(), CgroupError> {
        for dir in self.paths() {
            remove_tree(dir)?;
        }
        Ok(())
    }

    /// Whether this cgroup is in the unified (v2) hierarchy.
    pub fn is_v2(&self) -> bool {
        self.v2
    }

    /// Whether `controller` has the control file `name` here (v1 `memory.memsw.*` exists only
    /// with swap accounting, v2 `memory.swap.max` only with swap support).
    pub fn has_file(&self, controller: &str, name: &str) -> bool {
        self.file(controller, name).is_some_and(|p| p.exists())
    }

    /// Makes each write in order. A controller that is not there (not mounted on v1, not
    /// enabled for this subtree on v2) is `NoController`, before anything is written.
    pub fn set(&self, writes: &[Write]) -> Result<(), CgroupError> {
        let mut paths = Vec::with_capacity(writes.len());
        for w in writes {
            match self.file(w.controller, w.file) {
                Some(path) if path.exists() => paths.push(path),
                other => {
                    let path = other.unwrap_or_else(|| PathBuf::from(&self.rel).join(w.file));
                    let controller = w.controller;
                    return Err(CgroupError::NoController { path, controller });
                }
            }
        }
        for (path, w) in paths.iter().zip(writes) {
            write(path, &w.value)?;
        }
        Ok(())
    }

    /// The memory limit now in force; `None` when unlimited or without a memory controller.
    pub fn memory_limit(&self) -> Result<Option<u64>, CgroupError> {
        let file = if self.v2 {
            "memory.max"
        } else {
            "memory.limit_in_bytes"
        };
        Ok(parse_limit(&self.text("memory", file)?))
    }

    /// How many processes the OOM killer killed in this cgroup (v1 `memory.oom_control`, v2
    /// `memory.events`, both `oom_kill N`); 0 without a memory controller.
    pub fn oom_kills(&self) -> Result<u64, CgroupError> {
        let file = if self.v2 {
            "memory.events"
        } else {
            "memory.oom_control"
        };
        Ok(keyed(&self.text("memory", file)?, "oom_kill").unwrap_or(0))
    }

    /// The cgroup's resource usage from whichever controllers are present.
    pub fn stats(&self) -> Result<CgroupStats, CgroupError> {
        let t = |controller, name| self.text(controller, name);
        let num = |text: String| text.trim().parse::<u64>().unwrap_or(0);
        let (usage, limit, cache_key);
        let mut s = CgroupStats::default();
        if self.v2 {
            s.cpu_total_ns = keyed(&t("cpu", "cpu.stat")?, "usage_usec").unwrap_or(0) * 1000;
            (usage, limit) = ("memory.current", "memory.max");
            cache_key = "inactive_file";
            (s.blkio_read_bytes, s.blkio_write_bytes) = parse_io_stat(&t("io", "io.stat")?);
        } else {
            s.cpu_total_ns = num(t("cpuacct", "cpuacct.usage")?);
            (usage, limit) = ("memory.usage_in_bytes", "memory.limit_in_bytes");
            cache_key = "total_inactive_file";
            // The recursive file counts nested cgroups' I/O too; older kernels lack it.
            let mut io = t("blkio", "blkio.throttle.io_service_bytes_recursive")?;
            if io.is_empty() {
                io = t("blkio", "blkio.throttle.io_service_bytes")?;
            }
            (s.blkio_read_bytes, s.blkio_write_bytes) = parse_blkio_v1(&io);
        }
        s.memory_usage = num(t("memory", usage)?);
        s.memory_limit = parse_limit(&t("memory", limit)?);
        s.memory_cache = keyed(&t("memory", "memory.stat")?, cache_key).unwrap_or(0);
        s.pids_current = num(t("pids", "pids.current")?);
        s.pids_limit = parse_limit(&t("pids", "pids.max")?);
        Ok(s)
    }

    /// A control file's text; empty when the controller or the file is absent.
    fn text(&self, controller: &str, name: &str) -> Result<String, CgroupError> {
        match self.file(controller, name) {
            Some(path) => Ok(read_opt(&path)?.unwrap_or_default()),
            None => Ok(String::new()),
        }
    }
}

/// Creates `dir` below the v2 `root`, enabling the container controllers for children in each
/// ancestor first. Enabling may fail (a controller in use by a v1 mount, or an ancestor that
/// holds processes itself); the cgroup then works without that controller.
fn create_v2(root: &Path, dir: &Path) -> Result<(), CgroupError> {
    let rel = dir.strip_prefix(root).unwrap_or(dir);
    let mut parent = root.to_path_buf();
    for component in rel.components() {
        let available = read_opt(&parent.join("cgroup.controllers"))?.unwrap_or_default();
        let control = parent.join("cgroup.subtree_control");
        let enabled = read_opt(&control)?.unwrap_or_default();
        for c in V2_CONTROLLERS {
            let has = |list: &str| list.split_whitespace().any(|w| w == *c);
            if has(&available) && !has(&enabled) {
                let _ = std::fs::write(&control, format!("+{c}"));
            }
        }
        parent.push(component);
        match std::fs::create_dir(&parent) {
            Err(e) if e.kind() != io::ErrorKind::AlreadyExists => {
                return Err(io_err("creating cgroup", &parent)(e))
            }
            _ => {}
        }
    }
    Ok(())
}

/// Fills each empty `CPUSET_INHERITED` file from `top` (the hierarchy's root) down to `dir`
/// with its parent's value.
fn inherit_cpuset_v1(top: &Path, dir: &Path) -> Result<(), CgroupError> {
    let rel = dir.strip_prefix(top).unwrap_or(dir);
    let mut parent = top.to_path_buf();
    for component in rel.components() {
        let child = parent.join(component);
        for file in CPUSET_INHERITED {
            let own = read_opt(&child.join(file))?.unwrap_or_default();
            if own.trim().is_empty() {
                let theirs = read_opt(&parent.join(file))?.unwrap_or_default();
                write(&child.join(file), theirs.trim())?;
            }
        }
        parent = child;
    }
    Ok(())
}

fn collect_pids(dir: &Path, out: &mut Vec<i32>) -> Result<(), CgroupError> {
    let Some(text) = read_opt(&dir.join("cgroup.procs"))? else {
        return Ok(());
    };
    out.extend(parse_procs(&text));
    for sub in subdirs(dir)? {
        collect_pids(&sub, out)?;
    }
    Ok(())
}

fn subdirs(dir: &Path) -> Result<Vec<PathBuf>, CgroupError> {
    let entries = match std::fs::read_dir(dir) {
        Ok(e) => e,
        Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(e) => return Err(io_err("listing", dir)(e)),
    };
    Ok(entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
        .map(|e| e.path())
        .collect())
}

/// Removes a cgroup directory, children first, retrying EBUSY while exiting processes leave.
fn remove_tree(dir: &Path) -> Result<(), CgroupError> {
    for sub in subdirs(dir)? {
        remove_tree(&sub)?;
    }
    let start = Instant::now();
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) if e.raw_os_error() == Some(libc::EBUSY) && start.elapsed() < REMOVE_TIMEOUT => {
                std::thread::sleep(Duration::from_millis(10));
            }
            Err(e) => {
                let procs = read_opt(&dir.join("cgroup.procs"))?.unwrap_or_default();
                let path = dir.to_path_buf();
                return Err(match parse_procs(&procs) {
                    pids if !pids.is_empty() => CgroupError::Busy { path, pids },
                    _ => io_err("removing cgroup", dir)(e),
                });
            }
        }
    }
}

fn read(path: &Path) -> Result<String, CgroupError> {
    std::fs::read_to_string(path).map_err(io_err("reading", path))
}

/// A control file's contents, or `None` when the file does not exist (controller absent).
fn read_opt(path: &Path) -> Result<Option<String>, CgroupError> {
    match std::fs::read_to_string(path) {
        Ok(t) => Ok(Some(t)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(None),
        Err(e) => Err(io_err("reading", path)(e)),
    }
}

fn write(path: &Path, value: &str) -> Result<(), CgroupError> {
    std::fs::write(path, value).map_err(|source| CgroupError::Write {
        path: path.to_path_buf(),
        value: value.to_string(),
        source,
    })
}

/// The pids in a `cgroup.procs` file.
pub fn parse_procs(text: &str) -> Vec<i32> {
    text.split_whitespace()
        .filter_map(|w| w.parse().ok())
        .collect()
}

/// The value of `key` in a flat keyed file (`memory.stat`, `cpu.stat`, `cgroup.events`).
pub fn keyed(text: &str, key: &str) -> Option<u64> {
    text.lines().find_map(|line| {
        let (k, v) = line.split_once(' ')?;
        (k == key).then(|| v.trim().parse().ok()).flatten()
    })
}

/// A limit file's value; `None` for no limit (v2 `max`, or v1's huge sentinel).
pub fn parse_limit(text: &str) -> Option<u64> {
    let value: u64 = text.trim().parse().ok()?;
    (value < UNLIMITED_FLOOR).then_some(value)
}

/// (read, write) bytes summed over devices from v1 `blkio.throttle.io_service_bytes`, whose
/// lines read `MAJ:MIN Op bytes` and end with a `Total bytes` line.
pub fn parse_blkio_v1(text: &str) -> (u64, u64) {
    let (mut read, mut write) = (0u64, 0u64);
    for line in text.lines() {
        let f: Vec<&str> = line.split_whitespace().collect();
        let [_, op, bytes] = f[..] else { continue };
        let bytes: u64 = bytes.parse().unwrap_or(0);
        match op.to_ascii_lowercase().as_str() {
            "read" => read = read.saturating_add(bytes),
            "write" => write = write.saturating_add(bytes),
            _ => {}
        }
    }
    (read, write)
}

/// (read, write) bytes summed over devices from v2 `io.stat`
/// (`MAJ:MIN rbytes=N wbytes=N rios=N …`).
pub fn parse_io_stat(text: &str) -> (u64, u64) {
    let (mut read, mut write) = (0u64, 0u64);
    for field in text.split_whitespace() {
        let Some((k, v)) = field.split_once('=') else {
            continue;
        };
        let v: u64 = v.parse().unwrap_or(0);
        match k {
            "rbytes" => read = read.saturating_add(v),
            "wbytes" => write = write.saturating_add(v),
            _ => {}
        }
    }
    (read, write)
}

/// The host's total CPU time in ns from the `cpu` line of `/proc/stat`, summed as Docker sums
/// it: user, nice, system, idle, iowait, irq and softirq (not steal or guest), so CPU % matches.
pub fn parse_proc_stat_cpu(text: &str, clk_tck: u64) -> Option<u64> {
    let line = text.lines().find(|l| l.starts_with("cpu "))?;
    let ticks: Vec<u64> = line
        .split_whitespace()
        .skip(1)
        .take(7)
        .map(|w| w.parse().ok())
        .collect::<Option<_>>()?;
    if ticks.len() < 7 || clk_tck == 0 {
        return None;
    }
    Some(ticks.iter().sum::<u64>() * (1_000_000_000 / clk_tck))
}

/// The host's total CPU time in ns (the denominator of Docker's CPU %).
pub fn system_cpu_ns() -> Result<u64, CgroupError> {
    let path = PathBuf::from("/proc/stat");
    let text = read(&path)?;
    let clk_tck = nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
        .ok()
        .flatten()
        .map_or(100, |v| v as u64);
    parse_proc_stat_cpu(&text, clk_tck).ok_or(CgroupError::Parse {
        path,
        detail: "no complete `cpu` line".into(),
    })
}

/// The number of online CPUs, as Docker reports in `online_cpus`.
pub fn online_cpus() -> u32 {
    nix::unistd::sysconf(nix::unistd::SysconfVar::_NPROCESSORS_ONLN)
        .ok()
        .flatten()
        .map_or(1, |n| n.max(1) as u32)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_layouts() {
        let v2 = |root: &str| Some(Layout::V2 { root: root.into() });
        let cases = [
            (
                "9 1 0:26 / /sys/fs/cgroup rw - cgroup2 cgroup2 rw,nsdelegate\n",
                v2("/sys/fs/cgroup"),
            ),
            ("1 0 0:1 / /a\\040b rw - cgroup2 none rw\n", v2("/a b")),
            ("22 1 0:5 / / rw - ext4 /dev/sda rw\n", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_mountinfo(text), want, "{text}");
        }
    }

    #[test]
    fn hybrid_layout_with_co_mounted_controllers() {
        let hybrid = "\
31 23 0:28 / /sys/fs/cgroup rw,relatime - tmpfs tmpfs rw,mode=755
32 31 0:29 / /sys/fs/cgroup/cpu,cpuacct rw,relatime shared:9 - cgroup cgroup rw,cpu,cpuacct
35 31 0:32 / /sys/fs/cgroup/memory rw,relatime - cgroup cgroup rw,memory
37 31 0:34 / /sys/fs/cgroup/freezer rw,relatime - cgroup cgroup rw,freezer
40 31 0:37 / /sys/fs/cgroup/systemd rw,relatime - cgroup cgroup rw,xattr,name=systemd
41 31 0:38 / /sys/fs/cgroup/unified rw,relatime - cgroup2 cgroup2 rw,nsdelegate
";
        let layout = parse_mountinfo(hybrid).unwrap();
        let Layout::V1 { controllers } = &layout else {
            panic!("{layout:?}")
        };
        let names: Vec<&str> = controllers.keys().map(String::as_str).collect();
        assert_eq!(names, ["cpu", "cpuacct", "freezer", "memory"]);
        let cg = Cgroup::at(&layout, "/strata/abc/").unwrap();
        assert_eq!(cg.rel(), "strata/abc");
        let paths: Vec<&str> = cg.paths().iter().map(|p| p.to_str().unwrap()).collect();
        let want = [
            "cpu,cpuacct/strata/abc",
            "freezer/strata/abc",
            "memory/strata/abc",
        ];
        assert_eq!(paths, want.map(|w| format!("/sys/fs/cgroup/{w}")));
        for bad in ["", "/", "a/../b", "a//b", "./a"] {
            let got = Cgroup::at(&layout, bad);
            assert!(matches!(got, Err(CgroupError::InvalidName(_))), "{bad}");
        }
    }

    #[test]
    fn limits() {
        let cases = [
            ("9223372036854771712\n", None),
            ("max\n", None),
            ("536870912\n", Some(536870912)),
            ("", None),
        ];
        for (text, want) in cases {
            assert_eq!(parse_limit(text), want, "{text:?}");
        }
    }

    #[test]
    fn keyed_files() {
        let v1_mem = "cache 12750848\ninactive_file 40960\ntotal_inactive_file 4220301312\n";
        let v2_cpu = "usage_usec 1234567\nuser_usec 1000000\nsystem_usec 234567\n";
        let cases = [
            (v1_mem, "total_inactive_file", Some(4220301312)),
            (v1_mem, "inactive_file", Some(40960)),
            (v2_cpu, "usage_usec", Some(1234567)),
            ("populated 1\nfrozen 0\n", "frozen", Some(0)),
            ("populated 1\n", "frozen", None),
            (
                "oom_kill_disable 0\nunder_oom 0\noom_kill 2\n",
                "oom_kill",
                Some(2),
            ),
            (
                "low 0\nhigh 0\nmax 9\noom 3\noom_kill 1\n",
                "oom_kill",
                Some(1),
            ),
        ];
        for (text, key, want) in cases {
            assert_eq!(keyed(text, key), want, "{key}");
        }
        assert_eq!(parse_procs("12\n345\n"), [12, 345]);
    }

    #[test]
    fn io_files() {
        let v1 = "8:0 Read 4096\n8:0 Write 8192\n8:0 Sync 0\n8:0 Async 12288\n8:0 Total 12288\n\
                  8:16 Read 100\n8:16 Write 0\nTotal 12388\n";
        assert_eq!(parse_blkio_v1(v1), (4196, 8192));
        assert_eq!(parse_blkio_v1("Total 0\n"), (0, 0));
        let v2 = "8:0 rbytes=1048576 wbytes=2048 rios=10 wios=1 dbytes=0 dios=0\n\
                  253:1 rbytes=4096 wbytes=0 rios=1 wios=0 dbytes=0 dios=0\n";
        assert_eq!(parse_io_stat(v2), (1052672, 2048));
        assert_eq!(parse_io_stat(""), (0, 0));
    }

    #[test]
    fn proc_stat_cpu_line() {
        let text = "cpu  100 0 50 800 10 0 5 7 0 0\ncpu0 50 0 25 400 5 0 2 3 0 0\n";
        assert_eq!(parse_proc_stat_cpu(text, 100), Some(965 * 10_000_000));
        assert_eq!(parse_proc_stat_cpu("cpu  1 2 3\n", 100), None);
        assert_eq!(parse_proc_stat_cpu("intr 5\n", 100), None);
        assert!(system_cpu_ns().unwrap() > 0);
        assert!(online_cpus() >= 1);
    }

    /// `set` refuses a write to a controller that is not mounted before writing anything.
    #[test]
    fn set_needs_every_controller() {
        let tmp = tempfile::tempdir().unwrap();
        let cpu = tmp.path().join("cpu");
        let layout = Layout::V1 {
            controllers: [("cpu".to_string(), cpu.clone())].into(),
        };
        let cg = Cgroup::create(&layout, "strata/x").unwrap();
        let shares = cpu.join("strata/x/cpu.shares");
        std::fs::write(&shares, "1024").unwrap();
        let w = |controller, file: &'static str, value: &str| Write {
            controller,
            file,
            value: value.into(),
        };
        let both = [
            w("cpu", "cpu.shares", "512"),
            w("memory", "memory.limit_in_bytes", "1"),
        ];
        let err = cg.set(&both).unwrap_err();
        assert!(
            matches!(
                &err,
                CgroupError::NoController {
                    controller: "memory",
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(std::fs::read_to_string(&shares).unwrap(), "1024");
        cg.set(&both[..1]).unwrap();
        assert_eq!(std::fs::read_to_string(&shares).unwrap(), "512");
        // A v1 file that is absent (no swap accounting) is refused the same way.
        let err = cg.set(&[w("cpu", "cpu.cfs_quota_us", "1")]).unwrap_err();
        assert!(matches!(err, CgroupError::NoController { .. }), "{err}");
    }

    /// Kills the child and removes the cgroup even when an assertion fails first.
    struct Guard(std::process::Child, Cgroup);

    impl Drop for Guard {
        fn drop(&mut self) {
            let _ = self.0.kill();
            let _ = self.0.wait();
            let _ = self.1.remove();
            for p in self.1.paths() {
                // The shared parent may hold another test's cgroup: best effort.
                let _ = std::fs::remove_dir(p.parent().unwrap());
            }
        }
    }

    /// The child joins the cgroup before it execs `sleep`, so the pages that maps are charged
    /// to the cgroup (v1 does not move charges made before joining).
    fn exercise(layout: &Layout, check_usage: bool) {
        use std::io::Write;
        static SEQ: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
        let seq = SEQ.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let rel = format!("strata-test/{}-{seq}", std::process::id());
        let cg = Cgroup::create(layout, &rel).unwrap();
        assert!(cg.paths().iter().all(|p| p.is_dir()));
        let child = std::process::Command::new("sh")
            .args(["-c", "read _; exec sleep 30"])
            .stdin(std::process::Stdio::piped())
            .spawn()
            .unwrap();
        let mut guard = Guard(child, cg.clone());
        let pid = guard.0.id() as i32;
        cg.add(pid).unwrap();
        guard.0.stdin.take().unwrap().write_all(b"\n").unwrap();
        assert!(cg.pids().unwrap().contains(&pid));
        assert_eq!(Cgroup::open(layout, &rel).unwrap(), cg);

        cg.freeze().unwrap();
        assert!(cg.is_frozen().unwrap());
        let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
        let state = status.lines().find(|l| l.starts_with("State:")).unwrap();
        assert!(!state.contains("R (running)"), "{state}");
        cg.thaw().unwrap();
        assert!(!cg.is_frozen().unwrap());

        let start = Instant::now();
        let mut s = cg.stats().unwrap();
        while check_usage && s.memory_usage == 0 && start.elapsed() < Duration::from_secs(3) {
            std::thread::sleep(Duration::from_millis(20));
            s = cg.stats().unwrap();
        }
        assert!(
            !check_usage || (s.pids_current >= 1 && s.memory_usage > 0),
            "{s:?}"
        );

        let busy = cg.remove();
        let names_pid = matches!(&busy, Err(CgroupError::Busy { pids, .. }) if pids.contains(&pid));
        assert!(names_pid, "{busy:?}");

        guard.0.kill().unwrap();
        guard.0.wait().unwrap();
        cg.remove().unwrap();
        assert!(cg.paths().iter().all(|p| !p.exists()));
        let gone = Cgroup::open(layout, &rel);
        assert!(matches!(gone, Err(CgroupError::Missing { .. })), "{gone:?}");
    }

    #[test]
    fn lifecycle_in_host_layout() {
        exercise(&Layout::detect().unwrap(), true);
    }

    /// On a hybrid host the unified hierarchy has no controllers but still freezes (5.2+).
    #[test]
    fn lifecycle_in_unified_hierarchy() {
        let text = std::fs::read_to_string("/proc/self/mountinfo").unwrap();
        let mut mounts = text.lines().filter_map(mount_entry);
        let unified = mounts.find(|(_, fstype, _)| *fstype == "cgroup2");
        if let (Some(Layout::V1 { .. }), Some((root, _, _))) = (parse_mountinfo(&text), unified) {
            exercise(&Layout::V2 { root }, false);
        }
    }
}
