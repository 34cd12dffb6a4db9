//! What containers and volumes take on disk, for `system df` (its Containers and Local Volumes
//! rows and `-v` tables): a container's own writes (its upperdir), a volume's contents and the
//! containers linked to it.

use std::collections::{BTreeMap, BTreeSet};
use std::path::Path;

use super::error::ContainerError;
use super::record::Container;
use super::store::Containers;
use super::volume_filter::volume_users;
use super::volume_store::{dir_size, Volume, VolumeError, Volumes};
use crate::store::gc::UsageRow;

/// One container and the bytes it wrote.
#[derive(Debug, Clone)]
pub struct ContainerSize {
    pub container: Container,
    pub size_rw: u64,
}

/// One volume, its size and the containers using it.
#[derive(Debug, Clone)]
pub struct VolumeSize {
    pub volume: Volume,
    pub links: usize,
    pub size: u64,
}

/// Every container with the size of its upperdir, oldest first.
pub fn container_sizes(root: &Path) -> Result<Vec<ContainerSize>, ContainerError> {
    let cs = Containers::new(root);
    Ok(cs
        .list()?
        .into_iter()
        .map(|c| ContainerSize {
            size_rw: dir_size(&cs.upperdir(&c.id)),
            container: c,
        })
        .collect())
}

/// Every volume with its size and the number of `containers` (those that still exist) using
/// it: by their records, or as recorded beside the volume.
pub fn volume_sizes(root: &Path, containers: &[Container]) -> Result<Vec<VolumeSize>, VolumeError> {
    let vols = Volumes::new(root);
    let by_record: BTreeMap<String, BTreeSet<String>> = volume_users(containers);
    let exists = |id: &str| containers.iter().any(|c| c.id == id);
    let mut out = Vec::new();
    for v in vols.list()? {
        let mut users = by_record.get(&v.name).cloned().unwrap_or_default();
        users.extend(vols.users(&v.name, &exists)?);
        out.push(VolumeSize {
            links: users.len(),
            size: dir_size(&v.mountpoint),
            volume: v,
        });
    }
    Ok(out)
}

/// A `system df` row over `(size, active)` items: what is not active is reclaimable.
pub fn usage_row(items: impl IntoIterator<Item = (u64, bool)>) -> UsageRow {
    let mut row = UsageRow::default();
    for (size, active) in items {
        row.total += 1;
        row.size += size;
        if active {
            row.active += 1;
        } else {
            row.reclaimable += size;
        }
    }
    row
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rows_count_active_and_reclaimable() {
        for (items, want) in [
            (vec![], (0, 0, 0, 0)),
            (vec![(10, true)], (1, 1, 10, 0)),
            (vec![(10, true), (5, false), (0, false)], (3, 1, 15, 5)),
        ] {
            let r = usage_row(items.clone());
            assert_eq!(
                (r.total, r.active, r.size, r.reclaimable),
                want,
                "{items:?}"
            );
        }
    }
}
