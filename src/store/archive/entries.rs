//! The files of an archive being loaded: small ones kept in memory, large ones streamed into
//! temp blobs under `tmp/` while hashing; `blobs/sha256/<hex>` entries verified as they arrive.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read, Write};

use crate::digest::Digest;

use super::super::blobs::PendingBlob;
use super::super::layout::Store;
use super::escape::{check_layer, check_name, climbs_out};
use super::{decoded, ArchiveError, Compressed};

/// Files up to this size are kept in memory (manifests, configs, index.json, small layers).
const IN_MEMORY_MAX: u64 = 1 << 20;

enum Content {
    Memory(Vec<u8>),
    Pending(PendingBlob),
    Committed(Digest, u64),
}

/// The regular files of an archive by normalised path, and its links.
pub struct Entries {
    files: HashMap<String, Content>,
    links: HashMap<String, String>,
}

/// `./a//b` → `a/b`.
fn normalise(p: &str) -> String {
    p.split('/')
        .filter(|c| !c.is_empty() && *c != ".")
        .collect::<Vec<_>>()
        .join("/")
}

/// Resolves `target` of a symlink at `link` to an archive path.
fn resolve_link(link: &str, target: &str) -> String {
    let mut parts: Vec<&str> = if target.starts_with('/') {
        Vec::new()
    } else {
        let mut v: Vec<&str> = link.split('/').collect();
        v.pop();
        v
    };
    for c in target.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                parts.pop();
            }
            c => parts.push(c),
        }
    }
    parts.join("/")
}

/// The digest an OCI-layout path names (`blobs/sha256/<hex>`).
fn digest_in_path(path: &str) -> Option<Digest> {
    path.strip_prefix("blobs/sha256/")
        .and_then(|hex| format!("sha256:{hex}").parse().ok())
}

impl Entries {
    /// Reads the whole tar stream.
    pub fn read(store: &Store, input: &mut dyn Read) -> Result<Self, ArchiveError> {
        let mut files = HashMap::new();
        let mut links = HashMap::new();
        let mut ar = tar::Archive::new(input);
        for entry in ar.entries().map_err(ArchiveError::Read)? {
            let mut entry = entry.map_err(ArchiveError::Read)?;
            let raw = entry.path_bytes().into_owned();
            let escape = |reason: String| ArchiveError::Escape {
                entry: String::from_utf8_lossy(&raw).into_owned(),
                reason,
            };
            // Refused outright rather than normalised: no tool writes such names, so they can
            // only mean to confuse what a name refers to.
            check_name(&raw).map_err(escape)?;
            let path = normalise(&String::from_utf8_lossy(&raw));
            let read_err = |source| ArchiveError::ReadEntry {
                path: path.clone(),
                source,
            };
            match entry.header().entry_type() {
                tar::EntryType::Regular | tar::EntryType::Continuous => {}
                tar::EntryType::Symlink | tar::EntryType::Link => {
                    let raw_target = entry.link_name_bytes().map(|t| t.into_owned());
                    let raw_target = raw_target.unwrap_or_default();
                    let shown = String::from_utf8_lossy(&raw_target).into_owned();
                    if entry.header().entry_type() == tar::EntryType::Link {
                        check_name(&raw_target)
                            .map_err(|r| escape(format!("hard link target {shown:?}: {r}")))?;
                    } else if raw_target.starts_with(b"/") || climbs_out(&raw, &raw_target) {
                        return Err(escape(format!(
                            "symlink target {shown:?} leaves the archive"
                        )));
                    }
                    let target = shown;
                    let resolved = if entry.header().entry_type() == tar::EntryType::Link {
                        normalise(&target)
                    } else {
                        resolve_link(&path, &target)
                    };
                    links.insert(path, resolved);
                    continue;
                }
                _ => continue,
            }
            let size = entry.size();
            let content = if size <= IN_MEMORY_MAX {
                let mut buf = Vec::with_capacity(size as usize);
                entry.read_to_end(&mut buf).map_err(read_err)?;
                Content::Memory(buf)
            } else {
                let mut w = store.blob_writer()?;
                io::copy(&mut entry, &mut w).map_err(read_err)?;
                w.flush().map_err(read_err)?;
                Content::Pending(w.finish()?)
            };
            if let Some(expected) = digest_in_path(&path) {
                let actual = match &content {
                    Content::Memory(b) => Digest::of(b),
                    Content::Pending(p) => p.digest(),
                    Content::Committed(d, _) => *d,
                };
                if actual != expected {
                    return Err(ArchiveError::DigestMismatch {
                        path,
                        expected,
                        actual,
                    });
                }
            }
            files.insert(path, content);
        }
        Ok(Entries { files, links })
    }

    fn resolve(&self, path: &str) -> String {
        let mut p = normalise(path);
        for _ in 0..16 {
            match self.links.get(&p) {
                Some(t) => p = t.clone(),
                None => break,
            }
        }
        p
    }

    pub fn has(&self, path: &str) -> bool {
        self.files.contains_key(&self.resolve(path))
    }

    fn get(&self, path: &str) -> Result<&Content, ArchiveError> {
        self.files
            .get(&self.resolve(path))
            .ok_or_else(|| ArchiveError::Missing {
                path: path.to_string(),
            })
    }

    /// The digest and size of a file.
    pub fn digest(&self, path: &str) -> Result<(Digest, u64), ArchiveError> {
        Ok(match self.get(path)? {
            Content::Memory(b) => (Digest::of(b), b.len() as u64),
            Content::Pending(p) => (p.digest(), p.size()),
            Content::Committed(d, s) => (*d, *s),
        })
    }

    /// A reader over a file's content (before or after it was committed).
    pub fn open(&self, store: &Store, path: &str) -> Result<Box<dyn Read + '_>, ArchiveError> {
        let io_err = |source| ArchiveError::ReadEntry {
            path: path.to_string(),
            source,
        };
        Ok(match self.get(path)? {
            Content::Memory(b) => Box::new(&b[..]),
            Content::Pending(p) => Box::new(File::open(p.path()).map_err(io_err)?),
            Content::Committed(d, _) => Box::new(store.open_blob(d)?),
        })
    }

    /// A file's whole content (for JSON files).
    pub fn read_all(&self, store: &Store, path: &str) -> Result<Vec<u8>, ArchiveError> {
        let mut buf = Vec::new();
        self.open(store, path)?
            .read_to_end(&mut buf)
            .map_err(|source| ArchiveError::ReadEntry {
                path: path.to_string(),
                source,
            })?;
        Ok(buf)
    }

    /// How a layer file is compressed and the digest of its uncompressed content (its diff ID).
    pub fn diff_id(&self, store: &Store, path: &str) -> Result<(Compressed, Digest), ArchiveError> {
        let io_err = |source| ArchiveError::ReadEntry {
            path: path.to_string(),
            source,
        };
        let (kind, mut r) = decoded(self.open(store, path)?).map_err(io_err)?;
        if kind == Compressed::None {
            return Ok((kind, self.digest(path)?.0));
        }
        let mut h = crate::util::hashing::HashingReader::new(&mut r);
        io::copy(&mut h, &mut io::sink()).map_err(io_err)?;
        Ok((kind, h.finish().0))
    }

    /// Refuses the layer file at `path` if one of its tar entries would land outside the
    /// image's root (see [`super::escape`]).
    pub fn check_layer(&self, store: &Store, path: &str) -> Result<(), ArchiveError> {
        let io_err = |source| ArchiveError::ReadEntry {
            path: path.to_string(),
            source,
        };
        let (_, mut r) = decoded(self.open(store, path)?).map_err(io_err)?;
        match check_layer(&mut r) {
            None => Ok(()),
            Some(e) => Err(ArchiveError::LayerEscape {
                layer: path.to_string(),
                entry: e.entry,
                reason: e.reason,
            }),
        }
    }

    /// Moves a file into the store's blobs (once; later calls return the same digest).
    pub fn commit(&mut self, store: &Store, path: &str) -> Result<(Digest, u64), ArchiveError> {
        let key = self.resolve(path);
        let content = self
            .files
            .remove(&key)
            .ok_or_else(|| ArchiveError::Missing {
                path: path.to_string(),
            })?;
        let (d, s) = match content {
            Content::Memory(b) => (store.write_blob(&b)?, b.len() as u64),
            Content::Pending(p) => p.commit(None)?,
            Content::Committed(d, s) => (d, s),
        };
        self.files.insert(key, Content::Committed(d, s));
        Ok((d, s))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn paths_and_links_normalise() {
        assert_eq!(normalise("./a//b/"), "a/b");
        assert_eq!(resolve_link("x/layer.tar", "../y/layer.tar"), "y/layer.tar");
        assert_eq!(resolve_link("x/layer.tar", "/z"), "z");
        assert_eq!(
            digest_in_path(
                "blobs/sha256/e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
            ),
            Some(Digest::of(b""))
        );
        assert_eq!(digest_in_path("blobs/sha256/zz"), None);
    }
}
