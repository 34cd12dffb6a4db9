//! oci-archive: a tar of an OCI image layout (`oci-layout`, `index.json`, `blobs/sha256/…`).
//! Names come from the `io.containerd.image.name` annotation (Docker 25+ `docker save`), else
//! `org.opencontainers.image.ref.name` when it parses as a reference (`busybox`,
//! `docker.io/library/busybox:latest`; a bare tag such as `latest` names
//! `docker.io/library/latest:latest`, as skopeo's `oci:` transport would), else the RepoTags of
//! a manifest.json next to it. Saving writes both annotations with the full reference.

use std::collections::HashMap;
use std::io::Write;

use oci_spec::image::{Descriptor, ImageIndex, ImageManifest, MediaType};

use crate::digest::Digest;
use crate::reference::Reference;

use super::super::config::host_arch;
use super::super::index::REF_NAME;
use super::super::layout::Store;
use super::super::{digest_of, oci_digest};
use super::{
    append_bytes, append_dir, append_file, blob_path, docker, ArchiveError, Entries, LoadedImage,
    SaveItem,
};

const CONTAINERD_NAME: &str = "io.containerd.image.name";
const DOCKER_MANIFEST: &str = "application/vnd.docker.distribution.manifest.v2+json";
const DOCKER_LIST: &str = "application/vnd.docker.distribution.manifest.list.v2+json";

fn is_index(mt: &MediaType) -> bool {
    matches!(mt, MediaType::ImageIndex) || mt.to_string() == DOCKER_LIST
}

fn is_manifest(mt: &MediaType) -> bool {
    matches!(mt, MediaType::ImageManifest) || mt.to_string() == DOCKER_MANIFEST
}

fn parse_json<T: serde::de::DeserializeOwned>(bytes: &[u8], path: &str) -> Result<T, ArchiveError> {
    serde_json::from_slice(bytes).map_err(|e| ArchiveError::Invalid {
        path: path.to_string(),
        reason: e.to_string(),
    })
}

/// Reads a blob of the archive, checking the size its descriptor claims.
fn read_blob(
    entries: &Entries,
    store: &Store,
    desc: &Descriptor,
) -> Result<(Digest, Vec<u8>), ArchiveError> {
    let d = digest_of(desc.digest())?;
    let path = blob_path(&d);
    let bytes = entries.read_all(store, &path)?;
    check_size(&path, desc.size(), bytes.len() as u64)?;
    Ok((d, bytes))
}

fn check_size(path: &str, expected: u64, actual: u64) -> Result<(), ArchiveError> {
    if expected != actual {
        return Err(ArchiveError::Invalid {
            path: path.to_string(),
            reason: format!("descriptor says {expected} bytes, the file has {actual}"),
        });
    }
    Ok(())
}

/// The names an index entry gives its image.
fn names_of(desc: &Descriptor) -> Vec<Reference> {
    let ann = desc.annotations().clone().unwrap_or_default();
    if let Some(r) = ann
        .get(CONTAINERD_NAME)
        .and_then(|n| Reference::parse(n).ok())
    {
        return vec![r];
    }
    ann.get(REF_NAME)
        .and_then(|n| Reference::parse(n).ok())
        .into_iter()
        .collect()
}

pub(super) fn load(store: &Store, entries: &mut Entries) -> Result<Vec<LoadedImage>, ArchiveError> {
    let index: ImageIndex = parse_json(&entries.read_all(store, "index.json")?, "index.json")?;
    // Manifest descriptor → names, in index order.
    let mut images: Vec<(Descriptor, Vec<Reference>)> = Vec::new();
    // Multi-platform images whose every platform the archive holds are kept whole: the index
    // descriptor, its names, and its platforms' manifests (loaded untagged, kept by the index).
    let mut whole: Vec<(Descriptor, Vec<Reference>, Vec<Digest>)> = Vec::new();
    for desc in index.manifests() {
        let names = names_of(desc);
        let chosen = if is_index(desc.media_type()) {
            let (_, bytes) = read_blob(entries, store, desc)?;
            let nested: ImageIndex = parse_json(&bytes, &blob_path(&digest_of(desc.digest())?))?;
            let children: Vec<&Descriptor> = nested
                .manifests()
                .iter()
                .filter(|d| is_manifest(d.media_type()) && d.platform().is_some())
                .collect();
            let complete = !children.is_empty()
                && children
                    .iter()
                    .all(|d| digest_of(d.digest()).is_ok_and(|x| entries.has(&blob_path(&x))));
            if complete {
                let mut digests = Vec::new();
                for c in children {
                    digests.push(digest_of(c.digest())?);
                    if !images.iter().any(|(d, _)| d.digest() == c.digest()) {
                        images.push((c.clone(), Vec::new()));
                    }
                }
                whole.push((desc.clone(), names, digests));
                continue;
            }
            pick_platform(&nested).ok_or_else(|| ArchiveError::Invalid {
                path: blob_path(&digest_of(desc.digest()).unwrap_or(Digest::of(b""))),
                reason: format!("no image for linux/{} in the index", host_arch()),
            })?
        } else if is_manifest(desc.media_type()) {
            desc.clone()
        } else {
            continue;
        };
        match images
            .iter_mut()
            .find(|(d, _)| d.digest() == chosen.digest())
        {
            Some((_, n)) => n.extend(names),
            None => images.push((chosen, names)),
        }
    }

    // Every layer of every image first, so a refused one leaves nothing behind.
    for (desc, _) in &images {
        let (manifest_digest, bytes) = read_blob(entries, store, desc)?;
        let manifest: ImageManifest = parse_json(&bytes, &blob_path(&manifest_digest))?;
        for layer in manifest.layers() {
            entries.check_layer(store, &blob_path(&digest_of(layer.digest())?))?;
        }
    }
    let mut loaded = Vec::new();
    for (desc, names) in &images {
        let (manifest_digest, bytes) = read_blob(entries, store, desc)?;
        let manifest: ImageManifest = parse_json(&bytes, &blob_path(&manifest_digest))?;
        let mut blobs: Vec<&Descriptor> = vec![manifest.config()];
        blobs.extend(manifest.layers().iter());
        for b in blobs {
            let d = digest_of(b.digest())?;
            let path = blob_path(&d);
            check_size(&path, b.size(), entries.digest(&path)?.1)?;
            entries.commit(store, &path)?;
        }
        entries.commit(store, &blob_path(&manifest_digest))?;
        let id = digest_of(manifest.config().digest())?;
        let mut tags = names.clone();
        let in_index = whole.iter().any(|(_, _, c)| c.contains(&manifest_digest));
        if tags.is_empty() && !in_index {
            tags = docker::repo_tags_for(entries, store, &id)?;
        }
        loaded.push(LoadedImage {
            id,
            manifest: manifest_digest,
            tags,
        });
    }

    let mut indexes = Vec::new();
    for (desc, names, children) in &whole {
        let d = digest_of(desc.digest())?;
        check_size(
            &blob_path(&d),
            desc.size(),
            entries.digest(&blob_path(&d))?.1,
        )?;
        entries.commit(store, &blob_path(&d))?;
        indexes.push((
            Descriptor::new(
                desc.media_type().clone(),
                desc.size(),
                desc.digest().clone(),
            ),
            names.clone(),
        ));
        // Reported once, by the index, as `images` lists it.
        let first = loaded.iter().find(|l| children.contains(&l.manifest));
        loaded.push(LoadedImage {
            id: first.map_or(d, |l| l.id),
            manifest: d,
            tags: names.clone(),
        });
    }
    let in_index = |m: &Digest| whole.iter().any(|(_, _, c)| c.contains(m));
    store.update_index(|idx| {
        for (desc, names) in &indexes {
            if names.is_empty() {
                idx.add_untagged_any(desc);
            }
            for t in names {
                idx.set_tag(desc, t);
            }
        }
        for ((desc, _), l) in images.iter().zip(&loaded) {
            let clean = Descriptor::new(
                desc.media_type().clone(),
                desc.size(),
                desc.digest().clone(),
            );
            if l.tags.is_empty() && in_index(&l.manifest) {
                continue;
            }
            if l.tags.is_empty() {
                idx.add_untagged(&clean);
            }
            for t in &l.tags {
                idx.set_tag(&clean, t);
            }
        }
        Ok(())
    })?;
    Ok(loaded
        .into_iter()
        .filter(|l| !(l.tags.is_empty() && in_index(&l.manifest)))
        .collect())
}

/// The manifest of a multi-platform index for this host (linux and the host's architecture).
fn pick_platform(index: &ImageIndex) -> Option<Descriptor> {
    index
        .manifests()
        .iter()
        .find(|d| {
            d.platform().as_ref().is_some_and(|p| {
                p.os().to_string() == "linux" && p.architecture().to_string() == host_arch()
            })
        })
        .cloned()
}

/// Writes `items` as an OCI layout; with `docker_manifest`, plus the `manifest.json` that
/// Docker 25+ (containerd image store) writes next to it for older loaders: one entry per item,
/// for the platform the item resolved to, naming the layout's own blobs.
pub(super) fn save(
    store: &Store,
    items: &[SaveItem],
    out: &mut dyn Write,
    docker_manifest: bool,
) -> Result<(), ArchiveError> {
    let mut index = ImageIndex::default();
    index.set_media_type(Some(MediaType::ImageIndex));
    let mut descriptors = Vec::new();
    let mut blobs: Vec<(Digest, u64)> = Vec::new();
    let mut add = |d: Digest, size: u64| {
        if !blobs.iter().any(|(b, _)| *b == d) {
            blobs.push((d, size));
        }
    };
    for item in items {
        let img = &item.image;
        let base = match &img.index {
            // A multi-platform image goes whole: its index and every platform's image.
            Some(index) => {
                add(index.digest()?, index.descriptor.size());
                for m in &index.manifests {
                    let d = digest_of(m.digest())?;
                    add(d, m.size());
                    let manifest: ImageManifest =
                        parse_json(&store.read_blob(&d)?, &blob_path(&d))?;
                    add(
                        digest_of(manifest.config().digest())?,
                        manifest.config().size(),
                    );
                    for l in manifest.layers() {
                        add(digest_of(l.digest())?, l.size());
                    }
                }
                index.descriptor.clone()
            }
            None => {
                add(img.manifest_digest, img.manifest_size);
                add(img.id, img.manifest.config().size());
                for l in img.layers() {
                    add(digest_of(l.digest())?, l.size());
                }
                Descriptor::new(
                    MediaType::ImageManifest,
                    img.manifest_size,
                    oci_digest(&img.manifest_digest),
                )
            }
        };
        if item.tags.is_empty() {
            descriptors.push(base.clone());
        }
        for t in &item.tags {
            let mut d = base.clone();
            let name = t.to_string();
            d.set_annotations(Some(HashMap::from([
                (REF_NAME.to_string(), name.clone()),
                (CONTAINERD_NAME.to_string(), name),
            ])));
            descriptors.push(d);
        }
    }
    index.set_manifests(descriptors);

    let mut tar = tar::Builder::new(out);
    append_bytes(&mut tar, "oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    let index_bytes = serde_json::to_vec(&index).expect("an index serialises");
    append_bytes(&mut tar, "index.json", &index_bytes)?;
    if docker_manifest {
        append_bytes(&mut tar, "manifest.json", &docker::layout_manifest(items)?)?;
    }
    append_dir(&mut tar, "blobs/")?;
    append_dir(&mut tar, "blobs/sha256/")?;
    for (d, size) in &blobs {
        let actual = store.blob_size(d)?;
        if actual != *size {
            return Err(ArchiveError::Invalid {
                path: store.blob_path(d).display().to_string(),
                reason: format!("descriptor says {size} bytes, the blob has {actual}"),
            });
        }
        let mut f = store.open_blob(d)?;
        append_file(&mut tar, &blob_path(d), actual, &mut f)?;
    }
    tar.into_inner().map_err(ArchiveError::Write)?;
    Ok(())
}
