//! Image operations for both front doors: listing with Docker's filters, history, tagging,
//! removal and pruning. Each takes the store's root and a typed request, and returns the
//! objects (or events) the front door renders.

use std::path::Path;

use super::system::{container_manifests, image_users};
use super::EngineError;
use crate::digest::Digest;
use crate::reference::Reference;
use crate::store::gc::{PruneOptions, PruneReport};
use crate::store::image::RemoveEvent;
use crate::store::image_filter::{Candidate, ImageFilters};
use crate::store::time::{now_unix, parse_rfc3339};
use crate::store::{Image, Store};

/// Which images to list: `KEY=VALUE` filters (`store::image_filter`) and an optional
/// reference pattern (the positional argument of `docker images`).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ListRequest {
    pub filters: Vec<String>,
    pub reference: Option<String>,
}

/// One listed image with the tags the filters let through (none: shown as `<none>`).
#[derive(Debug, Clone)]
pub struct Listed {
    pub image: Image,
    pub tags: Vec<Reference>,
}

/// The image's creation time, Unix seconds.
pub fn created(img: &Image) -> Option<i64> {
    img.config.created.as_deref().and_then(parse_rfc3339)
}

/// The images `req` selects, newest first (as docker lists them).
pub fn list(root: &Path, req: &ListRequest) -> Result<Vec<Listed>, EngineError> {
    let store = Store::open(root)?;
    let mut filters = ImageFilters::parse(&req.filters, now_unix())?;
    if let Some(r) = &req.reference {
        filters.add_reference(r)?;
    }
    let bounds = filters.bounds(|r| store.resolve(r).map(|img| created(&img)))?;
    let mut images = store.images()?;
    images.sort_by_key(|i| std::cmp::Reverse(created(i)));
    let mut out = Vec::new();
    for img in images {
        let candidate = Candidate {
            tags: &img.tags,
            created: created(&img),
            labels: img.config.config.labels.as_ref(),
        };
        if let Some(tags) = filters.rows(&candidate, &bounds) {
            let tags: Vec<Reference> = tags.into_iter().cloned().collect();
            out.push(Listed { image: img, tags });
        }
    }
    Ok(out)
}

/// One image by reference or ID.
pub fn get(root: &Path, reference: &str) -> Result<Image, EngineError> {
    Ok(Store::open(root)?.resolve(reference)?)
}

/// One history entry of an image, resolved against its layers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryEntry {
    /// The image's ID on the newest entry; Docker shows `<missing>` for the others.
    pub id: Option<Digest>,
    /// As recorded (RFC 3339), if at all.
    pub created: Option<String>,
    pub created_by: String,
    pub comment: String,
    pub size: u64,
    /// The image's tags on the newest entry.
    pub tags: Vec<Reference>,
}

/// The image's history, newest first.
pub fn history(root: &Path, reference: &str) -> Result<Vec<HistoryEntry>, EngineError> {
    let img = get(root, reference)?;
    let layers = img.layers();
    let mut next_layer = 0;
    let mut entries: Vec<HistoryEntry> = Vec::new();
    for h in &img.config.history {
        let size = if h.empty_layer().unwrap_or(false) {
            0
        } else {
            let s = layers.get(next_layer).map_or(0, |l| l.size());
            next_layer += 1;
            s
        };
        entries.push(HistoryEntry {
            id: None,
            created: h.created().clone(),
            created_by: h.created_by().clone().unwrap_or_default(),
            comment: h.comment().clone().unwrap_or_default(),
            size,
            tags: Vec::new(),
        });
    }
    entries.reverse();
    if let Some(first) = entries.first_mut() {
        first.id = Some(img.id);
        first.tags = img.tags.clone();
    }
    Ok(entries)
}

/// Gives the image `source` the name `target` (`[HOST[:PORT]/]NAME[:TAG]`).
pub fn tag(root: &Path, source: &str, target: &str) -> Result<Image, EngineError> {
    let reference = Reference::parse(target).map_err(|source| EngineError::BadReference {
        value: target.to_string(),
        source,
    })?;
    if reference.digest().is_some() {
        return Err(EngineError::TagWithDigest(target.to_string()));
    }
    Ok(Store::open(root)?.tag(source, &reference)?)
}

/// Untags `reference`, and removes the image with its last tag (`force`: even when tagged
/// several times or used by a stopped container).
pub fn remove(root: &Path, reference: &str, force: bool) -> Result<Vec<RemoveEvent>, EngineError> {
    let store = Store::open(root)?;
    let users = image_users(root)?;
    Ok(store.remove_image(reference, force, &users)?)
}

/// Removes dangling images (`all`: every image no container uses) and what only they kept.
pub fn prune(root: &Path, all: bool) -> Result<PruneReport, EngineError> {
    let store = Store::open(root)?;
    Ok(store.prune(PruneOptions {
        all_images: all,
        keep_manifests: container_manifests(root)?,
    })?)
}
