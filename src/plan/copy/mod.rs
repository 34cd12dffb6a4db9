//! COPY/ADD planning with Docker's semantics, pure over a [`SourceTree`]: [`plan_copy`] selects
//! what goes where (sources, wildcards, destinations, owners, modes) — the data cache keys are
//! made from. Writing it into a rootfs is `exec::copy`.

mod chmod;
mod dest;
pub mod detect;
mod glob;
mod plan;
mod select;
mod spec;
mod tree;

pub use chmod::{BadChmod, Chmod};
pub use dest::{dest_path, is_dir_shaped, url_file_name};
pub use detect::{detect_compression, is_tar_archive, Compression};
pub use plan::{is_url, plan_copy, PlanContext};
pub use select::{ExcludeMatcher, NoExcludes};
pub use spec::{
    ChangeKind, Changed, CopyItem, CopyRequest, Entry, EntryKind, ItemSource, MTime, Target,
};
pub use tree::{FsTree, MemTree, SourceKind, SourceMeta, SourceTree};

use crate::util::passwd::UserError;

/// Why a COPY/ADD could not be planned or applied; each variant names the path, pattern or URL
/// at fault.
#[derive(Debug, thiserror::Error)]
pub enum CopyError {
    /// A literal source (or the directory before a wildcard) does not exist in the source tree;
    /// worded like BuildKit's cache-key failure.
    #[error("failed to calculate checksum: \"/{path}\": not found")]
    NotFound { path: String },
    #[error("too many levels of symbolic links resolving {path:?}")]
    SymlinkLoop { path: String },
    #[error("invalid source pattern {pattern:?}: syntax error in pattern")]
    BadPattern { pattern: String },
    #[error("invalid --chmod value {spec:?}: expected an octal mode or chmod(1) symbolic clauses")]
    BadChmod { spec: String },
    #[error("invalid --chown {spec:?}: {err}")]
    Chown {
        spec: String,
        #[source]
        err: UserError,
    },
    #[error("When using {cmd} with more than one source file, the destination must be a directory and end with a /")]
    NeedDirDest { cmd: &'static str },
    #[error("source can't be a URL for COPY: {url}")]
    UrlInCopy { url: String },
    #[error("cannot determine a file name from URL {url:?} for a directory destination")]
    UrlNoFileName { url: String },
    #[error("no fetcher configured to download {url}")]
    NoFetcher { url: String },
    #[error("failed to fetch {url}: {message}")]
    Fetch { url: String, message: String },
    #[error("checksum can't be specified for non-HTTP(S) sources")]
    ChecksumNotRemote,
    #[error("invalid checksum {value:?}: expected sha256:<64 hex digits>")]
    BadChecksum { value: String },
    #[error("digest mismatch for {url}: expected {expected}, got {actual}")]
    ChecksumMismatch {
        url: String,
        expected: String,
        actual: String,
    },
    #[error("cannot copy to non-directory: {path}")]
    NotADirectory { path: String },
    #[error("cannot replace to directory {path} with file")]
    ReplaceDirWithFile { path: String },
    #[error("archive {source_path}: {message}")]
    Archive {
        source_path: String,
        message: String,
    },
    #[error("archive {source_path}: member {member:?} would be written outside the destination")]
    ArchiveEscape { source_path: String, member: String },
    #[error("resolving destination: {0}")]
    Resolve(String),
    #[error("{op} {path}: {err}")]
    Io {
        op: &'static str,
        path: String,
        #[source]
        err: std::io::Error,
    },
}

impl CopyError {
    pub(crate) fn io(op: &'static str, path: &str, err: std::io::Error) -> CopyError {
        CopyError::Io {
            op,
            path: path.to_string(),
            err,
        }
    }
}
