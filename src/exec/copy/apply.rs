//! `apply_copy`: executes planned [`CopyItem`]s against a destination rootfs directory. Every
//! destination is resolved inside the rootfs first (symlinks followed as if it were `/`), so
//! nothing is written outside it; the paths written are returned for the layer writer.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::os::unix::fs::symlink;
use std::path::{Path, PathBuf};

use nix::sys::stat::{utimensat, UtimensatFlags};
use nix::sys::time::TimeSpec;
use rayon::prelude::*;

use super::archive;
use super::fetch::{parse_http_date, verify_checksum, Fetch};
use crate::plan::copy::{
    ChangeKind, Changed, Chmod, CopyError, CopyItem, Entry, EntryKind, ItemSource, MTime,
    SourceTree, Target,
};
use crate::util::passwd::{parse_group, parse_passwd, GroupEntry, PasswdEntry};
use crate::util::safe_path::{resolve, OnEscape};

/// Mode of directories created on the way to a target (fsutil `MkdirAll(…, 0755, …)`).
const PARENT_DIR_MODE: u32 = 0o755;
/// Mode of a file fetched by ADD from a URL when there is no `--chmod` (BuildKit's http source).
const URL_FILE_MODE: u32 = 0o600;

pub(super) fn io_err(op: &'static str, path: &Path, err: io::Error) -> CopyError {
    CopyError::Io {
        op,
        path: path.display().to_string(),
        err,
    }
}

/// Writes into one destination rootfs and remembers what changed.
pub struct Writer<'a> {
    pub(super) root: &'a Path,
    changed: BTreeMap<String, ChangeKind>,
}

/// Records `path` (absolute, under the root) as changed; the first record of a path wins, so a
/// path added and then rewritten stays "added".
pub(super) fn record(w: &mut Writer<'_>, path: &Path, kind: ChangeKind) {
    if let Ok(rel) = path.strip_prefix(w.root) {
        let rel = rel.to_string_lossy().into_owned();
        if !rel.is_empty() {
            w.changed.entry(rel).or_insert(kind);
        }
    }
}

impl<'a> Writer<'a> {
    /// Creates the missing directories of an already-resolved path under the root, mode 0755
    /// and owned by `owner`, each recorded as added. An existing non-directory on the way is an
    /// error.
    pub(super) fn mkdir_all_abs(&mut self, abs: &Path, owner: (u32, u32)) -> Result<(), CopyError> {
        let rel = abs.strip_prefix(self.root).unwrap_or(Path::new(""));
        let mut cur = self.root.to_path_buf();
        for c in rel.components() {
            cur.push(c);
            match std::fs::symlink_metadata(&cur) {
                Ok(md) if md.is_dir() => {}
                Ok(_) => {
                    return Err(CopyError::NotADirectory {
                        path: self.shown(&cur),
                    })
                }
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    std::fs::create_dir(&cur).map_err(|e| io_err("mkdir", &cur, e))?;
                    set_meta(&cur, PARENT_DIR_MODE, owner.0, owner.1, None, false)?;
                    record(self, &cur, ChangeKind::Added);
                }
                Err(e) => return Err(io_err("lstat", &cur, e)),
            }
        }
        Ok(())
    }

    fn shown(&self, p: &Path) -> String {
        format!("/{}", p.strip_prefix(self.root).unwrap_or(p).display())
    }

    /// Resolves an absolute destination path inside the rootfs (clamped like a chroot).
    fn resolve(&self, dest: &str, follow_last: bool) -> Result<PathBuf, CopyError> {
        resolve(self.root, Path::new(dest), OnEscape::Clamp, follow_last)
            .map_err(|e| CopyError::Resolve(e.to_string()))
    }
}

/// Sets owner, then mode (chown clears set-id bits), then mtime (atime too), never following a
/// final symlink. `mtime: None` leaves the times as the write left them.
pub(super) fn set_meta(
    path: &Path,
    mode: u32,
    uid: u32,
    gid: u32,
    mtime: Option<MTime>,
    is_symlink: bool,
) -> Result<(), CopyError> {
    // In a rootless build's single-id map, `--chown` to another id keeps root (counted).
    crate::util::userns::lchown(path, uid, gid).map_err(|e| io_err("chown", path, e))?;
    if !is_symlink {
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode & 0o7777))
            .map_err(|e| io_err("chmod", path, e))?;
    }
    if let Some(t) = mtime {
        let ts = TimeSpec::new(t.secs, t.nanos as i64);
        utimensat(
            nix::fcntl::AT_FDCWD,
            path,
            &ts,
            &ts,
            UtimensatFlags::NoFollowSymlink,
        )
        .map_err(|e| io_err("utimensat", path, e.into()))?;
    }
    Ok(())
}

/// Makes room for a non-directory at `path`: an existing file is removed ("Modified"), an
/// existing directory is Docker's error.
fn replace_file(w: &Writer<'_>, path: &Path) -> Result<ChangeKind, CopyError> {
    match std::fs::symlink_metadata(path) {
        Err(_) => Ok(ChangeKind::Added),
        // "If the source is a file and a directory with the same name exists at the
        // destination, an error is raised."
        Ok(md) if md.is_dir() => Err(CopyError::ReplaceDirWithFile {
            path: w.shown(path),
        }),
        Ok(_) => {
            std::fs::remove_file(path).map_err(|err| io_err("remove", path, err))?;
            Ok(ChangeKind::Modified)
        }
    }
}

pub(super) fn mknod(path: &Path, file_type: u32, mode: u32, rdev: u64) -> Result<(), CopyError> {
    let kind = nix::sys::stat::SFlag::from_bits_truncate(file_type);
    let perm = nix::sys::stat::Mode::from_bits_truncate(mode & 0o777);
    nix::sys::stat::mknod(path, kind, perm, rdev).map_err(|e| io_err("mknod", path, e.into()))
}

/// Reads the destination's `/etc/passwd` and `/etc/group` (through a safe join, so a symlinked
/// `/etc` cannot point at the host's), for `--chown` names. Missing files read as empty.
pub fn read_id_files(dest_root: &Path) -> Result<(Vec<PasswdEntry>, Vec<GroupEntry>), CopyError> {
    let read = |name: &str| -> Result<String, CopyError> {
        let p = resolve(dest_root, Path::new(name), OnEscape::Clamp, true)
            .map_err(|e| CopyError::Resolve(e.to_string()))?;
        match std::fs::read(&p) {
            Ok(b) => Ok(String::from_utf8_lossy(&b).into_owned()),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(String::new()),
            Err(e) => Err(io_err("read", &p, e)),
        }
    };
    Ok((
        parse_passwd(&read("etc/passwd")?),
        parse_group(&read("etc/group")?),
    ))
}

/// Executes `items` into `dest_root`. `src` is the tree the items were planned from; `fetch`
/// serves URL items. Returns every path written, relative to `dest_root`, sorted.
pub fn apply_copy(
    src: &dyn SourceTree,
    dest_root: &Path,
    items: &[CopyItem],
    fetch: Option<&dyn Fetch>,
) -> Result<Vec<Changed>, CopyError> {
    let mut w = Writer {
        root: dest_root,
        changed: BTreeMap::new(),
    };
    for item in items {
        apply_item(&mut w, src, item, fetch)?;
    }
    Ok(w.changed
        .into_iter()
        .map(|(path, kind)| Changed { path, kind })
        .collect())
}

fn apply_item(
    w: &mut Writer<'_>,
    src: &dyn SourceTree,
    item: &CopyItem,
    fetch: Option<&dyn Fetch>,
) -> Result<(), CopyError> {
    match &item.target {
        Target::DirContents { dir } => {
            let abs = w.resolve(dir, true)?;
            w.mkdir_all_abs(&abs, item.parent_owner)?;
            write_entries(w, src, &abs, &item.entries, None)
        }
        Target::Unpack { dir } => {
            let abs = w.resolve(dir, true)?;
            w.mkdir_all_abs(&abs, item.parent_owner)?;
            let ItemSource::Tree(path) = &item.source else {
                return Ok(());
            };
            let r = src
                .open(path)
                .map_err(|e| CopyError::io("open source", path, e))?;
            let rel = abs
                .strip_prefix(w.root)
                .unwrap_or(Path::new(""))
                .to_path_buf();
            archive::unpack(w, &item.origin, r, &rel, item.chown)
        }
        Target::File {
            path,
            name,
            into_dir,
        } => {
            let (content, entries) = match &item.source {
                ItemSource::Url(url) => {
                    let (body, entry) = fetch_url(url, item, fetch)?;
                    if item.unpack_remote && crate::plan::copy::is_tar_archive(Box::new(&body[..]))
                    {
                        let abs = w.resolve(path, true)?;
                        w.mkdir_all_abs(&abs, item.parent_owner)?;
                        let rel = abs
                            .strip_prefix(w.root)
                            .unwrap_or(Path::new(""))
                            .to_path_buf();
                        return archive::unpack(w, url, Box::new(&body[..]), &rel, item.chown);
                    }
                    (Some(body), vec![entry])
                }
                ItemSource::Inline(data) => (Some(data.clone()), item.entries.clone()),
                ItemSource::Tree(_) => (None, item.entries.clone()),
            };
            let resolved = w.resolve(path, true)?;
            let target = if *into_dir || resolved.is_dir() {
                if name.is_empty() {
                    return Err(CopyError::UrlNoFileName {
                        url: item.origin.clone(),
                    });
                }
                w.mkdir_all_abs(&resolved, item.parent_owner)?;
                resolved.join(name)
            } else {
                let parent = resolved.parent().unwrap_or(w.root).to_path_buf();
                w.mkdir_all_abs(&parent, item.parent_owner)?;
                resolved
            };
            let dir = target.parent().unwrap_or(w.root).to_path_buf();
            let mut entries = entries;
            let fname = target
                .file_name()
                .map(|n| n.to_string_lossy().into_owned())
                .unwrap_or_default();
            for e in &mut entries {
                e.rel = fname.clone();
            }
            write_entries(w, src, &dir, &entries, content.as_deref())
        }
    }
}

fn fetch_url(
    url: &str,
    item: &CopyItem,
    fetch: Option<&dyn Fetch>,
) -> Result<(Vec<u8>, Entry), CopyError> {
    let fetch = fetch.ok_or_else(|| CopyError::NoFetcher {
        url: url.to_string(),
    })?;
    let got = fetch.fetch(url)?;
    if let Some(sum) = &item.checksum {
        verify_checksum(url, &got.body, sum)?;
    }
    let mode = match &item.chmod {
        Some(spec) => Chmod::parse(spec)
            .map_err(|_| CopyError::BadChmod { spec: spec.clone() })?
            .apply(URL_FILE_MODE, false),
        None => URL_FILE_MODE,
    };
    let (uid, gid) = item.chown.unwrap_or((0, 0));
    let entry = Entry {
        rel: String::new(),
        src: String::new(),
        kind: EntryKind::File {
            size: got.body.len() as u64,
        },
        mode,
        uid,
        gid,
        mtime: got.last_modified.as_deref().and_then(parse_http_date),
    };
    Ok((got.body, entry))
}

/// Writes entries below directory `dir` (absolute, resolved, existing). Directory times are set
/// last, since writing their children moves them.
fn write_entries(
    w: &mut Writer<'_>,
    src: &dyn SourceTree,
    dir: &Path,
    entries: &[Entry],
    inline: Option<&[u8]>,
) -> Result<(), CopyError> {
    let mut dir_times = Vec::new();
    // Plain files from the host are copied in parallel after this pass (creating thousands of
    // files is mostly kernel time, which both cores can share); hard links wait for them.
    let mut files: Vec<(PathBuf, PathBuf, &Entry)> = Vec::new();
    let mut links: Vec<(PathBuf, &Entry)> = Vec::new();
    for e in entries {
        let path = if e.rel.is_empty() {
            dir.to_path_buf()
        } else {
            dir.join(&e.rel)
        };
        if let (EntryKind::File { .. }, None, Some(from)) = (&e.kind, inline, src.host_path(&e.src))
        {
            files.push((from, path, e));
            continue;
        }
        if let EntryKind::Hardlink { .. } = &e.kind {
            links.push((path, e));
            continue;
        }
        let existing = std::fs::symlink_metadata(&path).ok();
        let kind = if existing.is_some() {
            ChangeKind::Modified
        } else {
            ChangeKind::Added
        };
        match &e.kind {
            EntryKind::Dir => {
                match &existing {
                    // "If it contains subdirectories, these are also copied, and merged with
                    // any existing directories at the destination."
                    Some(md) if md.is_dir() => {}
                    // "…except if you're trying to copy a directory onto an existing file, in
                    // which case an error is raised."
                    Some(_) => {
                        return Err(CopyError::NotADirectory {
                            path: w.shown(&path),
                        })
                    }
                    None => {
                        std::fs::create_dir(&path).map_err(|err| io_err("mkdir", &path, err))?
                    }
                }
                set_meta(&path, e.mode, e.uid, e.gid, None, false)?;
                if let Some(t) = e.mtime {
                    dir_times.push((path.clone(), e.clone(), t));
                }
            }
            other => {
                if let Some(md) = &existing {
                    // "If the source is a file and a directory with the same name exists at the
                    // destination, an error is raised."
                    if md.is_dir() {
                        return Err(CopyError::ReplaceDirWithFile {
                            path: w.shown(&path),
                        });
                    }
                    std::fs::remove_file(&path).map_err(|err| io_err("remove", &path, err))?;
                }
                match other {
                    EntryKind::File { .. } => {
                        let mut reader: Box<dyn Read> = match inline {
                            Some(data) => Box::new(data),
                            None => src
                                .open(&e.src)
                                .map_err(|err| CopyError::io("open source", &e.src, err))?,
                        };
                        let mut f = std::fs::File::create(&path)
                            .map_err(|err| io_err("create", &path, err))?;
                        io::copy(&mut reader, &mut f).map_err(|err| io_err("write", &path, err))?;
                        drop(f);
                        set_meta(&path, e.mode, e.uid, e.gid, e.mtime, false)?;
                    }
                    EntryKind::Symlink { target } => {
                        symlink(target, &path).map_err(|err| io_err("symlink", &path, err))?;
                        set_meta(&path, e.mode, e.uid, e.gid, e.mtime, true)?;
                    }
                    EntryKind::Hardlink { .. } => unreachable!("deferred above"),
                    EntryKind::Special { file_type, rdev } => {
                        mknod(&path, *file_type, e.mode, *rdev)?;
                        set_meta(&path, e.mode, e.uid, e.gid, e.mtime, false)?;
                    }
                    EntryKind::Dir => unreachable!("handled above"),
                }
            }
        }
        record(w, &path, kind);
    }
    let copied = files
        .par_iter()
        .map(|(from, path, e)| {
            let kind = replace_file(w, path)?;
            std::fs::copy(from, path).map_err(|err| io_err("copy", path, err))?;
            set_meta(path, e.mode, e.uid, e.gid, e.mtime, false)?;
            Ok((path, kind))
        })
        .collect::<Result<Vec<_>, CopyError>>()?;
    for (path, kind) in copied {
        record(w, path, kind);
    }
    for (path, e) in links {
        let EntryKind::Hardlink { first } = &e.kind else {
            continue;
        };
        let kind = replace_file(w, &path)?;
        let first = dir.join(first);
        std::fs::hard_link(&first, &path).map_err(|err| io_err("link", &path, err))?;
        record(w, &path, kind);
    }
    for (path, e, t) in dir_times.into_iter().rev() {
        set_meta(&path, e.mode, e.uid, e.gid, Some(t), false)?;
    }
    Ok(())
}
