//! The small value syntaxes of `--mount` and `--secret`, as BuildKit reads them: a CSV record,
//! Go's booleans, decimal ids, tmpfs sizes, sharing modes and Go's `path` helpers. Pure.

use super::{MountError, Sharing};

pub(super) fn kind_name(value: &str) -> Result<&'static str, MountError> {
    let lower = value.to_ascii_lowercase();
    ["bind", "cache", "tmpfs", "secret", "ssh"]
        .into_iter()
        .find(|k| *k == lower)
        .ok_or_else(|| MountError::UnknownType {
            value: value.to_string(),
        })
}

/// Go's `strconv.ParseBool`, which BuildKit uses.
pub(super) fn parse_bool(key: &str, value: &str) -> Result<bool, MountError> {
    match value {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(MountError::Bool {
            key: key.to_string(),
            value: value.to_string(),
        }),
    }
}

pub(super) fn parse_sharing(value: &str) -> Result<Sharing, MountError> {
    match value.to_ascii_lowercase().as_str() {
        "shared" => Ok(Sharing::Shared),
        "private" => Ok(Sharing::Private),
        "locked" => Ok(Sharing::Locked),
        _ => Err(MountError::Sharing {
            value: value.to_string(),
        }),
    }
}

pub(super) fn parse_id(key: &'static str, value: String) -> Result<u32, MountError> {
    value.parse().map_err(|_| MountError::Id { key, value })
}

/// A tmpfs size as Docker's `RAMInBytes` reads it: a decimal number, an optional space, then an
/// optional binary unit `k`, `m`, `g`, `t` or `p` (any case, with optional `i` and `b`), so
/// `64m`, `64MiB`, `1.5g` and `4096` are all valid.
pub fn parse_size(value: &str) -> Result<u64, MountError> {
    let bad = || MountError::Size {
        value: value.to_string(),
    };
    let digits_end = value
        .find(|c: char| !(c.is_ascii_digit() || c == '.'))
        .unwrap_or(value.len());
    let (number, rest) = value.split_at(digits_end);
    let valid_number = match number.split_once('.') {
        Some((int, frac)) => !int.is_empty() && !frac.is_empty() && !frac.contains('.'),
        None => !number.is_empty(),
    };
    if !valid_number {
        return Err(bad());
    }
    let mut unit = rest.strip_prefix(' ').unwrap_or(rest).to_ascii_lowercase();
    let shift = match unit.chars().next() {
        Some(c @ ('k' | 'm' | 'g' | 't' | 'p')) => {
            unit.remove(0);
            10 * (1 + "kmgtp".find(c).expect("unit letter"))
        }
        _ => 0,
    };
    let unit = unit.strip_prefix('i').unwrap_or(&unit);
    if !matches!(unit, "" | "b") {
        return Err(bad());
    }
    let n: f64 = number.parse().map_err(|_| bad())?;
    let bytes = n * (1u64 << shift) as f64;
    if bytes >= u64::MAX as f64 {
        return Err(bad());
    }
    Ok(bytes as u64)
}

/// Splits a spec the way Go's `encoding/csv` reads one record (BuildKit parses `--mount` with
/// it): commas separate fields, a field that starts with `"` is quoted and `""` inside it is a
/// quote. `None` for a misplaced or unterminated quote.
pub(super) fn split_csv(spec: &str) -> Option<Vec<String>> {
    let mut fields = Vec::new();
    let mut chars = spec.chars().peekable();
    loop {
        let mut field = String::new();
        if chars.peek() == Some(&'"') {
            chars.next();
            loop {
                match chars.next()? {
                    '"' if chars.peek() == Some(&'"') => {
                        chars.next();
                        field.push('"');
                    }
                    '"' => break,
                    c => field.push(c),
                }
            }
            if !matches!(chars.peek(), None | Some(',')) {
                return None;
            }
        } else {
            while let Some(&c) = chars.peek() {
                match c {
                    ',' => break,
                    '"' => return None,
                    _ => field.push(c),
                }
                chars.next();
            }
        }
        fields.push(field);
        if chars.next().is_none() {
            return Some(fields);
        }
    }
}

/// Go's `path.Clean`: lexical, `/`-separated, `.` for an empty result.
pub(super) fn clean_path(p: &str) -> String {
    let rooted = p.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in p.split('/') {
        match part {
            "" | "." => {}
            ".." if parts.last().is_some_and(|l| *l != "..") => {
                parts.pop();
            }
            ".." if rooted => {}
            _ => parts.push(part),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

/// Go's `path.Base`: the last element, ignoring trailing slashes.
pub(super) fn base_name(p: &str) -> String {
    let trimmed = p.trim_end_matches('/');
    if trimmed.is_empty() {
        return if p.is_empty() { "." } else { "/" }.to_string();
    }
    trimmed.rsplit('/').next().unwrap_or(trimmed).to_string()
}
