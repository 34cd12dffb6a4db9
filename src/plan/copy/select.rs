//! Source selection, pure over a [`SourceTree`]: cleaning a source path so it can never leave
//! the root, following symlinks inside the tree, wildcard expansion per path component, walking
//! a directory's contents, and the `--exclude` seam.

use std::collections::VecDeque;

use super::glob::{has_meta, match_component};
use super::tree::{SourceKind, SourceMeta, SourceTree};
use super::CopyError;
use crate::syntax::dockerignore::PatternMatcher;

/// Decides whether a path is left out by `--exclude`. The real matcher (dockerignore syntax,
/// `!` exceptions) lives in `syntax::dockerignore`; [`GlobExcludes`] is a minimal stand-in.
pub trait ExcludeMatcher {
    /// `rel` is `/`-separated, relative to the copied source (see `plan_copy`).
    fn excluded(&self, rel: &str, is_dir: bool) -> bool;
    /// Whether a `!` exception could re-include something below excluded directory `dir`; such
    /// a directory is then kept and walked, as fsutil's copier does (moby/patternmatcher's
    /// `MayReincludeBelow` is the real answer).
    fn may_reinclude_below(&self, _dir: &str) -> bool {
        false
    }
}

/// Excludes nothing.
pub struct NoExcludes;

impl ExcludeMatcher for NoExcludes {
    fn excluded(&self, _rel: &str, _is_dir: bool) -> bool {
        false
    }
}

/// `--exclude` uses the `.dockerignore` pattern language (BuildKit hands both to the same
/// moby/patternmatcher), so the real matcher serves here, `!` exceptions included. A pattern that
/// only fails when first matched excludes nothing rather than failing the whole copy; syntax
/// errors are reported when the matcher is built.
impl ExcludeMatcher for PatternMatcher {
    fn excluded(&self, rel: &str, _is_dir: bool) -> bool {
        self.matches_or_parent_matches(rel).unwrap_or(false)
    }
    fn may_reinclude_below(&self, dir: &str) -> bool {
        PatternMatcher::may_reinclude_below(self, dir)
    }
}

/// `path.Join("/", p)` as components: `.` dropped, `..` clamped at the root, so a source (or
/// destination) can never name anything outside its root — Docker: "Specifying a source path
/// with a leading slash or one that navigates outside the build context, such as
/// `COPY ../something /something`, automatically removes any parent directory navigation".
pub fn clean_components(p: &str) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for c in p.split('/') {
        match c {
            "" | "." => {}
            ".." => {
                out.pop();
            }
            c => out.push(c.to_string()),
        }
    }
    out
}

/// Most symlinks followed while resolving one path (Linux's limit is 40; Go's is 255).
const MAX_LINKS: usize = 255;

/// Resolves `comps` inside the tree following every symlink (the last one too) as if the root
/// were `/`; `Ok(None)` when something on the way does not exist or is not a directory.
pub fn follow(tree: &dyn SourceTree, comps: &[String]) -> Result<Option<String>, CopyError> {
    let mut todo: VecDeque<String> = comps.iter().cloned().collect();
    let mut done: Vec<String> = Vec::new();
    let mut links = 0;
    while let Some(c) = todo.pop_front() {
        match c.as_str() {
            "" | "." => continue,
            ".." => {
                done.pop();
                continue;
            }
            _ => {}
        }
        let cand = join(&done, &c);
        let meta = tree
            .lstat(&cand)
            .map_err(|e| CopyError::io("lstat source", &cand, e))?;
        match meta.map(|m| m.kind) {
            None => return Ok(None),
            Some(SourceKind::Symlink { target }) => {
                links += 1;
                if links > MAX_LINKS {
                    return Err(CopyError::SymlinkLoop { path: cand });
                }
                if target.starts_with('/') {
                    done.clear();
                }
                for t in target.split('/').rev() {
                    todo.push_front(t.to_string());
                }
            }
            Some(SourceKind::Dir) => done.push(c),
            Some(_) => {
                if !todo.iter().all(|t| t.is_empty() || t == ".") {
                    return Ok(None);
                }
                done.push(c);
            }
        }
    }
    Ok(Some(done.join("/")))
}

fn join(dir: &[String], name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{}/{}", dir.join("/"), name)
    }
}

/// One source selected by a (possibly wildcard) source path.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Match {
    /// The path as matched, relative to the source root (symlinks not resolved): its base name
    /// names a copied file, and `--parents` keeps its directories.
    pub written: Vec<String>,
    /// Where it really is, every symlink followed inside the tree.
    pub resolved: String,
    pub meta: SourceMeta,
    /// Selected by a wildcard (rather than named literally).
    pub by_wildcard: bool,
}

/// Expands one source path. A literal path that does not exist is an error naming it; a
/// wildcard matching nothing selects nothing (BuildKit's `AllowEmptyWildcard`, which the
/// Dockerfile frontend sets: moby/moby#26332), but the directory before the first wildcard must
/// exist. `globstar` lets a `**` component match any number of directories (the `--parents`
/// form in the reference).
pub fn expand(
    tree: &dyn SourceTree,
    source: &str,
    globstar: bool,
) -> Result<Vec<Match>, CopyError> {
    let comps = clean_components(source);
    let not_found = || CopyError::NotFound {
        path: source.to_string(),
    };
    let Some(first_meta) = comps.iter().position(|c| has_meta(c)) else {
        let resolved = follow(tree, &comps)?.ok_or_else(not_found)?;
        let meta = lstat(tree, &resolved)?.ok_or_else(not_found)?;
        return Ok(vec![Match {
            written: comps,
            resolved,
            meta,
            by_wildcard: false,
        }]);
    };
    let base_written = comps[..first_meta].to_vec();
    let base = follow(tree, &base_written)?.ok_or_else(not_found)?;
    match lstat(tree, &base)? {
        Some(m) if m.kind == SourceKind::Dir => {}
        _ => return Err(not_found()),
    }
    for p in &comps[first_meta..] {
        if p != "**" || !globstar {
            match_component(p, "").map_err(|_| CopyError::BadPattern {
                pattern: source.to_string(),
            })?;
        }
    }
    let mut found = Vec::new();
    walk_pattern(
        tree,
        &base,
        &mut Vec::new(),
        &comps[first_meta..],
        globstar,
        &mut found,
    )?;
    found.sort();
    found.dedup();
    let mut out = Vec::new();
    for rel in found {
        let mut written = base_written.clone();
        written.extend(rel);
        // A matched symlink is followed like a literal source (fsutil `rootPath` with
        // FollowLinks); a dangling one selects nothing to copy and is an error.
        let resolved = follow(tree, &written)?.ok_or_else(|| CopyError::NotFound {
            path: written.join("/"),
        })?;
        let meta = lstat(tree, &resolved)?.ok_or_else(not_found)?;
        out.push(Match {
            written,
            resolved,
            meta,
            by_wildcard: true,
        });
    }
    Ok(out)
}

fn lstat(tree: &dyn SourceTree, rel: &str) -> Result<Option<SourceMeta>, CopyError> {
    tree.lstat(rel)
        .map_err(|e| CopyError::io("lstat source", rel, e))
}

/// Matches `pat` against real directories below `dir` (symlinked directories are not descended,
/// as Go's `filepath.Walk` does not).
fn walk_pattern(
    tree: &dyn SourceTree,
    dir: &str,
    prefix: &mut Vec<String>,
    pat: &[String],
    globstar: bool,
    out: &mut Vec<Vec<String>>,
) -> Result<(), CopyError> {
    let Some((first, rest)) = pat.split_first() else {
        out.push(prefix.clone());
        return Ok(());
    };
    if globstar && first == "**" {
        // Zero components, then one more level with `**` still in force.
        walk_pattern(tree, dir, prefix, rest, globstar, out)?;
        for name in read_dir(tree, dir)? {
            let child = sub(dir, &name);
            if matches!(lstat(tree, &child)?, Some(m) if m.kind == SourceKind::Dir) {
                prefix.push(name);
                walk_pattern(tree, &child, prefix, pat, globstar, out)?;
                prefix.pop();
            }
        }
        return Ok(());
    }
    for name in read_dir(tree, dir)? {
        if !match_component(first, &name).unwrap_or(false) {
            continue;
        }
        let child = sub(dir, &name);
        prefix.push(name);
        if rest.is_empty() {
            out.push(prefix.clone());
        } else if matches!(lstat(tree, &child)?, Some(m) if m.kind == SourceKind::Dir) {
            walk_pattern(tree, &child, prefix, rest, globstar, out)?;
        }
        prefix.pop();
    }
    Ok(())
}

fn read_dir(tree: &dyn SourceTree, dir: &str) -> Result<Vec<String>, CopyError> {
    tree.read_dir(dir)
        .map_err(|e| CopyError::io("read source directory", dir, e))
}

/// `dir/name`, or `name` at the root.
pub fn sub(dir: &str, name: &str) -> String {
    if dir.is_empty() {
        name.to_string()
    } else {
        format!("{dir}/{name}")
    }
}

/// Everything below directory `dir` (not the directory itself), parents before children, names
/// sorted, symlinks not followed; paths are relative to `dir`, and so is what the exclude
/// matcher is asked about.
pub fn walk_contents(
    tree: &dyn SourceTree,
    dir: &str,
    exclude: &dyn ExcludeMatcher,
) -> Result<Vec<(String, SourceMeta)>, CopyError> {
    let mut out = Vec::new();
    walk_into(tree, dir, "", exclude, &mut out)?;
    Ok(out)
}

fn walk_into(
    tree: &dyn SourceTree,
    dir: &str,
    rel: &str,
    exclude: &dyn ExcludeMatcher,
    out: &mut Vec<(String, SourceMeta)>,
) -> Result<(), CopyError> {
    for name in read_dir(tree, &sub_opt(dir, rel))? {
        let crel = sub(rel, &name);
        let Some(meta) = lstat(tree, &sub(dir, &crel))? else {
            continue;
        };
        // fsutil's copier skips fifos and sockets (its "unsupported mode" branch wraps a nil
        // error), so they are left out rather than failing the copy.
        if let SourceKind::Special { file_type, .. } = meta.kind {
            if file_type == libc::S_IFIFO || file_type == libc::S_IFSOCK {
                continue;
            }
        }
        let is_dir = meta.kind == SourceKind::Dir;
        if exclude.excluded(&crel, is_dir) && !(is_dir && exclude.may_reinclude_below(&crel)) {
            continue;
        }
        out.push((crel.clone(), meta));
        if is_dir {
            walk_into(tree, dir, &crel, exclude, out)?;
        }
    }
    Ok(())
}

fn sub_opt(dir: &str, rel: &str) -> String {
    if rel.is_empty() {
        dir.to_string()
    } else {
        sub(dir, rel)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::copy::tree::MemTree;

    fn tree() -> MemTree {
        let mut t = MemTree::new();
        t.file("a.txt", 0o644, b"a");
        t.file("b.txt", 0o644, b"b");
        t.file("c.md", 0o644, b"c");
        t.dir("src", 0o755);
        t.file("src/x.rs", 0o644, b"x");
        t.dir("src/sub", 0o755);
        t.file("src/sub/y.rs", 0o644, b"y");
        t.symlink("link", "src/x.rs");
        t.symlink("abs", "/src");
        t.symlink("up", "../../../a.txt");
        t.symlink("dangling", "nope");
        t.symlink("loop", "loop");
        t.file("arr[0].txt", 0o644, b"arr");
        t
    }

    fn names(ms: &[Match]) -> Vec<String> {
        ms.iter().map(|m| m.written.join("/")).collect()
    }

    #[test]
    fn clean_clamps_at_root() {
        assert_eq!(clean_components("../x"), vec!["x"]);
        assert_eq!(clean_components("/a/./b/../c/"), vec!["a", "c"]);
        assert!(clean_components("../../..").is_empty());
    }

    #[test]
    fn follow_stays_inside() {
        let t = tree();
        let f = |p: &str| follow(&t, &clean_components(p)).unwrap();
        assert_eq!(f("link"), Some("src/x.rs".into()));
        assert_eq!(f("abs/sub/y.rs"), Some("src/sub/y.rs".into()));
        assert_eq!(f("up"), Some("a.txt".into()));
        assert_eq!(f("dangling"), None);
        assert_eq!(f("a.txt/x"), None);
        assert!(matches!(
            follow(&t, &clean_components("loop")),
            Err(CopyError::SymlinkLoop { .. })
        ));
    }

    #[test]
    fn wildcard_table() {
        let t = tree();
        let rows: &[(&str, &[&str])] = &[
            ("*.txt", &["a.txt", "arr[0].txt", "b.txt"]),
            ("?.txt", &["a.txt", "b.txt"]),
            ("[ab].txt", &["a.txt", "b.txt"]),
            ("[^a].*", &["b.txt", "c.md"]),
            ("src/*.rs", &["src/x.rs"]),
            ("*/*.rs", &["src/x.rs"]),
            ("nomatch*", &[]),
            ("arr[[]0].txt", &["arr[0].txt"]),
            ("s*", &["src"]),
            ("../*.md", &["c.md"]),
        ];
        for (src, want) in rows {
            let got = expand(&t, src, false).unwrap();
            assert_eq!(names(&got), *want, "{src}");
        }
        let got = expand(&t, "**/*.rs", true).unwrap();
        assert_eq!(names(&got), vec!["src/sub/y.rs", "src/x.rs"]);
    }

    #[test]
    fn literal_and_wildcard_errors() {
        let t = tree();
        for src in ["missing", "dangling", "nodir/*.txt", "a.txt/*"] {
            assert!(
                matches!(expand(&t, src, false), Err(CopyError::NotFound { path }) if path == src),
                "{src}"
            );
        }
        assert!(matches!(
            expand(&t, "[", false),
            Err(CopyError::BadPattern { .. })
        ));
    }

    #[test]
    fn literal_symlink_source_is_followed() {
        let t = tree();
        let m = expand(&t, "link", false).unwrap();
        assert_eq!(m[0].resolved, "src/x.rs");
        assert_eq!(m[0].written, vec!["link"]);
    }

    #[test]
    fn walk_order_and_excludes() {
        let t = tree();
        let all: Vec<String> = walk_contents(&t, "src", &NoExcludes)
            .unwrap()
            .into_iter()
            .map(|(r, _)| r)
            .collect();
        assert_eq!(all, vec!["sub", "sub/y.rs", "x.rs"]);
        let ex = PatternMatcher::new(["sub"]).unwrap();
        let some: Vec<String> = walk_contents(&t, "src", &ex)
            .unwrap()
            .into_iter()
            .map(|(r, _)| r)
            .collect();
        assert_eq!(some, vec!["x.rs"]);
        // A `!` exception below an excluded directory keeps the directory walked.
        struct Reinclude;
        impl ExcludeMatcher for Reinclude {
            fn excluded(&self, rel: &str, _is_dir: bool) -> bool {
                rel == "sub" || rel == "x.rs"
            }
            fn may_reinclude_below(&self, dir: &str) -> bool {
                dir == "sub"
            }
        }
        let kept: Vec<String> = walk_contents(&t, "src", &Reinclude)
            .unwrap()
            .into_iter()
            .map(|(r, _)| r)
            .collect();
        assert_eq!(kept, vec!["sub", "sub/y.rs"]);
        let ex = PatternMatcher::new(["**/*.rs"]).unwrap();
        assert!(ex.excluded("sub/y.rs", false));
        assert!(ex.excluded("x.rs", false));
        assert!(!ex.excluded("sub", true));
        // The real matcher's exceptions: everything under sub/ but y.rs.
        let ex = PatternMatcher::new(["sub", "!sub/y.rs"]).unwrap();
        let kept: Vec<String> = walk_contents(&t, "src", &ex)
            .unwrap()
            .into_iter()
            .map(|(r, _)| r)
            .collect();
        assert_eq!(kept, vec!["sub", "sub/y.rs", "x.rs"]);
    }
}
