//! `export`: a container's whole filesystem (its layers merged, never its mounts) as a tar.

use std::io::Write;
use std::path::Path;

use super::error::Result;
use crate::container::access::layered_fs;
use crate::container::Containers;
use crate::store::Store;

/// Finds the container `query` names and returns a function that writes its archive (so a
/// missing container is an error before the first byte).
pub fn export(root: &Path, query: &str) -> Result<impl FnOnce(&mut dyn Write) -> Result<u64>> {
    let store = Store::open(root)?;
    let c = Containers::new(store.root()).find(query)?;
    let fs = layered_fs(&store, &c)?;
    Ok(move |out: &mut dyn Write| -> Result<u64> {
        Ok(crate::container::export::export(&fs, out)?)
    })
}
