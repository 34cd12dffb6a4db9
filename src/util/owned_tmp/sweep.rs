//! The sweep: which items of an area have a dead owner, and their removal. Deciding is kept
//! apart from the file system behind [`SweepOps`], so the rules are tested as a table with a
//! fake lock prober.

use std::fs::{self, File, OpenOptions};
use std::io;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{Flock, FlockArg};

use super::mountinfo::{detach_mounts_under, mounts_under};
use super::{remove_tree, same_file};

/// `<item>` is owned through `<item>.lock`.
pub const LOCK_SUFFIX: &str = ".lock";

/// One entry of an area's listing, as a sweep sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Found {
    /// An item whose lock file is in the listing (the item itself may already be gone).
    Leased(String),
    /// A name with no lock file beside it: not made through a lease (an older strata's temp
    /// file, or data kept on purpose such as a pull's partial blob).
    Unleased(String),
}

/// Groups a listing: each lock file stands for its item; a name with no lock is unleased.
/// Sorted by name, so a sweep's order (and a test's expectation) does not depend on readdir.
pub fn group<I: IntoIterator<Item = String>>(names: I) -> Vec<Found> {
    let mut names: Vec<String> = names.into_iter().collect();
    names.sort();
    let locks: std::collections::HashSet<&str> = names
        .iter()
        .filter_map(|n| n.strip_suffix(LOCK_SUFFIX))
        .collect();
    let mut out = Vec::new();
    for n in &names {
        if let Some(item) = n.strip_suffix(LOCK_SUFFIX) {
            out.push(Found::Leased(item.to_string()));
        } else if !locks.contains(n.as_str()) {
            out.push(Found::Unleased(n.clone()));
        }
    }
    out
}

/// What happens to unleased names.
#[derive(Debug, Clone, Copy)]
pub enum Orphans<'a> {
    /// Left alone: while another strata of any version may be running, they may be its.
    Keep,
    /// Removed, except names starting with one of these prefixes (for when no other strata
    /// can be running: `system prune`, or a store open that got the gc lock exclusively).
    Reclaim { except: &'a [&'a str] },
}

/// A lock file as a probe found it.
#[derive(Debug)]
pub enum LockState<H> {
    /// Its owner is alive.
    Held,
    /// Nobody held it; the probe holds it now, so no one can take the name meanwhile.
    Free(H),
    /// The file went away between the listing and the probe (its owner finished, or another
    /// sweep was quicker).
    Gone,
    /// It could not be probed (permissions): leave the item alone.
    Unknown(io::Error),
}

/// The file-system side of a sweep.
pub trait SweepOps {
    /// A lock taken on a dead owner's behalf.
    type Held;
    fn probe(&mut self, lock: &Path) -> LockState<Self::Held>;
    fn lock_exists(&mut self, lock: &Path) -> bool;
    /// Removes `item` (a file or tree, after detaching mounts under it); returns the bytes
    /// freed, or `None` when there was nothing (an owner killed before making its item).
    fn reclaim(&mut self, item: &Path) -> io::Result<Option<u64>>;
    /// Removes a lock file whose item is gone, while still holding it.
    fn remove_lock(&mut self, lock: &Path, held: Self::Held);
}

/// What a sweep did.
#[derive(Debug, Default)]
pub struct SweepReport {
    /// Items removed (names in the area).
    pub reclaimed: Vec<String>,
    pub bytes: u64,
    /// Items whose owner is alive.
    pub alive: Vec<String>,
    /// Unleased names left alone.
    pub unleased: Vec<String>,
    /// Items that could not be probed or removed, with why; the next sweep tries again.
    pub failed: Vec<(String, String)>,
}

impl SweepReport {
    /// Unleased names other than those starting with `kept` prefixes.
    pub fn orphans(&self, kept: &[&str]) -> usize {
        self.unleased
            .iter()
            .filter(|n| !kept.iter().any(|k| n.starts_with(k)))
            .count()
    }
}

fn lock_name(item: &str) -> String {
    format!("{item}{LOCK_SUFFIX}")
}

/// Sweeps `area` given its listing `names`.
pub fn sweep_with<O: SweepOps>(
    area: &Path,
    names: Vec<String>,
    orphans: Orphans<'_>,
    ops: &mut O,
) -> SweepReport {
    let mut report = SweepReport::default();
    for found in group(names) {
        match found {
            Found::Leased(item) => leased(area, item, ops, &mut report),
            Found::Unleased(name) => {
                // A listing made while a lease was being taken can show the new item but
                // not its lock file: look again before calling the name unleased.
                if ops.lock_exists(&area.join(lock_name(&name))) {
                    leased(area, name, ops, &mut report);
                    continue;
                }
                let keep = match orphans {
                    Orphans::Keep => true,
                    Orphans::Reclaim { except } => except.iter().any(|p| name.starts_with(p)),
                };
                if keep {
                    report.unleased.push(name);
                    continue;
                }
                match ops.reclaim(&area.join(&name)) {
                    Ok(Some(bytes)) => {
                        report.bytes += bytes;
                        report.reclaimed.push(name);
                    }
                    Ok(None) => {}
                    Err(e) => report.failed.push((name, e.to_string())),
                }
            }
        }
    }
    report
}

fn leased<O: SweepOps>(area: &Path, item: String, ops: &mut O, report: &mut SweepReport) {
    let lock = area.join(lock_name(&item));
    match ops.probe(&lock) {
        LockState::Held => report.alive.push(item),
        LockState::Gone => {}
        LockState::Unknown(e) => report.failed.push((item, e.to_string())),
        LockState::Free(held) => match ops.reclaim(&area.join(&item)) {
            Ok(freed) => {
                ops.remove_lock(&lock, held);
                if let Some(bytes) = freed {
                    report.bytes += bytes;
                    report.reclaimed.push(item);
                }
            }
            // The lock file stays, and is freed as `held` drops: the next sweep tries again.
            Err(e) => report.failed.push((item, e.to_string())),
        },
    }
}

/// Sweeps `area`: removes every item whose owner is dead (and, by `orphans`, unleased ones).
/// Costs one directory listing when the area is empty; mounts are looked up only when
/// something is to be removed. Never fails: what cannot be done is reported and left for the
/// next sweep.
pub fn sweep(area: &Path, orphans: Orphans<'_>) -> SweepReport {
    let names: Vec<String> = match fs::read_dir(area) {
        Ok(rd) => rd
            .filter_map(Result::ok)
            .filter_map(|e| e.file_name().into_string().ok())
            .collect(),
        Err(_) => return SweepReport::default(),
    };
    if names.is_empty() {
        return SweepReport::default();
    }
    sweep_with(area, names, orphans, &mut RealOps::new(area))
}

/// The real file system, with mountinfo read at most once per sweep.
struct RealOps {
    area: PathBuf,
    /// The area's canonical path and the mount table, once something is reclaimed.
    mounts: Option<io::Result<(PathBuf, String)>>,
}

impl RealOps {
    fn new(area: &Path) -> Self {
        RealOps {
            area: area.to_path_buf(),
            mounts: None,
        }
    }
}

impl SweepOps for RealOps {
    type Held = Flock<File>;

    fn probe(&mut self, lock: &Path) -> LockState<Flock<File>> {
        let file = match OpenOptions::new()
            .read(true)
            .custom_flags(libc::O_NOFOLLOW)
            .open(lock)
        {
            Ok(f) => f,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return LockState::Gone,
            Err(e) => return LockState::Unknown(e),
        };
        match Flock::lock(file, FlockArg::LockExclusiveNonblock) {
            // Another sweep may have reclaimed and unlinked it while we opened it.
            Ok(held) if same_file(&held, lock) => LockState::Free(held),
            Ok(_) => LockState::Gone,
            Err((_, Errno::EWOULDBLOCK)) => LockState::Held,
            Err((_, e)) => LockState::Unknown(e.into()),
        }
    }

    fn lock_exists(&mut self, lock: &Path) -> bool {
        fs::symlink_metadata(lock).is_ok()
    }

    fn reclaim(&mut self, item: &Path) -> io::Result<Option<u64>> {
        match fs::symlink_metadata(item) {
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            _ => {}
        }
        let area = &self.area;
        let mounts = self.mounts.get_or_insert_with(|| {
            Ok((
                fs::canonicalize(area)?,
                fs::read_to_string("/proc/self/mountinfo")?,
            ))
        });
        let (canonical_area, info) = match mounts {
            Ok(m) => m,
            Err(e) => return Err(io::Error::new(e.kind(), e.to_string())),
        };
        let target = canonical_area.join(item.file_name().unwrap_or_default());
        if !mounts_under(info, &target).is_empty() {
            detach_mounts_under(info, &target)?;
            // Deleting through a mount that is still there would delete what it shows (a
            // mount copied into a rootless strata's namespace is locked and cannot go).
            let fresh = fs::read_to_string("/proc/self/mountinfo")?;
            let left = mounts_under(&fresh, &target);
            *info = fresh;
            if let Some(mp) = left.first() {
                return Err(io::Error::other(format!(
                    "{} is still mounted",
                    mp.display()
                )));
            }
        }
        let bytes = tree_size(item);
        remove_tree(item)?;
        Ok(Some(bytes))
    }

    fn remove_lock(&mut self, lock: &Path, held: Flock<File>) {
        let _ = fs::remove_file(lock);
        drop(held);
    }
}

/// Bytes of regular files in a tree, not crossing into other file systems.
fn tree_size(path: &Path) -> u64 {
    walkdir::WalkDir::new(path)
        .same_file_system(true)
        .into_iter()
        .filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

#[cfg(test)]
#[path = "sweep_tests.rs"]
mod tests;
