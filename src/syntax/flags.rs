//! Instruction flags (`--name[=value]`) checked against what each instruction takes, the way
//! BuildKit's BFlags reads them, and Go-style durations for HEALTHCHECK.

use super::ast::{Span, Word};
use super::error::Diagnostic;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Kind {
    Bool,
    Str,
    Strs,
}

/// Which flags each instruction accepts.
pub(crate) fn specs(keyword: &str) -> &'static [(&'static str, Kind)] {
    use Kind::*;
    match keyword {
        "from" => &[("platform", Str)],
        "run" => &[("mount", Strs), ("network", Str), ("security", Str)],
        "copy" => &[
            ("from", Str),
            ("chown", Str),
            ("chmod", Str),
            ("link", Bool),
            ("parents", Bool),
            ("exclude", Strs),
        ],
        "add" => &[
            ("chown", Str),
            ("chmod", Str),
            ("link", Bool),
            ("exclude", Strs),
            ("checksum", Str),
            ("keep-git-dir", Bool),
            ("unpack", Bool),
        ],
        "healthcheck" => &[
            ("interval", Str),
            ("timeout", Str),
            ("start-period", Str),
            ("start-interval", Str),
            ("retries", Str),
        ],
        _ => &[],
    }
}

const ALL_KEYWORDS: [&str; 5] = ["from", "run", "copy", "add", "healthcheck"];

#[derive(Debug, Clone)]
enum Value {
    Bool(bool),
    Str(Word),
    Strs(Vec<Word>),
}

/// The flags of one instruction, validated.
#[derive(Debug, Default)]
pub(crate) struct Flags {
    values: Vec<(&'static str, Value)>,
}

impl Flags {
    pub(crate) fn str(&self, name: &str) -> Option<Word> {
        self.values.iter().find_map(|(n, v)| match v {
            Value::Str(w) if *n == name => Some(w.clone()),
            _ => None,
        })
    }

    pub(crate) fn strs(&self, name: &str) -> Vec<Word> {
        self.values
            .iter()
            .find_map(|(n, v)| match v {
                Value::Strs(w) if *n == name => Some(w.clone()),
                _ => None,
            })
            .unwrap_or_default()
    }

    pub(crate) fn bool(&self, name: &str) -> Option<bool> {
        self.values.iter().find_map(|(n, v)| match v {
            Value::Bool(b) if *n == name => Some(*b),
            _ => None,
        })
    }
}

/// The value part of a flag word, with a span narrowed to it when the flag had no quotes or
/// escapes (its source text is then the flag text itself).
fn value_word(flag: &Word, eq: usize) -> Word {
    let text = flag.text[eq + 1..].to_string();
    let span = if flag.span.end - flag.span.start == flag.text.len() {
        let skip = flag.text[..eq + 1].chars().count() as u32;
        Span {
            start: flag.span.start + eq + 1,
            end: flag.span.end,
            line: flag.span.line,
            column: flag.span.column + skip,
        }
    } else {
        flag.span
    };
    Word { text, span }
}

/// Checks `flags` against what `keyword` (lower case) takes; problems go to `diags`.
pub(crate) fn parse(keyword: &str, flags: &[Word], diags: &mut Vec<Diagnostic>) -> Flags {
    let spec = specs(keyword);
    let mut out = Flags::default();
    for flag in flags {
        let body = flag.text.strip_prefix("--").unwrap_or(&flag.text);
        let (name, value) = match body.find('=') {
            Some(i) => (&body[..i], Some(value_word(flag, i + 2))),
            None => (body, None),
        };
        let Some(&(known, kind)) = spec.iter().find(|(n, _)| *n == name) else {
            let elsewhere: Vec<String> = ALL_KEYWORDS
                .iter()
                .filter(|k| specs(k).iter().any(|(n, _)| *n == name))
                .map(|k| k.to_uppercase())
                .collect();
            let msg = if elsewhere.is_empty() {
                format!("unknown flag: {name}")
            } else {
                format!(
                    "flag --{name} is not valid for {} (only for {})",
                    keyword.to_uppercase(),
                    elsewhere.join(", ")
                )
            };
            diags.push(Diagnostic::error(flag.span, msg));
            continue;
        };
        let existing = out.values.iter_mut().find(|(n, _)| *n == known);
        match (kind, value) {
            (Kind::Bool, value) => {
                let b = match value.as_ref().map(|v| v.text.to_ascii_lowercase()) {
                    None => true,
                    Some(v) if v == "true" => true,
                    Some(v) if v == "false" => false,
                    Some(_) => {
                        let v = value.unwrap();
                        diags.push(Diagnostic::error(
                            v.span,
                            format!("expecting boolean value for flag {name}, not: {}", v.text),
                        ));
                        continue;
                    }
                };
                if existing.is_some() {
                    diags.push(Diagnostic::error(
                        flag.span,
                        format!("duplicate flag specified: {name}"),
                    ));
                } else {
                    out.values.push((known, Value::Bool(b)));
                }
            }
            (_, None) => diags.push(Diagnostic::error(
                flag.span,
                format!("missing a value on flag: {name}"),
            )),
            (Kind::Str, Some(v)) => {
                if existing.is_some() {
                    diags.push(Diagnostic::error(
                        flag.span,
                        format!("duplicate flag specified: {name}"),
                    ));
                } else {
                    out.values.push((known, Value::Str(v)));
                }
            }
            (Kind::Strs, Some(v)) => match existing {
                Some((_, Value::Strs(list))) => list.push(v),
                _ => out.values.push((known, Value::Strs(vec![v]))),
            },
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn w(text: &str) -> Word {
        Word {
            text: text.into(),
            span: Span {
                start: 0,
                end: text.len(),
                line: 1,
                column: 5,
            },
        }
    }

    #[test]
    fn flag_table() {
        // (keyword, flags, error messages)
        let cases: &[(&str, &[&str], &[&str])] = &[
            ("copy", &["--from=build", "--link", "--chmod=755"], &[]),
            (
                "copy",
                &["--link=maybe"],
                &["expecting boolean value for flag link, not: maybe"],
            ),
            ("copy", &["--bogus"], &["unknown flag: bogus"]),
            (
                "add",
                &["--from=x"],
                &["flag --from is not valid for ADD (only for COPY)"],
            ),
            (
                "user",
                &["--platform=x"],
                &["flag --platform is not valid for USER (only for FROM)"],
            ),
            ("copy", &["--from"], &["missing a value on flag: from"]),
            (
                "copy",
                &["--from=a", "--from=b"],
                &["duplicate flag specified: from"],
            ),
            ("copy", &["--exclude=a", "--exclude=b"], &[]),
            (
                "run",
                &["--mount=type=cache,target=/x", "--network=none"],
                &[],
            ),
        ];
        for (kw, flags, want) in cases {
            let words: Vec<Word> = flags.iter().map(|f| w(f)).collect();
            let mut diags = Vec::new();
            parse(kw, &words, &mut diags);
            let got: Vec<&str> = diags.iter().map(|d| d.message.as_str()).collect();
            assert_eq!(&got, want, "{kw} {flags:?}");
        }
    }

    #[test]
    fn flag_values() {
        let words = [
            w("--from=build"),
            w("--exclude=a"),
            w("--exclude=b"),
            w("--link=FALSE"),
        ];
        let mut diags = Vec::new();
        let f = parse("copy", &words, &mut diags);
        assert!(diags.is_empty());
        let from = f.str("from").unwrap();
        assert_eq!(
            (from.text.as_str(), from.span.column, from.span.start),
            ("build", 12, 7)
        );
        let ex: Vec<String> = f.strs("exclude").into_iter().map(|w| w.text).collect();
        assert_eq!(ex, ["a", "b"]);
        assert_eq!(f.bool("link"), Some(false));
        assert_eq!(f.bool("parents"), None);
    }
}
