//! The single walk over a context: ignore rules applied directory by directory, excluded
//! directories skipped unless an exception pattern could re-include something inside them.

use std::os::unix::ffi::OsStrExt;
use std::path::Path;

use super::{Context, ContextError, DirSource, Entry};
use rayon::prelude::*;

use crate::syntax::dockerignore::{MatchState, PatternMatcher};

/// A [`DirSource`] plus the ignore rules for it: a [`Context`].
#[derive(Debug, Clone)]
pub struct ContextWalker<S> {
    source: S,
    matcher: PatternMatcher,
}

impl<S: DirSource> ContextWalker<S> {
    pub fn new(source: S, matcher: PatternMatcher) -> Self {
        ContextWalker { source, matcher }
    }

    pub fn source(&self) -> &S {
        &self.source
    }

    pub fn matcher(&self) -> &PatternMatcher {
        &self.matcher
    }
}

impl<S: DirSource> Context for ContextWalker<S> {
    fn entries(&self) -> Result<Vec<Entry>, ContextError> {
        walk(&self.source, &self.matcher)
    }
}

/// Walks `source` from its root and returns the entries the ignore rules keep, depth-first with
/// siblings in byte order of their names (so a directory comes right before its contents).
///
/// An excluded directory is read only if [`PatternMatcher::may_reinclude_below`] says an
/// exception could bring back something inside it; when something does come back, its excluded
/// parent directories are listed too (right before it), so the kept entries always form a
/// tree, as BuildKit sends them.
pub fn walk<S: DirSource + ?Sized>(
    source: &S,
    matcher: &PatternMatcher,
) -> Result<Vec<Entry>, ContextError> {
    visit(source, matcher, Path::new(""), &MatchState::default())
}

/// The kept entries below `dir`, in walk order. Subdirectories are walked in parallel: the
/// walk is bound by `readdir`/`lstat` latency, and each subtree's list is independent.
fn visit<S: DirSource + ?Sized>(
    source: &S,
    matcher: &PatternMatcher,
    dir: &Path,
    state: &MatchState,
) -> Result<Vec<Entry>, ContextError> {
    let mut children = source.read_dir(dir)?;
    // OsStr orders by bytes on Unix.
    children.sort_unstable_by(|a, b| a.path.file_name().cmp(&b.path.file_name()));
    let parts: Vec<Vec<Entry>> = children
        .into_par_iter()
        .map(|child| {
            let rel = child.path.as_os_str().as_bytes();
            let (excluded, child_state) =
                matcher
                    .matches_using_parent_result(rel, state)
                    .map_err(|source| ContextError::Match {
                        path: child.path.clone(),
                        source,
                    })?;
            if !child.is_dir() {
                return Ok(if excluded { Vec::new() } else { vec![child] });
            }
            if excluded && !matcher.may_reinclude_below(rel) {
                return Ok(Vec::new());
            }
            let below = visit(source, matcher, &child.path, &child_state)?;
            // An excluded directory is listed only if something inside it came back.
            if excluded && below.is_empty() {
                return Ok(Vec::new());
            }
            let mut part = Vec::with_capacity(below.len() + 1);
            part.push(child);
            part.extend(below);
            Ok(part)
        })
        .collect::<Result<_, ContextError>>()?;
    let mut out = Vec::with_capacity(parts.iter().map(Vec::len).sum());
    for part in parts {
        out.extend(part);
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::context::MemDir;

    fn paths(tree: &MemDir, patterns: &[&str]) -> Vec<String> {
        let pm = PatternMatcher::new(patterns).unwrap();
        walk(tree, &pm)
            .unwrap()
            .into_iter()
            .map(|e| e.path.to_string_lossy().into_owned())
            .collect()
    }

    fn tree() -> MemDir {
        MemDir::new()
            .file("Dockerfile", 10)
            .file("a-b", 1)
            .file("a/b", 1)
            .file("docs/README.md", 1)
            .file("docs/guide.md", 1)
            .file("docs/img/x.png", 1)
            .file("util/docker/web/foo", 1)
            .file("util/other", 1)
            .symlink("link", "docs")
    }

    #[test]
    fn walk_table() {
        let t = tree();
        let cases: &[(&[&str], &[&str])] = &[
            (
                &[],
                &[
                    "Dockerfile",
                    "a",
                    "a/b",
                    "a-b",
                    "docs",
                    "docs/README.md",
                    "docs/guide.md",
                    "docs/img",
                    "docs/img/x.png",
                    "link",
                    "util",
                    "util/docker",
                    "util/docker/web",
                    "util/docker/web/foo",
                    "util/other",
                ],
            ),
            (&["docs", "util", "a*"], &["Dockerfile", "link"]),
            (
                &["docs", "!docs/README.md", "util", "a*", "link"],
                &["Dockerfile", "docs", "docs/README.md"],
            ),
            (
                &["**", "!util/docker/web"],
                &[
                    "util",
                    "util/docker",
                    "util/docker/web",
                    "util/docker/web/foo",
                ],
            ),
            (
                &["**/*.md", "**/*.png", "a*", "util", "link"],
                &["Dockerfile", "docs", "docs/img"],
            ),
            (&["*", "!*/README.md"], &["docs", "docs/README.md"]),
        ];
        for &(patterns, want) in cases {
            assert_eq!(paths(&t, patterns), want, "patterns {patterns:?}");
        }
    }

    #[test]
    fn deferred_pattern_error_names_the_path() {
        let t = MemDir::new().file("x", 1);
        let pm = PatternMatcher::new(["[z-a]"]).unwrap();
        let err = walk(&t, &pm).unwrap_err();
        assert!(matches!(err, ContextError::Match { ref path, .. } if path == Path::new("x")));
    }
}
