//! The lexer behind `syntax::expand`: a port of the behaviour (not the code) of BuildKit's
//! shell word processor — one pass over the word's code points, recursive for `${…}` words.

use std::collections::BTreeSet;

use super::pattern;
use super::{ExpandError, Expanded, Vars, MAX_NESTING};

#[derive(Debug, Clone, Copy)]
pub(super) struct Mode {
    pub(super) escape: char,
    /// Quotes are ordinary characters (heredoc bodies).
    pub(super) skip_quotes: bool,
    /// Quote characters are kept in the output.
    pub(super) raw_quotes: bool,
    /// Unset variables are left as written instead of expanding to "".
    pub(super) skip_unset: bool,
}

impl Mode {
    pub(super) fn normal(escape: char) -> Self {
        Mode {
            escape,
            skip_quotes: false,
            raw_quotes: false,
            skip_unset: false,
        }
    }
}

pub(super) fn run<V: Vars + ?Sized>(
    src: &str,
    mode: Mode,
    env: &V,
    split: bool,
) -> Result<(Expanded, Vec<String>), ExpandError> {
    let mut lx = Lexer {
        src,
        pos: 0,
        mode,
        raw_escapes: false,
        depth: 0,
        env,
        matched: BTreeSet::new(),
        unmatched: BTreeSet::new(),
    };
    let mut words = Words::new(split);
    match lx.stop_on(None, false, &mut words) {
        Ok(value) => Ok((
            Expanded {
                value,
                matched: lx.matched,
                unmatched: lx.unmatched,
            },
            words.finish(),
        )),
        Err(e) => Err(e.bytes_to_chars(src)),
    }
}

/// Accumulates words for ProcessWords. Disabled for nested `${…}` words, whose split is
/// discarded by BuildKit.
struct Words {
    enabled: bool,
    word: String,
    words: Vec<String>,
    in_word: bool,
    /// After a literal `<<` (or `<<-`), spaces and tabs stay in the word so heredoc
    /// detection sees `<< EOF` as one token.
    heredoc_glue: bool,
}

impl Words {
    fn new(enabled: bool) -> Self {
        Words {
            enabled,
            word: String::new(),
            words: Vec::new(),
            in_word: false,
            heredoc_glue: false,
        }
    }

    fn add_char(&mut self, ch: char) {
        if !self.enabled {
            return;
        }
        if ch.is_whitespace() {
            if self.in_word && !self.word.is_empty() {
                self.words.push(std::mem::take(&mut self.word));
                self.in_word = false;
            }
        } else {
            self.add_raw_char(ch);
        }
    }

    /// A literal character from the input (not from an expansion).
    fn add_literal(&mut self, ch: char) {
        if !self.enabled {
            return;
        }
        if self.heredoc_glue && (ch == ' ' || ch == '\t') {
            self.add_raw_char(ch);
            return;
        }
        self.add_char(ch);
        self.heredoc_glue = match ch {
            '<' => self.word.ends_with("<<"),
            '-' => self.heredoc_glue && self.word.ends_with("<<-"),
            _ => false,
        };
    }

    fn add_raw_char(&mut self, ch: char) {
        if !self.enabled {
            return;
        }
        self.word.push(ch);
        self.in_word = true;
    }

    fn add_string(&mut self, s: &str) {
        if !self.enabled {
            return;
        }
        self.heredoc_glue = false;
        for ch in s.chars() {
            self.add_char(ch);
        }
    }

    fn add_raw_string(&mut self, s: &str) {
        if !self.enabled {
            return;
        }
        self.heredoc_glue = false;
        self.word.push_str(s);
        self.in_word = true;
    }

    fn finish(mut self) -> Vec<String> {
        if !self.word.is_empty() {
            self.words.push(std::mem::take(&mut self.word));
        }
        self.words
    }
}

struct Lexer<'a, V: Vars + ?Sized> {
    src: &'a str,
    /// Byte position of the next character.
    pos: usize,
    mode: Mode,
    /// Keep escape characters in the output: set while reading `#`/`%`/`/` patterns so the
    /// pattern compiler can tell `\*` from `*`.
    raw_escapes: bool,
    /// How many `${` are open around the current position.
    depth: usize,
    env: &'a V,
    matched: BTreeSet<String>,
    unmatched: BTreeSet<String>,
}

impl<'a, V: Vars + ?Sized> Lexer<'a, V> {
    fn peek(&self) -> Option<char> {
        self.src[self.pos..].chars().next()
    }

    fn next(&mut self) -> Option<char> {
        let c = self.peek()?;
        self.pos += c.len_utf8();
        Some(c)
    }

    fn at_eof(&self) -> bool {
        self.pos >= self.src.len()
    }

    fn lookup(&mut self, name: &str) -> Option<&'a str> {
        let env: &'a V = self.env;
        match env.get(name) {
            Some(v) => {
                if !self.matched.contains(name) {
                    self.matched.insert(name.to_owned());
                }
                Some(v)
            }
            None => {
                if !self.unmatched.contains(name) {
                    self.unmatched.insert(name.to_owned());
                }
                None
            }
        }
    }

    /// Processes text until `stop` (consumed) or the end of input. Reaching the end while
    /// looking for `stop` is an error; callers replace it with a message naming the construct.
    fn stop_on(
        &mut self,
        stop: Option<char>,
        raw_escapes: bool,
        words: &mut Words,
    ) -> Result<String, ExpandError> {
        let saved = std::mem::replace(&mut self.raw_escapes, raw_escapes);
        let r = self.stop_on_inner(stop, words);
        self.raw_escapes = saved;
        r
    }

    fn stop_on_inner(
        &mut self,
        stop: Option<char>,
        words: &mut Words,
    ) -> Result<String, ExpandError> {
        let mut result = String::new();
        while let Some(ch) = self.peek() {
            if Some(ch) == stop {
                self.next();
                return Ok(result);
            }
            match ch {
                '$' => {
                    let v = self.dollar()?;
                    words.add_string(&v);
                    result.push_str(&v);
                }
                '\'' if !self.mode.skip_quotes => {
                    let v = self.single_quote()?;
                    words.add_raw_string(&v);
                    result.push_str(&v);
                }
                '"' if !self.mode.skip_quotes => {
                    let v = self.double_quote()?;
                    words.add_raw_string(&v);
                    result.push_str(&v);
                }
                _ => {
                    self.next();
                    if ch == self.mode.escape {
                        if self.raw_escapes {
                            words.add_raw_char(ch);
                            result.push(ch);
                        }
                        // A trailing escape character is dropped silently.
                        let Some(c) = self.next() else { break };
                        words.heredoc_glue = false;
                        words.add_raw_char(c);
                        result.push(c);
                    } else {
                        words.add_literal(ch);
                        result.push(ch);
                    }
                }
            }
        }
        if stop.is_some() {
            return Err(ExpandError::MissingBrace { offset: self.pos });
        }
        Ok(result)
    }

    fn single_quote(&mut self) -> Result<String, ExpandError> {
        let open = self.pos;
        self.next();
        let mut r = String::new();
        if self.mode.raw_quotes {
            r.push('\'');
        }
        loop {
            match self.next() {
                None => return Err(ExpandError::UnterminatedSingleQuote { offset: open }),
                Some('\'') => {
                    if self.mode.raw_quotes {
                        r.push('\'');
                    }
                    return Ok(r);
                }
                Some(c) => r.push(c),
            }
        }
    }

    fn double_quote(&mut self) -> Result<String, ExpandError> {
        let open = self.pos;
        self.next();
        let mut r = String::new();
        if self.mode.raw_quotes {
            r.push('"');
        }
        let esc = self.mode.escape;
        loop {
            match self.peek() {
                None => return Err(ExpandError::UnterminatedDoubleQuote { offset: open }),
                Some('"') => {
                    self.next();
                    if self.mode.raw_quotes {
                        r.push('"');
                    }
                    return Ok(r);
                }
                Some('$') => {
                    let v = self.dollar()?;
                    r.push_str(&v);
                }
                Some(mut ch) => {
                    self.next();
                    if ch == esc {
                        if self.raw_escapes {
                            r.push(ch);
                        }
                        match self.peek() {
                            // The escape is dropped; the loop then reports the open quote.
                            None => continue,
                            Some(c) if c == '"' || c == '$' || c == esc => {
                                self.next();
                                ch = c;
                            }
                            // Any other escaped character keeps its escape.
                            Some(_) => {}
                        }
                    }
                    r.push(ch);
                }
            }
        }
    }

    /// Reads the word of a `${name<op>word}` up to the closing brace.
    fn modifier_word(&mut self, dollar: usize, raw: bool) -> Result<String, ExpandError> {
        let mut nested = Words::new(false);
        self.stop_on(Some('}'), raw, &mut nested).map_err(|e| {
            if self.at_eof() {
                ExpandError::MissingBrace { offset: dollar }
            } else {
                e
            }
        })
    }

    fn dollar(&mut self) -> Result<String, ExpandError> {
        let start = self.pos;
        self.next();

        if self.peek() != Some('{') {
            let name = self.name();
            if name.is_empty() {
                return Ok("$".to_owned());
            }
            return Ok(match self.lookup(&name) {
                Some(v) => v.to_owned(),
                None if self.mode.skip_unset => format!("${name}"),
                None => String::new(),
            });
        }

        self.next();
        if self.depth >= MAX_NESTING {
            return Err(ExpandError::TooDeep {
                offset: start,
                limit: MAX_NESTING,
            });
        }
        self.depth += 1;
        let r = self.braced(start);
        self.depth -= 1;
        r
    }

    /// The rest of a `${…}` after its `${` (at byte `start`).
    fn braced(&mut self, start: usize) -> Result<String, ExpandError> {
        match self.peek() {
            None => return Err(ExpandError::MissingBrace { offset: start }),
            Some('{' | '}' | ':') => return Err(ExpandError::BadSubstitution { offset: start }),
            Some(_) => {}
        }
        let name = self.name();
        let Some(ch) = self.next() else {
            return Err(ExpandError::MissingBrace { offset: start });
        };
        match ch {
            '}' => Ok(match self.lookup(&name) {
                Some(v) => v.to_owned(),
                None if self.mode.skip_unset => format!("${{{name}}}"),
                None => String::new(),
            }),
            ':' | '+' | '-' | '?' | '#' | '%' => {
                let (null_is_unset, op) = if ch == ':' {
                    match self.next() {
                        Some(op) => (true, op),
                        None => return Err(ExpandError::MissingBrace { offset: start }),
                    }
                } else {
                    (false, ch)
                };
                let modifier = if null_is_unset {
                    format!(":{op}")
                } else {
                    op.to_string()
                };
                if null_is_unset && (op == '#' || op == '%') {
                    return Err(ExpandError::UnsupportedModifier {
                        offset: start,
                        modifier,
                    });
                }
                let word = self.modifier_word(start, op == '#' || op == '%')?;
                let value = self.lookup(&name);
                if value.is_none() && self.mode.skip_unset {
                    return Ok(format!("${{{name}{modifier}{word}}}"));
                }
                let empty = |v: Option<&str>| v.is_none() || (null_is_unset && v == Some(""));
                match op {
                    '-' => Ok(if empty(value) {
                        word
                    } else {
                        value.unwrap_or_default().to_owned()
                    }),
                    '+' => Ok(if empty(value) { String::new() } else { word }),
                    '?' => {
                        let default = match value {
                            None => "is not allowed to be unset",
                            Some("") if null_is_unset => "is not allowed to be empty",
                            Some(v) => return Ok(v.to_owned()),
                        };
                        let message = if word.is_empty() {
                            default.to_owned()
                        } else {
                            word
                        };
                        Err(ExpandError::Required {
                            offset: start,
                            name,
                            message,
                        })
                    }
                    '#' | '%' => {
                        // BuildKit decides greediness on the processed word, so a doubled
                        // operator may also come from a variable's value.
                        let (greedy, pat) = match word.strip_prefix(op) {
                            Some(rest) => (true, rest),
                            None => (false, word.as_str()),
                        };
                        let compiled = pattern::Pattern::compile(pat).map_err(|reason| {
                            ExpandError::InvalidPattern {
                                offset: start,
                                pattern: pat.to_owned(),
                                reason,
                            }
                        })?;
                        let v = value.unwrap_or_default();
                        Ok(if op == '%' {
                            compiled.trim_suffix(v, greedy)
                        } else {
                            compiled.trim_prefix(v, greedy)
                        })
                    }
                    _ => Err(ExpandError::UnsupportedModifier {
                        offset: start,
                        modifier,
                    }),
                }
            }
            '/' => {
                let replace_all = self.peek() == Some('/');
                if replace_all {
                    self.next();
                }
                let mut nested = Words::new(false);
                let pat = self.stop_on(Some('/'), true, &mut nested).map_err(|e| {
                    if self.at_eof() {
                        ExpandError::MissingSlash { offset: start }
                    } else {
                        e
                    }
                })?;
                let replacement = self.modifier_word(start, true)?;
                let value = self.lookup(&name);
                if value.is_none() && self.mode.skip_unset {
                    let op = if replace_all { "//" } else { "/" };
                    return Ok(format!("${{{name}{op}{pat}/{replacement}}}"));
                }
                let compiled = pattern::Pattern::compile(&pat).map_err(|reason| {
                    ExpandError::InvalidPattern {
                        offset: start,
                        pattern: pat.clone(),
                        reason,
                    }
                })?;
                let v = value.unwrap_or_default();
                Ok(if replace_all {
                    compiled.replace_all(v, &replacement)
                } else {
                    compiled.replace_first(v, &replacement)
                })
            }
            other => Err(ExpandError::UnsupportedModifier {
                offset: start,
                modifier: other.to_string(),
            }),
        }
    }

    /// A variable name: a run of letters, digits and `_`; or all consecutive digits
    /// (positional parameters); or one special-parameter character.
    fn name(&mut self) -> String {
        let mut name = String::new();
        while let Some(ch) = self.peek() {
            if name.is_empty() && is_digit(ch) {
                while let Some(d) = self.peek().filter(|&c| is_digit(c)) {
                    self.next();
                    name.push(d);
                }
                return name;
            }
            if name.is_empty() && matches!(ch, '@' | '*' | '#' | '?' | '-' | '$' | '!' | '0') {
                self.next();
                name.push(ch);
                return name;
            }
            if !(ch.is_alphabetic() || is_digit(ch) || ch == '_') {
                break;
            }
            self.next();
            name.push(ch);
        }
        name
    }
}

fn is_digit(c: char) -> bool {
    c.is_ascii_digit() || (!c.is_ascii() && c.is_numeric())
}
