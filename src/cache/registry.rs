//! A cache in a registry: the artifact pushed under a tag (`--cache-to type=registry,ref=…`),
//! and an artifact or an image with inline metadata read back (`--cache-from`). Blobs of
//! imported entries are fetched from the same repository when a build needs them.

use rayon::prelude::*;

use super::format::{
    artifact_manifest, classify_manifest, parse_artifact_config, parse_inline, ArtifactConfig,
    Found, OCI_MANIFEST,
};
use super::{ensure_local, CacheError, Exported, Imported};
use crate::digest::Digest;
use crate::distribution::pull::{
    choose_platform, fetch_blob, fetch_manifest, index_entries, BlobRef, OCI_INDEX,
};
use crate::distribution::push::{blob_exists, push_store_blob, put_manifest};
use crate::distribution::{RegistryClient, RegistryError};
use crate::exec::remote_cache::{BlobSource, ImportedCache};
use crate::plan::platform::Platform;
use crate::reference::Reference;
use crate::store::Store;

/// Blobs of one repository.
struct RegistrySource {
    client: RegistryClient,
    repo: String,
    name: String,
}

impl BlobSource for RegistrySource {
    fn name(&self) -> String {
        self.name.clone()
    }
    fn fetch(&self, store: &Store, digest: &Digest, size: u64) -> Result<(), String> {
        fetch_blob(
            store,
            &self.client,
            &self.repo,
            &BlobRef {
                digest: *digest,
                size,
            },
        )
        .map_err(|e| e.to_string())
    }
}

fn target(reference: &Reference) -> String {
    match (reference.digest(), reference.tag()) {
        (Some(d), _) => d.to_string(),
        (None, Some(t)) => t.to_string(),
        (None, None) => "latest".into(),
    }
}

/// Reads the cache at `reference`: a strata cache artifact, or an image (or an index holding
/// one for the host) whose config carries inline cache metadata.
pub fn import_registry(
    store: &Store,
    client: RegistryClient,
    reference: &Reference,
) -> Result<Imported, CacheError> {
    let name = reference.to_string();
    let reg = |source: RegistryError| CacheError::Registry {
        reference: name.clone(),
        source: Box::new(source),
    };
    let invalid = |message: String| CacheError::Invalid {
        source_name: name.clone(),
        message,
    };
    let repo = reference.path().to_string();
    let mut m =
        fetch_manifest(&client, &repo, &target(reference), reference.digest()).map_err(reg)?;
    if m.media_type == OCI_INDEX || m.media_type.contains("manifest.list") {
        let entries = index_entries(&m.bytes).map_err(invalid)?;
        let chosen = choose_platform(&entries, &Platform::host())
            .or_else(|| entries.first().map(|e| e.digest))
            .ok_or_else(|| invalid("an empty index".into()))?;
        m = fetch_manifest(&client, &repo, &chosen.to_string(), Some(&chosen)).map_err(reg)?;
    }
    let found = classify_manifest(&m.bytes).map_err(invalid)?;
    let config = match &found {
        Found::Artifact { config } | Found::Image { config } => config,
    };
    if !store.has_blob(&config.digest) {
        let blob = BlobRef {
            digest: config.digest,
            size: config.size,
        };
        fetch_blob(store, &client, &repo, &blob).map_err(reg)?;
    }
    let bytes = store.read_blob(&config.digest)?;
    let (doc, mounts) = match found {
        Found::Artifact { .. } => {
            let c = parse_artifact_config(&bytes).map_err(invalid)?;
            (c.doc, c.mounts)
        }
        Found::Image { .. } => (parse_inline(&bytes).map_err(invalid)?, Vec::new()),
    };
    Ok(Imported {
        source: Box::new(RegistrySource {
            client,
            repo,
            name: name.clone(),
        }),
        doc,
        mounts,
    })
}

/// Blobs uploaded at once.
const PARALLEL: usize = 3;

/// Pushes `config`'s blobs that the repository lacks (fetching from the imported cache those a
/// hit left remote), the config blob, and the artifact manifest under `reference`'s tag.
pub fn export_registry(
    store: &Store,
    client: &RegistryClient,
    reference: &Reference,
    config: &ArtifactConfig,
    imported: Option<&ImportedCache>,
) -> Result<Exported, CacheError> {
    let name = reference.to_string();
    let reg = |source: RegistryError| CacheError::Registry {
        reference: name.clone(),
        source: Box::new(source),
    };
    let repo = reference.path();
    let blobs = config.blobs();
    let pool = rayon::ThreadPoolBuilder::new()
        .num_threads(PARALLEL)
        .build()
        .expect("a thread pool");
    let written = pool.install(|| {
        blobs
            .par_iter()
            .map(|(b, _)| -> Result<bool, CacheError> {
                if !store.has_blob(&b.digest) {
                    // A blob the registry has need not come down to go back up.
                    if blob_exists(client, repo, &b.digest).map_err(reg)? {
                        return Ok(false);
                    }
                    ensure_local(store, imported, &b.digest)?;
                }
                let blob = BlobRef {
                    digest: b.digest,
                    size: b.size,
                };
                push_store_blob(store, client, repo, &blob).map_err(reg)
            })
            .collect::<Result<Vec<bool>, CacheError>>()
    })?;
    let config_bytes = config.to_bytes();
    let config_digest = store.write_blob(&config_bytes)?;
    let config_ref = BlobRef {
        digest: config_digest,
        size: config_bytes.len() as u64,
    };
    push_store_blob(store, client, repo, &config_ref).map_err(reg)?;
    let manifest = artifact_manifest(config, &config_bytes);
    put_manifest(client, repo, &target(reference), &manifest, OCI_MANIFEST).map_err(reg)?;
    Ok(Exported {
        entries: config.doc.entries.len(),
        blobs: blobs.len(),
        written: written.iter().filter(|w| **w).count(),
    })
}
