//! `--cache-to` and `--cache-from` values as the user wrote them, parsed into types: BuildKit's
//! `type=registry,ref=REF[,mode=min|max]`, `type=local,dest=DIR` / `type=local,src=DIR`,
//! `type=inline`, and a bare `REF` for `--cache-from` (Docker's shorthand for a registry ref).

use std::path::PathBuf;

/// Which steps an export carries.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Mode {
    /// The output image's steps only (BuildKit's default).
    #[default]
    Min,
    /// Every step of every stage the build ran.
    Max,
}

/// Where `--cache-to` writes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheTo {
    Registry {
        reference: String,
        mode: Mode,
        cache_mounts: bool,
    },
    Local {
        dir: PathBuf,
        mode: Mode,
        cache_mounts: bool,
    },
    /// The metadata goes into the image config; the image's own layers are the blobs.
    Inline,
}

/// Where `--cache-from` reads.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CacheFrom {
    /// A cache artifact or an image with inline cache metadata.
    Registry {
        reference: String,
    },
    Local {
        dir: PathBuf,
    },
}

/// A value that is not a cache spec.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum SpecError {
    #[error("{spec:?}: missing type= (registry, local or inline)")]
    NoType { spec: String },
    #[error("{spec:?}: unknown type {kind:?} (registry, local or inline)")]
    UnknownType { spec: String, kind: String },
    #[error("{spec:?}: {field} is required")]
    Missing { spec: String, field: &'static str },
    #[error("{spec:?}: invalid {field} value {value:?}")]
    BadValue {
        spec: String,
        field: String,
        value: String,
    },
    #[error("{spec:?}: unknown field {field:?}")]
    UnknownField { spec: String, field: String },
}

/// The `k=v` fields of a spec, in order; a field without `=` is an error.
fn fields(spec: &str) -> Result<Vec<(&str, &str)>, SpecError> {
    spec.split(',')
        .filter(|f| !f.is_empty())
        .map(|f| {
            f.split_once('=').ok_or_else(|| SpecError::UnknownField {
                spec: spec.to_string(),
                field: f.to_string(),
            })
        })
        .collect()
}

fn bool_value(spec: &str, field: &str, v: &str) -> Result<bool, SpecError> {
    match v {
        "true" | "1" => Ok(true),
        "false" | "0" => Ok(false),
        _ => Err(SpecError::BadValue {
            spec: spec.to_string(),
            field: field.to_string(),
            value: v.to_string(),
        }),
    }
}

struct Parsed<'a> {
    kind: &'a str,
    reference: Option<&'a str>,
    src: Option<&'a str>,
    dest: Option<&'a str>,
    mode: Mode,
    cache_mounts: bool,
}

fn parse(spec: &str) -> Result<Parsed<'_>, SpecError> {
    let mut p = Parsed {
        kind: "",
        reference: None,
        src: None,
        dest: None,
        mode: Mode::Min,
        cache_mounts: false,
    };
    for (k, v) in fields(spec)? {
        match k {
            "type" => p.kind = v,
            "ref" => p.reference = Some(v),
            "src" => p.src = Some(v),
            "dest" => p.dest = Some(v),
            "mode" => {
                p.mode = match v {
                    "min" => Mode::Min,
                    "max" => Mode::Max,
                    _ => {
                        return Err(SpecError::BadValue {
                            spec: spec.into(),
                            field: k.into(),
                            value: v.into(),
                        })
                    }
                }
            }
            "cache-mounts" => p.cache_mounts = bool_value(spec, k, v)?,
            // BuildKit fields that change nothing here: layers go as they are stored.
            "compression" | "compression-level" | "force-compression" | "oci-mediatypes"
            | "ignore-error" | "image-manifest" => {}
            _ => {
                return Err(SpecError::UnknownField {
                    spec: spec.into(),
                    field: k.into(),
                })
            }
        }
    }
    if p.kind.is_empty() {
        return Err(SpecError::NoType { spec: spec.into() });
    }
    Ok(p)
}

fn required<'a>(spec: &str, v: Option<&'a str>, field: &'static str) -> Result<&'a str, SpecError> {
    v.filter(|s| !s.is_empty()).ok_or(SpecError::Missing {
        spec: spec.to_string(),
        field,
    })
}

/// Parses a `--cache-to` value.
pub fn parse_cache_to(spec: &str) -> Result<CacheTo, SpecError> {
    let p = parse(spec)?;
    match p.kind {
        "registry" => Ok(CacheTo::Registry {
            reference: required(spec, p.reference, "ref")?.to_string(),
            mode: p.mode,
            cache_mounts: p.cache_mounts,
        }),
        "local" => Ok(CacheTo::Local {
            dir: PathBuf::from(required(spec, p.dest, "dest")?),
            mode: p.mode,
            cache_mounts: p.cache_mounts,
        }),
        "inline" => Ok(CacheTo::Inline),
        other => Err(SpecError::UnknownType {
            spec: spec.into(),
            kind: other.into(),
        }),
    }
}

/// Parses a `--cache-from` value; one without `=` is a registry reference.
pub fn parse_cache_from(spec: &str) -> Result<CacheFrom, SpecError> {
    if !spec.contains('=') {
        return Ok(CacheFrom::Registry {
            reference: spec.to_string(),
        });
    }
    let p = parse(spec)?;
    match p.kind {
        "registry" => Ok(CacheFrom::Registry {
            reference: required(spec, p.reference, "ref")?.to_string(),
        }),
        "local" => Ok(CacheFrom::Local {
            dir: PathBuf::from(required(spec, p.src, "src")?),
        }),
        other => Err(SpecError::UnknownType {
            spec: spec.into(),
            kind: other.into(),
        }),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cache_to_specs() {
        let reg = |r: &str, mode, cache_mounts| CacheTo::Registry {
            reference: r.into(),
            mode,
            cache_mounts,
        };
        for (spec, want) in [
            (
                "type=registry,ref=h:5000/c:1",
                Ok(reg("h:5000/c:1", Mode::Min, false)),
            ),
            (
                "type=registry,ref=h/c,mode=max,cache-mounts=true",
                Ok(reg("h/c", Mode::Max, true)),
            ),
            (
                "type=registry,ref=h/c,mode=min,compression=zstd",
                Ok(reg("h/c", Mode::Min, false)),
            ),
            (
                "type=local,dest=/ci/cache,mode=max",
                Ok(CacheTo::Local {
                    dir: "/ci/cache".into(),
                    mode: Mode::Max,
                    cache_mounts: false,
                }),
            ),
            ("type=inline", Ok(CacheTo::Inline)),
            (
                "type=registry",
                Err(SpecError::Missing {
                    spec: "type=registry".into(),
                    field: "ref",
                }),
            ),
            (
                "type=local,src=/x",
                Err(SpecError::Missing {
                    spec: "type=local,src=/x".into(),
                    field: "dest",
                }),
            ),
            (
                "type=gha",
                Err(SpecError::UnknownType {
                    spec: "type=gha".into(),
                    kind: "gha".into(),
                }),
            ),
            (
                "ref=x",
                Err(SpecError::NoType {
                    spec: "ref=x".into(),
                }),
            ),
            (
                "type=registry,ref=x,mode=all",
                Err(SpecError::BadValue {
                    spec: "type=registry,ref=x,mode=all".into(),
                    field: "mode".into(),
                    value: "all".into(),
                }),
            ),
            (
                "type=inline,nope=1",
                Err(SpecError::UnknownField {
                    spec: "type=inline,nope=1".into(),
                    field: "nope".into(),
                }),
            ),
        ] {
            assert_eq!(parse_cache_to(spec), want, "{spec}");
        }
    }

    #[test]
    fn cache_from_specs() {
        for (spec, want) in [
            (
                "type=registry,ref=h:5000/c",
                Ok(CacheFrom::Registry {
                    reference: "h:5000/c".into(),
                }),
            ),
            (
                "h:5000/app:latest",
                Ok(CacheFrom::Registry {
                    reference: "h:5000/app:latest".into(),
                }),
            ),
            (
                "type=local,src=/ci/cache",
                Ok(CacheFrom::Local {
                    dir: "/ci/cache".into(),
                }),
            ),
            (
                "type=local,dest=/x",
                Err(SpecError::Missing {
                    spec: "type=local,dest=/x".into(),
                    field: "src",
                }),
            ),
            (
                "type=inline",
                Err(SpecError::UnknownType {
                    spec: "type=inline".into(),
                    kind: "inline".into(),
                }),
            ),
        ] {
            assert_eq!(parse_cache_from(spec), want, "{spec}");
        }
    }
}
