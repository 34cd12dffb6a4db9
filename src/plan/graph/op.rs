//! The operations of a build graph as pure data: what each node does, with every word already
//! expanded. Everything an `Op` serialises is part of its identity (see `key.rs`); display data
//! lives in `NodeMeta`, and values that must never be keyed or printed (proxy variables) are
//! skipped by serde.

use serde::Serialize;

/// The default `SHELL` for shell-form commands.
pub const DEFAULT_SHELL: [&str; 2] = ["/bin/sh", "-c"];

/// Where the files of a COPY/ADD or a bind mount come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum CopySource {
    /// The build context.
    Context,
    /// The result of an earlier stage of the same Dockerfile, by stage index. The index is
    /// display data only: keys use the selected files' digest, never the index.
    Stage(usize),
    /// An image reference, as written after expansion (resolved by the executor).
    Image(String),
}

/// A command in shell form (run as `shell + [cmd]`) or exec form.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Command {
    Shell(String),
    Exec(Vec<String>),
}

impl Command {
    /// The argv the process gets: exec form as is, shell form appended to `shell`.
    pub fn argv(&self, shell: &[String]) -> Vec<String> {
        match self {
            Command::Exec(v) => v.clone(),
            Command::Shell(s) => shell.iter().cloned().chain([s.clone()]).collect(),
        }
    }
}

/// A heredoc as the step consumes it: chomped when `<<-` asked, and for COPY/ADD expanded when
/// the delimiter was unquoted (RUN heredocs are expanded by the shell, never here).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HeredocData {
    pub name: String,
    pub fd: u32,
    /// Whether the delimiter was unquoted (for RUN: the shell should expand the body).
    pub expand: bool,
    pub content: String,
}

/// One `--mount` of a RUN: the expanded option string and, for bind mounts, where the files
/// come from.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct MountSpec {
    /// The expanded `--mount` value, unparsed (the executor parses it).
    pub spec: String,
    /// `type=` (default `bind`).
    pub kind: String,
    /// For bind mounts: the context, a stage or an image (`from=`). `None` for cache, tmpfs,
    /// secret and ssh mounts, which never feed a cache key.
    pub source: Option<CopySource>,
}

/// A COPY or ADD with its flags and operands expanded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct CopyOp {
    /// ADD (URLs, archives unpacked) rather than COPY.
    pub add: bool,
    pub from: CopySource,
    pub sources: Vec<String>,
    /// Absolute: a relative dest is resolved against the WORKDIR here, so WORKDIR changes
    /// bust a COPY only when its dest is relative. A trailing `/` means "into this directory".
    pub dest: String,
    pub chown: Option<String>,
    pub chmod: Option<String>,
    pub link: bool,
    pub parents: bool,
    pub exclude: Vec<String>,
    pub checksum: Option<String>,
    pub keep_git_dir: Option<bool>,
    pub unpack: Option<bool>,
    pub heredocs: Vec<HeredocData>,
}

/// A RUN.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ExecOp {
    pub command: Command,
    /// The stage's SHELL when the RUN was written (used for shell form).
    pub shell: Vec<String>,
    /// The build-time environment (base env, ENV, declared ARGs), in order. Part of the key,
    /// as in BuildKit: a changed ARG that the RUN can see busts it.
    pub env: Vec<(String, String)>,
    /// Proxy variables from build args (`HTTP_PROXY`, …) that reach the process. Never in the
    /// cache key nor in dumps, as BuildKit does (they may carry credentials).
    #[serde(skip)]
    pub proxy_env: Vec<(String, String)>,
    pub user: String,
    pub workdir: String,
    pub mounts: Vec<MountSpec>,
    pub network: Option<String>,
    pub security: Option<String>,
    pub heredocs: Vec<HeredocData>,
}

impl ExecOp {
    /// The full process environment: `env` then the proxy variables it does not set.
    pub fn process_env(&self) -> Vec<(String, String)> {
        let mut out = self.env.clone();
        out.extend(self.proxy_env.iter().cloned());
        out
    }
}

/// HEALTHCHECK as the image config stores it (durations in nanoseconds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct HealthcheckConfig {
    /// `["NONE"]`, `["CMD", …]` or `["CMD-SHELL", cmd]`.
    pub test: Vec<String>,
    #[serde(flatten)]
    pub options: crate::syntax::HealthOptions,
}

/// A change to the image config (or, for ARG and MAINTAINER, to history only).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum ConfigChange {
    Env(Vec<(String, String)>),
    Label(Vec<(String, String)>),
    /// `path` is absolute (resolved against the previous WORKDIR). With `mkdir` the directory
    /// is created (owned by `user`) when missing, so WORKDIR is a filesystem op too.
    Workdir {
        path: String,
        mkdir: bool,
        user: String,
    },
    User(String),
    Expose(Vec<String>),
    Volume(Vec<String>),
    /// The argv stored in the config (shell form already wrapped in the SHELL of the time).
    Cmd(Vec<String>),
    /// Also resets a CMD inherited from the base (not one set in this stage before it).
    Entrypoint(Vec<String>),
    Shell(Vec<String>),
    StopSignal(String),
    Healthcheck(HealthcheckConfig),
    /// Adds a trigger (the instruction text, unexpanded) to the config's OnBuild list.
    Onbuild(String),
    /// ARG declarations with their values: history only.
    Arg(Vec<(String, Option<String>)>),
    Maintainer(String),
}

/// What a node does.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Op {
    /// `FROM image`: the reference as written after expansion; the executor resolves it in the
    /// store (its digest is the node's input) and must run the image's ONBUILD triggers when
    /// the planner was not told about them (see `ImageResolver`).
    Base {
        image: String,
        platform: String,
    },
    /// `FROM scratch`.
    Scratch {
        platform: String,
    },
    /// `FROM <stage>`: continues from that stage's result. The index is display data.
    StageRef {
        stage: usize,
    },
    Copy(CopyOp),
    Exec(ExecOp),
    Config {
        change: ConfigChange,
    },
}

impl Op {
    /// The schema tag's op part (`strata.v1.<kind>`).
    pub fn kind(&self) -> &'static str {
        match self {
            Op::Base { .. } => "base",
            Op::Scratch { .. } => "scratch",
            Op::StageRef { .. } => "stage",
            Op::Copy(_) => "copy",
            Op::Exec(_) => "exec",
            Op::Config { .. } => "config",
        }
    }

    /// Whether the op changes (or provides) the filesystem: these are the nodes the next
    /// filesystem op's key chains on. Config-only ops never bust a later COPY or RUN by
    /// themselves; their effect reaches a RUN through its env/user/workdir, which are keyed.
    pub fn touches_fs(&self) -> bool {
        match self {
            Op::Config { change } => matches!(change, ConfigChange::Workdir { mkdir: true, .. }),
            _ => true,
        }
    }
}

/// An input a node's final key waits on: computed by the executor, passed to `finalize_key`
/// in this order.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case", tag = "kind")]
pub enum Input {
    /// The manifest digest of the base image.
    BaseImage { reference: String, platform: String },
    /// The files a COPY/ADD selects (its sources, excludes and `--parents`) from `source`:
    /// relative paths, types, permission bits, owners as written, symlink targets, contents.
    CopyFiles { source: CopySource },
    /// The content behind a URL source of ADD.
    Url { url: String },
    /// The files a bind mount (the `index`th `--mount`) exposes.
    MountFiles { index: usize, source: CopySource },
}
