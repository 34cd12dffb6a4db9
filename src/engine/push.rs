//! Pushing an image for both front doors: a typed request in, typed progress events out
//! through a callback (called from upload threads too, hence `Sync`), the pushed manifest's
//! digest and size at the end.

use std::path::Path;
use std::sync::Mutex;

use super::EngineError;
use crate::digest::Digest;
use crate::distribution::push::{push_with_progress, PushProgress};
use crate::distribution::{BasicCredential, Pushed};
use crate::reference::Reference;
use crate::store::Store;

/// What to push, and as whom.
#[derive(Debug, Clone)]
pub struct PushRequest {
    /// The stored image's name, which also names the repository pushed to.
    pub reference: Reference,
    pub insecure: Vec<String>,
    /// A credential given with the request; `None`: Docker's config file.
    pub credential: Option<BasicCredential>,
}

/// One step of a push, layers only (Docker does not report the config blob).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PushEvent {
    /// The layers, bottom first.
    Started(Vec<Digest>),
    Pushing(Digest),
    Pushed(Digest),
    Existed(Digest),
    Warning(String),
}

/// The tag (or digest) a push wrote: what Docker prints before `: digest:`.
pub fn pushed_name(reference: &Reference) -> String {
    match (reference.tag(), reference.digest()) {
        (Some(t), _) => t.to_string(),
        (None, Some(d)) => d.to_string(),
        (None, None) => "latest".into(),
    }
}

/// Pushes the image `req.reference` from the store at `root` to its registry.
pub fn push(
    root: &Path,
    req: &PushRequest,
    on: &(dyn Fn(PushEvent) + Sync),
) -> Result<Pushed, EngineError> {
    let store = Store::open(root)?;
    let reference = &req.reference;
    let local = reference.to_string();
    // A missing image is the store's error (a 404), not the registry's.
    store.resolve(&local)?;
    let client = super::registry::client_with(
        reference.domain(),
        &req.insecure,
        req.credential.as_ref(),
        &mut |w| on(PushEvent::Warning(w)),
    )?;
    let config: Mutex<Option<Digest>> = Mutex::new(None);
    let is_config = |d: &Digest| *config.lock().unwrap_or_else(|e| e.into_inner()) == Some(*d);
    let progress = |p: PushProgress| match p {
        PushProgress::Resolved(blobs) => {
            *config.lock().unwrap_or_else(|e| e.into_inner()) = blobs.first().copied();
            on(PushEvent::Started(blobs.into_iter().skip(1).collect()));
        }
        PushProgress::Pushing(d) | PushProgress::Pushed(d) | PushProgress::Existed(d)
            if is_config(&d) => {}
        PushProgress::Pushing(d) => on(PushEvent::Pushing(d)),
        PushProgress::Pushed(d) => on(PushEvent::Pushed(d)),
        PushProgress::Existed(d) => on(PushEvent::Existed(d)),
    };
    let pushed =
        push_with_progress(&store, &client, &local, reference, &progress).map_err(|source| {
            EngineError::Push {
                reference: reference.familiar_string(),
                source: Box::new(source),
            }
        })?;
    let name = reference.familiar_string();
    crate::store::events::image_event(store.root(), "push", &name, &name);
    Ok(pushed)
}
