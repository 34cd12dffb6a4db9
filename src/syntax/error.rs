//! Parse errors and located diagnostics, and their `Dockerfile:LINE:COL: error: …` rendering.

use std::fmt;

use serde::Serialize;
use thiserror::Error;

use super::ast::Span;

/// Why a Dockerfile could not be parsed at all. Each variant carries the span at fault.
#[derive(Debug, Clone, PartialEq, Eq, Error)]
pub enum SyntaxError {
    #[error("dockerfile line greater than max allowed size of 65535")]
    LineTooLong { span: Span },
    #[error("invalid ESCAPE '{value}'. Must be ` or \\")]
    InvalidEscape { value: String, span: Span },
    #[error("only one {name} parser directive can be used")]
    DuplicateDirective { name: String, span: Span },
    #[error("file with no instructions")]
    NoInstructions { span: Span },
    #[error("{keyword} must have two arguments")]
    MissingValue { keyword: String, span: Span },
    #[error("Syntax error - can't find = in {word}. Must be of the form: name=value")]
    MissingEquals { word: String, span: Span },
    #[error("when using JSON array syntax, arrays must be comprised of strings only")]
    JsonNotStrings { span: Span },
    #[error("unterminated heredoc")]
    UnterminatedHeredoc { name: String, span: Span },
    #[error("{message}")]
    Grammar { message: String, span: Span },
    /// A construct nested deeper than the front end follows (see `expand::MAX_NESTING`).
    #[error("{what} nested more than {limit} deep")]
    TooDeep {
        what: String,
        limit: usize,
        span: Span,
    },
}

impl SyntaxError {
    pub fn span(&self) -> Span {
        match self {
            SyntaxError::LineTooLong { span }
            | SyntaxError::InvalidEscape { span, .. }
            | SyntaxError::DuplicateDirective { span, .. }
            | SyntaxError::NoInstructions { span }
            | SyntaxError::MissingValue { span, .. }
            | SyntaxError::MissingEquals { span, .. }
            | SyntaxError::JsonNotStrings { span }
            | SyntaxError::UnterminatedHeredoc { span, .. }
            | SyntaxError::Grammar { span, .. }
            | SyntaxError::TooDeep { span, .. } => *span,
        }
    }

    /// The error as an error-severity diagnostic, for uniform rendering.
    pub fn to_diagnostic(&self) -> Diagnostic {
        Diagnostic::error(self.span(), self.to_string())
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Severity {
    Error,
    Warning,
}

impl fmt::Display for Severity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Severity::Error => "error",
            Severity::Warning => "warning",
        })
    }
}

/// A located problem found while parsing or lowering.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Diagnostic {
    pub severity: Severity,
    pub span: Span,
    pub message: String,
}

impl Diagnostic {
    pub fn error(span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Error,
            span,
            message: message.into(),
        }
    }

    pub fn warning(span: Span, message: impl Into<String>) -> Self {
        Diagnostic {
            severity: Severity::Warning,
            span,
            message: message.into(),
        }
    }

    /// The flat record `check --format json` prints.
    pub fn record(&self, file: &str) -> DiagnosticRecord {
        DiagnosticRecord {
            file: file.to_string(),
            line: self.span.line,
            column: self.span.column,
            severity: self.severity,
            message: self.message.clone(),
        }
    }
}

/// A diagnostic with its file name, as serialised for machines.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct DiagnosticRecord {
    pub file: String,
    pub line: u32,
    pub column: u32,
    pub severity: Severity,
    pub message: String,
}

/// `text` cut to its first `max` characters with an ellipsis, for quoting input in a message:
/// a 50 KB word would bury the one line that says what is wrong with it.
pub fn abbreviate(text: &str, max: usize) -> std::borrow::Cow<'_, str> {
    match text.char_indices().nth(max) {
        None => text.into(),
        Some((cut, _)) => format!("{}…", &text[..cut]).into(),
    }
}

/// `FILE:LINE:COL: severity: message`, the source line, and a caret under the column.
pub fn render(file_name: &str, source: &str, diag: &Diagnostic) -> String {
    let span = diag.span;
    let mut out = format!(
        "{file_name}:{}:{}: {}: {}\n",
        span.line, span.column, diag.severity, diag.message
    );
    let text = source.strip_prefix('\u{feff}').unwrap_or(source);
    if let Some(line) = text.split('\n').nth(span.line.saturating_sub(1) as usize) {
        let line = line.trim_end_matches('\r');
        out.push_str(line);
        out.push('\n');
        let pad: String = line
            .chars()
            .take(span.column.saturating_sub(1) as usize)
            .map(|c| if c == '\t' { '\t' } else { ' ' })
            .collect();
        out.push_str(&pad);
        out.push('^');
        out.push('\n');
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn abbreviates() {
        assert_eq!(abbreviate("abc", 3), "abc");
        assert_eq!(abbreviate("abcd", 3), "abc…");
        assert_eq!(abbreviate("éééé", 2), "éé…");
    }

    #[test]
    fn render_points_at_column() {
        let src = "FROM a\n\tRUN x --bad\n";
        let span = Span {
            start: 13,
            end: 18,
            line: 2,
            column: 7,
        };
        let d = Diagnostic::error(span, "unknown flag: bad");
        assert_eq!(
            render("Dockerfile", src, &d),
            "Dockerfile:2:7: error: unknown flag: bad\n\tRUN x --bad\n\t     ^\n"
        );
        let json = serde_json::to_string(&d.record("Dockerfile")).unwrap();
        assert_eq!(
            json,
            r#"{"file":"Dockerfile","line":2,"column":7,"severity":"error","message":"unknown flag: bad"}"#
        );
    }
}
