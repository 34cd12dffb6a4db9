//! `builder prune`: garbage collection of the build cache with a size budget. The build cache
//! is the cache index's entries (with the layer blobs only they reference), the snapshots no
//! image uses, and directories the caller adds (RUN cache mounts). Images are never touched.
//!
//! Each item has a size and a last-use time (a cache entry's file is touched on every hit).
//! Which items go is a pure choice ([`choose`]): by default only what can never give a cache
//! hit by itself (entries whose blob is gone, snapshots, which are rebuilt from blobs on
//! demand); `all` everything; `until` only items unused for that long; `keep_storage` the
//! least recently used first until the rest fits the budget.

use std::collections::HashSet;
use std::fs;
use std::path::PathBuf;
use std::time::SystemTime;

use super::cache::{CacheEntry, CacheResult, CACHE_DIR};
use super::error::StoreError;
use super::gc::{read_dir_or_empty, remove_any, snapshot_name_matches, tree_size};
use super::layout::Store;
use crate::digest::Digest;

#[derive(Debug, Clone, Default)]
pub struct BuildPruneOptions {
    /// Remove every cache item, not only those that can give no hit (`--all`).
    pub all: bool,
    /// Keep at most this many bytes of build cache, least recently used removed first.
    pub keep_storage: Option<u64>,
    /// Only items last used before this time (`--filter until=DURATION`).
    pub unused_since: Option<SystemTime>,
    /// More cache directories, each one item (RUN cache mounts).
    pub extra: Vec<PathBuf>,
    /// Manifests whose snapshots stay (the images of existing containers).
    pub keep_manifests: Vec<Digest>,
}

#[derive(Debug, Default, PartialEq, Eq)]
pub struct BuildPruneReport {
    pub entries: usize,
    pub blobs: usize,
    pub snapshots: usize,
    pub extra: usize,
    pub reclaimed: u64,
    /// The name of each removed item (a cache key, a snapshot, a cache mount), as Docker's
    /// `CachesDeleted` lists record IDs.
    pub deleted: Vec<String>,
}

/// One candidate, as [`choose`] sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Item {
    pub size: u64,
    pub last_used: SystemTime,
    /// Can give no cache hit by itself (removing it loses nothing a rebuild would reuse).
    pub dangling: bool,
}

/// Indices of the items to remove.
pub fn choose(items: &[Item], opts: &BuildPruneOptions) -> Vec<usize> {
    let old_enough = |i: &Item| opts.unused_since.is_none_or(|cutoff| i.last_used < cutoff);
    let mut chosen: Vec<usize> = (0..items.len())
        .filter(|&i| old_enough(&items[i]) && (opts.all || items[i].dangling))
        .collect();
    if let Some(budget) = opts.keep_storage {
        let mut kept: u64 = items.iter().map(|i| i.size).sum::<u64>()
            - chosen.iter().map(|&i| items[i].size).sum::<u64>();
        let mut lru: Vec<usize> = (0..items.len())
            .filter(|i| !chosen.contains(i) && old_enough(&items[*i]))
            .collect();
        lru.sort_by_key(|&i| (items[i].last_used, i));
        for i in lru {
            if kept <= budget {
                break;
            }
            kept -= items[i].size;
            chosen.push(i);
        }
    }
    chosen.sort_unstable();
    chosen
}

enum What {
    Entry { path: PathBuf, blob: Option<Digest> },
    Snapshot(PathBuf),
    Extra(PathBuf),
}

/// What a build cache record is.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum CacheRecordKind {
    /// A step's cache entry, with the layer blob only cache entries reference.
    Step,
    /// An unpacked layer no image uses.
    Snapshot,
    /// A RUN cache mount's directory.
    CacheMount,
}

/// One item of the build cache: what `system df` lists and `builder prune` may remove.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheRecord {
    /// Its file name: a cache key's hex, a snapshot's chain, a cache mount's id, as
    /// `builder prune` reports what it deleted.
    pub id: String,
    pub kind: CacheRecordKind,
    /// The step as written, for a step's entry.
    pub description: String,
    pub size: u64,
    pub created: SystemTime,
    pub last_used: SystemTime,
    /// Can give no cache hit by itself (a plain prune removes it).
    pub dangling: bool,
}

impl CacheRecord {
    fn item(&self) -> Item {
        Item {
            size: self.size,
            last_used: self.last_used,
            dangling: self.dangling,
        }
    }
}

impl Store {
    /// Marks a cache entry as just used, for `builder prune`'s least-recently-used order.
    /// Best effort: a read-only store still builds.
    pub fn cache_touch(&self, key: &crate::digest::CacheKey) {
        let path = self.root().join(CACHE_DIR).join(key.hex());
        if let Ok(f) = fs::File::options().write(true).open(&path) {
            let _ = f.set_modified(SystemTime::now());
        }
    }

    /// The build cache as `builder prune` sees it: step entries, snapshots no image (nor
    /// `keep_manifests`) uses, and the `extra` directories.
    pub fn build_cache(
        &self,
        extra: &[PathBuf],
        keep_manifests: &[Digest],
    ) -> Result<Vec<CacheRecord>, StoreError> {
        let idx = self.read_index()?;
        Ok(self
            .cache_records(&idx, extra, keep_manifests)?
            .into_iter()
            .map(|(r, _)| r)
            .collect())
    }

    fn cache_records(
        &self,
        idx: &super::index::IndexFile,
        extra: &[PathBuf],
        keep_manifests: &[Digest],
    ) -> Result<Vec<(CacheRecord, What)>, StoreError> {
        let kept = self.with_kept(idx, keep_manifests);
        let reachable = self.reachable_blobs(&kept);
        let chains = self.used_chain_ids(&kept);
        let mtime = |m: &fs::Metadata| m.modified().unwrap_or(SystemTime::UNIX_EPOCH);
        let created = |m: &fs::Metadata| m.created().unwrap_or_else(|_| mtime(m));
        let name = |e: &fs::DirEntry| e.file_name().to_string_lossy().into_owned();
        let mut out = Vec::new();
        for e in read_dir_or_empty(&self.root().join(CACHE_DIR))? {
            let path = e.path();
            let Ok(meta) = e.metadata() else { continue };
            let entry = fs::read(&path)
                .ok()
                .and_then(|b| serde_json::from_slice::<CacheEntry>(&b).ok());
            let blob = match entry.as_ref().map(|e| &e.result) {
                Some(CacheResult::Layer { digest, .. }) => Some(*digest),
                _ => None,
            };
            let broken = entry.is_none() || blob.is_some_and(|d| !self.has_blob(&d));
            let size = match blob {
                Some(d) if !reachable.contains(&d) => fs::metadata(self.blob_path(&d))
                    .map(|m| m.len())
                    .unwrap_or(0),
                _ => 0,
            } + meta.len();
            let record = CacheRecord {
                id: name(&e),
                kind: CacheRecordKind::Step,
                description: entry.map(|e| e.description).unwrap_or_default(),
                size,
                created: created(&meta),
                last_used: mtime(&meta),
                dangling: broken,
            };
            out.push((record, What::Entry { path, blob }));
        }
        for e in read_dir_or_empty(&self.snapshots_dir())? {
            let id = name(&e);
            if chains.iter().any(|c| snapshot_name_matches(&id, c)) {
                continue;
            }
            let Ok(meta) = e.metadata() else { continue };
            let record = CacheRecord {
                id,
                kind: CacheRecordKind::Snapshot,
                description: String::new(),
                size: tree_size(&e.path()),
                created: created(&meta),
                last_used: mtime(&meta),
                dangling: true,
            };
            out.push((record, What::Snapshot(e.path())));
        }
        for dir in extra {
            let Ok(meta) = fs::metadata(dir) else {
                continue;
            };
            let record = CacheRecord {
                id: dir
                    .file_name()
                    .map(|n| n.to_string_lossy().into_owned())
                    .unwrap_or_default(),
                kind: CacheRecordKind::CacheMount,
                description: String::new(),
                size: tree_size(dir),
                created: created(&meta),
                last_used: mtime(&meta),
                dangling: false,
            };
            out.push((record, What::Extra(dir.clone())));
        }
        Ok(out)
    }

    /// Removes build cache as `opts` says. Refuses while another strata process uses the
    /// store, like `system prune`.
    pub fn prune_build_cache(
        &self,
        opts: &BuildPruneOptions,
    ) -> Result<BuildPruneReport, StoreError> {
        if !self.gc_lock().try_make_exclusive()? {
            return Err(StoreError::Busy(self.root().to_path_buf()));
        }
        let _lock = self.lock_index()?;
        let idx = self.read_index()?;
        let kept = self.with_kept(&idx, &opts.keep_manifests);
        let reachable = self.reachable_blobs(&kept);
        let (records, whats): (Vec<CacheRecord>, Vec<What>) = self
            .cache_records(&idx, &opts.extra, &opts.keep_manifests)?
            .into_iter()
            .unzip();
        let items: Vec<Item> = records.iter().map(CacheRecord::item).collect();

        let chosen: HashSet<usize> = choose(&items, opts).into_iter().collect();
        // Blobs still referenced by an entry that stays are kept.
        let kept_blobs: HashSet<Digest> = whats
            .iter()
            .enumerate()
            .filter(|(i, _)| !chosen.contains(i))
            .filter_map(|(_, w)| match w {
                What::Entry { blob, .. } => *blob,
                _ => None,
            })
            .collect();
        let mut report = BuildPruneReport::default();
        for (i, what) in whats.iter().enumerate() {
            if !chosen.contains(&i) {
                continue;
            }
            report.deleted.push(records[i].id.clone());
            match what {
                What::Entry { path, blob } => {
                    report.reclaimed += remove_any(path)?;
                    report.entries += 1;
                    if let Some(d) = blob {
                        let p = self.blob_path(d);
                        if !reachable.contains(d) && !kept_blobs.contains(d) && p.exists() {
                            report.reclaimed += remove_any(&p)?;
                            let index = self.chunks_dir().join(d.hex());
                            if index.exists() {
                                report.reclaimed += remove_any(&index)?;
                            }
                            report.blobs += 1;
                        }
                    }
                }
                What::Snapshot(p) => {
                    report.reclaimed += remove_any(p)?;
                    report.snapshots += 1;
                }
                What::Extra(p) => {
                    report.reclaimed += remove_any(p)?;
                    report.extra += 1;
                }
            }
        }
        Ok(report)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    fn item(size: u64, age_secs: u64, dangling: bool) -> Item {
        Item {
            size,
            last_used: SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 - age_secs),
            dangling,
        }
    }

    fn at(age_secs: u64) -> SystemTime {
        SystemTime::UNIX_EPOCH + Duration::from_secs(1_000_000 - age_secs)
    }

    #[test]
    fn by_default_only_dangling_items_go() {
        let items = [item(10, 5, false), item(20, 5, true), item(30, 1, false)];
        assert_eq!(choose(&items, &BuildPruneOptions::default()), vec![1]);
        let all = BuildPruneOptions {
            all: true,
            ..Default::default()
        };
        assert_eq!(choose(&items, &all), vec![0, 1, 2]);
    }

    #[test]
    fn until_keeps_recently_used_items() {
        let items = [
            item(10, 100, false),
            item(20, 10, false),
            item(5, 100, true),
        ];
        let opts = BuildPruneOptions {
            all: true,
            unused_since: Some(at(50)),
            ..Default::default()
        };
        assert_eq!(choose(&items, &opts), vec![0, 2]);
    }

    #[test]
    fn keep_storage_removes_least_recently_used_until_under_budget() {
        // 100 bytes in all; a budget of 45 drops the two oldest non-dangling items after the
        // dangling one.
        let items = [
            item(30, 30, false),
            item(30, 10, false),
            item(30, 50, false),
            item(10, 1, true),
        ];
        let opts = BuildPruneOptions {
            keep_storage: Some(45),
            ..Default::default()
        };
        assert_eq!(choose(&items, &opts), vec![0, 2, 3]);
        let roomy = BuildPruneOptions {
            keep_storage: Some(1000),
            ..Default::default()
        };
        assert_eq!(choose(&items, &roomy), vec![3]);
    }

    #[test]
    fn keep_storage_respects_until() {
        let items = [item(50, 100, false), item(50, 1, false)];
        let opts = BuildPruneOptions {
            keep_storage: Some(0),
            unused_since: Some(at(50)),
            ..Default::default()
        };
        assert_eq!(choose(&items, &opts), vec![0]);
    }
}
