//! The container module's error type: one variant per failing step, naming the container,
//! path or spec at fault.

use std::path::PathBuf;

use crate::snapshot::SnapshotError;
use crate::store::error::StoreError;

#[derive(Debug, thiserror::Error)]
pub enum ContainerError {
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("invalid container state {path}: {source}")]
    BadState {
        path: PathBuf,
        #[source]
        source: serde_json::Error,
    },
    #[error("no command specified: the image has no Entrypoint or Cmd and none was given")]
    NoCommand,
    #[error("the working directory {0:?} is invalid, it needs to be an absolute path")]
    BadWorkdir(String),
    /// A create's healthcheck Docker refuses, in its words.
    #[error("{0}")]
    BadHealthcheck(String),
    #[error("invalid signal {0:?}")]
    BadSignal(String),
    #[error("No such container: {0}")]
    NotFound(String),
    #[error("{0}: ambiguous container ID prefix, it matches several containers")]
    Ambiguous(String),
    #[error("Conflict. The container name \"/{}\" is already in use by container \"{id}\". You have to remove (or rename) that container to be able to reuse that name.", name.trim_start_matches('/'))]
    NameInUse { name: String, id: String },
    #[error("invalid container name {0:?}: only [a-zA-Z0-9][a-zA-Z0-9_.-] are allowed")]
    BadName(String),
    #[error("invalid mount spec {spec:?}: {reason}")]
    BadMount { spec: String, reason: String },
    #[error("bind source path does not exist: {0}")]
    MissingBindSource(PathBuf),
    #[error("volume {name:?} for {target}: volumes not supported yet")]
    VolumesUnsupported { name: String, target: PathBuf },
    #[error("snapshots of container {id}: {source}")]
    Snapshot {
        id: String,
        #[source]
        source: Box<SnapshotError>,
    },
    #[error("container {id} is already running")]
    AlreadyRunning { id: String },
    #[error("cannot remove container \"/{}\": container is running: stop the container before removing or force remove", name.trim_start_matches('/'))]
    IsRunning { id: String, name: String },
    #[error("container {id}: {source}")]
    Sandbox {
        id: String,
        #[source]
        source: crate::sandbox::SandboxError,
    },
    #[error("container {id} did not stop within {secs} s of SIGKILL")]
    StopTimeout { id: String, secs: u64 },
    #[error(transparent)]
    Network(#[from] crate::network::NetworkError),
    #[error("{0}")]
    Filter(String),
    #[error("Container {id} is not running")]
    NotRunning { id: String },
    #[error("invalid network {0:?}: expected bridge, host, none, container:NAME or the name of a network")]
    NetworkMode(String),
    #[error("{0}")]
    NetworkConflict(String),
    /// dockerd's words; `name` as the network mode gave it.
    #[error("cannot join network of a non running container: {name}")]
    NetworkContainerNotRunning { name: String },
    #[error(transparent)]
    Volume(#[from] super::volume_store::VolumeError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error("cgroup of container {id}: {source}")]
    Cgroup {
        id: String,
        #[source]
        source: Box<crate::sandbox::cgroup::CgroupError>,
    },
    #[error("Container {id} is already paused")]
    Paused { id: String },
    #[error("Container {id} is not paused")]
    NotPaused { id: String },
    #[error("Container {id} is paused. Unpause the container before stopping or killing")]
    KillPaused { id: String },
    #[error("Container {id} is paused, unpause the container before exec")]
    ExecPaused { id: String },
    #[error("resource limits of container {id}: {detail}")]
    Limits { id: String, detail: String },
    /// An `update` refused or failed, in Docker's words.
    #[error("Cannot update container {id}: {detail}")]
    Update { id: String, detail: String },
    #[error("Cannot link to a non running container: /{name} AS {alias}")]
    LinkNotRunning { name: String, alias: String },
    /// A `DeviceCgroupRules` line dockerd's start refuses (`detail` in its words).
    #[error("{detail}")]
    DeviceCgroupRule { detail: String },
    /// dockerd's words when `PidMode: container:X` cannot be joined at start.
    #[error("failed to join PID namespace: {detail}")]
    PidNamespace { detail: String },
    #[error("top of container {id}: {detail}")]
    Top { id: String, detail: String },
}

impl ContainerError {
    /// The exit code of a `run`/`start` that failed with this error, as Docker gives it: 126 or
    /// 127 when the command could not be executed, 125 for everything else.
    pub fn exit_code(&self) -> i32 {
        match self {
            ContainerError::Sandbox { source, .. } => source.exec_exit_code().unwrap_or(125),
            _ => 125,
        }
    }

    pub(crate) fn io(
        op: &'static str,
        path: impl Into<PathBuf>,
    ) -> impl FnOnce(std::io::Error) -> Self {
        let path = path.into();
        move |source| ContainerError::Io { op, path, source }
    }
}
