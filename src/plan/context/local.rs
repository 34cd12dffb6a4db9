//! [`LocalDir`]: a context directory on disk, listed with `readdir` + `lstat`.

use std::fs;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};

use super::{ContextError, DirSource, Entry, EntryKind};

/// A build context directory on the local file system.
#[derive(Debug, Clone)]
pub struct LocalDir {
    root: PathBuf,
}

impl LocalDir {
    /// Checks that `root` is a directory (a symlink to one is fine: it is the root, and only
    /// symlinks *inside* the context are left unfollowed).
    pub fn open(root: &Path) -> Result<Self, ContextError> {
        let meta = fs::metadata(root).map_err(|source| ContextError::Open {
            path: root.to_path_buf(),
            source,
        })?;
        if !meta.is_dir() {
            return Err(ContextError::NotADirectory {
                path: root.to_path_buf(),
            });
        }
        Ok(LocalDir {
            root: root.to_path_buf(),
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
}

impl DirSource for LocalDir {
    fn read_dir(&self, dir: &Path) -> Result<Vec<Entry>, ContextError> {
        let full = self.root.join(dir);
        let read_err = |source| ContextError::ReadDir {
            path: full.clone(),
            source,
        };
        let mut out = Vec::new();
        for item in fs::read_dir(&full).map_err(read_err)? {
            let item = item.map_err(read_err)?;
            let name = item.file_name();
            let stat_err = |source| ContextError::Stat {
                path: full.join(&name),
                source,
            };
            // DirEntry::metadata is an lstat relative to the open directory.
            let meta = item.metadata().map_err(stat_err)?;
            let ft = meta.file_type();
            let kind = if ft.is_dir() {
                EntryKind::Dir
            } else if ft.is_file() {
                EntryKind::File
            } else if ft.is_symlink() {
                let link = full.join(&name);
                let target = fs::read_link(&link)
                    .map_err(|source| ContextError::ReadLink { path: link, source })?;
                EntryKind::Symlink { target }
            } else {
                EntryKind::Other
            };
            out.push(Entry {
                path: dir.join(&name),
                kind,
                mode: meta.mode(),
                uid: meta.uid(),
                gid: meta.gid(),
                size: meta.size(),
                mtime_ns: meta.mtime() * 1_000_000_000 + meta.mtime_nsec(),
                ctime_ns: meta.ctime() * 1_000_000_000 + meta.ctime_nsec(),
                ino: meta.ino(),
                dev: meta.dev(),
                nlink: meta.nlink(),
                rdev: meta.rdev(),
            });
        }
        Ok(out)
    }
}
