//! Parses one expanded `RUN --mount=…` value into a [`RunMount`], with BuildKit's option names,
//! aliases, defaults and checks. Pure: no I/O. A relative target is kept as written (the
//! executor joins it to the WORKDIR, as BuildKit does).

use super::values::{
    base_name, clean_path, kind_name, parse_bool, parse_id, parse_sharing, parse_size, split_csv,
};
use super::MountError;

/// One parsed `--mount`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum RunMount {
    Bind(BindMount),
    Cache(CacheMount),
    Tmpfs(TmpfsMount),
    Secret(SecretMount),
    Ssh(SshMount),
}

/// `type=bind`: files of the context, a stage or an image, read-only unless `rw`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BindMount {
    pub target: String,
    /// Path inside `from` (default `/`, its root).
    pub source: String,
    /// Stage, image or named context; `None` is the build context.
    pub from: Option<String>,
    /// Writes are allowed but discarded after the RUN (BuildKit's `rw`).
    pub readwrite: bool,
}

/// How concurrent builds share one cache mount.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Sharing {
    /// Everyone uses the same directory at once (BuildKit's default).
    Shared,
    /// A second concurrent user gets its own fresh directory.
    Private,
    /// A second concurrent user waits until the first is done.
    Locked,
}

/// `type=cache`: a directory that persists across builds in the store.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CacheMount {
    /// Identity of the cache (default: the cleaned target).
    pub id: String,
    pub target: String,
    pub sharing: Sharing,
    /// Stage or image whose files seed a new cache directory.
    pub from: Option<String>,
    /// Path inside `from` to seed from.
    pub source: Option<String>,
    /// Mode, owner and group of a newly created cache directory.
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
    pub readonly: bool,
}

/// `type=tmpfs`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TmpfsMount {
    pub target: String,
    /// Size limit in bytes; `None` is the kernel default.
    pub size: Option<u64>,
}

/// `type=secret`: a `--secret` value as a file and/or an environment variable.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SecretMount {
    /// The `--secret` id (default: the base name of the target).
    pub id: String,
    /// File to create (default `/run/secrets/<base name of id>`; `None` when only `env` is
    /// asked, as BuildKit then mounts no file).
    pub target: Option<String>,
    /// Environment variable to set to the secret's value.
    pub env: Option<String>,
    /// Fail the RUN when the secret was not provided (default: skip the mount).
    pub required: bool,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// `type=ssh`: an SSH agent socket forwarded from the host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SshMount {
    /// The `--ssh` id (default `default`).
    pub id: String,
    /// Socket path; `None` means BuildKit's `/run/buildkit/ssh_agent.<n>`, where `n` counts
    /// the RUN's ssh mounts, so only the executor can fill it in.
    pub target: Option<String>,
    pub required: bool,
    pub mode: u32,
    pub uid: u32,
    pub gid: u32,
}

/// The fields of a spec before the kind decides what they mean; a repeated key keeps its last
/// value, as in BuildKit.
#[derive(Default)]
struct Fields {
    kind: Option<&'static str>,
    target: Option<String>,
    source: Option<String>,
    from: Option<String>,
    id: Option<String>,
    env: Option<String>,
    readonly: Option<bool>,
    required: Option<bool>,
    sharing: Option<Sharing>,
    size: Option<u64>,
    mode: Option<u32>,
    uid: Option<u32>,
    gid: Option<u32>,
}

/// Parses an expanded `--mount` value such as `type=cache,target=/root/.cache,sharing=locked`.
pub fn parse_mount(spec: &str) -> Result<RunMount, MountError> {
    let mut f = Fields::default();
    if spec.is_empty() {
        return Err(MountError::Empty);
    }
    let fields = split_csv(spec).ok_or_else(|| MountError::Quote {
        spec: spec.to_string(),
    })?;
    for field in fields {
        let (key, value) = match field.split_once('=') {
            Some((k, v)) => (k.to_ascii_lowercase(), Some(v.to_string())),
            None => (field.to_ascii_lowercase(), None),
        };
        let Some(value) = value else {
            // Only the boolean options may stand alone, meaning true.
            match key.as_str() {
                "readonly" | "ro" => f.readonly = Some(true),
                "readwrite" | "rw" => f.readonly = Some(false),
                "required" => f.required = Some(true),
                _ => return Err(MountError::NotKeyValue { field }),
            }
            continue;
        };
        match key.as_str() {
            "type" => f.kind = Some(kind_name(&value)?),
            "target" | "dst" | "destination" => f.target = Some(value),
            "source" | "src" => f.source = Some(value),
            "from" => f.from = Some(value),
            "id" => f.id = Some(value),
            "env" => f.env = Some(value),
            "readonly" | "ro" => f.readonly = Some(parse_bool(&key, &value)?),
            "readwrite" | "rw" => f.readonly = Some(!parse_bool(&key, &value)?),
            "required" => f.required = Some(parse_bool(&key, &value)?),
            "sharing" => f.sharing = Some(parse_sharing(&value)?),
            "size" => f.size = Some(parse_size(&value)?),
            "mode" => {
                f.mode =
                    Some(u32::from_str_radix(&value, 8).map_err(|_| MountError::Mode { value })?)
            }
            "uid" => f.uid = Some(parse_id("uid", value)?),
            "gid" => f.gid = Some(parse_id("gid", value)?),
            _ => return Err(MountError::UnknownOption { key }),
        }
    }
    build(f)
}

/// Checks the fields against the kind and applies BuildKit's defaults. Options BuildKit
/// accepts and ignores for a kind (`id` on a bind, `ro` on a secret) are ignored here too.
fn build(f: Fields) -> Result<RunMount, MountError> {
    let kind = f.kind.unwrap_or("bind");
    let not_allowed = |key: &str| MountError::NotAllowed {
        key: key.to_string(),
        kind,
    };
    let file_info = matches!(kind, "cache" | "secret" | "ssh");
    for (key, set) in [
        ("mode", f.mode.is_some()),
        ("uid", f.uid.is_some()),
        ("gid", f.gid.is_some()),
    ] {
        if set && !file_info {
            return Err(not_allowed(key));
        }
    }
    if f.required.is_some() && !matches!(kind, "secret" | "ssh") {
        return Err(not_allowed("required"));
    }
    if f.size.is_some() && kind != "tmpfs" {
        return Err(not_allowed("size"));
    }
    if f.sharing.is_some() && kind != "cache" {
        return Err(not_allowed("sharing"));
    }
    let target = match f.target.filter(|t| !t.is_empty()) {
        Some(t) if clean_path(&t) == "/" => return Err(MountError::RootTarget { target: t }),
        t => t,
    };
    let need_target = || target.clone().ok_or(MountError::NeedsTarget { kind });
    let nonempty = |v: Option<String>| v.filter(|s| !s.is_empty());
    Ok(match kind {
        "bind" => RunMount::Bind(BindMount {
            target: need_target()?,
            source: nonempty(f.source).unwrap_or_else(|| "/".to_string()),
            from: nonempty(f.from),
            readwrite: f.readonly == Some(false),
        }),
        "cache" => {
            let target = need_target()?;
            RunMount::Cache(CacheMount {
                id: nonempty(f.id).unwrap_or_else(|| clean_path(&target)),
                target,
                sharing: f.sharing.unwrap_or(Sharing::Shared),
                from: nonempty(f.from),
                source: nonempty(f.source),
                mode: f.mode.unwrap_or(0o755),
                uid: f.uid.unwrap_or(0),
                gid: f.gid.unwrap_or(0),
                readonly: f.readonly == Some(true),
            })
        }
        "tmpfs" => RunMount::Tmpfs(TmpfsMount {
            target: need_target()?,
            size: f.size.filter(|&s| s > 0),
        }),
        "secret" => {
            if f.from.is_some() {
                return Err(not_allowed("from"));
            }
            let id = match (nonempty(f.source), nonempty(f.id)) {
                (Some(source_id), Some(id)) => {
                    return Err(MountError::SecretSourceAndId { source_id, id })
                }
                (Some(id), None) | (None, Some(id)) => id,
                (None, None) => base_name(target.as_deref().ok_or(MountError::SecretNeedsId)?),
            };
            let env = nonempty(f.env);
            let target = match (target, &env) {
                (Some(t), _) => Some(t),
                (None, Some(_)) => None,
                (None, None) => Some(format!("/run/secrets/{}", base_name(&id))),
            };
            RunMount::Secret(SecretMount {
                id,
                target,
                env,
                required: f.required.unwrap_or(false),
                mode: f.mode.unwrap_or(0o400),
                uid: f.uid.unwrap_or(0),
                gid: f.gid.unwrap_or(0),
            })
        }
        "ssh" => {
            if f.source.is_some() {
                return Err(not_allowed("source"));
            }
            RunMount::Ssh(SshMount {
                id: nonempty(f.id).unwrap_or_else(|| "default".to_string()),
                target,
                required: f.required.unwrap_or(false),
                mode: f.mode.unwrap_or(0o600),
                uid: f.uid.unwrap_or(0),
                gid: f.gid.unwrap_or(0),
            })
        }
        _ => unreachable!("kind_name only returns known kinds"),
    })
}
