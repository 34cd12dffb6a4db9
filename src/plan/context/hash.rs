//! Content hashing of context files: blake3 of exactly the files asked for, in parallel,
//! memoised for the build and backed by the persistent [`StatCache`] so an unchanged file is
//! never read twice across builds.

use std::cell::RefCell;
use std::collections::HashMap;
use std::fmt;
use std::fs::File;
use std::io::{self, Read};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::stat_cache::{CacheRecord, FileStat, StatCache, StatCacheError};
use super::{Entry, EntryKind};

/// The blake3 of a file's contents.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ContentHash([u8; 32]);

impl ContentHash {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        ContentHash(bytes)
    }

    /// The blake3 of `data`.
    pub fn of(data: &[u8]) -> Self {
        ContentHash(*blake3::hash(data).as_bytes())
    }

    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// 64 lower-case hex digits.
    pub fn to_hex(&self) -> String {
        blake3::Hash::from_bytes(self.0).to_hex().to_string()
    }
}

impl fmt::Display for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "blake3:{}", self.to_hex())
    }
}

impl fmt::Debug for ContentHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

/// Why a context file could not be hashed; each variant names the path.
#[derive(Debug, thiserror::Error)]
pub enum HashError {
    /// Not among the walked entries: missing, or excluded by `.dockerignore`.
    #[error("{path:?} is not in the build context (missing or excluded by .dockerignore)")]
    NotInContext { path: String },
    #[error("{path:?} in the build context is not a regular file")]
    NotAFile { path: String },
    #[error("reading {path} in the build context: {source}")]
    Read { path: PathBuf, source: io::Error },
    #[error(transparent)]
    Cache(#[from] StatCacheError),
}

/// What a hasher did so far.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct HashStats {
    /// Files opened and read (cache misses).
    pub files_read: u64,
    pub bytes_read: u64,
    /// Files answered by the stat cache without being opened.
    pub cache_hits: u64,
}

/// Hashes the regular files of one walked context on demand. Paths are context-relative and
/// `/`-separated, as in [`Entry::path`]; only walked files can be hashed, so whatever the ignore
/// rules excluded is never read.
pub struct ContextHasher<'a> {
    root: PathBuf,
    entries: &'a [Entry],
    files: HashMap<&'a [u8], &'a Entry>,
    cache: StatCache,
    hashes: HashMap<&'a [u8], ContentHash>,
    stats: HashStats,
    fixed_now_ns: Option<i64>,
}

/// Files at least this big are hashed with blake3's multi-threaded `update_rayon`.
const RAYON_MIN: usize = 256 << 10;
const READ_BUF: usize = 1 << 20;

thread_local! {
    static BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

impl<'a> ContextHasher<'a> {
    /// A hasher for the context at `root` whose walk gave `entries`, backed by `cache`.
    pub fn new(root: impl Into<PathBuf>, entries: &'a [Entry], cache: StatCache) -> Self {
        let files = entries
            .iter()
            .filter(|e| e.kind == EntryKind::File)
            .map(|e| (e.path.as_os_str().as_bytes(), e))
            .collect();
        ContextHasher {
            root: root.into(),
            entries,
            files,
            cache,
            hashes: HashMap::new(),
            stats: HashStats::default(),
            fixed_now_ns: None,
        }
    }

    /// Uses `now_ns` as the time hashes are recorded at, instead of the wall clock (tests of
    /// the racy-clean rule).
    pub fn with_clock_ns(mut self, now_ns: i64) -> Self {
        self.fixed_now_ns = Some(now_ns);
        self
    }

    /// Hashes every regular file of the walk.
    pub fn hash_all(&mut self) -> Result<(), HashError> {
        let all: Vec<&'a [u8]> = self.files.keys().copied().collect();
        self.hash_paths(&all)
    }

    /// Hashes the given files (already-hashed ones are skipped), reading in parallel only those
    /// the stat cache cannot answer. The first failure in `paths` order is returned.
    pub fn hash_paths<P: AsRef<[u8]>>(&mut self, paths: &[P]) -> Result<(), HashError> {
        let now_ns = self.fixed_now_ns.unwrap_or_else(wall_clock_ns);
        let mut todo: Vec<&'a Entry> = Vec::new();
        for p in paths {
            let p = p.as_ref();
            if self.hashes.contains_key(p) {
                continue;
            }
            let entry = self.entry(p)?;
            let key = entry.path.as_os_str().as_bytes();
            match self.cache.lookup(key, &FileStat::from(entry)) {
                Some(h) => {
                    self.stats.cache_hits += 1;
                    self.hashes.insert(key, h);
                }
                None => todo.push(entry),
            }
        }
        // Two requests for one path must not read it twice.
        todo.sort_unstable_by_key(|e| e.path.as_os_str().as_bytes());
        todo.dedup_by_key(|e| e.path.as_os_str().as_bytes());
        let root = &self.root;
        let results: Vec<Result<(ContentHash, bool), HashError>> = todo
            .par_iter()
            .map(|e| hash_file(&root.join(&e.path), e))
            .collect();
        for (e, r) in todo.iter().zip(results) {
            let (hash, unchanged) = r?;
            let key = e.path.as_os_str().as_bytes();
            self.stats.files_read += 1;
            self.stats.bytes_read += e.size;
            self.hashes.insert(key, hash);
            // A file that changed while it was read is hashed for this build but not cached.
            if unchanged {
                let record = CacheRecord {
                    stat: FileStat::from(*e),
                    recorded_at_ns: now_ns,
                    hash,
                };
                self.cache.insert(key, record);
            }
        }
        Ok(())
    }

    /// The hash of a file hashed earlier by this hasher.
    pub fn get(&self, path: impl AsRef<[u8]>) -> Option<ContentHash> {
        self.hashes.get(path.as_ref()).copied()
    }

    /// Every hash computed or looked up so far, by context-relative path.
    pub fn hashes(&self) -> impl Iterator<Item = (&'a Path, ContentHash)> + '_ {
        self.hashes
            .keys()
            .map(|k| (self.files[k].path.as_path(), self.hashes[k]))
    }

    pub fn stats(&self) -> HashStats {
        self.stats
    }

    pub fn cache(&self) -> &StatCache {
        &self.cache
    }

    /// Forgets cached files that are no longer in the context, then writes the stat cache if
    /// anything changed; returns whether it wrote.
    pub fn save_cache(&mut self) -> Result<bool, HashError> {
        let files = &self.files;
        self.cache.retain(|p| files.contains_key(p));
        Ok(self.cache.save()?)
    }

    fn entry(&self, p: &[u8]) -> Result<&'a Entry, HashError> {
        let lossy = || String::from_utf8_lossy(p).into_owned();
        match self.files.get(p) {
            Some(e) => Ok(e),
            None if self.is_walked_non_file(p) => Err(HashError::NotAFile { path: lossy() }),
            None => Err(HashError::NotInContext { path: lossy() }),
        }
    }

    /// Only called on the error path: non-files are not indexed.
    fn is_walked_non_file(&self, p: &[u8]) -> bool {
        self.entries
            .iter()
            .any(|e| e.path.as_os_str().as_bytes() == p)
    }
}

fn wall_clock_ns() -> i64 {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    d.as_nanos().min(i64::MAX as u128) as i64
}

/// Reads and hashes one file; also says whether its `fstat` after reading still matches the
/// walk (if not, the hash must not be cached under the walk's stat).
fn hash_file(path: &Path, e: &Entry) -> Result<(ContentHash, bool), HashError> {
    let err = |source| HashError::Read {
        path: path.to_path_buf(),
        source,
    };
    let mut file = File::options()
        .read(true)
        .custom_flags(libc::O_NOFOLLOW | libc::O_NOCTTY)
        .open(path)
        .map_err(err)?;
    let mut hasher = blake3::Hasher::new();
    BUF.with(|buf| -> io::Result<()> {
        let mut buf = buf.borrow_mut();
        let want = (e.size as usize).clamp(8 << 10, READ_BUF);
        if buf.len() < want {
            buf.resize(want, 0);
        }
        loop {
            let n = read_full(&mut file, &mut buf[..])?;
            if n >= RAYON_MIN {
                hasher.update_rayon(&buf[..n]);
            } else {
                hasher.update(&buf[..n]);
            }
            if n < buf.len() {
                return Ok(());
            }
        }
    })
    .map_err(err)?;
    let md = file.metadata().map_err(err)?;
    let now = FileStat {
        size: md.size(),
        mtime_ns: md.mtime() * 1_000_000_000 + md.mtime_nsec(),
        ctime_ns: md.ctime() * 1_000_000_000 + md.ctime_nsec(),
        ino: md.ino(),
        mode: md.mode(),
    };
    Ok((
        ContentHash(*hasher.finalize().as_bytes()),
        now == FileStat::from(e),
    ))
}

/// Fills `buf` unless the file ends first; returns the bytes read.
fn read_full(file: &mut File, buf: &mut [u8]) -> io::Result<usize> {
    let mut n = 0;
    while n < buf.len() {
        match file.read(&mut buf[n..]) {
            Ok(0) => break,
            Ok(k) => n += k,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(e),
        }
    }
    Ok(n)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn content_hash_is_blake3() {
        let h = ContentHash::of(b"abc");
        assert_eq!(
            h.to_string(),
            "blake3:6437b3ac38465133ffb63b75273a8db548c558465d79db03fd359c6cd5bd9d85"
        );
        assert_eq!(ContentHash::from_bytes(*h.as_bytes()), h);
    }

    #[test]
    fn chunked_reads_hash_like_one_shot() {
        let dir = tempfile::tempdir().unwrap();
        for size in [
            0usize,
            1,
            8 << 10,
            RAYON_MIN,
            READ_BUF - 1,
            READ_BUF,
            3 * READ_BUF + 17,
        ] {
            let data: Vec<u8> = (0..size).map(|i| (i * 7 + i / 251) as u8).collect();
            let p = dir.path().join(format!("f{size}"));
            std::fs::write(&p, &data).unwrap();
            let mut e = Entry::new(format!("f{size}"), EntryKind::File);
            e.size = size as u64;
            let (h, _) = hash_file(&p, &e).unwrap();
            assert_eq!(h, ContentHash::of(&data), "size {size}");
        }
    }
}
