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

/// A general pattern: its tokens, plus the literal text any match must start and end with
/// (checked first: most paths fail there, without running the NFA).
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct NfaGlob {
    toks: Box<[Tok]>,
    head: Box<[u8]>,
    tail: Box<[u8]>,
}

impl NfaGlob {
    fn new(toks: Vec<Tok>) -> Self {
        let lit_text = |run: &[Tok]| -> Box<[u8]> {
            let text: String = run
                .iter()
                .map(|t| match t {
                    Tok::Lit(c) => *c,
                    _ => unreachable!("only literal runs"),
                })
                .collect();
            // U+FFFD also stands for an invalid byte in the path: no byte-level shortcut.
            if text.contains(char::REPLACEMENT_CHARACTER) {
                Box::default()
            } else {
                text.into_bytes().into()
            }
        };
        let is_lit = |t: &Tok| matches!(t, Tok::Lit(_));
        let head_len = toks.iter().take_while(|t| is_lit(t)).count();
        let tail_len = toks.iter().rev().take_while(|t| is_lit(t)).count();
        NfaGlob {
            head: lit_text(&toks[..head_len]),
            tail: lit_text(&toks[toks.len() - tail_len..]),
            toks: toks.into(),
        }
    }

    fn is_match(&self, path: &[u8]) -> bool {
        path.starts_with(&self.head) && path.ends_with(&self.tail) && run_nfa(&self.toks, path).0
    }
}

/// How a pattern is matched. Upstream picks the same four strategies, and the choice is
/// observable (a leading `**` followed only by literals is a plain suffix test, so `**file`
/// matches `myfile`), so we keep it rather than always using the general matcher.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Glob {
    Exact(Box<[u8]>),
    Prefix(Box<[u8]>),
    Suffix(Box<[u8]>),
    Nfa(Box<NfaGlob>),
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

/// A parsed `[...]`: negated, its ranges, and the index just after the closing `]`.
type ParsedClass = (bool, Vec<(char, char)>, usize);

/// Parses a class body starting just after `[`.
fn parse_class(chars: &[char], mut i: usize) -> Option<ParsedClass> {
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
        Kind::Nfa => Glob::Nfa(Box::new(NfaGlob::new(toks))),
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
            Glob::Nfa(nfa) => nfa.is_match(path),
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
            Glob::Nfa(nfa) => run_nfa(&nfa.toks, &prefix).1,
        }
    }
}

/// Runs the token list over `input` (Thompson simulation) and returns the states left. State
/// `2*i` = "at token i" (i == len: accept), `2*i+1` = "inside the `.*/` of the DirPrefix at i".
/// Sets are a `u128` bitmask when the pattern is short enough (nearly always: no allocation).
fn run_nfa(toks: &[Tok], input: &[u8]) -> (bool, bool) {
    fn finish<S: StateSet>(toks: &[Tok], set: S) -> (bool, bool) {
        (set.contains(2 * toks.len()), !set.is_empty())
    }
    if 2 * toks.len() + 2 <= 128 {
        finish(toks, simulate::<u128>(toks, input))
    } else {
        finish(toks, simulate::<Vec<u64>>(toks, input))
    }
}

fn simulate<S: StateSet>(toks: &[Tok], input: &[u8]) -> S {
    let n = 2 * toks.len() + 2;
    let mut cur = S::with_capacity(n);
    add(toks, &mut cur, 0);
    let mut rest = input;
    while !rest.is_empty() {
        if cur.is_empty() {
            return cur;
        }
        let (c, len) = decode(rest);
        rest = &rest[len..];
        let mut next = S::with_capacity(n);
        cur.for_each(|s| step(toks, &mut next, s, c));
        cur = next;
    }
    cur
}

/// Adds the epsilon closure of "at token i".
fn add<S: StateSet>(toks: &[Tok], set: &mut S, i: usize) {
    if !set.insert(2 * i) {
        return;
    }
    match toks.get(i) {
        Some(Tok::DirPrefix) => {
            set.insert(2 * i + 1);
            add(toks, set, i + 1);
        }
        Some(Tok::Star) | Some(Tok::DotStar) => add(toks, set, i + 1),
        _ => {}
    }
}

fn step<S: StateSet>(toks: &[Tok], next: &mut S, state: usize, c: char) {
    let i = state / 2;
    if state % 2 == 1 {
        // Go's `.` does not match a newline, and `(.*/)?` is built from it.
        if c == '/' {
            add(toks, next, i + 1);
        }
        if c != '\n' {
            next.insert(state);
        }
        return;
    }
    let Some(tok) = toks.get(i) else { return };
    match tok {
        Tok::Lit(l) if *l == c => add(toks, next, i + 1),
        Tok::Any if c != '/' => add(toks, next, i + 1),
        Tok::Class { negated, ranges } => {
            let hit = ranges.iter().any(|&(lo, hi)| lo <= c && c <= hi);
            if hit != *negated {
                add(toks, next, i + 1);
            }
        }
        Tok::Star if c != '/' => add(toks, next, i),
        Tok::DotStar if c != '\n' => add(toks, next, i),
        _ => {}
    }
}

/// A set of NFA states. "At token i" for a DirPrefix is never consumed from, but it is still
/// inserted so the closure is computed once.
trait StateSet {
    fn with_capacity(n: usize) -> Self;
    /// Inserts; `false` if already present.
    fn insert(&mut self, s: usize) -> bool;
    fn contains(&self, s: usize) -> bool;
    fn is_empty(&self) -> bool;
    fn for_each(&self, f: impl FnMut(usize));
}

impl StateSet for u128 {
    fn with_capacity(_: usize) -> Self {
        0
    }
    fn insert(&mut self, s: usize) -> bool {
        let bit = 1u128 << s;
        let fresh = *self & bit == 0;
        *self |= bit;
        fresh
    }
    fn contains(&self, s: usize) -> bool {
        *self & (1u128 << s) != 0
    }
    fn is_empty(&self) -> bool {
        *self == 0
    }
    fn for_each(&self, mut f: impl FnMut(usize)) {
        let mut bits = *self;
        while bits != 0 {
            f(bits.trailing_zeros() as usize);
            bits &= bits - 1;
        }
    }
}

impl StateSet for Vec<u64> {
    fn with_capacity(n: usize) -> Self {
        vec![0; n.div_ceil(64)]
    }
    fn insert(&mut self, s: usize) -> bool {
        let (word, bit) = (s / 64, 1u64 << (s % 64));
        let fresh = self[word] & bit == 0;
        self[word] |= bit;
        fresh
    }
    fn contains(&self, s: usize) -> bool {
        self[s / 64] & (1u64 << (s % 64)) != 0
    }
    fn is_empty(&self) -> bool {
        self.iter().all(|&w| w == 0)
    }
    fn for_each(&self, mut f: impl FnMut(usize)) {
        for (w, &word) in self.iter().enumerate() {
            let mut bits = word;
            while bits != 0 {
                f(w * 64 + bits.trailing_zeros() as usize);
                bits &= bits - 1;
            }
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
    fn literal_head_and_tail() {
        let Glob::Nfa(nfa) = compile("pkg*/src/*.rs") else {
            panic!("not an NFA pattern")
        };
        assert_eq!((&nfa.head[..], &nfa.tail[..]), (&b"pkg"[..], &b".rs"[..]));
        let Glob::Nfa(nfa) = compile("a\u{fffd}*") else {
            panic!("not an NFA pattern")
        };
        assert!(nfa.head.is_empty(), "U+FFFD may stand for any invalid byte");
        assert!(nfa.is_match(b"a\xff\xfe"));
    }

    #[test]
    fn long_patterns_use_the_large_state_set() {
        let long = format!("{}?x*/**/y", "a".repeat(80));
        let glob = compile(&long);
        let hit = format!("{}bxzz/q/r/y", "a".repeat(80));
        let miss = format!("{}bxzz/q/r/z", "a".repeat(80));
        assert_eq!(glob.is_match(hit.as_bytes()), Ok(true));
        assert_eq!(glob.is_match(miss.as_bytes()), Ok(false));
        assert!(glob.may_match_below(format!("{}bx", "a".repeat(80)).as_bytes()));
        assert!(!glob.may_match_below(format!("{}bx", "a".repeat(79)).as_bytes()));
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
