//! Content hashing of context files: blake3 of exactly the files asked for, in parallel,
//! memoised for the build and backed by the persistent [`StatCache`] so an unchanged file is
//! never read twice across builds.

use crate::util::read_full::read_full;
use std::cell::RefCell;
use std::fmt;
use std::fs::File;
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{MetadataExt, OpenOptionsExt};
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::stat_cache::{walk_order, CacheRecord, FileStat, StatCache, StatCacheError};
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
    /// The walk's regular files in walk order, the order of the stat cache file, so lookups
    /// step through both sequentially.
    files: Vec<&'a Entry>,
    /// `files[i]`'s hash once known.
    hashes: Vec<Option<ContentHash>>,
    cache: StatCache,
    stats: HashStats,
    fixed_now_ns: Option<i64>,
}

/// Files at least this big are hashed with blake3's multi-threaded `update_rayon`.
const RAYON_MIN: usize = 256 << 10;
const READ_BUF: usize = 1 << 20;

thread_local! {
    static BUF: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

fn key(e: &Entry) -> &[u8] {
    e.path.as_os_str().as_bytes()
}

impl<'a> ContextHasher<'a> {
    /// A hasher for the context at `root` whose walk gave `entries`, backed by `cache`.
    pub fn new(root: impl Into<PathBuf>, entries: &'a [Entry], cache: StatCache) -> Self {
        let mut files: Vec<&'a Entry> = entries
            .iter()
            .filter(|e| e.kind == EntryKind::File)
            .collect();
        // A walk already gives this order; other entry lists are sorted.
        if !files
            .windows(2)
            .all(|w| walk_order(key(w[0]), key(w[1])).is_lt())
        {
            files.sort_by(|a, b| walk_order(key(a), key(b)));
            files.dedup_by(|a, b| key(a) == key(b));
        }
        ContextHasher {
            root: root.into(),
            entries,
            hashes: vec![None; files.len()],
            files,
            cache,
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
        self.hash_indices((0..self.files.len()).collect())
    }

    /// Hashes the given files (already-hashed ones are skipped), reading in parallel only those
    /// the stat cache cannot answer. A path that is not a walked regular file is an error, and
    /// then nothing is hashed.
    pub fn hash_paths<P: AsRef<[u8]>>(&mut self, paths: &[P]) -> Result<(), HashError> {
        let mut wanted = Vec::with_capacity(paths.len());
        for p in paths {
            wanted.push(self.index(p.as_ref())?);
        }
        wanted.sort_unstable();
        wanted.dedup();
        self.hash_indices(wanted)
    }

    /// Hashes `files[i]` for each `i` (ascending, unique).
    fn hash_indices(&mut self, wanted: Vec<usize>) -> Result<(), HashError> {
        let now_ns = self.fixed_now_ns.unwrap_or_else(wall_clock_ns);
        let mut todo: Vec<usize> = Vec::new();
        let mut hint = 0;
        for i in wanted {
            if self.hashes[i].is_some() {
                continue;
            }
            let e = self.files[i];
            match self
                .cache
                .lookup_hinted(key(e), &FileStat::from(e), &mut hint)
            {
                Some(h) => {
                    self.stats.cache_hits += 1;
                    self.hashes[i] = Some(h);
                }
                None => todo.push(i),
            }
        }
        if todo.is_empty() {
            return Ok(());
        }
        let (root, files) = (&self.root, &self.files);
        let results: Vec<Result<(ContentHash, bool), HashError>> = todo
            .par_iter()
            .map(|&i| hash_file(&root.join(&files[i].path), files[i]))
            .collect();
        for (&i, r) in todo.iter().zip(results) {
            let (hash, unchanged) = r?;
            let e = self.files[i];
            self.stats.files_read += 1;
            self.stats.bytes_read += e.size;
            self.hashes[i] = Some(hash);
            // A file that changed while it was read is hashed for this build but not cached.
            if unchanged {
                let record = CacheRecord {
                    stat: FileStat::from(e),
                    recorded_at_ns: now_ns,
                    hash,
                };
                self.cache.insert(key(e), record);
            }
        }
        Ok(())
    }

    /// The hash of a file hashed earlier by this hasher.
    pub fn get(&self, path: impl AsRef<[u8]>) -> Option<ContentHash> {
        self.find(path.as_ref()).ok().and_then(|i| self.hashes[i])
    }

    /// Every hash computed or looked up so far, by context-relative path, in walk order.
    pub fn hashes(&self) -> impl Iterator<Item = (&'a Path, ContentHash)> + '_ {
        self.files
            .iter()
            .zip(&self.hashes)
            .filter_map(|(e, h)| Some((e.path.as_path(), (*h)?)))
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
        let mut cursor = 0;
        // Records come in walk order, like `files`: mostly a forward scan.
        self.cache.retain(|p| {
            while cursor < files.len() && walk_order(key(files[cursor]), p).is_lt() {
                cursor += 1;
            }
            if cursor < files.len() && key(files[cursor]) == p {
                return true;
            }
            files.binary_search_by(|e| walk_order(key(e), p)).is_ok()
        });
        Ok(self.cache.save()?)
    }

    fn find(&self, p: &[u8]) -> Result<usize, usize> {
        self.files.binary_search_by(|e| walk_order(key(e), p))
    }

    fn index(&self, p: &[u8]) -> Result<usize, HashError> {
        let lossy = || String::from_utf8_lossy(p).into_owned();
        match self.find(p) {
            Ok(i) => Ok(i),
            Err(_) if self.entries.iter().any(|e| key(e) == p) => {
                Err(HashError::NotAFile { path: lossy() })
            }
            Err(_) => Err(HashError::NotInContext { path: lossy() }),
        }
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
