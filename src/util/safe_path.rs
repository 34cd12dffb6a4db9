//! Safe joins inside a root: resolve a relative path component by component under `root`,
//! following symlinks as if `root` were `/`, so that the result can never name anything outside.

use std::collections::VecDeque;
use std::ffi::OsString;
use std::io;
use std::path::{Component, Path, PathBuf};

/// Linux gives up after 40 link traversals (ELOOP); so do we.
const MAX_LINKS: usize = 40;

/// What to do when a path (or a symlink met on the way) tries to leave the root.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OnEscape {
    /// Fail: an absolute path or link target, or a `..` above the root, is an error.
    Refuse,
    /// Behave like a chroot: absolute targets restart at the root and `..` stops at the root.
    Clamp,
}

/// Why a path could not be resolved inside its root.
#[derive(Debug, thiserror::Error)]
pub enum SafePathError {
    #[error("{path:?} escapes the root: {reason}")]
    Escape { path: PathBuf, reason: String },
    #[error("{path:?}: more than {MAX_LINKS} symlinks followed")]
    TooManyLinks { path: PathBuf },
    #[error("{path:?}: {source}")]
    Io {
        path: PathBuf,
        #[source]
        source: io::Error,
    },
}

/// Resolves `rel` inside `root` and returns `root` joined with the resolved relative path.
///
/// Every existing component is looked at with `lstat`; a symlink is replaced by its target,
/// read relative to the directory holding it, and resolution continues. Components that do not
/// exist are taken literally (they cannot be links). The last component is followed only when
/// `follow_last` is set, so a caller can replace or remove a symlink itself.
pub fn resolve(
    root: &Path,
    rel: &Path,
    on_escape: OnEscape,
    follow_last: bool,
) -> Result<PathBuf, SafePathError> {
    let mut queue: VecDeque<OsString> = VecDeque::new();
    let mut rooted = false;
    push_components(rel, &mut queue, &mut rooted);
    if rooted && on_escape == OnEscape::Refuse {
        return Err(SafePathError::Escape {
            path: rel.to_path_buf(),
            reason: "absolute path".into(),
        });
    }
    let mut stack: Vec<OsString> = Vec::new();
    let mut links = 0usize;
    while let Some(comp) = queue.pop_front() {
        if comp == ".." {
            if stack.pop().is_none() && on_escape == OnEscape::Refuse {
                return Err(SafePathError::Escape {
                    path: rel.to_path_buf(),
                    reason: "\"..\" goes above the root".into(),
                });
            }
            continue;
        }
        let is_last = queue.is_empty();
        let mut candidate = root.to_path_buf();
        candidate.extend(stack.iter());
        candidate.push(&comp);
        if is_last && !follow_last {
            stack.push(comp);
            break;
        }
        let md = match std::fs::symlink_metadata(&candidate) {
            Ok(md) => md,
            Err(e) if e.kind() == io::ErrorKind::NotFound => {
                stack.push(comp);
                continue;
            }
            Err(e) if e.raw_os_error() == Some(libc::ENOTDIR) => {
                stack.push(comp);
                continue;
            }
            Err(source) => {
                return Err(SafePathError::Io {
                    path: candidate,
                    source,
                })
            }
        };
        if !md.file_type().is_symlink() {
            stack.push(comp);
            continue;
        }
        links += 1;
        if links > MAX_LINKS {
            return Err(SafePathError::TooManyLinks {
                path: rel.to_path_buf(),
            });
        }
        let target = std::fs::read_link(&candidate).map_err(|source| SafePathError::Io {
            path: candidate.clone(),
            source,
        })?;
        let mut spliced = VecDeque::new();
        let mut abs = false;
        push_components(&target, &mut spliced, &mut abs);
        if abs {
            if on_escape == OnEscape::Refuse {
                let shown = candidate.strip_prefix(root).unwrap_or(&candidate);
                return Err(SafePathError::Escape {
                    path: rel.to_path_buf(),
                    reason: format!("symlink {shown:?} points to absolute path {target:?}"),
                });
            }
            stack.clear();
        }
        // A relative `..` above the root is caught when it is popped; name the link for clarity.
        if on_escape == OnEscape::Refuse && !abs && climbs_above(&stack, &spliced) {
            let shown = candidate.strip_prefix(root).unwrap_or(&candidate);
            return Err(SafePathError::Escape {
                path: rel.to_path_buf(),
                reason: format!("symlink {shown:?} -> {target:?} leaves the root"),
            });
        }
        for c in spliced.into_iter().rev() {
            queue.push_front(c);
        }
    }
    let mut out = root.to_path_buf();
    out.extend(stack.iter());
    Ok(out)
}

fn push_components(p: &Path, queue: &mut VecDeque<OsString>, rooted: &mut bool) {
    for c in p.components() {
        match c {
            Component::RootDir | Component::Prefix(_) => {
                *rooted = true;
                queue.clear();
            }
            Component::CurDir => {}
            Component::ParentDir => queue.push_back("..".into()),
            Component::Normal(n) => queue.push_back(n.to_os_string()),
        }
    }
}

/// Whether the lexical prefix of `target` (its leading `..`s against the current depth) would
/// climb above the root.
fn climbs_above(stack: &[OsString], target: &VecDeque<OsString>) -> bool {
    let mut depth = stack.len() as isize;
    for c in target {
        if c == ".." {
            depth -= 1;
            if depth < 0 {
                return true;
            }
        } else {
            depth += 1;
        }
    }
    false
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::symlink;

    fn tree() -> tempfile::TempDir {
        let t = tempfile::tempdir().unwrap();
        let r = t.path();
        std::fs::create_dir_all(r.join("usr/lib")).unwrap();
        std::fs::create_dir_all(r.join("a/b")).unwrap();
        symlink("/usr/lib", r.join("abs")).unwrap();
        symlink("usr/lib", r.join("rel")).unwrap();
        symlink("../../..", r.join("a/b/up")).unwrap();
        symlink("../../usr", r.join("a/b/ok")).unwrap();
        symlink("loop2", r.join("loop1")).unwrap();
        symlink("loop1", r.join("loop2")).unwrap();
        t
    }

    #[test]
    fn table() {
        let t = tree();
        let r = t.path();
        use OnEscape::*;
        // (input, mode, follow_last, expected relative result or None for an escape error)
        let cases: &[(&str, OnEscape, bool, Option<&str>)] = &[
            ("usr/lib/x", Refuse, true, Some("usr/lib/x")),
            ("rel/x", Refuse, true, Some("usr/lib/x")),
            ("abs/x", Refuse, true, None),
            ("abs/x", Clamp, true, Some("usr/lib/x")),
            ("a/b/up/etc", Refuse, true, None),
            ("a/b/up/etc", Clamp, true, Some("etc")),
            ("a/b/ok/lib", Refuse, true, Some("usr/lib")),
            ("../x", Refuse, true, None),
            ("../x", Clamp, true, Some("x")),
            ("/etc/passwd", Refuse, true, None),
            ("/etc/passwd", Clamp, true, Some("etc/passwd")),
            ("a/./b/../b", Refuse, true, Some("a/b")),
            ("abs", Refuse, false, Some("abs")),
            ("rel", Refuse, false, Some("rel")),
            ("rel", Refuse, true, Some("usr/lib")),
            ("missing/../a", Refuse, true, Some("a")),
        ];
        for (input, mode, follow, want) in cases {
            let got = resolve(r, Path::new(input), *mode, *follow);
            match want {
                Some(w) => assert_eq!(got.unwrap(), r.join(w), "{input} {mode:?}"),
                None => assert!(
                    matches!(got, Err(SafePathError::Escape { .. })),
                    "{input} {mode:?}: {got:?}"
                ),
            }
        }
    }

    #[test]
    fn loops_are_an_error() {
        let t = tree();
        let got = resolve(t.path(), Path::new("loop1/x"), OnEscape::Clamp, true);
        assert!(
            matches!(got, Err(SafePathError::TooManyLinks { .. })),
            "{got:?}"
        );
    }
}
