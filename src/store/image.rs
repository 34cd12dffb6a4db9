//! Images in the store: committing a config + layers as a manifest with tags, reading an image
//! back, and finding one by reference or (short) ID as Docker does.

use oci_spec::image::{Descriptor, ImageManifest, MediaType};

use super::config::ImageConfig;
use super::error::StoreError;
use super::image_delete::{self, ImageUser};
use super::index::IndexFile;
use super::layout::Store;
use super::{digest_of, oci_digest};
use crate::digest::Digest;
use crate::reference::Reference;

/// An image: its manifest, its config and the tags naming it.
#[derive(Debug, Clone)]
pub struct Image {
    pub manifest_digest: Digest,
    pub manifest_size: u64,
    pub manifest: ImageManifest,
    /// The image ID: the config digest.
    pub id: Digest,
    pub config: ImageConfig,
    pub tags: Vec<Reference>,
    /// The multi-platform index this image was picked from (its tags are the index's).
    pub index: Option<IndexInfo>,
}

/// A multi-platform image's index: its descriptor and every platform's manifest descriptor.
#[derive(Debug, Clone)]
pub struct IndexInfo {
    pub descriptor: Descriptor,
    pub manifests: Vec<Descriptor>,
}

impl IndexInfo {
    pub fn digest(&self) -> Result<Digest, StoreError> {
        digest_of(self.descriptor.digest())
    }
}

/// One step of `Store::remove_image`, printed by `rmi` as Docker does.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RemoveEvent {
    Untagged(Reference),
    Deleted(Digest),
}

impl Image {
    /// The layer descriptors, bottom first.
    pub fn layers(&self) -> &[Descriptor] {
        self.manifest.layers()
    }

    /// Sum of the layer blob sizes (what the store holds for this image).
    pub fn size(&self) -> u64 {
        self.layers().iter().map(|l| l.size()).sum()
    }

    /// `repo@<manifest digest>` for each repository tagging the image.
    pub fn repo_digests(&self) -> Vec<Reference> {
        let mut out: Vec<Reference> = Vec::new();
        for t in &self.tags {
            let r = t.with_digest(self.manifest_digest);
            if !out.contains(&r) {
                out.push(r);
            }
        }
        out
    }

    /// The manifest descriptor as index.json lists it (without annotations).
    pub fn descriptor(&self) -> Descriptor {
        Descriptor::new(
            MediaType::ImageManifest,
            self.manifest_size,
            oci_digest(&self.manifest_digest),
        )
    }
}

/// A layer descriptor for a manifest.
pub fn layer_descriptor(digest: &Digest, size: u64, media_type: &str) -> Descriptor {
    Descriptor::new(MediaType::from(media_type), size, oci_digest(digest))
}

impl Store {
    /// Writes `config` and a manifest over `layers` (blobs already in the store) and names the
    /// result with `tags` (untagged when empty). Returns the image.
    pub fn commit_image(
        &self,
        config: &ImageConfig,
        layers: &[Descriptor],
        tags: &[Reference],
    ) -> Result<Image, StoreError> {
        self.commit_manifest(&config.to_json(), layers, tags)
    }

    /// Like `commit_image`, with the config given as its exact bytes (a loaded image keeps its
    /// config blob, and so its ID, byte for byte).
    pub fn commit_manifest(
        &self,
        config_bytes: &[u8],
        layers: &[Descriptor],
        tags: &[Reference],
    ) -> Result<Image, StoreError> {
        for l in layers {
            let d = digest_of(l.digest())?;
            if !self.has_blob(&d) {
                return Err(StoreError::MissingBlob(d));
            }
        }
        let config_digest = self.write_blob(config_bytes)?;
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": MediaType::ImageManifest.to_string(),
            "config": Descriptor::new(
                MediaType::ImageConfig,
                config_bytes.len() as u64,
                oci_digest(&config_digest),
            ),
            "layers": layers,
        });
        let manifest_bytes = serde_json::to_vec(&manifest).expect("a manifest serialises");
        let manifest_digest = self.write_blob(&manifest_bytes)?;
        let desc = Descriptor::new(
            MediaType::ImageManifest,
            manifest_bytes.len() as u64,
            oci_digest(&manifest_digest),
        );
        self.add_manifest(&desc, tags)?;
        self.image(&manifest_digest)
    }

    /// Lists a manifest already in the blobs under `tags` (or untagged). Returns, per tag, the
    /// manifest the tag named before when it moved.
    pub fn add_manifest(
        &self,
        desc: &Descriptor,
        tags: &[Reference],
    ) -> Result<Vec<Option<Digest>>, StoreError> {
        self.update_index(|idx| {
            if tags.is_empty() {
                idx.add_untagged(desc);
                return Ok(Vec::new());
            }
            Ok(tags.iter().map(|t| idx.set_tag(desc, t)).collect())
        })
    }

    /// Reads the image whose manifest is `manifest_digest`.
    pub fn image(&self, manifest_digest: &Digest) -> Result<Image, StoreError> {
        let idx = self.read_index()?;
        self.image_in(&idx, manifest_digest)
    }

    pub(super) fn image_in(
        &self,
        idx: &IndexFile,
        manifest_digest: &Digest,
    ) -> Result<Image, StoreError> {
        let bytes = self.read_blob(manifest_digest)?;
        let manifest: ImageManifest =
            serde_json::from_slice(&bytes).map_err(|e| StoreError::Json {
                what: format!("manifest {manifest_digest}"),
                source: e,
            })?;
        let id = digest_of(manifest.config().digest())?;
        let config = ImageConfig::from_json(&self.read_blob(&id)?, &format!("config {id}"))?;
        Ok(Image {
            manifest_digest: *manifest_digest,
            manifest_size: bytes.len() as u64,
            manifest,
            id,
            config,
            tags: idx.tags_of(manifest_digest),
            index: None,
        })
    }

    /// Every image in the store, once each, in index order.
    pub fn images(&self) -> Result<Vec<Image>, StoreError> {
        let idx = self.read_index()?;
        let mut seen = Vec::new();
        let mut out = Vec::new();
        for e in idx.entries() {
            if seen.contains(&e.manifest) {
                continue;
            }
            seen.push(e.manifest);
            out.push(self.image_in(&idx, &e.manifest)?);
        }
        out.extend(self.index_images()?);
        Ok(out)
    }

    /// Finds an image as Docker does: a tag (or `name@digest`) first, then a full or short
    /// image ID (`sha256:` optional).
    /// A tag naming a multi-platform index gives its host platform's image.
    pub fn resolve(&self, s: &str) -> Result<Image, StoreError> {
        self.resolve_platform(s, None)
    }

    pub(super) fn config_digest_of(&self, manifest: &Digest) -> Option<Digest> {
        let bytes = self.read_blob(manifest).ok()?;
        let m: ImageManifest = serde_json::from_slice(&bytes).ok()?;
        digest_of(m.config().digest()).ok()
    }

    /// `tag SRC DST`: points `dst` at the image `src` names.
    pub fn tag(&self, src: &str, dst: &Reference) -> Result<Image, StoreError> {
        let img = self.resolve(src)?;
        let desc = match &img.index {
            // A multi-platform image is tagged as a whole.
            Some(i) => i.descriptor.clone(),
            None => img.descriptor(),
        };
        self.add_manifest(&desc, std::slice::from_ref(dst))?;
        let img = self.resolve(&dst.to_string())?;
        super::events::image_event(
            self.root(),
            "tag",
            &img.id.to_string(),
            &dst.familiar_string(),
        );
        Ok(img)
    }

    /// `rmi`: untags a reference, or removes an image by ID, as `image_delete::plan` decides
    /// with the containers `users` (every container may be given). The manifest leaves the
    /// index with its last tag unless a container keeps it (it stays, untagged); its blobs stay
    /// until `system prune`.
    pub fn remove_image(
        &self,
        s: &str,
        force: bool,
        users: &[ImageUser],
    ) -> Result<Vec<RemoveEvent>, StoreError> {
        let parsed = Reference::parse(s).ok();
        if let Some(r) = &parsed {
            if let Some(events) = self.untag_index(r)? {
                self.record_removal(&events);
                return Ok(events);
            }
        }
        let removed = self.update_index(|idx| {
            let manifest = resolve_in(idx, s, |m| self.config_digest_of(m))?;
            let id = self
                .config_digest_of(&manifest)
                .ok_or(StoreError::MissingBlob(manifest))?;
            let entry = idx
                .entries()
                .into_iter()
                .find(|e| e.manifest == manifest)
                .ok_or(StoreError::MissingBlob(manifest))?;
            let tags = idx.tags_of(&manifest);
            let named = parsed
                .as_ref()
                .filter(|r| idx.lookup(r).is_some_and(|e| e.manifest == manifest));
            let plan = image_delete::plan(named, s, &tags, &id, users, force)?;
            let mut events = Vec::new();
            for t in &plan.untag {
                idx.remove_tag(t);
                events.push(RemoveEvent::Untagged(t.clone()));
            }
            if !plan.delete {
                if !idx.contains(&manifest) {
                    idx.add_untagged(&entry.descriptor);
                }
                return Ok(events);
            }
            for t in idx.remove_manifest(&manifest) {
                events.push(RemoveEvent::Untagged(t));
            }
            let mut seen = Vec::new();
            for t in &tags {
                let rd = t.with_digest(manifest);
                if !seen.contains(&rd) {
                    seen.push(rd.clone());
                    events.push(RemoveEvent::Untagged(rd));
                }
            }
            events.push(RemoveEvent::Deleted(id));
            Ok(events)
        })?;
        self.record_removal(&removed);
        Ok(removed)
    }

    /// Docker's `untag` and `delete` events for what `rmi` (or a prune) removed.
    pub fn record_removal(&self, removed: &[RemoveEvent]) {
        let id = removed.iter().find_map(|e| match e {
            RemoveEvent::Deleted(id) => Some(id.to_string()),
            RemoveEvent::Untagged(_) => None,
        });
        for e in removed {
            match e {
                RemoveEvent::Untagged(t) => super::events::image_event(
                    self.root(),
                    "untag",
                    id.as_deref().unwrap_or_default(),
                    &t.familiar_string(),
                ),
                RemoveEvent::Deleted(d) => {
                    super::events::image_event(self.root(), "delete", &d.to_string(), "")
                }
            }
        }
    }
}

/// The lookup rules of `Store::resolve` over an index; `config_of` maps a manifest digest to its
/// config digest (the image ID).
pub fn resolve_in(
    idx: &IndexFile,
    s: &str,
    config_of: impl Fn(&Digest) -> Option<Digest>,
) -> Result<Digest, StoreError> {
    if let Ok(r) = Reference::parse(s) {
        if let Some(d) = r.digest() {
            if idx.contains(d) {
                return Ok(*d);
            }
        } else if let Some(e) = idx.lookup(&r) {
            return Ok(e.manifest);
        }
    }
    let hex = s.strip_prefix("sha256:").unwrap_or(s);
    let is_hex = !hex.is_empty()
        && hex.len() <= 64
        && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'));
    if is_hex {
        let mut found: Vec<Digest> = Vec::new();
        let mut ids: Vec<Digest> = Vec::new();
        for e in idx.entries() {
            if found.contains(&e.manifest) {
                continue;
            }
            if let Some(id) = config_of(&e.manifest) {
                if id.hex().starts_with(hex) {
                    found.push(e.manifest);
                    if !ids.contains(&id) {
                        ids.push(id);
                    }
                }
            }
        }
        match ids.len() {
            0 => {}
            1 => return Ok(found[0]),
            _ => return Err(StoreError::AmbiguousId(s.to_string())),
        }
    }
    Err(StoreError::NoSuchImage(s.to_string()))
}
