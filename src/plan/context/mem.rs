//! [`MemDir`]: an in-memory directory tree standing in for a context on disk in tests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use super::{ContextError, DirSource, Entry, EntryKind};

/// An in-memory tree. Adding an entry creates its missing parent directories.
#[derive(Debug, Clone)]
pub struct MemDir {
    /// Directory path (`""` = root) → its children.
    dirs: BTreeMap<PathBuf, Vec<Entry>>,
}

impl MemDir {
    pub fn new() -> Self {
        let mut dirs = BTreeMap::new();
        dirs.insert(PathBuf::new(), Vec::new());
        MemDir { dirs }
    }

    /// Adds (or replaces) an entry; its path is relative to the root.
    pub fn insert(&mut self, entry: Entry) {
        let parent = entry.path.parent().unwrap_or(Path::new("")).to_path_buf();
        if !self.dirs.contains_key(&parent) {
            self.insert(Entry::new(parent.clone(), EntryKind::Dir));
        }
        if entry.is_dir() {
            self.dirs.entry(entry.path.clone()).or_default();
        }
        let siblings = self.dirs.entry(parent).or_default();
        siblings.retain(|e| e.path != entry.path);
        siblings.push(entry);
    }

    /// Adds a regular file of `size` bytes.
    pub fn file(mut self, path: &str, size: u64) -> Self {
        let mut e = Entry::new(path, EntryKind::File);
        e.size = size;
        self.insert(e);
        self
    }

    /// Adds a directory.
    pub fn dir(mut self, path: &str) -> Self {
        self.insert(Entry::new(path, EntryKind::Dir));
        self
    }

    /// Adds a symlink.
    pub fn symlink(mut self, path: &str, target: &str) -> Self {
        self.insert(Entry::new(
            path,
            EntryKind::Symlink {
                target: target.into(),
            },
        ));
        self
    }
}

impl Default for MemDir {
    fn default() -> Self {
        Self::new()
    }
}

impl DirSource for MemDir {
    fn read_dir(&self, dir: &Path) -> Result<Vec<Entry>, ContextError> {
        self.dirs
            .get(dir)
            .cloned()
            .ok_or_else(|| ContextError::NoSuchDir {
                path: dir.to_path_buf(),
            })
    }
}
