//! `start`: a stopped container started in the background under its own monitor (as `run -d`
//! does), or prepared for a foreground start (`start -a`, then `foreground::run_foreground`).

use std::path::Path;

use super::error::{Error, Result};
use super::supervise::spawn_monitor;
use crate::container::filter::Filters;
use crate::container::{Container, Containers, Status};

/// What `start` found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Started {
    /// It runs now.
    Started,
    /// It was running already (Docker's start is then a no-op that succeeds).
    AlreadyRunning,
}

/// Starts the container `query` names (a name, an ID or an ID prefix) in the background.
pub fn start(root: &Path, query: &str) -> Result<(Container, Started)> {
    let c = Containers::new(root).find(query)?;
    if c.state.status == Status::Running {
        return Ok((c, Started::AlreadyRunning));
    }
    spawn_monitor(root, &c.id)?;
    Ok((c, Started::Started))
}

/// The names of the containers that are not running and that `filters` (`ps --filter`'s
/// `KEY=VALUE`s) select, for `start --all` (the systemd unit's restart after a reboot).
pub fn stopped_matching(root: &Path, filters: &[String]) -> Result<Vec<String>> {
    let cs = Containers::new(root);
    let filters = Filters::parse(filters)?;
    let all = cs.list()?;
    let created_of = |q: &str| cs.find(q).ok().map(|c| c.created);
    Ok(all
        .iter()
        .filter(|c| c.state.status != Status::Running && filters.matches(c, &created_of))
        .map(|c| c.name.clone())
        .collect())
}

/// The container `query` names, to start in the foreground: refused when it runs already.
pub fn for_foreground_start(root: &Path, query: &str) -> Result<Container> {
    let c = Containers::new(root).find(query)?;
    if c.state.status == Status::Running {
        return Err(Error::AlreadyRunningAttach { name: c.name });
    }
    Ok(c)
}
