//! docker-archive: `manifest.json` (`[{Config, RepoTags, Layers}]`) naming a config JSON file and
//! layer tars by path, plus `repositories`. Loading accepts uncompressed or compressed layer
//! files and checks each against the config's diff IDs; saving writes uncompressed
//! `<diffID>/layer.tar` files, as `docker save` does, so the diff IDs verify.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Seek};

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::reference::{is_hex64, Reference};

use super::super::config::ImageConfig;
use super::super::digest_of;
use super::super::image::layer_descriptor;
use super::super::layout::Store;
use super::{
    append_bytes, append_file, blob_path, decoded, ArchiveError, Compressed, Entries, LoadedImage,
    SaveItem,
};

#[derive(Debug, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
struct ManifestEntry {
    config: String,
    #[serde(default)]
    repo_tags: Option<Vec<String>>,
    #[serde(default)]
    layers: Vec<String>,
}

fn parse_manifest(entries: &Entries, store: &Store) -> Result<Vec<ManifestEntry>, ArchiveError> {
    let bytes = entries.read_all(store, "manifest.json")?;
    serde_json::from_slice(&bytes).map_err(|e| ArchiveError::Invalid {
        path: "manifest.json".into(),
        reason: e.to_string(),
    })
}

/// The tags manifest.json gives the image whose config is at `config_path`.
pub(super) fn repo_tags_for(
    entries: &Entries,
    store: &Store,
    config: &Digest,
) -> Result<Vec<Reference>, ArchiveError> {
    if !entries.has("manifest.json") {
        return Ok(Vec::new());
    }
    for e in parse_manifest(entries, store)? {
        if entries.has(&e.config) && entries.digest(&e.config)?.0 == *config {
            return parse_tags(e.repo_tags.as_deref().unwrap_or_default());
        }
    }
    Ok(Vec::new())
}

fn parse_tags(tags: &[String]) -> Result<Vec<Reference>, ArchiveError> {
    tags.iter()
        .map(|t| {
            Reference::parse(t).map_err(|source| ArchiveError::BadReference {
                path: "manifest.json".into(),
                name: t.clone(),
                source,
            })
        })
        .collect()
}

pub(super) fn load(store: &Store, entries: &mut Entries) -> Result<Vec<LoadedImage>, ArchiveError> {
    let manifest = parse_manifest(entries, store)?;
    // Every layer of every image first, so a refused one leaves nothing behind.
    for entry in &manifest {
        for path in &entry.layers {
            entries.check_layer(store, path)?;
        }
    }
    let mut loaded = Vec::new();
    for entry in manifest {
        let config_bytes = entries.read_all(store, &entry.config)?;
        let config_digest = Digest::of(&config_bytes);
        let stem = entry
            .config
            .rsplit('/')
            .next()
            .unwrap_or("")
            .trim_end_matches(".json");
        if is_hex64(stem) && stem != config_digest.hex() {
            return Err(ArchiveError::DigestMismatch {
                path: entry.config.clone(),
                expected: format!("sha256:{stem}").parse().expect("64 hex digits"),
                actual: config_digest,
            });
        }
        let tags = parse_tags(entry.repo_tags.as_deref().unwrap_or_default())?;
        // The image is already here (same ID): name it, keep its manifest and layers.
        if let Ok(existing) = store.resolve(&config_digest.to_string()) {
            if existing.id == config_digest {
                store.add_manifest(&existing.descriptor(), &tags)?;
                loaded.push(LoadedImage {
                    id: existing.id,
                    manifest: existing.manifest_digest,
                    tags,
                });
                continue;
            }
        }
        let config = ImageConfig::from_json(&config_bytes, &entry.config)?;
        let diff_ids = config.diff_ids()?;
        if diff_ids.len() != entry.layers.len() {
            return Err(ArchiveError::Invalid {
                path: entry.config.clone(),
                reason: format!(
                    "{} diff_ids for {} layers in manifest.json",
                    diff_ids.len(),
                    entry.layers.len()
                ),
            });
        }
        let mut layers = Vec::new();
        for (path, expected) in entry.layers.iter().zip(&diff_ids) {
            let (kind, diff_id) = entries.diff_id(store, path)?;
            if diff_id != *expected {
                return Err(ArchiveError::DigestMismatch {
                    path: path.clone(),
                    expected: *expected,
                    actual: diff_id,
                });
            }
            let (digest, size) = entries.commit(store, path)?;
            layers.push(layer_descriptor(&digest, size, kind.layer_media_type()));
        }
        let img = store.commit_manifest(&config_bytes, &layers, &tags)?;
        loaded.push(LoadedImage {
            id: img.id,
            manifest: img.manifest_digest,
            tags,
        });
    }
    Ok(loaded)
}

pub(super) fn save(
    store: &Store,
    items: &[SaveItem],
    out: &mut dyn io::Write,
) -> Result<(), ArchiveError> {
    let mut tar = tar::Builder::new(out);
    let mut written: Vec<String> = Vec::new();
    let mut manifest = Vec::new();
    let mut repositories: BTreeMap<String, BTreeMap<String, String>> = BTreeMap::new();
    for item in items {
        let img = &item.image;
        let config_path = format!("{}.json", img.id.hex());
        if !written.contains(&config_path) {
            append_bytes(&mut tar, &config_path, &store.read_blob(&img.id)?)?;
            written.push(config_path.clone());
        }
        let diff_ids = img.config.diff_ids()?;
        let mut layer_paths = Vec::new();
        for (layer, diff_id) in img.layers().iter().zip(&diff_ids) {
            let path = format!("{}/layer.tar", diff_id.hex());
            if !written.contains(&path) {
                append_uncompressed(store, &mut tar, &digest_of(layer.digest())?, &path)?;
                written.push(path.clone());
            }
            layer_paths.push(path);
        }
        let tags: Vec<String> = item.tags.iter().map(|t| t.familiar_string()).collect();
        for t in &item.tags {
            if let (Some(tag), Some(top)) = (t.tag(), diff_ids.last()) {
                repositories
                    .entry(t.familiar())
                    .or_default()
                    .insert(tag.to_string(), top.hex());
            }
        }
        manifest.push(ManifestEntry {
            config: config_path,
            repo_tags: if tags.is_empty() { None } else { Some(tags) },
            layers: layer_paths,
        });
    }
    let manifest = serde_json::to_vec(&manifest).expect("manifest.json serialises");
    append_bytes(&mut tar, "manifest.json", &manifest)?;
    if !repositories.is_empty() {
        let repos = serde_json::to_vec(&repositories).expect("repositories serialises");
        append_bytes(&mut tar, "repositories", &repos)?;
    }
    tar.into_inner().map_err(ArchiveError::Write)?;
    Ok(())
}

/// manifest.json for an OCI layout of `items` (see `oci::save`): each item's config and layers
/// by their blob paths, its tags familiar.
pub(super) fn layout_manifest(items: &[SaveItem]) -> Result<Vec<u8>, ArchiveError> {
    let mut manifest = Vec::new();
    for item in items {
        let img = &item.image;
        let layers = img
            .layers()
            .iter()
            .map(|l| Ok(blob_path(&digest_of(l.digest())?)))
            .collect::<Result<Vec<String>, ArchiveError>>()?;
        let tags: Vec<String> = item.tags.iter().map(|t| t.familiar_string()).collect();
        manifest.push(ManifestEntry {
            config: blob_path(&img.id),
            repo_tags: (!tags.is_empty()).then_some(tags),
            layers,
        });
    }
    Ok(serde_json::to_vec(&manifest).expect("manifest.json serialises"))
}

/// Appends a layer blob as an uncompressed tar; a compressed blob is decompressed into a temp
/// file first because the tar header needs the size up front.
fn append_uncompressed(
    store: &Store,
    tar: &mut tar::Builder<&mut dyn io::Write>,
    blob: &Digest,
    path: &str,
) -> Result<(), ArchiveError> {
    let read_err = |source| ArchiveError::ReadEntry {
        path: store.blob_path(blob).display().to_string(),
        source,
    };
    let (kind, mut r) = decoded(store.open_blob(blob)?).map_err(read_err)?;
    if kind == Compressed::None {
        let size = store.blob_size(blob)?;
        return append_file(tar, path, size, &mut r);
    }
    let mut tmp: File = tempfile::tempfile_in(store.tmp_dir()).map_err(read_err)?;
    let size = io::copy(&mut r, &mut tmp).map_err(read_err)?;
    tmp.rewind().map_err(read_err)?;
    append_file(tar, path, size, &mut tmp)
}
