//! Content-addressed blobs under `oci/blobs/sha256/`: streamed into `tmp/` while hashing, then
//! verified (or the computed digest adopted), fsynced and renamed into place. A writer that fails
//! or is dropped removes its temp file; one killed leaves it to the next strata's sweep (the temp
//! file is an owned one, see `util::owned_tmp`).

use std::fs::{self, File};
use std::io::{self, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use super::error::StoreError;
use super::layout::Store;
use crate::digest::Digest;
use crate::util::atomic::sync_dir;
use crate::util::hashing::{HashingReader, HashingWriter};
use crate::util::owned_tmp::OwnedFile;

/// Streams one blob into the store. `Write` the content, then `commit` (or `finish` to decide
/// later).
pub struct BlobWriter {
    inner: HashingWriter<BufWriter<OwnedFile>>,
    blobs_dir: PathBuf,
}

/// A fully written and fsynced temp file whose digest is known but which is not in the store
/// yet. Dropping it deletes the temp file.
pub struct PendingBlob {
    tmp: OwnedFile,
    digest: Digest,
    size: u64,
    blobs_dir: PathBuf,
}

impl Store {
    pub fn blob_path(&self, digest: &Digest) -> PathBuf {
        self.blobs_dir().join(digest.hex())
    }

    pub fn has_blob(&self, digest: &Digest) -> bool {
        self.blob_path(digest).is_file()
    }

    /// A writer streaming into a temp file under `tmp/`.
    pub fn blob_writer(&self) -> Result<BlobWriter, StoreError> {
        let tmp = self.temp_file("blob-")?;
        Ok(BlobWriter {
            inner: HashingWriter::new(BufWriter::with_capacity(256 * 1024, tmp)),
            blobs_dir: self.blobs_dir(),
        })
    }

    /// Stores `data` and returns its digest.
    pub fn write_blob(&self, data: &[u8]) -> Result<Digest, StoreError> {
        // A blob in the store is complete (it was fsynced before its rename), so an existing
        // one is not written and synced again: a cached rebuild's config and manifest cost no
        // fsync.
        let d = Digest::of(data);
        if self.has_blob(&d) {
            return Ok(d);
        }
        let mut w = self.blob_writer()?;
        w.write_all(data)
            .map_err(StoreError::io("cannot write", self.tmp_dir()))?;
        Ok(w.commit(None)?.0)
    }

    pub fn open_blob(&self, digest: &Digest) -> Result<File, StoreError> {
        let p = self.blob_path(digest);
        File::open(&p).map_err(|e| match e.kind() {
            io::ErrorKind::NotFound => StoreError::MissingBlob(*digest),
            _ => StoreError::Io {
                op: "cannot open",
                path: p,
                source: e,
            },
        })
    }

    pub fn blob_size(&self, digest: &Digest) -> Result<u64, StoreError> {
        let p = self.blob_path(digest);
        match fs::metadata(&p) {
            Ok(m) => Ok(m.len()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Err(StoreError::MissingBlob(*digest)),
            Err(e) => Err(StoreError::io("cannot stat", p)(e)),
        }
    }

    /// Reads a (small) blob whole, checking it against its digest.
    pub fn read_blob(&self, digest: &Digest) -> Result<Vec<u8>, StoreError> {
        let mut r = HashingReader::new(self.open_blob(digest)?);
        let mut buf = Vec::new();
        r.read_to_end(&mut buf)
            .map_err(StoreError::io("cannot read", self.blob_path(digest)))?;
        let (actual, _) = r.finish();
        if actual != *digest {
            return Err(StoreError::DigestMismatch {
                what: self.blob_path(digest).display().to_string(),
                expected: *digest,
                actual,
            });
        }
        Ok(buf)
    }
}

impl BlobWriter {
    /// Bytes written so far.
    pub fn written(&self) -> u64 {
        self.inner.written()
    }

    /// Flushes and fsyncs the temp file; the blob is not in the store yet.
    pub fn finish(self) -> Result<PendingBlob, StoreError> {
        let (digest, size, buf) = self.inner.finish();
        let tmp = buf.into_inner().map_err(|e| {
            let (err, w) = e.into_parts();
            StoreError::io("cannot write", w.get_ref().path())(err)
        })?;
        tmp.as_file()
            .sync_all()
            .map_err(StoreError::io("cannot fsync", tmp.path()))?;
        Ok(PendingBlob {
            tmp,
            digest,
            size,
            blobs_dir: self.blobs_dir,
        })
    }

    /// Finishes and moves the blob into the store. With `expected`, a mismatch is an error and
    /// nothing enters the store. Returns the digest and size.
    pub fn commit(self, expected: Option<&Digest>) -> Result<(Digest, u64), StoreError> {
        self.finish()?.commit(expected)
    }
}

impl Write for BlobWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.inner.write(buf)
    }
    fn flush(&mut self) -> io::Result<()> {
        self.inner.flush()
    }
}

impl PendingBlob {
    pub fn digest(&self) -> Digest {
        self.digest
    }
    pub fn size(&self) -> u64 {
        self.size
    }
    /// The temp file, for reading the content back before deciding.
    pub fn path(&self) -> &Path {
        self.tmp.path()
    }

    /// Moves the blob into the store (see `BlobWriter::commit`).
    pub fn commit(self, expected: Option<&Digest>) -> Result<(Digest, u64), StoreError> {
        if let Some(exp) = expected {
            if *exp != self.digest {
                return Err(StoreError::DigestMismatch {
                    what: format!("blob {exp}"),
                    expected: *exp,
                    actual: self.digest,
                });
            }
        }
        let dest = self.blobs_dir.join(self.digest.hex());
        if dest.is_file() {
            // Already present (content-addressed, so identical); the temp file goes on drop.
            return Ok((self.digest, self.size));
        }
        self.tmp
            .persist(&dest)
            .map_err(|(e, _)| StoreError::io("cannot move blob to", &dest)(e))?;
        sync_dir(&self.blobs_dir).map_err(StoreError::io("cannot fsync", &self.blobs_dir))?;
        Ok((self.digest, self.size))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn tmp_entries(s: &Store) -> usize {
        fs::read_dir(s.tmp_dir()).unwrap().count()
    }

    #[test]
    fn a_writer_owns_its_temp_file_and_a_dead_ones_is_reclaimed_at_open() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let mut w = s.blob_writer().unwrap();
        w.write_all(b"partial").unwrap();
        // Another process opening the store meanwhile leaves the live writer's file alone.
        let other = Store::open(dir.path()).unwrap();
        assert_eq!(tmp_entries(&other), 2, "the temp file and its lock");
        assert_eq!(w.commit(None).unwrap().1, 7);
        assert_eq!(tmp_entries(&s), 0);

        // What a killed writer leaves: its temp file and a lock file nobody holds.
        fs::write(s.tmp_dir().join("blob-dead"), vec![0u8; 4096]).unwrap();
        fs::write(s.tmp_dir().join("blob-dead.lock"), "").unwrap();
        let r = s.reclaim_tmp().unwrap();
        assert_eq!(r.reclaimed, vec!["blob-dead"]);
        assert_eq!(r.bytes, 4096);
        assert_eq!(tmp_entries(&s), 0);
    }

    #[test]
    fn an_unleased_leftover_goes_only_when_no_other_process_has_the_store() {
        let dir = tempfile::tempdir().unwrap();
        let first = Store::open(dir.path()).unwrap();
        fs::write(first.tmp_dir().join("blob-legacy"), "old").unwrap();
        fs::write(first.tmp_dir().join("partial-ab"), "resume me").unwrap();
        // `first` holds gc.lock shared, as another process would.
        let second = Store::open(dir.path()).unwrap();
        assert_eq!(tmp_entries(&second), 2);
        drop(first);
        let r = second.reclaim_tmp().unwrap();
        assert_eq!(r.reclaimed, vec!["blob-legacy"]);
        assert_eq!(r.unleased, vec!["partial-ab"]);
        // Its shared lock is back: a prune elsewhere is still refused.
        let gc = dir.path().join(super::super::layout::GC_LOCK);
        assert!(super::super::lock::FileLock::try_acquire(&gc, true)
            .unwrap()
            .is_none());
    }

    #[test]
    fn commit_adopts_or_verifies_and_failures_leave_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let d = s.write_blob(b"hello").unwrap();
        assert_eq!(d, Digest::of(b"hello"));
        assert_eq!(s.read_blob(&d).unwrap(), b"hello");
        assert_eq!(tmp_entries(&s), 0);

        let mut w = s.blob_writer().unwrap();
        w.write_all(b"other").unwrap();
        let err = w.commit(Some(&Digest::of(b"expected"))).unwrap_err();
        assert!(matches!(err, StoreError::DigestMismatch { .. }), "{err}");
        assert!(!s.has_blob(&Digest::of(b"other")));
        assert_eq!(tmp_entries(&s), 0);

        let mut w = s.blob_writer().unwrap();
        w.write_all(b"dropped").unwrap();
        drop(w);
        assert_eq!(tmp_entries(&s), 0);
        assert!(!s.has_blob(&Digest::of(b"dropped")));

        // Writing an existing blob again is fine.
        let mut w = s.blob_writer().unwrap();
        w.write_all(b"hello").unwrap();
        assert_eq!(w.commit(Some(&d)).unwrap(), (d, 5));
        assert_eq!(tmp_entries(&s), 0);
    }

    #[test]
    fn read_blob_detects_corruption() {
        let dir = tempfile::tempdir().unwrap();
        let s = Store::open(dir.path()).unwrap();
        let d = s.write_blob(b"content").unwrap();
        fs::write(s.blob_path(&d), b"tampered").unwrap();
        assert!(matches!(
            s.read_blob(&d),
            Err(StoreError::DigestMismatch { .. })
        ));
        assert!(matches!(
            s.read_blob(&Digest::of(b"nope")),
            Err(StoreError::MissingBlob(_))
        ));
    }
}
