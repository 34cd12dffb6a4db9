//! `top`: a running container's processes as the host's `ps` shows them.

use std::path::Path;

use super::error::Result;
use crate::container::{cgroups, Containers};

/// `ps`'s column titles and one row per process of the container.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TopReport {
    pub titles: Vec<String>,
    pub processes: Vec<Vec<String>>,
}

/// The processes of the container `query` names, with `ps_args` for `ps` (`-ef` when empty).
pub fn top(root: &Path, query: &str, ps_args: &[String]) -> Result<TopReport> {
    let (titles, processes) = cgroups::top(&Containers::new(root), query, ps_args)?;
    Ok(TopReport { titles, processes })
}
