//! OCI whiteout names: `.wh.<name>` deletes `<name>` from lower layers, and `.wh..wh..opq` in a
//! directory hides everything lower layers had in it.

/// The prefix of a whiteout file name.
pub const PREFIX: &str = ".wh.";
/// The opaque-directory marker file name.
pub const OPAQUE: &str = ".wh..wh..opq";

/// What a tar entry's file name means for whiteout handling.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Name<'a> {
    /// An ordinary entry.
    Plain,
    /// `.wh..wh..opq`: the containing directory is opaque.
    Opaque,
    /// `.wh.<name>`: `<name>` (in the same directory) is deleted.
    Whiteout(&'a [u8]),
}

/// Classifies the last component of an archive path.
pub fn classify(file_name: &[u8]) -> Name<'_> {
    if file_name == OPAQUE.as_bytes() {
        Name::Opaque
    } else if let Some(rest) = file_name.strip_prefix(PREFIX.as_bytes()) {
        Name::Whiteout(rest)
    } else {
        Name::Plain
    }
}

/// The archive path of the whiteout deleting `path` (`a/b` → `a/.wh.b`).
pub fn whiteout_path(path: &[u8]) -> Vec<u8> {
    let (dir, name) = split_last(path);
    let mut out = Vec::with_capacity(path.len() + PREFIX.len());
    if let Some(d) = dir {
        out.extend_from_slice(d);
        out.push(b'/');
    }
    out.extend_from_slice(PREFIX.as_bytes());
    out.extend_from_slice(name);
    out
}

/// The archive path of the opaque marker of directory `dir` (`a` → `a/.wh..wh..opq`).
pub fn opaque_path(dir: &[u8]) -> Vec<u8> {
    let mut out = dir.to_vec();
    if !out.is_empty() {
        out.push(b'/');
    }
    out.extend_from_slice(OPAQUE.as_bytes());
    out
}

/// Splits `a/b/c` into (`Some(a/b)`, `c`) and `c` into (`None`, `c`).
pub fn split_last(path: &[u8]) -> (Option<&[u8]>, &[u8]) {
    match path.iter().rposition(|&c| c == b'/') {
        Some(i) => (Some(&path[..i]), &path[i + 1..]),
        None => (None, path),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classify_table() {
        let cases: &[(&str, Name)] = &[
            ("passwd", Name::Plain),
            (".wh.passwd", Name::Whiteout(b"passwd")),
            (".wh..wh..opq", Name::Opaque),
            (".wh..hidden", Name::Whiteout(b".hidden")),
            (".whx", Name::Plain),
        ];
        for (name, want) in cases {
            assert_eq!(classify(name.as_bytes()), *want, "{name}");
        }
    }

    #[test]
    fn path_table() {
        assert_eq!(whiteout_path(b"etc/passwd"), b"etc/.wh.passwd");
        assert_eq!(whiteout_path(b"top"), b".wh.top");
        assert_eq!(opaque_path(b"var/lib"), b"var/lib/.wh..wh..opq");
        assert_eq!(split_last(b"a/b/c"), (Some(&b"a/b"[..]), &b"c"[..]));
        assert_eq!(split_last(b"c"), (None, &b"c"[..]));
    }
}
