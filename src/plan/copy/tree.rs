//! The source side of a copy, as a small trait: the build context or another stage's rootfs on
//! disk ([`FsTree`]), or an in-memory tree ([`MemTree`]) so selection is table-tested without I/O.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use super::spec::MTime;

/// What `lstat` says of one source path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SourceMeta {
    pub kind: SourceKind,
    /// Permission bits (`0o7777`).
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub mtime: MTime,
    /// (device, inode) when the tree knows it and the file has more than one link, so hard
    /// links within a copied set stay hard links.
    pub link_id: Option<(u64, u64)>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SourceKind {
    Dir,
    File {
        size: u64,
    },
    Symlink {
        target: String,
    },
    /// Device or fifo: `file_type` is the `S_IFMT` bits.
    Special {
        file_type: u32,
        rdev: u64,
    },
}

/// A read-only tree of files addressed by `/`-separated paths relative to its root (`""` is the
/// root itself). Paths handed in never contain `.`/`..` components or symlinks other than,
/// possibly, the last component.
pub trait SourceTree {
    /// Metadata without following a final symlink; `Ok(None)` when the path does not exist.
    fn lstat(&self, rel: &str) -> io::Result<Option<SourceMeta>>;
    /// Names in a directory, sorted bytewise.
    fn read_dir(&self, rel: &str) -> io::Result<Vec<String>>;
    /// A regular file's content.
    fn open(&self, rel: &str) -> io::Result<Box<dyn Read + '_>>;
    /// The file's path on the host when the tree is a directory there, so apply can let the
    /// kernel copy (`copy_file_range`) instead of streaming through user space.
    fn host_path(&self, _rel: &str) -> Option<PathBuf> {
        None
    }
}

/// A source tree on disk.
#[derive(Debug, Clone)]
pub struct FsTree {
    root: PathBuf,
}

impl FsTree {
    pub fn new(root: impl Into<PathBuf>) -> FsTree {
        FsTree { root: root.into() }
    }

    fn path(&self, rel: &str) -> PathBuf {
        if rel.is_empty() {
            self.root.clone()
        } else {
            self.root.join(rel)
        }
    }
}

impl SourceTree for FsTree {
    fn lstat(&self, rel: &str) -> io::Result<Option<SourceMeta>> {
        let p = self.path(rel);
        let md = match std::fs::symlink_metadata(&p) {
            Ok(md) => md,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(None),
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => return Ok(None),
            Err(e) => return Err(e),
        };
        let ft = md.mode() & libc::S_IFMT;
        let kind = match ft {
            libc::S_IFDIR => SourceKind::Dir,
            libc::S_IFREG => SourceKind::File { size: md.len() },
            libc::S_IFLNK => {
                let t = std::fs::read_link(&p)?;
                SourceKind::Symlink {
                    target: t.to_string_lossy().into_owned(),
                }
            }
            _ => SourceKind::Special {
                file_type: ft,
                rdev: md.rdev(),
            },
        };
        let link_id = (ft == libc::S_IFREG && md.nlink() > 1).then(|| (md.dev(), md.ino()));
        Ok(Some(SourceMeta {
            kind,
            mode: md.mode() & 0o7777,
            uid: md.uid(),
            gid: md.gid(),
            mtime: MTime {
                secs: md.mtime(),
                nanos: md.mtime_nsec() as u32,
            },
            link_id,
        }))
    }

    fn read_dir(&self, rel: &str) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for e in std::fs::read_dir(self.path(rel))? {
            names.push(e?.file_name().to_string_lossy().into_owned());
        }
        names.sort();
        Ok(names)
    }

    fn open(&self, rel: &str) -> io::Result<Box<dyn Read + '_>> {
        Ok(Box::new(std::fs::File::open(self.path(rel))?))
    }

    fn host_path(&self, rel: &str) -> Option<PathBuf> {
        Some(self.path(rel))
    }
}

/// An in-memory tree for tests and for callers that already hold the files.
#[derive(Debug, Clone, Default)]
pub struct MemTree {
    nodes: BTreeMap<String, (SourceMeta, Vec<u8>)>,
}

impl MemTree {
    /// An empty tree with a root directory (mode 0755, owned by 0:0).
    pub fn new() -> MemTree {
        let mut t = MemTree::default();
        t.insert("", SourceKind::Dir, 0o755, Vec::new());
        t
    }

    fn insert(&mut self, rel: &str, kind: SourceKind, mode: u32, data: Vec<u8>) -> &mut SourceMeta {
        let meta = SourceMeta {
            kind,
            mode,
            uid: 0,
            gid: 0,
            mtime: MTime { secs: 0, nanos: 0 },
            link_id: None,
        };
        self.nodes.insert(rel.to_string(), (meta, data));
        &mut self.nodes.get_mut(rel).expect("just inserted").0
    }

    /// Adds a directory (parents must be added by the caller).
    pub fn dir(&mut self, rel: &str, mode: u32) -> &mut SourceMeta {
        self.insert(rel, SourceKind::Dir, mode, Vec::new())
    }

    /// Adds a regular file.
    pub fn file(&mut self, rel: &str, mode: u32, data: &[u8]) -> &mut SourceMeta {
        let size = data.len() as u64;
        self.insert(rel, SourceKind::File { size }, mode, data.to_vec())
    }

    /// Adds a symlink.
    pub fn symlink(&mut self, rel: &str, target: &str) -> &mut SourceMeta {
        let kind = SourceKind::Symlink {
            target: target.to_string(),
        };
        self.insert(rel, kind, 0o777, Vec::new())
    }
}

impl SourceTree for MemTree {
    fn lstat(&self, rel: &str) -> io::Result<Option<SourceMeta>> {
        Ok(self.nodes.get(rel).map(|(m, _)| m.clone()))
    }

    fn read_dir(&self, rel: &str) -> io::Result<Vec<String>> {
        let prefix = if rel.is_empty() {
            String::new()
        } else {
            format!("{rel}/")
        };
        Ok(self
            .nodes
            .keys()
            .filter(|k| !k.is_empty())
            .filter_map(|k| k.strip_prefix(&prefix))
            .filter(|rest| !rest.is_empty() && !rest.contains('/'))
            .map(str::to_string)
            .collect())
    }

    fn open(&self, rel: &str) -> io::Result<Box<dyn Read + '_>> {
        match self.nodes.get(rel) {
            Some((m, data)) if matches!(m.kind, SourceKind::File { .. }) => {
                Ok(Box::new(data.as_slice()))
            }
            _ => Err(io::Error::new(io::ErrorKind::NotFound, rel.to_string())),
        }
    }
}
