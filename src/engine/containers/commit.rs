//! `commit`: a container's changes as a new image on top of its image, with Docker's options
//! (author, message, `--change` instructions, config overrides, pausing a running container
//! for the time of the copy).

use std::path::{Path, PathBuf};

use super::error::{Error, Result};
use crate::container::access::layers;
use crate::container::commit::{commit as commit_layers, CommitOptions, SANDBOX_MOUNTPOINTS};
use crate::container::config_view::image_fields;
use crate::container::{cgroups, events, Containers};
use crate::reference::Reference;
use crate::store::{Image, RuntimeConfig, Store};

/// What to commit and how.
#[derive(Debug, Clone, Default)]
pub struct CommitRequest {
    /// The container's name, ID or ID prefix.
    pub container: String,
    /// `REPOSITORY[:TAG]` for the new image (untagged when `None`).
    pub reference: Option<String>,
    pub author: Option<String>,
    pub message: Option<String>,
    /// Dockerfile instructions applied to the config (CMD, ENV, LABEL, …).
    pub changes: Vec<String>,
    /// Config fields that replace the image's before the changes apply.
    pub overrides: Option<RuntimeConfig>,
    /// Freeze a running container while its files are read (Docker's default through the
    /// API; the CLI's `--pause`).
    pub pause: bool,
}

/// The reference to tag with, refusing a digest.
pub fn tag_reference(r: &str) -> Result<Reference> {
    let t = Reference::parse(r).map_err(|source| Error::BadReference {
        value: r.to_string(),
        source,
    })?;
    if t.digest().is_some() {
        return Err(Error::TagWithDigest(r.to_string()));
    }
    Ok(t)
}

/// Commits the container `req.container` names; returns the new image.
pub fn commit(root: &Path, req: &CommitRequest) -> Result<Image> {
    let tags = match &req.reference {
        Some(r) => vec![tag_reference(r)?],
        None => Vec::new(),
    };
    let store = Store::open(root)?;
    let cs = Containers::new(store.root());
    let c = cs.find(&req.container)?;
    let (upper, lowers) = layers(&store, &c)?;
    let opts = CommitOptions {
        tags,
        author: req.author.clone(),
        message: req.message.clone(),
        changes: req.changes.clone(),
        created_by: c.config.argv.join(" "),
        mountpoints: SANDBOX_MOUNTPOINTS
            .iter()
            .map(PathBuf::from)
            .chain(c.config.mounts.iter().map(|m| m.target().clone()))
            .collect(),
        layer: Default::default(),
        container: Some(image_fields(&c.config)),
        overrides: req.overrides.clone(),
    };
    // Only a running container that is not paused yet is frozen, and only it is thawed after.
    let frozen = req.pause && c.is_running() && cgroups::pause(&cs, &c.id).is_ok();
    let result = commit_layers(&store, &c.manifest_digest, &upper, &lowers, &opts);
    if frozen {
        // A thaw that fails leaves the container paused, which `unpause` mends; the commit
        // itself is what the caller asked about.
        let _ = cgroups::unpause(&cs, &c.id);
    }
    let img = result.map_err(|source| Error::Commit {
        id: c.short_id().to_string(),
        source: Box::new(source),
    })?;
    // Docker's `Parent`: without the record the image only shows none.
    let _ = store.record_parent(&img.id, &c.image_id);
    events::emit(root, &c, "commit", &[]);
    Ok(img)
}
