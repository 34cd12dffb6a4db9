//! One `.dockerignore` glob compiled with moby/patternmatcher's semantics: its syntax check, its
//! exact/prefix/suffix fast paths, and a small NFA for everything else.
//!
//! Upstream translates a pattern into a Go regexp; we keep the same *meaning* without a regex
//! engine: `*` = any run of non-`/` characters, `?` = one non-`/` character, `**` followed by
//! more pattern = `(.*/)?`, a trailing `**` = `.*`, `[...]` = a class on code points (which, as
//! upstream, may match `/`), `\x` = literal `x`. Paths are bytes; an invalid UTF-8 byte reads as
//! one U+FFFD character, the way Go's regexp decodes it.

/// One element of a compiled glob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Tok {
    Lit(char),
    /// `?`: one character other than `/`.
    Any,
    /// `*`: any run of characters other than `/`.
    Star,
    Class {
        negated: bool,
        ranges: Vec<(char, char)>,
    },
    /// `**` with more pattern after it: nothing, or anything ending in `/`.
    DirPrefix,
    /// `**` at the end of a pattern that is not a plain prefix: anything.
    DotStar,
}

/// How a pattern is matched. Upstream picks the same four strategies, and the choice is
/// observable (a leading `**` followed only by literals is a plain suffix test, so `**file`
/// matches `myfile`), so we keep it rather than always using the general matcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Glob {
    Exact(Box<[u8]>),
    Prefix(Box<[u8]>),
    Suffix(Box<[u8]>),
    Nfa(Box<[Tok]>),
    /// Passes the construction-time syntax check but cannot be compiled (upstream: the regexp
    /// compiler refuses it, e.g. a reversed range `[l-O]`); every match attempt fails.
    Invalid,
}

/// Go's `filepath.Match` syntax check, which upstream runs on every pattern at construction:
/// a `\` must escape something, and a class must be closed, non-empty, with no bare `-` or `]`
/// where a character is expected.
pub(crate) fn is_valid_syntax(pattern: &str) -> bool {
    let chars: Vec<char> = pattern.chars().collect();
    let mut i = 0;
    while i < chars.len() {
        match chars[i] {
            '\\' => {
                if i + 1 >= chars.len() {
                    return false;
                }
                i += 2;
            }
            '[' => match parse_class(&chars, i + 1) {
                Some((_, _, next)) => i = next,
                None => return false,
            },
            _ => i += 1,
        }
    }
    true
}

/// Parses a class body starting just after `[`; returns (negated, ranges, index after `]`).
fn parse_class(chars: &[char], mut i: usize) -> Option<(bool, Vec<(char, char)>, usize)> {
    let mut negated = false;
    if chars.get(i) == Some(&'^') {
        negated = true;
        i += 1;
    }
    let mut ranges = Vec::new();
    loop {
        let c = *chars.get(i)?;
        if c == ']' && !ranges.is_empty() {
            return Some((negated, ranges, i + 1));
        }
        let (lo, next) = class_char(chars, i)?;
        i = next;
        let mut hi = lo;
        if chars.get(i) == Some(&'-') {
            let (h, next) = class_char(chars, i + 1)?;
            hi = h;
            i = next;
        }
        ranges.push((lo, hi));
    }
}

/// One (possibly escaped) character where a class expects one; `-` and `]` are not allowed.
fn class_char(chars: &[char], i: usize) -> Option<(char, usize)> {
    match *chars.get(i)? {
        '-' | ']' => None,
        '\\' => chars.get(i + 1).map(|&c| (c, i + 2)),
        c => Some((c, i + 1)),
    }
}

/// Compiles a cleaned pattern (without its `!`) that passed [`is_valid_syntax`].
pub(crate) fn compile(pattern: &str) -> Glob {
    #[derive(PartialEq)]
    enum Kind {
        Exact,
        Prefix,
        Suffix,
        Nfa,
    }
    let chars: Vec<char> = pattern.chars().collect();
    let mut toks = Vec::new();
    let mut kind = Kind::Exact;
    let mut i = 0;
    let mut step = 0;
    while i < chars.len() {
        let c = chars[i];
        i += 1;
        match c {
            '*' if chars.get(i) == Some(&'*') => {
                i += 1;
                if chars.get(i) == Some(&'/') {
                    i += 1;
                }
                if i >= chars.len() {
                    if kind == Kind::Exact {
                        kind = Kind::Prefix;
                    } else {
                        toks.push(Tok::DotStar);
                        kind = Kind::Nfa;
                    }
                } else {
                    toks.push(Tok::DirPrefix);
                    kind = Kind::Nfa;
                }
                if step == 0 {
                    kind = Kind::Suffix;
                }
            }
            '*' => {
                toks.push(Tok::Star);
                kind = Kind::Nfa;
            }
            '?' => {
                toks.push(Tok::Any);
                kind = Kind::Nfa;
            }
            '\\' => {
                // Validated: a character follows.
                toks.push(Tok::Lit(chars[i]));
                i += 1;
                kind = Kind::Nfa;
            }
            '[' => {
                let Some((negated, ranges, next)) = parse_class(&chars, i) else {
                    return Glob::Invalid;
                };
                if ranges.iter().any(|&(lo, hi)| lo > hi) {
                    return Glob::Invalid;
                }
                toks.push(Tok::Class { negated, ranges });
                i = next;
                kind = Kind::Nfa;
            }
            ']' => {
                toks.push(Tok::Lit(']'));
                kind = Kind::Nfa;
            }
            c => toks.push(Tok::Lit(c)),
        }
        step += 1;
    }
    let bytes = pattern.as_bytes();
    match kind {
        Kind::Exact => Glob::Exact(bytes.into()),
        Kind::Prefix => Glob::Prefix(bytes[..bytes.len() - 2].into()),
        Kind::Suffix => Glob::Suffix(bytes[2..].into()),
        Kind::Nfa => Glob::Nfa(toks.into()),
    }
}

impl Glob {
    /// Whether the whole `path` matches; `Err(())` for an [`Glob::Invalid`] pattern.
    pub(crate) fn is_match(&self, path: &[u8]) -> Result<bool, ()> {
        Ok(match self {
            Glob::Exact(lit) => path == &lit[..],
            Glob::Prefix(lit) => path.starts_with(lit),
            Glob::Suffix(lit) => {
                path.ends_with(lit) || (lit.first() == Some(&b'/') && path == &lit[1..])
            }
            Glob::Nfa(toks) => Nfa::new(toks).run(path).accepts(),
            Glob::Invalid => return Err(()),
        })
    }

    /// Whether some path that starts with `dir/` could match. May answer `true` too often (the
    /// walker then just looks inside), never `false` wrongly.
    pub(crate) fn may_match_below(&self, dir: &[u8]) -> bool {
        let mut prefix = Vec::with_capacity(dir.len() + 1);
        prefix.extend_from_slice(dir);
        prefix.push(b'/');
        match self {
            Glob::Exact(lit) => lit.starts_with(&prefix),
            Glob::Prefix(lit) => lit.starts_with(&prefix) || prefix.starts_with(lit),
            Glob::Suffix(_) | Glob::Invalid => true,
            Glob::Nfa(toks) => Nfa::new(toks).run(&prefix).alive(),
        }
    }
}

/// Thompson simulation over the token list. State `2*i` = "at token i" (i == len: accept),
/// `2*i+1` = "inside the `.*/` of the DirPrefix at token i".
struct Nfa<'a> {
    toks: &'a [Tok],
    cur: Vec<u32>,
    next: Vec<u32>,
    seen: Vec<u32>,
    generation: u32,
}

impl<'a> Nfa<'a> {
    fn new(toks: &'a [Tok]) -> Self {
        Nfa {
            toks,
            cur: Vec::with_capacity(8),
            next: Vec::with_capacity(8),
            seen: vec![0; 2 * toks.len() + 2],
            generation: 1,
        }
    }

    fn run(mut self, input: &[u8]) -> Self {
        let mut cur = std::mem::take(&mut self.cur);
        self.add(&mut cur, 0);
        let mut rest = input;
        while !rest.is_empty() && !cur.is_empty() {
            let (c, len) = decode(rest);
            rest = &rest[len..];
            self.generation += 1;
            let mut next = std::mem::take(&mut self.next);
            next.clear();
            for &s in &cur {
                self.step(&mut next, s, c);
            }
            self.next = cur;
            cur = next;
        }
        if !rest.is_empty() {
            cur.clear();
        }
        self.cur = cur;
        self
    }

    fn accepts(&self) -> bool {
        let accept = 2 * self.toks.len() as u32;
        self.cur.contains(&accept)
    }

    fn alive(&self) -> bool {
        !self.cur.is_empty()
    }

    /// Adds the epsilon closure of "at token i".
    fn add(&mut self, set: &mut Vec<u32>, i: usize) {
        let s = 2 * i as u32;
        if self.seen[s as usize] == self.generation {
            return;
        }
        self.seen[s as usize] = self.generation;
        match self.toks.get(i) {
            Some(Tok::DirPrefix) => {
                self.add_inside(set, i);
                self.add(set, i + 1);
            }
            Some(Tok::Star) | Some(Tok::DotStar) => {
                set.push(s);
                self.add(set, i + 1);
            }
            _ => set.push(s),
        }
    }

    fn add_inside(&mut self, set: &mut Vec<u32>, i: usize) {
        let s = 2 * i as u32 + 1;
        if self.seen[s as usize] != self.generation {
            self.seen[s as usize] = self.generation;
            set.push(s);
        }
    }

    fn step(&mut self, next: &mut Vec<u32>, state: u32, c: char) {
        let i = (state / 2) as usize;
        if state % 2 == 1 {
            // Go's `.` does not match a newline, and `(.*/)?` is built from it.
            if c == '/' {
                self.add(next, i + 1);
            }
            if c != '\n' {
                self.add_inside(next, i);
            }
            return;
        }
        let Some(tok) = self.toks.get(i) else { return };
        match tok {
            Tok::Lit(l) if *l == c => self.add(next, i + 1),
            Tok::Any if c != '/' => self.add(next, i + 1),
            Tok::Class { negated, ranges } => {
                let hit = ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi);
                if hit != *negated {
                    self.add(next, i + 1);
                }
            }
            Tok::Star if c != '/' => self.add(next, i),
            Tok::DotStar if c != '\n' => self.add(next, i),
            _ => {}
        }
    }
}

/// Decodes one character; an invalid byte is one U+FFFD.
fn decode(bytes: &[u8]) -> (char, usize) {
    let b = bytes[0];
    if b < 0x80 {
        return (b as char, 1);
    }
    let want = match b {
        0xC2..=0xDF => 2,
        0xE0..=0xEF => 3,
        0xF0..=0xF4 => 4,
        _ => return (char::REPLACEMENT_CHARACTER, 1),
    };
    match bytes.get(..want).map(std::str::from_utf8) {
        Some(Ok(s)) => (
            s.chars().next().unwrap_or(char::REPLACEMENT_CHARACTER),
            want,
        ),
        _ => (char::REPLACEMENT_CHARACTER, 1),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn syntax_check_table() {
        let cases: &[(&str, bool)] = &[
            ("abc", true),
            ("a*b?c", true),
            ("[abc]", true),
            ("[^a-z]", true),
            ("[\\]a]", true),
            ("[\\-]", true),
            ("[x\\-]", true),
            ("[Local-Only]", true), // reversed range: only the compiler refuses it
            ("[", false),
            ("a[", false),
            ("[^", false),
            ("[^bc", false),
            ("\\", false),
            ("a\\", false),
            ("[]a]", false),
            ("[-]", false),
            ("[x-]", false),
            ("[-x]", false),
            ("[a-b-c]", false),
            ("[\\", false),
        ];
        for &(pattern, ok) in cases {
            assert_eq!(is_valid_syntax(pattern), ok, "pattern {pattern:?}");
        }
    }

    #[test]
    fn strategy_table() {
        let lit = |s: &str| -> Box<[u8]> { s.as_bytes().into() };
        assert_eq!(compile("a.b+c"), Glob::Exact(lit("a.b+c")));
        assert_eq!(compile("dir/**"), Glob::Prefix(lit("dir/")));
        assert_eq!(compile("**"), Glob::Suffix(lit("")));
        assert_eq!(compile("**/foo/bar"), Glob::Suffix(lit("/foo/bar")));
        assert_eq!(compile("**file"), Glob::Suffix(lit("file")));
        assert_eq!(compile("[l-O]"), Glob::Invalid);
        assert!(matches!(compile("**/*.txt"), Glob::Nfa(_)));
        assert!(matches!(compile("a\\*b"), Glob::Nfa(_)));
    }

    #[test]
    fn nfa_table() {
        let cases: &[(&str, &str, bool)] = &[
            ("a*b*c*d*e*/f", "axbxcxdxexxx/f", true),
            ("a*b*c*d*e*/f", "axbxcxdxe/xxx/f", false),
            ("a**/*.txt", "a/dir/dir/file.txt", true),
            ("a**/*.txt", "abc/file.txt", true), // `**` is not component-aligned upstream
            ("**/dir2/**", "dir/dir2/dir3/file", true),
            ("**/**/*.txt2", "dir/dir/file.txt", false),
            ("x/**/y", "x/y", true),
            ("x/**/y", "x/a/b/y", true),
            ("x/**/y", "xy", false),
            ("a[^a]b", "a/b", true), // classes may match `/`, as upstream's regexp does
            ("a?b", "a/b", false),
            ("*", "a\nb", true),
            ("x/**/y", "x/a\nb/y", false), // Go's `.` stops at a newline
            ("[a-ζ]*", "α", true),
            ("\\[x]", "[x]", true),
        ];
        for &(pattern, path, want) in cases {
            assert_eq!(
                compile(pattern).is_match(path.as_bytes()),
                Ok(want),
                "{pattern:?} vs {path:?}"
            );
        }
    }

    #[test]
    fn invalid_utf8_byte_is_one_character() {
        assert_eq!(compile("a?b").is_match(b"a\xffb"), Ok(true));
        assert_eq!(compile("a??b").is_match(b"a\xffb"), Ok(false));
    }

    #[test]
    fn may_match_below_table() {
        let cases: &[(&str, &str, bool)] = &[
            ("docs/README.md", "docs", true),
            ("docs/README.md", "doc", false),
            ("docs", "docs", false),
            ("util/docker/web", "util", true),
            ("util/docker/web", "util/docker", true),
            ("util/docker/web", "other", false),
            ("*/README.md", "docs", true),
            ("*/README.md", "docs/sub", false),
            ("*.md", "docs", false),
            ("**/keep", "anything/deep", true),
            ("dist/*.whl", "dist", true),
            ("dist/*.whl", "build", false),
            ("di**", "dist", true),
            ("dist/x/**", "dist", true),
        ];
        for &(pattern, dir, want) in cases {
            assert_eq!(
                compile(pattern).may_match_below(dir.as_bytes()),
                want,
                "{pattern:?} below {dir:?}"
            );
        }
    }
}
