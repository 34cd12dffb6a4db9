//! `strata build --secret`: parsing the flag as `docker build` does, and [`Secrets`], the
//! build's secret values by id, read on first use and wiped from memory when dropped.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fmt;
use std::io::Read;
use std::os::unix::ffi::OsStringExt;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use super::values::split_csv;

/// BuildKit refuses secrets larger than this.
pub const MAX_SECRET_SIZE: u64 = 500 * 1024;

/// A `--secret` flag that cannot be used, or a secret that cannot be read.
#[derive(Debug, thiserror::Error)]
pub enum SecretError {
    #[error("--secret {flag:?}: misplaced quote")]
    Quote { flag: String },
    #[error("--secret {flag:?}: field {field:?} must be a key=value pair")]
    NotKeyValue { flag: String, field: String },
    #[error("--secret {flag:?}: unknown key {key:?}: expected id, type, src, source or env")]
    UnknownKey { flag: String, key: String },
    #[error("--secret {flag:?}: unsupported type {value:?}: expected file or env")]
    Type { flag: String, value: String },
    #[error("--secret {flag:?}: needs an id (or a src or env to name it after)")]
    MissingId { flag: String },
    #[error("--secret {flag:?}: sets both a file and an environment variable")]
    FileAndEnv { flag: String },
    #[error("secret {id:?}: cannot read {}: {source}", path.display())]
    Read {
        id: String,
        path: PathBuf,
        source: std::io::Error,
    },
    #[error("secret {id:?} is {size} bytes: the limit is {MAX_SECRET_SIZE}")]
    TooBig { id: String, size: u64 },
}

/// Where one secret's value comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SecretFrom {
    File(PathBuf),
    Env(String),
    /// `--secret id=KEY` alone: the environment variable `KEY` when it is set, else the file
    /// `KEY` (BuildKit's rule, decided when [`Secrets`] is built).
    EnvOrFile,
}

/// One parsed `--secret` flag.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretSource {
    pub id: String,
    pub from: SecretFrom,
}

/// Parses `id=x,src=FILE`, `id=x,env=VAR`, `id=x`, `type=env,id=x,src=VAR`, `env=VAR` (id
/// `VAR`) or `src=path/FILE` (id `FILE`), as `docker build --secret` does. Keys are
/// case-insensitive and values may be quoted as in CSV.
pub fn parse_secret_flag(flag: &str) -> Result<SecretSource, SecretError> {
    let (mut id, mut src, mut env, mut kind) = (None, None, None, None);
    let fields = split_csv(flag).ok_or_else(|| SecretError::Quote {
        flag: flag.to_string(),
    })?;
    for field in fields {
        let (key, value) = field
            .split_once('=')
            .ok_or_else(|| SecretError::NotKeyValue {
                flag: flag.to_string(),
                field: field.clone(),
            })?;
        let value = Some(value.to_string()).filter(|v| !v.is_empty());
        match key.to_ascii_lowercase().as_str() {
            "id" => id = value,
            "src" | "source" => src = value,
            "env" => env = value,
            "type" => match value.as_deref() {
                Some("file") => kind = Some("file"),
                Some("env") => kind = Some("env"),
                _ => {
                    return Err(SecretError::Type {
                        flag: flag.to_string(),
                        value: value.unwrap_or_default(),
                    })
                }
            },
            other => {
                return Err(SecretError::UnknownKey {
                    flag: flag.to_string(),
                    key: other.to_string(),
                })
            }
        }
    }
    // With type=env, `src` names the variable (buildx).
    if kind == Some("env") && env.is_none() {
        env = src.take();
    }
    if src.is_some() && env.is_some() {
        return Err(SecretError::FileAndEnv {
            flag: flag.to_string(),
        });
    }
    let base = |p: &str| {
        Path::new(p)
            .file_name()
            .map(|n| n.to_string_lossy().into_owned())
    };
    let id = id
        .or_else(|| env.clone())
        .or_else(|| src.as_deref().and_then(base))
        .ok_or_else(|| SecretError::MissingId {
            flag: flag.to_string(),
        })?;
    let from = match (src, env, kind) {
        (Some(path), _, _) => SecretFrom::File(path.into()),
        (None, Some(var), _) => SecretFrom::Env(var),
        (None, None, Some("env")) => SecretFrom::Env(id.clone()),
        (None, None, Some(_)) => SecretFrom::File(id.clone().into()),
        (None, None, None) => SecretFrom::EnvOrFile,
    };
    Ok(SecretSource { id, from })
}

/// A secret's bytes: never printed by `Debug`, overwritten with zeros when dropped.
#[derive(Clone, PartialEq, Eq)]
pub struct SecretValue(Vec<u8>);

impl SecretValue {
    pub fn new(bytes: Vec<u8>) -> Self {
        SecretValue(bytes)
    }

    pub fn as_bytes(&self) -> &[u8] {
        &self.0
    }
}

impl fmt::Debug for SecretValue {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SecretValue(<{} bytes redacted>)", self.0.len())
    }
}

impl Drop for SecretValue {
    fn drop(&mut self) {
        for b in self.0.iter_mut() {
            // SAFETY: `b` is a valid, aligned, exclusive reference into the vector; a volatile
            // write keeps the compiler from dropping the wipe of memory about to be freed.
            unsafe { std::ptr::write_volatile(b, 0) };
        }
        std::sync::atomic::compiler_fence(std::sync::atomic::Ordering::SeqCst);
    }
}

/// Looks up an environment variable (the process environment, or a fixed map in tests).
type EnvLookup = Box<dyn Fn(&str) -> Option<OsString> + Send + Sync>;

/// The build's secrets by id. Values are read on first [`Secrets::get`] and kept for the rest
/// of the build, so every RUN sees the same value.
pub struct Secrets {
    sources: HashMap<String, (SecretFrom, OnceLock<SecretValue>)>,
    env: EnvLookup,
}

impl fmt::Debug for Secrets {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut ids: Vec<_> = self.sources.keys().collect();
        ids.sort();
        f.debug_struct("Secrets").field("ids", &ids).finish()
    }
}

impl Secrets {
    /// Secrets read from the process environment and files. A later flag with the same id
    /// replaces an earlier one, as in Docker.
    pub fn new(flags: Vec<SecretSource>) -> Self {
        Self::with_env(flags, Box::new(|k| std::env::var_os(k)))
    }

    /// Like [`Secrets::new`] with another environment (tests; a daemon with a client env).
    pub fn with_env(flags: Vec<SecretSource>, env: EnvLookup) -> Self {
        let mut sources = HashMap::new();
        for SecretSource { id, from } in flags {
            let from = match from {
                SecretFrom::EnvOrFile if env(&id).is_some() => SecretFrom::Env(id.clone()),
                SecretFrom::EnvOrFile => SecretFrom::File(id.clone().into()),
                other => other,
            };
            sources.insert(id, (from, OnceLock::new()));
        }
        Secrets { sources, env }
    }

    /// Whether `--secret` provided `id` (a RUN's `required` mount fails without it).
    pub fn contains(&self, id: &str) -> bool {
        self.sources.contains_key(id)
    }

    /// The value of secret `id`, `None` when no `--secret` provided it. An `env=` variable that
    /// is unset reads as empty, as in Docker.
    pub fn get(&self, id: &str) -> Result<Option<SecretValue>, SecretError> {
        let Some((from, cell)) = self.sources.get(id) else {
            return Ok(None);
        };
        if let Some(v) = cell.get() {
            return Ok(Some(v.clone()));
        }
        let value = match from {
            SecretFrom::Env(var) => {
                SecretValue::new((self.env)(var).map(OsString::into_vec).unwrap_or_default())
            }
            SecretFrom::File(path) => read_file(id, path)?,
            SecretFrom::EnvOrFile => unreachable!("resolved in Secrets::with_env"),
        };
        let size = value.as_bytes().len() as u64;
        if size > MAX_SECRET_SIZE {
            return Err(SecretError::TooBig {
                id: id.to_string(),
                size,
            });
        }
        // Two threads may both read; either value is the same secret, and the loser's copy is
        // wiped when dropped.
        Ok(Some(cell.get_or_init(|| value).clone()))
    }
}

/// Reads at most one byte past the limit into a buffer sized from the file's length, so the
/// vector (almost) never reallocates and leaves unwiped copies behind.
fn read_file(id: &str, path: &Path) -> Result<SecretValue, SecretError> {
    let err = |source| SecretError::Read {
        id: id.to_string(),
        path: path.to_path_buf(),
        source,
    };
    let file = std::fs::File::open(path).map_err(err)?;
    let len = file.metadata().map_err(err)?.len().min(MAX_SECRET_SIZE);
    let mut buf = SecretValue::new(Vec::with_capacity(len as usize + 1));
    file.take(MAX_SECRET_SIZE + 1)
        .read_to_end(&mut buf.0)
        .map_err(err)?;
    Ok(buf)
}

#[cfg(test)]
#[path = "secrets_tests.rs"]
mod tests;
