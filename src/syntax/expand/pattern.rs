//! Shell patterns for `${V#p}`, `${V%p}`, `${V/p/r}`: `*` and `?` wildcards, no bracket
//! expressions, matched on code points with the results BuildKit's regex translation gives.
//!
//! BuildKit turns a pattern into a Go regexp (`*` → `.*` or `.*?`, `?` → `.`), so like Go's `.`
//! the wildcards never match a newline. For patterns made only of literals, `?` and `*`,
//! Go's leftmost-first preference with greedy (lazy) stars selects the longest (shortest)
//! match, which is what is computed here directly from the set of reachable end positions.

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tok {
    Lit(char),
    /// `?`: any one character but a newline.
    One,
    /// `*`: any run of characters without a newline.
    Star,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub(super) struct Pattern {
    toks: Vec<Tok>,
}

impl Pattern {
    /// `\*`, `\?`, `\\` are literal; `\}` and `\/` stand for `}` and `/` (escaped so they do
    /// not end the pattern); any other escape is an error.
    pub(super) fn compile(text: &str) -> Result<Pattern, String> {
        let mut toks = Vec::with_capacity(text.len());
        let mut it = text.chars().peekable();
        while let Some(c) = it.next() {
            match c {
                '*' => {
                    // Consecutive stars match the same strings as one.
                    if toks.last() != Some(&Tok::Star) {
                        toks.push(Tok::Star);
                    }
                }
                '?' => toks.push(Tok::One),
                '\\' => match it.peek().copied() {
                    Some(n @ ('}' | '/')) => {
                        it.next();
                        toks.push(Tok::Lit(n));
                    }
                    Some(n @ ('*' | '?' | '\\')) => {
                        it.next();
                        toks.push(Tok::Lit(n));
                    }
                    Some(n) => return Err(format!("invalid escape '\\{n}'")),
                    None => return Err("trailing '\\'".to_owned()),
                },
                c => toks.push(Tok::Lit(c)),
            }
        }
        Ok(Pattern { toks })
    }

    /// Marks every position `e` such that `chars[start..e]` matches the whole pattern.
    fn ends_from(&self, chars: &[char], start: usize) -> Vec<bool> {
        let n = chars.len();
        let mut cur = vec![false; n + 1];
        cur[start] = true;
        let mut next = vec![false; n + 1];
        for tok in &self.toks {
            next.iter_mut().for_each(|b| *b = false);
            let mut any = false;
            match *tok {
                Tok::Lit(c) => {
                    for p in start..n {
                        if cur[p] && chars[p] == c {
                            next[p + 1] = true;
                            any = true;
                        }
                    }
                }
                Tok::One => {
                    for p in start..n {
                        if cur[p] && chars[p] != '\n' {
                            next[p + 1] = true;
                            any = true;
                        }
                    }
                }
                Tok::Star => {
                    let mut reach = false;
                    for p in start..=n {
                        reach = cur[p] || (reach && chars[p - 1] != '\n');
                        if reach {
                            next[p] = true;
                            any = true;
                        }
                    }
                }
            }
            std::mem::swap(&mut cur, &mut next);
            if !any {
                break;
            }
        }
        cur
    }

    /// Leftmost match starting at or after `from`, longest from that start: `(start, end)`.
    fn find_from(&self, chars: &[char], from: usize) -> Option<(usize, usize)> {
        (from..=chars.len()).find_map(|s| {
            let ends = self.ends_from(chars, s);
            ends.iter().rposition(|&b| b).map(|e| (s, e))
        })
    }

    /// `${V#p}` (shortest) / `${V##p}` (greedy): remove a matching prefix.
    pub(super) fn trim_prefix(&self, value: &str, greedy: bool) -> String {
        let chars: Vec<char> = value.chars().collect();
        let ends = self.ends_from(&chars, 0);
        let end = if greedy {
            ends.iter().rposition(|&b| b)
        } else {
            ends.iter().position(|&b| b)
        };
        match end {
            Some(e) => chars[e..].iter().collect(),
            None => value.to_owned(),
        }
    }

    /// `${V%p}` (shortest) / `${V%%p}` (greedy): remove a matching suffix.
    pub(super) fn trim_suffix(&self, value: &str, greedy: bool) -> String {
        let chars: Vec<char> = value.chars().collect();
        let n = chars.len();
        let matches = |s: usize| self.ends_from(&chars, s)[n];
        let start = if greedy {
            (0..=n).find(|&s| matches(s))
        } else {
            (0..=n).rev().find(|&s| matches(s))
        };
        match start {
            Some(s) => chars[..s].iter().collect(),
            None => value.to_owned(),
        }
    }

    /// `${V/p/r}`: replace the leftmost-longest match; the replacement is literal.
    pub(super) fn replace_first(&self, value: &str, replacement: &str) -> String {
        let chars: Vec<char> = value.chars().collect();
        match self.find_from(&chars, 0) {
            Some((s, e)) => {
                let mut out: String = chars[..s].iter().collect();
                out.push_str(replacement);
                out.extend(&chars[e..]);
                out
            }
            None => value.to_owned(),
        }
    }

    /// `${V//p/r}`: replace every non-overlapping match, scanning left to right the way Go's
    /// `ReplaceAllString` does (an empty match right after a match is not replaced, and the
    /// scan always advances by at least one character).
    pub(super) fn replace_all(&self, value: &str, replacement: &str) -> String {
        let chars: Vec<char> = value.chars().collect();
        let n = chars.len();
        let mut out = String::with_capacity(value.len());
        let mut last_end = 0;
        let mut search = 0;
        while search <= n {
            let Some((s, e)) = self.find_from(&chars, search) else {
                break;
            };
            out.extend(&chars[last_end..s]);
            if e > last_end || s == 0 {
                out.push_str(replacement);
            }
            last_end = e;
            search = if search + 1 > e { search + 1 } else { e };
        }
        out.extend(&chars[last_end.min(n)..]);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::Pattern;

    fn p(s: &str) -> Pattern {
        Pattern::compile(s).unwrap()
    }

    #[test]
    fn trims() {
        // (pattern, value, greedy, prefix result, suffix result)
        let cases: &[(&str, &str, bool, &str, &str)] = &[
            ("*", "abc", false, "abc", "abc"),
            ("*", "abc", true, "", ""),
            ("a*", "abab", false, "bab", "ab"),
            ("a*", "abab", true, "", ""),
            ("*b", "abab", false, "ab", "aba"),
            ("*b", "abab", true, "", ""),
            ("?", "한국어", false, "국어", "한국"),
            ("x", "abc", true, "abc", "abc"),
            ("", "abc", false, "abc", "abc"),
            ("*", "a\nb", true, "\nb", "a\n"),
            ("\\*", "*a*", false, "a*", "*a"),
            ("\\}", "}x}", false, "x}", "}x"),
        ];
        for &(pat, val, greedy, pre, suf) in cases {
            assert_eq!(
                p(pat).trim_prefix(val, greedy),
                pre,
                "prefix {pat:?} {val:?}"
            );
            assert_eq!(
                p(pat).trim_suffix(val, greedy),
                suf,
                "suffix {pat:?} {val:?}"
            );
        }
    }

    #[test]
    fn replaces() {
        // (pattern, value, replacement, first, all)
        let cases: &[(&str, &str, &str, &str, &str)] = &[
            ("o", "foo", "0", "f0o", "f00"),
            ("o*", "foo bar", "_", "f_", "f_"),
            ("", "ab", "-", "-ab", "-a-b-"),
            ("*", "ab", "-", "-", "-"),
            ("?", "ab", "-", "-b", "--"),
            ("a", "bbb", "-", "bbb", "bbb"),
            ("\\/", "/a/", "\\/", "\\/a/", "\\/a\\/"),
        ];
        for &(pat, val, rep, first, all) in cases {
            assert_eq!(
                p(pat).replace_first(val, rep),
                first,
                "first {pat:?} {val:?}"
            );
            assert_eq!(p(pat).replace_all(val, rep), all, "all {pat:?} {val:?}");
        }
    }

    #[test]
    fn compile_errors() {
        for bad in ["\\a", "x\\", "\\$", "\\#"] {
            assert!(Pattern::compile(bad).is_err(), "{bad:?} should be rejected");
        }
    }
}
