//! `build --cache-to` / `--cache-from`: parses the specs, imports caches before the build and
//! exports after it. A cache that cannot be read or written is a warning, never a failed build.

use anyhow::{anyhow, Result};

use super::pull::registry_client;
use crate::cache::{
    self, parse_cache_from, parse_cache_to, ArtifactConfig, CacheFrom, CacheTo, Exported,
};
use crate::exec::remote_cache::ImportedCache;
use crate::exec::BuildOutcome;
use crate::reference::Reference;
use crate::store::Store;

/// The parsed `--cache-to` and `--cache-from` flags.
pub struct CacheFlags {
    pub to: Vec<CacheTo>,
    pub from: Vec<CacheFrom>,
}

impl CacheFlags {
    pub fn parse(to: &[String], from: &[String]) -> Result<CacheFlags> {
        Ok(CacheFlags {
            to: to
                .iter()
                .map(|s| parse_cache_to(s).map_err(|e| anyhow!("--cache-to {e}")))
                .collect::<Result<_>>()?,
            from: from
                .iter()
                .map(|s| parse_cache_from(s).map_err(|e| anyhow!("--cache-from {e}")))
                .collect::<Result<_>>()?,
        })
    }

    /// `--cache-to type=inline`: the image config carries the metadata.
    pub fn inline(&self) -> bool {
        self.to.contains(&CacheTo::Inline)
    }

    /// Imports every `--cache-from` that can be read; `None` when none was given.
    pub fn import(&self, store: &Store, insecure: &[String]) -> Option<ImportedCache> {
        if self.from.is_empty() {
            return None;
        }
        let mut imported = ImportedCache::new();
        for from in &self.from {
            let (what, result) = match from {
                CacheFrom::Registry { reference } => {
                    (reference.clone(), import_ref(store, reference, insecure))
                }
                CacheFrom::Local { dir } => (
                    dir.display().to_string(),
                    cache::import_local(dir).map_err(anyhow::Error::from),
                ),
            };
            let result = result.and_then(|imp| {
                if !imp.mounts.is_empty() {
                    let n = cache::restore_cache_mounts(store, imp.source.as_ref(), &imp.mounts)?;
                    if n > 0 {
                        eprintln!("cache: restored {n} cache mount(s) from {what}");
                    }
                }
                Ok(imp)
            });
            match result {
                Ok(imp) => {
                    eprintln!("cache: {} entries from {what}", imp.doc.entries.len());
                    imported.add(imp.source, imp.doc);
                }
                Err(e) => eprintln!("warning: --cache-from {what}: {e:#}; building without it"),
            }
        }
        Some(imported)
    }

    /// Runs every non-inline `--cache-to`.
    pub fn export(
        &self,
        store: &Store,
        outcome: &BuildOutcome,
        imported: Option<&ImportedCache>,
        insecure: &[String],
    ) {
        for to in &self.to {
            let (what, result) = match to {
                CacheTo::Inline => continue,
                CacheTo::Registry {
                    reference,
                    mode,
                    cache_mounts,
                } => (
                    reference.clone(),
                    artifact(store, outcome, *mode, *cache_mounts).and_then(|c| {
                        let r = Reference::parse(reference)
                            .map_err(|e| anyhow!("invalid reference: {e}"))?;
                        let client = registry_client(r.domain(), insecure)?;
                        Ok(cache::export_registry(store, &client, &r, &c, imported)?)
                    }),
                ),
                CacheTo::Local {
                    dir,
                    mode,
                    cache_mounts,
                } => (
                    dir.display().to_string(),
                    artifact(store, outcome, *mode, *cache_mounts)
                        .and_then(|c| Ok(cache::export_local(store, dir, &c, imported)?)),
                ),
            };
            match result {
                Ok(Exported {
                    entries,
                    blobs,
                    written,
                }) => eprintln!(
                    "cache: exported {entries} entries to {what} ({blobs} blobs, {written} written)"
                ),
                Err(e) => eprintln!("warning: --cache-to {what}: {e:#}; the build result stands"),
            }
        }
    }
}

fn import_ref(store: &Store, reference: &str, insecure: &[String]) -> Result<cache::Imported> {
    let r = Reference::parse(reference).map_err(|e| anyhow!("invalid reference: {e}"))?;
    let client = registry_client(r.domain(), insecure)?;
    Ok(cache::import_registry(store, client, &r)?)
}

fn artifact(
    store: &Store,
    outcome: &BuildOutcome,
    mode: cache::Mode,
    cache_mounts: bool,
) -> Result<ArtifactConfig> {
    let mounts = if cache_mounts {
        cache::pack_cache_mounts(store)?
    } else {
        Vec::new()
    };
    Ok(ArtifactConfig {
        doc: cache::select(&outcome.cache_records, mode).with_inputs(&outcome.cache_inputs),
        mounts,
    })
}
