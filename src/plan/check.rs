//! `strata check`'s validation: parse, lower, split into stages, expand what the builder would
//! expand, and report every problem as a located diagnostic — without building anything.

use std::collections::HashMap;

use crate::plan::platform::Platform;
use crate::plan::resolve::{resolve_from, resolve_in_stage, scope_diagnostic};
use crate::plan::scope::{GlobalScope, PredefinedArgs, ResolvedBuildArgs, StageScope};
use crate::plan::stages::{split_stages, StageRef, Stages};
use crate::syntax::{
    lower, parse, Diagnostic, Dockerfile, Instruction, Severity, Span, Spanned, Word,
};

/// What the check can see besides the Dockerfile text.
#[derive(Debug, Clone)]
pub struct CheckOptions {
    pub build_args: ResolvedBuildArgs,
    pub target_platform: Platform,
    pub build_platform: Platform,
}

impl Default for CheckOptions {
    fn default() -> Self {
        CheckOptions {
            build_args: Default::default(),
            target_platform: Platform::host(),
            build_platform: Platform::host(),
        }
    }
}

/// Every problem in `source`, sorted by position. Errors make a build fail; warnings do not.
pub fn check(source: &str, opts: &CheckOptions) -> Vec<Diagnostic> {
    let mut diags = Vec::new();
    let df = match parse(source) {
        Ok(df) => df,
        Err(e) => return vec![e.to_diagnostic()],
    };
    diags.extend(df.warnings.iter().cloned());
    let (instrs, lower_diags) = lower(&df);
    // Lowering drops an instruction it rejects; stage errors after that would only echo it.
    let lowering_failed = has_errors(&lower_diags);
    diags.extend(lower_diags);
    diags.extend(continuation_at_eof(source, df.escape));
    diags.extend(misplaced_directives(source, &df));
    match split_stages(&instrs) {
        Ok(stages) => check_stages(&stages, &df, opts, &mut diags),
        Err(d) if !lowering_failed => diags.push(d),
        Err(_) => {}
    }
    diags.sort_by_key(|d| (d.span.line, d.span.column, d.severity == Severity::Warning));
    diags.dedup();
    diags
}

/// True when any diagnostic is an error.
pub fn has_errors(diags: &[Diagnostic]) -> bool {
    diags.iter().any(|d| d.severity == Severity::Error)
}

/// Physical lines without their line ending, BOM dropped, with their 1-based numbers.
fn physical_lines(source: &str) -> impl Iterator<Item = (u32, &str)> {
    let text = source.strip_prefix('\u{feff}').unwrap_or(source);
    text.split('\n')
        .enumerate()
        .map(|(i, l)| (i as u32 + 1, l.trim_end_matches('\r')))
}

/// BuildKit silently ends an instruction whose last line continues into the end of the file;
/// that is almost always a truncated file, so say so.
fn continuation_at_eof(source: &str, escape: char) -> Option<Diagnostic> {
    let (line_no, line) = physical_lines(source)
        .filter(|(_, l)| {
            let t = l.trim_start();
            !t.is_empty() && !t.starts_with('#')
        })
        .last()?;
    let trimmed = line.trim_end_matches([' ', '\t']);
    let mut rev = trimmed.chars().rev();
    if rev.next() != Some(escape) || rev.next() == Some(escape) {
        return None;
    }
    let column = trimmed.chars().count() as u32;
    Some(Diagnostic::error(
        Span {
            start: 0,
            end: 0,
            line: line_no,
            column,
        },
        format!(
            "line continuation ('{escape}') at the end of the file: the instruction is cut off"
        ),
    ))
}

/// `# escape=`-style lines after the directive section are plain comments to BuildKit, which
/// silently changes how the file parses; warn about each one.
fn misplaced_directives(source: &str, df: &Dockerfile) -> Vec<Diagnostic> {
    let directive_lines: Vec<u32> = df.directives.iter().map(|d| d.span.line).collect();
    let mut out = Vec::new();
    let in_heredoc_body = |line: u32| {
        df.nodes
            .iter()
            .any(|n| !n.heredocs.is_empty() && line > n.span.line && line <= n.end_line)
    };
    for (no, line) in physical_lines(source) {
        let Some(name) = directive_name(line) else {
            continue;
        };
        if directive_lines.contains(&no) || in_heredoc_body(no) {
            continue;
        }
        let column = (line.chars().take_while(|c| c.is_whitespace()).count() + 1) as u32;
        out.push(Diagnostic::warning(
            Span {
                start: 0,
                end: 0,
                line: no,
                column,
            },
            format!(
                "parser directive '{name}' is ignored here: directives must come before any \
                 comment, blank line or instruction"
            ),
        ));
    }
    out
}

/// The directive name if `line` has the shape `# name=value` with a known directive name.
fn directive_name(line: &str) -> Option<&'static str> {
    let rest = line.trim_start().strip_prefix('#')?.trim_start();
    let (name, _) = rest.split_once('=')?;
    let name = name.trim_end().to_ascii_lowercase();
    ["syntax", "escape", "check"]
        .into_iter()
        .find(|d| *d == name)
}

fn check_stages(
    stages: &Stages<'_>,
    df: &Dockerfile,
    opts: &CheckOptions,
    diags: &mut Vec<Diagnostic>,
) {
    let predefined = PredefinedArgs {
        target: opts.target_platform.clone(),
        build: opts.build_platform.clone(),
        target_stage: String::new(),
    };
    let mut global = GlobalScope::new(opts.build_args.clone(), &predefined, df.escape);
    for ins in &stages.global_args {
        if let Instruction::Arg(decls) = &ins.node {
            for d in decls {
                if let Err(e) =
                    global.declare_arg(&d.name.text, d.default.as_ref().map(|w| w.text.as_str()))
                {
                    diags.push(scope_diagnostic(d.default.as_ref().unwrap_or(&d.name), e));
                }
            }
        }
    }

    let mut seen_names: HashMap<String, Span> = HashMap::new();
    let mut scopes: Vec<StageScope> = Vec::with_capacity(stages.stages.len());
    for stage in &stages.stages {
        if let Some(name) = &stage.name {
            if let Some(first) = seen_names.get(name) {
                diags.push(Diagnostic::error(
                    stage.name_span,
                    format!(
                        "duplicate stage name {name:?}: already used on line {}",
                        first.line
                    ),
                ));
            } else {
                seen_names.insert(name.clone(), stage.name_span);
            }
        }

        let from = Instruction::From {
            image: stage.image.clone(),
            platform: stage.platform.cloned(),
            alias: None,
        };
        let base_scope = match resolve_from(&from, global.vars(), df.escape) {
            Err(d) => {
                diags.push(d);
                None
            }
            Ok(r) => {
                // Declared without a default is fine: it is just empty unless --build-arg sets it.
                let declared = global.declared();
                for name in r.unmatched.iter().filter(|n| !declared.contains(n)) {
                    diags.push(Diagnostic::warning(
                        stage.image.span,
                        format!("FROM argument '{name}' is not declared: declare it with ARG before the first FROM"),
                    ));
                }
                let Instruction::From { image, .. } = &r.instruction else {
                    unreachable!()
                };
                if image.text.is_empty() {
                    diags.push(Diagnostic::error(
                        stage.image.span,
                        format!("base name ({}) should not be blank", stage.image.text),
                    ));
                    None
                } else {
                    match stages.resolve_from(&image.text, stage.index) {
                        Ok(StageRef::Stage(i)) => scopes.get(i).map(StageScope::inherit),
                        Ok(StageRef::Image) => None,
                        Err(e) => {
                            diags.push(Diagnostic::error(stage.image.span, format!("FROM: {e}")));
                            None
                        }
                    }
                }
            }
        };
        let mut scope =
            base_scope.unwrap_or_else(|| StageScope::new(&global, Vec::<String>::new()));
        for ins in stage.instructions {
            check_instruction(ins, stages, stage.index, &mut scope, diags);
        }
        scopes.push(scope);
    }
}

fn check_instruction(
    ins: &Spanned<Instruction>,
    stages: &Stages<'_>,
    current: usize,
    scope: &mut StageScope,
    diags: &mut Vec<Diagnostic>,
) {
    let resolved = match resolve_in_stage(&ins.node, scope) {
        Ok(r) => r,
        Err(d) => {
            diags.push(d);
            return;
        }
    };
    let mut check_ref =
        |what: &str, word: &Word| match stages.resolve_copy_from(&word.text, current) {
            Err(e) => diags.push(Diagnostic::error(word.span, format!("{what}: {e}"))),
            // Docker quietly takes any other name as an image to pull, so a misspelt stage name
            // only fails at pull time; a bare name (no registry, tag or digest) is most likely one.
            Ok(StageRef::Image) if !word.text.contains(['/', ':', '@', '.']) => {
                diags.push(Diagnostic::warning(
                    word.span,
                    format!(
                    "{what}: {:?} is not the name of a stage; it will be used as the image {:?}",
                    word.text, word.text
                ),
                ))
            }
            Ok(_) => {}
        };
    match &resolved.instruction {
        Instruction::Copy(c) | Instruction::Add(c) => {
            if let Some(from) = &c.from {
                check_ref("--from", from);
            }
        }
        Instruction::Run(r) => {
            for m in &r.mounts {
                if let Some(from) = mount_from(&m.text) {
                    check_ref(
                        "--mount from",
                        &Word {
                            text: from.to_string(),
                            span: m.span,
                        },
                    );
                }
            }
        }
        _ => {}
    }
}

/// The `from=` option of a `--mount` value (comma-separated `key=value` fields).
fn mount_from(mount: &str) -> Option<&str> {
    mount
        .split(',')
        .filter_map(|f| f.split_once('='))
        .find(|(k, _)| k.trim().eq_ignore_ascii_case("from"))
        .map(|(_, v)| v.trim())
}

#[cfg(test)]
mod tests {
    use super::*;

    /// (line, column, severity, message fragment) of each diagnostic.
    fn run(src: &str) -> Vec<(u32, u32, Severity, String)> {
        check(src, &CheckOptions::default())
            .into_iter()
            .map(|d| (d.span.line, d.span.column, d.severity, d.message))
            .collect()
    }

    fn expect_one(src: &str, line: u32, col: u32, sev: Severity, fragment: &str) {
        let got = run(src);
        assert_eq!(got.len(), 1, "{src:?} gave {got:#?}");
        let (l, c, s, m) = &got[0];
        assert_eq!((*l, *c, *s), (line, col, sev), "{src:?}: {m}");
        assert!(m.contains(fragment), "{src:?}: {m:?} lacks {fragment:?}");
    }

    #[test]
    fn clean_file_has_no_diagnostics() {
        let src = "# syntax=docker/dockerfile:1\nARG BASE=busybox\nFROM $BASE AS build\n\
                   RUN echo hi > /x\nFROM build\nCOPY --from=build /x /y\nCOPY --from=0 /x /z\n";
        assert_eq!(run(src), vec![]);
    }

    #[test]
    fn one_problem_per_class() {
        use Severity::*;
        expect_one("FROM a\nRUNN echo\n", 2, 1, Error, "unknown instruction");
        expect_one("FROM a\nCOPY --frm=x a b\n", 2, 6, Error, "unknown flag");
        expect_one("FROM a\nRUN --chown=1 x\n", 2, 5, Error, "chown");
        expect_one("FROM a\nRUN echo hi \\\n", 2, 13, Error, "end of the file");
        expect_one(
            "FROM a AS x\nFROM b AS X\n",
            2,
            11,
            Error,
            "duplicate stage name",
        );
        expect_one(
            "FROM a AS 1x\n",
            1,
            11,
            Error,
            "invalid name for build stage",
        );
        expect_one(
            "FROM a\nCOPY --from=later /a /b\nFROM b AS later\n",
            2,
            13,
            Error,
            "defined later",
        );
        expect_one(
            "FROM later\nFROM b AS later\n",
            1,
            6,
            Error,
            "defined later",
        );
        expect_one(
            "FROM a AS me\nCOPY --from=me /a /b\n",
            2,
            13,
            Error,
            "refers to itself",
        );
        expect_one(
            "FROM a\nCOPY --from=3 /a /b\n",
            2,
            13,
            Error,
            "out of range",
        );
        expect_one(
            "FROM a AS build\nFROM b\nCOPY --from=biuld /a /b\n",
            3,
            13,
            Warning,
            "not the name of a stage",
        );
        expect_one(
            "FROM a\nRUN --mount=type=bind,from=nope2,target=/x true\nFROM b AS nope2\n",
            2,
            13,
            Error,
            "defined later",
        );
        expect_one(
            "FROM alpine:$VERSION\n",
            1,
            6,
            Warning,
            "'VERSION' is not declared",
        );
        expect_one(
            "FROM a\n# escape=`\nRUN x\n",
            2,
            1,
            Warning,
            "directive 'escape' is ignored",
        );
        expect_one(
            "# hello\n# syntax=x\nFROM a\n",
            2,
            1,
            Warning,
            "directive 'syntax'",
        );
        expect_one(
            "FROM a\nWORKDIR ${X:?is required}\n",
            2,
            9,
            Error,
            "is required",
        );
        expect_one("RUN x\nFROM a\n", 1, 1, Error, "no build stage");
        expect_one("ARG A\n", 1, 1, Error, "no FROM");
    }

    #[test]
    fn blank_base_is_an_error_and_the_undeclared_arg_a_warning() {
        let got = run("FROM ${NOPE}\n");
        assert_eq!(got.len(), 2, "{got:?}");
        assert_eq!((got[0].0, got[0].1, got[0].2), (1, 6, Severity::Error));
        assert!(got[0].3.contains("base name (${NOPE}) should not be blank"));
        assert_eq!((got[1].0, got[1].1, got[1].2), (1, 6, Severity::Warning));
        assert!(got[1].3.contains("'NOPE' is not declared"));
    }

    #[test]
    fn parse_errors_come_alone() {
        let got = run("FROM a\nRUN <<EOF\necho\n");
        assert_eq!(got.len(), 1, "{got:?}");
        assert!(got[0].3.contains("unterminated heredoc"), "{got:?}");
        assert_eq!(got[0].2, Severity::Error);
    }

    #[test]
    fn declared_global_args_and_stage_inheritance_are_clean() {
        let src = "ARG V=3\nARG UNSET\nFROM alpine:$V${UNSET:+-x} AS a\nARG V\nENV X=$V\nFROM a\nRUN echo $X\n\
                   FROM --platform=$BUILDPLATFORM busybox\nARG TARGETARCH\nWORKDIR /$TARGETARCH\n";
        assert_eq!(run(src), vec![]);
    }

    #[test]
    fn directive_lookalikes_inside_heredocs_are_not_flagged() {
        let src = "FROM a\nRUN <<EOF\n# escape=`\nEOF\n";
        assert_eq!(run(src), vec![]);
    }
}
