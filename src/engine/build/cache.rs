//! `--cache-to` / `--cache-from` (and the API's `cachefrom`): imports caches before the build
//! and exports after it. A cache that cannot be read or written is a notice, never a failed
//! build.

use std::collections::HashSet;

use super::{BuildNotice, Clients};
use crate::cache::{self, ArtifactConfig, CacheFrom, CacheTo, Exported};
use crate::digest::CacheKey;
use crate::exec::remote_cache::ImportedCache;
use crate::exec::BuildOutcome;
use crate::reference::Reference;
use crate::store::Store;

type Failure = Box<dyn std::error::Error + Send + Sync>;

/// Imports every cache in `from` that can be read; `None` when none was asked for.
pub(super) fn import(store: &Store, from: &[CacheFrom], c: &Clients) -> Option<ImportedCache> {
    if from.is_empty() {
        return None;
    }
    let mut imported = ImportedCache::new();
    for from in from {
        let (what, result) = match from {
            CacheFrom::Registry { reference } => {
                (reference.clone(), import_ref(store, reference, c))
            }
            CacheFrom::Local { dir } => (
                dir.display().to_string(),
                cache::import_local(dir).map_err(Failure::from),
            ),
        };
        let result = result.and_then(|imp| {
            if !imp.mounts.is_empty() {
                let n = cache::restore_cache_mounts(store, imp.source.as_ref(), &imp.mounts)?;
                if n > 0 {
                    (c.notice)(BuildNotice::Info(format!(
                        "cache: restored {n} cache mount(s) from {what}"
                    )));
                }
            }
            Ok(imp)
        });
        match result {
            Ok(imp) => {
                (c.notice)(BuildNotice::Info(format!(
                    "cache: {} entries from {what}",
                    imp.doc.entries.len()
                )));
                imported.add(imp.source, imp.doc);
            }
            Err(e) => (c.notice)(BuildNotice::Warning(format!(
                "--cache-from {what}: {}; building without it",
                chain(e.as_ref())
            ))),
        }
    }
    Some(imported)
}

/// Cache sources named as images (the classic builder's `cachefrom`): a local image gives
/// the keys it was built with, the only local entries the build may then use; a name not in
/// the store that names a registry (`host:5000/app`) is imported from there as a cache; any
/// other name is skipped with a notice, as the classic builder skips it.
pub(super) struct ImageSources {
    /// `None`: the whole local cache (only registries were named, or nothing).
    pub only: Option<HashSet<CacheKey>>,
    pub registries: Vec<CacheFrom>,
}

pub(super) fn image_sources(store: &Store, names: &[String], c: &Clients) -> ImageSources {
    let mut keys = HashSet::new();
    let (mut local, mut registries) = (0, Vec::new());
    for name in names {
        match store.resolve(name) {
            Ok(image) => {
                local += 1;
                keys.extend(store.build_keys(&image.id));
            }
            Err(_) if names_registry(name) => registries.push(CacheFrom::Registry {
                reference: name.clone(),
            }),
            Err(e) => (c.notice)(BuildNotice::Warning(format!(
                "cache source {name}: {e}; not used"
            ))),
        }
    }
    let only = (local > 0 || (registries.is_empty() && !names.is_empty())).then_some(keys);
    ImageSources { only, registries }
}

/// Whether a name starts with a registry host, as Docker tells one from a Docker Hub path.
fn names_registry(name: &str) -> bool {
    name.split_once('/').is_some_and(|(first, _)| {
        first.contains('.') || first.contains(':') || first == "localhost"
    })
}

/// Runs every non-inline `--cache-to` with the steps of every platform's build (a
/// multi-platform build exports one cache whose entries are each platform's, apart by key).
pub(super) fn export(
    store: &Store,
    to: &[CacheTo],
    outcomes: &[&BuildOutcome],
    imported: Option<&ImportedCache>,
    c: &Clients,
) {
    for to in to {
        let (what, result) = match to {
            CacheTo::Inline => continue,
            CacheTo::Registry {
                reference,
                mode,
                cache_mounts,
            } => (
                reference.clone(),
                artifact(store, outcomes, *mode, *cache_mounts).and_then(|a| {
                    let r = parse_ref(reference)?;
                    let client = c.client(r.domain())?;
                    Ok(cache::export_registry(store, &client, &r, &a, imported)?)
                }),
            ),
            CacheTo::Local {
                dir,
                mode,
                cache_mounts,
            } => (
                dir.display().to_string(),
                artifact(store, outcomes, *mode, *cache_mounts)
                    .and_then(|a| Ok(cache::export_local(store, dir, &a, imported)?)),
            ),
        };
        match result {
            Ok(Exported {
                entries,
                blobs,
                written,
            }) => (c.notice)(BuildNotice::Info(format!(
                "cache: exported {entries} entries to {what} ({blobs} blobs, {written} written)"
            ))),
            Err(e) => (c.notice)(BuildNotice::Warning(format!(
                "--cache-to {what}: {}; the build result stands",
                chain(e.as_ref())
            ))),
        }
    }
}

fn parse_ref(reference: &str) -> Result<Reference, Failure> {
    Reference::parse(reference).map_err(|e| format!("invalid reference: {e}").into())
}

fn import_ref(store: &Store, reference: &str, c: &Clients) -> Result<cache::Imported, Failure> {
    let r = parse_ref(reference)?;
    let client = c.client(r.domain())?;
    Ok(cache::import_registry(store, client, &r)?)
}

fn artifact(
    store: &Store,
    outcomes: &[&BuildOutcome],
    mode: cache::Mode,
    cache_mounts: bool,
) -> Result<ArtifactConfig, Failure> {
    let mounts = if cache_mounts {
        cache::pack_cache_mounts(store)?
    } else {
        Vec::new()
    };
    let records: Vec<_> = (outcomes.iter())
        .flat_map(|o| o.cache_records.iter().cloned())
        .collect();
    let inputs: Vec<_> = (outcomes.iter())
        .flat_map(|o| o.cache_inputs.iter().cloned())
        .collect();
    Ok(ArtifactConfig {
        doc: cache::select(&records, mode).with_inputs(&inputs),
        mounts,
    })
}

/// `outer: cause: …`, as anyhow's `{:#}` renders a chain.
fn chain(e: &(dyn std::error::Error + 'static)) -> String {
    let mut parts = vec![e.to_string()];
    let mut cur = e.source();
    while let Some(s) = cur {
        let t = s.to_string();
        if !parts.last().is_some_and(|p| p.contains(&t)) {
            parts.push(t);
        }
        cur = s.source();
    }
    parts.join(": ")
}
