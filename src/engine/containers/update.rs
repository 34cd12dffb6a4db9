//! `update`: a container's restart policy (its keeper reads it at the next exit) and cgroup
//! limits (written into a running container's cgroup, then recorded).

use std::path::Path;

use super::error::{Error, Result};
use crate::container::resources::{Host, Resources};
use crate::container::restart::RestartPolicy;
use crate::container::{cgroups, events, Container, Containers};

/// What to change; `None` leaves it as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UpdateRequest {
    pub restart: Option<RestartPolicy>,
    /// The limits given (a zero is one not given), merged into the container's as Docker
    /// merges them.
    pub resources: Option<Resources>,
}

impl UpdateRequest {
    /// Whether it changes nothing (Docker's CLI wants at least one flag).
    pub fn is_empty(&self) -> bool {
        self.restart.is_none() && self.resources.is_none()
    }
}

/// What an update did.
#[derive(Debug, Clone)]
pub struct UpdateReport {
    pub container: Container,
    /// Limits the host cannot honour fully (Docker's `Warnings`).
    pub warnings: Vec<String>,
}

/// Applies `req` to the container `query` names.
pub fn update(root: &Path, query: &str, req: &UpdateRequest) -> Result<UpdateReport> {
    if req.is_empty() {
        return Err(Error::UpdateNothing);
    }
    let cs = Containers::new(root);
    let c = cs.find(query)?;
    if c.config.auto_remove && req.restart.as_ref().is_some_and(|r| !r.is_none()) {
        return Err(Error::UpdateAutoRemove { id: c.id });
    }
    let mut warnings = Vec::new();
    if let Some(limits) = &req.resources {
        // Refused before the container's own checks, without their "Cannot update" prefix.
        super::create::check_cpuset(limits)?;
        warnings = cgroups::update_limits(&cs, &c, limits, &Host::detect())?;
    }
    let c = cs.update(&c.id, |c| {
        if let Some(r) = &req.restart {
            c.config.restart = r.clone();
        }
    })?;
    events::emit(root, &c, "update", &[]);
    Ok(UpdateReport {
        container: c,
        warnings,
    })
}
