//! `changes`: what a container added, changed and deleted in its filesystem (`docker diff`).

use std::path::Path;

use super::error::Result;
use crate::container::diff::{self, Change};
use crate::container::Containers;
use crate::sandbox::RootFs;
use crate::store::Store;

/// The changes of the container `query` names, in path order.
pub fn changes(root: &Path, query: &str) -> Result<Vec<Change>> {
    let store = Store::open(root)?;
    let cs = Containers::new(root);
    let c = cs.find(query)?;
    let lowers = match crate::container::rootfs(&store, &c)? {
        RootFs::Overlay { lowerdirs, .. } => lowerdirs,
        RootFs::Dir(_) => Vec::new(),
    };
    Ok(diff::changes(&cs.upperdir(&c.id), &lowers)?)
}
