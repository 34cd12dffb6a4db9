//! The chunk indexes of a store's layer blobs (one file per blob, named by its hex digest), and
//! the [`ChunkSource`] that reads earlier chunks back out of the blobs (see `chunks`). The
//! store's garbage collection removes the index of a blob it removes.

use std::collections::HashMap;
use std::fs::File;
use std::io;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
use std::time::SystemTime;

use super::chunks::{decode_index, encode_index, ChunkEntry, ChunkKey, ChunkSource};
use crate::digest::Digest;
use crate::util::atomic::write_atomic;

/// How many of the most recently written indexes a source reads besides the related ones: the
/// layers of the last builds (a rebuilt COPY after a one-file change) without reading every
/// index of a big store.
const RECENT: usize = 16;

/// A store's index directory and its blobs directory.
#[derive(Debug, Clone)]
pub struct ChunkStore {
    dir: PathBuf,
    blobs: PathBuf,
}

impl ChunkStore {
    pub fn new(dir: PathBuf, blobs: PathBuf) -> Self {
        ChunkStore { dir, blobs }
    }

    fn index_path(&self, blob: &Digest) -> PathBuf {
        self.dir.join(blob.hex())
    }

    /// Records the chunks of the committed blob `blob`. Nothing is written for a blob without
    /// chunks. The file is replaced atomically, so a reader never sees a torn index.
    pub fn save(&self, blob: &Digest, entries: &[ChunkEntry]) -> io::Result<()> {
        if entries.is_empty() {
            return Ok(());
        }
        std::fs::create_dir_all(&self.dir)?;
        write_atomic(&self.index_path(blob), &encode_index(entries))
    }

    /// A source over the indexes of `related` blobs (the parent layers of the layer about to be
    /// written) and of the most recently indexed blobs; `None` when there is nothing to reuse.
    /// Unreadable or damaged indexes are skipped: reuse only ever saves time.
    pub fn source(&self, related: &[Digest]) -> Option<Arc<dyn ChunkSource>> {
        let mut blobs: Vec<Digest> = related.to_vec();
        for d in self.recent() {
            if !blobs.contains(&d) {
                blobs.push(d);
            }
        }
        let mut map: HashMap<ChunkKey, (Digest, ChunkEntry)> = HashMap::new();
        for blob in blobs {
            let Ok(bytes) = std::fs::read(self.index_path(&blob)) else {
                continue;
            };
            let Ok(entries) = decode_index(&bytes) else {
                continue;
            };
            for e in entries {
                map.entry(e.key).or_insert((blob, e));
            }
        }
        if map.is_empty() {
            return None;
        }
        Some(Arc::new(StoreChunks {
            blobs: self.blobs.clone(),
            map,
            files: Mutex::new(HashMap::new()),
        }))
    }

    /// The blobs of the newest [`RECENT`] index files.
    fn recent(&self) -> Vec<Digest> {
        let Ok(rd) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut found: Vec<(SystemTime, Digest)> = rd
            .filter_map(Result::ok)
            .filter_map(|e| {
                let name = e.file_name();
                let d: Digest = format!("sha256:{}", name.to_str()?).parse().ok()?;
                let modified = e.metadata().ok()?.modified().ok()?;
                Some((modified, d))
            })
            .collect();
        found.sort_by_key(|f| std::cmp::Reverse(f.0));
        found.into_iter().take(RECENT).map(|(_, d)| d).collect()
    }
}

/// Reads reused chunks out of the blobs that hold them.
struct StoreChunks {
    blobs: PathBuf,
    map: HashMap<ChunkKey, (Digest, ChunkEntry)>,
    files: Mutex<HashMap<Digest, Arc<File>>>,
}

impl StoreChunks {
    fn file(&self, blob: &Digest) -> Option<Arc<File>> {
        let mut files = self.files.lock().ok()?;
        if let Some(f) = files.get(blob) {
            return Some(Arc::clone(f));
        }
        let f = Arc::new(File::open(blob_path(&self.blobs, blob)).ok()?);
        files.insert(*blob, Arc::clone(&f));
        Some(f)
    }
}

fn blob_path(blobs: &Path, d: &Digest) -> PathBuf {
    blobs.join(d.hex())
}

impl ChunkSource for StoreChunks {
    fn fetch(&self, key: &ChunkKey, crc: u32, raw_len: u32) -> Option<Vec<u8>> {
        let (blob, e) = self.map.get(key)?;
        if e.crc != crc || e.raw_len != raw_len {
            return None;
        }
        let f = self.file(blob)?;
        let mut buf = vec![0u8; e.len as usize];
        f.read_exact_at(&mut buf, e.offset).ok()?;
        Some(buf)
    }
}
