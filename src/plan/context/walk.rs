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

/// The kept entries below `dir`, in walk order. Matching is sequential; subdirectories are
/// walked in parallel, since the walk is bound by `readdir`/`lstat` latency.
fn visit<S: DirSource + ?Sized>(
    source: &S,
    matcher: &PatternMatcher,
    dir: &Path,
    state: &MatchState,
) -> Result<Vec<Entry>, ContextError> {
    /// A child that survived matching; directories still need their contents.
    struct Kept {
        entry: Entry,
        /// For a directory: whether it is itself excluded, and its state for its children.
        dir: Option<(bool, MatchState)>,
    }

    let mut children = source.read_dir(dir)?;
    // Siblings share the `dir/` prefix, so comparing whole paths as bytes orders them by name
    // (and is much cheaper than `Path` comparison, which parses components).
    children.sort_unstable_by(|a, b| {
        a.path
            .as_os_str()
            .as_bytes()
            .cmp(b.path.as_os_str().as_bytes())
    });
    let mut kept = Vec::with_capacity(children.len());
    for entry in children {
        let rel = entry.path.as_os_str().as_bytes();
        let (excluded, child_state) =
            matcher
                .matches_using_parent_result(rel, state)
                .map_err(|source| ContextError::Match {
                    path: entry.path.clone(),
                    source,
                })?;
        if entry.is_dir() {
            if !excluded || matcher.may_reinclude_below(rel) {
                kept.push(Kept {
                    entry,
                    dir: Some((excluded, child_state)),
                });
            }
        } else if !excluded {
            kept.push(Kept { entry, dir: None });
        }
    }

    let subdirs: Vec<&Kept> = kept.iter().filter(|k| k.dir.is_some()).collect();
    let walk_one = |k: &&Kept| {
        let (_, child_state) = k.dir.as_ref().expect("only directories");
        visit(source, matcher, &k.entry.path, child_state)
    };
    // Collected in order before checking, so the error reported is the first in walk order,
    // whichever thread hit it first.
    let results: Vec<Result<Vec<Entry>, ContextError>> = if subdirs.len() > 1 {
        subdirs.par_iter().map(walk_one).collect()
    } else {
        subdirs.iter().map(walk_one).collect()
    };
    let below = results.into_iter().collect::<Result<Vec<_>, _>>()?;

    let mut out = Vec::with_capacity(kept.len() + below.iter().map(Vec::len).sum::<usize>());
    let mut below = below.into_iter();
    for k in kept {
        match k.dir {
            None => out.push(k.entry),
            Some((excluded, _)) => {
                let inside = below.next().expect("one result per directory");
                // An excluded directory is listed only if something inside it came back.
                if !excluded || !inside.is_empty() {
                    out.push(k.entry);
                    out.extend(inside);
                }
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::context::{EntryKind, MemDir};

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
    fn first_error_in_walk_order_wins() {
        /// Lists root dirs `d00`..`d31`; every one of them fails to read.
        struct Failing;
        impl DirSource for Failing {
            fn read_dir(&self, dir: &Path) -> Result<Vec<Entry>, ContextError> {
                if dir == Path::new("") {
                    Ok((0..32)
                        .rev()
                        .map(|i| Entry::new(format!("d{i:02}"), EntryKind::Dir))
                        .collect())
                } else {
                    Err(ContextError::NoSuchDir {
                        path: dir.to_path_buf(),
                    })
                }
            }
        }
        for _ in 0..10 {
            let err = walk(&Failing, &PatternMatcher::default()).unwrap_err();
            assert!(
                matches!(&err, ContextError::NoSuchDir { path } if path == Path::new("d00")),
                "{err:?}"
            );
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
