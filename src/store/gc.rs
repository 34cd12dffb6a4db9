//! Garbage collection (`system prune`) and disk usage (`system df`).
//!
//! Safety against live processes: every process using the store holds `gc.lock` shared for as
//! long as its `Store` is open; prune turns its own hold exclusive without waiting, and refuses
//! (`StoreError::Busy`) when any other strata process is running. So while prune runs, nothing
//! else writes: a blob the index does not reach cannot be one a writer is about to name. In
//! `tmp/` prune takes every item not owned by a live process (a container's monitor holds no
//! gc lock but owns its run's temp dir), unleased ones included. What killed processes left in
//! `tmp/` is reclaimed without prune too, by the next `Store::open` (`util::owned_tmp`).

use std::collections::HashSet;
use std::fs;
use std::io;
use std::path::Path;

use oci_spec::image::{Descriptor, ImageIndex, ImageManifest, MediaType};

use super::config::ImageConfig;
use super::digest_of;
use super::error::StoreError;
use super::image::RemoveEvent;
use super::index::IndexFile;
use super::layout::Store;
use crate::digest::{chain_ids, Digest};
use crate::reference::Reference;
use crate::util::owned_tmp::{self, Found, Orphans};

/// What prune removes besides unreferenced blobs, snapshots and temp files.
#[derive(Debug, Clone, Default)]
pub struct PruneOptions {
    /// Remove every image not kept below, not only untagged ones.
    pub all_images: bool,
    /// Manifests that stay with everything they reach, tagged or not: the images of existing
    /// containers, whose snapshots are their root filesystems.
    pub keep_manifests: Vec<Digest>,
}

#[derive(Debug, Default)]
pub struct PruneReport {
    pub images: Vec<RemoveEvent>,
    pub blobs: Vec<Digest>,
    pub snapshots: Vec<String>,
    pub tmp_entries: usize,
    pub reclaimed: u64,
}

/// One row of `system df`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UsageRow {
    pub total: usize,
    pub active: usize,
    pub size: u64,
    pub reclaimable: u64,
}

#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct DiskUsage {
    /// Images: tagged ones are active; size counts each blob once.
    pub images: UsageRow,
    /// Unpacked layers in snapshots-v1: active when an image uses the chain.
    pub snapshots: UsageRow,
    /// Items of tmp/ (their lock files not counted); all counted reclaimable, as prune takes
    /// every one whose owner is gone.
    pub tmp: UsageRow,
}

impl Store {
    /// Removes untagged images (all images with `all_images`), then every blob the index does
    /// not reach, every snapshot no image's layer chain uses, and everything in tmp/.
    pub fn prune(&self, opts: PruneOptions) -> Result<PruneReport, StoreError> {
        if !self.gc_lock().try_make_exclusive()? {
            return Err(StoreError::Busy(self.root().to_path_buf()));
        }
        let mut report = PruneReport::default();
        let _lock = self.lock_index()?;
        let mut idx = self.read_index()?;
        let before = idx.clone();
        for e in idx.entries() {
            if !idx.contains(&e.manifest) {
                continue;
            }
            let untagged = idx.tags_of(&e.manifest).is_empty();
            if (untagged || opts.all_images) && !opts.keep_manifests.contains(&e.manifest) {
                let id = self.image_id_of(&e.manifest);
                for t in idx.remove_manifest(&e.manifest) {
                    report.images.push(RemoveEvent::Untagged(t));
                }
                if let Some(id) = id {
                    report.images.push(RemoveEvent::Deleted(id));
                }
            }
        }
        // A multi-platform image is an index: dangling when no descriptor of it is tagged.
        for e in idx.index_entries() {
            let entries = idx.index_entries();
            let same: Vec<_> = entries.iter().filter(|x| x.digest == e.digest).collect();
            if same.is_empty() || opts.keep_manifests.contains(&e.digest) {
                continue;
            }
            let untagged = same.iter().all(|x| x.tag.is_none());
            if untagged || opts.all_images {
                let tags: Vec<Reference> = same.iter().filter_map(|x| x.tag.clone()).collect();
                idx.remove_manifest(&e.digest);
                report
                    .images
                    .extend(tags.into_iter().map(RemoveEvent::Untagged));
                report.images.push(RemoveEvent::Deleted(e.digest));
            }
        }
        if idx != before {
            idx.write(&self.index_path())?;
        }

        let kept = self.with_kept(&idx, &opts.keep_manifests);
        let reachable = self.reachable_blobs(&kept);
        for entry in read_dir_or_empty(&self.blobs_dir())? {
            let name = entry.file_name().to_string_lossy().into_owned();
            let keep = format!("sha256:{name}")
                .parse::<Digest>()
                .is_ok_and(|d| reachable.contains(&d));
            if !keep {
                report.reclaimed += remove_any(&entry.path())?;
                if let Ok(d) = format!("sha256:{name}").parse() {
                    report.blobs.push(d);
                }
            }
        }

        // A blob's chunk index goes with it (and so do indexes left by a crashed writer).
        for entry in read_dir_or_empty(&self.chunks_dir())? {
            let name = entry.file_name().to_string_lossy().into_owned();
            if name.starts_with('.') || !self.blobs_dir().join(&name).is_file() {
                report.reclaimed += remove_any(&entry.path())?;
            }
        }

        let chains = self.used_chain_ids(&kept);
        for entry in read_dir_or_empty(&self.snapshots_dir())? {
            let name = entry.file_name().to_string_lossy().into_owned();
            if !chains.iter().any(|c| snapshot_name_matches(&name, c)) {
                report.reclaimed += remove_any(&entry.path())?;
                report.snapshots.push(name);
            }
        }

        let swept = owned_tmp::sweep(&self.tmp_dir(), Orphans::Reclaim { except: &[] });
        if let Some((name, why)) = swept.failed.first() {
            return Err(StoreError::io("cannot remove", self.tmp_dir().join(name))(
                std::io::Error::other(why.clone()),
            ));
        }
        report.reclaimed += swept.bytes;
        report.tmp_entries = swept.reclaimed.len();
        Ok(report)
    }

    /// Sizes of what the store holds, as `system df` shows them.
    pub fn disk_usage(&self) -> Result<DiskUsage, StoreError> {
        let idx = self.read_index()?;
        let mut du = DiskUsage::default();
        let reachable = self.reachable_blobs(&idx);
        let mut tagged = IndexFile::default();
        for e in idx.entries() {
            if e.tag.is_some() {
                tagged.add_untagged(&e.descriptor);
            }
        }
        let active_blobs = self.reachable_blobs(&tagged);
        let mut manifests: Vec<Digest> = idx.entries().iter().map(|e| e.manifest).collect();
        manifests.dedup();
        du.images.total = manifests.len();
        du.images.active = tagged.entries().len();
        for entry in read_dir_or_empty(&self.blobs_dir())? {
            let size = entry.metadata().map(|m| m.len()).unwrap_or(0);
            let d: Option<Digest> = format!("sha256:{}", entry.file_name().to_string_lossy())
                .parse()
                .ok();
            let reached = d.is_some_and(|d| reachable.contains(&d));
            let active = d.is_some_and(|d| active_blobs.contains(&d));
            if reached {
                du.images.size += size;
            }
            if !active {
                du.images.reclaimable += size;
            }
        }
        let chains = self.used_chain_ids(&idx);
        for entry in read_dir_or_empty(&self.snapshots_dir())? {
            let name = entry.file_name().to_string_lossy().into_owned();
            let size = tree_size(&entry.path());
            du.snapshots.total += 1;
            du.snapshots.size += size;
            if chains.iter().any(|c| snapshot_name_matches(&name, c)) {
                du.snapshots.active += 1;
            } else {
                du.snapshots.reclaimable += size;
            }
        }
        let names = read_dir_or_empty(&self.tmp_dir())?
            .into_iter()
            .filter_map(|e| e.file_name().into_string().ok());
        for found in owned_tmp::group(names) {
            let (Found::Leased(name) | Found::Unleased(name)) = found;
            let path = self.tmp_dir().join(name);
            if fs::symlink_metadata(&path).is_err() {
                continue;
            }
            let size = tree_size(&path);
            du.tmp.total += 1;
            du.tmp.size += size;
            du.tmp.reclaimable += size;
        }
        Ok(du)
    }

    /// `idx` with `keep` (manifests in the blob store) added as untagged roots.
    pub(super) fn with_kept(&self, idx: &IndexFile, keep: &[Digest]) -> IndexFile {
        let mut out = idx.clone();
        for d in keep {
            let Ok(size) = fs::metadata(self.blob_path(d)).map(|m| m.len()) else {
                continue;
            };
            let desc = oci_spec::image::DescriptorBuilder::default()
                .media_type(MediaType::ImageManifest)
                .digest(super::oci_digest(d))
                .size(size)
                .build()
                .expect("a descriptor with digest, size and media type");
            out.add_untagged(&desc);
        }
        out
    }

    fn image_id_of(&self, manifest: &Digest) -> Option<Digest> {
        let m: ImageManifest = serde_json::from_slice(&self.read_blob(manifest).ok()?).ok()?;
        digest_of(m.config().digest()).ok()
    }

    /// Every blob index.json reaches: manifests, nested indexes, configs and layers.
    pub(super) fn reachable_blobs(&self, idx: &IndexFile) -> HashSet<Digest> {
        let mut out = HashSet::new();
        let mut stack: Vec<Descriptor> = idx.index.manifests().clone();
        while let Some(desc) = stack.pop() {
            let Ok(d) = digest_of(desc.digest()) else {
                continue;
            };
            if !out.insert(d) {
                continue;
            }
            let Ok(bytes) = self.read_blob(&d) else {
                continue;
            };
            match desc.media_type() {
                MediaType::ImageIndex => {
                    if let Ok(i) = serde_json::from_slice::<ImageIndex>(&bytes) {
                        stack.extend(i.manifests().iter().cloned());
                    }
                }
                _ => {
                    if let Ok(m) = serde_json::from_slice::<ImageManifest>(&bytes) {
                        stack.push(m.config().clone());
                        stack.extend(m.layers().iter().cloned());
                    } else if let Ok(i) = serde_json::from_slice::<ImageIndex>(&bytes) {
                        stack.extend(i.manifests().iter().cloned());
                    }
                }
            }
        }
        out
    }

    /// Chain IDs of every layer prefix of every image the index reaches, the per-platform
    /// manifests of a multi-platform image's index included.
    pub(super) fn used_chain_ids(&self, idx: &IndexFile) -> HashSet<Digest> {
        let mut out = HashSet::new();
        for manifest in self.reachable_manifests(idx) {
            let Some(id) = self.image_id_of(&manifest) else {
                continue;
            };
            let Ok(bytes) = self.read_blob(&id) else {
                continue;
            };
            let Ok(cfg) = ImageConfig::from_json(&bytes, "config") else {
                continue;
            };
            let Ok(diff_ids) = cfg.diff_ids() else {
                continue;
            };
            out.extend(chain_ids(&diff_ids));
        }
        out
    }

    /// Every image manifest index.json lists, or reaches through (nested) image indexes.
    fn reachable_manifests(&self, idx: &IndexFile) -> Vec<Digest> {
        let mut seen = HashSet::new();
        let mut out = Vec::new();
        let mut stack: Vec<Descriptor> = idx.index.manifests().clone();
        while let Some(desc) = stack.pop() {
            let Ok(d) = digest_of(desc.digest()) else {
                continue;
            };
            if !seen.insert(d) {
                continue;
            }
            if super::platform_index::is_index(desc.media_type()) {
                if let Ok(i) = self.read_image_index(&d) {
                    stack.extend(i.manifests().iter().cloned());
                }
            } else {
                out.push(d);
            }
        }
        out
    }
}

/// Snapshot directories are named by chain ID, as `<hex>` or `sha256:<hex>`/`sha256-<hex>`.
pub(super) fn snapshot_name_matches(name: &str, chain: &Digest) -> bool {
    let hex = chain.hex();
    name == hex
        || name.strip_prefix("sha256:") == Some(&hex)
        || name.strip_prefix("sha256-") == Some(&hex)
}

pub(super) fn read_dir_or_empty(dir: &Path) -> Result<Vec<fs::DirEntry>, StoreError> {
    match fs::read_dir(dir) {
        Ok(rd) => rd
            .collect::<io::Result<Vec<_>>>()
            .map_err(StoreError::io("cannot list", dir)),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Vec::new()),
        Err(e) => Err(StoreError::io("cannot list", dir)(e)),
    }
}

pub(super) fn tree_size(path: &Path) -> u64 {
    walkdir::WalkDir::new(path)
        .into_iter()
        .filter_map(Result::ok)
        .filter_map(|e| e.metadata().ok())
        .filter(|m| m.is_file())
        .map(|m| m.len())
        .sum()
}

/// Removes a file or a whole tree (making read-only directories writable first); returns the
/// bytes freed.
pub(super) fn remove_any(path: &Path) -> Result<u64, StoreError> {
    let size = tree_size(path);
    let meta = fs::symlink_metadata(path).map_err(StoreError::io("cannot stat", path))?;
    let res = if meta.is_dir() {
        fs::remove_dir_all(path).or_else(|_| {
            make_writable(path);
            fs::remove_dir_all(path)
        })
    } else {
        fs::remove_file(path)
    };
    match res {
        Ok(()) => Ok(size),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(StoreError::io("cannot remove", path)(e)),
    }
}

fn make_writable(path: &Path) {
    use std::os::unix::fs::PermissionsExt;
    for e in walkdir::WalkDir::new(path)
        .into_iter()
        .filter_map(Result::ok)
    {
        if e.file_type().is_dir() {
            let _ = fs::set_permissions(e.path(), fs::Permissions::from_mode(0o755));
        }
    }
}
