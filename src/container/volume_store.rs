//! Named and anonymous volumes: directories under the store root that outlive containers,
//! with the containers using each one recorded beside it so `volume rm` can refuse a volume in
//! use. A new volume is filled from the image's content at its mount path, as Docker does.
//!
//! Layout, under the store root:
//! ```text
//! volumes-v1/
//!   lock                 flock held while volumes are created, referenced or removed
//!   <name>/
//!     volume.json        the `Volume` record (name, creation time, anonymous or not, labels,
//!                        driver options)
//!     _data/             the contents, bind-mounted into containers (a mount point itself
//!                        while a volume with a `type`/`device` is in use)
//!     users/<id>         one empty file per container that mounts the volume
//!     active/<id>        per running container of a mounted volume: its monitor (`volume_mount`)
//! ```
//! A volume is made complete under a temp name and renamed into place, so a crash never
//! leaves a half-created one.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::cp;
use crate::store::lock::FileLock;
use crate::store::time::{format_rfc3339, now_unix};
use crate::util::atomic::write_atomic;

pub const VOLUMES_DIR: &str = "volumes-v1";

/// The label Docker puts on an anonymous volume.
pub const ANONYMOUS_LABEL: &str = "com.docker.volume.anonymous";

/// Why a volume operation failed.
#[derive(Debug, thiserror::Error)]
pub enum VolumeError {
    #[error("invalid volume name {0:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed, at least two characters")]
    BadName(String),
    #[error("no such volume: {0}")]
    NotFound(String),
    #[error("volume {name} is in use by container(s) {}", containers.join(", "))]
    InUse {
        name: String,
        containers: Vec<String>,
    },
    #[error("{op} {path:?}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("volume record {path:?}: {source}")]
    Record {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("filling volume {name} from the image at {target:?}: {source}")]
    Fill {
        name: String,
        target: PathBuf,
        #[source]
        source: Box<cp::CpError>,
    },
    #[error(transparent)]
    Lock(#[from] crate::store::StoreError),
    #[error(transparent)]
    Options(#[from] super::volume_opts::OptionsError),
    /// The options' mount failed (`detail` in dockerd's words) when a container started.
    #[error("error while mounting volume '{}': {detail}", path.display())]
    Mount { path: PathBuf, detail: String },
    /// A container's creation could not mount the volume to copy the image's content in.
    #[error("failed to populate volume: {0}")]
    Populate(Box<VolumeError>),
}

pub(super) fn io_err(op: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> VolumeError {
    let path = path.to_path_buf();
    move |source| VolumeError::Io { op, path, source }
}

/// One volume, as `volume inspect` shows it (Docker's field names).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Volume {
    pub name: String,
    pub created_at: String,
    /// Made for one container (an image `VOLUME` or `-v /path`), removed by `rm -v`, or by
    /// `volume create` without a name, as Docker marks those.
    #[serde(default)]
    pub anonymous: bool,
    /// `volume create --label`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub labels: BTreeMap<String, String>,
    /// The local driver's `type`/`device`/`o` options, as given (`volume_opts`).
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
    /// Filled in when read: `_data`'s path.
    #[serde(default)]
    pub mountpoint: PathBuf,
}

impl Volume {
    /// The labels as Docker shows them: the user's, and `com.docker.volume.anonymous` on an
    /// anonymous volume.
    pub fn docker_labels(&self) -> BTreeMap<String, String> {
        let mut l = self.labels.clone();
        if self.anonymous {
            l.insert(ANONYMOUS_LABEL.to_string(), String::new());
        }
        l
    }
}

/// Docker's rule for volume names, the same as for containers and networks.
pub use crate::util::valid_name;

/// The name of the anonymous volume of container `id` at `target`: the same on every start.
pub fn anonymous_name(container_id: &str, target: &Path) -> String {
    use std::os::unix::ffi::OsStrExt;
    let mut input = container_id.as_bytes().to_vec();
    input.push(0);
    input.extend_from_slice(target.as_os_str().as_bytes());
    crate::digest::Digest::of(&input).hex().to_string()
}

/// The volumes of one store.
#[derive(Debug, Clone)]
pub struct Volumes {
    dir: PathBuf,
}

impl Volumes {
    pub fn new(store_root: &Path) -> Self {
        Volumes {
            dir: store_root.join(VOLUMES_DIR),
        }
    }

    pub(super) fn lock(&self) -> Result<FileLock, VolumeError> {
        std::fs::create_dir_all(&self.dir).map_err(io_err("create", &self.dir))?;
        Ok(FileLock::acquire(&self.dir.join("lock"), true)?)
    }

    pub(super) fn vol_dir(&self, name: &str) -> PathBuf {
        self.dir.join(name)
    }

    /// `_data` of volume `name`.
    pub fn data_dir(&self, name: &str) -> PathBuf {
        self.vol_dir(name).join("_data")
    }

    /// `volume create [NAME]`: makes the volume (a random name, and anonymous as Docker marks
    /// it, when `None`); an existing volume of that name is returned as it is, as Docker does.
    pub fn create(&self, name: Option<&str>) -> Result<Volume, VolumeError> {
        self.create_with(name, BTreeMap::new(), BTreeMap::new())
    }

    /// `volume create --label … --opt …`: `create` with the volume's labels and driver
    /// options (`volume_opts::validate`d already), kept only when the volume is new.
    pub fn create_with(
        &self,
        name: Option<&str>,
        labels: BTreeMap<String, String>,
        options: BTreeMap<String, String>,
    ) -> Result<Volume, VolumeError> {
        let _l = self.lock()?;
        let (name, anonymous) = match name {
            Some(n) => (n.to_string(), false),
            None => (random_name(), true),
        };
        self.create_labelled(&name, anonymous, labels, options)
    }

    pub(super) fn create_locked(&self, name: &str, anonymous: bool) -> Result<Volume, VolumeError> {
        self.create_labelled(name, anonymous, BTreeMap::new(), BTreeMap::new())
    }

    fn create_labelled(
        &self,
        name: &str,
        anonymous: bool,
        labels: BTreeMap<String, String>,
        options: BTreeMap<String, String>,
    ) -> Result<Volume, VolumeError> {
        if !valid_name(name) {
            return Err(VolumeError::BadName(name.to_string()));
        }
        let dir = self.vol_dir(name);
        if dir.is_dir() {
            return self.get(name);
        }
        let tmp = self.dir.join(format!(".tmp-{}", random_name()));
        let made = (|| {
            std::fs::create_dir_all(tmp.join("_data")).map_err(io_err("create", &tmp))?;
            std::fs::create_dir_all(tmp.join("users")).map_err(io_err("create", &tmp))?;
            let v = Volume {
                name: name.to_string(),
                created_at: format_rfc3339(now_unix()),
                anonymous,
                labels,
                options,
                mountpoint: PathBuf::new(),
            };
            let rec = tmp.join("volume.json");
            write_atomic(&rec, &serde_json::to_vec(&v).expect("a volume serialises"))
                .map_err(io_err("write", &rec))?;
            std::fs::rename(&tmp, &dir).map_err(io_err("rename into place", &dir))
        })();
        if let Err(e) = made {
            let _ = std::fs::remove_dir_all(&tmp);
            return Err(e);
        }
        self.get(name)
    }

    /// `volume inspect NAME`.
    pub fn get(&self, name: &str) -> Result<Volume, VolumeError> {
        if !valid_name(name) {
            return Err(VolumeError::NotFound(name.to_string()));
        }
        let rec = self.vol_dir(name).join("volume.json");
        let bytes = match std::fs::read(&rec) {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(VolumeError::NotFound(name.to_string()))
            }
            Err(e) => return Err(io_err("read", &rec)(e)),
        };
        let mut v: Volume = serde_json::from_slice(&bytes)
            .map_err(|source| VolumeError::Record { path: rec, source })?;
        v.mountpoint = self.data_dir(name);
        Ok(v)
    }

    /// `volume ls`: every volume, sorted by name.
    pub fn list(&self) -> Result<Vec<Volume>, VolumeError> {
        let rd = match std::fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_err("read directory", &self.dir)(e)),
        };
        let mut out = Vec::new();
        for e in rd {
            let e = e.map_err(io_err("read directory", &self.dir))?;
            let name = e.file_name().to_string_lossy().into_owned();
            if e.path().is_dir() && valid_name(&name) {
                out.push(self.get(&name)?);
            }
        }
        out.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(out)
    }

    /// `volume rm NAME`: refused while a container that still exists (`exists`) uses it.
    pub fn remove(&self, name: &str, exists: &dyn Fn(&str) -> bool) -> Result<(), VolumeError> {
        let _l = self.lock()?;
        self.get(name)?;
        let users = self.users(name, exists)?;
        if !users.is_empty() {
            return Err(VolumeError::InUse {
                name: name.to_string(),
                containers: users,
            });
        }
        self.remove_locked(name)
    }

    /// `volume prune`: removes every volume `remove` picks (it is asked under the volumes'
    /// lock, so no container starts using a volume meanwhile). Returns the names removed and
    /// the bytes their contents took.
    pub fn prune(
        &self,
        remove: &dyn Fn(&Volume) -> bool,
    ) -> Result<(Vec<String>, u64), VolumeError> {
        let _l = self.lock()?;
        let mut names = Vec::new();
        let mut reclaimed = 0;
        for v in self.list()? {
            if remove(&v) {
                let size = dir_size(&v.mountpoint);
                self.remove_locked(&v.name)?;
                names.push(v.name);
                reclaimed += size;
            }
        }
        Ok((names, reclaimed))
    }

    pub(super) fn remove_locked(&self, name: &str) -> Result<(), VolumeError> {
        let dir = self.vol_dir(name);
        // What a killed strata left mounted on `_data` goes first: deleting through a live
        // mount would delete a tmpfs's contents, or a bound host directory's.
        self.detach_all(name)?;
        // Renamed away first, so a removal cut short never leaves a volume half there.
        let tmp = self.dir.join(format!(".tmp-rm-{}", random_name()));
        std::fs::rename(&dir, &tmp).map_err(io_err("rename", &dir))?;
        std::fs::remove_dir_all(&tmp).map_err(io_err("remove", &tmp))
    }
}

/// Bytes in the regular files (and symlinks) under `dir`, each inode once, as Docker's
/// `directory.Size` counts them; what cannot be read counts nothing.
pub fn dir_size(dir: &Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let mut seen = std::collections::HashSet::new();
    let mut total = 0;
    for e in walkdir::WalkDir::new(dir)
        .into_iter()
        .filter_map(Result::ok)
    {
        let Ok(md) = e.metadata() else { continue };
        if md.is_dir() {
            continue;
        }
        if md.nlink() > 1 && !seen.insert((md.dev(), md.ino())) {
            continue;
        }
        total += md.len();
    }
    total
}

fn random_name() -> String {
    let mut b = [0u8; 32];
    if let Ok(mut f) = std::fs::File::open("/dev/urandom") {
        use std::io::Read;
        let _ = f.read_exact(&mut b);
    }
    let mut seed = now_unix().to_le_bytes().to_vec();
    seed.extend_from_slice(&std::process::id().to_le_bytes());
    seed.extend_from_slice(&b);
    crate::digest::Digest::of(&seed).hex().to_string()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names() {
        let cases = [
            ("data", true),
            ("my_vol.1-x", true),
            ("a", false),
            ("-x", false),
            ("a/b", false),
            ("..", false),
            ("", false),
            ("x y", false),
        ];
        for (n, want) in cases {
            assert_eq!(valid_name(n), want, "{n}");
        }
    }

    #[test]
    fn anonymous_names_are_stable_per_container_and_target() {
        let a = anonymous_name("c1", Path::new("/data"));
        assert_eq!(a, anonymous_name("c1", Path::new("/data")));
        assert_ne!(a, anonymous_name("c2", Path::new("/data")));
        assert_ne!(a, anonymous_name("c1", Path::new("/other")));
        assert!(valid_name(&a));
    }
}
