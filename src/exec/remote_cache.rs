//! The executor's side of portable build caches: entries imported from elsewhere (a registry,
//! an OCI layout directory, an image's inline metadata), consulted after the local index, and
//! the layer blobs behind them fetched only when a filesystem or the output needs them.
//!
//! A hit on an imported entry costs nothing but the lookup: the step's result records the layer
//! descriptor, and the blob is fetched (through a [`BlobSource`], verified against its digest)
//! only when a later step that is not cached mounts the chain, when a `COPY --from` reads it,
//! or when the output image is written.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use super::error::StepError;
use super::state::{LayerRef, StepState};
use crate::digest::{chain_ids, CacheKey, Digest};
use crate::plan::graph::{BuildGraph, InputDigest};
use crate::snapshot::Snapshots;
use crate::store::cache::{CacheEntry, CacheResult};
use crate::store::Store;

/// The version of [`CacheDocument`]; a reader skips documents of another version.
pub const CACHE_DOCUMENT_VERSION: u32 = 1;

/// The image-config field that carries inline cache metadata (`--cache-to type=inline`).
pub const INLINE_FIELD: &str = "strata.cache.v1";

/// What a cache export carries: the config blob of a registry or local cache artifact, or the
/// [`INLINE_FIELD`] of an image config. Entries are the local index's, sorted by key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct CacheDocument {
    pub version: u32,
    pub entries: Vec<CacheEntry>,
    /// What `COPY --from` steps selected from their source's layers, so a hit on them needs
    /// neither those layers' blobs nor a view of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub inputs: Vec<InputMemo>,
}

/// The input digest of a `COPY --from` step, keyed by [`input_memo_key`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct InputMemo {
    pub key: CacheKey,
    /// The 32 bytes of the input digest, hex.
    pub input: String,
}

impl InputMemo {
    pub fn new(key: CacheKey, input: &InputDigest) -> Self {
        InputMemo {
            key,
            input: hex(input.as_bytes()),
        }
    }

    pub fn digest(&self) -> Option<InputDigest> {
        parse_hex32(&self.input).map(InputDigest::from_bytes)
    }
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

fn parse_hex32(s: &str) -> Option<[u8; 32]> {
    if s.len() != 64 || !s.is_ascii() {
        return None;
    }
    let mut out = [0u8; 32];
    for (i, o) in out.iter_mut().enumerate() {
        *o = u8::from_str_radix(&s[2 * i..2 * i + 2], 16).ok()?;
    }
    Some(out)
}

/// The versioned directory of remembered `COPY --from` inputs under the store root.
pub const INPUTS_DIR: &str = "cache-inputs-v1";

/// The memo key of input `index` of a copy step over `src_layers`: the source's chain ID (its
/// content, whatever built it) and the step's partial key (the op and its parent).
pub fn input_memo_key(src_layers: &[LayerRef], partial_key: &CacheKey, index: usize) -> CacheKey {
    let diff_ids: Vec<Digest> = src_layers.iter().map(|l| l.diff_id).collect();
    let mut h = crate::digest::DigestHasher::new();
    h.update(b"strata.copy-input.v1\0");
    h.update(crate::digest::chain_id(&diff_ids).as_bytes());
    h.update(partial_key.as_bytes());
    h.update(&(index as u64).to_le_bytes());
    CacheKey::from_bytes(*h.finish().as_bytes())
}

/// A remembered input digest of this store.
pub fn input_memo_read(store: &Store, key: &CacheKey) -> Option<InputDigest> {
    let text = std::fs::read_to_string(store.root().join(INPUTS_DIR).join(key.hex())).ok()?;
    parse_hex32(text.trim()).map(InputDigest::from_bytes)
}

/// Remembers an input digest; failing to costs the next build a view, not this one.
pub fn input_memo_write(store: &Store, key: &CacheKey, digest: &InputDigest) {
    let dir = store.root().join(INPUTS_DIR);
    let _ = std::fs::create_dir_all(&dir);
    let _ =
        crate::util::atomic::write_atomic(&dir.join(key.hex()), hex(digest.as_bytes()).as_bytes());
}

/// What a build hit or recorded, for export.
#[derive(Debug, Default)]
pub struct Seen {
    pub entries: HashMap<CacheKey, CacheEntry>,
    pub inputs: HashMap<CacheKey, InputDigest>,
}

impl CacheDocument {
    pub fn new(mut entries: Vec<CacheEntry>) -> Self {
        entries.sort_by_key(|e| *e.key.as_bytes());
        entries.dedup_by_key(|e| e.key);
        CacheDocument {
            version: CACHE_DOCUMENT_VERSION,
            entries,
            inputs: Vec::new(),
        }
    }

    /// Adds remembered inputs, sorted by key.
    pub fn with_inputs(mut self, inputs: &[InputMemo]) -> Self {
        self.inputs = inputs.to_vec();
        self.inputs.sort_by_key(|m| *m.key.as_bytes());
        self.inputs.dedup_by_key(|m| m.key);
        self
    }

    /// The distinct layer blobs the entries name, in entry order.
    pub fn layers(&self) -> Vec<LayerRef> {
        let mut out: Vec<LayerRef> = Vec::new();
        for e in &self.entries {
            if let CacheResult::Layer {
                digest,
                diff_id,
                size,
                media_type,
            } = &e.result
            {
                if !out.iter().any(|l| l.digest == *digest) {
                    out.push(LayerRef {
                        digest: *digest,
                        diff_id: *diff_id,
                        size: *size,
                        media_type: media_type.clone(),
                    });
                }
            }
        }
        out
    }
}

/// Where an imported cache's blobs can be fetched from.
pub trait BlobSource: Send + Sync {
    /// The source in messages (`127.0.0.1:5000/app/cache:main`, `/ci/cache`).
    fn name(&self) -> String;
    /// Writes blob `digest` (`size` bytes) into `store`; it must arrive verified.
    fn fetch(&self, store: &Store, digest: &Digest, size: u64) -> Result<(), String>;
}

/// Cache entries imported for one build, and the sources of their blobs.
#[derive(Default)]
pub struct ImportedCache {
    sources: Vec<Box<dyn BlobSource>>,
    entries: HashMap<CacheKey, CacheEntry>,
    inputs: HashMap<CacheKey, InputDigest>,
    /// Which source serves a blob, and its size.
    blobs: HashMap<Digest, (usize, u64)>,
    /// One lock per blob being fetched, so two steps needing it download it once.
    inflight: Mutex<HashMap<Digest, Arc<Mutex<()>>>>,
    fetched_blobs: AtomicUsize,
    fetched_bytes: AtomicU64,
}

impl ImportedCache {
    pub fn new() -> Self {
        Self::default()
    }

    /// Adds the entries of `doc`, whose blobs `source` serves. An entry already imported from
    /// an earlier source wins (sources are tried in the order the user gave them).
    pub fn add(&mut self, source: Box<dyn BlobSource>, doc: CacheDocument) {
        let index = self.sources.len();
        self.sources.push(source);
        for l in doc.layers() {
            self.blobs.entry(l.digest).or_insert((index, l.size));
        }
        for e in doc.entries {
            self.entries.entry(e.key).or_insert(e);
        }
        for m in doc.inputs {
            if let Some(d) = m.digest() {
                self.inputs.entry(m.key).or_insert(d);
            }
        }
    }

    /// An imported `COPY --from` input digest.
    pub fn input(&self, key: &CacheKey) -> Option<InputDigest> {
        self.inputs.get(key).copied()
    }

    pub fn len(&self) -> usize {
        self.entries.len()
    }

    pub fn is_empty(&self) -> bool {
        self.entries.is_empty()
    }

    pub fn get(&self, key: &CacheKey) -> Option<&CacheEntry> {
        self.entries.get(key)
    }

    /// Blobs fetched so far and their bytes.
    pub fn fetched(&self) -> (usize, u64) {
        (
            self.fetched_blobs.load(Ordering::SeqCst),
            self.fetched_bytes.load(Ordering::SeqCst),
        )
    }

    /// Makes sure blob `digest` is in `store`, fetching it from the source that listed it.
    pub fn ensure_blob(&self, store: &Store, digest: &Digest) -> Result<(), StepError> {
        if store.has_blob(digest) {
            return Ok(());
        }
        let Some((source, size)) = self.blobs.get(digest).copied() else {
            return Err(crate::store::StoreError::MissingBlob(*digest).into());
        };
        let lock = {
            let mut m = self.inflight.lock().expect("inflight");
            Arc::clone(m.entry(*digest).or_default())
        };
        let _held = lock.lock().expect("blob lock");
        if store.has_blob(digest) {
            return Ok(());
        }
        let src = &self.sources[source];
        src.fetch(store, digest, size)
            .map_err(|message| StepError::CacheBlob {
                digest: *digest,
                source_name: src.name(),
                message,
            })?;
        self.fetched_blobs.fetch_add(1, Ordering::SeqCst);
        self.fetched_bytes.fetch_add(size, Ordering::SeqCst);
        Ok(())
    }

    /// Fetches the missing blobs of `layers` in parallel.
    pub fn ensure_blobs(&self, store: &Store, layers: &[LayerRef]) -> Result<(), StepError> {
        layers
            .par_iter()
            .try_for_each(|l| self.ensure_blob(store, &l.digest))
    }
}

impl super::ExecError {
    /// Whether the build failed only because a blob of an imported cache could not be fetched
    /// (the caller may build again without that cache).
    pub fn is_cache_fetch(&self) -> bool {
        match self {
            super::ExecError::CacheFetch(_) => true,
            super::ExecError::Step { source, .. } => {
                matches!(**source, StepError::CacheBlob { .. })
            }
            _ => false,
        }
    }
}

/// A step's cache entry as the build used it, for `--cache-to`.
#[derive(Debug, Clone)]
pub struct CacheRecord {
    pub entry: CacheEntry,
    /// The step's layers end up in the output image (`mode=min` exports only these).
    pub in_output: bool,
}

/// The entry of every node the build ran or hit, marking those on the output's parent chain
/// (their layers are the output image's).
pub fn cache_records(
    graph: &BuildGraph,
    states: &[Option<Arc<StepState>>],
    mut seen: HashMap<CacheKey, CacheEntry>,
) -> Vec<CacheRecord> {
    let mut in_output = vec![false; graph.nodes.len()];
    let mut at = Some(graph.output());
    while let Some(id) = at {
        in_output[id] = true;
        at = graph.nodes[id].parent;
    }
    graph
        .nodes
        .iter()
        .filter_map(|n| {
            let st = states.get(n.id)?.as_ref()?;
            let entry = seen.remove(&st.key)?;
            Some(CacheRecord {
                entry,
                in_output: in_output[n.id],
            })
        })
        .collect()
}

/// The [`INLINE_FIELD`] value: the output steps' entries (their layers are the image's own).
/// No `COPY --from` inputs: their sources' steps are not in it, so an importer rebuilds those
/// and has the view anyway, and a rebuilt source's new layers would change the image digest.
pub fn inline_document(records: &[CacheRecord]) -> serde_json::Value {
    let doc = CacheDocument::new(
        records
            .iter()
            .filter(|r| r.in_output)
            .map(|r| r.entry.clone())
            .collect(),
    );
    serde_json::to_value(doc).expect("a cache document serialises")
}

/// The blobs of `state`'s layers whose snapshots are missing, fetched so `lowerdirs` can unpack
/// them; then the snapshot dirs.
pub fn lowerdirs_fetching(
    store: &Store,
    imported: Option<&ImportedCache>,
    state: &StepState,
) -> Result<Vec<PathBuf>, StepError> {
    if let Some(imp) = imported {
        let snaps = Snapshots::new(store.root());
        let diff_ids: Vec<Digest> = state.layers.iter().map(|l| l.diff_id).collect();
        let missing: Vec<LayerRef> = state
            .layers
            .iter()
            .zip(chain_ids(&diff_ids))
            .filter(|(l, chain)| !snaps.dir(chain).is_dir() && !store.has_blob(&l.digest))
            .map(|(l, _)| l.clone())
            .collect();
        imp.ensure_blobs(store, &missing)?;
    }
    super::rootfs::lowerdirs(store, state)
}

#[cfg(test)]
mod tests {
    use super::*;

    struct FromMemory(HashMap<Digest, Vec<u8>>, AtomicUsize);

    impl BlobSource for FromMemory {
        fn name(&self) -> String {
            "memory".into()
        }
        fn fetch(&self, store: &Store, digest: &Digest, _size: u64) -> Result<(), String> {
            self.1.fetch_add(1, Ordering::SeqCst);
            let data = self.0.get(digest).ok_or("not here")?;
            let got = store.write_blob(data).map_err(|e| e.to_string())?;
            (got == *digest)
                .then_some(())
                .ok_or("digest mismatch".into())
        }
    }

    fn entry(n: u8, layer: Option<&[u8]>) -> CacheEntry {
        CacheEntry {
            key: CacheKey::from_bytes([n; 32]),
            result: match layer {
                Some(b) => CacheResult::Layer {
                    digest: Digest::of(b),
                    diff_id: Digest::of(b"tar"),
                    size: b.len() as u64,
                    media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
                },
                None => CacheResult::ConfigOnly,
            },
            created: "2026-11-22T00:00:00Z".into(),
            description: format!("step {n}"),
        }
    }

    #[test]
    fn documents_sort_dedup_and_list_layers_once() {
        let doc = CacheDocument::new(vec![
            entry(3, Some(b"x")),
            entry(1, None),
            entry(2, Some(b"x")),
            entry(1, None),
        ]);
        let keys: Vec<u8> = doc.entries.iter().map(|e| e.key.as_bytes()[0]).collect();
        assert_eq!(keys, vec![1, 2, 3]);
        assert_eq!(doc.layers().len(), 1);
        assert_eq!(doc.layers()[0].digest, Digest::of(b"x"));
        let json = serde_json::to_value(&doc).unwrap();
        assert_eq!(json["version"], 1);
        assert_eq!(json["entries"][1]["result"]["kind"], "layer");
    }

    #[test]
    fn input_memos_round_trip_and_key_on_content_op_and_index() {
        let d = InputDigest::from_bytes([0xab; 32]);
        let m = InputMemo::new(CacheKey::from_bytes([1; 32]), &d);
        assert_eq!(m.input, "ab".repeat(32));
        assert_eq!(m.digest(), Some(d));
        for bad in ["ab", "zz".repeat(32).as_str(), "é".repeat(32).as_str()] {
            let m = InputMemo {
                key: CacheKey::from_bytes([1; 32]),
                input: bad.into(),
            };
            assert_eq!(m.digest(), None, "{bad}");
        }
        let layer = |b: &[u8]| LayerRef {
            digest: Digest::of(b),
            diff_id: Digest::of(b),
            size: 1,
            media_type: String::new(),
        };
        let (p1, p2) = (CacheKey::from_bytes([1; 32]), CacheKey::from_bytes([2; 32]));
        let base = input_memo_key(&[layer(b"a")], &p1, 0);
        // Same content under another compressed blob: the same key (diff IDs, not digests).
        let mut other_blob = layer(b"a");
        other_blob.digest = Digest::of(b"zstd");
        assert_eq!(input_memo_key(&[other_blob], &p1, 0), base);
        assert_ne!(input_memo_key(&[layer(b"b")], &p1, 0), base);
        assert_ne!(input_memo_key(&[layer(b"a"), layer(b"b")], &p1, 0), base);
        assert_ne!(input_memo_key(&[layer(b"a")], &p2, 0), base);
        assert_ne!(input_memo_key(&[layer(b"a")], &p1, 1), base);

        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("root")).unwrap();
        assert_eq!(input_memo_read(&store, &base), None);
        input_memo_write(&store, &base, &d);
        assert_eq!(input_memo_read(&store, &base), Some(d));
    }

    #[test]
    fn blobs_are_fetched_once_and_only_when_missing() {
        let dir = tempfile::tempdir().unwrap();
        let store = Store::open(&dir.path().join("root")).unwrap();
        let mut blobs = HashMap::new();
        blobs.insert(Digest::of(b"layer-a"), b"layer-a".to_vec());
        let source = Box::new(FromMemory(blobs, AtomicUsize::new(0)));
        let mut imp = ImportedCache::new();
        imp.add(
            source,
            CacheDocument::new(vec![entry(1, Some(b"layer-a")), entry(2, Some(b"layer-b"))]),
        );
        // A later source does not override an entry already imported.
        let mut other = entry(1, None);
        other.description = "other".into();
        imp.add(
            Box::new(FromMemory(HashMap::new(), AtomicUsize::new(0))),
            CacheDocument::new(vec![other]),
        );
        assert_eq!(imp.len(), 2);
        assert_eq!(
            imp.get(&CacheKey::from_bytes([1; 32])).unwrap().description,
            "step 1"
        );

        let a = Digest::of(b"layer-a");
        imp.ensure_blob(&store, &a).unwrap();
        imp.ensure_blob(&store, &a).unwrap();
        assert!(store.has_blob(&a));
        assert_eq!(imp.fetched(), (1, 7));
        // A blob the source lost is an error naming the digest; one nobody listed too.
        let err = imp
            .ensure_blob(&store, &Digest::of(b"layer-b"))
            .unwrap_err();
        assert!(err
            .to_string()
            .contains(&Digest::of(b"layer-b").to_string()));
        assert!(imp.ensure_blob(&store, &Digest::of(b"nobody")).is_err());
        assert_eq!(imp.fetched(), (1, 7));
    }
}
