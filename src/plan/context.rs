//! The build context: choosing and loading its `.dockerignore`, and walking it once into a sorted
//! list of entries with the metadata a stat cache needs. The walk runs over a small
//! [`DirSource`] trait so an in-memory tree ([`MemDir`]) can stand in for the disk.

pub mod hash;
mod local;
mod mem;
pub mod stat_cache;
mod tree;
mod walk;

use std::path::{Path, PathBuf};

use crate::syntax::dockerignore::{parse_ignore_file, IgnoreError, PatternMatcher};

pub use hash::{ContentHash, ContextHasher, HashError, HashStats};
pub use local::LocalDir;
pub use mem::MemDir;
pub use stat_cache::{stat_cache_dir, stat_cache_file, LoadOutcome, StatCache, StatCacheError};
pub use tree::WalkedTree;
pub use walk::{walk, ContextWalker};

/// What went wrong while reading a build context, with the path at fault.
#[derive(Debug, thiserror::Error)]
pub enum ContextError {
    #[error("build context {path}: {source}")]
    Open {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("build context {path} is not a directory")]
    NotADirectory { path: PathBuf },
    #[error("reading directory {path} in the build context: {source}")]
    ReadDir {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("reading metadata of {path} in the build context: {source}")]
    Stat {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("reading symlink {path} in the build context: {source}")]
    ReadLink {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("reading ignore file {path}: {source}")]
    ReadIgnoreFile {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("ignore file {path} is not valid UTF-8")]
    IgnoreFileNotUtf8 { path: PathBuf },
    #[error("ignore file {path}: {source}")]
    IgnorePatterns { path: PathBuf, source: IgnoreError },
    #[error("matching {path} against the ignore patterns: {source}")]
    Match { path: PathBuf, source: IgnoreError },
    #[error("in-memory context: no directory {path}")]
    NoSuchDir { path: PathBuf },
}

/// What kind of file an entry is. Symlinks are never followed; the target is as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum EntryKind {
    File,
    Dir,
    Symlink {
        target: PathBuf,
    },
    /// Device, fifo or socket: `mode` says which.
    Other,
}

/// One file, directory, symlink or special file of the context, as `lstat` saw it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// Relative to the context root, `/`-separated, no leading `./` or `/`.
    pub path: PathBuf,
    pub kind: EntryKind,
    /// `st_mode`: file type and permission bits.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub size: u64,
    pub mtime_ns: i64,
    pub ctime_ns: i64,
    pub ino: u64,
    pub dev: u64,
    pub nlink: u64,
    /// Device number for character and block devices, else 0.
    pub rdev: u64,
}

impl Entry {
    /// An entry with the given path and kind, mode `0644` (files, others) or `0755` (dirs) plus
    /// the type bits, and every other field zero: a starting point for fakes.
    pub fn new(path: impl Into<PathBuf>, kind: EntryKind) -> Self {
        let mode = match kind {
            EntryKind::File | EntryKind::Other => libc::S_IFREG | 0o644,
            EntryKind::Dir => libc::S_IFDIR | 0o755,
            EntryKind::Symlink { .. } => libc::S_IFLNK | 0o777,
        };
        Entry {
            path: path.into(),
            kind,
            mode,
            uid: 0,
            gid: 0,
            size: 0,
            mtime_ns: 0,
            ctime_ns: 0,
            ino: 0,
            dev: 0,
            nlink: 1,
            rdev: 0,
        }
    }

    pub fn is_dir(&self) -> bool {
        self.kind == EntryKind::Dir
    }
}

/// A build context: its entries, filtered by the ignore rules, in walk order (depth-first,
/// siblings by byte order of their names, a directory right before its contents).
pub trait Context {
    fn entries(&self) -> Result<Vec<Entry>, ContextError>;
}

/// What the walker needs from a file system: the children of one directory. `Sync` because
/// the walker reads sibling directories in parallel.
pub trait DirSource: Sync {
    /// Lists `dir` (relative to the context root; `""` is the root). Each child's `path` is
    /// `dir/name`; order does not matter. Symlinks are listed as symlinks, never followed.
    fn read_dir(&self, dir: &Path) -> Result<Vec<Entry>, ContextError>;
}

impl<S: DirSource + ?Sized> DirSource for &S {
    fn read_dir(&self, dir: &Path) -> Result<Vec<Entry>, ContextError> {
        (**self).read_dir(dir)
    }
}

/// The ignore file that applies to a build: `<dockerfile>.dockerignore` next to the Dockerfile
/// if it exists (BuildKit's rule), else `<context>/.dockerignore` if it exists, else none.
/// `dockerfile` is `None` when the Dockerfile does not come from a file (e.g. stdin).
pub fn find_ignore_file(
    context_dir: &Path,
    dockerfile: Option<&Path>,
) -> Result<Option<PathBuf>, ContextError> {
    let mut candidates = Vec::with_capacity(2);
    if let Some((file, name)) = dockerfile.and_then(|f| Some((f, f.file_name()?))) {
        let mut specific = name.to_os_string();
        specific.push(".dockerignore");
        candidates.push(file.with_file_name(specific));
    }
    candidates.push(context_dir.join(".dockerignore"));
    for path in candidates {
        match std::fs::metadata(&path) {
            Ok(_) => return Ok(Some(path)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(source) => return Err(ContextError::ReadIgnoreFile { path, source }),
        }
    }
    Ok(None)
}

/// Loads the ignore rules for a build (see [`find_ignore_file`]); no ignore file means an
/// empty matcher. The Dockerfile and the ignore file themselves are context entries like any
/// other (excluded if a pattern says so); the build reads the Dockerfile from its own path.
pub fn load_ignore_for(
    context_dir: &Path,
    dockerfile: Option<&Path>,
) -> Result<PatternMatcher, ContextError> {
    let Some(path) = find_ignore_file(context_dir, dockerfile)? else {
        return Ok(PatternMatcher::default());
    };
    let bytes = std::fs::read(&path).map_err(|source| ContextError::ReadIgnoreFile {
        path: path.clone(),
        source,
    })?;
    let text = String::from_utf8(bytes)
        .map_err(|_| ContextError::IgnoreFileNotUtf8 { path: path.clone() })?;
    PatternMatcher::new(parse_ignore_file(&text))
        .map_err(|source| ContextError::IgnorePatterns { path, source })
}

/// Opens a context directory with the ignore rules that apply to `dockerfile`.
pub fn open_context(
    context_dir: &Path,
    dockerfile: Option<&Path>,
) -> Result<ContextWalker<LocalDir>, ContextError> {
    let source = LocalDir::open(context_dir)?;
    let matcher = load_ignore_for(context_dir, dockerfile)?;
    Ok(ContextWalker::new(source, matcher))
}
