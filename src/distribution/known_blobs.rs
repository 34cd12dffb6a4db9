//! `<root>/distribution-v1/known-blobs.json`: which registry repositories a blob was pulled from
//! or pushed to, so a push can mount it from a sibling repository instead of uploading it.
//! A lost update only costs an upload, so writes are atomic but not locked.

use std::collections::BTreeMap;
use std::fs;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::digest::Digest;
use crate::store::{Store, StoreError};
use crate::util::atomic::write_atomic;

const DIR: &str = "distribution-v1";
const FILE: &str = "known-blobs.json";
/// Repositories remembered per blob; older ones are forgotten first.
const MAX_REPOS: usize = 8;

/// Blob digest → repositories (`host[:port]/path`), most recent last.
#[derive(Debug, Default, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct KnownBlobs {
    pub blobs: BTreeMap<String, Vec<String>>,
}

impl KnownBlobs {
    /// Records that `repository` holds each of `digests`.
    pub fn record(&mut self, repository: &str, digests: &[Digest]) {
        for d in digests {
            let list = self.blobs.entry(d.to_string()).or_default();
            list.retain(|r| r != repository);
            list.push(repository.to_string());
            if list.len() > MAX_REPOS {
                list.remove(0);
            }
        }
    }

    /// A repository of `registry` other than `repository` known to hold `digest`, as the path
    /// inside the registry (what `?from=` takes).
    pub fn mount_source(
        &self,
        digest: &Digest,
        registry: &str,
        repository: &str,
    ) -> Option<String> {
        let prefix = format!("{registry}/");
        self.blobs
            .get(&digest.to_string())?
            .iter()
            .rev()
            .filter_map(|r| r.strip_prefix(&prefix))
            .find(|path| *path != repository)
            .map(str::to_string)
    }
}

fn path(store: &Store) -> PathBuf {
    store.root().join(DIR).join(FILE)
}

/// Reads the record; a missing or unreadable file is an empty record (it is only a hint).
pub fn load(store: &Store) -> KnownBlobs {
    fs::read(path(store))
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .unwrap_or_default()
}

/// Adds `digests` under `registry/repository` and writes the record back.
pub fn remember(
    store: &Store,
    registry: &str,
    repository: &str,
    digests: &[Digest],
) -> Result<(), StoreError> {
    let mut k = load(store);
    k.record(&format!("{registry}/{repository}"), digests);
    let p = path(store);
    let dir: &Path = p.parent().expect("has a parent");
    fs::create_dir_all(dir).map_err(StoreError::io("cannot create directory", dir))?;
    let data = serde_json::to_vec(&k).expect("serialises");
    write_atomic(&p, &data).map_err(StoreError::io("cannot write", &p))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mount_sources() {
        let (a, b) = (Digest::of(b"a"), Digest::of(b"b"));
        let mut k = KnownBlobs::default();
        k.record("127.0.0.1:5000/one", &[a]);
        k.record("127.0.0.1:5000/two", &[a, b]);
        k.record("other:5000/three", &[b]);
        for (digest, registry, repo, want) in [
            (a, "127.0.0.1:5000", "three", Some("two")),
            (a, "127.0.0.1:5000", "two", Some("one")),
            (b, "127.0.0.1:5000", "two", None),
            (b, "127.0.0.1:5000", "x", Some("two")),
            (b, "other:5000", "y", Some("three")),
            (b, "127.0.0.1:500", "x", None),
            (Digest::of(b"c"), "127.0.0.1:5000", "x", None),
        ] {
            assert_eq!(
                k.mount_source(&digest, registry, repo).as_deref(),
                want,
                "{registry} {repo}"
            );
        }
        for i in 0..20 {
            k.record(&format!("r/{i}"), &[a]);
        }
        assert_eq!(k.blobs[&a.to_string()].len(), MAX_REPOS);
        assert_eq!(k.mount_source(&a, "r", "x").as_deref(), Some("19"));
    }

    #[test]
    fn remembered_across_loads() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        assert_eq!(load(&s), KnownBlobs::default());
        let a = Digest::of(b"a");
        remember(&s, "h:1", "x/y", &[a]).unwrap();
        assert_eq!(
            load(&s).mount_source(&a, "h:1", "z").as_deref(),
            Some("x/y")
        );
    }
}
