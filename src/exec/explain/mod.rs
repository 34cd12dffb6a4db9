//! `--explain`: why each step that missed the cache missed. Every build records, per cache
//! key, what went into it (`record`), and per step — its stage and position, and its
//! instruction text, within one context and Dockerfile — which key it had last. A miss is
//! explained by comparing its new record with the one its step had before (`reasons`).
//!
//! Layout under the store root: `explain-v1/records/<key-hex>.json` (written once per key) and
//! `explain-v1/steps/<blake3 of scope, step>` holding the step's latest key. These files are
//! advice, not data: they are replaced by rename (a reader never sees half a file) but not
//! fsynced, and a missing or unreadable one only makes an explanation say less.

pub mod reasons;
pub mod record;

use std::collections::HashMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::Serialize;

use crate::digest::CacheKey;
use crate::plan::graph::key::{canonical_json, identity};
use crate::plan::graph::{Node, Op};
pub use reasons::{FileChange, Reason};
pub use record::{FileFact, KeyRecord, ParentRef};

pub const EXPLAIN_DIR: &str = "explain-v1";

/// What computing a node's key learnt about its inputs.
#[derive(Debug, Default)]
pub struct StepFacts {
    pub inputs: Vec<(String, String)>,
    pub files: Vec<FileFact>,
}

/// One rebuilt step and why.
#[derive(Debug, Clone, Serialize)]
pub struct Explained {
    pub step: usize,
    pub label: String,
    pub line: u32,
    pub reasons: Vec<Reason>,
}

/// Records keys as a build goes and, when enabled, explains its misses.
pub struct Explainer {
    dir: PathBuf,
    scope: String,
    enabled: bool,
    facts: Mutex<HashMap<usize, StepFacts>>,
    found: Mutex<Vec<Explained>>,
}

impl Explainer {
    /// `scope` names the project (context directory and Dockerfile), so steps at the same
    /// position in another project are never compared.
    pub fn new(store_root: &Path, scope: String, enabled: bool) -> Self {
        Explainer {
            dir: store_root.join(EXPLAIN_DIR),
            scope,
            enabled,
            facts: Mutex::new(HashMap::new()),
            found: Mutex::new(Vec::new()),
        }
    }

    fn record_path(&self, key: &CacheKey) -> PathBuf {
        self.dir.join("records").join(format!("{}.json", key.hex()))
    }

    fn step_path(&self, what: &str, value: &str) -> PathBuf {
        let mut h = blake3::Hasher::new();
        for part in [self.scope.as_str(), what, value] {
            h.update(&(part.len() as u64).to_le_bytes());
            h.update(part.as_bytes());
        }
        self.dir.join("steps").join(h.finalize().to_hex().as_str())
    }

    /// Whether the key's file facts are worth collecting: to explain, or to record a key seen
    /// for the first time. A rebuild whose keys are all known costs one `stat` per step.
    pub fn wants_facts(&self, key: &CacheKey) -> bool {
        self.enabled || !self.record_path(key).exists()
    }

    /// Keeps what a node's key was computed from until the node is observed.
    pub fn add_facts(&self, node: usize, facts: StepFacts) {
        let mut map = self.facts.lock().unwrap_or_else(|e| e.into_inner());
        let slot = map.entry(node).or_default();
        slot.inputs.extend(facts.inputs);
        slot.files.extend(facts.files);
    }

    /// A node finished with `key`; `cached` whether it came from the cache, `cache_used`
    /// whether the cache was consulted at all; `parent` its key parent's key and text;
    /// `position` its index within its stage.
    pub fn observe(
        &self,
        node: &Node,
        position: usize,
        key: &CacheKey,
        cached: bool,
        cache_used: bool,
        parent: Option<ParentRef>,
    ) {
        if matches!(node.op, Op::Scratch { .. } | Op::StageRef { .. }) {
            return;
        }
        let facts = self
            .facts
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .remove(&node.id)
            .unwrap_or_default();
        let mut files = facts.files;
        files.sort();
        let record = KeyRecord {
            key: key.to_string(),
            text: node.meta.text.clone(),
            parent,
            identity: canonical_json(&identity(&node.op)),
            args: node.meta.history_args.clone(),
            inputs: facts.inputs,
            files,
        };
        let stage = node
            .meta
            .stage_name
            .clone()
            .unwrap_or_else(|| node.stage.to_string());
        let by_position = self.step_path("position", &format!("{stage}/{position}"));
        let by_text = self.step_path("text", &node.meta.text);
        // Config-only steps (ENV, CMD, …) have keys too, but nothing is rebuilt for them, and
        // BuildKit does not show them as steps either.
        if self.enabled && !cached && node.op.touches_fs() {
            let reasons = if !cache_used {
                vec![Reason::NoCache]
            } else {
                match self
                    .previous(&by_position)
                    .or_else(|| self.previous(&by_text))
                {
                    Some(before) => reasons::compare(&before, &record),
                    None => vec![Reason::FirstBuild],
                }
            };
            self.found
                .lock()
                .unwrap_or_else(|e| e.into_inner())
                .push(Explained {
                    step: node.id,
                    label: node.meta.label.clone(),
                    line: node.meta.line,
                    reasons,
                });
        }
        // Losing an explanation record costs a later `--explain` detail, never a build.
        let path = self.record_path(key);
        if !path.exists() {
            let _ = write_replace(&path, &serde_json::to_vec(&record).unwrap_or_default());
        }
        let current = key.to_string();
        for p in [by_position, by_text] {
            if std::fs::read_to_string(&p).ok().as_deref() != Some(current.as_str()) {
                let _ = write_replace(&p, current.as_bytes());
            }
        }
    }

    fn previous(&self, step: &Path) -> Option<KeyRecord> {
        let key: CacheKey = std::fs::read_to_string(step).ok()?.trim().parse().ok()?;
        let bytes = std::fs::read(self.record_path(&key)).ok()?;
        serde_json::from_slice(&bytes).ok()
    }

    /// The misses explained, in graph order.
    pub fn into_explained(self) -> Vec<Explained> {
        let mut v = self.found.into_inner().unwrap_or_else(|e| e.into_inner());
        v.sort_by_key(|e| e.step);
        v
    }
}

/// Replaces `path` by rename from a temp file in the same directory (no fsync: see the module
/// comment).
fn write_replace(path: &Path, data: &[u8]) -> std::io::Result<()> {
    let dir = path.parent().expect("explain files have a parent");
    std::fs::create_dir_all(dir)?;
    let mut tmp = tempfile::Builder::new().prefix(".tmp-").tempfile_in(dir)?;
    tmp.write_all(data)?;
    tmp.persist(path).map_err(|e| e.error)?;
    Ok(())
}
