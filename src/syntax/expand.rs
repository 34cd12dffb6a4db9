//! Docker/BuildKit word processing: quote removal, escapes, `$VAR` / `${VAR…}` expansion and
//! word splitting, as pure functions with the semantics of BuildKit's shell lexer.
//!
//! Three modes are exposed, matching how BuildKit's Dockerfile front end uses its lexer:
//! - [`process_word`] / [`process_words`]: instruction arguments (ENV, LABEL, COPY paths, …).
//! - [`expand_heredoc_body`]: COPY/ADD heredoc bodies with an unquoted delimiter — quotes are
//!   kept, `\` escapes are processed, the escape directive is ignored (BuildKit always uses `\`).
//! - [`expand_for_display`]: the progress name of a RUN step — quotes kept, unset variables
//!   left as written, never fails.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::hash::BuildHasher;

mod pattern;
#[cfg(test)]
mod tests;

/// Variable lookup used during expansion. Names are case-sensitive (Unix semantics).
pub trait Vars {
    /// The value of `name`, or `None` when it is not set (set-but-empty is `Some("")`).
    fn get(&self, name: &str) -> Option<&str>;
}

impl<S: BuildHasher> Vars for HashMap<String, String, S> {
    fn get(&self, name: &str) -> Option<&str> {
        HashMap::get(self, name).map(String::as_str)
    }
}

impl Vars for BTreeMap<String, String> {
    fn get(&self, name: &str) -> Option<&str> {
        BTreeMap::get(self, name).map(String::as_str)
    }
}

/// Later pairs win, as in a process environment built by appending.
impl<K: AsRef<str>, V: AsRef<str>> Vars for [(K, V)] {
    fn get(&self, name: &str) -> Option<&str> {
        self.iter()
            .rev()
            .find(|(k, _)| k.as_ref() == name)
            .map(|(_, v)| v.as_ref())
    }
}

impl<K: AsRef<str>, V: AsRef<str>> Vars for Vec<(K, V)> {
    fn get(&self, name: &str) -> Option<&str> {
        Vars::get(self.as_slice(), name)
    }
}

impl<T: Vars + ?Sized> Vars for &T {
    fn get(&self, name: &str) -> Option<&str> {
        (**self).get(name)
    }
}

/// An environment in which nothing is set.
#[derive(Debug, Clone, Copy, Default)]
pub struct NoVars;

impl Vars for NoVars {
    fn get(&self, _name: &str) -> Option<&str> {
        None
    }
}

/// The result of processing one word.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Expanded {
    /// The processed text.
    pub value: String,
    /// Variable names that were looked up and found (including set-but-empty).
    pub matched: BTreeSet<String>,
    /// Variable names that were looked up and not set (positional/special parameters included).
    pub unmatched: BTreeSet<String>,
}

/// Why a word could not be processed. `offset` is the character (code point) offset in the
/// word where the faulty construct starts, so callers can turn it into `Dockerfile:LINE:COL`.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ExpandError {
    #[error("unterminated single quote")]
    UnterminatedSingleQuote { offset: usize },
    #[error("unterminated double quote")]
    UnterminatedDoubleQuote { offset: usize },
    #[error("missing '}}' in ${{…}}")]
    MissingBrace { offset: usize },
    #[error("missing '/' in ${{name/pattern/replacement}}")]
    MissingSlash { offset: usize },
    #[error("bad substitution: ${{ must be followed by a variable name")]
    BadSubstitution { offset: usize },
    #[error("bad substitution: unsupported modifier '{modifier}' in ${{…}}")]
    UnsupportedModifier { offset: usize, modifier: String },
    /// `${V?msg}` / `${V:?msg}` with V unset (or empty for `:?`).
    #[error("{name}: {message}")]
    Required {
        offset: usize,
        name: String,
        message: String,
    },
    #[error("invalid pattern '{pattern}' in ${{…}}: {reason}")]
    InvalidPattern {
        offset: usize,
        pattern: String,
        reason: String,
    },
}

impl ExpandError {
    /// Character offset in the word where the faulty construct starts.
    pub fn offset(&self) -> usize {
        match self {
            Self::UnterminatedSingleQuote { offset }
            | Self::UnterminatedDoubleQuote { offset }
            | Self::MissingBrace { offset }
            | Self::MissingSlash { offset }
            | Self::BadSubstitution { offset }
            | Self::UnsupportedModifier { offset, .. }
            | Self::Required { offset, .. }
            | Self::InvalidPattern { offset, .. } => *offset,
        }
    }

    fn offset_mut(&mut self) -> &mut usize {
        match self {
            Self::UnterminatedSingleQuote { offset }
            | Self::UnterminatedDoubleQuote { offset }
            | Self::MissingBrace { offset }
            | Self::MissingSlash { offset }
            | Self::BadSubstitution { offset }
            | Self::UnsupportedModifier { offset, .. }
            | Self::Required { offset, .. }
            | Self::InvalidPattern { offset, .. } => offset,
        }
    }

    /// The lexer tracks byte positions; users want characters.
    fn bytes_to_chars(mut self, src: &str) -> Self {
        let off = self.offset_mut();
        *off = src[..(*off).min(src.len())].chars().count();
        self
    }
}

/// BuildKit ProcessWord: one string, quotes removed, escapes applied, variables expanded,
/// whitespace preserved.
pub fn process_word<V: Vars + ?Sized>(
    word: &str,
    escape: char,
    env: &V,
) -> Result<Expanded, ExpandError> {
    let mode = Mode::normal(escape);
    if !word.contains(['$', '\'', '"', escape]) {
        return Ok(Expanded {
            value: word.to_owned(),
            ..Expanded::default()
        });
    }
    run(word, mode, env, false).map(|(e, _)| e)
}

/// BuildKit ProcessWords: the same processing, then split into words after expansion.
/// Whitespace from unquoted text or unquoted expansions separates words; quoted or escaped
/// whitespace does not; a word made only of an empty quoted string yields no word.
pub fn process_words<V: Vars + ?Sized>(
    word: &str,
    escape: char,
    env: &V,
) -> Result<Vec<String>, ExpandError> {
    let mode = Mode::normal(escape);
    if !word.contains(['$', '\'', '"', escape]) && !word.contains("<<") {
        return Ok(word.split_whitespace().map(str::to_owned).collect());
    }
    run(word, mode, env, true).map(|(_, w)| w)
}

/// Expansion of a COPY/ADD heredoc body whose delimiter is unquoted, as BuildKit does it:
/// `$` expansions and `\` escapes are processed (`\$` → `$`, `\\` → `\`, `\x` → `x`), quotes are
/// ordinary characters. BuildKit uses `\` here whatever the `# escape=` directive says, so
/// there is no escape parameter. (RUN heredocs are never expanded by the builder: the shell
/// does it.)
pub fn expand_heredoc_body<V: Vars + ?Sized>(text: &str, env: &V) -> Result<Expanded, ExpandError> {
    if !text.contains(['$', '\\']) {
        return Ok(Expanded {
            value: text.to_owned(),
            ..Expanded::default()
        });
    }
    let mode = Mode {
        skip_quotes: true,
        ..Mode::normal('\\')
    };
    run(text, mode, env, false).map(|(e, _)| e)
}

/// The text BuildKit shows as a RUN step's name: variables that are set are expanded, quotes
/// are kept (escapes are still processed), unset variables stay as written. On a syntax error the text is
/// returned unchanged.
pub fn expand_for_display<V: Vars + ?Sized>(cmd: &str, escape: char, env: &V) -> String {
    let mode = Mode {
        raw_quotes: true,
        skip_unset: true,
        ..Mode::normal(escape)
    };
    match run(cmd, mode, env, false) {
        Ok((e, _)) => e.value,
        Err(_) => cmd.to_owned(),
    }
}

#[derive(Debug, Clone, Copy)]
struct Mode {
    escape: char,
    /// Quotes are ordinary characters (heredoc bodies).
    skip_quotes: bool,
    /// Quote characters are kept in the output.
    raw_quotes: bool,
    /// Unset variables are left as written instead of expanding to "".
    skip_unset: bool,
}

impl Mode {
    fn normal(escape: char) -> Self {
        Mode {
            escape,
            skip_quotes: false,
            raw_quotes: false,
            skip_unset: false,
        }
    }
}

fn run<V: Vars + ?Sized>(
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
