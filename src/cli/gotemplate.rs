//! Go `text/template` for `--format`/`-f`: parses Docker-style format strings (with Docker's
//! extra functions and the `table` directive) and renders them over `serde_json::Value` data.

use std::cmp::Ordering;

use serde_json::{Map, Number, Value as V};

/// Messages follow Go's `template: :LINE:COL: …`; line and column are 1-based, the column counts
/// characters, both within the text after a leading `table` is removed.
#[derive(Debug, thiserror::Error)]
pub enum TemplateError {
    #[error("template: :{line}:{col}: {msg}")]
    Parse {
        line: usize,
        col: usize,
        msg: String,
    },
    #[error("template: :{line}:{col}: executing: {msg}")]
    Exec {
        line: usize,
        col: usize,
        msg: String,
    },
}

/// Docker's `--format json` shorthand; `table` alone is left for the caller's default columns.
pub fn expand_shorthand(format: &str) -> String {
    match format {
        "json" => "{{json .}}".into(),
        _ => format.into(),
    }
}

/// A parsed template; `table` is true when the text started with the `table` directive.
#[derive(Debug, Clone)]
pub struct Template {
    nodes: Vec<Node>,
    src: String,
    pub table: bool,
}

const FUNCS: &[&str] = &[
    "and", "or", "not", "eq", "ne", "lt", "le", "gt", "ge", "len", "index", "slice", "print",
    "printf", "println", "json", "join", "split", "lower", "upper", "title", "truncate", "pad",
];
const WS: &[char] = &[' ', '\t', '\r', '\n'];

#[derive(Debug, Clone)]
enum Node {
    Text(String),
    Print(Pipe),
    Block(Kind, Pipe, Vec<Node>, Vec<Node>),
}

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    If,
    With,
    Range,
}

#[derive(Debug, Clone)]
struct Pipe {
    decl: Vec<String>,
    cmds: Vec<Cmd>,
}

#[derive(Debug, Clone)]
struct Cmd {
    pos: usize,
    args: Vec<Arg>,
}

/// `.` is a `Field` with an empty chain.
#[derive(Debug, Clone)]
enum Arg {
    Field(Vec<String>),
    Var(String, Vec<String>),
    Func(String),
    Lit(V),
    Sub(Box<Pipe>, Vec<String>),
}

#[derive(Debug, Clone, PartialEq)]
enum Tok {
    Text(String),
    Field(Vec<String>),
    Var(String, Vec<String>),
    Ident(String),
    Lit(V),
    Char(char),
    Pipe,
    LParen,
    RParen,
    Comma,
    Declare,
    Close,
    Eof,
    /// Lexing stops at an error token, so the parser reports any earlier syntax error first.
    Error(String),
}

#[derive(Debug, Clone)]
struct Token {
    tok: Tok,
    pos: usize,
    end: usize,
}

impl Token {
    fn at(tok: Tok, pos: usize, end: usize) -> Token {
        Token { tok, pos, end }
    }
}

fn line_col(src: &str, pos: usize) -> (usize, usize) {
    let before = &src[..pos];
    let line_start = before.rfind('\n').map_or(0, |i| i + 1);
    (
        before.matches('\n').count() + 1,
        before[line_start..].chars().count() + 1,
    )
}

fn lex(src: &str) -> Vec<Token> {
    let mut toks = Vec::new();
    let (mut at, mut trim) = (0, false);
    loop {
        let open = src[at..].find("{{").map_or(src.len(), |i| at + i);
        // Docker turns the two-character escapes of shell-quoted formats into tab and newline.
        let mut text = src[at..open].replace("\\t", "\t").replace("\\n", "\n");
        if trim {
            text = text.trim_start_matches(WS).into();
        }
        let trim_left = src[open..].starts_with("{{-") && src[open + 3..].starts_with(WS);
        if trim_left {
            text = text.trim_end_matches(WS).into();
        }
        if !text.is_empty() {
            toks.push(Token::at(Tok::Text(text), at, open));
        }
        if open == src.len() {
            toks.push(Token::at(Tok::Eof, open, open));
            return toks;
        }
        (at, trim) = lex_action(src, open + 2 + usize::from(trim_left), &mut toks);
    }
}

/// Lexes one action up to its `}}`; returns the offset after it and whether it trims (`-}}`).
fn lex_action(src: &str, mut i: usize, toks: &mut Vec<Token>) -> (usize, bool) {
    let word = |s: &str, dots: bool| {
        let stop = |c: char| !(c.is_alphanumeric() || c == '_' || (dots && c == '.'));
        s.find(stop).unwrap_or(s.len())
    };
    loop {
        let rest = &src[i..];
        let (n, tok) = match rest.chars().next() {
            _ if rest.starts_with("}}") => (2, Tok::Close),
            _ if rest.starts_with("-}}") && src[..i].ends_with(WS) => (3, Tok::Close),
            None => (0, Tok::Error("unclosed action".into())),
            Some(' ' | '\t' | '\r' | '\n') => {
                i += 1;
                continue;
            }
            Some('"' | '`') => lex_string(rest).map_or(
                (0, Tok::Error("unterminated quoted string".into())),
                |(n, s)| (n, Tok::Lit(s.into())),
            ),
            Some(c @ ('.' | '$')) => {
                let n = 1 + word(&rest[1..], true);
                let mut parts = rest[..n]
                    .split('.')
                    .filter(|s| !s.is_empty())
                    .map(String::from);
                match c {
                    '.' => (n, Tok::Field(parts.collect())),
                    _ => (
                        n,
                        Tok::Var(parts.next().unwrap_or_default(), parts.collect()),
                    ),
                }
            }
            Some(c)
                if c.is_ascii_digit()
                    || (c == '-' && rest[1..].starts_with(|d: char| d.is_ascii_digit())) =>
            {
                let n = 1 + word(&rest[1..], true);
                let lit = &rest[..n];
                let int = lit.parse::<i64>().ok().map(V::from);
                match int.or_else(|| lit.parse().ok().and_then(Number::from_f64).map(V::Number)) {
                    Some(v) => (n, Tok::Lit(v)),
                    None => (n, Tok::Error(format!("bad number syntax: {lit:?}"))),
                }
            }
            Some(c) if c.is_alphabetic() || c == '_' => {
                let n = word(rest, false);
                (n, Tok::Ident(rest[..n].into()))
            }
            Some(_) if rest.starts_with(":=") => (2, Tok::Declare),
            Some(c) => (
                c.len_utf8(),
                match c {
                    '|' => Tok::Pipe,
                    '(' => Tok::LParen,
                    ')' => Tok::RParen,
                    ',' => Tok::Comma,
                    c => Tok::Char(c),
                },
            ),
        };
        let stop = match tok {
            Tok::Close => Some((i + n, n == 3)),
            Tok::Error(_) => Some((src.len(), false)),
            _ => None,
        };
        toks.push(Token::at(tok, i, i + n));
        i += n;
        if let Some(stop) = stop {
            return stop;
        }
    }
}

/// Returns the source length and the value of a `"…"` or `` `…` `` literal.
fn lex_string(s: &str) -> Option<(usize, String)> {
    if let Some(raw) = s.strip_prefix('`') {
        return raw.find('`').map(|e| (e + 2, raw[..e].into()));
    }
    let (mut out, mut chars) = (String::new(), s.char_indices().skip(1));
    while let Some((i, c)) = chars.next() {
        match c {
            '"' => return Some((i + 1, out)),
            '\n' => return None,
            '\\' => out.push(match chars.next()?.1 {
                'n' => '\n',
                't' => '\t',
                'r' => '\r',
                c => c,
            }),
            c => out.push(c),
        }
    }
    None
}

type PResult<T> = Result<T, (usize, String)>;

struct Parser<'a> {
    src: &'a str,
    toks: Vec<Token>,
    i: usize,
}

impl Parser<'_> {
    fn peek(&self) -> &Tok {
        &self.toks[self.i].tok
    }

    fn unexpected(&self, t: &Token, ctx: &str) -> (usize, String) {
        match &t.tok {
            Tok::Error(msg) => (t.pos, msg.clone()),
            _ => (
                t.pos,
                format!("unexpected {:?} in {ctx}", &self.src[t.pos..t.end]),
            ),
        }
    }

    fn close(&mut self, ctx: &str) -> PResult<()> {
        self.i += 1;
        match self.toks[self.i - 1].tok {
            Tok::Close => Ok(()),
            _ => Err(self.unexpected(&self.toks[self.i - 1], ctx)),
        }
    }

    /// Parses nodes up to `{{end}}`, `{{else …` or the end of input (returned as "").
    fn list(&mut self) -> PResult<(Vec<Node>, String, usize)> {
        let mut nodes = Vec::new();
        loop {
            let pos = self.toks[self.i].pos;
            let word = match self.peek() {
                Tok::Eof => return Ok((nodes, String::new(), pos)),
                Tok::Text(s) => {
                    nodes.push(Node::Text(s.clone()));
                    self.i += 1;
                    continue;
                }
                Tok::Ident(k) => k.clone(),
                _ => String::new(),
            };
            let kind = match word.as_str() {
                "end" | "else" => {
                    self.i += 1;
                    if word == "end" {
                        self.close("end")?;
                    }
                    return Ok((nodes, word, pos));
                }
                "if" => Kind::If,
                "with" => Kind::With,
                "range" => Kind::Range,
                _ => {
                    nodes.push(Node::Print(self.pipeline(false)?));
                    self.close("command")?;
                    continue;
                }
            };
            self.i += 1;
            nodes.push(self.block(kind)?);
        }
    }

    fn block(&mut self, kind: Kind) -> PResult<Node> {
        let name = format!("{kind:?}").to_lowercase();
        let pipe = self.pipeline(kind == Kind::Range)?;
        self.close(&name)?;
        let eof = (self.src.len(), "unexpected EOF".to_string());
        let (body, stop, _) = self.list()?;
        let alt = match stop.as_str() {
            "end" => Vec::new(),
            // `{{else if …}}` nests a block that consumes the shared `{{end}}`.
            "else" if kind != Kind::Range && *self.peek() == Tok::Ident(name.clone()) => {
                self.i += 1;
                vec![self.block(kind)?]
            }
            "else" => {
                self.close("else")?;
                match self.list()? {
                    (alt, stop, _) if stop == "end" => alt,
                    (_, stop, pos) if stop == "else" => {
                        return Err((pos, "expected end; found {{else}}".into()))
                    }
                    _ => return Err(eof),
                }
            }
            _ => return Err(eof),
        };
        Ok(Node::Block(kind, pipe, body, alt))
    }

    fn pipeline(&mut self, range: bool) -> PResult<Pipe> {
        let var = |k: usize| match self.toks.get(self.i + k).map(|t| &t.tok) {
            Some(Tok::Var(v, chain)) if chain.is_empty() => Some(v.clone()),
            _ => None,
        };
        let tok = |k: usize| self.toks.get(self.i + k).map(|t| &t.tok);
        let decl = match (var(0), tok(1), var(2), tok(3)) {
            (Some(v), Some(Tok::Declare), ..) => vec![v],
            (Some(k), Some(Tok::Comma), Some(v), Some(Tok::Declare)) if range => vec![k, v],
            _ => Vec::new(),
        };
        self.i += 2 * decl.len();
        let mut cmds: Vec<Cmd> = Vec::new();
        loop {
            let pos = self.toks[self.i].pos;
            let mut args = Vec::new();
            while !matches!(self.peek(), Tok::Pipe | Tok::RParen | Tok::Close) {
                args.push(self.operand()?);
            }
            match args.first() {
                None => return Err((pos, "missing value for command".into())),
                Some(Arg::Func(_)) => {}
                // Docker's one method with an argument on list rows: `{{.Label "key"}}`.
                Some(Arg::Field(c)) if is_label_method(c) && args.len() == 2 => {}
                Some(_) if args.len() > 1 || !cmds.is_empty() => {
                    let what = self.src[pos..self.toks[self.i].pos].trim_end();
                    return Err((pos, format!("can't give argument to non-function {what}")));
                }
                Some(_) => {}
            }
            cmds.push(Cmd { pos, args });
            if *self.peek() != Tok::Pipe {
                return Ok(Pipe { decl, cmds });
            }
            self.i += 1;
        }
    }

    fn operand(&mut self) -> PResult<Arg> {
        let t = self.toks[self.i].clone();
        self.i += 1;
        Ok(match t.tok {
            Tok::Field(chain) => Arg::Field(chain),
            Tok::Var(v, chain) => Arg::Var(v, chain),
            Tok::Lit(v) => Arg::Lit(v),
            Tok::Ident(id) if FUNCS.contains(&id.as_str()) => Arg::Func(id),
            Tok::Ident(id) => match id.as_str() {
                "true" | "false" => Arg::Lit(V::Bool(id == "true")),
                "nil" => Arg::Lit(V::Null),
                _ => return Err((t.pos, format!("function {id:?} not defined"))),
            },
            Tok::LParen => {
                let pipe = self.pipeline(false)?;
                if *self.peek() != Tok::RParen {
                    return Err((t.pos, "unclosed left paren".into()));
                }
                self.i += 1;
                // Only a field written flush against `)` applies to the result: `(index .A 0).B`.
                let chain = match &self.toks[self.i] {
                    Token {
                        tok: Tok::Field(c),
                        pos,
                        ..
                    } if *pos == self.toks[self.i - 1].end => c.clone(),
                    _ => Vec::new(),
                };
                self.i += usize::from(!chain.is_empty());
                Arg::Sub(Box::new(pipe), chain)
            }
            _ => return Err(self.unexpected(&t, "operand")),
        })
    }
}

impl Template {
    /// Like Docker's formatter, strips a leading `table` (setting `table`) and turns the
    /// two-character escapes `\t` and `\n` in the text between actions into tab and newline.
    pub fn parse(text: &str) -> Result<Template, TemplateError> {
        let (table, src) = match text.strip_prefix("table") {
            Some(rest) if rest.is_empty() || rest.starts_with(char::is_whitespace) => {
                (true, rest.trim_matches(' '))
            }
            _ => (false, text),
        };
        let mut parser = Parser {
            src,
            toks: lex(src),
            i: 0,
        };
        let (pos, msg) = match parser.list() {
            Ok((nodes, stop, _)) if stop.is_empty() => {
                return Ok(Template {
                    nodes,
                    src: src.into(),
                    table,
                })
            }
            Ok((_, stop, pos)) => (pos, format!("unexpected {{{{{stop}}}}}")),
            Err(e) => e,
        };
        let (line, col) = line_col(src, pos);
        Err(TemplateError::Parse { line, col, msg })
    }

    /// Renders one value (Docker calls this once per row / per inspected object).
    /// A missing map key renders as `<no value>`, as over `docker inspect`'s decoded JSON.
    pub fn render(&self, data: &V) -> Result<String, TemplateError> {
        self.render_with(data, false)
    }

    /// A missing field is an error naming it, as over the docker CLI's row structs (`ps`,
    /// `images`, `network ls`…): a typo must not print a column of `<no value>`.
    pub fn render_strict(&self, data: &V) -> Result<String, TemplateError> {
        self.render_with(data, true)
    }

    fn render_with(&self, data: &V, strict: bool) -> Result<String, TemplateError> {
        let mut ex = Exec {
            src: &self.src,
            root: data,
            vars: Vec::new(),
            out: String::new(),
            strict,
        };
        ex.walk(&self.nodes, data).map(|()| ex.out)
    }

    /// The `table` header row: each action becomes the title of the first field it reads
    /// (`headers` maps dotted field paths to titles; other paths are upper-cased). Docker gets
    /// the same by rendering against a title map with its functions swapped for identities.
    pub fn header(&self, headers: &[(&str, &str)]) -> String {
        fn first_field(p: &Pipe) -> Option<String> {
            p.cmds.iter().flat_map(|c| &c.args).find_map(|a| match a {
                Arg::Field(c) | Arg::Var(_, c) if !c.is_empty() => Some(c.join(".")),
                Arg::Sub(p, _) => first_field(p),
                _ => None,
            })
        }
        let title = |f: String| match headers.iter().find(|(k, _)| *k == f) {
            Some((_, t)) => t.to_string(),
            None => f.to_uppercase(),
        };
        let cell = |node: &Node| match node {
            Node::Text(s) => s.clone(),
            Node::Print(p) if !p.decl.is_empty() => String::new(),
            Node::Print(p) | Node::Block(_, p, ..) => first_field(p).map(title).unwrap_or_default(),
        };
        self.nodes.iter().map(cell).collect()
    }
}

struct Exec<'a> {
    src: &'a str,
    root: &'a V,
    vars: Vec<(String, V)>,
    out: String,
    strict: bool,
}

impl Exec<'_> {
    fn err(&self, pos: usize, msg: String) -> TemplateError {
        let (line, col) = line_col(self.src, pos);
        TemplateError::Exec { line, col, msg }
    }

    fn walk(&mut self, nodes: &[Node], dot: &V) -> Result<(), TemplateError> {
        for node in nodes {
            let mark = self.vars.len();
            match node {
                Node::Text(s) => self.out.push_str(s),
                Node::Print(p) => {
                    let v = self.pipe(p, dot, true)?;
                    if p.decl.is_empty() {
                        self.out += &if v.is_null() {
                            "<no value>".into()
                        } else {
                            show(&v)
                        };
                    }
                    continue; // a declared variable lives until the enclosing `{{end}}`
                }
                Node::Block(Kind::Range, p, body, alt) => self.range(p, body, alt, dot)?,
                Node::Block(kind, p, body, alt) => {
                    let v = self.pipe(p, dot, true)?;
                    match (truthy(&v), kind) {
                        (false, _) => self.walk(alt, dot)?,
                        (true, Kind::With) => self.walk(body, &v)?,
                        (true, _) => self.walk(body, dot)?,
                    }
                }
            }
            self.vars.truncate(mark);
        }
        Ok(())
    }

    fn range(
        &mut self,
        p: &Pipe,
        body: &[Node],
        alt: &[Node],
        dot: &V,
    ) -> Result<(), TemplateError> {
        let items: Vec<(V, V)> = match self.pipe(p, dot, false)? {
            V::Array(a) => a
                .into_iter()
                .enumerate()
                .map(|(i, e)| (i.into(), e))
                .collect(),
            V::Object(m) => sorted(&m)
                .map(|(k, v)| (k.as_str().into(), v.clone()))
                .collect(),
            V::Null => Vec::new(),
            v => {
                return Err(self.err(
                    p.cmds[0].pos,
                    format!("range can't iterate over {}", show(&v)),
                ))
            }
        };
        if items.is_empty() {
            return self.walk(alt, dot);
        }
        let mark = self.vars.len();
        for (key, elem) in items {
            self.vars.truncate(mark);
            // One variable takes the element; with two, the first takes the index or key.
            let bound = p.decl.iter().rev().zip([elem.clone(), key]);
            self.vars.extend(bound.map(|(name, v)| (name.clone(), v)));
            self.walk(body, &elem)?;
        }
        Ok(())
    }

    fn pipe(&mut self, p: &Pipe, dot: &V, declare: bool) -> Result<V, TemplateError> {
        let mut v = None;
        for cmd in &p.cmds {
            v = Some(self.cmd(cmd, dot, v)?);
        }
        let v = v.unwrap_or_default();
        if declare {
            self.vars
                .extend(p.decl.iter().map(|name| (name.clone(), v.clone())));
        }
        Ok(v)
    }

    fn cmd(&mut self, cmd: &Cmd, dot: &V, input: Option<V>) -> Result<V, TemplateError> {
        if let (Arg::Field(c), [_, key]) = (&cmd.args[0], &cmd.args[..]) {
            if is_label_method(c) {
                let key = self.arg(key, dot, cmd.pos)?;
                return Ok(label(dot, key.as_str().unwrap_or_default()));
            }
        }
        let Arg::Func(name) = &cmd.args[0] else {
            return self.arg(&cmd.args[0], dot, cmd.pos);
        };
        let mut args = Vec::new();
        for a in &cmd.args[1..] {
            let v = self.arg(a, dot, cmd.pos)?;
            // Go 1.18+ stops `and`/`or` at the deciding operand, so `and .A (index .A 0)` is safe.
            if (name == "and" && !truthy(&v)) || (name == "or" && truthy(&v)) {
                return Ok(v);
            }
            args.push(v);
        }
        args.extend(input);
        call(name, &args).map_err(|m| self.err(cmd.pos, format!("error calling {name}: {m}")))
    }

    fn arg(&mut self, a: &Arg, dot: &V, pos: usize) -> Result<V, TemplateError> {
        let sub;
        let (base, chain) = match a {
            Arg::Field(chain) => (dot, chain),
            Arg::Var(name, chain) if name == "$" => (self.root, chain),
            Arg::Var(name, chain) => match self.vars.iter().rev().find(|(n, _)| n == name) {
                Some((_, v)) => (v, chain),
                None => return Err(self.err(pos, format!("undefined variable {name:?}"))),
            },
            Arg::Sub(p, chain) => {
                sub = self.pipe(p, dot, true)?;
                (&sub, chain)
            }
            Arg::Lit(v) => return Ok(v.clone()),
            Arg::Func(name) => return call(name, &[]).map_err(|m| self.err(pos, m)),
        };
        let mut cur = base;
        for name in chain {
            cur = match cur {
                V::Object(m) => match m.get(name) {
                    Some(v) => v,
                    None if self.strict => {
                        return Err(self.err(
                            pos,
                            format!("can't evaluate field {name} in type {}", go_type(cur)),
                        ))
                    }
                    None => &V::Null,
                },
                V::Null => &V::Null,
                _ => {
                    return Err(self.err(
                        pos,
                        format!("can't evaluate field {name} in type {}", go_type(cur)),
                    ))
                }
            };
        }
        Ok(cur.clone())
    }
}

fn is_label_method(chain: &[String]) -> bool {
    chain.len() == 1 && chain[0] == "Label"
}

/// `.Label "key"`: the value of one label of a row whose `Labels` is Docker's `k=v,k2=v2`
/// string (or a map), `""` when it has none.
fn label(dot: &V, key: &str) -> V {
    let found = match &dot["Labels"] {
        V::String(s) => s
            .split(',')
            .filter_map(|kv| kv.split_once('=').or(Some((kv, ""))))
            .find(|(k, _)| *k == key)
            .map(|(_, v)| v.to_string()),
        V::Object(m) => m.get(key).and_then(|v| v.as_str()).map(str::to_string),
        _ => None,
    };
    V::String(found.unwrap_or_default())
}

fn sorted(m: &Map<String, V>) -> impl Iterator<Item = (&String, &V)> {
    let mut kv: Vec<_> = m.iter().collect();
    kv.sort_by_key(|(k, _)| *k);
    kv.into_iter()
}

fn go_type(v: &V) -> &'static str {
    match v {
        V::Null => "nil",
        V::Bool(_) => "bool",
        V::Number(_) => "float64",
        V::String(_) => "string",
        V::Array(_) => "[]interface {}",
        V::Object(_) => "map[string]interface {}",
    }
}

fn truthy(v: &V) -> bool {
    match v {
        V::Null => false,
        V::Bool(b) => *b,
        V::Number(n) => n.as_f64() != Some(0.0),
        V::String(s) => !s.is_empty(),
        V::Array(a) => !a.is_empty(),
        V::Object(m) => !m.is_empty(),
    }
}

/// Go's `%v`: raw strings, `[a b]`, `map[k:v]` with sorted keys, `<nil>` inside containers.
fn show(v: &V) -> String {
    match v {
        V::Null => "<nil>".into(),
        V::Bool(b) => b.to_string(),
        // Rust's f64 Display, unlike serde_json's, drops the `.0` of integral values as Go does.
        V::Number(n) => n
            .as_f64()
            .filter(|_| n.is_f64())
            .map_or_else(|| n.to_string(), |f| f.to_string()),
        V::String(s) => s.clone(),
        V::Array(a) => format!("[{}]", a.iter().map(show).collect::<Vec<_>>().join(" ")),
        V::Object(m) => {
            let kv: Vec<_> = sorted(m).map(|(k, v)| format!("{k}:{}", show(v))).collect();
            format!("map[{}]", kv.join(" "))
        }
    }
}

/// encoding/json writes an integral float64 without `.0`; serde_json keeps it.
fn go_json(v: &V) -> V {
    match v {
        V::Number(n) if n.is_f64() => int(v).map_or_else(|| v.clone(), V::from),
        V::Array(a) => a.iter().map(go_json).collect(),
        V::Object(m) => V::Object(m.iter().map(|(k, v)| (k.clone(), go_json(v))).collect()),
        _ => v.clone(),
    }
}

fn int(v: &V) -> Option<i64> {
    v.as_i64().or_else(|| {
        v.as_f64()
            .filter(|f| f.fract() == 0.0 && f.abs() < 9e18)
            .map(|f| f as i64)
    })
}

fn count(v: &V) -> Result<usize, String> {
    int(v)
        .and_then(|i| usize::try_from(i).ok())
        .ok_or_else(|| format!("expected a count; got {}", show(v)))
}

fn compare(a: &V, b: &V) -> Result<Ordering, String> {
    match (a, b) {
        (V::Number(x), V::Number(y)) => Ok(x
            .as_f64()
            .partial_cmp(&y.as_f64())
            .unwrap_or(Ordering::Equal)),
        (V::String(x), V::String(y)) => Ok(x.cmp(y)),
        (V::Bool(x), V::Bool(y)) => Ok(x.cmp(y)),
        _ => Err(format!("can't compare {} with {}", go_type(a), go_type(b))),
    }
}

fn index(v: &V, key: &V) -> Result<V, String> {
    match (v, key) {
        (V::Array(a), _) => {
            let elem = count(key).ok().and_then(|i| a.get(i));
            elem.cloned()
                .ok_or_else(|| format!("index out of range: {}", show(key)))
        }
        // Docker's label and option maps are map[string]string, where a missing key reads "".
        (V::Object(m), V::String(k)) => Ok(m.get(k).cloned().unwrap_or_else(|| {
            if m.values().all(V::is_string) {
                "".into()
            } else {
                V::Null
            }
        })),
        _ => Err(format!(
            "can't index item of type {} with {}",
            go_type(v),
            go_type(key)
        )),
    }
}

fn slice(v: &V, idx: &[V]) -> Result<V, String> {
    let len = match v {
        V::String(s) => s.len(),
        V::Array(a) => a.len(),
        _ => return Err(format!("can't slice item of type {}", go_type(v))),
    };
    let at = |k: usize, default: usize| match idx.get(k) {
        None => Ok(default),
        Some(x) => count(x)
            .ok()
            .filter(|&i| i <= len)
            .ok_or_else(|| format!("index out of range: {}", show(x))),
    };
    let (i, j) = (at(0, 0)?, at(1, len)?);
    if i > j {
        return Err(format!("invalid slice index: {i} > {j}"));
    }
    Ok(match v {
        V::String(s) => s.get(i..j).ok_or("slice splits a UTF-8 character")?.into(),
        V::Array(a) => a[i..j].to_vec().into(),
        _ => V::Null,
    })
}

/// Go's `fmt.Sprint` (spaces only between non-string operands) and `Sprintln` (always).
fn sprint(a: &[V], ln: bool) -> String {
    let mut s = String::new();
    for (i, v) in a.iter().enumerate() {
        if i > 0 && (ln || !(v.is_string() || a[i - 1].is_string())) {
            s.push(' ');
        }
        s += &show(v);
    }
    if ln {
        s.push('\n');
    }
    s
}

/// Go's `fmt.Sprintf` for `%s %v %d %q %t %%` with `-` and width; mismatches print Go's
/// `%!d(string=x)` and `%!d(MISSING)` markers.
fn printf(format: &str, args: &[V]) -> String {
    let (mut out, mut rest, mut args) = (String::new(), format, args.iter());
    while let Some(p) = rest.find('%') {
        out += &rest[..p];
        let spec = &rest[p + 1..];
        let flags = spec
            .find(|c: char| c != '-' && !c.is_ascii_digit())
            .unwrap_or(spec.len());
        let Some(verb) = spec[flags..].chars().next() else {
            return out + "%!(NOVERB)";
        };
        rest = &spec[flags + verb.len_utf8()..];
        if verb == '%' {
            out.push('%');
            continue;
        }
        let s = match (verb, args.next()) {
            (_, None) => format!("%!{verb}(MISSING)"),
            ('s' | 'v', Some(a)) => show(a),
            ('d', Some(a)) if int(a).is_some() => show(a),
            ('q', Some(V::String(s))) => format!("{s:?}"),
            ('t', Some(V::Bool(b))) => b.to_string(),
            (_, Some(a)) => format!("%!{verb}({}={})", go_type(a), show(a)),
        };
        let width: usize = spec[..flags].trim_start_matches('-').parse().unwrap_or(0);
        let pad = " ".repeat(width.saturating_sub(s.chars().count()));
        out += &if spec.starts_with('-') {
            s + &pad
        } else {
            pad + &s
        };
    }
    out + rest
}

fn call(name: &str, a: &[V]) -> Result<V, String> {
    Ok(match (name, a) {
        ("and" | "or", [.., last]) => last.clone(),
        ("not", [x]) => V::Bool(!truthy(x)),
        ("eq", [x, ys @ ..]) if !ys.is_empty() => {
            let mut any = false;
            for y in ys {
                any |= if x.is_null() || y.is_null() {
                    x == y
                } else {
                    compare(x, y)?.is_eq()
                };
            }
            V::Bool(any)
        }
        ("ne", [_, _]) => V::Bool(call("eq", a)? == V::Bool(false)),
        ("lt" | "le" | "gt" | "ge", [x, y]) => {
            let o = compare(x, y)?;
            V::Bool(match name {
                "lt" => o.is_lt(),
                "le" => o.is_le(),
                "gt" => o.is_gt(),
                _ => o.is_ge(),
            })
        }
        ("len", [V::String(s)]) => s.len().into(),
        ("len", [V::Array(v)]) => v.len().into(),
        ("len", [V::Object(m)]) => m.len().into(),
        ("index", [x, keys @ ..]) => keys.iter().try_fold(x.clone(), |cur, k| index(&cur, k))?,
        ("slice", [x, idx @ ..]) if idx.len() <= 2 => slice(x, idx)?,
        ("print" | "println", _) => sprint(a, name == "println").into(),
        ("printf", [V::String(f), rest @ ..]) => printf(f, rest).into(),
        ("json", [x]) => go_json(x).to_string().into(),
        ("join", [V::Array(list), V::String(sep)]) => {
            list.iter().map(show).collect::<Vec<_>>().join(sep).into()
        }
        ("split", [V::String(s), V::String(sep)]) if sep.is_empty() => {
            s.chars().map(|c| c.to_string()).collect()
        }
        ("split", [V::String(s), V::String(sep)]) => s.split(sep.as_str()).collect(),
        ("lower", [V::String(s)]) => s.to_lowercase().into(),
        ("upper", [V::String(s)]) => s.to_uppercase().into(),
        ("title", [V::String(s)]) => {
            // strings.Title: upper-case every letter that follows a non-word character.
            let mut prev = ' ';
            let upper = |c: char| {
                let start = !(prev.is_alphanumeric() || prev == '_');
                prev = c;
                if start {
                    c.to_uppercase().collect()
                } else {
                    c.to_string()
                }
            };
            s.chars().map(upper).collect::<String>().into()
        }
        ("truncate", [V::String(s), n]) => s.chars().take(count(n)?).collect::<String>().into(),
        ("pad", [V::String(s), l, r]) => {
            format!("{}{s}{}", " ".repeat(count(l)?), " ".repeat(count(r)?)).into()
        }
        _ => {
            let types: Vec<_> = a.iter().map(go_type).collect();
            return Err(format!(
                "wrong number or type of args ({})",
                types.join(", ")
            ));
        }
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn data() -> V {
        json!({
            "ID": "abc123", "Names": "web", "Status": "Up 2 hours", "N": 3, "Half": 0.5,
            "Two": 2.0, "Zero": 0, "Empty": "", "Nil": null, "Name": "Ünïcode",
            "State": {"Running": true, "Pid": 42, "Status": "running"},
            "Config": {"Env": ["A=1", "B=2"], "Labels": {"com.example.x": "yes", "b": "2"}},
            "Mounts": [
                {"Source": "/s", "Destination": "/d"}, {"Source": "/a", "Destination": "/b"},
            ],
            "Args": ["-c", "echo hi"], "Map": {"z": 1, "a": [1, "x", null], "m": {"k": true}},
            "Labels": "a=1,b=2",
        })
    }

    fn render(t: &str) -> Result<String, String> {
        Template::parse(t)
            .and_then(|t| t.render(&data()))
            .map_err(|e| e.to_string())
    }

    #[rustfmt::skip]
    const RENDERS: &[(&str, &str)] = &[
        ("plain text", "plain text"),
        ("{{.Names}}\t{{.Status}}", "web\tUp 2 hours"),
        (r"{{.Names}}\t{{.Status}}\n", "web\tUp 2 hours\n"),
        ("{{.State.Running}} {{.State.Pid}}", "true 42"),
        ("{{.Half}} {{.Two}} {{.Zero}} {{.N}}", "0.5 2 0 3"),
        ("{{.Missing}}|{{.Missing.Deeper}}|{{.Nil}}", "<no value>|<no value>|<no value>"),
        ("{{.Config.Env}}", "[A=1 B=2]"),
        ("{{.Map}}", "map[a:[1 x <nil>] m:map[k:true] z:1]"),
        ("{{json .Config.Env}}", r#"["A=1","B=2"]"#),
        ("{{json .State}}", r#"{"Running":true,"Pid":42,"Status":"running"}"#),
        ("{{json .Nil}} {{json .Two}} {{json .Half}}", "null 2 0.5"),
        ("{{range .Mounts}}{{.Source}}:{{.Destination}} {{end}}", "/s:/d /a:/b "),
        ("{{range $i, $e := .Args}}{{$i}}={{$e}};{{end}}", "0=-c;1=echo hi;"),
        ("{{range $k, $v := .Config.Labels}}{{$k}}={{$v}},{{end}}", "b=2,com.example.x=yes,"),
        ("{{range $e := .Args}}[{{$e}}]{{end}}", "[-c][echo hi]"),
        ("{{range .Map}}{{.}};{{end}}", "[1 x <nil>];map[k:true];1;"),
        ("{{range .Missing}}x{{else}}none{{end}}", "none"),
        ("{{range .Args}}{{$.Names}}{{end}}", "webweb"),
        ("{{range .Args}}{{$x := .}}{{$x}}{{end}}", "-cecho hi"),
        ("{{if .State.Running}}up{{else}}down{{end}}", "up"),
        ("{{if .Zero}}a{{else if .Empty}}b{{else if .N}}c{{else}}d{{end}}", "c"),
        ("{{if .Config.Env}}env{{end}}{{if .Map.none}}x{{end}}", "env"),
        ("{{with .State}}{{.Status}}{{end}}", "running"),
        ("{{with .Missing}}x{{else}}y{{end}}", "y"),
        ("{{with .Missing}}x{{else with .Names}}{{.}}{{end}}", "web"),
        ("{{with $s := .State}}{{$s.Pid}}{{end}}", "42"),
        ("{{$n := .Names}}{{$n}} {{$.ID}}", "web abc123"),
        ("{{with .Args}}{{.}}{{end}}", "[-c echo hi]"),
        ("{{.Names | upper}} {{.Names | printf \"%s!\"}}", "WEB web!"),
        ("{{.Names | len | printf \"%d chars\"}}", "3 chars"),
        ("{{(index .Mounts 1).Source}}", "/a"),
        ("{{index .Config.Labels \"com.example.x\"}}", "yes"),
        ("{{index .Config.Labels \"nope\"}}|{{index .Map \"nope\"}}", "|<no value>"),
        ("{{index .Args 1}} {{index .Map \"a\" 1}}", "echo hi x"),
        ("{{.Label \"b\"}}|{{.Label \"nope\"}}|{{.Label \"b\" | printf \"<%s>\"}}", "2||<2>"),
        ("{{join .Args \",\"}}", "-c,echo hi"),
        ("{{split \"a:b:c\" \":\"}} {{len (split \"ab\" \"\")}}", "[a b c] 2"),
        ("{{len .Args}} {{len .Names}} {{len .Config.Labels}}", "2 3 2"),
        ("{{slice .Args 1}} {{slice .Names 1 2}} {{slice .Names}}", "[echo hi] e web"),
        ("{{lower \"ABC\"}} {{upper .Names}}", "abc WEB"),
        ("{{title \"hello big-world_x\"}}", "Hello Big-World_x"),
        ("{{truncate .Name 3}}|{{truncate .Names 10}}", "Ünï|web"),
        ("{{pad .Names 2 1}}|", "  web |"),
        ("{{eq .N 3}} {{eq .Names \"x\" \"web\"}} {{ne .N 3}}", "true true false"),
        ("{{eq .Nil .Missing}} {{eq .Names .Nil}}", "true false"),
        ("{{lt 1 2}} {{le 2 2}} {{gt 1.5 2}} {{ge \"b\" \"a\"}}", "true true false true"),
        ("{{and 1 0 2}} {{and 1 2}} {{or 0 \"\" 3}} {{or 0 \"\"}}|", "0 2 3 |"),
        ("{{or .Nil \"default\"}} {{not .Empty}}", "default true"),
        ("{{and .Nil (index .Nil 1)}}", "<no value>"),
        ("{{print 1 2 \"a\" \"b\" 3}}", "1 2ab3"),
        ("{{println .Names 1}}", "web 1\n"),
        ("{{printf \"%d|%5s|%-4s|%v\" .N .Names \"ab\" .Args}}", "3|  web|ab  |[-c echo hi]"),
        ("{{printf \"%q %t %%\" .Names true}}", "\"web\" true %"),
        ("{{printf \"%d %d\" 1}} {{printf \"%d\" \"x\"}}", "1 %!d(MISSING) %!d(string=x)"),
        ("{{printf \"%q\" \"a\\\"b\\n\"}}", r#""a\"b\n""#),
        ("a  {{- .Names -}}  \n b", "awebb"),
        ("{{ .Names }} {{-3}} {{1e3}} {{1.5}}", "web -3 1000 1.5"),
        ("{{\"q\\\"\\t\"}}|{{`raw\\n`}}", "q\"\t|raw\\n"),
        ("{{true}} {{false}} {{print nil}}", "true false <nil>"),
        ("{{print \"}}\"}}", "}}"),
    ];

    #[rustfmt::skip]
    const ERRORS: &[(&str, &str)] = &[
        ("{{.Name}", ":1:8: unexpected \"}\" in operand"),
        ("{{.Name", ":1:8: unclosed action"),
        ("{{if .A}}x", ":1:11: unexpected EOF"),
        ("{{range .A}}{{else}}{{else}}{{end}}", ":1:23: expected end; found {{else}}"),
        ("x{{end}}", ":1:4: unexpected {{end}}"),
        ("{{else}}", ":1:3: unexpected {{else}}"),
        ("{{end .A}}", ":1:7: unexpected \".A\" in end"),
        ("{{if .A}}{{else .B}}{{end}}", ":1:17: unexpected \".B\" in else"),
        ("{{if .A .B}}{{end}}", ":1:6: can't give argument to non-function .A .B"),
        ("{{.A | .B}}", ":1:8: can't give argument to non-function .B"),
        ("{{nope .A}}", ":1:3: function \"nope\" not defined"),
        ("a\n{{print \"x}}", ":2:9: unterminated quoted string"),
        ("{{}}", ":1:3: missing value for command"),
        ("{{.A | }}", ":1:8: missing value for command"),
        ("{{(.A}}", ":1:3: unclosed left paren"),
        ("{{.A)}}", ":1:5: unexpected \")\" in command"),
        ("{{1x}}", ":1:3: bad number syntax: \"1x\""),
        ("{{$x}}", ":1:3: executing: undefined variable \"$x\""),
        ("{{index .Args 5}}", ":1:3: executing: error calling index: index out of range: 5"),
        ("{{.Names.Foo}}", ":1:3: executing: can't evaluate field Foo in type string"),
        ("{{lt .Names 1}}", ":1:3: executing: error calling lt: can't compare string with float64"),
        ("{{upper .N}}",
            ":1:3: executing: error calling upper: wrong number or type of args (float64)"),
        ("\n {{range .Names}}{{end}}", ":2:10: executing: range can't iterate over web"),
        ("{{slice .Args 2 1}}", ":1:3: executing: error calling slice: invalid slice index: 2 > 1"),
    ];

    /// (template, header row, first data row)
    #[rustfmt::skip]
    const TABLES: &[(&str, &str, &str)] = &[
        ("table {{.ID}}\t{{.Name}}", "CONTAINER ID\tNAME", "abc123\tÜnïcode"),
        (r"table {{.Names}}\t{{upper .Status}}", "NAMES\tSTATUS", "web\tUP 2 HOURS"),
        ("table {{json .State.Running}} {{if .Zero}}z{{end}}{{$x := 1}}", "RUNNING ZERO", "true "),
        ("table {{printf \"%s\" (lower .Names)}}|{{\"lit\"}}", "NAMES|", "web|lit"),
    ];

    #[test]
    fn renders() {
        for (tmpl, want) in RENDERS {
            assert_eq!(render(tmpl).as_deref(), Ok(*want), "template {tmpl:?}");
        }
    }

    #[test]
    fn errors() {
        for (tmpl, want) in ERRORS {
            assert_eq!(
                render(tmpl).unwrap_err(),
                format!("template: {want}"),
                "{tmpl:?}"
            );
        }
    }

    #[test]
    fn strict_rendering_names_a_missing_field() {
        let t = Template::parse("{{.Names}} {{.Nope}}").unwrap();
        assert_eq!(t.render(&data()).unwrap(), "web <no value>");
        assert_eq!(
            t.render_strict(&data()).unwrap_err().to_string(),
            "template: :1:14: executing: can't evaluate field Nope in type map[string]interface {}"
        );
        let t = Template::parse("{{.State.Status}}").unwrap();
        assert_eq!(t.render_strict(&data()).unwrap(), "running");
    }

    #[test]
    fn table_header_and_shorthand() {
        let titles = [
            ("ID", "CONTAINER ID"),
            ("Names", "NAMES"),
            ("State.Running", "RUNNING"),
        ];
        for (tmpl, head, row) in TABLES {
            let t = Template::parse(tmpl).unwrap();
            assert!(t.table, "{tmpl:?}");
            assert_eq!(t.header(&titles), *head, "{tmpl:?}");
            assert_eq!(t.render(&data()).unwrap(), *row, "{tmpl:?}");
        }
        assert!(Template::parse("table").unwrap().table);
        assert!(!Template::parse("{{.ID}} table").unwrap().table);
        assert!(!Template::parse("tables").unwrap().table);
        assert_eq!(expand_shorthand("json"), "{{json .}}");
        assert_eq!(expand_shorthand("table"), "table");
        assert_eq!(expand_shorthand("{{.ID}}"), "{{.ID}}");
        let t = Template::parse(&expand_shorthand("json")).unwrap();
        assert_eq!(
            t.render(&json!({"b": 1, "a": "x<y"})).unwrap(),
            r#"{"b":1,"a":"x<y"}"#
        );
    }
}
