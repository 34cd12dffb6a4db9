//! `.dockerignore` files: reading one into patterns, and the pattern matcher that decides which
//! context paths are excluded, with Docker's (moby/patternmatcher) semantics. Pure.

mod glob;

use glob::Glob;

/// A pattern list the matcher refuses.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum IgnoreError {
    #[error("illegal exclusion pattern: {pattern:?}")]
    IllegalExclusion { pattern: String },
    #[error("syntax error in pattern: {pattern:?}")]
    BadPattern { pattern: String },
}

/// Reads the text of a `.dockerignore` file into patterns, as Docker does: BOM removed, `#` in
/// column 1 starts a comment, lines trimmed, blank lines skipped, each pattern cleaned as a path
/// with one leading `/` dropped, a leading `!` kept (and the space after it dropped).
pub fn parse_ignore_file(text: &str) -> Vec<String> {
    let text = text.strip_prefix('\u{feff}').unwrap_or(text);
    let mut out = Vec::new();
    for line in text.split('\n') {
        if line.starts_with('#') {
            continue;
        }
        let mut pattern = line.trim();
        if pattern.is_empty() {
            continue;
        }
        let invert = pattern.starts_with('!');
        if invert {
            pattern = pattern[1..].trim();
        }
        let mut cleaned = String::new();
        if !pattern.is_empty() {
            cleaned = clean_path(pattern);
            if cleaned.len() > 1 && cleaned.starts_with('/') {
                cleaned.remove(0);
            }
        }
        if invert {
            cleaned.insert(0, '!');
        }
        out.push(cleaned);
    }
    out
}

/// Lexical path cleaning, as Go's `path.Clean`: repeated `/` collapsed, `.` removed, `x/..`
/// removed, `..` at the root dropped, no trailing `/` (except for `/` itself), `""` → `.`.
pub fn clean_path(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&last) if last != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".to_string(),
        (false, false) => joined,
    }
}

#[derive(Debug, Clone)]
struct Pattern {
    /// Cleaned, without its `!`.
    text: String,
    exclusion: bool,
    /// Number of `/`-separated components, for the legacy `Matches` parent rule.
    components: usize,
    glob: Glob,
}

impl Pattern {
    fn is_match(&self, path: &[u8]) -> Result<bool, IgnoreError> {
        self.glob
            .is_match(path)
            .map_err(|()| IgnoreError::BadPattern {
                pattern: self.text.clone(),
            })
    }

    /// Whether the pattern matches `path` itself or one of its ancestors, where the ancestors
    /// are the prefixes of Go's `filepath.Dir(path)` (so `file/` is tried as `file`, too).
    fn matches_or_parent(&self, path: &[u8]) -> Result<bool, IgnoreError> {
        if self.is_match(path)? {
            return Ok(true);
        }
        let parent = go_dir(path);
        if parent.as_slice() == b"." {
            return Ok(false);
        }
        let mut end = 0;
        loop {
            let stop = parent[end..]
                .iter()
                .position(|&b| b == b'/')
                .map_or(parent.len(), |p| end + p);
            if self.is_match(&parent[..stop])? {
                return Ok(true);
            }
            if stop == parent.len() {
                return Ok(false);
            }
            end = stop + 1;
        }
    }
}

/// Go's `filepath.Dir`: everything before the last `/`, cleaned.
fn go_dir(path: &[u8]) -> Vec<u8> {
    let head = match path.iter().rposition(|&b| b == b'/') {
        Some(i) => &path[..=i],
        None => &path[..0],
    };
    // Cleaning only looks at `/` and `.` bytes, so a lossy round trip would be wrong for
    // non-UTF-8 names; clean the bytes through a UTF-8-safe detour instead.
    match std::str::from_utf8(head) {
        Ok(s) => clean_path(s).into_bytes(),
        Err(_) => clean_bytes(head),
    }
}

fn clean_bytes(path: &[u8]) -> Vec<u8> {
    // Map every byte to a char one-to-one (Latin-1), clean, and map back.
    let latin: String = path.iter().map(|&b| b as char).collect();
    clean_path(&latin).chars().map(|c| c as u8).collect()
}

/// Per-pattern results for a directory, handed to its children by walkers that visit parents
/// first (see [`PatternMatcher::matches_using_parent_result`]). The default is the state of the
/// context root: nothing matched.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct MatchState {
    /// `matched[i]`: pattern i matches this path or one of its ancestors.
    matched: Vec<bool>,
}

/// Compiled `.dockerignore` patterns. "Matched" means excluded from the build context.
#[derive(Debug, Clone, Default)]
pub struct PatternMatcher {
    patterns: Vec<Pattern>,
    exclusions: bool,
}

impl PatternMatcher {
    /// Compiles patterns as given (usually from [`parse_ignore_file`]): each is trimmed, skipped
    /// if empty, cleaned, and a leading `!` makes it an exception. A bare `!` or a pattern that
    /// is not a valid glob is refused. A few patterns pass this check but fail on first use
    /// (e.g. `[Local-Only]`, a reversed range), as upstream; every match call then fails.
    pub fn new<I, S>(patterns: I) -> Result<Self, IgnoreError>
    where
        I: IntoIterator<Item = S>,
        S: AsRef<str>,
    {
        let mut out = PatternMatcher::default();
        for raw in patterns {
            let trimmed = raw.as_ref().trim();
            if trimmed.is_empty() {
                continue;
            }
            let cleaned = clean_path(trimmed);
            let (exclusion, text) = match cleaned.strip_prefix('!') {
                Some("") => {
                    return Err(IgnoreError::IllegalExclusion {
                        pattern: cleaned.clone(),
                    })
                }
                Some(rest) => (true, rest.to_string()),
                None => (false, cleaned),
            };
            if !glob::is_valid_syntax(&text) {
                return Err(IgnoreError::BadPattern { pattern: text });
            }
            out.exclusions |= exclusion;
            out.patterns.push(Pattern {
                components: text.split('/').count(),
                glob: glob::compile(&text),
                text,
                exclusion,
            });
        }
        Ok(out)
    }

    /// Whether any `!` exception pattern exists.
    pub fn has_exclusions(&self) -> bool {
        self.exclusions
    }

    /// Whether there are no patterns at all (nothing is ever excluded).
    pub fn is_empty(&self) -> bool {
        self.patterns.is_empty()
    }

    /// The patterns after cleaning, each with `true` if it is a `!` exception.
    pub fn patterns(&self) -> impl Iterator<Item = (&str, bool)> {
        self.patterns.iter().map(|p| (p.text.as_str(), p.exclusion))
    }

    /// Runs the "last applicable pattern wins" state machine: a normal pattern is only tried
    /// while the path is not matched, an exception only while it is.
    fn decide(
        &self,
        mut applies: impl FnMut(usize, &Pattern) -> Result<bool, IgnoreError>,
    ) -> Result<bool, IgnoreError> {
        let mut matched = false;
        for (i, pattern) in self.patterns.iter().enumerate() {
            if pattern.exclusion != matched {
                continue;
            }
            if applies(i, pattern)? {
                matched = !pattern.exclusion;
            }
        }
        Ok(matched)
    }

    /// Docker's `MatchesOrParentMatches`: whether `path` (slash-separated, relative to the
    /// context root, used as given) is excluded, a pattern applying if it matches the path or
    /// any of its parent directories.
    pub fn matches_or_parent_matches(&self, path: impl AsRef<[u8]>) -> Result<bool, IgnoreError> {
        let path = path.as_ref();
        self.decide(|_, p| p.matches_or_parent(path))
    }

    /// The same answer as [`Self::matches_or_parent_matches`], for walkers that visit a
    /// directory before its contents: pass the state returned for the parent directory
    /// (`MatchState::default()` for entries at the context root) and keep the returned state
    /// for this path's children. Each pattern is tried once per path, never on its ancestors.
    pub fn matches_using_parent_result(
        &self,
        path: impl AsRef<[u8]>,
        parent: &MatchState,
    ) -> Result<(bool, MatchState), IgnoreError> {
        let path = path.as_ref();
        let mut state = MatchState {
            matched: Vec::with_capacity(self.patterns.len()),
        };
        for (i, p) in self.patterns.iter().enumerate() {
            let inherited = parent.matched.get(i).copied().unwrap_or(false);
            // A pattern that cannot compile reports its error only if the decision below
            // reaches it, as in the other entry points.
            state
                .matched
                .push(inherited || p.glob.is_match(path).unwrap_or(false));
        }
        let excluded = self.decide(|i, p| {
            if matches!(p.glob, Glob::Invalid) {
                p.is_match(path)
            } else {
                Ok(state.matched[i])
            }
        })?;
        Ok((excluded, state))
    }

    /// Docker's deprecated `Matches` (package-level form): the path is cleaned, `.` is never
    /// matched, and besides the path itself only the ancestor with as many components as the
    /// pattern is tried. Kept for conformance; walkers want [`Self::matches_or_parent_matches`].
    pub fn matches_legacy(&self, path: &str) -> Result<bool, IgnoreError> {
        let file = clean_path(path);
        if file == "." {
            return Ok(false);
        }
        let parent = String::from_utf8_lossy(&go_dir(file.as_bytes())).into_owned();
        let parent_dirs: Vec<&str> = parent.split('/').collect();
        self.decide(|_, p| {
            if p.is_match(file.as_bytes())? {
                return Ok(true);
            }
            if parent != "." && p.components <= parent_dirs.len() {
                let ancestor = parent_dirs[..p.components].join("/");
                return Ok(p.glob.is_match(ancestor.as_bytes()).unwrap_or(false));
            }
            Ok(false)
        })
    }

    /// Whether an exception pattern might re-include something strictly below the directory
    /// `dir`. A walker may skip an excluded directory only when this is `false`: below an
    /// excluded directory, a path can only come back through an exception that matches it (or
    /// an ancestor under `dir`). Errs on the side of `true`.
    pub fn may_reinclude_below(&self, dir: impl AsRef<[u8]>) -> bool {
        let dir = dir.as_ref();
        self.patterns
            .iter()
            .any(|p| p.exclusion && p.glob.may_match_below(dir))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn excluded(patterns: &[&str], path: &str) -> bool {
        let pm = PatternMatcher::new(patterns).unwrap();
        let direct = pm.matches_or_parent_matches(path).unwrap();
        // The parent-result walk must agree on every clean path.
        let mut state = MatchState::default();
        let mut walked = false;
        let mut prefix = String::new();
        for comp in path.split('/') {
            if !prefix.is_empty() {
                prefix.push('/');
            }
            prefix.push_str(comp);
            let (m, s) = pm.matches_using_parent_result(&prefix, &state).unwrap();
            walked = m;
            state = s;
        }
        assert_eq!(
            direct, walked,
            "{patterns:?} vs {path:?}: strategies disagree"
        );
        direct
    }

    #[test]
    fn reader_table() {
        let cases: &[(&str, &[&str])] = &[
            ("test1\n/test2\n/a/file/here\n\nlastfile\n# this is a comment\n! /inverted/abs/path\n!\n! \n",
             &["test1", "test2", "a/file/here", "lastfile", "!inverted/abs/path", "!", "!"]),
            ("\u{feff}a\r\nb\r\n", &["a", "b"]),
            ("  # not a comment", &["# not a comment"]),
            ("a//b/../c", &["a/c"]),
            ("./x", &["x"]),
            ("dir/", &["dir"]),
            ("/", &["/"]),
            ("//x", &["x"]),
            ("!./docs/", &["!docs"]),
            ("../up", &["../up"]),
            ("/../up", &["up"]),
            ("", &[]),
            ("\n\n  \t\n", &[]),
        ];
        for &(text, want) in cases {
            assert_eq!(parse_ignore_file(text), want, "text {text:?}");
        }
    }

    #[test]
    fn clean_table() {
        let cases: &[(&str, &str)] = &[
            ("", "."),
            (".", "."),
            ("a/./b", "a/b"),
            ("a/b/..", "a"),
            ("a/../..", ".."),
            ("/..", "/"),
            ("/a/", "/a"),
            ("**/", "**"),
            ("!a//b", "!a/b"),
        ];
        for &(path, want) in cases {
            assert_eq!(clean_path(path), want, "path {path:?}");
        }
    }

    #[test]
    fn exclusion_table() {
        let cases: &[(&[&str], &str, bool)] = &[
            // `!` re-include inside an excluded directory
            (&["docs", "!docs/README.md"], "docs/README.md", false),
            (&["docs", "!docs/README.md"], "docs/other.md", true),
            (&["docs", "!docs/README.md"], "docs", true),
            (&["**", "!util/docker/web"], "util/docker/web/foo", false),
            (
                &["**", "!util/docker/web", "util/docker/web/foo"],
                "util/docker/web/foo",
                true,
            ),
            (
                &["*.md", "!README*.md", "README-secret.md"],
                "README-secret.md",
                true,
            ),
            (
                &["*.md", "README-secret.md", "!README*.md"],
                "README-secret.md",
                false,
            ),
            // `**/`
            (&["**/"], "a/b", true),
            (&["**/*.go"], "main.go", true),
            (&["**/*.go"], "cmd/x/main.go", true),
            (&["dir/**"], "dir", false),
            // trailing `/`: directory patterns still match files (no dir-only rule in Docker)
            (&["build/"], "build/out.o", true),
            (&["build/"], "build", true),
            // leading `/` is only stripped by the file reader; `/` alone matches nothing relative
            (&["/"], "x", false),
            // `.` and `..` segments are cleaned away in patterns
            (&["./a/../b"], "b", true),
            (&["a/./b"], "a/b", true),
            // escaped characters
            (&["a\\*b"], "a*b", true),
            (&["a\\*b"], "axb", false),
            (&["\\[x\\]"], "[x]", true),
            // character classes
            (&["[a-c]x"], "bx", true),
            (&["[^a-c]x"], "bx", false),
            (&["[\\]]"], "]", true),
            // Unicode
            (&["caf?"], "café", true),
            (&["[α-ω]"], "λ", true),
            (&["日本/*"], "日本/語", true),
            // single `*` does not cross `/`, but a parent match does
            (&["*"], "a/b", true),
            (&["*/b"], "a/b/c", true),
            (&["a/*.txt"], "a/dir/file.txt", false),
            // no patterns
            (&[], "anything", false),
        ];
        for &(patterns, path, want) in cases {
            assert_eq!(excluded(patterns, path), want, "{patterns:?} vs {path:?}");
        }
    }

    #[test]
    fn errors() {
        assert_eq!(
            PatternMatcher::new(["!"]).unwrap_err(),
            IgnoreError::IllegalExclusion {
                pattern: "!".into()
            }
        );
        for bad in [
            "[", "a[", "[^bc", "\\", "[]a]", "[-]", "[x-]", "[-x]", "[a-b-c]",
        ] {
            assert_eq!(
                PatternMatcher::new([bad]).unwrap_err(),
                IgnoreError::BadPattern {
                    pattern: bad.into()
                },
                "{bad:?}"
            );
        }
        // Deferred: accepted, then every evaluation fails the same way, in both strategies.
        let pm = PatternMatcher::new(["[Local-Only]/"]).unwrap();
        let err = IgnoreError::BadPattern {
            pattern: "[Local-Only]".into(),
        };
        for _ in 0..2 {
            assert_eq!(pm.matches_or_parent_matches("x"), Err(err.clone()));
            assert_eq!(
                pm.matches_using_parent_result("x", &MatchState::default()),
                Err(err.clone())
            );
        }
        // ...but only when the decision reaches it.
        let pm = PatternMatcher::new(["x", "[z-a]"]).unwrap();
        assert_eq!(pm.matches_or_parent_matches("x"), Ok(true));
        assert_eq!(
            pm.matches_using_parent_result("x", &MatchState::default()),
            Ok((
                true,
                MatchState {
                    matched: vec![true, false]
                }
            ))
        );
    }

    #[test]
    fn has_exclusions() {
        assert!(!PatternMatcher::new(["a", "b"]).unwrap().has_exclusions());
        assert!(PatternMatcher::new(["a", "  !docs/README.md  "])
            .unwrap()
            .has_exclusions());
    }

    #[test]
    fn may_reinclude_below() {
        let pm = PatternMatcher::new(["**", "!util/docker/web"]).unwrap();
        assert!(pm.may_reinclude_below("util"));
        assert!(pm.may_reinclude_below("util/docker"));
        assert!(!pm.may_reinclude_below("util/docker/web")); // web itself is re-included
        assert!(!pm.may_reinclude_below("vendor"));
        let pm = PatternMatcher::new(["docs", "vendor"]).unwrap();
        assert!(!pm.may_reinclude_below("docs"));
    }

    #[test]
    fn legacy_matches() {
        let pm = PatternMatcher::new(["*.go"]).unwrap();
        assert_eq!(pm.matches_legacy("."), Ok(false));
        assert_eq!(pm.matches_legacy("./x.go"), Ok(true));
        // Only the ancestor with as many components as the pattern is tried.
        let pm = PatternMatcher::new(["a/b"]).unwrap();
        assert_eq!(pm.matches_legacy("a/b/c/d"), Ok(true));
        let pm = PatternMatcher::new(["b"]).unwrap();
        assert_eq!(pm.matches_legacy("a/b/c"), Ok(false));
        assert_eq!(pm.matches_or_parent_matches("a/b/c"), Ok(false));
        let pm = PatternMatcher::new(["*/b"]).unwrap();
        assert_eq!(pm.matches_legacy("a/b/c"), Ok(true));
    }
}
