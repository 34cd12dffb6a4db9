//! `rename`: a container's new name, checked and unique.

use std::path::Path;

use super::error::Result;
use crate::container::{Container, Containers};

/// Renames the container `query` names to `new_name`; returns it as renamed.
pub fn rename(root: &Path, query: &str, new_name: &str) -> Result<Container> {
    Ok(Containers::new(root).rename(query, new_name)?)
}
