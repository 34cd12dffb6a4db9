//! The build graph: Dockerfile stages → a DAG of ops, each with a content-addressed partial
//! cache key, as pure data (`strata build --dump-plan` prints it). Building it does no I/O:
//! what the store knows about base images comes in through [`ImageResolver`], and input
//! contents are hashed later by the executor, which calls [`key::finalize_key`].

pub mod build;
mod convert;
pub mod dump;
pub mod key;
pub mod op;

#[cfg(test)]
mod key_tests;
#[cfg(test)]
mod tests;

use std::collections::BTreeMap;

use serde::Serialize;

use crate::digest::CacheKey;
use crate::plan::platform::Platform;
use crate::plan::scope::ResolvedBuildArgs;
use crate::syntax::Diagnostic;

pub use build::plan;
pub use key::{finalize_key, partial_key, InputDigest};
pub use op::{
    Command, ConfigChange, CopyOp, CopySource, ExecOp, HealthcheckConfig, HeredocData, Input,
    MountSpec, Op,
};

/// A node's position in [`BuildGraph::nodes`]; nodes are in dependency order.
pub type NodeId = usize;

/// One step.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Node {
    pub id: NodeId,
    /// The stage (index in the Dockerfile) the node belongs to.
    pub stage: usize,
    /// The previous step whose result (filesystem and config) this one continues from: the
    /// previous node of the stage, or for a `FROM <stage>` node the last node of that stage.
    /// Folding config changes along `parent` gives the image config and history.
    pub parent: Option<NodeId>,
    /// The node whose key this one chains on. For a filesystem op: the nearest filesystem op
    /// among its ancestors (config-only ops such as ENV or LABEL do not bust a later COPY; a
    /// RUN keys its env, user and workdir itself). For a config op: its parent. Pass its final
    /// key to `finalize_key`.
    pub key_parent: Option<NodeId>,
    /// Other nodes that must finish first: the last node of a `COPY --from` or
    /// `--mount from=` stage.
    pub deps: Vec<NodeId>,
    pub op: Op,
    /// What `finalize_key` needs besides the parent: digests in this order.
    pub inputs: Vec<Input>,
    pub partial_key: CacheKey,
    pub meta: NodeMeta,
}

/// Display data, never part of a key.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct NodeMeta {
    /// The stage's `AS` name (lower-cased), if any.
    pub stage_name: Option<String>,
    /// Progress label, BuildKit style: `[build 2/4] RUN make`.
    pub label: String,
    /// 1-based line of the instruction (for an ONBUILD trigger, of the line that declared it,
    /// or of the child's FROM for a store image's trigger).
    pub line: u32,
    /// The instruction as written (continuations joined, whitespace collapsed), for history's
    /// `created_by`.
    pub text: String,
    /// Set when the node runs a base's ONBUILD trigger.
    pub onbuild: bool,
    /// For RUN: the declared ARGs and their values, for history's `|N NAME=VALUE …` prefix
    /// (their values are keyed through the RUN's env already).
    pub history_args: Vec<(String, String)>,
}

/// One stage that the target needs.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct StageInfo {
    pub index: usize,
    pub name: Option<String>,
    pub platform: String,
    /// Its first (FROM) and last node.
    pub first: NodeId,
    pub last: NodeId,
}

/// The graph for one target.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct BuildGraph {
    /// The target stage's index.
    pub target: usize,
    /// Stages the target needs, in file order; unneeded stages are absent (never expanded).
    pub stages: Vec<StageInfo>,
    pub nodes: Vec<Node>,
}

impl BuildGraph {
    /// The node whose result is the target image.
    pub fn output(&self) -> NodeId {
        self.stages
            .iter()
            .find(|s| s.index == self.target)
            .map(|s| s.last)
            .expect("the target stage is in the graph")
    }

    /// Final keys of every node when every input digest is known up front (`input(node, i)`
    /// gives the digest of `node.inputs[i]`). The executor does the same one node at a time.
    pub fn final_keys(&self, input: impl Fn(&Node, &Input) -> InputDigest) -> Vec<CacheKey> {
        let mut keys: Vec<CacheKey> = Vec::with_capacity(self.nodes.len());
        for n in &self.nodes {
            let digests: Vec<InputDigest> = n.inputs.iter().map(|i| input(n, i)).collect();
            let parent = n.key_parent.map(|p| keys[p]);
            keys.push(finalize_key(&n.partial_key, parent.as_ref(), &digests));
        }
        keys
    }
}

/// What the store knows about a base image, for expansion (its env) and its ONBUILD triggers.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BaseImage {
    /// Config `Env` entries, `NAME=VALUE`.
    pub env: Vec<String>,
    pub user: String,
    pub working_dir: String,
    /// Config `Shell`; empty means the default.
    pub shell: Vec<String>,
    /// Config `OnBuild` triggers, run first in the stage built on it.
    pub onbuild: Vec<String>,
}

/// Looks up base images (in the store, in production) while planning. An image it does not
/// know plans as an empty config: the executor must then apply the image's env and run its
/// ONBUILD triggers itself, which is why callers should resolve images first.
pub trait ImageResolver {
    fn resolve(&self, reference: &str, platform: &Platform) -> Option<BaseImage>;

    /// Why an image that is known is no use for `platform` (it is for other platforms), said
    /// at the FROM that asks for it; `None` when it fits or is not known.
    fn platform_mismatch(&self, _reference: &str, _platform: &Platform) -> Option<String> {
        None
    }
}

/// Knows no image.
pub struct NoImages;

impl ImageResolver for NoImages {
    fn resolve(&self, _: &str, _: &Platform) -> Option<BaseImage> {
        None
    }
}

impl ImageResolver for BTreeMap<String, BaseImage> {
    fn resolve(&self, reference: &str, _: &Platform) -> Option<BaseImage> {
        self.get(reference).cloned()
    }
}

/// What planning needs besides the Dockerfile.
#[derive(Debug, Clone)]
pub struct PlanOptions {
    pub build_args: ResolvedBuildArgs,
    /// `--target`: a stage name (case-insensitive); `None` builds the last stage.
    pub target: Option<String>,
    pub target_platform: Platform,
    pub build_platform: Platform,
    /// `--allow network.host` / `security.insecure`: what RUN may ask for beyond Docker's
    /// default sandbox (BuildKit's entitlements).
    pub entitlements: Vec<String>,
    /// Several platforms are built: each step's label names its stage's platform, as
    /// BuildKit's do (`[linux/arm64 2/3] RUN …`), so their progress lines can be told apart.
    pub prefix_platform: bool,
}

impl Default for PlanOptions {
    fn default() -> Self {
        PlanOptions {
            build_args: ResolvedBuildArgs::default(),
            target: None,
            target_platform: Platform::host(),
            build_platform: Platform::host(),
            entitlements: Vec::new(),
            prefix_platform: false,
        }
    }
}

/// Why no graph could be built.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PlanError {
    /// The file does not parse or an instruction is malformed (unknown, bad flags, no FROM):
    /// found before any stage is looked at, as Docker's parser finds it.
    #[error("{}:{}: {}", .0.span.line, .0.span.column, .0.message)]
    Syntax(Diagnostic),
    /// An expansion error or a bad stage reference, located in the file: found while the
    /// stages are walked, as Docker's builder finds it when it dispatches the instruction.
    #[error("{}:{}: {}", .0.span.line, .0.span.column, .0.message)]
    Invalid(Diagnostic),
    #[error("target stage {name:?} could not be found")]
    UnknownTarget { name: String },
    /// A stage needs itself through FROM, `COPY --from` or `--mount from=`.
    #[error("{}:{}: stage dependency cycle through stage {stage}", .span.line, .span.column)]
    Cycle {
        stage: usize,
        span: crate::syntax::Span,
    },
}

impl PlanError {
    /// The located diagnostic, when there is one.
    pub fn diagnostic(&self) -> Option<Diagnostic> {
        match self {
            PlanError::Syntax(d) | PlanError::Invalid(d) => Some(d.clone()),
            PlanError::Cycle { span, .. } => Some(Diagnostic::error(*span, self.to_string())),
            PlanError::UnknownTarget { .. } => None,
        }
    }

    /// Found before any stage is walked: Docker's classic builder refuses such a request
    /// outright rather than in its build output.
    pub fn is_syntax(&self) -> bool {
        matches!(self, PlanError::Syntax(_) | PlanError::UnknownTarget { .. })
    }
}
