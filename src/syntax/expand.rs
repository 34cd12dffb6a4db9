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

use lexer::{run, Mode};
use std::hash::BuildHasher;

mod lexer;
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
    /// `${…}` inside `${…}` more than [`MAX_NESTING`] deep.
    #[error("bad substitution: ${{…}} nested more than {limit} deep")]
    TooDeep { offset: usize, limit: usize },
}

/// How deep `${…}` words may nest. The lexer recurses once per level; BuildKit's Go stack grows
/// on demand, ours does not, so a word of thousands of nested `${a:-${a:-…}}` must be refused
/// rather than overflow. Real Dockerfiles nest two or three levels.
pub const MAX_NESTING: usize = 128;

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
            | Self::InvalidPattern { offset, .. }
            | Self::TooDeep { offset, .. } => *offset,
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
            | Self::InvalidPattern { offset, .. }
            | Self::TooDeep { offset, .. } => offset,
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

/// [`process_words`], with the variables it used (the `value` is the unsplit text).
pub fn process_words_tracked<V: Vars + ?Sized>(
    word: &str,
    escape: char,
    env: &V,
) -> Result<(Expanded, Vec<String>), ExpandError> {
    run(word, Mode::normal(escape), env, true)
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
