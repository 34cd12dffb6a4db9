//! The container operations' error type: one variant per failing step, naming the container,
//! file or image at fault. Messages are the ones the CLI has always printed (Docker's words
//! where Docker has them); the causes stay chained as `source`, so a front door that renders
//! the chain (`outer: cause`) prints the same line as before.

use crate::container::commit::CommitError;
use crate::container::cp::CpError;
use crate::container::resources::ResourceError;
use crate::container::tree::TreeError;
use crate::container::ContainerError;
use crate::distribution::error::RegistryError;
use crate::network::ports::PortError;
use crate::reference::ReferenceError;
use crate::sandbox::security_flags::SecurityError;
use crate::sandbox::SandboxError;
use crate::store::error::StoreError;
use crate::store::events::EventError;

#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The image is for an architecture this host cannot run (no emulator registered).
    #[error("image {image}: {source}")]
    Emulation {
        image: String,
        #[source]
        source: crate::sandbox::emulation::EmulationError,
    },
    #[error(transparent)]
    Container(#[from] ContainerError),
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Resources(#[from] ResourceError),
    #[error(transparent)]
    Security(#[from] SecurityError),
    /// Connecting a new container to a network more it was created with.
    #[error(transparent)]
    Network(Box<crate::engine::EngineError>),
    #[error(transparent)]
    HostOption(#[from] crate::container::host_options::HostOptionError),
    #[error("Conflicting options: --restart and --rm")]
    RestartWithAutoRemove,
    /// A name that is no image reference, so there is nothing to pull.
    #[error("No such image: {name}")]
    BadImageName {
        name: String,
        #[source]
        source: ReferenceError,
    },
    #[error("pulling {reference}")]
    Pull {
        reference: String,
        #[source]
        source: Box<RegistryError>,
    },
    #[error(transparent)]
    Registry(Box<RegistryError>),
    /// The monitor of a detached container reported that it could not start it (`code` is
    /// the exit code a `run` gives for it: 125, or 126/127 for a command that cannot run).
    #[error("{message}")]
    Start {
        id: String,
        code: i32,
        message: String,
    },
    #[error("container {name} is already running; use attach")]
    AlreadyRunningAttach { name: String },
    /// Docker's words, with the full ID.
    #[error("container {id} is not running")]
    ExecNotRunning { id: String },
    /// The command of an `exec` failed to start or run (`exit_code`: 126/127 as Docker).
    #[error(transparent)]
    Exec(SandboxError),
    #[error("No such exec instance: {0}")]
    NoSuchExec(String),
    #[error("Error: Exec command {0} is already running")]
    ExecRunning(String),
    #[error("Error: Exec command {0} has already run")]
    ExecRan(String),
    #[error("No exec command specified")]
    ExecNoCommand,
    #[error("You cannot attach to a stopped container, start it first")]
    AttachStopped { id: String },
    #[error("You cannot attach to a paused container, unpause it first")]
    AttachPaused { id: String },
    #[error("invalid detach keys {keys:?}: unknown key {key:?}")]
    DetachKeys { keys: String, key: String },
    #[error("Restart policy cannot be updated because AutoRemove is enabled for the container")]
    UpdateAutoRemove { id: String },
    #[error("you must provide one or more flags when using this command")]
    UpdateNothing,
    #[error("invalid value for --{flag}")]
    LogTime {
        flag: &'static str,
        #[source]
        source: EventError,
    },
    #[error("invalid --tail {value:?}: expected a number or \"all\"")]
    LogTail {
        value: String,
        #[source]
        source: std::num::ParseIntError,
    },
    /// `logs` of a container whose log driver keeps nothing to read (`none`).
    #[error("configured logging driver does not support reading")]
    LogsUnreadable { id: String, driver: String },
    #[error("invalid wait condition {0:?}: expected not-running, next-exit or removed")]
    WaitCondition(String),
    /// `port CONTAINER PORT` with a port spec that does not parse.
    #[error("{source} for {container}")]
    PortSpec {
        container: String,
        #[source]
        source: PortError,
    },
    /// `rm --link NAME` where NAME is a container's own name, in dockerd's words.
    #[error("Conflict, cannot remove the default link name of the container")]
    DefaultLinkName,
    #[error("Could not find the file {path} in container {container}")]
    FileNotFound { path: String, container: String },
    /// `noOverwriteDirNonDir`: the archive's non-directory `path` would replace a directory.
    #[error("cannot overwrite directory {path:?} with non-directory {dest:?}")]
    OverwriteDir { path: String, dest: String },
    #[error("cannot overwrite non-directory {path:?} with directory {dest:?}")]
    OverwriteNonDir { path: String, dest: String },
    #[error("extraction point is not a directory")]
    ExtractNotDir(String),
    #[error("invalid archive entry {0:?}: it leads outside the destination")]
    ArchiveEscape(String),
    #[error(transparent)]
    Tree(TreeError),
    #[error(transparent)]
    Cp(#[from] CpError),
    #[error("committing container {id}")]
    Commit {
        id: String,
        #[source]
        source: Box<CommitError>,
    },
    #[error("invalid reference format: {value:?}")]
    BadReference {
        value: String,
        #[source]
        source: ReferenceError,
    },
    #[error("refusing to create a tag with a digest reference: {0:?}")]
    TagWithDigest(String),
    /// A step on a file or descriptor (`op` says which: `pipe`, `dup`, `opening a pty`, a
    /// path).
    #[error("{op}")]
    Io {
        op: String,
        #[source]
        source: std::io::Error,
    },
}

impl Error {
    /// The exit code a `run`, `start -a` or `exec` that failed with this error gives, as
    /// Docker's: 126 or 127 when the command could not be executed, 125 for the rest.
    pub fn exit_code(&self) -> i32 {
        match self {
            Error::Container(e) => e.exit_code(),
            Error::Exec(e) => e.exec_exit_code().unwrap_or(125),
            Error::Start { code, .. } => *code,
            _ => 125,
        }
    }

    /// Whether the container (or image) asked for does not exist.
    pub fn is_not_found(&self) -> bool {
        self.kind() == ErrorKind::NotFound
    }

    /// What kind of failure this is, for a front door that answers by kind (the API's
    /// 404/409/400/500).
    pub fn kind(&self) -> ErrorKind {
        use ContainerError as C;
        match self {
            Error::Container(C::NotFound(_))
            | Error::Store(StoreError::NoSuchImage(_) | StoreError::PlatformMismatch { .. })
            | Error::FileNotFound { .. }
            | Error::NoSuchExec(_)
            | Error::Cp(CpError::NotFound(_)) => ErrorKind::NotFound,
            Error::Container(
                C::NameInUse { .. }
                | C::AlreadyRunning { .. }
                | C::IsRunning { .. }
                | C::NotRunning { .. }
                | C::Paused { .. }
                | C::NotPaused { .. }
                | C::KillPaused { .. }
                | C::ExecPaused { .. }
                | C::Ambiguous(_),
            )
            | Error::AlreadyRunningAttach { .. }
            | Error::ExecNotRunning { .. }
            | Error::ExecRunning(_)
            | Error::ExecRan(_)
            | Error::AttachStopped { .. }
            | Error::AttachPaused { .. }
            | Error::UpdateAutoRemove { .. } => ErrorKind::Conflict,
            Error::Container(
                C::NoCommand
                | C::BadWorkdir(_)
                | C::BadSignal(_)
                | C::BadHealthcheck(_)
                | C::BadName(_)
                | C::BadMount { .. }
                | C::MissingBindSource(_)
                | C::Filter(_)
                | C::NetworkMode(_),
            )
            | Error::Resources(_)
            | Error::Security(_)
            | Error::RestartWithAutoRemove
            | Error::BadImageName { .. }
            | Error::DetachKeys { .. }
            | Error::ExecNoCommand
            | Error::UpdateNothing
            | Error::LogTime { .. }
            | Error::LogTail { .. }
            | Error::WaitCondition(_)
            | Error::PortSpec { .. }
            | Error::ExtractNotDir(_)
            | Error::OverwriteDir { .. }
            | Error::OverwriteNonDir { .. }
            | Error::ArchiveEscape(_)
            | Error::BadReference { .. }
            | Error::TagWithDigest(_)
            | Error::Cp(
                CpError::NotADirectory(_)
                | CpError::DestDirMissing(_)
                | CpError::DirOntoFile(_)
                | CpError::FileOntoDir(_),
            ) => ErrorKind::InvalidRequest,
            Error::Commit { source, .. } if matches!(**source, CommitError::Change { .. }) => {
                ErrorKind::InvalidRequest
            }
            Error::HostOption(e) if e.is_invalid_request() => ErrorKind::InvalidRequest,
            Error::LogsUnreadable { .. } => ErrorKind::NotImplemented,
            _ => ErrorKind::Other,
        }
    }

    pub(crate) fn io(op: impl Into<String>) -> impl FnOnce(std::io::Error) -> Error {
        let op = op.into();
        move |source| Error::Io { op, source }
    }

    pub(crate) fn errno(op: impl Into<String>) -> impl FnOnce(nix::Error) -> Error {
        let op = op.into();
        move |e| Error::Io {
            op,
            source: std::io::Error::from(e),
        }
    }
}

/// A failure's kind, as a front door tells them apart.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorKind {
    /// The container or image named does not exist.
    NotFound,
    /// The container's state or name forbids it now (running, stopped, paused, taken).
    Conflict,
    /// The request itself is wrong (a bad value, conflicting options).
    InvalidRequest,
    /// What was asked is not there to do for this container (dockerd's 501).
    NotImplemented,
    /// Anything else: the host, the store, a registry.
    Other,
}

/// What the container operations return.
pub type Result<T, E = Error> = std::result::Result<T, E>;

/// One line for an error and its causes, `outer: cause: root cause`, leaving out a cause the
/// line already says (as the CLI prints errors): what a monitor reports on its ready pipe.
pub fn one_line(err: &(dyn std::error::Error + 'static)) -> String {
    let mut parts: Vec<String> = Vec::new();
    let mut next = Some(err);
    while let Some(e) = next {
        let s = e.to_string();
        if !parts.last().is_some_and(|p| p.contains(&s)) {
            parts.push(s);
        }
        next = e.source();
    }
    parts.join(": ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn one_line_joins_causes_it_does_not_already_say() {
        let io = || std::io::Error::new(std::io::ErrorKind::NotFound, "gone");
        let cases: Vec<(Error, &str)> = vec![
            (Error::io("opening /x")(io()), "opening /x: gone"),
            (
                Error::UpdateNothing,
                "you must provide one or more flags when using this command",
            ),
            (
                Error::Container(ContainerError::NotFound("web".into())),
                "No such container: web",
            ),
            (
                Error::Start {
                    id: "abc".into(),
                    code: 127,
                    message: "exec failed".into(),
                },
                "exec failed",
            ),
        ];
        for (e, want) in cases {
            assert_eq!(one_line(&e), want);
        }
    }

    #[test]
    fn errors_have_a_kind() {
        let cases: Vec<(Error, ErrorKind)> = vec![
            (
                Error::Container(ContainerError::NotFound("x".into())),
                ErrorKind::NotFound,
            ),
            (
                Error::Store(StoreError::NoSuchImage("x".into())),
                ErrorKind::NotFound,
            ),
            (
                Error::Container(ContainerError::IsRunning {
                    id: "a".into(),
                    name: "c".into(),
                }),
                ErrorKind::Conflict,
            ),
            (
                Error::ExecNotRunning { id: "a".into() },
                ErrorKind::Conflict,
            ),
            (Error::RestartWithAutoRemove, ErrorKind::InvalidRequest),
            (Error::WaitCondition("x".into()), ErrorKind::InvalidRequest),
            (
                Error::io("pipe")(std::io::Error::other("x")),
                ErrorKind::Other,
            ),
        ];
        for (e, want) in cases {
            assert_eq!(e.kind(), want, "{e}");
        }
    }

    #[test]
    fn exit_codes_follow_docker() {
        let cases: Vec<(Error, i32)> = vec![
            (Error::RestartWithAutoRemove, 125),
            (
                Error::Start {
                    id: "a".into(),
                    code: 126,
                    message: String::new(),
                },
                126,
            ),
            (
                Error::Exec(SandboxError::Exec {
                    argv0: "nope".into(),
                    detail: crate::sandbox::init::NOT_FOUND_IN_PATH.into(),
                }),
                127,
            ),
            (Error::Container(ContainerError::NoCommand), 125),
        ];
        for (e, want) in cases {
            assert_eq!(e.exit_code(), want, "{e}");
        }
    }
}
