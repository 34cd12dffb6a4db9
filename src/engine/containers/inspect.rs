//! `inspect` of a container: Docker's `docker container inspect` object (built by
//! `engine::container_inspect`), with `SizeRw`/`SizeRootFs` when sizes are asked for.

use std::path::Path;

use serde_json::{json, Value};

use super::error::Result;
use crate::container::volume_store::dir_size;
use crate::container::{Container, Containers};
use crate::engine::container_inspect::container_json;
use crate::store::Store;

/// The inspect object of the container `query` names; with `size`, its sizes too.
pub fn inspect(root: &Path, store: &Store, query: &str, size: bool) -> Result<Value> {
    let cs = Containers::new(root);
    let c = cs.get_reconciled(&cs.find(query)?.id)?;
    let v = container_json(root, &c);
    Ok(if size {
        with_sizes(v, &cs, store, &c)
    } else {
        v
    })
}

/// `v` with Docker's `SizeRw` (the bytes of the container's own writes, its upperdir) and
/// `SizeRootFs` (that plus its image's layers), placed after `HostConfig` as Docker places
/// them.
fn with_sizes(v: Value, cs: &Containers, store: &Store, c: &Container) -> Value {
    let rw = dir_size(&cs.upperdir(&c.id));
    let image: u64 = c
        .layers
        .iter()
        .filter_map(|l| store.blob_size(&l.digest).ok())
        .sum();
    let Value::Object(map) = v else { return v };
    let mut out = serde_json::Map::new();
    let mut placed = false;
    for (k, val) in map {
        let after = k == "HostConfig";
        out.insert(k, val);
        if after {
            out.insert("SizeRw".into(), json!(rw));
            out.insert("SizeRootFs".into(), json!(rw + image));
            placed = true;
        }
    }
    if !placed {
        out.insert("SizeRw".into(), json!(rw));
        out.insert("SizeRootFs".into(), json!(rw + image));
    }
    Value::Object(out)
}
