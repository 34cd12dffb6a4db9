//! RUN `--mount` support outside the sandbox: parsing a mount spec into a [`RunMount`], the
//! build's `--secret` values ([`Secrets`]) and the persistent cache-mount directories of the
//! store ([`acquire`]).

mod cache_dirs;
mod secrets;
mod spec;
#[cfg(test)]
mod spec_tests;
mod values;

use std::path::PathBuf;

pub use cache_dirs::{acquire, acquire_seeded, cache_mount_dirs, CacheDirGuard, CACHE_MOUNTS_DIR};
pub use secrets::{
    parse_secret_flag, SecretError, SecretFrom, SecretSource, SecretValue, Secrets, MAX_SECRET_SIZE,
};
pub use spec::{
    parse_mount, BindMount, CacheMount, RunMount, SecretMount, Sharing, SshMount, TmpfsMount,
};
pub use values::parse_size;

/// A `--mount` value that cannot be used, or a cache-mount directory that cannot be set up.
#[derive(Debug, thiserror::Error)]
pub enum MountError {
    #[error("empty mount spec")]
    Empty,
    #[error("misplaced quote in mount spec {spec:?}")]
    Quote { spec: String },
    #[error("mount option {field:?} must be a key=value pair")]
    NotKeyValue { field: String },
    #[error("unknown mount option {key:?}")]
    UnknownOption { key: String },
    #[error("unsupported mount type {value:?}: expected bind, cache, tmpfs, secret or ssh")]
    UnknownType { value: String },
    #[error("mount option {key:?} is not allowed for type={kind}")]
    NotAllowed { key: String, kind: &'static str },
    #[error("invalid value {value:?} for mount option {key:?}: expected true or false")]
    Bool { key: String, value: String },
    #[error("invalid mode {value:?}: expected an octal number such as 0755")]
    Mode { value: String },
    #[error("invalid {key} {value:?}: expected a decimal number")]
    Id { key: &'static str, value: String },
    #[error(
        "invalid tmpfs size {value:?}: expected bytes or a number with a k, m, g, t or p suffix"
    )]
    Size { value: String },
    #[error("invalid sharing mode {value:?}: expected shared, private or locked")]
    Sharing { value: String },
    #[error("mount type={kind} needs a target")]
    NeedsTarget { kind: &'static str },
    #[error("invalid mount target {target:?}: cannot mount over /")]
    RootTarget { target: String },
    #[error("mount type=secret needs an id, a source or a target")]
    SecretNeedsId,
    #[error(
        "mount type=secret sets both source {source_id:?} and id {id:?} (source is an alias of id)"
    )]
    SecretSourceAndId { source_id: String, id: String },
    #[error("cache mount {id:?}: {op} {}: {source}", path.display())]
    CacheIo {
        id: String,
        op: &'static str,
        path: PathBuf,
        source: std::io::Error,
    },
}
