//! Pulling an image for both front doors: a typed request in, typed progress events out
//! through a callback (called from download threads too, hence `Sync`), the pulled image and
//! whether it changed the tag at the end.

use std::path::Path;
use std::sync::Mutex;

use super::EngineError;
use crate::digest::Digest;
use crate::distribution::pull::{pull_all_platforms, pull_with_progress, BlobProgress};
use crate::distribution::BasicCredential;
use crate::plan::platform::Platform;
use crate::reference::Reference;
use crate::store::{Image, Store};

/// What to pull, from where, as whom.
#[derive(Debug, Clone)]
pub struct PullRequest {
    pub reference: Reference,
    /// `None`: the host's platform.
    pub platform: Option<Platform>,
    /// Every platform of an index, stored whole under the tag (`platform` is then ignored).
    pub all_platforms: bool,
    /// Registries allowed over plain HTTP (beyond loopback).
    pub insecure: Vec<String>,
    /// A credential given with the request; `None`: Docker's config file.
    pub credential: Option<BasicCredential>,
}

/// One step of a pull, in the order Docker reports them.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PullEvent {
    /// The manifest is resolved; the pull of the layers starts.
    Started,
    /// A layer the store already has.
    Exists(Digest),
    /// A layer to download.
    Waiting(Digest),
    Downloading(Digest),
    Downloaded(Digest),
    /// A warning that does not stop the pull (a failing credential helper).
    Warning(String),
}

/// The outcome of a pull.
#[derive(Debug, Clone)]
pub struct Pulled {
    /// The image for the platform asked for (the host's, with `all_platforms`).
    pub image: Image,
    /// What the tag names now: the manifest's digest, or the index's with `all_platforms`.
    pub digest: Digest,
    /// False when the tag already named this manifest.
    pub changed: bool,
}

/// Pulls `req.reference` into the store at `root`, reporting each step to `on`.
pub fn pull(
    root: &Path,
    req: &PullRequest,
    on: &(dyn Fn(PullEvent) + Sync),
) -> Result<Pulled, EngineError> {
    let store = Store::open(root)?;
    let reference = &req.reference;
    let idx = store.read_index()?;
    let before = match req.all_platforms {
        true => idx.lookup_index(reference).map(|e| e.digest),
        false => None,
    }
    .or_else(|| idx.lookup(reference).map(|e| e.manifest));
    let client = super::registry::client_with(
        reference.domain(),
        &req.insecure,
        req.credential.as_ref(),
        &mut |w| on(PullEvent::Warning(w)),
    )?;
    let platform = req.platform.clone().unwrap_or_else(Platform::host);
    // The config blob is not a layer: Docker reports layers only.
    let config: Mutex<Option<Digest>> = Mutex::new(None);
    let progress = |p: BlobProgress| match p {
        BlobProgress::Resolved(blobs) => {
            on(PullEvent::Started);
            *config.lock().unwrap_or_else(|e| e.into_inner()) = blobs.first().map(|b| b.0.digest);
            for (b, stored) in blobs.iter().skip(1) {
                on(if *stored {
                    PullEvent::Exists(b.digest)
                } else {
                    PullEvent::Waiting(b.digest)
                });
            }
        }
        BlobProgress::Downloading(d) | BlobProgress::Stored(d)
            if *config.lock().unwrap_or_else(|e| e.into_inner()) == Some(d) => {}
        BlobProgress::Downloading(d) => on(PullEvent::Downloading(d)),
        BlobProgress::Stored(d) => on(PullEvent::Downloaded(d)),
    };
    let failed = |source| EngineError::Pull {
        reference: reference.familiar_string(),
        source: Box::new(source),
    };
    let (image, digest) = if req.all_platforms {
        let digest = pull_all_platforms(&store, &client, reference, &progress).map_err(failed)?;
        (store.resolve_platform(&digest.to_string(), None)?, digest)
    } else {
        let image =
            pull_with_progress(&store, &client, reference, &platform, &progress).map_err(failed)?;
        let digest = image.manifest_digest;
        (image, digest)
    };
    let name = reference.familiar_string();
    crate::store::events::image_event(store.root(), "pull", &name, &name);
    Ok(Pulled {
        changed: before != Some(digest),
        digest,
        image,
    })
}
