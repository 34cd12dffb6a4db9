//! COPY and ADD as build steps: the input digest their cache key needs (selected files' paths,
//! modes, owners and content hashes — from the stat cache for the context, read for a stage or
//! an image), and, on a miss, applying the copy into a writable overlay of the parent.

use std::collections::HashMap;
use std::io::Read;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use rayon::prelude::*;
use sha2::{Digest as _, Sha256};

use super::error::StepError;
use super::explain::StepFacts;
use super::explain::{record::copy_facts, FileFact};
use super::remote_cache::input_memo_key;
use super::rootfs::{mount_view, mount_writable, step_dir, OverlayMount};
use super::state::StepState;
use super::steps::{Executor, Written};
use crate::digest::CacheKey;
use crate::exec::copy::{apply_copy, read_id_files, Fetch, Fetched};
use crate::plan::context::{ContentHash, ContextHasher, WalkedTree};
use crate::plan::copy::{
    plan_copy, ChangeKind, Changed, CopyError, CopyItem, CopyRequest, ExcludeMatcher, NoExcludes,
    PlanContext, SourceTree,
};
use crate::plan::graph::{finalize_key, Input, Node};
use crate::plan::graph::{CopyOp, CopySource, InputDigest};
use crate::plan::inputs::{content_paths, copy_input_digest};
use crate::snapshot::Change;
use crate::syntax::dockerignore::PatternMatcher;
use crate::util::owned_tmp::OwnedDir;
use std::sync::Arc;

/// The walked build context, shared by every step of a build.
pub struct ContextInputs<'a> {
    pub tree: WalkedTree<'a>,
    pub hasher: Mutex<ContextHasher<'a>>,
}

/// Where a COPY reads from: the context, or a directory on the host (a stage's or image's
/// merged view).
pub enum CopyFrom<'a, 'c> {
    Context(&'a ContextInputs<'c>),
    Dir(PathBuf),
}

/// The request as `plan_copy` takes it. The key is computed without `--chown` (names need the
/// parent's /etc/passwd, which the key already covers through its parent key and the op's
/// identity); the apply plan gets the real one.
pub fn request(op: &CopyOp, with_chown: bool) -> CopyRequest {
    CopyRequest {
        sources: op.sources.clone(),
        dest: op.dest.clone(),
        workdir: "/".to_string(),
        chown: if with_chown { op.chown.clone() } else { None },
        chmod: op.chmod.clone(),
        link: op.link,
        parents: op.parents,
        excludes: op.exclude.clone(),
        is_add: op.add,
        from_stage: !matches!(op.from, CopySource::Context),
        heredocs: op
            .heredocs
            .iter()
            .map(|h| (h.name.clone(), h.content.clone().into_bytes()))
            .collect(),
        checksum: op.checksum.clone(),
        unpack: op.unpack,
    }
}

fn excludes(op: &CopyOp) -> Result<Box<dyn ExcludeMatcher>, StepError> {
    if op.exclude.is_empty() {
        return Ok(Box::new(NoExcludes));
    }
    let m = PatternMatcher::new(op.exclude.iter()).map_err(|e| {
        StepError::Copy(CopyError::BadPattern {
            pattern: format!("{} ({e})", op.exclude.join(", ")),
        })
    })?;
    Ok(Box::new(m))
}

/// What a COPY/ADD selects from its source: the digest its cache key takes, and the planned
/// items with their content hashes, kept so `--explain` can list the files without re-hashing.
pub struct Selection {
    pub digest: InputDigest,
    items: Vec<CopyItem>,
    /// Content hashes of a stage's or image's files (the context's stay in its hasher).
    hashes: Option<HashMap<String, ContentHash>>,
}

impl Selection {
    /// One fact per selected file.
    pub fn facts(&self, from: &CopyFrom<'_, '_>) -> Vec<FileFact> {
        match (&self.hashes, from) {
            (Some(h), _) => copy_facts(&self.items, &|p| h.get(p).copied()),
            (None, CopyFrom::Context(c)) => {
                let hasher = c.hasher.lock().expect("context hasher lock");
                copy_facts(&self.items, &|p| hasher.get(p))
            }
            (None, CopyFrom::Dir(_)) => copy_facts(&self.items, &|_| None),
        }
    }
}

/// The digest of what a COPY/ADD selects from `from`, for its cache key.
pub fn input_digest(op: &CopyOp, from: &CopyFrom<'_, '_>) -> Result<Selection, StepError> {
    let excl = excludes(op)?;
    let ctx = PlanContext {
        passwd: &[],
        groups: &[],
        exclude: excl.as_ref(),
    };
    let req = request(op, false);
    let (digest, items, hashes) = match from {
        CopyFrom::Context(c) => {
            let items = plan_copy(&c.tree, &req, &ctx)?;
            let paths = content_paths(&items);
            let mut hasher = c.hasher.lock().expect("context hasher lock");
            hasher.hash_paths(&paths)?;
            let d = copy_input_digest(&items, &|p| hasher.get(p))?;
            (d, items, None)
        }
        CopyFrom::Dir(dir) => {
            let tree = crate::plan::copy::FsTree::new(dir.clone());
            let items = plan_copy(&tree, &req, &ctx)?;
            let hashes = hash_files(dir, &content_paths(&items))?;
            let d = copy_input_digest(&items, &|p| hashes.get(p).copied())?;
            (d, items, Some(hashes))
        }
    };
    Ok(Selection {
        digest: InputDigest::from_bytes(*digest.as_bytes()),
        items,
        hashes,
    })
}

/// blake3 of each file below `root`, read in parallel.
fn hash_files(root: &Path, paths: &[&str]) -> Result<HashMap<String, ContentHash>, StepError> {
    paths
        .par_iter()
        .map(|p| {
            let full = root.join(p);
            let mut f = std::fs::File::open(&full).map_err(StepError::io("open", &full))?;
            let mut h = blake3::Hasher::new();
            let mut buf = vec![0u8; 256 << 10];
            loop {
                let n = f.read(&mut buf).map_err(StepError::io("read", &full))?;
                if n == 0 {
                    break;
                }
                h.update(&buf[..n]);
            }
            Ok((
                p.to_string(),
                ContentHash::from_bytes(*h.finalize().as_bytes()),
            ))
        })
        .collect()
}

/// Applies the copy into `dest_root` (a writable overlay of the parent, or an empty directory
/// for `--link`), with `--chown` names resolved from `ids_root`'s /etc/passwd and /etc/group.
/// Returns the changes for the layer writer.
pub fn apply(
    op: &CopyOp,
    from: &CopyFrom<'_, '_>,
    dest_root: &Path,
    ids_root: &Path,
    fetch: &dyn Fetch,
) -> Result<Vec<Change>, StepError> {
    let excl = excludes(op)?;
    let (passwd, groups) = read_id_files(ids_root)?;
    let ctx = PlanContext {
        passwd: &passwd,
        groups: &groups,
        exclude: excl.as_ref(),
    };
    let req = request(op, true);
    let changed = match from {
        CopyFrom::Context(c) => {
            let items: Vec<CopyItem> = plan_copy(&c.tree, &req, &ctx)?;
            apply_copy(&c.tree as &dyn SourceTree, dest_root, &items, Some(fetch))?
        }
        CopyFrom::Dir(dir) => {
            let tree = crate::plan::copy::FsTree::new(dir.clone());
            let items = plan_copy(&tree, &req, &ctx)?;
            apply_copy(&tree, dest_root, &items, Some(fetch))?
        }
    };
    Ok(changed.into_iter().map(to_change).collect())
}

fn to_change(c: Changed) -> Change {
    match c.kind {
        ChangeKind::Added => Change::Added(PathBuf::from(c.path)),
        ChangeKind::Modified => Change::Modified(PathBuf::from(c.path)),
    }
}

/// Fetches each URL once per build, so the body hashed for the key is the one written.
pub struct MemoFetch<'a> {
    inner: Option<&'a (dyn Fetch + Sync)>,
    seen: Mutex<HashMap<String, Fetched>>,
}

impl<'a> MemoFetch<'a> {
    pub fn new(inner: Option<&'a (dyn Fetch + Sync)>) -> Self {
        MemoFetch {
            inner,
            seen: Mutex::new(HashMap::new()),
        }
    }

    /// The key input of an ADD URL: `--checksum` when given (then nothing is downloaded until
    /// the step misses), else the sha256 of the body and its Last-Modified (the file's mtime).
    pub fn url_digest(&self, url: &str, checksum: Option<&str>) -> Result<InputDigest, StepError> {
        let mut h = Sha256::new();
        match checksum {
            Some(c) => {
                h.update(b"checksum\0");
                h.update(c.as_bytes());
            }
            None => {
                let f = self.fetch(url)?;
                h.update(b"body\0");
                h.update(Sha256::digest(&f.body));
                h.update(f.last_modified.unwrap_or_default().as_bytes());
            }
        }
        Ok(InputDigest::from_bytes(h.finalize().into()))
    }
}

impl Fetch for MemoFetch<'_> {
    fn fetch(&self, url: &str) -> Result<Fetched, CopyError> {
        if let Some(f) = self.seen.lock().expect("fetch memo").get(url) {
            return Ok(f.clone());
        }
        let inner = self.inner.ok_or_else(|| CopyError::NoFetcher {
            url: url.to_string(),
        })?;
        let f = inner.fetch(url)?;
        self.seen
            .lock()
            .expect("fetch memo")
            .insert(url.to_string(), f.clone());
        Ok(f)
    }
}

impl Executor<'_> {
    /// A COPY/ADD node: its key from the selected files (remembered for a stage's or an
    /// image's files), then, on a miss, the copy applied into a writable overlay.
    pub(super) fn copy_step(
        &self,
        node: &Node,
        parent: &StepState,
        key_parent: Option<CacheKey>,
        op: &CopyOp,
    ) -> Result<StepState, StepError> {
        // The source: the context, or a read-only view of a stage's or an image's layers,
        // kept mounted until the copy is applied. What a view would select is remembered by
        // the source's layers, so a cache hit needs neither the view nor those layers' blobs.
        let src = match &op.from {
            CopySource::Context => None,
            CopySource::Stage(i) => Some(self.stage_result(*i)?),
            CopySource::Image(r) => Some(Arc::new(self.base(node, r)?)),
        };
        let memo_key = |index: usize| {
            src.as_ref()
                .map(|s| input_memo_key(&s.layers, &node.partial_key, index))
        };
        let all_remembered = node.inputs.iter().enumerate().all(|(n, i)| {
            matches!(i, Input::CopyFiles { .. })
                && memo_key(n).is_some_and(|k| self.input_memo_get(&k).is_some())
        });
        let mut view = match &src {
            Some(s) if !all_remembered => Some(self.source_view(s)?),
            _ => None,
        };
        let mut inputs = Vec::with_capacity(node.inputs.len());
        let mut selections = Vec::new();
        let mut named = Vec::new();
        for (n, i) in node.inputs.iter().enumerate() {
            inputs.push(match i {
                Input::CopyFiles { .. } => match memo_key(n) {
                    Some(k) => match self.input_memo_get(&k) {
                        // Remembered: no file list for --explain, only the digest.
                        Some(d) => {
                            named.push((
                                "files selected from the source".to_string(),
                                d.to_string(),
                            ));
                            d
                        }
                        None => {
                            let (_, _, path) = view.as_ref().expect("a view was mounted");
                            let from = CopyFrom::Dir(path.clone());
                            let sel = input_digest(op, &from)?;
                            let d = sel.digest;
                            self.input_memo_put(k, d);
                            selections.push((sel, from));
                            d
                        }
                    },
                    None => {
                        let from = CopyFrom::Context(self.context.expect("context walked"));
                        let sel = input_digest(op, &from)?;
                        let d = sel.digest;
                        selections.push((sel, from));
                        d
                    }
                },
                Input::Url { url } => {
                    let d = self.fetch.url_digest(url, op.checksum.as_deref())?;
                    named.push((format!("url {url}"), d.to_string()));
                    d
                }
                other => {
                    return Err(StepError::Unsupported(format!(
                        "unexpected COPY input {other:?}"
                    )))
                }
            });
        }
        let key = finalize_key(&node.partial_key, key_parent.as_ref(), &inputs);
        if self.explain.wants_facts(&key) {
            let files = selections
                .iter()
                .flat_map(|(s, from)| s.facts(from))
                .collect();
            self.explain.add_facts(
                node.id,
                StepFacts {
                    inputs: named,
                    files,
                },
            );
        }
        let created_by = format!("{} # buildkit", node.meta.text);
        self.fs_step_as(node, parent, key, created_by, |dir, lowers| {
            if let (Some(s), None) = (&src, &view) {
                view = Some(self.source_view(s)?);
            }
            let from = match &view {
                Some((_, _, path)) => CopyFrom::Dir(path.clone()),
                None => CopyFrom::Context(self.context.expect("context walked")),
            };
            let (mount, upper) = mount_writable(dir, &lowers)?;
            let changes = apply(op, &from, mount.path(), mount.path(), &self.fetch)?;
            // Everything the copy wrote is in the upperdir; reading it there is cheaper than
            // through the overlay.
            Ok(Written {
                read_root: upper.clone(),
                upper,
                changes,
                _mount: Some(mount),
            })
        })
    }

    /// A read-only view of `src`'s layers: its mount, its temp dir, and the path to read (in
    /// that order, so the mount is detached before its directory is removed).
    fn source_view(
        &self,
        src: &StepState,
    ) -> Result<(Option<OverlayMount>, OwnedDir, PathBuf), StepError> {
        let dir = step_dir(self.store, "view")?;
        let (m, path) = mount_view(dir.path(), &self.lowerdirs(src)?)?;
        Ok((m, dir, path))
    }
}
