//! The sandbox's error type: one variant per failing step, each naming the path or step at fault.

use std::path::PathBuf;

use nix::errno::Errno;

#[derive(Debug, thiserror::Error)]
pub enum SandboxError {
    #[error("invalid sandbox spec: {0}")]
    InvalidSpec(String),
    #[error("opening {path} for the sandbox's {stream}: {source}")]
    Stdio {
        stream: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("preparing sandbox state under {path}: {source}")]
    State {
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("sandbox {step}: {source}")]
    Sys { step: &'static str, source: Errno },
    #[error("starting slirp4netns for the sandbox's network: {0}")]
    Network(String),
    /// A step inside the sandbox failed before the command could start.
    #[error("sandbox setup, {step}: {detail}")]
    Setup { step: String, detail: String },
    /// The command itself could not be executed (not found, not executable, …).
    #[error("cannot execute {argv0:?} in the sandbox: {detail}")]
    Exec { argv0: String, detail: String },
    #[error("sandbox cancelled")]
    Cancelled,
    #[error("sandbox ended without reporting a status (its helper exited with {0})")]
    Lost(i32),
}

impl SandboxError {
    /// The exit code Docker gives a command that could not be executed: 127 when it was not
    /// found, 126 otherwise (not executable, or the process could not be set up).
    pub fn exec_exit_code(&self) -> Option<i32> {
        match self {
            SandboxError::Exec { detail, .. } => Some(
                if detail == super::init::NOT_FOUND_IN_PATH || detail == super::init::NO_SUCH_FILE {
                    127
                } else {
                    126
                },
            ),
            _ => None,
        }
    }
}

/// A failure of one mount-plan or process-setup step, inside the child.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{step} {path}: {errno}")]
pub struct StepError {
    pub step: &'static str,
    pub path: PathBuf,
    pub errno: Errno,
}

impl StepError {
    pub fn new(step: &'static str, path: impl Into<PathBuf>, errno: Errno) -> Self {
        StepError {
            step,
            path: path.into(),
            errno,
        }
    }
}
