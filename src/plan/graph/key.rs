//! Cache keys as pure functions, in two steps because the graph is built before any file is
//! hashed:
//!
//! - `partial_key(op, key_parent_partial)` = sha256 over the schema tag `strata.v1.<kind>`,
//!   the op's identity (canonical JSON: sorted keys, no whitespace, no spans, no stage names or
//!   indices) and the key parent's partial key. Stored in the graph and dumped.
//! - `finalize_key(partial, key_parent_final, inputs)` = sha256 over `strata.v1.final`, the
//!   partial key, the key parent's final key and the input digests the executor computed (base
//!   image digest, selected files of a COPY, files of a bind mount), in the node's order.
//!
//! Every field is length-prefixed so no two different inputs frame to the same bytes.

use std::fmt;

use serde::Serialize;
use serde_json::Value;
use sha2::{Digest as _, Sha256};

use crate::digest::CacheKey;
use crate::plan::graph::op::{CopySource, Op};

/// The versioned schema tag every key starts with. Bump it when the identity of any op changes
/// meaning, so old cache entries can never be mistaken for new ones.
pub const SCHEMA: &str = "strata.v1";

/// The content digest of one node input, as the executor computes it (for files: over the
/// relative paths, types, permission bits, owners as written, symlink targets and blake3 of
/// the contents; never mtimes or inode numbers). Printed `in:<hex>`; deliberately neither a
/// `Digest` nor a `CacheKey`.
#[derive(Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct InputDigest([u8; 32]);

impl InputDigest {
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        InputDigest(bytes)
    }
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }
}

impl fmt::Display for InputDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("in:")?;
        for b in &self.0 {
            write!(f, "{b:02x}")?;
        }
        Ok(())
    }
}

impl fmt::Debug for InputDigest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self, f)
    }
}

impl Serialize for InputDigest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

/// The part of an op that is its identity, as JSON. Stage indices are display data (renaming
/// or reordering stages must not bust anything): a `COPY --from` stage or a bind mount's
/// stage is keyed by its files' input digest, a `FROM <stage>` by its key parent, so the index
/// is blanked to 0 and a mount's `from=` option dropped.
pub fn identity(op: &Op) -> Value {
    let mut op = op.clone();
    match &mut op {
        Op::StageRef { stage } => *stage = 0,
        Op::Copy(c) => {
            if let CopySource::Stage(i) = &mut c.from {
                *i = 0;
            }
        }
        Op::Exec(e) => {
            for m in &mut e.mounts {
                if let Some(CopySource::Stage(i)) = &mut m.source {
                    *i = 0;
                    m.spec = without_from(&m.spec);
                }
            }
        }
        _ => {}
    }
    serde_json::to_value(&op).expect("ops serialise to JSON")
}

/// A `--mount` spec without its `from=` field.
fn without_from(spec: &str) -> String {
    spec.split(',')
        .filter(|f| {
            !f.split_once('=')
                .is_some_and(|(k, _)| k.trim().eq_ignore_ascii_case("from"))
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// JSON with object keys sorted and no whitespace, so the key does not depend on the order
/// fields are declared in.
pub fn canonical_json(v: &Value) -> String {
    let mut out = String::new();
    write_canonical(v, &mut out);
    out
}

fn write_canonical(v: &Value, out: &mut String) {
    match v {
        Value::Object(map) => {
            let mut keys: Vec<&String> = map.keys().collect();
            keys.sort();
            out.push('{');
            for (i, k) in keys.into_iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&Value::String(k.clone()).to_string());
                out.push(':');
                write_canonical(&map[k], out);
            }
            out.push('}');
        }
        Value::Array(items) => {
            out.push('[');
            for (i, item) in items.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                write_canonical(item, out);
            }
            out.push(']');
        }
        scalar => out.push_str(&scalar.to_string()),
    }
}

struct Framed(Sha256);

impl Framed {
    fn new() -> Self {
        Framed(Sha256::new())
    }
    fn field(&mut self, bytes: &[u8]) -> &mut Self {
        self.0.update((bytes.len() as u64).to_be_bytes());
        self.0.update(bytes);
        self
    }
    fn opt_key(&mut self, key: Option<&CacheKey>) -> &mut Self {
        match key {
            Some(k) => self.field(k.as_bytes()),
            None => self.field(b""),
        }
    }
    fn finish(self) -> CacheKey {
        CacheKey::from_bytes(self.0.finalize().into())
    }
}

/// Everything about a node except its inputs' contents: schema tag, the op's identity, and the
/// partial key of the node it builds on (`None` for a stage's first node).
pub fn partial_key(op: &Op, key_parent: Option<&CacheKey>) -> CacheKey {
    let tag = format!("{SCHEMA}.{}", op.kind());
    let mut h = Framed::new();
    h.field(tag.as_bytes())
        .field(canonical_json(&identity(op)).as_bytes())
        .opt_key(key_parent);
    h.finish()
}

/// The key the executor looks up in the cache: the partial key, the key parent's *final* key,
/// and the input digests in the order of the node's `inputs`.
pub fn finalize_key(
    partial: &CacheKey,
    key_parent_final: Option<&CacheKey>,
    inputs: &[InputDigest],
) -> CacheKey {
    let mut h = Framed::new();
    h.field(format!("{SCHEMA}.final").as_bytes())
        .field(partial.as_bytes())
        .opt_key(key_parent_final)
        .field(&(inputs.len() as u64).to_be_bytes());
    for i in inputs {
        h.field(i.as_bytes());
    }
    h.finish()
}
