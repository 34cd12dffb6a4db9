//! Why a build failed: the step at fault (Dockerfile line and instruction) and the cause.

use std::path::PathBuf;

use crate::plan::context::{ContextError, HashError};
use crate::plan::copy::CopyError;
use crate::plan::inputs::InputsError;
use crate::sandbox::SandboxError;
use crate::snapshot::{LayerError, SnapshotError};
use crate::store::StoreError;

/// A failed build.
#[derive(Debug, thiserror::Error)]
pub enum ExecError {
    /// A RUN for a foreign platform with no way to emulate it, found before anything runs;
    /// located as a failed step is.
    #[error("{file}:{line}: {text} (for {platform}): {source}")]
    Emulation {
        file: String,
        line: u32,
        text: String,
        platform: String,
        #[source]
        source: Box<crate::sandbox::emulation::EmulationError>,
    },
    /// A step failed; `file:line` points at its instruction.
    #[error("{file}:{line}: {text}: {source}")]
    Step {
        file: String,
        line: u32,
        text: String,
        #[source]
        source: Box<StepError>,
    },
    /// Stopped from outside (SIGINT/SIGTERM) before it finished.
    #[error("build interrupted")]
    Interrupted,
    /// Reading the build context failed before any step ran.
    #[error("{0}")]
    Context(#[from] ContextError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    /// A layer of the output came from an imported cache and could not be fetched.
    #[error("fetching the output's layers from the imported cache: {0}")]
    CacheFetch(#[source] Box<StepError>),
}

/// Why one step failed.
#[derive(Debug, thiserror::Error)]
pub enum StepError {
    #[error("{0}")]
    Copy(#[from] CopyError),
    #[error("{0}")]
    Inputs(#[from] InputsError),
    #[error("hashing the build context: {0}")]
    Hash(#[from] HashError),
    #[error("{0}")]
    Store(#[from] StoreError),
    #[error("{0}")]
    Snapshot(#[from] SnapshotError),
    #[error("writing the layer: {0}")]
    Layer(#[from] LayerError),
    #[error("{0}")]
    Sandbox(#[from] SandboxError),
    #[error("{op} {path}: {source}")]
    Io {
        op: &'static str,
        path: PathBuf,
        #[source]
        source: std::io::Error,
    },
    #[error("mounting {what} at {target}: {source}")]
    MountFailed {
        what: &'static str,
        target: PathBuf,
        #[source]
        source: nix::Error,
    },
    /// `FROM image` or `COPY --from=image` names an image the store does not have.
    #[error("image {reference:?} is not in the store (a build pulls missing images unless --pull=never is given; or import or load it)")]
    ImageMissing { reference: String },
    #[error("{0}")]
    WrongPlatform(String),
    #[error("process \"{command}\" did not complete successfully: {status}{tail}")]
    RunFailed {
        command: String,
        status: String,
        /// The exit code, when the process exited rather than died of a signal (Docker's
        /// classic builder reports it as the error's code).
        exit_code: Option<i32>,
        /// The last lines of output, pre-formatted (empty when there was none).
        tail: String,
    },
    #[error("{0}")]
    Mount(#[from] crate::exec::mounts::MountError),
    /// The build's network could not be given to a RUN (an unknown network, a container
    /// that is not running), as whoever resolved it said.
    #[error("{0}")]
    Network(crate::exec::step_network::NetworkFailure),
    #[error("{0}")]
    Secret(#[from] crate::exec::mounts::SecretError),
    /// A step's input is not usable: a WORKDIR through a file, a missing required secret, a
    /// mount source outside its root.
    #[error("{0}")]
    Invalid(String),
    /// A feature strata does not have (yet).
    #[error("{0}")]
    Unsupported(String),
    /// A blob of an imported cache entry could not be fetched from its source.
    #[error("fetching {digest} from the cache {source_name}: {message}")]
    CacheBlob {
        digest: crate::digest::Digest,
        source_name: String,
        message: String,
    },
    #[error("cancelled because another step failed")]
    Cancelled,
}

impl StepError {
    pub(crate) fn io(
        op: &'static str,
        path: &std::path::Path,
    ) -> impl FnOnce(std::io::Error) -> StepError {
        let path = path.to_path_buf();
        move |source| StepError::Io { op, path, source }
    }
}
