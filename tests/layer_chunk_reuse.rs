//! Compressed-chunk reuse between layers (`snapshot::chunks`, `snapshot::chunk_store`): a
//! layer that holds files an earlier layer of the store already compressed copies those
//! compressed bytes, and its blob is byte for byte the blob written without reuse. A damaged
//! index only costs the reuse, and the store's prune removes a blob's index with the blob.

use std::fs;
use std::io::Read;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;

use strata::snapshot::chunk_store::ChunkStore;
use strata::snapshot::chunks::{ChunkKey, ChunkSource};
use strata::snapshot::{write_dir_layer, write_dir_layer_reusing, LayerDigests, LayerOptions};
use strata::store::gc::PruneOptions;
use strata::store::Store;

/// Counts the chunks a source hands out.
struct Counting(Arc<dyn ChunkSource>, AtomicUsize);

impl ChunkSource for Counting {
    fn fetch(&self, key: &ChunkKey, crc: u32, raw_len: u32) -> Option<Vec<u8>> {
        let got = self.0.fetch(key, crc, raw_len);
        if got.is_some() {
            self.1.fetch_add(1, Ordering::SeqCst);
        }
        got
    }
}

fn bytes(seed: u64, len: usize, text: bool) -> Vec<u8> {
    let mut x = seed | 1;
    (0..len)
        .map(|i| {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            if text {
                b"lorem ipsum dolor sit amet, consectetur "[(i + (x % 3) as usize) % 40]
            } else {
                (x >> 24) as u8
            }
        })
        .collect()
}

/// (path, content): two big files (one random, one text, over a gzip block), a small one.
fn files(prefix: &str, extra: &str) -> Vec<(String, Vec<u8>)> {
    vec![
        (format!("{prefix}/bin/tool"), bytes(1, 300_000, false)),
        (format!("{prefix}/lib/data.txt"), bytes(2, 1_500_000, true)),
        (format!("{prefix}/small.txt"), extra.as_bytes().to_vec()),
    ]
}

fn make_tree(root: &Path, files: &[(String, Vec<u8>)]) {
    for (p, data) in files {
        let full = root.join(p);
        fs::create_dir_all(full.parent().unwrap()).unwrap();
        fs::write(&full, data).unwrap();
    }
}

/// Writes `root` as a layer into the store's blobs, indexing its chunks; returns the layer and
/// the blob bytes.
fn write_indexed(
    store: &Store,
    chunks: &ChunkStore,
    root: &Path,
    source: Option<Arc<dyn ChunkSource>>,
) -> (LayerDigests, Vec<u8>) {
    let mut blob = Vec::new();
    let d = write_dir_layer_reusing(root, &LayerOptions::default(), &mut blob, source).unwrap();
    fs::write(store.blob_path(&d.digest), &blob).unwrap();
    chunks.save(&d.digest, &d.chunks).unwrap();
    (d, blob)
}

fn unpacked(blob: &[u8]) -> Vec<(String, Vec<u8>)> {
    let mut ar = tar::Archive::new(flate2::read::GzDecoder::new(blob));
    let mut out = Vec::new();
    for e in ar.entries().unwrap() {
        let mut e = e.unwrap();
        if e.header().entry_type().is_file() {
            let mut data = Vec::new();
            e.read_to_end(&mut data).unwrap();
            out.push((e.path().unwrap().to_string_lossy().into_owned(), data));
        }
    }
    out
}

#[test]
fn copied_files_reuse_compressed_chunks_and_give_the_same_blob() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store")).unwrap();
    let chunks = ChunkStore::new(store.chunks_dir(), store.blobs_dir());

    let base_tree = dir.path().join("base");
    make_tree(&base_tree, &files("usr", "one"));
    let (base, _) = write_indexed(&store, &chunks, &base_tree, chunks.source(&[]));
    assert!(
        !base.chunks.is_empty(),
        "a gzip layer with big files has chunks"
    );

    // The same files under another directory (as `cp -a /usr /usr2` makes them) plus a
    // changed small file: every chunk of the big files comes from the base blob.
    let copy_tree = dir.path().join("copy");
    let want = files("usr2", "two, changed");
    make_tree(&copy_tree, &want);
    let counting = Arc::new(Counting(chunks.source(&[base.digest]).unwrap(), 0.into()));
    let (copy, copy_blob) = write_indexed(&store, &chunks, &copy_tree, Some(counting.clone()));
    let mut plain = Vec::new();
    let fresh = write_dir_layer(&copy_tree, &LayerOptions::default(), &mut plain).unwrap();
    assert!(copy_blob == plain, "reuse changed the blob");
    assert_eq!(copy.digest, fresh.digest);
    assert_eq!(copy.diff_id, fresh.diff_id);
    // tool: one chunk of 300,000 bytes; data.txt: one full 1 MiB block and its 451,424-byte
    // rest. The small file is not a chunk of its own.
    assert_eq!(counting.1.load(Ordering::SeqCst), 3, "chunks reused");
    assert_eq!(unpacked(&copy_blob), want);

    // A torn index is skipped: nothing to reuse, and the blob is still the same.
    let index = store.chunks_dir().join(base.digest.hex());
    let len = fs::metadata(&index).unwrap().len();
    fs::OpenOptions::new()
        .write(true)
        .open(&index)
        .unwrap()
        .set_len(len - 7)
        .unwrap();
    fs::remove_file(store.chunks_dir().join(copy.digest.hex())).unwrap();
    assert!(chunks.source(&[base.digest]).is_none());
    let mut again = Vec::new();
    write_dir_layer_reusing(&copy_tree, &LayerOptions::default(), &mut again, None).unwrap();
    assert!(again == plain);
}

#[test]
fn prune_removes_the_index_with_the_blob() {
    let dir = tempfile::tempdir().unwrap();
    let store = Store::open(&dir.path().join("store")).unwrap();
    let chunks = ChunkStore::new(store.chunks_dir(), store.blobs_dir());
    let tree = dir.path().join("tree");
    make_tree(&tree, &files("x", "y"));
    let (d, _) = write_indexed(&store, &chunks, &tree, None);
    let index = store.chunks_dir().join(d.digest.hex());
    assert!(index.is_file());
    // A leftover temp file of a writer that died goes too.
    fs::write(store.chunks_dir().join(".tmp-abc"), b"x").unwrap();
    let report = store.prune(PruneOptions::default()).unwrap();
    assert!(
        report.blobs.contains(&d.digest),
        "the unreferenced blob is pruned"
    );
    assert!(!index.exists(), "its index went with it");
    assert_eq!(fs::read_dir(store.chunks_dir()).unwrap().count(), 0);
}
