//! The persistent stat cache of one build context: `path → (size, mtime, ctime, inode, mode,
//! when it was hashed) → blake3`, so an unchanged context is only `stat`ed. A compact,
//! versioned binary file, loaded with one read and no per-record allocation, written atomically
//! and only when something changed. A missing, corrupt or old-version file is simply an empty
//! cache.
//!
//! File layout (all integers little-endian):
//! ```text
//! magic "STRSTATC" | version u32 = 1 | count u32
//! count × record, in walk order (see [`walk_order`]), paths unique:
//!     path_len u32 | path bytes | size u64 | mtime_ns i64 | ctime_ns i64 | ino u64 | mode u32
//!     | recorded_at_ns i64 | blake3 [32]
//! crc32 u32 of everything before it
//! ```

use std::cmp::Ordering;
use std::collections::HashMap;
use std::io;
use std::path::{Path, PathBuf};

use super::hash::ContentHash;
use super::Entry;
use crate::util::atomic::write_atomic;

const MAGIC: &[u8; 8] = b"STRSTATC";
/// Bump when the layout or the meaning of a field changes; other versions are ignored.
pub const STAT_CACHE_VERSION: u32 = 1;
const HEADER_LEN: usize = 8 + 4 + 4;
/// Bytes of a record after its path.
const FIXED_LEN: usize = 8 + 8 + 8 + 8 + 4 + 8 + 32;

/// How much older than the moment it was hashed a file's mtime and ctime must be for its cache
/// entry to be trusted. File times come from the kernel's coarse clock and some file systems
/// round them (FAT: 2 s), so a file rewritten right after it was hashed can keep the very
/// timestamps that were recorded; such "racily clean" entries are rehashed (git's rule, with
/// a margin instead of an exact comparison against the index file's own mtime).
pub const RACY_MARGIN_NS: i64 = 2_000_000_000;

/// The `lstat` fields that must all be unchanged for a cached hash to be reused.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FileStat {
    pub size: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
    pub ino: u64,
    pub mode: u32,
}

impl From<&Entry> for FileStat {
    fn from(e: &Entry) -> Self {
        FileStat {
            size: e.size,
            mtime_ns: e.mtime_ns,
            ctime_ns: e.ctime_ns,
            ino: e.ino,
            mode: e.mode,
        }
    }
}

/// One cached hash: the stat it was taken under and when.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CacheRecord {
    pub stat: FileStat,
    /// Wall-clock time (ns since the epoch) taken before the file was read.
    pub recorded_at_ns: i64,
    pub hash: ContentHash,
}

impl CacheRecord {
    /// Whether this record may stand in for reading a file that now has `stat`.
    pub fn is_valid_for(&self, stat: &FileStat) -> bool {
        self.stat == *stat
            && self.stat.mtime_ns.max(self.stat.ctime_ns) < self.recorded_at_ns - RACY_MARGIN_NS
    }
}

/// What [`StatCache::load`] found on disk.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LoadOutcome {
    Missing,
    Loaded,
    /// Unreadable, corrupt or another version: ignored, rebuilt on the next save.
    Discarded,
}

/// Why the cache could not be saved (loading never fails).
#[derive(Debug, thiserror::Error)]
pub enum StatCacheError {
    #[error("writing stat cache {path}: {source}")]
    Write { path: PathBuf, source: io::Error },
    #[error("stat cache {path}: {count} records do not fit the format")]
    TooLarge { path: PathBuf, count: usize },
}

/// The stat cache of one context, as loaded plus this run's changes.
#[derive(Debug)]
pub struct StatCache {
    file: PathBuf,
    /// The file as read; `offsets` index its records (in walk order).
    buf: Vec<u8>,
    offsets: Vec<u32>,
    /// Records from `buf` dropped by [`StatCache::retain`] (indexes into `offsets`).
    removed: Vec<bool>,
    removed_any: bool,
    /// Records added or replaced this run.
    added: HashMap<Vec<u8>, CacheRecord>,
    outcome: LoadOutcome,
}

/// The directory holding the stat caches of a store: `<store root>/contexts-v1`.
pub fn stat_cache_dir(store_root: &Path) -> PathBuf {
    store_root.join("contexts-v1")
}

/// The cache file for `context_root` inside `dir`: named by the blake3 of the canonical context
/// path, so two spellings of the same directory share one cache.
pub fn stat_cache_file(dir: &Path, context_root: &Path) -> PathBuf {
    use std::os::unix::ffi::OsStrExt;
    let canonical = std::fs::canonicalize(context_root).unwrap_or_else(|_| context_root.into());
    let h = ContentHash::of(canonical.as_os_str().as_bytes());
    dir.join(h.to_hex())
}

impl StatCache {
    /// An empty cache that will be saved to `file`.
    pub fn empty(file: impl Into<PathBuf>) -> Self {
        StatCache {
            file: file.into(),
            buf: Vec::new(),
            offsets: Vec::new(),
            removed: Vec::new(),
            removed_any: false,
            added: HashMap::new(),
            outcome: LoadOutcome::Missing,
        }
    }

    /// Loads `file`; anything wrong with it gives an empty cache (see [`StatCache::outcome`]).
    pub fn load(file: impl Into<PathBuf>) -> Self {
        let mut cache = StatCache::empty(file);
        let buf = match std::fs::read(&cache.file) {
            Ok(b) => b,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return cache,
            Err(_) => {
                cache.outcome = LoadOutcome::Discarded;
                return cache;
            }
        };
        match parse(&buf) {
            Some(offsets) => {
                cache.removed = vec![false; offsets.len()];
                cache.offsets = offsets;
                cache.buf = buf;
                cache.outcome = LoadOutcome::Loaded;
            }
            None => cache.outcome = LoadOutcome::Discarded,
        }
        cache
    }

    pub fn file(&self) -> &Path {
        &self.file
    }

    pub fn outcome(&self) -> LoadOutcome {
        self.outcome
    }

    /// Number of records (loaded and kept, plus added).
    pub fn len(&self) -> usize {
        let kept = self.removed.iter().filter(|r| !**r).count();
        let replaced = self
            .added
            .keys()
            .filter(|k| self.find(k).is_some_and(|i| !self.removed[i]))
            .count();
        kept + self.added.len() - replaced
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// Whether [`StatCache::save`] would write.
    pub fn is_dirty(&self) -> bool {
        !self.added.is_empty() || self.removed_any
    }

    /// The record for `path`, whether or not it is still valid.
    pub fn get(&self, path: &[u8]) -> Option<CacheRecord> {
        self.get_hinted(path, &mut 0)
    }

    /// [`StatCache::get`] starting the search at `*hint`, which it then moves past `path`:
    /// looking paths up in walk order makes every lookup a sequential step, not a binary search
    /// through a file too big for the CPU caches.
    pub fn get_hinted(&self, path: &[u8], hint: &mut usize) -> Option<CacheRecord> {
        if !self.added.is_empty() {
            if let Some(r) = self.added.get(path) {
                return Some(*r);
            }
        }
        let i = self.find_hinted(path, hint)?;
        (!self.removed[i]).then(|| self.record_at(i).1)
    }

    /// The cached hash of `path` if the file still has `stat` and was not racily clean.
    pub fn lookup(&self, path: &[u8], stat: &FileStat) -> Option<ContentHash> {
        self.lookup_hinted(path, stat, &mut 0)
    }

    /// [`StatCache::lookup`] with a search hint (see [`StatCache::get_hinted`]).
    pub fn lookup_hinted(
        &self,
        path: &[u8],
        stat: &FileStat,
        hint: &mut usize,
    ) -> Option<ContentHash> {
        self.get_hinted(path, hint)
            .filter(|r| r.is_valid_for(stat))
            .map(|r| r.hash)
    }

    /// Records (or replaces) the hash of `path`.
    pub fn insert(&mut self, path: &[u8], record: CacheRecord) {
        if self
            .find(path)
            .is_some_and(|i| self.record_at(i).1 == record)
        {
            self.added.remove(path);
            return;
        }
        self.added.insert(path.to_vec(), record);
    }

    /// Drops the records whose path `keep` refuses (files gone from the context). Loaded
    /// records are offered in walk order, then the added ones in no particular order.
    pub fn retain(&mut self, mut keep: impl FnMut(&[u8]) -> bool) {
        for i in 0..self.offsets.len() {
            if !self.removed[i] && !keep(self.record_at(i).0) {
                self.removed[i] = true;
                self.removed_any = true;
            }
        }
        self.added.retain(|k, _| keep(k));
    }

    /// Writes the cache atomically if anything changed; returns whether it wrote. Concurrent
    /// builds of one context each replace the whole file: the last writer wins.
    pub fn save(&mut self) -> Result<bool, StatCacheError> {
        if !self.is_dirty() {
            return Ok(false);
        }
        let bytes = self.encode()?;
        let write_err = |source| StatCacheError::Write {
            path: self.file.clone(),
            source,
        };
        if let Some(dir) = self.file.parent() {
            std::fs::create_dir_all(dir).map_err(write_err)?;
        }
        write_atomic(&self.file, &bytes).map_err(write_err)?;
        // What was written is now the loaded state.
        self.offsets = parse(&bytes).expect("encode writes a valid file");
        self.buf = bytes;
        self.removed = vec![false; self.offsets.len()];
        self.removed_any = false;
        self.added.clear();
        self.outcome = LoadOutcome::Loaded;
        Ok(true)
    }

    /// The file's bytes: kept loaded records merged with added ones, in walk order.
    fn encode(&self) -> Result<Vec<u8>, StatCacheError> {
        let mut added: Vec<(&Vec<u8>, &CacheRecord)> = self.added.iter().collect();
        added.sort_unstable_by(|a, b| walk_order(a.0, b.0));
        let mut out = Vec::with_capacity(self.buf.len() + self.added.len() * (FIXED_LEN + 64));
        out.extend_from_slice(MAGIC);
        out.extend_from_slice(&STAT_CACHE_VERSION.to_le_bytes());
        out.extend_from_slice(&0u32.to_le_bytes());
        let mut count = 0usize;
        let mut added = added.into_iter().peekable();
        for i in 0..self.offsets.len() {
            let (path, rec) = self.record_at(i);
            while let Some((p, r)) = added.next_if(|(p, _)| walk_order(p, path).is_lt()) {
                encode_record(&mut out, p, r);
                count += 1;
            }
            if added.peek().is_some_and(|(p, _)| p.as_slice() == path) {
                continue; // replaced: written from `added`
            }
            if !self.removed[i] {
                encode_record(&mut out, path, &rec);
                count += 1;
            }
        }
        for (p, r) in added {
            encode_record(&mut out, p, r);
            count += 1;
        }
        let n = u32::try_from(count).map_err(|_| StatCacheError::TooLarge {
            path: self.file.clone(),
            count,
        })?;
        out[12..16].copy_from_slice(&n.to_le_bytes());
        let crc = crc32fast::hash(&out);
        out.extend_from_slice(&crc.to_le_bytes());
        Ok(out)
    }

    fn find(&self, path: &[u8]) -> Option<usize> {
        self.find_hinted(path, &mut 0)
    }

    fn find_hinted(&self, path: &[u8], hint: &mut usize) -> Option<usize> {
        let at = |i: usize| path_at(&self.buf, self.offsets[i] as usize);
        let found = if *hint < self.offsets.len() && at(*hint) == path {
            Ok(*hint)
        } else {
            self.offsets
                .binary_search_by(|&off| walk_order(path_at(&self.buf, off as usize), path))
        };
        match found {
            Ok(i) => {
                *hint = i + 1;
                Some(i)
            }
            Err(i) => {
                *hint = i;
                None
            }
        }
    }

    fn record_at(&self, i: usize) -> (&[u8], CacheRecord) {
        let off = self.offsets[i] as usize;
        let path = path_at(&self.buf, off);
        let f = &self.buf[off + 4 + path.len()..][..FIXED_LEN];
        let u64_at = |o: usize| u64::from_le_bytes(f[o..o + 8].try_into().expect("8 bytes"));
        let rec = CacheRecord {
            stat: FileStat {
                size: u64_at(0),
                mtime_ns: u64_at(8) as i64,
                ctime_ns: u64_at(16) as i64,
                ino: u64_at(24),
                mode: u32::from_le_bytes(f[32..36].try_into().expect("4 bytes")),
            },
            recorded_at_ns: u64_at(36) as i64,
            hash: ContentHash::from_bytes(f[44..76].try_into().expect("32 bytes")),
        };
        (path, rec)
    }
}

/// The order of a depth-first walk that lists siblings by name: byte order, except that `/`
/// sorts before every other byte (so `a/b` comes right after `a`, before `a-b`).
pub fn walk_order(a: &[u8], b: &[u8]) -> Ordering {
    let same = a.iter().zip(b).take_while(|(x, y)| x == y).count();
    let key = |c: u8| if c == b'/' { 0 } else { u16::from(c) + 1 };
    match (a.get(same), b.get(same)) {
        (Some(&x), Some(&y)) => key(x).cmp(&key(y)),
        _ => a.len().cmp(&b.len()),
    }
}

fn path_at(buf: &[u8], off: usize) -> &[u8] {
    let len = u32::from_le_bytes(buf[off..off + 4].try_into().expect("4 bytes")) as usize;
    &buf[off + 4..off + 4 + len]
}

fn encode_record(out: &mut Vec<u8>, path: &[u8], r: &CacheRecord) {
    out.extend_from_slice(&(path.len() as u32).to_le_bytes());
    out.extend_from_slice(path);
    out.extend_from_slice(&r.stat.size.to_le_bytes());
    out.extend_from_slice(&r.stat.mtime_ns.to_le_bytes());
    out.extend_from_slice(&r.stat.ctime_ns.to_le_bytes());
    out.extend_from_slice(&r.stat.ino.to_le_bytes());
    out.extend_from_slice(&r.stat.mode.to_le_bytes());
    out.extend_from_slice(&r.recorded_at_ns.to_le_bytes());
    out.extend_from_slice(r.hash.as_bytes());
}

/// Validates a cache file and returns its record offsets; `None` if anything is off.
fn parse(buf: &[u8]) -> Option<Vec<u32>> {
    if buf.len() < HEADER_LEN + 4 || &buf[..8] != MAGIC {
        return None;
    }
    let (body, crc) = buf.split_at(buf.len() - 4);
    if crc32fast::hash(body) != u32::from_le_bytes(crc.try_into().ok()?) {
        return None;
    }
    if u32::from_le_bytes(body[8..12].try_into().ok()?) != STAT_CACHE_VERSION {
        return None;
    }
    let count = u32::from_le_bytes(body[12..16].try_into().ok()?) as usize;
    // Every record takes at least FIXED_LEN + 4 bytes: bound the allocation by the file size.
    if count > body.len() / (FIXED_LEN + 4) || u32::try_from(body.len()).is_err() {
        return None;
    }
    let mut offsets = Vec::with_capacity(count);
    let mut off = HEADER_LEN;
    let mut prev: Option<&[u8]> = None;
    for _ in 0..count {
        let len = u32::from_le_bytes(body.get(off..off + 4)?.try_into().ok()?) as usize;
        let end = off.checked_add(4 + len + FIXED_LEN)?;
        if end > body.len() {
            return None;
        }
        let path = &body[off + 4..off + 4 + len];
        if prev.is_some_and(|p| walk_order(p, path).is_ge()) {
            return None;
        }
        prev = Some(path);
        offsets.push(off as u32);
        off = end;
    }
    (off == body.len()).then_some(offsets)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn stat(mtime_ns: i64) -> FileStat {
        FileStat {
            size: 10,
            mtime_ns,
            ctime_ns: mtime_ns,
            ino: 7,
            mode: 0o100644,
        }
    }

    fn rec(mtime_ns: i64, recorded_at_ns: i64, byte: u8) -> CacheRecord {
        CacheRecord {
            stat: stat(mtime_ns),
            recorded_at_ns,
            hash: ContentHash::from_bytes([byte; 32]),
        }
    }

    const T: i64 = 1_700_000_000_000_000_000;

    #[test]
    fn validity_table() {
        let base = rec(T, T + 10 * RACY_MARGIN_NS, 1);
        let cases: &[(&str, FileStat, bool)] = &[
            ("same", stat(T), true),
            ("mtime", stat(T + 1), false),
            (
                "size",
                FileStat {
                    size: 11,
                    ..stat(T)
                },
                false,
            ),
            (
                "ctime",
                FileStat {
                    ctime_ns: T + 1,
                    ..stat(T)
                },
                false,
            ),
            ("ino", FileStat { ino: 8, ..stat(T) }, false),
            (
                "mode",
                FileStat {
                    mode: 0o100755,
                    ..stat(T)
                },
                false,
            ),
        ];
        for (name, s, want) in cases {
            assert_eq!(base.is_valid_for(s), *want, "{name}");
        }
        // Racily clean: hashed in the same timestamp window as the last change.
        for recorded in [T, T + 1, T + RACY_MARGIN_NS] {
            assert!(!rec(T, recorded, 1).is_valid_for(&stat(T)), "{recorded}");
        }
        assert!(rec(T, T + RACY_MARGIN_NS + 1, 1).is_valid_for(&stat(T)));
        // A recent ctime (chmod, touch -d) is racy too.
        let r = CacheRecord {
            stat: FileStat {
                ctime_ns: T + RACY_MARGIN_NS,
                ..stat(T)
            },
            ..rec(T, T + RACY_MARGIN_NS + 1, 1)
        };
        assert!(!r.is_valid_for(&r.stat));
    }

    #[test]
    fn walk_order_table() {
        let mut paths = vec!["a-b", "a/b", "a", "b", "a/b/c", "a/a", "A", "a.b", "a/b-c"];
        paths.sort_by(|x, y| walk_order(x.as_bytes(), y.as_bytes()));
        assert_eq!(
            paths,
            ["A", "a", "a/a", "a/b", "a/b/c", "a/b-c", "a-b", "a.b", "b"]
        );
    }

    #[test]
    fn hinted_lookups_agree_with_plain_ones() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cache");
        let mut c = StatCache::empty(&file);
        let late = T + 10 * RACY_MARGIN_NS;
        let paths = ["a", "a/b", "a/b/c", "a-b", "b", "c/d"];
        for (i, p) in paths.iter().enumerate() {
            c.insert(p.as_bytes(), rec(T, late, i as u8));
        }
        c.save().unwrap();
        let c = StatCache::load(&file);
        let mut hint = 0;
        for (i, p) in paths.iter().enumerate() {
            let got = c.lookup_hinted(p.as_bytes(), &stat(T), &mut hint);
            assert_eq!(got, Some(ContentHash::from_bytes([i as u8; 32])), "{p}");
            assert_eq!(hint, i + 1);
        }
        // Out of order, missing, with a stale hint.
        for (p, want) in [
            ("a-b", Some(3u8)),
            ("a/a", None),
            ("a", Some(0)),
            ("zz", None),
        ] {
            let got = c
                .get_hinted(p.as_bytes(), &mut hint)
                .map(|r| r.hash.as_bytes()[0]);
            assert_eq!(got, want, "{p}");
        }
    }

    #[test]
    fn roundtrip_merge_and_retain() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("sub/cache");
        let mut c = StatCache::load(&file);
        assert_eq!(c.outcome(), LoadOutcome::Missing);
        assert!(
            !c.save().unwrap(),
            "an unchanged empty cache is not written"
        );
        assert!(!file.exists());
        let late = T + 10 * RACY_MARGIN_NS;
        for (p, b) in [("b", 2), ("a/x", 1), ("d", 4)] {
            c.insert(p.as_bytes(), rec(T, late, b));
        }
        assert!(c.save().unwrap());
        let mut c = StatCache::load(&file);
        assert_eq!(c.outcome(), LoadOutcome::Loaded);
        assert_eq!(c.len(), 3);
        assert!(!c.is_dirty());
        assert_eq!(
            c.lookup(b"b", &stat(T)),
            Some(ContentHash::from_bytes([2; 32]))
        );
        // Re-inserting the same record is not a change.
        c.insert(b"b", rec(T, late, 2));
        assert!(!c.save().unwrap());
        c.insert(b"c", rec(T, late, 3));
        c.insert(b"b", rec(T, late, 9));
        c.insert(b"0", rec(T, late, 5));
        c.retain(|p| p != b"d");
        assert_eq!(c.len(), 4);
        assert!(c.save().unwrap());
        let c = StatCache::load(&file);
        let got: Vec<(String, u8)> = ["0", "a/x", "b", "c", "d"]
            .iter()
            .filter_map(|p| Some((p.to_string(), c.get(p.as_bytes())?.hash.as_bytes()[0])))
            .collect();
        let want = [("0", 5), ("a/x", 1), ("b", 9), ("c", 3)];
        let want: Vec<(String, u8)> = want.iter().map(|(p, b)| (p.to_string(), *b)).collect();
        assert_eq!(got, want);
    }

    #[test]
    fn damaged_files_are_discarded() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("cache");
        let mut c = StatCache::empty(&file);
        c.insert(b"a", rec(T, T + 10 * RACY_MARGIN_NS, 1));
        c.insert(b"b", rec(T, T + 10 * RACY_MARGIN_NS, 2));
        c.save().unwrap();
        let good = std::fs::read(&file).unwrap();
        let mut other_version = good.clone();
        other_version[8] = 2;
        let n = other_version.len();
        let crc = crc32fast::hash(&other_version[..n - 4]).to_le_bytes();
        other_version[n - 4..].copy_from_slice(&crc);
        let mut flipped = good.clone();
        flipped[HEADER_LEN + 6] ^= 1;
        let cases: &[(&str, Vec<u8>)] = &[
            ("empty", Vec::new()),
            ("json", b"{\"a\": 1}".to_vec()),
            ("truncated", good[..good.len() - 9].to_vec()),
            ("flipped bit", flipped),
            ("other version", other_version),
        ];
        for (name, bytes) in cases {
            std::fs::write(&file, bytes).unwrap();
            let c = StatCache::load(&file);
            assert_eq!(c.outcome(), LoadOutcome::Discarded, "{name}");
            assert!(c.is_empty(), "{name}");
        }
        std::fs::write(&file, &good).unwrap();
        assert_eq!(StatCache::load(&file).len(), 2);
    }
}
