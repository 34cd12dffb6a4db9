//! The Dockerfile syntax tree: source spans, the raw per-instruction nodes BuildKit's parser
//! produces, and the typed `Instruction`s built from them. Words stay unexpanded.

use serde::Serialize;

/// A place in the source: a byte range plus the 1-based line and column (in characters) of its
/// start.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize)]
pub struct Span {
    pub start: usize,
    pub end: usize,
    pub line: u32,
    pub column: u32,
}

/// A string taken from the source (after BuildKit's raw splitting, before any expansion), with
/// where it came from.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct Word {
    pub text: String,
    pub span: Span,
}

impl Word {
    pub fn as_str(&self) -> &str {
        &self.text
    }
}

/// A parser directive at the top of the file (`# syntax=`, `# escape=`, `# check=`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Directive {
    /// Lower-cased name.
    pub name: String,
    pub value: String,
    pub span: Span,
}

/// A heredoc attached to a RUN/COPY/ADD line.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Heredoc {
    /// The terminator word, quotes removed.
    pub name: String,
    /// The digits before `<<` (0 when absent).
    pub fd: u32,
    /// `<<-`: leading tabs are stripped from body lines at build time.
    pub chomp: bool,
    /// False when any part of the name was quoted: the body is not expanded.
    pub expand: bool,
    /// The raw body lines, each with its line ending, without the terminator line.
    pub content: String,
    /// The opener (`3<<-"EOF"`) on the instruction line.
    pub span: Span,
}

/// How the arguments of a raw node were written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
pub enum ArgForm {
    /// Whitespace-split words (FROM, EXPOSE, non-JSON ADD/COPY/VOLUME).
    Split,
    /// A JSON array of strings.
    Json,
    /// The whole text as one argument (RUN/CMD/… shell form, USER, WORKDIR, …).
    Text,
    /// ARG words, quotes kept.
    Words,
    /// ENV/LABEL `key value` (flattened as key, value, "").
    KeyValueLegacy,
    /// ENV/LABEL `k=v …` (flattened as key, value, "=" per pair).
    KeyValue,
    /// HEALTHCHECK: the type word, then the command like CMD.
    Health,
    /// ONBUILD: the nested node carries the arguments.
    Nested,
    /// An unknown keyword: one empty argument, as BuildKit keeps it.
    Ignored,
}

/// One logical instruction exactly as BuildKit's low-level parser splits it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Node {
    /// The keyword as written (case kept).
    pub keyword: Word,
    /// `--name[=value]` flags with quotes and escapes removed.
    pub flags: Vec<Word>,
    pub form: ArgForm,
    /// The arguments. ENV/LABEL give flattened `key, value, separator` triples; HEALTHCHECK gives
    /// the type word first and then the command (JSON elements or one text).
    pub args: Vec<Word>,
    /// For HEALTHCHECK: whether the command part is a JSON array.
    pub json: bool,
    /// ONBUILD's instruction.
    pub nested: Option<Box<Node>>,
    pub heredocs: Vec<Heredoc>,
    /// First and last physical line (1-based), including skipped continuation lines and heredoc
    /// bodies.
    pub start_line: u32,
    pub end_line: u32,
    /// From the first character of the keyword to the last character of the logical line.
    pub span: Span,
}

/// The result of `parse`: what the file says before any instruction is validated.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Dockerfile {
    pub directives: Vec<Directive>,
    /// `\` unless `# escape=` said `` ` ``.
    pub escape: char,
    pub nodes: Vec<Node>,
    /// Non-fatal findings (empty continuation lines).
    pub warnings: Vec<crate::syntax::error::Diagnostic>,
}

impl Dockerfile {
    pub fn directive(&self, name: &str) -> Option<&Directive> {
        self.directives.iter().find(|d| d.name == name)
    }
}

// ------------------------------------------------------------------------- typed instructions

/// A located value.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Spanned<T> {
    pub node: T,
    pub span: Span,
}

/// `KEY=value` of ENV and LABEL (both unexpanded, quotes kept).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct KeyValue {
    pub key: Word,
    pub value: Word,
}

/// One ARG declaration.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArgDecl {
    pub name: Word,
    pub default: Option<Word>,
}

/// A command in shell form (one string for `/bin/sh -c`) or exec form (argv).
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum ShellOrExec {
    Shell(Word),
    Exec(Vec<Word>),
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Run {
    /// `--mount=` values, one per flag, unparsed.
    pub mounts: Vec<Word>,
    pub network: Option<Word>,
    pub security: Option<Word>,
    pub command: ShellOrExec,
    pub heredocs: Vec<Heredoc>,
}

/// The flags and operands of COPY and ADD.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct CopyArgs {
    pub from: Option<Word>,
    pub chown: Option<Word>,
    pub chmod: Option<Word>,
    pub link: bool,
    pub parents: bool,
    pub exclude: Vec<Word>,
    pub checksum: Option<Word>,
    pub keep_git_dir: Option<bool>,
    pub unpack: Option<bool>,
    /// Source paths (heredoc openers are in `heredocs` instead).
    pub sources: Vec<Word>,
    /// Heredoc sources, in order.
    pub heredocs: Vec<Heredoc>,
    pub dest: Word,
    pub json: bool,
}

/// HEALTHCHECK flags, durations in nanoseconds as Go's time.ParseDuration reads them.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize)]
pub struct HealthOptions {
    pub interval: Option<u64>,
    pub timeout: Option<u64>,
    pub start_period: Option<u64>,
    pub start_interval: Option<u64>,
    pub retries: Option<u32>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Healthcheck {
    None,
    Cmd {
        options: HealthOptions,
        command: ShellOrExec,
    },
}

/// A validated instruction. Every word keeps its span; nothing is expanded.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub enum Instruction {
    From {
        image: Word,
        platform: Option<Word>,
        alias: Option<Word>,
    },
    Run(Run),
    Cmd(ShellOrExec),
    Entrypoint(ShellOrExec),
    Shell(Vec<Word>),
    Label(Vec<KeyValue>),
    Maintainer(Word),
    Expose(Vec<Word>),
    Env(Vec<KeyValue>),
    Add(CopyArgs),
    Copy(CopyArgs),
    Volume(Vec<Word>),
    User(Word),
    Workdir(Word),
    Arg(Vec<ArgDecl>),
    Onbuild(Box<Spanned<Instruction>>),
    StopSignal(Word),
    Healthcheck(Healthcheck),
}

impl Instruction {
    /// The upper-case keyword, for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Instruction::From { .. } => "FROM",
            Instruction::Run(_) => "RUN",
            Instruction::Cmd(_) => "CMD",
            Instruction::Entrypoint(_) => "ENTRYPOINT",
            Instruction::Shell(_) => "SHELL",
            Instruction::Label(_) => "LABEL",
            Instruction::Maintainer(_) => "MAINTAINER",
            Instruction::Expose(_) => "EXPOSE",
            Instruction::Env(_) => "ENV",
            Instruction::Add(_) => "ADD",
            Instruction::Copy(_) => "COPY",
            Instruction::Volume(_) => "VOLUME",
            Instruction::User(_) => "USER",
            Instruction::Workdir(_) => "WORKDIR",
            Instruction::Arg(_) => "ARG",
            Instruction::Onbuild(_) => "ONBUILD",
            Instruction::StopSignal(_) => "STOPSIGNAL",
            Instruction::Healthcheck(_) => "HEALTHCHECK",
        }
    }
}
