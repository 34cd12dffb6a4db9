//! Parsed container records kept by a long-lived process (the API service, which lists every
//! container for each `docker ps`), reused while the record file is unchanged: the same inode,
//! size, mtime and ctime. Records are only ever replaced by a rename, so a write shows as a
//! new inode; a record whose ctime is younger than [`RACY_MARGIN_NS`] when it was read is not
//! trusted (a freed inode reused within one clock tick could otherwise look unchanged) and is
//! read again next time.

use std::collections::{HashMap, HashSet};
use std::fs;
use std::os::unix::fs::MetadataExt;
use std::sync::Mutex;
use std::time::{SystemTime, UNIX_EPOCH};

use super::error::ContainerError;
use super::record::Container;
use super::store::Containers;

/// How long after its last change a record file must have been read to be trusted.
pub const RACY_MARGIN_NS: i64 = 1_000_000_000;

/// What must be unchanged for a kept record to stand for its file.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Stamp {
    ino: u64,
    size: u64,
    mtime_ns: i64,
    ctime_ns: i64,
}

impl Stamp {
    fn of(m: &fs::Metadata) -> Stamp {
        Stamp {
            ino: m.ino(),
            size: m.size(),
            mtime_ns: m.mtime() * 1_000_000_000 + m.mtime_nsec(),
            ctime_ns: m.ctime() * 1_000_000_000 + m.ctime_nsec(),
        }
    }
}

/// Records by container ID, each with the stamp of the file it was parsed from.
#[derive(Debug, Default)]
pub struct RecordCache {
    map: Mutex<HashMap<String, (Stamp, Container)>>,
}

fn now_ns() -> i64 {
    let d = SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .unwrap_or_default();
    d.as_nanos() as i64
}

impl RecordCache {
    pub fn new() -> RecordCache {
        RecordCache::default()
    }

    /// The record of `id` (a full ID) in `cs`: the kept one while its file is unchanged.
    pub fn load(&self, cs: &Containers, id: &str) -> Result<Container, ContainerError> {
        let path = cs.state_path(id);
        let meta = match fs::metadata(&path) {
            Ok(m) => m,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ContainerError::NotFound(id.to_string()))
            }
            Err(e) => return Err(ContainerError::io("stat", &path)(e)),
        };
        let stamp = Stamp::of(&meta);
        let map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        if let Some((kept, c)) = map.get(id) {
            if *kept == stamp {
                return Ok(c.clone());
            }
        }
        drop(map);
        // Stamped before the read: a write in between leaves a stamp that no longer matches.
        let c = cs.load(id)?;
        if stamp.ctime_ns.max(stamp.mtime_ns) < now_ns() - RACY_MARGIN_NS {
            let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
            map.insert(id.to_string(), (stamp, c.clone()));
        }
        Ok(c)
    }

    /// Forgets every record but those of `ids` (containers removed since).
    pub fn retain(&self, ids: &HashSet<String>) {
        let mut map = self.map.lock().unwrap_or_else(|p| p.into_inner());
        map.retain(|id, _| ids.contains(id));
    }

    /// How many records are kept.
    pub fn len(&self) -> usize {
        self.map.lock().unwrap_or_else(|p| p.into_inner()).len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}
