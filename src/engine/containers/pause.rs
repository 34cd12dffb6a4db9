//! `pause` and `unpause`: every process of a running container frozen or thawed (its cgroup's
//! freezer).

use std::path::Path;

use super::error::Result;
use crate::container::{cgroups, Container, Containers};

/// Freezes the container `query` names.
pub fn pause(root: &Path, query: &str) -> Result<Container> {
    Ok(cgroups::pause(&Containers::new(root), query)?)
}

/// Thaws the container `query` names.
pub fn unpause(root: &Path, query: &str) -> Result<Container> {
    Ok(cgroups::unpause(&Containers::new(root), query)?)
}
