//! `save` and `load` for both front doors: which images a list of names selects (with the
//! tags to record), writing their archive, and loading one (plain or compressed) into the
//! store.

use std::io::{Read, Write};
use std::path::Path;

use super::EngineError;
use crate::reference::Reference;
use crate::snapshot;
use crate::store::archive::{self, ArchiveError, LoadedImage, SaveFormat, SaveItem};
use crate::store::Store;

/// The images `names` select, each once, with the tags among `names` that name it.
pub fn save_items(root: &Path, names: &[String]) -> Result<Vec<SaveItem>, EngineError> {
    let store = Store::open(root)?;
    let mut items: Vec<SaveItem> = Vec::new();
    for r in names {
        let image = store.resolve(r)?;
        let tag = Reference::parse(r)
            .ok()
            .filter(|t| t.digest().is_none() && image.tags.contains(t));
        match items
            .iter_mut()
            .find(|i| i.image.manifest_digest == image.manifest_digest)
        {
            Some(item) => item.tags.extend(tag.filter(|t| !item.tags.contains(t))),
            None => items.push(SaveItem {
                image,
                tags: tag.into_iter().collect(),
            }),
        }
    }
    Ok(items)
}

/// Writes the archive of `items` to `out`.
pub fn save(
    root: &Path,
    items: &[SaveItem],
    format: SaveFormat,
    out: &mut dyn Write,
) -> Result<(), EngineError> {
    let store = Store::open(root)?;
    archive::save(&store, items, format, out).map_err(EngineError::from)
}

/// Loads a docker or OCI archive (plain, gzip or zstd) into the store, recording a `load`
/// event per image.
pub fn load(root: &Path, input: Box<dyn Read + Send>) -> Result<Vec<LoadedImage>, EngineError> {
    let store = Store::open(root)?;
    let mut input =
        snapshot::decompress(input).map_err(|e| EngineError::from(ArchiveError::Read(e)))?;
    let loaded = archive::load(&store, &mut input).map_err(EngineError::from)?;
    for img in &loaded {
        crate::store::events::image_event(store.root(), "load", &img.id.to_string(), "");
    }
    Ok(loaded)
}

/// Docker's report of a load: `Loaded image: NAME` per tag, `Loaded image ID: ID` if none.
pub fn load_lines(loaded: &[LoadedImage]) -> Vec<String> {
    let mut out = Vec::new();
    for img in loaded {
        if img.tags.is_empty() {
            out.push(format!("Loaded image ID: {}", img.id));
        }
        for t in &img.tags {
            out.push(format!("Loaded image: {}", t.familiar_string()));
        }
    }
    out
}
