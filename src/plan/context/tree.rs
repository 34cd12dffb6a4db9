//! [`WalkedTree`]: the walked context as a COPY/ADD [`SourceTree`], so selection sees exactly
//! what the ignore rules kept (an ignored file is absent, as in a BuildKit context) and uses
//! the walk's `lstat` results instead of `stat`ing again.

use std::collections::HashMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use super::{Entry, EntryKind};
use crate::plan::copy::{MTime, SourceKind, SourceMeta, SourceTree};

/// A walked context: metadata from the walk, contents read from `root` on demand. Entries
/// whose path is not UTF-8 cannot be named by a COPY source and are left out.
pub struct WalkedTree<'a> {
    root: PathBuf,
    root_meta: SourceMeta,
    by_path: HashMap<&'a str, &'a Entry>,
    /// Directory (`""` = root) → child names, sorted bytewise.
    children: HashMap<&'a str, Vec<&'a str>>,
}

impl<'a> WalkedTree<'a> {
    /// The context at `root` as walked into `entries`. The root's own metadata is read here.
    pub fn new(root: impl Into<PathBuf>, entries: &'a [Entry]) -> io::Result<Self> {
        let root = root.into();
        let md = std::fs::metadata(&root)?;
        let mut root_entry = Entry::new("", EntryKind::Dir);
        {
            use std::os::unix::fs::MetadataExt;
            root_entry.mode = md.mode();
            root_entry.uid = md.uid();
            root_entry.gid = md.gid();
            root_entry.mtime_ns = md.mtime() * 1_000_000_000 + md.mtime_nsec();
        }
        let mut by_path = HashMap::with_capacity(entries.len());
        let mut children: HashMap<&str, Vec<&str>> = HashMap::new();
        children.insert("", Vec::new());
        for e in entries {
            let Some(path) = e.path.to_str() else {
                continue;
            };
            by_path.insert(path, e);
            let (parent, name) = path.rsplit_once('/').unwrap_or(("", path));
            children.entry(parent).or_default().push(name);
            if e.is_dir() {
                children.entry(path).or_default();
            }
        }
        for names in children.values_mut() {
            names.sort_unstable();
        }
        Ok(WalkedTree {
            root,
            root_meta: meta_of(&root_entry),
            by_path,
            children,
        })
    }

    pub fn root(&self) -> &Path {
        &self.root
    }
}

fn meta_of(e: &Entry) -> SourceMeta {
    let kind = match &e.kind {
        EntryKind::Dir => SourceKind::Dir,
        EntryKind::File => SourceKind::File { size: e.size },
        EntryKind::Symlink { target } => SourceKind::Symlink {
            target: target.to_string_lossy().into_owned(),
        },
        EntryKind::Other => SourceKind::Special {
            file_type: e.mode & libc::S_IFMT,
            rdev: e.rdev,
        },
    };
    let link_id = (e.kind == EntryKind::File && e.nlink > 1).then_some((e.dev, e.ino));
    SourceMeta {
        kind,
        mode: e.mode & 0o7777,
        uid: e.uid,
        gid: e.gid,
        mtime: MTime {
            secs: e.mtime_ns.div_euclid(1_000_000_000),
            nanos: e.mtime_ns.rem_euclid(1_000_000_000) as u32,
        },
        link_id,
    }
}

impl SourceTree for WalkedTree<'_> {
    fn lstat(&self, rel: &str) -> io::Result<Option<SourceMeta>> {
        if rel.is_empty() {
            return Ok(Some(self.root_meta.clone()));
        }
        Ok(self.by_path.get(rel).map(|e| meta_of(e)))
    }

    fn read_dir(&self, rel: &str) -> io::Result<Vec<String>> {
        match self.children.get(rel) {
            Some(names) => Ok(names.iter().map(|n| n.to_string()).collect()),
            None => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{rel:?} is not a directory of the build context"),
            )),
        }
    }

    fn open(&self, rel: &str) -> io::Result<Box<dyn Read + '_>> {
        match self.by_path.get(rel) {
            Some(e) if e.kind == EntryKind::File => {
                Ok(Box::new(std::fs::File::open(self.root.join(rel))?))
            }
            _ => Err(io::Error::new(
                io::ErrorKind::NotFound,
                format!("{rel:?} is not a file of the build context"),
            )),
        }
    }

    fn host_path(&self, rel: &str) -> Option<PathBuf> {
        self.by_path.get(rel).map(|_| self.root.join(rel))
    }
}
