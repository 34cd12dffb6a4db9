//! `rm` and `container prune`: a container's record, upperdir, log, cgroup and network
//! leases removed (a running one only with `force`, which kills it first); `rm --link`.

use super::error::{Error, Result};
use crate::container::prune::{self, PruneFilters};
use crate::container::{lifecycle, links, Container, ContainerError, Containers};
use crate::store::Store;

/// How to remove a container.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct RemoveRequest {
    /// Kill a running container first.
    pub force: bool,
    /// Remove its anonymous volumes too.
    pub volumes: bool,
}

/// Removes the container `query` names; returns the record it had.
pub fn remove(store: &Store, query: &str, req: RemoveRequest) -> Result<Container> {
    let c = Containers::new(store.root()).find(query)?;
    lifecycle::remove(store, &c, req.force, req.volumes)?;
    Ok(c)
}

/// `rm --link /PARENT/ALIAS` (`DELETE /containers/{name}?link=1`): drops that link from the
/// parent's `HostConfig.Links`, so its later starts neither name nor configure it; no
/// container is removed. dockerd's errors: a name that is no link is no such container, and
/// a container's own name is its default link name, which cannot go.
pub fn remove_link(store: &Store, name: &str) -> Result<()> {
    let cs = Containers::new(store.root());
    let not_found = || Error::Container(ContainerError::NotFound(name.to_string()));
    let Some((parent, alias)) = links::split_link_name(name) else {
        cs.find(name.strip_prefix('/').unwrap_or(name))?;
        return Err(Error::DefaultLinkName);
    };
    let parent = cs.find(parent).map_err(|_| not_found())?;
    let mut found = false;
    cs.update(&parent.id, |c| found = links::unlink(c, alias))?;
    if !found {
        return Err(not_found());
    }
    Ok(())
}

/// What `container prune` did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct PruneReport {
    /// The IDs of the containers removed.
    pub removed: Vec<String>,
    /// The bytes their own writes held.
    pub space_reclaimed: u64,
}

/// Parses `prune --filter` values (`until=TIME`, `label=K[=V]`, `label!=K[=V]`) before
/// anything is asked or removed.
pub fn prune_filters(specs: &[String]) -> Result<PruneFilters> {
    Ok(PruneFilters::parse(specs)?)
}

/// Removes every stopped container `filters` select.
pub fn prune(store: &Store, filters: &PruneFilters) -> Result<PruneReport> {
    let (removed, space_reclaimed) = prune::prune(store, filters)?;
    Ok(PruneReport {
        removed,
        space_reclaimed,
    })
}
