//! Pulling an image for both front doors: a typed request in, typed progress events out
//! through a callback (called from download threads too, hence `Sync`), the pulled image and
//! whether it changed the tag at the end.

use std::path::Path;
use std::sync::Mutex;

use super::EngineError;
use crate::digest::Digest;
use crate::distribution::pull::{pull_with_progress, BlobProgress};
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
    pub image: Image,
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
    let before = store.read_index()?.lookup(reference).map(|e| e.manifest);
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
    let image =
        pull_with_progress(&store, &client, reference, &platform, &progress).map_err(|source| {
            EngineError::Pull {
                reference: reference.familiar_string(),
                source: Box::new(source),
            }
        })?;
    let name = reference.familiar_string();
    crate::store::events::image_event(store.root(), "pull", &name, &name);
    Ok(Pulled {
        changed: before != Some(image.manifest_digest),
        image,
    })
}
