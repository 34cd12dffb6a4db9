//! The container directories under `<store root>/containers/`: atomic creation with a unique
//! name, lookup by full ID, name or unique ID prefix, listing, per-container locks, removal.

use std::collections::HashSet;
use std::fs;
use std::path::{Path, PathBuf};

use super::error::ContainerError;
use super::record::Container;
use super::record_cache::RecordCache;
use crate::store::lock::FileLock;
use crate::store::time::{format_rfc3339, now_unix};
use crate::util::atomic::write_atomic;

pub const CONTAINERS_DIR: &str = "containers";
const STATE: &str = "state.json";
const LOCK: &str = "lock";
/// Docker json-file records (see `logfile`).
const LOG: &str = "container-json.log";
/// Prefix of a container directory being created or removed (skipped by `list`).
const TMP_PREFIX: &str = ".tmp-";
const TRASH_PREFIX: &str = ".trash-";

/// The containers of one store.
#[derive(Debug, Clone)]
pub struct Containers {
    dir: PathBuf,
}

/// The per-container lock; the container's record may be read-modify-written while held.
/// Never held while the container runs, only around short updates.
#[derive(Debug)]
pub struct ContainerLock {
    _lock: FileLock,
}

impl Containers {
    /// `root` is the store root.
    pub fn new(root: &Path) -> Self {
        Containers {
            dir: root.join(CONTAINERS_DIR),
        }
    }

    pub fn dir(&self, id: &str) -> PathBuf {
        self.dir.join(id)
    }

    /// The store root these containers live in.
    pub fn store_root(&self) -> &Path {
        self.dir.parent().unwrap_or(&self.dir)
    }
    pub fn state_path(&self, id: &str) -> PathBuf {
        self.dir(id).join(STATE)
    }
    /// The overlay upperdir: everything the container wrote.
    pub fn upperdir(&self, id: &str) -> PathBuf {
        self.dir(id).join("upper")
    }
    pub fn workdir(&self, id: &str) -> PathBuf {
        self.dir(id).join("work")
    }
    /// An empty directory, the lowerdir of a container of a scratch image.
    pub fn emptydir(&self, id: &str) -> PathBuf {
        self.dir(id).join("empty")
    }
    /// Where a detached container's stdout and stderr are appended.
    pub fn log_path(&self, id: &str) -> PathBuf {
        self.dir(id).join(LOG)
    }

    /// The FIFO `attach` writes a detached `-i` container's input to.
    pub fn stdin_fifo(&self, id: &str) -> PathBuf {
        self.dir(id).join("stdin.fifo")
    }

    fn ensure_dir(&self) -> Result<(), ContainerError> {
        fs::create_dir_all(&self.dir).map_err(ContainerError::io("create", &self.dir))
    }

    /// The lock serialising creations and removals (so two containers never get one name).
    fn lock_all(&self) -> Result<FileLock, ContainerError> {
        self.ensure_dir()?;
        Ok(FileLock::acquire(&self.dir.join(LOCK), true)?)
    }

    /// Takes the container's own lock (blocking).
    pub fn lock(&self, id: &str) -> Result<ContainerLock, ContainerError> {
        let path = self.dir(id).join(LOCK);
        if !self.dir(id).is_dir() {
            return Err(ContainerError::NotFound(id.to_string()));
        }
        Ok(ContainerLock {
            _lock: FileLock::acquire(&path, true)?,
        })
    }

    /// Creates the container's directory (state, upper, work, empty) complete or not at all.
    /// Fails with `NameInUse` when another container has `c.name`.
    pub fn create(&self, c: &Container) -> Result<(), ContainerError> {
        super::names::validate(&c.name)?;
        let _all = self.lock_all()?;
        for other in self.list()? {
            if other.name == c.name {
                return Err(ContainerError::NameInUse {
                    name: c.name.clone(),
                    id: other.id,
                });
            }
        }
        let tmp = self.dir.join(format!("{TMP_PREFIX}{}", c.id));
        let _ = fs::remove_dir_all(&tmp);
        let made = (|| {
            for sub in ["upper", "work", "empty"] {
                let d = tmp.join(sub);
                fs::create_dir_all(&d).map_err(ContainerError::io("create", &d))?;
            }
            use std::os::unix::fs::PermissionsExt;
            let upper = tmp.join("upper");
            fs::set_permissions(&upper, fs::Permissions::from_mode(0o755))
                .map_err(ContainerError::io("chmod", &upper))?;
            write_state(&tmp.join(STATE), c)?;
            let dest = self.dir(&c.id);
            if c.config.auto_remove {
                fs::rename(&tmp, &dest)
            } else {
                crate::util::atomic::rename_durable(&tmp, &dest)
            }
            .map_err(ContainerError::io("rename into place", &dest))?;
            self.link_name(&c.name, &c.id);
            Ok(())
        })();
        if made.is_err() {
            let _ = fs::remove_dir_all(&tmp);
        }
        made
    }

    /// Reads one container's record by full ID.
    pub fn load(&self, id: &str) -> Result<Container, ContainerError> {
        let path = self.state_path(id);
        let data = match fs::read(&path) {
            Ok(d) => d,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ContainerError::NotFound(id.to_string()))
            }
            Err(e) => return Err(ContainerError::io("read", &path)(e)),
        };
        serde_json::from_slice(&data).map_err(|source| ContainerError::BadState { path, source })
    }

    /// Replaces the container's record atomically (take its lock for a read-modify-write).
    pub fn save(&self, c: &Container) -> Result<(), ContainerError> {
        write_state(&self.state_path(&c.id), c)
    }

    /// Read-modify-write of a record under its lock; returns the record as saved.
    pub fn update(
        &self,
        id: &str,
        f: impl FnOnce(&mut Container),
    ) -> Result<Container, ContainerError> {
        let _l = self.lock(id)?;
        let mut c = self.load(id)?;
        f(&mut c);
        self.save(&c)?;
        Ok(c)
    }

    /// Every container, oldest first, each reconciled (a running one whose monitor was killed
    /// is recorded as exited). Unreadable records are skipped.
    pub fn list(&self) -> Result<Vec<Container>, ContainerError> {
        self.list_with(None)
    }

    /// [`Containers::list`], reading unchanged records from `cache` when one is given.
    pub fn list_with(&self, cache: Option<&RecordCache>) -> Result<Vec<Container>, ContainerError> {
        let rd = match fs::read_dir(&self.dir) {
            Ok(rd) => rd,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(ContainerError::io("read", &self.dir)(e)),
        };
        let mut out = Vec::new();
        let mut seen = HashSet::new();
        for e in rd.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if !is_id(&name) {
                continue;
            }
            let c = match cache {
                Some(cache) => cache.load(self, &name),
                None => self.load(&name),
            };
            let c = match c {
                Ok(c) if c.state.status != super::record::Status::Running || c.is_running() => c,
                Ok(_) => match self.get_reconciled(&name) {
                    Ok(c) => c,
                    Err(_) => continue,
                },
                Err(_) => continue,
            };
            out.push(c);
            seen.insert(name);
        }
        if let Some(cache) = cache {
            cache.retain(&seen);
        }
        out.sort_by(|a, b| a.created.cmp(&b.created).then(a.id.cmp(&b.id)));
        Ok(out)
    }

    /// Loads by full ID and reconciles the state with the processes that really run.
    pub fn get_reconciled(&self, id: &str) -> Result<Container, ContainerError> {
        let c = self.load(id)?;
        if c.state.status != super::record::Status::Running || c.is_running() {
            return Ok(c);
        }
        let now = format_rfc3339(now_unix());
        self.update(id, |c| {
            c.reconcile(&now);
        })
    }

    /// `get_reconciled` for a caller already holding the container's lock.
    pub fn get_reconciled_locked(&self, id: &str) -> Result<Container, ContainerError> {
        let mut c = self.load(id)?;
        if c.reconcile(&format_rfc3339(now_unix())) {
            self.save(&c)?;
        }
        Ok(c)
    }

    /// Finds a container as Docker does: full ID, then exact name, then unique ID prefix.
    pub fn find(&self, query: &str) -> Result<Container, ContainerError> {
        if is_id(query) && self.dir(query).is_dir() {
            return self.get_reconciled(query);
        }
        // The name index spares reading every record; a stale entry is checked and ignored.
        if let Ok(id) = fs::read_link(self.names_dir().join(query)) {
            if let Some(id) = id.to_str().filter(|id| is_id(id)) {
                if let Ok(c) = self.get_reconciled(id) {
                    if c.name == query {
                        return Ok(c);
                    }
                }
            }
        }
        let all = self.list()?;
        if let Some(c) = all.iter().find(|c| c.name == query) {
            return Ok(c.clone());
        }
        if !query.is_empty() && query.bytes().all(|b| b.is_ascii_hexdigit()) {
            let mut hits = all.iter().filter(|c| c.id.starts_with(query));
            if let Some(c) = hits.next() {
                if hits.next().is_some() {
                    return Err(ContainerError::Ambiguous(query.to_string()));
                }
                return Ok(c.clone());
            }
        }
        Err(ContainerError::NotFound(query.to_string()))
    }

    /// `rename`: gives the container `query` names a new name, unique among the containers.
    pub fn rename(&self, query: &str, new_name: &str) -> Result<Container, ContainerError> {
        let new_name = new_name.trim_start_matches('/');
        if !crate::util::valid_name(new_name) {
            return Err(ContainerError::BadName(new_name.to_string()));
        }
        let _all = self.lock_all()?;
        let c = self.find(query)?;
        if c.name == new_name {
            return Err(ContainerError::Filter(
                "Renaming a container with the same name as its current name".into(),
            ));
        }
        if let Some(other) = self.list()?.into_iter().find(|o| o.name == new_name) {
            return Err(ContainerError::NameInUse {
                name: format!("/{new_name}"),
                id: other.id,
            });
        }
        let old = c.name.clone();
        let c = self.update(&c.id, |c| c.name = new_name.to_string())?;
        self.unlink_name(&old, &c.id);
        self.link_name(new_name, &c.id);
        super::events::emit(
            self.store_root(),
            &c,
            "rename",
            &[("oldName", format!("/{old}"))],
        );
        Ok(c)
    }

    /// `<root>/container-names-v1/NAME` → ID links: a hint for `find`, never the authority.
    fn names_dir(&self) -> PathBuf {
        self.store_root().join("container-names-v1")
    }

    fn link_name(&self, name: &str, id: &str) {
        let dir = self.names_dir();
        let _ = fs::create_dir_all(&dir);
        let link = dir.join(name);
        let _ = fs::remove_file(&link);
        let _ = std::os::unix::fs::symlink(id, &link);
    }

    fn unlink_name(&self, name: &str, id: &str) {
        let link = self.names_dir().join(name);
        if fs::read_link(&link).is_ok_and(|t| t.as_os_str() == id) {
            let _ = fs::remove_file(&link);
        }
    }

    /// Removes the container's directory: renamed away first (so it vanishes from `list` at
    /// once), then deleted. The caller makes sure it no longer runs.
    pub fn remove(&self, id: &str) -> Result<(), ContainerError> {
        let _all = self.lock_all()?;
        let dir = self.dir(id);
        if let Ok(c) = self.load(id) {
            self.unlink_name(&c.name, id);
        }
        let trash = self.dir.join(format!("{TRASH_PREFIX}{id}"));
        let _ = fs::remove_dir_all(&trash);
        match fs::rename(&dir, &trash) {
            Ok(()) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                return Err(ContainerError::NotFound(id.to_string()))
            }
            Err(e) => return Err(ContainerError::io("rename", &dir)(e)),
        }
        fs::remove_dir_all(&trash).map_err(ContainerError::io("remove", &trash))
    }
}

/// Replaces `path` atomically; fsynced (file and directory) unless the container is `--rm`:
/// its record is meant to vanish with it, and after a crash `reconcile` shows it as exited
/// anyway, so the start-up latency of `run --rm` does not pay for two syncs per update.
fn write_state(path: &Path, c: &Container) -> Result<(), ContainerError> {
    let mut data = serde_json::to_vec_pretty(c).expect("a container record serialises");
    data.push(b'\n');
    if !c.config.auto_remove {
        return write_atomic(path, &data).map_err(ContainerError::io("write", path));
    }
    let dir = path.parent().unwrap_or(Path::new("."));
    let write = || -> std::io::Result<()> {
        let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
        std::io::Write::write_all(&mut tmp, &data)?;
        tmp.persist(path).map_err(|e| e.error)?;
        Ok(())
    };
    write().map_err(ContainerError::io("write", path))
}

/// Whether `s` looks like a full container ID.
pub fn is_id(s: &str) -> bool {
    s.len() == 64 && s.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// A fresh random container ID.
pub fn new_id() -> String {
    crate::util::random_id()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::container::record::*;
    use crate::digest::Digest;

    fn container(name: &str) -> Container {
        Container {
            schema: SCHEMA,
            id: new_id(),
            name: name.into(),
            image: "busybox".into(),
            image_id: Digest::of(b"c"),
            manifest_digest: Digest::of(b"m"),
            layers: vec![],
            created: "2026-01-01T00:00:00Z".into(),
            config: RunConfig {
                argv: vec!["sh".into()],
                hostname: "h".into(),
                network: crate::sandbox::NetworkMode::None,
                ..Default::default()
            },
            state: State::default(),
        }
    }

    #[test]
    fn create_find_update_remove() {
        let dir = tempfile::tempdir().unwrap();
        let cs = Containers::new(dir.path());
        let a = container("alpha");
        cs.create(&a).unwrap();
        assert!(cs.upperdir(&a.id).is_dir() && cs.workdir(&a.id).is_dir());
        assert_eq!(cs.find(&a.id).unwrap(), a);
        assert_eq!(cs.find("alpha").unwrap().id, a.id);
        assert_eq!(cs.find(&a.id[..5]).unwrap().id, a.id);
        assert!(matches!(cs.find("beta"), Err(ContainerError::NotFound(_))));

        let dup = container("alpha");
        assert!(matches!(
            cs.create(&dup),
            Err(ContainerError::NameInUse { .. })
        ));
        assert!(!cs.dir(&dup.id).exists(), "nothing half-created");

        let c = cs
            .update(&a.id, |c| c.state.status = Status::Exited)
            .unwrap();
        assert_eq!(cs.load(&a.id).unwrap(), c);

        cs.remove(&a.id).unwrap();
        assert!(!cs.dir(&a.id).exists());
        assert!(cs.list().unwrap().is_empty());
        let names: Vec<_> = fs::read_dir(dir.path().join(CONTAINERS_DIR))
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        assert_eq!(names, vec!["lock".to_string()]);
    }

    #[test]
    fn an_ambiguous_prefix_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let cs = Containers::new(dir.path());
        let mut a = container("ca");
        let mut b = container("cb");
        a.id = format!("aaaa{}", &a.id[4..]);
        b.id = format!("aaab{}", &b.id[4..]);
        cs.create(&a).unwrap();
        cs.create(&b).unwrap();
        assert!(matches!(cs.find("aaa"), Err(ContainerError::Ambiguous(_))));
        assert_eq!(cs.find("aaab").unwrap().id, b.id);
    }

    #[test]
    fn ids_are_fresh_hex() {
        let (a, b) = (new_id(), new_id());
        assert!(is_id(&a) && is_id(&b));
        assert_ne!(a, b);
    }
}
