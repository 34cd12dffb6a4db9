//! The Dockerfile front end: PEG grammar → typed AST with spans, Docker word expansion,
//! `.dockerignore` matching, and the BuildKit dump format. Pure: no I/O beyond what callers pass in.

pub mod ast;
pub mod dockerignore;
pub mod dump;
pub mod error;
pub mod expand;
mod flags;
mod grammar;
pub mod heredoc;
mod instructions;
mod json_form;
mod lines;
mod lower;
pub mod source;

pub use ast::{
    ArgDecl, ArgForm, CopyArgs, Directive, Dockerfile, HealthOptions, Healthcheck, Heredoc,
    Instruction, KeyValue, Node, Run, ShellOrExec, Span, Spanned, Word,
};
pub use dump::dump;
pub use error::{abbreviate, render, Diagnostic, DiagnosticRecord, Severity, SyntaxError};
/// Go's `time.ParseDuration`, as HEALTHCHECK's flags take it (and `run --health-*`).
pub use instructions::{lower, lower_node};
pub use lower::parse;
