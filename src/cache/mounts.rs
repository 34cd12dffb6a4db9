//! `cache-mounts=true`: the persistent directories of `RUN --mount=type=cache` travel with the
//! cache, one gzip tar each, named by their directory (a hash of the cache's id and seed), and
//! come back on import into directories the store does not have yet.

use std::fs;
use std::path::Path;

use flate2::write::GzEncoder;
use flate2::Compression;

use super::format::MountBlob;
use super::CacheError;
use crate::exec::mounts::CACHE_MOUNTS_DIR;
use crate::exec::remote_cache::BlobSource;
use crate::store::Store;

/// A cache-mount directory name: the hex hash `cache_dirs` gives it. Anything else (a path, a
/// `private` dir) is refused, so an imported name cannot point outside the cache dir.
fn valid_name(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| b.is_ascii_hexdigit())
}

/// Packs every cache-mount directory of the store as a blob.
pub fn pack_cache_mounts(store: &Store) -> Result<Vec<MountBlob>, CacheError> {
    let base = store.root().join(CACHE_MOUNTS_DIR);
    let mut names: Vec<String> = match fs::read_dir(&base) {
        Ok(rd) => rd
            .flatten()
            .filter(|e| e.file_type().is_ok_and(|t| t.is_dir()))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .filter(|n| valid_name(n))
            .collect(),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Vec::new(),
        Err(e) => return Err(CacheError::io("list", &base)(e)),
    };
    names.sort();
    names
        .into_iter()
        .map(|name| {
            let dir = base.join(&name);
            let mut w = store.blob_writer()?;
            {
                let gz = GzEncoder::new(&mut w, Compression::fast());
                let mut tar = tar::Builder::new(gz);
                tar.follow_symlinks(false);
                tar.append_dir_all(".", &dir)
                    .map_err(CacheError::io("pack", &dir))?;
                tar.into_inner()
                    .and_then(|gz| gz.finish())
                    .map_err(CacheError::io("pack", &dir))?;
            }
            let (digest, size) = w.commit(None)?;
            Ok(MountBlob { name, digest, size })
        })
        .collect()
}

/// Unpacks the mounts the store lacks (fetching their blobs from `source`); returns how many.
pub fn restore_cache_mounts(
    store: &Store,
    source: &dyn BlobSource,
    mounts: &[MountBlob],
) -> Result<usize, CacheError> {
    let base = store.root().join(CACHE_MOUNTS_DIR);
    fs::create_dir_all(&base).map_err(CacheError::io("create", &base))?;
    let mut restored = 0;
    for m in mounts {
        let dest = base.join(&m.name);
        if !valid_name(&m.name) || dest.exists() {
            continue;
        }
        if !store.has_blob(&m.digest) {
            source
                .fetch(store, &m.digest, m.size)
                .map_err(|message| CacheError::Invalid {
                    source_name: source.name(),
                    message,
                })?;
        }
        unpack(store, m, &base, &dest)?;
        restored += 1;
    }
    Ok(restored)
}

/// Unpacks into a temp dir beside `dest`, then renames, so a half-restored cache is never seen.
fn unpack(store: &Store, m: &MountBlob, base: &Path, dest: &Path) -> Result<(), CacheError> {
    let tmp = tempfile::Builder::new()
        .prefix(".restore-")
        .tempdir_in(base)
        .map_err(CacheError::io("create temp dir in", base))?;
    let target = tmp.path().join("d");
    let f = store.open_blob(&m.digest)?;
    let mut a = tar::Archive::new(flate2::read::GzDecoder::new(f));
    a.set_preserve_permissions(true);
    a.set_preserve_ownerships(true);
    a.set_unpack_xattrs(false);
    fs::create_dir(&target).map_err(CacheError::io("create", &target))?;
    a.unpack(&target)
        .map_err(CacheError::io("unpack into", &target))?;
    match fs::rename(&target, dest) {
        Ok(()) => Ok(()),
        // Another build made it first: theirs stays.
        Err(_) if dest.exists() => Ok(()),
        Err(e) => Err(CacheError::io("rename into place", dest)(e)),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_hash_names_are_cache_dirs() {
        assert!(valid_name(&"a".repeat(64)));
        assert!(!valid_name("private"));
        assert!(!valid_name(&format!("../{}", "a".repeat(61))));
        assert!(!valid_name(&"g".repeat(64)));
    }
}
