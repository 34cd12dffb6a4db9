//! System-wide operations for both front doors: the engine's version, `info`, disk usage
//! (`system df`) and the image users every image removal must respect.

use std::path::Path;

use bollard_stubs::models::SystemVersion;

use super::EngineError;
use crate::container::disk_usage::{
    container_sizes, usage_row, volume_sizes, ContainerSize, VolumeSize,
};
use crate::container::host_info::{system_info, version_json, SystemInfo, MIN_API_VERSION};
use crate::digest::Digest;
use crate::exec::mounts::cache_mount_dirs;
use crate::store::build_prune::CacheRecord;
use crate::store::gc::UsageRow;
use crate::store::image_delete::ImageUser;
use crate::store::{Image, Store};

/// The Engine API version strata speaks: what Docker 28.2's CLI asks for.
pub const API_VERSION: &str = "1.50";
/// The oldest API version a client may ask for.
pub const MIN_API: &str = MIN_API_VERSION;

/// Docker's `/version` report for this build (the `Server` half of `docker version`):
/// `host_info`'s, speaking `API_VERSION`.
pub fn version() -> SystemVersion {
    // host_info's JSON follows the Engine API's schema, so it always parses into the model.
    let mut v: SystemVersion = serde_json::from_value(version_json()).unwrap_or_default();
    v.api_version = Some(API_VERSION.into());
    for c in v.components.iter_mut().flatten() {
        if let Some(d) = c.details.as_mut() {
            d.insert("ApiVersion".into(), API_VERSION.into());
        }
    }
    v
}

/// What `info` reports about the host and the store at `root`.
pub fn info(root: &Path) -> Result<SystemInfo, EngineError> {
    let store = Store::open(root)?;
    Ok(system_info(root, &store)?)
}

/// Everything `system df` shows: the summary rows and the objects behind them.
#[derive(Debug)]
pub struct DiskUsage {
    pub images: Vec<Image>,
    pub image_usage: UsageRow,
    pub containers: Vec<ContainerSize>,
    pub container_usage: UsageRow,
    pub volumes: Vec<VolumeSize>,
    pub volume_usage: UsageRow,
    /// The build cache `builder prune` may remove: the records below, summed.
    pub build_cache: UsageRow,
    pub build_records: Vec<CacheRecord>,
    /// strata's own temporary files.
    pub tmp: UsageRow,
}

/// Disk usage of the store at `root`, its containers and volumes.
pub fn disk_usage(root: &Path) -> Result<DiskUsage, EngineError> {
    let store = Store::open(root)?;
    let du = store.disk_usage()?;
    let containers = container_sizes(root).map_err(EngineError::Containers)?;
    let records: Vec<_> = containers.iter().map(|c| c.container.clone()).collect();
    let volumes = volume_sizes(root, &records).map_err(EngineError::Volumes)?;
    let container_usage = usage_row(
        containers
            .iter()
            .map(|c| (c.size_rw, c.container.is_running())),
    );
    let volume_usage = usage_row(volumes.iter().map(|v| (v.size, v.links > 0)));
    // What `builder prune --all` would remove, so the two agree: snapshots of images (and of
    // containers' images) are the images' storage, not cache.
    let build_records = store.build_cache(&cache_mount_dirs(root), &container_manifests(root)?)?;
    let build_cache = usage_row(build_records.iter().map(|r| (r.size, false)));
    Ok(DiskUsage {
        images: store.images()?,
        image_usage: du.images,
        containers,
        container_usage,
        volumes,
        volume_usage,
        build_cache,
        build_records,
        tmp: du.tmp,
    })
}

/// Every container as a user of its image, for removals that must refuse a used image.
pub fn image_users(root: &Path) -> Result<Vec<ImageUser>, EngineError> {
    Ok(crate::container::Containers::new(root)
        .list()
        .map_err(EngineError::Containers)?
        .into_iter()
        .map(|c| ImageUser {
            running: c.is_running(),
            container: c.id,
            image: c.image_id,
        })
        .collect())
}

/// The manifests containers were made from: prune keeps them.
pub fn container_manifests(root: &Path) -> Result<Vec<Digest>, EngineError> {
    Ok(crate::container::Containers::new(root)
        .list()
        .map_err(EngineError::Containers)?
        .iter()
        .map(|c| c.manifest_digest)
        .collect())
}

/// How one image of a `DiskUsage` shares its bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ImageShare {
    /// Bytes of layers another image also lists.
    pub shared: u64,
    /// Containers made from the image.
    pub containers: usize,
}

impl DiskUsage {
    /// One `ImageShare` per entry of `images`, in the same order.
    pub fn image_shares(&self) -> Vec<ImageShare> {
        let mut uses: std::collections::HashMap<String, usize> = Default::default();
        for img in &self.images {
            for l in img.layers() {
                *uses.entry(l.digest().to_string()).or_default() += 1;
            }
        }
        self.images
            .iter()
            .map(|img| ImageShare {
                shared: img
                    .layers()
                    .iter()
                    .filter(|l| uses.get(&l.digest().to_string()).copied().unwrap_or(0) > 1)
                    .map(|l| l.size())
                    .sum(),
                containers: self
                    .containers
                    .iter()
                    .filter(|c| c.container.image_id == img.id)
                    .count(),
            })
            .collect()
    }
}
