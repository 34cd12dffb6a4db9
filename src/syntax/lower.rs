//! Runs the grammar over a Dockerfile and turns the pest pairs into raw `Node`s: directives,
//! then one instruction at a time (line structure → logical line → keyword/flags/arguments),
//! reading heredoc bodies between instructions.

use std::borrow::Cow;

use pest::iterators::Pair;
use pest::Parser;

use super::ast::{ArgForm, Directive, Dockerfile, Heredoc, Node, Span, Word};
use super::error::{Diagnostic, SyntaxError};
use super::expand::MAX_NESTING;
use super::grammar::{DockerfileGrammar, Rule};
use super::heredoc::read_body;
use super::json_form::{decode_string, is_json_array};
use super::lines::LineIndex;

/// BuildKit reads lines through a 64 KiB scanner buffer.
const MAX_LINE: usize = 65535;

/// Parses Dockerfile text into directives and raw instruction nodes.
pub fn parse(source: &str) -> Result<Dockerfile, SyntaxError> {
    let idx = LineIndex::new(source);
    check_line_lengths(source, &idx)?;

    let (directives, escape, mut offset) = parse_directives(source, &idx)?;
    let mut nodes = Vec::new();
    let mut warnings = Vec::new();
    while offset < source.len() {
        let rest = &source[offset..];
        let rule = if escape == '`' {
            Rule::unit_backtick
        } else {
            Rule::unit_backslash
        };
        let unit = DockerfileGrammar::parse(rule, rest)
            .map_err(|e| grammar_error(&e, &idx, offset))?
            .next();
        let Some(instruction) =
            unit.and_then(|u| u.into_inner().find(|p| p.as_rule() == Rule::instruction))
        else {
            break;
        };
        let end = offset + instruction.as_span().end();
        let mut segs = Vec::new();
        let mut empty_line = None;
        for p in instruction.into_inner() {
            match p.as_rule() {
                Rule::seg => segs.push((offset + p.as_span().start(), offset + p.as_span().end())),
                Rule::empty_cont_line if empty_line.is_none() => {
                    empty_line = Some(offset + p.as_span().start())
                }
                _ => {}
            }
        }
        let logical = Logical::new(source, &segs);
        let mut node = parse_logical(&logical, escape, &idx)?;
        node.start_line = idx.line(segs[0].0);
        offset = end;
        if let Some(target) = heredoc_target(&mut node) {
            if logical.text.contains("<<") {
                target.heredocs = find_heredocs(&logical, &idx);
                for h in &mut target.heredocs {
                    match read_body(source, offset, &h.name, h.chomp) {
                        Some((content, next)) => {
                            h.content = content;
                            offset = next;
                        }
                        None => {
                            return Err(SyntaxError::UnterminatedHeredoc {
                                name: h.name.clone(),
                                span: h.span,
                            })
                        }
                    }
                }
            }
        }
        node.end_line = idx.line(offset.saturating_sub(1).max(segs[0].0));
        if let Some(at) = empty_line {
            warnings.push(Diagnostic::warning(
                idx.span(at, at),
                format!("Empty continuation line found in: {}", logical.text.trim()),
            ));
        }
        nodes.push(node);
    }
    if nodes.is_empty() {
        let at = source.len();
        return Err(SyntaxError::NoInstructions {
            span: idx.span(at, at),
        });
    }
    Ok(Dockerfile {
        directives,
        escape,
        nodes,
        warnings,
    })
}

fn check_line_lengths(source: &str, idx: &LineIndex<'_>) -> Result<(), SyntaxError> {
    if source.len() <= MAX_LINE {
        return Ok(());
    }
    for line in 1..=idx.line_count() {
        let (start, end) = idx.line_range(line);
        if end - start > MAX_LINE {
            return Err(SyntaxError::LineTooLong {
                span: idx.span(start, end),
            });
        }
    }
    Ok(())
}

fn grammar_error(e: &pest::error::Error<Rule>, idx: &LineIndex<'_>, offset: usize) -> SyntaxError {
    let at = offset
        + match e.location {
            pest::error::InputLocation::Pos(p) => p,
            pest::error::InputLocation::Span((s, _)) => s,
        };
    SyntaxError::Grammar {
        message: format!("syntax error: {}", e.variant.message()),
        span: idx.span(at, at),
    }
}

fn parse_directives(
    source: &str,
    idx: &LineIndex<'_>,
) -> Result<(Vec<Directive>, char, usize), SyntaxError> {
    let top = DockerfileGrammar::parse(Rule::directives, source)
        .map_err(|e| grammar_error(&e, idx, 0))?
        .next()
        .ok_or_else(|| SyntaxError::Grammar {
            message: "syntax error: no directive section".into(),
            span: idx.span(0, 0),
        })?;
    let end = top.as_span().end();
    let mut directives: Vec<Directive> = Vec::new();
    let mut escape = '\\';
    for d in top.into_inner().filter(|p| p.as_rule() == Rule::directive) {
        let span = idx.span(d.as_span().start(), d.as_span().end());
        let mut name = String::new();
        let mut value = (String::new(), span);
        for p in d.into_inner() {
            match p.as_rule() {
                Rule::directive_name => name = p.as_str().to_ascii_lowercase(),
                Rule::directive_value => {
                    value = (
                        p.as_str().to_string(),
                        idx.span(p.as_span().start(), p.as_span().end()),
                    )
                }
                _ => {}
            }
        }
        if directives.iter().any(|x| x.name == name) {
            return Err(SyntaxError::DuplicateDirective { name, span });
        }
        if name == "escape" {
            escape = match value.0.as_str() {
                "\\" => '\\',
                "`" => '`',
                _ => {
                    return Err(SyntaxError::InvalidEscape {
                        value: value.0,
                        span: value.1,
                    })
                }
            };
        }
        directives.push(Directive {
            name,
            value: value.0,
            span,
        });
    }
    Ok((directives, escape, end))
}

/// A logical line: its continuation segments joined, and how to map positions in the joined
/// text back to the source.
struct Logical<'a> {
    text: Cow<'a, str>,
    /// (offset in `text`, offset in the source) where each segment starts.
    map: Vec<(usize, usize)>,
}

impl<'a> Logical<'a> {
    fn new(source: &'a str, segs: &[(usize, usize)]) -> Self {
        if let [(s, e)] = segs {
            return Logical {
                text: Cow::Borrowed(&source[*s..*e]),
                map: vec![(0, *s)],
            };
        }
        let mut text = String::new();
        let mut map = Vec::with_capacity(segs.len());
        for &(s, e) in segs {
            map.push((text.len(), s));
            text.push_str(&source[s..e]);
        }
        Logical {
            text: Cow::Owned(text),
            map,
        }
    }

    fn to_source(&self, pos: usize) -> usize {
        let i = self.map.partition_point(|&(l, _)| l <= pos).max(1) - 1;
        let (l, s) = self.map[i];
        s + (pos - l)
    }

    fn span(&self, idx: &LineIndex<'_>, start: usize, end: usize) -> Span {
        let s = self.to_source(start);
        let e = if end > start {
            self.to_source(end - 1) + 1
        } else {
            s
        };
        idx.span(s, e)
    }
}

struct Ctx<'a, 'b> {
    logical: &'b Logical<'a>,
    idx: &'b LineIndex<'a>,
    /// Where the parsed text starts in the logical line (an ONBUILD's instruction is parsed on
    /// its own).
    base: usize,
}

impl Ctx<'_, '_> {
    fn word(&self, p: &Pair<'_, Rule>, text: String) -> Word {
        Word {
            text,
            span: self.span(p),
        }
    }

    fn span(&self, p: &Pair<'_, Rule>) -> Span {
        self.span_at(p.as_span().start(), p.as_span().end())
    }

    /// The span of `start..end`, positions in the parsed text.
    fn span_at(&self, start: usize, end: usize) -> Span {
        self.logical
            .span(self.idx, self.base + start, self.base + end)
    }

    fn empty_word_at(&self, pos: usize) -> Word {
        Word {
            text: String::new(),
            span: self.span_at(pos, pos),
        }
    }
}

fn parse_logical(
    logical: &Logical<'_>,
    escape: char,
    idx: &LineIndex<'_>,
) -> Result<Node, SyntaxError> {
    let (line_rule, sub_rule) = if escape == '`' {
        (Rule::line_backtick, Rule::sub_backtick)
    } else {
        (Rule::line_backslash, Rule::sub_backslash)
    };
    // BuildKit trims the joined line before splitting it; the trimmed text is a prefix, so
    // positions in it are positions in the logical line.
    let text = logical.text.trim_end_matches(char::is_whitespace);
    // `ONBUILD ONBUILD …` is a chain, parsed one link at a time (the grammar does not recurse)
    // and nested afterwards; its length is bounded so that the nodes' own recursive walks
    // (lowering, dump, drop) stay shallow.
    let mut chain: Vec<Node> = Vec::new();
    let (mut rule, mut base) = (line_rule, 0);
    let mut node = loop {
        let start = logical.to_source(base);
        let top = DockerfileGrammar::parse(rule, &text[base..])
            .map_err(|e| grammar_error(&e, idx, start))?
            .next()
            .and_then(|p| p.into_inner().find(|p| p.as_rule() != Rule::EOI))
            .ok_or_else(|| SyntaxError::Grammar {
                message: "syntax error: empty instruction".into(),
                span: idx.span(start, start),
            })?;
        let ctx = Ctx { logical, idx, base };
        let (node, rest) = build_node(&ctx, top)?;
        let Some(rest) = rest else { break node };
        if chain.len() >= MAX_NESTING {
            return Err(SyntaxError::TooDeep {
                what: "ONBUILD".into(),
                limit: MAX_NESTING,
                span: node.keyword.span,
            });
        }
        chain.push(node);
        (rule, base) = (sub_rule, base + rest);
    };
    while let Some(mut parent) = chain.pop() {
        parent.nested = Some(Box::new(node));
        node = parent;
    }
    Ok(node)
}

/// Text of a pair without its `elide`/`quote` children (escape characters and flag quotes that
/// BuildKit drops).
fn unelided(p: &Pair<'_, Rule>) -> String {
    let text = p.as_str();
    let base = p.as_span().start();
    let mut out = String::with_capacity(text.len());
    let mut cursor = 0;
    for child in p.clone().into_inner() {
        if matches!(child.as_rule(), Rule::elide | Rule::quote) {
            let s = child.as_span().start() - base;
            out.push_str(&text[cursor..s]);
            cursor = child.as_span().end() - base;
        }
    }
    out.push_str(&text[cursor..]);
    out
}

/// One instruction's node, and for an ONBUILD the position (in the parsed text) of the
/// instruction it carries, which the caller parses next.
fn build_node(
    ctx: &Ctx<'_, '_>,
    form: Pair<'_, Rule>,
) -> Result<(Node, Option<usize>), SyntaxError> {
    let form_rule = form.as_rule();
    let span = ctx.span(&form);
    let mut node = Node {
        keyword: ctx.empty_word_at(form.as_span().start()),
        flags: Vec::new(),
        form: ArgForm::Split,
        args: Vec::new(),
        json: false,
        nested: None,
        heredocs: Vec::new(),
        start_line: span.line,
        end_line: span.line,
        span,
    };
    node.form = match form_rule {
        Rule::form_split | Rule::form_list => ArgForm::Split,
        Rule::form_exec | Rule::form_text => ArgForm::Text,
        Rule::form_words => ArgForm::Words,
        Rule::form_kv => ArgForm::KeyValue,
        Rule::form_health => ArgForm::Health,
        Rule::form_onbuild => ArgForm::Nested,
        _ => ArgForm::Ignored,
    };
    let keyword_upper = |n: &Node| n.keyword.text.to_uppercase();
    for p in form.into_inner() {
        match p.as_rule() {
            Rule::keyword => node.keyword = ctx.word(&p, p.as_str().to_string()),
            Rule::flag => node.flags.push(ctx.word(&p, unelided(&p))),
            // BuildKit keeps one empty argument for an unknown keyword.
            Rule::ignored => node.args.push(ctx.word(&p, String::new())),
            Rule::split_word | Rule::text_arg | Rule::health_type => {
                node.args.push(ctx.word(&p, p.as_str().to_string()))
            }
            Rule::word => node.args.push(ctx.word(&p, unelided(&p))),
            Rule::json_strings => {
                if form_rule == Rule::form_health {
                    node.json = true;
                } else {
                    node.form = ArgForm::Json;
                }
                for s in p.into_inner().filter(|s| s.as_rule() == Rule::jstring) {
                    node.args.push(ctx.word(&s, decode_string(s.as_str())));
                }
            }
            Rule::json_other if is_json_array(p.as_str()) => {
                return Err(SyntaxError::JsonNotStrings { span: ctx.span(&p) });
            }
            // Not JSON: what the form takes instead, the whole text or its split words.
            Rule::json_other if form_rule == Rule::form_list => {
                let base = p.as_span().start();
                for (s, e) in split_runs(p.as_str()) {
                    let span = ctx.span_at(base + s, base + e);
                    let text = p.as_str()[s..e].to_string();
                    node.args.push(Word { text, span });
                }
            }
            Rule::json_other => node.args.push(ctx.word(&p, p.as_str().to_string())),
            Rule::kv_legacy => {
                node.form = ArgForm::KeyValueLegacy;
                let mut inner = p.into_inner();
                let key = inner.next();
                let value = inner.next();
                match (key, value) {
                    (Some(k), Some(v)) => {
                        let end = v.as_span().end();
                        node.args.push(ctx.word(&k, k.as_str().to_string()));
                        node.args.push(ctx.word(&v, v.as_str().to_string()));
                        node.args.push(ctx.empty_word_at(end));
                    }
                    (k, _) => {
                        return Err(SyntaxError::MissingValue {
                            keyword: keyword_upper(&node),
                            span: k.map_or(node.span, |k| ctx.span(&k)),
                        });
                    }
                }
            }
            Rule::kv_pairs => {
                for w in p.into_inner().filter(|w| w.as_rule() == Rule::word) {
                    let text = unelided(&w);
                    let whole = ctx.span(&w);
                    let Some(eq) = text.find('=') else {
                        return Err(SyntaxError::MissingEquals {
                            word: super::dump::go_quote(&text),
                            span: whole,
                        });
                    };
                    // The `=` is found in the unelided text; the span split stays approximate
                    // only when an escape before it was dropped, which needs a trailing escape.
                    let start = w.as_span().start();
                    let key_span = ctx.logical.span(ctx.idx, start, start + eq);
                    let value_span = ctx.logical.span(ctx.idx, start + eq + 1, w.as_span().end());
                    let sep_span = ctx.logical.span(ctx.idx, start + eq, start + eq + 1);
                    node.args.push(Word {
                        text: text[..eq].to_string(),
                        span: key_span,
                    });
                    node.args.push(Word {
                        text: text[eq + 1..].to_string(),
                        span: value_span,
                    });
                    node.args.push(Word {
                        text: "=".into(),
                        span: sep_span,
                    });
                }
            }
            Rule::onbuild_rest => return Ok((node, Some(p.as_span().start()))),
            _ => {}
        }
    }
    Ok((node, None))
}

/// The byte ranges of `split_word`s: runs between BuildKit's keyword separators.
fn split_runs(text: &str) -> Vec<(usize, usize)> {
    let sep = |c: char| matches!(c, ' ' | '\t' | '\u{0B}' | '\u{0C}' | '\r');
    let mut out = Vec::new();
    let mut start = None;
    for (i, c) in text.char_indices() {
        match (sep(c), start) {
            (true, Some(s)) => {
                out.push((s, i));
                start = None;
            }
            (false, None) => start = Some(i),
            _ => {}
        }
    }
    if let Some(s) = start {
        out.push((s, text.len()));
    }
    out
}

/// The node whose heredocs a line may carry: RUN/COPY/ADD not in JSON form, directly or under
/// ONBUILD.
fn heredoc_target(node: &mut Node) -> Option<&mut Node> {
    let target = if node.keyword.text.eq_ignore_ascii_case("onbuild") {
        node.nested.as_deref_mut()?
    } else {
        node
    };
    let kw = target.keyword.text.to_ascii_lowercase();
    let ok = matches!(kw.as_str(), "run" | "copy" | "add") && target.form != ArgForm::Json;
    ok.then_some(target)
}

/// The heredoc openers of a logical line (BuildKit lexes the line with `\` as escape; a line it
/// cannot lex, e.g. with an unterminated quote, has none).
fn find_heredocs(logical: &Logical<'_>, idx: &LineIndex<'_>) -> Vec<Heredoc> {
    let Ok(mut pairs) = DockerfileGrammar::parse(Rule::heredoc_line, &logical.text) else {
        return Vec::new();
    };
    let Some(line) = pairs.next() else {
        return Vec::new();
    };
    let ctx = Ctx {
        logical,
        idx,
        base: 0,
    };
    line.into_inner()
        .filter(|p| p.as_rule() == Rule::heredoc)
        .map(|p| {
            let span = ctx.span(&p);
            let mut h = Heredoc {
                name: String::new(),
                fd: 0,
                chomp: false,
                expand: true,
                content: String::new(),
                span,
            };
            for part in p.into_inner() {
                match part.as_rule() {
                    Rule::hd_fd => h.fd = part.as_str().parse().unwrap_or(u32::MAX),
                    Rule::hd_chomp => h.chomp = true,
                    Rule::hd_name => decode_heredoc_name(part, &mut h),
                    _ => {}
                }
            }
            h
        })
        .collect()
}

fn decode_heredoc_name(name: Pair<'_, Rule>, h: &mut Heredoc) {
    for piece in name.into_inner() {
        match piece.as_rule() {
            Rule::hd_lit => h.name.push_str(piece.as_str()),
            Rule::hd_esc => h.name.push_str(&piece.as_str()[1..]),
            Rule::hd_sq => {
                h.expand = false;
                for t in piece.into_inner() {
                    h.name.push_str(t.as_str());
                }
            }
            Rule::hd_dq => {
                h.expand = false;
                for t in piece.into_inner() {
                    match t.as_rule() {
                        Rule::hd_esc => {
                            let c = &t.as_str()[1..];
                            // Inside double quotes a backslash only escapes these.
                            if !matches!(c, "\"" | "\\" | "$" | "`") {
                                h.name.push('\\');
                            }
                            h.name.push_str(c);
                        }
                        _ => h.name.push_str(t.as_str()),
                    }
                }
            }
            _ => {}
        }
    }
}

#[cfg(test)]
#[path = "lower_tests.rs"]
mod tests;
