//! Unpacked layers on disk, one directory per layer keyed by its chain ID
//! (`<root>/snapshots-v1/<chainID-hex>`), each holding that one layer's content as an overlayfs
//! lowerdir. A snapshot appears atomically: it is unpacked into an owned temp dir under
//! `<root>/tmp/` (reclaimed by the next strata if this one is killed) and renamed.

use std::ffi::OsString;
use std::io::{self, Read};
use std::os::unix::fs::PermissionsExt;
use std::path::{Path, PathBuf};

use rayon::prelude::*;

use super::lower_links::{link_from_lowers, DeferredLink};
use super::unpack::{decompress, unpack_layer_deferring, UnpackError, UnpackOptions};
use crate::digest::chain_ids;
use crate::digest::Digest;
use crate::util::hashing::HashingReader;
use crate::util::owned_tmp::OwnedDir;

/// The versioned directory name under the store root.
pub const SNAPSHOTS_DIR: &str = "snapshots-v1";
const TMP_DIR: &str = "tmp";

/// Opens a layer blob (compressed or not) for reading.
pub type BlobOpener<'a> = Box<dyn FnOnce() -> io::Result<Box<dyn Read + Send>> + Send + 'a>;

/// Why a snapshot could not be made.
#[derive(Debug, thiserror::Error)]
pub enum SnapshotError {
    #[error("{op} {path:?}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: io::Error,
    },
    #[error("opening layer {diff_id}: {source}")]
    Open {
        diff_id: Digest,
        #[source]
        source: io::Error,
    },
    #[error("unpacking layer {diff_id}: {source}")]
    Unpack {
        diff_id: Digest,
        #[source]
        source: UnpackError,
    },
    #[error("layer content does not match its diff ID: expected {expected}, got {actual}")]
    DiffIdMismatch { expected: Digest, actual: Digest },
}

/// The snapshot directories of one store root.
#[derive(Debug, Clone)]
pub struct Snapshots {
    root: PathBuf,
}

impl Snapshots {
    /// `root` is the store root; snapshots live in `root/snapshots-v1`, temp dirs in `root/tmp`.
    pub fn new(root: &Path) -> Self {
        Snapshots {
            root: root.to_path_buf(),
        }
    }

    /// Where the snapshot of the layer with this chain ID lives (whether or not it exists).
    pub fn dir(&self, chain_id: &Digest) -> PathBuf {
        self.root.join(SNAPSHOTS_DIR).join(chain_id.hex())
    }

    pub fn exists(&self, chain_id: &Digest) -> bool {
        self.dir(chain_id).is_dir()
    }

    /// The chain IDs of every snapshot present (for gc).
    pub fn list(&self) -> io::Result<Vec<Digest>> {
        let dir = self.root.join(SNAPSHOTS_DIR);
        let mut out = Vec::new();
        let rd = match std::fs::read_dir(&dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(e),
        };
        for e in rd {
            let name = e?.file_name();
            if let Some(d) = name
                .to_str()
                .and_then(|n| format!("sha256:{n}").parse().ok())
            {
                out.push(d);
            }
        }
        out.sort();
        Ok(out)
    }

    /// Removes a snapshot: renamed into `tmp/` first so a half-deleted one is never visible.
    pub fn remove(&self, chain_id: &Digest) -> Result<(), SnapshotError> {
        let dir = self.dir(chain_id);
        let tmp = self.tmp_root()?;
        let grave =
            OwnedDir::new_in(&tmp, "rm-snapshot-").map_err(io_err("create temp dir in", &tmp))?;
        let dest = grave.path().join("s");
        match std::fs::rename(&dir, &dest) {
            Ok(()) => {}
            Err(e) if e.kind() == io::ErrorKind::NotFound => return Ok(()),
            Err(e) => return Err(io_err("move away", &dir)(e)),
        }
        let path = grave.path().to_path_buf();
        grave.close().map_err(io_err("remove", &path))
    }

    /// Makes sure the snapshot `chain_id` exists, unpacking the blob `open` gives if not, and
    /// returns its directory. The uncompressed stream must hash to `diff_id`. The layer is
    /// unpacked alone: a hard link to a file of a lower layer fails (use [`Self::ensure_chain`]).
    pub fn ensure(
        &self,
        chain_id: &Digest,
        diff_id: &Digest,
        open: BlobOpener<'_>,
    ) -> Result<PathBuf, SnapshotError> {
        match self.stage(chain_id, diff_id, open)? {
            Staged::Done(dir) => Ok(dir),
            Staged::Links(p) => self.finish_links(p, &[]),
        }
    }

    /// Makes sure the snapshot of every layer of an image exists, unpacking missing ones in
    /// parallel. `layers` is base first, as (diff ID, blob opener). Returns the snapshot dirs in
    /// overlayfs `lowerdir=` order: the topmost layer first, the base last.
    ///
    /// A layer with hard links to files of lower layers needs those snapshots to make them
    /// (copies, see [`super::lower_links`]). Rather than unpacking in order, every layer is
    /// unpacked in parallel with such links left out; the few layers that have them are then
    /// completed base first, each once all snapshots below it are in place, and only then
    /// renamed into place, so no snapshot is ever visible incomplete.
    pub fn ensure_chain(
        &self,
        layers: Vec<(Digest, BlobOpener<'_>)>,
    ) -> Result<Vec<PathBuf>, SnapshotError> {
        let diff_ids: Vec<Digest> = layers.iter().map(|(d, _)| *d).collect();
        let chains = chain_ids(&diff_ids);
        let jobs: Vec<(Digest, Digest, BlobOpener<'_>)> = layers
            .into_iter()
            .zip(chains)
            .map(|((diff, open), chain)| (chain, diff, open))
            .collect();
        let staged = jobs
            .into_par_iter()
            .map(|(chain, diff, open)| self.stage(&chain, &diff, open))
            .collect::<Result<Vec<_>, _>>()?;
        let mut dirs: Vec<PathBuf> = Vec::with_capacity(staged.len());
        for s in staged {
            let dir = match s {
                Staged::Done(dir) => dir,
                Staged::Links(p) => {
                    let lowers: Vec<PathBuf> = dirs.iter().rev().cloned().collect();
                    self.finish_links(p, &lowers)?
                }
            };
            dirs.push(dir);
        }
        dirs.reverse();
        Ok(dirs)
    }

    /// Unpacks and checks one layer into a temp dir; renames it into place unless it has hard
    /// links into lower layers still to make.
    fn stage(
        &self,
        chain_id: &Digest,
        diff_id: &Digest,
        open: BlobOpener<'_>,
    ) -> Result<Staged, SnapshotError> {
        let dir = self.dir(chain_id);
        if dir.is_dir() {
            return Ok(Staged::Done(dir));
        }
        let parent = self.root.join(SNAPSHOTS_DIR);
        std::fs::create_dir_all(&parent).map_err(io_err("create", &parent))?;
        let tmp_root = self.tmp_root()?;
        let tmp = OwnedDir::new_in(&tmp_root, &format!("snapshot-{}-", &chain_id.hex()[..12]))
            .map_err(io_err("create temp dir in", &tmp_root))?;
        std::fs::set_permissions(tmp.path(), std::fs::Permissions::from_mode(0o755))
            .map_err(io_err("chmod", tmp.path()))?;

        let blob = open().map_err(|source| SnapshotError::Open {
            diff_id: *diff_id,
            source,
        })?;
        let plain = decompress(blob).map_err(|source| SnapshotError::Open {
            diff_id: *diff_id,
            source,
        })?;
        let mut hashing = HashingReader::new(plain);
        let (_, links) =
            unpack_layer_deferring(&mut hashing, tmp.path(), &UnpackOptions::default()).map_err(
                |source| SnapshotError::Unpack {
                    diff_id: *diff_id,
                    source,
                },
            )?;
        // The tar reader stops at the end marker; the diff ID covers the whole stream.
        io::copy(&mut hashing, &mut io::sink()).map_err(|source| SnapshotError::Open {
            diff_id: *diff_id,
            source,
        })?;
        let (actual, _) = hashing.finish();
        if actual != *diff_id {
            return Err(SnapshotError::DiffIdMismatch {
                expected: *diff_id,
                actual,
            });
        }
        let pending = PendingLinks {
            chain_id: *chain_id,
            diff_id: *diff_id,
            tmp,
            links,
        };
        if pending.links.is_empty() {
            self.commit(pending).map(Staged::Done)
        } else {
            Ok(Staged::Links(pending))
        }
    }

    /// Makes the deferred links of `p` from `lowers` (its lower snapshots, top first), then
    /// renames it into place.
    fn finish_links(&self, p: PendingLinks, lowers: &[PathBuf]) -> Result<PathBuf, SnapshotError> {
        link_from_lowers(p.tmp.path(), &p.links, lowers).map_err(|source| {
            SnapshotError::Unpack {
                diff_id: p.diff_id,
                source,
            }
        })?;
        self.commit(p)
    }

    /// Syncs a complete temp snapshot and renames it into place.
    fn commit(&self, p: PendingLinks) -> Result<PathBuf, SnapshotError> {
        let dir = self.dir(&p.chain_id);
        let tmp = p.tmp;
        sync_fs(tmp.path()).map_err(io_err("sync", tmp.path()))?;
        match std::fs::rename(tmp.path(), &dir) {
            Ok(()) => {
                tmp.moved();
                Ok(dir)
            }
            // Someone else made it first; theirs is as good as ours, which `tmp` drops.
            Err(_) if dir.is_dir() => Ok(dir),
            Err(e) => Err(io_err("rename into place", &dir)(e)),
        }
    }

    fn tmp_root(&self) -> Result<PathBuf, SnapshotError> {
        let tmp = self.root.join(TMP_DIR);
        std::fs::create_dir_all(&tmp).map_err(io_err("create", &tmp))?;
        Ok(tmp)
    }
}

/// A layer unpacked into a temp dir, not yet in place.
struct PendingLinks {
    chain_id: Digest,
    diff_id: Digest,
    tmp: OwnedDir,
    /// Hard links into lower layers still to make.
    links: Vec<DeferredLink>,
}

/// Where [`Snapshots::stage`] left a layer.
enum Staged {
    Done(PathBuf),
    Links(PendingLinks),
}

/// The `lowerdir=` value for overlayfs from dirs in [`Snapshots::ensure_chain`] order.
pub fn lowerdir_option(dirs: &[PathBuf]) -> OsString {
    let mut out = OsString::new();
    for (i, d) in dirs.iter().enumerate() {
        if i > 0 {
            out.push(":");
        }
        out.push(d.as_os_str());
    }
    out
}

fn io_err(op: &'static str, path: &Path) -> impl FnOnce(io::Error) -> SnapshotError {
    let path = path.to_path_buf();
    move |source| SnapshotError::Io { op, path, source }
}

/// Flushes the filesystem holding `p`, so a renamed snapshot is complete after a crash.
fn sync_fs(p: &Path) -> io::Result<()> {
    let f = std::fs::File::open(p)?;
    // SAFETY: `f` is an open descriptor for the duration of the call.
    if unsafe { libc::syncfs(std::os::fd::AsRawFd::as_raw_fd(&f)) } < 0 {
        return Err(io::Error::last_os_error());
    }
    Ok(())
}
