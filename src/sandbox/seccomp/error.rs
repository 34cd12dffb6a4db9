//! `SeccompError`: everything that can go wrong reading a profile or compiling it to BPF.

/// A profile that cannot be read, or cannot be turned into BPF for this machine.
#[derive(Debug, thiserror::Error)]
pub enum SeccompError {
    /// The text is not JSON at all; serde_json's message carries the line and column.
    #[error("seccomp profile is not valid JSON: {0}")]
    Json(#[source] serde_json::Error),

    /// The JSON is well-formed but one field is wrong. `path` is written the way a reader
    /// finds it in the file, e.g. `syscalls[3].args[0].op`.
    #[error("seccomp profile field `{path}`: {problem}")]
    Field { path: String, problem: String },

    /// The running kernel's release string could not be read as `major.minor[.patch]`,
    /// which `minKernel` conditions need.
    #[error("cannot read the kernel version from uname release {release:?}")]
    KernelVersion { release: String },

    /// strata only carries syscall tables for x86_64 and aarch64.
    #[error("seccomp filtering is not supported on the {0} architecture")]
    UnsupportedArch(&'static str),

    /// The profile needs a longer BPF program than the kernel accepts.
    #[error(
        "the seccomp profile compiles to {len} BPF instructions; the kernel takes at most {max}"
    )]
    TooLong { len: usize, max: usize },
}
