//! `system prune`: Docker's sequence of prunes (stopped containers, unused networks, unused
//! volumes when asked, dangling or unused images, build cache), plus the repairs only strata
//! needs after a crash (networks of dead containers, leases, namespaces, rules, cgroups).

use std::path::Path;
use std::time::Duration;

use super::containers::remove::{self as containers, PruneReport as ContainersPruned};
use super::volumes::{self, PruneRequest as VolumePruneRequest, Pruned as VolumesPruned};
use super::EngineError;
use crate::container::{cgroups, net, Containers};
use crate::store::gc::{PruneOptions, PruneReport as ImagesPruned};
use crate::store::image_filter::split_filters;
use crate::store::Store;

/// An empty container cgroup younger than this may belong to a container that is starting.
const ORPHAN_CGROUP_AGE: Duration = Duration::from_secs(30);

/// What `system prune` removes besides stopped containers and unused networks.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SystemPruneRequest {
    /// Every image no container uses, not only dangling ones.
    pub all: bool,
    /// Anonymous volumes no container uses too.
    pub volumes: bool,
    /// `until=TIME`, `label=K[=V]`, `label!=K[=V]`, applied to every kind pruned.
    pub filters: Vec<String>,
}

/// What a crashed strata left that `system prune` undid.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Repairs {
    pub networks_torn_down: usize,
    pub leases: usize,
    pub namespaces: usize,
    pub rules: usize,
    pub cgroups: usize,
}

impl Repairs {
    pub fn any(&self) -> bool {
        *self != Repairs::default()
    }
}

#[derive(Debug, Default)]
pub struct SystemPruneReport {
    pub containers: ContainersPruned,
    pub networks: Vec<String>,
    /// `None` unless volumes were asked for.
    pub volumes: Option<VolumesPruned>,
    pub images: ImagesPruned,
    pub repairs: Repairs,
}

impl SystemPruneReport {
    pub fn reclaimed(&self) -> u64 {
        self.containers.space_reclaimed
            + self.volumes.as_ref().map_or(0, |v| v.reclaimed)
            + self.images.reclaimed
    }
}

/// Checks the filters before anything is asked or removed, as Docker does.
pub fn check(req: &SystemPruneRequest) -> Result<(), EngineError> {
    let pairs = split_filters(&req.filters, &["until", "label", "label!"])?;
    if req.volumes && pairs.iter().any(|(k, _)| k == "until") {
        return Err(EngineError::Unsupported(
            "ERROR: The \"until\" filter is not supported with \"--volumes\"".into(),
        ));
    }
    containers::prune_filters(&req.filters).map_err(|e| EngineError::ContainerOp(Box::new(e)))?;
    Ok(())
}

pub fn prune(root: &Path, req: &SystemPruneRequest) -> Result<SystemPruneReport, EngineError> {
    check(req)?;
    let op = |e| EngineError::ContainerOp(Box::new(e));
    let store = Store::open(root)?;
    let mut report = SystemPruneReport::default();

    let cs = Containers::new(root);
    let repaired = net::repair(root, &cs).map_err(EngineError::NetworkContainer)?;
    let filters = containers::prune_filters(&req.filters).map_err(op)?;
    report.containers = containers::prune(&store, &filters).map_err(op)?;
    report.networks = super::networks::prune(root, &req.filters)?;
    if req.volumes {
        report.volumes = Some(volumes::prune(
            root,
            &VolumePruneRequest {
                all: false,
                filters: req.filters.clone(),
            },
        )?);
    }
    report.images = store.prune(PruneOptions {
        all_images: req.all,
        keep_manifests: super::system::container_manifests(root)?,
    })?;
    report.repairs = Repairs {
        networks_torn_down: repaired.torn_down.len(),
        leases: repaired.leases,
        namespaces: repaired.namespaces,
        rules: net::prune_rules(root).map_err(EngineError::NetworkContainer)?,
        cgroups: cgroups::reclaim_orphans(ORPHAN_CGROUP_AGE),
    };
    Ok(report)
}
