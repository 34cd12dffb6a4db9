//! `-v SRC:DST[:OPTS]` and `--mount type=…,…` parsed into `MountSpec`s, as Docker reads them.
//! Pure: whether a bind source exists is checked when the container is created.

use std::path::{Component, Path, PathBuf};

use super::error::ContainerError;
use super::record::MountSpec;

fn bad(spec: &str, reason: impl Into<String>) -> ContainerError {
    ContainerError::BadMount {
        spec: spec.to_string(),
        reason: reason.into(),
    }
}

/// A container path: absolute, and `..` would be meaningless.
fn target(spec: &str, t: &str) -> Result<PathBuf, ContainerError> {
    let p = Path::new(t);
    if !p.is_absolute() {
        return Err(bad(
            spec,
            format!("destination {t:?} is not an absolute path"),
        ));
    }
    if p.components().any(|c| c == Component::ParentDir) {
        return Err(bad(spec, format!("destination {t:?} contains \"..\"")));
    }
    if p == Path::new("/") {
        return Err(bad(spec, "destination can't be \"/\""));
    }
    Ok(p.to_path_buf())
}

/// `-v`: `SRC:DST[:ro|rw]` (SRC a host path when it starts with `/` or `.`, else a volume
/// name) or just `DST` (an anonymous volume). Relative host paths are made absolute against
/// `cwd`.
pub fn parse_volume_flag(spec: &str, cwd: &Path) -> Result<MountSpec, ContainerError> {
    let parts: Vec<&str> = spec.split(':').collect();
    let (src, dst, opts) = match parts.as_slice() {
        [dst] => (None, *dst, None),
        [src, dst] => (Some(*src), *dst, None),
        [src, dst, opts] => (Some(*src), *dst, Some(*opts)),
        _ => return Err(bad(spec, "too many colons")),
    };
    let mut readonly = false;
    for o in opts.unwrap_or("").split(',').filter(|o| !o.is_empty()) {
        match o {
            "ro" | "readonly" => readonly = true,
            "rw" => readonly = false,
            // Propagation and SELinux labels have no effect here; Docker accepts them.
            "z" | "Z" | "private" | "rprivate" | "slave" | "rslave" | "shared" | "rshared"
            | "nocopy" => {}
            other => return Err(bad(spec, format!("unknown option {other:?}"))),
        }
    }
    let target = target(spec, dst)?;
    match src {
        None => Ok(MountSpec::Volume {
            name: None,
            target,
            readonly,
        }),
        Some("") => Err(bad(spec, "empty source")),
        Some(s) if s.starts_with('/') || s.starts_with('.') => Ok(MountSpec::Bind {
            source: cwd.join(s),
            target,
            readonly,
        }),
        Some(name) => {
            if !volume_name_ok(name) {
                return Err(bad(spec, format!("{name:?} is not a valid volume name")));
            }
            Ok(MountSpec::Volume {
                name: Some(name.to_string()),
                target,
                readonly,
            })
        }
    }
}

fn volume_name_ok(name: &str) -> bool {
    let b = name.as_bytes();
    b.len() >= 2
        && b[0].is_ascii_alphanumeric()
        && b.iter()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, b'_' | b'.' | b'-'))
}

/// `--mount type=bind|volume|tmpfs,source=…,target=…[,readonly][,tmpfs-size=…]`.
pub fn parse_mount_flag(spec: &str, cwd: &Path) -> Result<MountSpec, ContainerError> {
    let mut kind = None;
    let mut source = None;
    let mut dest = None;
    let mut readonly = false;
    let mut size = None;
    for field in spec.split(',') {
        let (k, v) = match field.split_once('=') {
            Some((k, v)) => (k, Some(v)),
            None => (field, None),
        };
        match (k, v) {
            ("type", Some(v)) => kind = Some(v),
            ("source" | "src", Some(v)) => source = Some(v),
            ("target" | "destination" | "dst", Some(v)) => dest = Some(v),
            ("readonly" | "ro", None) => readonly = true,
            ("readonly" | "ro", Some(v)) => {
                readonly = match v {
                    "true" | "1" => true,
                    "false" | "0" => false,
                    _ => return Err(bad(spec, format!("invalid readonly value {v:?}"))),
                }
            }
            ("tmpfs-size", Some(v)) => {
                size = Some(parse_size(v).ok_or_else(|| bad(spec, format!("invalid size {v:?}")))?)
            }
            ("tmpfs-mode" | "bind-propagation" | "consistency" | "volume-nocopy", _) => {}
            _ => return Err(bad(spec, format!("unexpected field {field:?}"))),
        }
    }
    let dest = dest.ok_or_else(|| bad(spec, "target is required"))?;
    let target = target(spec, dest)?;
    match kind.unwrap_or("volume") {
        "bind" => {
            let s = source.ok_or_else(|| bad(spec, "source is required for a bind mount"))?;
            if s.is_empty() {
                return Err(bad(spec, "empty source"));
            }
            Ok(MountSpec::Bind {
                source: cwd.join(s),
                target,
                readonly,
            })
        }
        "volume" => {
            let name = match source {
                None | Some("") => None,
                Some(n) if volume_name_ok(n) => Some(n.to_string()),
                Some(n) => return Err(bad(spec, format!("{n:?} is not a valid volume name"))),
            };
            Ok(MountSpec::Volume {
                name,
                target,
                readonly,
            })
        }
        "tmpfs" => {
            if source.is_some() {
                return Err(bad(spec, "a tmpfs mount takes no source"));
            }
            Ok(MountSpec::Tmpfs {
                target,
                size_bytes: size,
            })
        }
        other => Err(bad(spec, format!("unknown mount type {other:?}"))),
    }
}

/// `1024`, `64k`, `10m`, `1g` (powers of 1024, as Docker's `tmpfs-size`).
pub fn parse_size(s: &str) -> Option<u64> {
    let s = s.trim().to_ascii_lowercase();
    let s = s.strip_suffix('b').unwrap_or(&s);
    let (num, mult) = match s.chars().last()? {
        'k' => (&s[..s.len() - 1], 1u64 << 10),
        'm' => (&s[..s.len() - 1], 1 << 20),
        'g' => (&s[..s.len() - 1], 1 << 30),
        _ => (s, 1),
    };
    num.parse::<u64>().ok()?.checked_mul(mult)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bind(s: &str, t: &str, ro: bool) -> MountSpec {
        MountSpec::Bind {
            source: s.into(),
            target: t.into(),
            readonly: ro,
        }
    }
    fn vol(n: Option<&str>, t: &str, ro: bool) -> MountSpec {
        MountSpec::Volume {
            name: n.map(String::from),
            target: t.into(),
            readonly: ro,
        }
    }

    #[test]
    fn volume_flags() {
        let cwd = Path::new("/work");
        let ok: &[(&str, MountSpec)] = &[
            ("/h:/c", bind("/h", "/c", false)),
            ("/h:/c:ro", bind("/h", "/c", true)),
            ("/h:/c:rw,z", bind("/h", "/c", false)),
            ("./d:/c", bind("/work/./d", "/c", false)),
            ("data:/var/lib/x", vol(Some("data"), "/var/lib/x", false)),
            ("data:/x:ro", vol(Some("data"), "/x", true)),
            ("/anon", vol(None, "/anon", false)),
        ];
        for (spec, want) in ok {
            assert_eq!(&parse_volume_flag(spec, cwd).unwrap(), want, "{spec}");
        }
        for spec in [
            "/h:c",
            "/h:/c:bogus",
            "a:b:c:d",
            ":/c",
            "/h:/",
            "/h:/a/../b",
            "x:/c",
            "rel",
        ] {
            assert!(parse_volume_flag(spec, cwd).is_err(), "{spec}");
        }
    }

    #[test]
    fn mount_flags() {
        let cwd = Path::new("/w");
        let ok: &[(&str, MountSpec)] = &[
            ("type=bind,source=/h,target=/c", bind("/h", "/c", false)),
            ("type=bind,src=/h,dst=/c,readonly", bind("/h", "/c", true)),
            ("type=bind,src=/h,dst=/c,ro=false", bind("/h", "/c", false)),
            ("type=volume,src=v1,dst=/d", vol(Some("v1"), "/d", false)),
            ("target=/d", vol(None, "/d", false)),
            (
                "type=tmpfs,dst=/t,tmpfs-size=64m",
                MountSpec::Tmpfs {
                    target: "/t".into(),
                    size_bytes: Some(64 << 20),
                },
            ),
        ];
        for (spec, want) in ok {
            assert_eq!(&parse_mount_flag(spec, cwd).unwrap(), want, "{spec}");
        }
        for spec in [
            "type=bind,target=/c",
            "type=bind,source=/h",
            "type=nfs,src=/h,dst=/c",
            "type=tmpfs,src=/x,dst=/t",
            "type=tmpfs,dst=/t,tmpfs-size=lots",
            "type=bind,src=/h,dst=/c,colour=red",
            "type=bind,src=/h,dst=rel",
            "type=bind,src=/h,dst=/c,ro=maybe",
        ] {
            assert!(parse_mount_flag(spec, cwd).is_err(), "{spec}");
        }
    }

    #[test]
    fn sizes() {
        assert_eq!(parse_size("1024"), Some(1024));
        assert_eq!(parse_size("64k"), Some(65536));
        assert_eq!(parse_size("2G"), Some(2 << 30));
        assert_eq!(parse_size("1mb"), Some(1 << 20));
        assert_eq!(parse_size("x"), None);
        assert_eq!(parse_size(""), None);
    }
}
