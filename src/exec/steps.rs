//! Running one graph node: its final cache key, a cache hit applied without touching any
//! filesystem, or the work itself (COPY/ADD, WORKDIR, RUN over an overlay; config changes).

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};

use super::config_apply::{apply_to_image, history_entry, run_created_by};
use super::error::StepError;
use super::events::{Event, Progress};
use super::explain::{Explainer, StepFacts};
use super::interrupt::Interrupt;
use super::layer_commit::{adopt_snapshot, write_layer};
use super::remote_cache::{lowerdirs_fetching, ImportedCache, Seen};
use super::rootfs::{mount_writable, step_dir, OverlayMount};
use super::slots::Slots;
use super::state::{LayerRef, StepState};
use super::step_copy::{ContextInputs, MemoFetch};
use super::step_run::{self, RunContext};
use crate::digest::CacheKey;
use crate::exec::mounts::Secrets;
use crate::plan::graph::{finalize_key, BuildGraph, ConfigChange, Input, InputDigest, Node, Op};
use crate::plan::platform::Platform;
use crate::snapshot::diff::upperdir_changes_against;
use crate::snapshot::{Change, LayerOptions};
use crate::store::cache::{CacheEntry, CacheResult};
use crate::store::config::ImageConfig;
use crate::store::time::{format_rfc3339, now_unix};
use crate::store::{Store, StoreError};

/// Everything the nodes of one build share.
pub struct Executor<'a> {
    pub store: &'a Store,
    pub graph: &'a BuildGraph,
    pub context: Option<&'a ContextInputs<'a>>,
    pub fetch: MemoFetch<'a>,
    pub layer: LayerOptions,
    pub progress: &'a dyn Progress,
    pub secrets: Option<&'a Secrets>,
    /// Whether the cache index may be read for a node (`--no-cache`, `--no-cache-filter`).
    pub use_cache: &'a (dyn Fn(&Node) -> bool + Sync),
    pub slots: Slots,
    /// Records keys and explains misses (`--explain`).
    pub explain: &'a Explainer,
    /// Set when a step fails or the user interrupts; stops the others.
    pub interrupt: &'a Interrupt,
    /// Whether a step failed (as opposed to an outside interrupt).
    pub failed: AtomicBool,
    /// Entries from `--cache-from`, consulted after the local index.
    pub imported: Option<&'a ImportedCache>,
    /// Keys outside this set miss the cache (local images as cache sources).
    pub cache_only: Option<&'a std::collections::HashSet<CacheKey>>,
    pub run_defaults: &'a super::step_run::RunDefaults,
    pub step_networks: Option<&'a dyn super::step_network::StepNetworks>,
    /// Every entry this build hit or recorded, for `--cache-to`.
    pub seen: Mutex<Seen>,
}

impl Executor<'_> {
    fn wait(&self, id: usize) -> Result<Arc<StepState>, StepError> {
        self.slots.wait(id).ok_or(StepError::Cancelled)
    }

    /// The result of stage `index` (a `COPY --from` or `--mount from=` source), once done.
    pub(super) fn stage_result(&self, index: usize) -> Result<Arc<StepState>, StepError> {
        let last = self
            .graph
            .stages
            .iter()
            .find(|s| s.index == index)
            .expect("a stage a step reads from is in the graph")
            .last;
        self.wait(last)
    }

    /// Stops every running sandbox; nodes not started yet see `failed` and give up.
    pub fn cancel_all(&self) {
        self.failed.store(true, Ordering::SeqCst);
        self.interrupt.trigger();
    }

    fn created_now(&self) -> String {
        format_rfc3339(self.layer.source_date_epoch.unwrap_or_else(now_unix))
    }

    /// The history time of a cache hit: the recorded one (a cached rebuild reproduces the
    /// digest), or the epoch when one is set, whatever build recorded the entry.
    fn created_hit(&self, recorded: String) -> String {
        match self.layer.source_date_epoch {
            Some(e) => format_rfc3339(e),
            None => recorded,
        }
    }

    /// Chains start at FROM (or scratch): mixing the epoch into those keys gives every step of
    /// an epoch build its own keys, so layers whose mtimes were clamped to one epoch are never
    /// reused by a build with another (or none).
    fn with_epoch(&self, key: CacheKey) -> CacheKey {
        match self.layer.source_date_epoch {
            Some(e) => finalize_key(&key, None, &[epoch_input(e)]),
            None => key,
        }
    }

    fn lookup(&self, node: &Node, key: &CacheKey) -> Option<CacheEntry> {
        if !(self.use_cache)(node) {
            return None;
        }
        let local = (self.store.cache_get(key).ok().flatten())
            .filter(|_| self.cache_only.is_none_or(|only| only.contains(key)));
        let entry = match (local, self.imported) {
            (Some(e), _) => {
                self.store.cache_touch(key);
                e
            }
            (None, Some(imp)) => {
                let e = imp.get(key)?.clone();
                // Remembered locally: a miss until its blob is fetched, a hit after that.
                let _ = self.store.cache_put(&e);
                e
            }
            (None, None) => return None,
        };
        self.seen
            .lock()
            .expect("seen")
            .entries
            .insert(*key, entry.clone());
        Some(entry)
    }

    /// A remembered COPY-from-a-stage input digest: this store's, else an imported one.
    pub(super) fn input_memo_get(&self, key: &CacheKey) -> Option<InputDigest> {
        let d = crate::exec::remote_cache::input_memo_read(self.store, key)
            .or_else(|| self.imported.and_then(|i| i.input(key)))?;
        self.seen.lock().expect("seen").inputs.insert(*key, d);
        Some(d)
    }

    pub(super) fn input_memo_put(&self, key: CacheKey, digest: InputDigest) {
        crate::exec::remote_cache::input_memo_write(self.store, &key, &digest);
        self.seen.lock().expect("seen").inputs.insert(key, digest);
    }

    /// The snapshot dirs of `state`, fetching blobs of imported entries first when needed.
    pub(super) fn lowerdirs(&self, state: &StepState) -> Result<Vec<PathBuf>, StepError> {
        lowerdirs_fetching(self.store, self.imported, state)
    }

    fn record(&self, node: &Node, key: CacheKey, result: CacheResult, created: &str) {
        let entry = CacheEntry {
            key,
            result,
            created: created.to_string(),
            description: node.meta.text.clone(),
        };
        // A cache index that cannot be written costs the next build time, not this build.
        let _ = self.store.cache_put(&entry);
        self.seen.lock().expect("seen").entries.insert(key, entry);
    }

    /// Runs one node whose parent and dependencies are done (or waits for them).
    pub fn run_node(&self, node: &Node) -> Result<StepState, StepError> {
        if self.interrupt.is_triggered() {
            return Err(StepError::Cancelled);
        }
        let parent = node.parent.map(|p| self.wait(p)).transpose()?;
        let key_parent = node.key_parent.map(|p| self.wait(p)).transpose()?;
        for d in &node.deps {
            self.wait(*d)?;
        }
        let key_parent = key_parent.map(|s| s.key);
        match &node.op {
            Op::Base { image, .. } => {
                let mut st = self.base(node, image)?;
                st.key = self.with_epoch(st.key);
                Ok(st)
            }
            Op::Scratch { platform } => Ok(StepState {
                key: self.with_epoch(finalize_key(&node.partial_key, None, &[])),
                config: scratch_config(platform),
                layers: Vec::new(),
                cmd_set: false,
                cached: true,
            }),
            Op::StageRef { .. } => {
                let mut st = (*parent.expect("a stage ref has a parent")).clone();
                st.key = finalize_key(&node.partial_key, key_parent.as_ref(), &[]);
                st.config.config.on_build = None;
                st.cmd_set = false;
                st.cached = true;
                Ok(st)
            }
            Op::Config { change } => {
                let parent = parent.expect("a config step has a parent");
                let key = finalize_key(&node.partial_key, key_parent.as_ref(), &[]);
                match change {
                    ConfigChange::Workdir {
                        mkdir: true,
                        path,
                        user,
                    } => {
                        let mut st = self.fs_step(node, &parent, key, |dir, lowers| {
                            workdir(dir, lowers, path, user)
                        })?;
                        apply_to_image(&mut st.config, change, &mut st.cmd_set);
                        Ok(st)
                    }
                    _ => Ok(self.config_step(node, &parent, key, change)),
                }
            }
            Op::Copy(op) => {
                let parent = parent.expect("a copy step has a parent");
                self.copy_step(node, &parent, key_parent, op)
            }
            Op::Exec(op) => {
                let parent = parent.expect("a run step has a parent");
                // Mounts of a stage or an image are only made for a miss when what they show
                // is remembered (see `copy_step`).
                let remembered = self.remembered_mount_inputs(node)?;
                let mut sources = match remembered {
                    Some(_) => None,
                    None => Some(self.bind_sources(node, op)?),
                };
                let mut inputs = Vec::with_capacity(node.inputs.len());
                let mut mount_inputs = Vec::new();
                for i in &node.inputs {
                    match (i, &remembered, &sources) {
                        (Input::MountFiles { index, source }, None, Some(srcs)) => {
                            let src = srcs[*index].as_ref().expect("a keyed mount has a source");
                            let d = self.mount_digest(op, *index, src)?;
                            mount_inputs.push((format!("files of mount {index}"), d.to_string()));
                            if let Some(k) = self.mount_memo_key(node, *index, source)? {
                                self.input_memo_put(k, d);
                            }
                            inputs.push(d);
                        }
                        (Input::MountFiles { index, .. }, Some(r), _) => {
                            let d = r[inputs.len()];
                            mount_inputs.push((format!("files of mount {index}"), d.to_string()));
                            inputs.push(d);
                        }
                        (other, _, _) => {
                            return Err(StepError::Unsupported(format!(
                                "unexpected RUN input {other:?}"
                            )))
                        }
                    }
                }
                let key = finalize_key(&node.partial_key, key_parent.as_ref(), &inputs);
                self.explain.add_facts(
                    node.id,
                    StepFacts {
                        inputs: mount_inputs,
                        files: Vec::new(),
                    },
                );
                let rc = RunContext {
                    step: node.id,
                    progress: self.progress,
                    interrupt: self.interrupt,
                    defaults: self.run_defaults,
                    networks: self.step_networks,
                };
                let (argv, _) = step_run::argv(op);
                let created_by = run_created_by(&argv, &node.meta.history_args);
                self.fs_step_as(node, &parent, key, created_by, |dir, lowers| {
                    let upper = dir.join("upper");
                    let work = dir.join("work");
                    let empty = dir.join("empty");
                    for d in [&upper, &work, &empty] {
                        std::fs::create_dir(d).map_err(StepError::io("create", d))?;
                    }
                    let lowers = if lowers.is_empty() {
                        vec![empty]
                    } else {
                        lowers
                    };
                    let sources = match sources.take() {
                        Some(s) => s,
                        None => self.bind_sources(node, op)?,
                    };
                    let mounts = self.prepare_mounts(op, &sources, dir, self.secrets)?;
                    step_run::run(op, lowers.clone(), upper.clone(), work, dir, &rc, &mounts)?;
                    // Files only copied up (opened for writing, chmod to the same mode) are
                    // left out, as BuildKit's overlay differ does.
                    let changes = upperdir_changes_against(&upper, &lowers)
                        .map_err(StepError::io("compare with the lower layers", &upper))?;
                    Ok(Written {
                        read_root: upper.clone(),
                        upper,
                        changes,
                        _mount: None,
                    })
                })
            }
        }
    }

    /// The stored image `reference` for the platform of `node`'s stage.
    pub(super) fn base(&self, node: &Node, reference: &str) -> Result<StepState, StepError> {
        let platform = self
            .graph
            .stages
            .iter()
            .find(|s| s.index == node.stage)
            .and_then(|s| Platform::parse(&s.platform).ok());
        let image = self
            .store
            .resolve_platform(reference, platform.as_ref())
            .map_err(|e| match e {
                StoreError::PlatformMismatch { .. } => StepError::WrongPlatform(e.to_string()),
                _ => StepError::ImageMissing {
                    reference: reference.to_string(),
                },
            })?;
        let input = InputDigest::from_bytes(*image.manifest_digest.as_bytes());
        self.explain.add_facts(
            node.id,
            StepFacts {
                inputs: vec![(
                    format!("base image {reference}"),
                    image.manifest_digest.to_string(),
                )],
                files: Vec::new(),
            },
        );
        let mut config = image.config.clone();
        config.config.on_build = None;
        let diff_ids = image.config.diff_ids()?;
        let layers = image
            .layers()
            .iter()
            .zip(diff_ids)
            .map(|(d, diff_id)| {
                Ok(LayerRef {
                    digest: crate::store::digest_of(d.digest())?,
                    diff_id,
                    size: d.size(),
                    media_type: d.media_type().to_string(),
                })
            })
            .collect::<Result<Vec<_>, crate::store::StoreError>>()?;
        Ok(StepState {
            key: finalize_key(&node.partial_key, None, &[input]),
            config,
            layers,
            cmd_set: false,
            cached: true,
        })
    }

    fn config_step(
        &self,
        node: &Node,
        parent: &StepState,
        key: CacheKey,
        change: &ConfigChange,
    ) -> StepState {
        // The history time comes from the first build of this step, so a cached rebuild
        // reproduces the image digest.
        let (created, cached) = match self.lookup(node, &key) {
            Some(e) => (self.created_hit(e.created), true),
            None => {
                let now = self.created_now();
                self.record(node, key, CacheResult::ConfigOnly, &now);
                (now, false)
            }
        };
        let mut st = parent.clone();
        st.key = key;
        st.cached = cached;
        apply_to_image(&mut st.config, change, &mut st.cmd_set);
        st.config
            .history
            .push(history_entry(&created, &node.meta.text, true));
        st
    }

    fn fs_step(
        &self,
        node: &Node,
        parent: &StepState,
        key: CacheKey,
        work: impl FnOnce(&Path, Vec<PathBuf>) -> Result<Written, StepError>,
    ) -> Result<StepState, StepError> {
        self.fs_step_as(node, parent, key, node.meta.text.clone(), work)
    }

    /// A step that may write files: a cache hit reuses the recorded layer; a miss runs `work`
    /// in a fresh step directory over the parent's snapshots, writes the layer, keeps the
    /// upperdir as the new snapshot and records the result.
    pub(super) fn fs_step_as(
        &self,
        node: &Node,
        parent: &StepState,
        key: CacheKey,
        created_by: String,
        work: impl FnOnce(&Path, Vec<PathBuf>) -> Result<Written, StepError>,
    ) -> Result<StepState, StepError> {
        let mut st = parent.clone();
        st.key = key;
        if let Some(entry) = self.lookup(node, &key) {
            st.cached = true;
            let created = self.created_hit(entry.created);
            push_result(&mut st, &entry.result, &created, &created_by);
            return Ok(st);
        }
        st.cached = false;
        self.progress.event(Event::StepStarted {
            step: node.id,
            label: node.meta.label.clone(),
        });
        let dir = step_dir(self.store, "step")?;
        let lowers = self.lowerdirs(parent)?;
        let written = work(dir.path(), lowers)?;
        let result = if written.changes.is_empty() {
            CacheResult::ConfigOnly
        } else {
            let parents: Vec<_> = parent.layers.iter().map(|l| l.digest).collect();
            let layer = write_layer(
                self.store,
                &written.read_root,
                &written.changes,
                &self.layer,
                &parents,
            )?;
            drop(written._mount);
            let mut diff_ids: Vec<_> = parent.layers.iter().map(|l| l.diff_id).collect();
            diff_ids.push(layer.diff_id);
            adopt_snapshot(self.store, &written.upper, &diff_ids)?;
            CacheResult::Layer {
                digest: layer.digest,
                diff_id: layer.diff_id,
                size: layer.size,
                media_type: layer.media_type,
            }
        };
        let created = self.created_now();
        self.record(node, key, result.clone(), &created);
        push_result(&mut st, &result, &created, &created_by);
        Ok(st)
    }
}

/// The key input that stands for `SOURCE_DATE_EPOCH`.
fn epoch_input(epoch: i64) -> InputDigest {
    let d = crate::digest::Digest::of(format!("strata.source-date-epoch.v1\0{epoch}").as_bytes());
    InputDigest::from_bytes(*d.as_bytes())
}

/// What a filesystem step wrote: its changes, where to read them, and its upperdir.
pub struct Written {
    pub(super) read_root: PathBuf,
    pub(super) upper: PathBuf,
    pub(super) changes: Vec<Change>,
    /// Kept mounted until the layer is written from the merged view.
    pub(super) _mount: Option<OverlayMount>,
}

fn push_result(st: &mut StepState, result: &CacheResult, created: &str, created_by: &str) {
    match result {
        CacheResult::Layer {
            digest,
            diff_id,
            size,
            media_type,
        } => {
            st.push_layer(LayerRef {
                digest: *digest,
                diff_id: *diff_id,
                size: *size,
                media_type: media_type.clone(),
            });
            st.config
                .history
                .push(history_entry(created, created_by, false));
        }
        CacheResult::ConfigOnly => st
            .config
            .history
            .push(history_entry(created, created_by, true)),
    }
}

/// WORKDIR: creates the directory (and missing parents) owned by the stage's USER, as
/// BuildKit does; nothing to write when it exists.
fn workdir(dir: &Path, lowers: Vec<PathBuf>, path: &str, user: &str) -> Result<Written, StepError> {
    use crate::util::safe_path::{resolve, OnEscape};
    let (mount, upper) = mount_writable(dir, &lowers)?;
    let root = mount.path().to_path_buf();
    let (uid, gid) = if user.is_empty() {
        (0, 0)
    } else {
        let (passwd, groups) = crate::exec::copy::read_id_files(&root)?;
        let u = crate::util::passwd::resolve_user(user, &passwd, &groups)
            .map_err(|e| StepError::Invalid(format!("WORKDIR: user {user:?}: {e}")))?;
        (u.uid, u.gid)
    };
    let mut changes = Vec::new();
    let mut cur = PathBuf::new();
    for c in Path::new(path).components() {
        let std::path::Component::Normal(name) = c else {
            continue;
        };
        cur.push(name);
        let abs = resolve(&root, &cur, OnEscape::Clamp, true)
            .map_err(|e| StepError::Invalid(format!("WORKDIR {path}: {e}")))?;
        match std::fs::symlink_metadata(&abs) {
            Ok(md) if md.is_dir() => continue,
            Ok(_) => {
                return Err(StepError::Invalid(format!(
                    "WORKDIR {path}: /{} exists and is not a directory",
                    cur.display()
                )))
            }
            Err(_) => {
                std::fs::create_dir(&abs).map_err(StepError::io("mkdir", &abs))?;
                crate::util::userns::lchown(&abs, uid, gid)
                    .map_err(StepError::io("chown", &abs))?;
                use std::os::unix::fs::PermissionsExt;
                std::fs::set_permissions(&abs, std::fs::Permissions::from_mode(0o755))
                    .map_err(StepError::io("chmod", &abs))?;
                let rel = abs.strip_prefix(&root).unwrap_or(&abs).to_path_buf();
                changes.push(Change::Added(rel));
            }
        }
    }
    Ok(Written {
        read_root: root,
        upper,
        changes,
        _mount: Some(mount),
    })
}

/// A `FROM scratch` stage's config: empty, for the stage's platform.
fn scratch_config(platform: &str) -> ImageConfig {
    let mut c = ImageConfig::new_for_host();
    if let Ok(p) = Platform::parse(platform) {
        c.set_platform(&p);
    }
    c
}
