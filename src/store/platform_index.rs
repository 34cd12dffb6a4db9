//! Multi-platform images in the store: an OCI image index, tagged in index.json like a
//! manifest, whose per-platform manifests are reached only through it (so `images` lists the
//! tag once). Looking an image up for a platform picks the matching manifest of an index, and
//! checks a single manifest's config platform.

use oci_spec::image::{Descriptor, ImageIndex, MediaType};

use super::config::ImageConfig;
use super::error::StoreError;
use super::image::{resolve_in, Image, IndexInfo, RemoveEvent};
use super::index::{IndexFile, REF_NAME};
use super::layout::Store;
use super::{digest_of, oci_digest};
use crate::digest::Digest;
use crate::plan::platform::Platform;
use crate::plan::platform_choice::{choose_platform, index_entries, IndexChoice};
use crate::reference::Reference;

/// A tagged (or untagged) image index listed in index.json.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexedIndex {
    pub digest: Digest,
    pub descriptor: Descriptor,
    pub tag: Option<Reference>,
}

/// The platform an image config declares, normalised.
pub fn config_platform(c: &ImageConfig) -> Platform {
    Platform::new(&c.os, &c.architecture, c.variant.as_deref())
}

impl IndexFile {
    /// The image indexes index.json lists (multi-platform images), in index order.
    pub fn index_entries(&self) -> Vec<IndexedIndex> {
        self.index
            .manifests()
            .iter()
            .filter(|d| is_index(d.media_type()))
            .filter_map(|d| {
                let tag = d
                    .annotations()
                    .as_ref()
                    .and_then(|a| a.get(REF_NAME))
                    .and_then(|r| Reference::parse(r).ok());
                Some(IndexedIndex {
                    digest: digest_of(d.digest()).ok()?,
                    descriptor: d.clone(),
                    tag,
                })
            })
            .collect()
    }

    /// The index `reference` names, when it names one.
    pub fn lookup_index(&self, reference: &Reference) -> Option<IndexedIndex> {
        self.index_entries()
            .into_iter()
            .find(|e| e.tag.as_ref() == Some(reference))
    }
}

pub(super) fn is_index(mt: &MediaType) -> bool {
    matches!(mt, MediaType::ImageIndex)
        || mt.to_string() == "application/vnd.docker.distribution.manifest.list.v2+json"
}

impl Store {
    /// Writes an OCI image index over `children` (images already in the store, each with the
    /// platform it is for) and names it with `tags` (untagged when empty). The children stay
    /// out of index.json: the index keeps them.
    pub fn commit_index(
        &self,
        children: &[(Image, Platform)],
        tags: &[Reference],
    ) -> Result<Descriptor, StoreError> {
        let manifests: Vec<serde_json::Value> = children
            .iter()
            .map(|(img, p)| {
                let mut platform = serde_json::json!({
                    "architecture": p.architecture,
                    "os": p.os,
                });
                if let Some(v) = &p.variant {
                    platform["variant"] = v.clone().into();
                }
                serde_json::json!({
                    "mediaType": MediaType::ImageManifest.to_string(),
                    "digest": img.manifest_digest.to_string(),
                    "size": img.manifest_size,
                    "platform": platform,
                })
            })
            .collect();
        let index = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": MediaType::ImageIndex.to_string(),
            "manifests": manifests,
        });
        let bytes = serde_json::to_vec(&index).expect("an index serialises");
        let digest = self.write_blob(&bytes)?;
        let desc = Descriptor::new(
            MediaType::ImageIndex,
            bytes.len() as u64,
            oci_digest(&digest),
        );
        let children: Vec<Digest> = children.iter().map(|(i, _)| i.manifest_digest).collect();
        self.update_index(|idx| {
            // Built untagged on the way, the children now live only through the index.
            let list: Vec<Descriptor> = idx
                .index
                .manifests()
                .iter()
                .filter(|d| {
                    let untagged = d
                        .annotations()
                        .as_ref()
                        .is_none_or(|a| !a.contains_key(REF_NAME));
                    !(untagged && digest_of(d.digest()).is_ok_and(|x| children.contains(&x)))
                })
                .cloned()
                .collect();
            idx.index.set_manifests(list);
            if tags.is_empty() {
                idx.add_untagged_any(&desc);
            }
            for t in tags {
                idx.set_tag(&desc, t);
            }
            Ok(())
        })?;
        Ok(desc)
    }

    /// `rmi` of a tag naming a multi-platform index: untags it, and the index goes with its
    /// last tag (its blobs stay until `system prune`). `None` when the tag names no index.
    pub fn untag_index(&self, r: &Reference) -> Result<Option<Vec<RemoveEvent>>, StoreError> {
        self.update_index(|idx| {
            let Some(found) = idx.lookup_index(r) else {
                return Ok(None);
            };
            let name = r.to_string();
            let list: Vec<Descriptor> = idx
                .index
                .manifests()
                .iter()
                .filter(|d| d.annotations().as_ref().and_then(|a| a.get(REF_NAME)) != Some(&name))
                .cloned()
                .collect();
            idx.index.set_manifests(list);
            let mut events = vec![RemoveEvent::Untagged(r.clone())];
            let still_named = idx.index_entries().iter().any(|e| e.digest == found.digest);
            if !still_named {
                events.push(RemoveEvent::Untagged(r.with_digest(found.digest)));
                events.push(RemoveEvent::Deleted(found.digest));
            }
            Ok(Some(events))
        })
    }

    /// The entries of the index blob `digest`.
    pub fn index_choices(&self, digest: &Digest) -> Result<Vec<IndexChoice>, StoreError> {
        let bytes = self.read_blob(digest)?;
        index_entries(&bytes).map_err(|message| StoreError::BadIndex {
            digest: *digest,
            message,
        })
    }

    /// The parsed index blob `digest`.
    pub fn read_image_index(&self, digest: &Digest) -> Result<ImageIndex, StoreError> {
        let bytes = self.read_blob(digest)?;
        serde_json::from_slice(&bytes).map_err(|e| StoreError::Json {
            what: format!("index {digest}"),
            source: e,
        })
    }

    /// Finds an image as `resolve` does, for `platform`: a tag naming an index gives the
    /// manifest for the platform (for `None`, the host's, else the first); a single image
    /// must be for the platform asked for. Either miss names the platforms there are.
    pub fn resolve_platform(
        &self,
        s: &str,
        platform: Option<&Platform>,
    ) -> Result<Image, StoreError> {
        let idx = self.read_index()?;
        if let Some(found) = self.index_named(&idx, s) {
            let choices = self.index_choices(&found.digest)?;
            let chosen = match platform {
                Some(p) => choose_platform(&choices, p),
                None => choose_platform(&choices, &Platform::host())
                    .or_else(|| choices.first().map(|c| c.digest)),
            };
            let Some(chosen) = chosen else {
                return Err(StoreError::PlatformMismatch {
                    reference: s.to_string(),
                    wanted: platform.map(Platform::to_string).unwrap_or_default(),
                    available: choices
                        .iter()
                        .filter_map(|c| c.platform.as_ref().map(Platform::to_string))
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            };
            let mut img = self.image_in(&idx, &chosen)?;
            img.tags = idx
                .index_entries()
                .into_iter()
                .filter(|e| e.digest == found.digest)
                .filter_map(|e| e.tag)
                .collect();
            let mut descriptor = found.descriptor.clone();
            descriptor.set_annotations(None);
            img.index = Some(IndexInfo {
                descriptor,
                manifests: self.read_image_index(&found.digest)?.manifests().clone(),
            });
            return Ok(img);
        }
        let manifest = resolve_in(&idx, s, |m| self.config_digest_of(m))?;
        let img = self.image_in(&idx, &manifest)?;
        if let Some(want) = platform {
            let have = config_platform(&img.config);
            let fits = have.os == want.os
                && have.architecture == want.architecture
                && (want.variant.is_none() || have.variant == want.variant);
            if !fits {
                return Err(StoreError::PlatformMismatch {
                    reference: s.to_string(),
                    wanted: want.to_string(),
                    available: have.to_string(),
                });
            }
        }
        Ok(img)
    }

    /// The index `s` names: by tag, or by (a prefix of) its digest.
    fn index_named(&self, idx: &IndexFile, s: &str) -> Option<IndexedIndex> {
        let entries = idx.index_entries();
        if entries.is_empty() {
            return None;
        }
        if let Ok(r) = Reference::parse(s) {
            if let Some(d) = r.digest() {
                return entries.into_iter().find(|e| e.digest == *d);
            }
            if let Some(e) = idx.lookup_index(&r) {
                return Some(e);
            }
        }
        let hex = s.strip_prefix("sha256:").unwrap_or(s);
        if hex.len() >= 12 && hex.len() <= 64 {
            return entries
                .into_iter()
                .find(|e| e.digest.hex().starts_with(hex));
        }
        None
    }

    /// One `Image` per tagged index, for the host's platform (else the index's first), with
    /// the index's tags: how `images` shows a multi-platform image once.
    pub fn index_images(&self) -> Result<Vec<Image>, StoreError> {
        let idx = self.read_index()?;
        let mut seen: Vec<Digest> = Vec::new();
        let mut out = Vec::new();
        for e in idx.index_entries() {
            if seen.contains(&e.digest) {
                continue;
            }
            seen.push(e.digest);
            out.push(self.resolve_platform(&e.digest.to_string(), None)?);
        }
        Ok(out)
    }
}

impl IndexFile {
    /// Lists any descriptor (an index too) untagged unless its digest is listed already.
    pub fn add_untagged_any(&mut self, desc: &Descriptor) {
        if self
            .index
            .manifests()
            .iter()
            .any(|d| d.digest() == desc.digest())
        {
            return;
        }
        let mut list = self.index.manifests().clone();
        list.push(desc.clone());
        self.index.set_manifests(list);
    }
}
