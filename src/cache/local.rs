//! A cache in an OCI layout directory the CI system keeps (`type=local,dest=DIR` to write,
//! `type=local,src=DIR` to read): `oci-layout`, `index.json` naming the artifact manifest, and
//! `blobs/sha256/`. Blobs already in the directory are kept, so one directory serves as both
//! source and destination across builds; `index.json` is replaced last and atomically.

use std::fs::{self, File};
use std::io::Read;
use std::path::{Path, PathBuf};

use super::format::{
    artifact_manifest, classify_manifest, layout_index, layout_manifest, parse_artifact_config,
    ArtifactConfig, Found,
};
use super::{ensure_local, CacheError, Exported, Imported};
use crate::digest::Digest;
use crate::exec::remote_cache::{BlobSource, ImportedCache};
use crate::store::Store;
use crate::util::atomic::write_atomic;

fn blob_path(dir: &Path, digest: &Digest) -> PathBuf {
    dir.join("blobs/sha256").join(digest.hex())
}

/// Reads a blob of the directory whole, checking its digest (manifests and configs only).
fn read_verified(dir: &Path, digest: &Digest) -> Result<Vec<u8>, CacheError> {
    let path = blob_path(dir, digest);
    let bytes = fs::read(&path).map_err(CacheError::io("read", &path))?;
    if Digest::of(&bytes) != *digest {
        return Err(CacheError::Invalid {
            source_name: dir.display().to_string(),
            message: format!("{} does not match its digest", path.display()),
        });
    }
    Ok(bytes)
}

/// Blobs of a cache directory.
struct LocalSource {
    dir: PathBuf,
}

impl BlobSource for LocalSource {
    fn name(&self) -> String {
        self.dir.display().to_string()
    }
    fn fetch(&self, store: &Store, digest: &Digest, size: u64) -> Result<(), String> {
        let path = blob_path(&self.dir, digest);
        let f = File::open(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mut w = store.blob_writer().map_err(|e| e.to_string())?;
        // One byte more than expected is enough to tell a wrong size.
        std::io::copy(&mut f.take(size + 1), &mut w)
            .map_err(|e| format!("{}: {e}", path.display()))?;
        if w.written() != size {
            return Err(format!(
                "{} has {} bytes, the cache says {size}",
                path.display(),
                w.written()
            ));
        }
        w.commit(Some(digest)).map_err(|e| e.to_string())?;
        Ok(())
    }
}

/// Reads the cache in `dir`.
pub fn import_local(dir: &Path) -> Result<Imported, CacheError> {
    let invalid = |message: String| CacheError::Invalid {
        source_name: dir.display().to_string(),
        message,
    };
    let index_path = dir.join("index.json");
    let index = fs::read(&index_path).map_err(CacheError::io("read", &index_path))?;
    let m = layout_manifest(&index).map_err(invalid)?;
    let manifest = read_verified(dir, &m.digest)?;
    let Found::Artifact { config } = classify_manifest(&manifest).map_err(invalid)? else {
        return Err(invalid(
            "the directory holds an image, not a strata cache".into(),
        ));
    };
    let c = parse_artifact_config(&read_verified(dir, &config.digest)?).map_err(invalid)?;
    Ok(Imported {
        source: Box::new(LocalSource {
            dir: dir.to_path_buf(),
        }),
        doc: c.doc,
        mounts: c.mounts,
    })
}

/// Copies a store blob into the directory (a hard link when both are on one filesystem),
/// through a temp name so a torn copy never has the blob's name. Returns whether it copied.
fn put_blob(store: &Store, dir: &Path, digest: &Digest) -> Result<bool, CacheError> {
    let dest = blob_path(dir, digest);
    if dest.is_file() {
        return Ok(false);
    }
    let src = store.blob_path(digest);
    let tmp = dest.with_file_name(format!(".tmp-{}-{}", digest.hex(), std::process::id()));
    let _ = fs::remove_file(&tmp);
    if fs::hard_link(&src, &tmp).is_err() {
        fs::copy(&src, &tmp).map_err(CacheError::io("copy to", &tmp))?;
        File::open(&tmp)
            .and_then(|f| f.sync_all())
            .map_err(CacheError::io("fsync", &tmp))?;
    }
    fs::rename(&tmp, &dest).map_err(CacheError::io("rename into place", &dest))?;
    Ok(true)
}

/// Writes `config` and its blobs into `dir` (created if needed).
pub fn export_local(
    store: &Store,
    dir: &Path,
    config: &ArtifactConfig,
    imported: Option<&ImportedCache>,
) -> Result<Exported, CacheError> {
    let blobs_dir = dir.join("blobs/sha256");
    fs::create_dir_all(&blobs_dir).map_err(CacheError::io("create", &blobs_dir))?;
    let blobs = config.blobs();
    let mut written = 0;
    for (b, _) in &blobs {
        if blob_path(dir, &b.digest).is_file() {
            continue;
        }
        ensure_local(store, imported, &b.digest)?;
        written += put_blob(store, dir, &b.digest)? as usize;
    }
    let config_bytes = config.to_bytes();
    let manifest = artifact_manifest(config, &config_bytes);
    for bytes in [&config_bytes, &manifest] {
        let path = blob_path(dir, &Digest::of(bytes));
        write_atomic(&path, bytes).map_err(CacheError::io("write", &path))?;
    }
    let layout = dir.join("oci-layout");
    write_atomic(&layout, br#"{"imageLayoutVersion":"1.0.0"}"#)
        .map_err(CacheError::io("write", &layout))?;
    let index = dir.join("index.json");
    write_atomic(&index, &layout_index(&manifest)).map_err(CacheError::io("write", &index))?;
    Ok(Exported {
        entries: config.doc.entries.len(),
        blobs: blobs.len(),
        written,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::digest::CacheKey;
    use crate::exec::remote_cache::CacheDocument;
    use crate::store::cache::{CacheEntry, CacheResult};

    fn store(dir: &Path, name: &str) -> Store {
        Store::open(&dir.join(name)).unwrap()
    }

    #[test]
    fn export_import_and_tampered_blobs() {
        let tmp = tempfile::tempdir().unwrap();
        let (a, b) = (store(tmp.path(), "a"), store(tmp.path(), "b"));
        let layer = a.write_blob(b"layer bytes").unwrap();
        let entry = CacheEntry {
            key: CacheKey::from_bytes([7; 32]),
            result: CacheResult::Layer {
                digest: layer,
                diff_id: Digest::of(b"tar"),
                size: 11,
                media_type: "application/vnd.oci.image.layer.v1.tar+gzip".into(),
            },
            created: "2026-11-22T00:00:00Z".into(),
            description: "RUN x".into(),
        };
        let config = ArtifactConfig {
            doc: CacheDocument::new(vec![entry.clone()]),
            mounts: Vec::new(),
        };
        let dir = tmp.path().join("cache");
        let out = export_local(&a, &dir, &config, None).unwrap();
        assert_eq!((out.entries, out.blobs, out.written), (1, 1, 1));
        // A second export into the same directory writes no blob again.
        assert_eq!(export_local(&a, &dir, &config, None).unwrap().written, 0);

        let imp = import_local(&dir).unwrap();
        assert_eq!(imp.doc.entries, vec![entry]);
        imp.source.fetch(&b, &layer, 11).unwrap();
        assert_eq!(b.read_blob(&layer).unwrap(), b"layer bytes");

        // Same size, other bytes: refused, and nothing enters the store.
        let c = store(tmp.path(), "c");
        fs::write(blob_path(&dir, &layer), b"LAYER BYTES").unwrap();
        assert!(imp.source.fetch(&c, &layer, 11).is_err());
        assert!(!c.has_blob(&layer));
        // A blob the directory lost: an error naming the file.
        fs::remove_file(blob_path(&dir, &layer)).unwrap();
        let err = imp.source.fetch(&c, &layer, 11).unwrap_err();
        assert!(err.contains(&layer.hex()), "{err}");
        // An export needing a blob neither the store nor an import has fails.
        fs::remove_file(a.blob_path(&layer)).unwrap();
        assert!(export_local(&a, &dir, &config, None).is_err());
        // A directory that is not a cache.
        assert!(import_local(&tmp.path().join("nothing")).is_err());
    }
}
