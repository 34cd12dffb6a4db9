//! `oci/index.json`: the list of manifests, with tags as `org.opencontainers.image.ref.name`
//! annotations holding fully normalised references (one descriptor per tag; an image with no tag
//! keeps one descriptor without the annotation). The tag edits are pure functions over the index;
//! `Store::update_index` runs them under the index lock.

use std::collections::HashMap;
use std::fs;
use std::path::Path;

use oci_spec::image::{Descriptor, ImageIndex, MediaType};

use super::error::StoreError;
use super::layout::Store;
use super::{digest_of, oci_digest};
use crate::digest::Digest;
use crate::reference::Reference;
use crate::util::atomic::write_atomic;

/// The annotation OCI layouts use for a manifest's name.
pub const REF_NAME: &str = "org.opencontainers.image.ref.name";

/// The parsed index.json of the store.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexFile {
    pub index: ImageIndex,
}

impl Default for IndexFile {
    fn default() -> Self {
        let mut index = ImageIndex::default();
        index.set_media_type(Some(MediaType::ImageIndex));
        IndexFile { index }
    }
}

/// One manifest entry of the index: the manifest descriptor and the tag it carries, if any.
#[derive(Debug, Clone, PartialEq)]
pub struct IndexEntry {
    pub manifest: Digest,
    pub descriptor: Descriptor,
    pub tag: Option<Reference>,
    /// The raw annotation when it is not a valid reference (written by another tool).
    pub raw_name: Option<String>,
}

impl IndexFile {
    pub fn read(path: &Path) -> Result<Self, StoreError> {
        let data = fs::read(path).map_err(StoreError::io("cannot read", path))?;
        let index: ImageIndex = serde_json::from_slice(&data).map_err(|e| StoreError::Json {
            what: path.display().to_string(),
            source: e,
        })?;
        Ok(IndexFile { index })
    }

    pub fn write(&self, path: &Path) -> Result<(), StoreError> {
        let mut data = serde_json::to_vec(&self.index).map_err(|e| StoreError::Json {
            what: path.display().to_string(),
            source: e,
        })?;
        data.push(b'\n');
        write_atomic(path, &data).map_err(StoreError::io("cannot write", path))
    }

    /// The image manifests in index order; other descriptors (nested indexes written by other
    /// tools) are kept in the file but not listed.
    pub fn entries(&self) -> Vec<IndexEntry> {
        self.index
            .manifests()
            .iter()
            .filter(|d| is_image_manifest(d.media_type()))
            .filter_map(|d| {
                let manifest = digest_of(d.digest()).ok()?;
                let raw = d
                    .annotations()
                    .as_ref()
                    .and_then(|a| a.get(REF_NAME))
                    .cloned();
                let tag = raw.as_deref().and_then(|r| Reference::parse(r).ok());
                let raw_name = if tag.is_none() { raw } else { None };
                Some(IndexEntry {
                    manifest,
                    descriptor: d.clone(),
                    tag,
                    raw_name,
                })
            })
            .collect()
    }

    /// The manifest `reference` names.
    pub fn lookup(&self, reference: &Reference) -> Option<IndexEntry> {
        self.entries()
            .into_iter()
            .find(|e| e.tag.as_ref() == Some(reference))
    }

    /// Tags of the manifest `digest`.
    pub fn tags_of(&self, digest: &Digest) -> Vec<Reference> {
        self.entries()
            .into_iter()
            .filter(|e| e.manifest == *digest)
            .filter_map(|e| e.tag)
            .collect()
    }

    pub fn contains(&self, digest: &Digest) -> bool {
        self.entries().iter().any(|e| e.manifest == *digest)
    }

    /// Points `reference` at `manifest`. The manifest it pointed at before stays as an untagged
    /// (dangling) image when no other tag names it, as Docker does. Returns that previous manifest
    /// when it changed.
    pub fn set_tag(&mut self, manifest: &Descriptor, reference: &Reference) -> Option<Digest> {
        let target = digest_of(manifest.digest()).ok();
        let previous = self.lookup(reference);
        if previous.is_some() && previous.as_ref().map(|e| e.manifest) == target {
            return None;
        }
        let name = reference.to_string();
        let mut desc = manifest.clone();
        let mut ann = desc.annotations().clone().unwrap_or_default();
        ann.insert(REF_NAME.to_string(), name.clone());
        desc.set_annotations(Some(ann));
        self.edit(|list| {
            list.retain(|d| ref_name(d) != Some(name.as_str()));
            // The image is tagged now: its untagged placeholder goes.
            list.retain(|d| !(d.digest() == manifest.digest() && ref_name(d).is_none()));
            list.push(desc);
        });
        let prev = previous?;
        self.add_untagged(&prev.descriptor);
        Some(prev.manifest)
    }

    /// Records `manifest` without a tag unless the index already lists it.
    pub fn add_untagged(&mut self, manifest: &Descriptor) {
        let d = match digest_of(manifest.digest()) {
            Ok(d) => d,
            Err(_) => return,
        };
        if self.contains(&d) {
            return;
        }
        let mut desc = manifest.clone();
        if let Some(mut ann) = desc.annotations().clone() {
            ann.remove(REF_NAME);
            desc.set_annotations(if ann.is_empty() { None } else { Some(ann) });
        }
        self.edit(|list| list.push(desc));
    }

    /// Removes the tag; returns the manifest it named. The manifest leaves the index with its
    /// last tag (the caller decides whether it is then deleted).
    pub fn remove_tag(&mut self, reference: &Reference) -> Option<Digest> {
        let entry = self.lookup(reference)?;
        let name = reference.to_string();
        self.edit(|list| list.retain(|d| ref_name(d) != Some(name.as_str())));
        Some(entry.manifest)
    }

    /// Removes every descriptor of `manifest`, tagged or not; returns the tags it had.
    pub fn remove_manifest(&mut self, manifest: &Digest) -> Vec<Reference> {
        let tags = self.tags_of(manifest);
        let oci = oci_digest(manifest);
        self.edit(|list| list.retain(|d| *d.digest() != oci));
        tags
    }

    fn edit(&mut self, f: impl FnOnce(&mut Vec<Descriptor>)) {
        let mut list = self.index.manifests().clone();
        f(&mut list);
        self.index.set_manifests(list);
    }
}

fn ref_name(d: &Descriptor) -> Option<&str> {
    d.annotations()
        .as_ref()
        .and_then(|a: &HashMap<String, String>| a.get(REF_NAME))
        .map(String::as_str)
}

fn is_image_manifest(mt: &MediaType) -> bool {
    matches!(mt, MediaType::ImageManifest)
        || mt.to_string() == "application/vnd.docker.distribution.manifest.v2+json"
}

impl Store {
    /// Reads index.json (without the lock: it is only ever replaced atomically).
    pub fn read_index(&self) -> Result<IndexFile, StoreError> {
        IndexFile::read(&self.index_path())
    }

    /// Runs `f` on the current index under the exclusive index lock and writes the result back
    /// atomically when it changed, so concurrent strata processes never lose each other's tags.
    pub fn update_index<T>(
        &self,
        f: impl FnOnce(&mut IndexFile) -> Result<T, StoreError>,
    ) -> Result<T, StoreError> {
        let _lock = self.lock_index()?;
        let mut idx = self.read_index()?;
        let before = idx.clone();
        let out = f(&mut idx)?;
        if idx != before {
            idx.write(&self.index_path())?;
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn desc(content: &[u8]) -> Descriptor {
        Descriptor::new(
            MediaType::ImageManifest,
            content.len() as u64,
            oci_digest(&Digest::of(content)),
        )
    }
    fn r(s: &str) -> Reference {
        s.parse().unwrap()
    }
    fn summary(idx: &IndexFile) -> Vec<(String, Option<String>)> {
        idx.entries()
            .into_iter()
            .map(|e| (e.manifest.short(), e.tag.map(|t| t.to_string())))
            .collect()
    }

    #[test]
    fn tagging_moving_and_removing_tags() {
        let (a, b) = (desc(b"a"), desc(b"b"));
        let (da, db) = (Digest::of(b"a").short(), Digest::of(b"b").short());
        let mut idx = IndexFile::default();

        idx.add_untagged(&a);
        idx.add_untagged(&a);
        assert_eq!(summary(&idx), vec![(da.clone(), None)]);

        // Tagging replaces the untagged placeholder.
        assert_eq!(idx.set_tag(&a, &r("busybox")), None);
        let bb = "docker.io/library/busybox:latest".to_string();
        assert_eq!(summary(&idx), vec![(da.clone(), Some(bb.clone()))]);
        idx.set_tag(&a, &r("busybox:1"));
        assert_eq!(idx.tags_of(&Digest::of(b"a")).len(), 2);
        // Re-tagging to the same manifest changes nothing.
        let before = idx.clone();
        assert_eq!(idx.set_tag(&a, &r("docker.io/library/busybox")), None);
        assert_eq!(idx, before);

        // Moving a tag to another manifest: a keeps its other tag.
        assert_eq!(idx.set_tag(&b, &r("busybox:1")), Some(Digest::of(b"a")));
        assert_eq!(
            summary(&idx),
            vec![
                (da.clone(), Some(bb.clone())),
                (db.clone(), Some("docker.io/library/busybox:1".into()))
            ]
        );
        // Moving its last tag away leaves a dangling, untagged a.
        idx.set_tag(&b, &r("busybox"));
        assert_eq!(idx.tags_of(&Digest::of(b"a")), vec![]);
        assert!(idx.contains(&Digest::of(b"a")));
        assert_eq!(
            idx.lookup(&r("busybox")).unwrap().manifest,
            Digest::of(b"b")
        );

        assert_eq!(idx.remove_tag(&r("busybox:1")), Some(Digest::of(b"b")));
        assert_eq!(idx.remove_tag(&r("busybox:1")), None);
        assert_eq!(idx.remove_manifest(&Digest::of(b"b")), vec![r("busybox")]);
        assert_eq!(summary(&idx), vec![(da, None)]);
    }

    #[test]
    fn foreign_names_and_nested_indexes_are_kept() {
        let json = r#"{"schemaVersion":2,"manifests":[
            {"mediaType":"application/vnd.oci.image.manifest.v1+json","size":1,
             "digest":"sha256:ca978112ca1bbdcafac231b39a23dc4da786eff8147c4e72b9807785afee48bb",
             "annotations":{"org.opencontainers.image.ref.name":"Not A Ref"}},
            {"mediaType":"application/vnd.oci.image.index.v1+json","size":1,
             "digest":"sha256:3e23e8160039594a33894f6564e1b1348bbd7a0088d42c4acb73eeaed59c009d"}]}"#;
        let mut idx = IndexFile {
            index: serde_json::from_str(json).unwrap(),
        };
        let e = idx.entries();
        assert_eq!(e.len(), 1);
        assert_eq!(e[0].tag, None);
        assert_eq!(e[0].raw_name.as_deref(), Some("Not A Ref"));
        idx.set_tag(&desc(b"z"), &r("z"));
        assert_eq!(idx.index.manifests().len(), 3);
    }
}
