//! Raw nodes → typed `Instruction`s, with located diagnostics for what BuildKit would reject
//! when it builds its instruction list (unknown instructions and flags, argument counts, values).

use super::ast::{
    ArgDecl, ArgForm, CopyArgs, Dockerfile, HealthOptions, Healthcheck, Instruction, KeyValue,
    Node, Run, ShellOrExec, Span, Spanned, Word,
};
use super::error::Diagnostic;
use super::flags;
use crate::util::go_duration;

/// Turns every raw node into a typed instruction. A node with an error yields no instruction
/// but one or more error diagnostics; the parse warnings are included first.
pub fn lower(df: &Dockerfile) -> (Vec<Spanned<Instruction>>, Vec<Diagnostic>) {
    let mut diags = df.warnings.clone();
    let mut out = Vec::with_capacity(df.nodes.len());
    for node in &df.nodes {
        let before = diags.len();
        let inst = lower_node(node, &mut diags);
        let failed = diags[before..]
            .iter()
            .any(|d| d.severity == super::error::Severity::Error);
        if let (Some(inst), false) = (inst, failed) {
            out.push(inst);
        }
    }
    (out, diags)
}

/// One node; `None` when it cannot be an instruction at all.
pub fn lower_node(node: &Node, diags: &mut Vec<Diagnostic>) -> Option<Spanned<Instruction>> {
    let kw = node.keyword.text.to_ascii_lowercase();
    let upper = kw.to_uppercase();
    let flags = flags::parse(&kw, &node.flags, diags);
    let args = &node.args;
    let first_arg_span = args.first().map_or(node.keyword.span, |a| a.span);
    let exactly_one = |diags: &mut Vec<Diagnostic>| -> Option<Word> {
        if args.len() == 1 {
            Some(args[0].clone())
        } else {
            let span = args.get(1).map_or(node.span, |a| a.span);
            err(
                diags,
                span,
                format!("{upper} requires exactly one argument"),
            )
        }
    };
    let at_least_one = |diags: &mut Vec<Diagnostic>| -> bool {
        if args.is_empty() {
            diags.push(Diagnostic::error(
                node.span,
                format!("{upper} requires at least one argument"),
            ));
            false
        } else {
            true
        }
    };

    let inst = match kw.as_str() {
        "from" => match args.len() {
            1 | 3 => {
                let alias = if args.len() == 3 {
                    if !args[1].text.eq_ignore_ascii_case("as") {
                        return err(diags, args[1].span, "second argument should be AS".into());
                    }
                    check_stage_name(&args[2], diags);
                    Some(args[2].clone())
                } else {
                    None
                };
                Instruction::From {
                    image: args[0].clone(),
                    platform: flags.str("platform"),
                    alias,
                }
            }
            n => {
                let span = args.get(3).map_or(node.span, |a| a.span);
                let msg = if n == 2 && args[1].text.eq_ignore_ascii_case("as") {
                    "AS needs a stage name: FROM <image> AS <name>".to_string()
                } else {
                    "FROM requires either one or three arguments".to_string()
                };
                return err(diags, span, msg);
            }
        },
        "run" => {
            if !at_least_one(diags) {
                return None;
            }
            let network = flags.str("network");
            if let Some(n) = &network {
                check_choice(n, "network mode", &["default", "none", "host"], diags);
            }
            let security = flags.str("security");
            if let Some(s) = &security {
                check_choice(s, "security mode", &["sandbox", "insecure"], diags);
            }
            Instruction::Run(Run {
                mounts: flags.strs("mount"),
                network,
                security,
                command: command(node),
                heredocs: node.heredocs.clone(),
            })
        }
        "cmd" => Instruction::Cmd(command(node)),
        "entrypoint" => Instruction::Entrypoint(command(node)),
        "shell" => {
            if node.form != ArgForm::Json {
                return err(
                    diags,
                    first_arg_span,
                    "SHELL requires the arguments to be in JSON form".into(),
                );
            }
            if !at_least_one(diags) {
                return None;
            }
            Instruction::Shell(args.clone())
        }
        "env" | "label" => {
            if !at_least_one(diags) {
                return None;
            }
            let pairs: Vec<KeyValue> = args
                .chunks(3)
                .map(|c| KeyValue {
                    key: c[0].clone(),
                    value: c[1].clone(),
                })
                .collect();
            if let Some(blank) = pairs.iter().find(|kv| kv.key.text.is_empty()) {
                return err(
                    diags,
                    blank.key.span,
                    format!("{upper} names can not be blank"),
                );
            }
            if kw == "env" {
                Instruction::Env(pairs)
            } else {
                Instruction::Label(pairs)
            }
        }
        "maintainer" => Instruction::Maintainer(exactly_one(diags)?),
        "user" => Instruction::User(exactly_one(diags)?),
        "workdir" => Instruction::Workdir(exactly_one(diags)?),
        "stopsignal" => Instruction::StopSignal(exactly_one(diags)?),
        "expose" => {
            if !at_least_one(diags) {
                return None;
            }
            Instruction::Expose(args.clone())
        }
        "volume" => {
            if !at_least_one(diags) {
                return None;
            }
            if let Some(empty) = args.iter().find(|a| a.text.trim().is_empty()) {
                return err(
                    diags,
                    empty.span,
                    "VOLUME specified can not be an empty string".into(),
                );
            }
            Instruction::Volume(args.clone())
        }
        "arg" => {
            if !at_least_one(diags) {
                return None;
            }
            let mut decls = Vec::new();
            for a in args {
                let decl = match a.text.find('=') {
                    Some(i) => ArgDecl {
                        name: sub_word(a, 0, i),
                        default: Some(sub_word(a, i + 1, a.text.len())),
                    },
                    None => ArgDecl {
                        name: a.clone(),
                        default: None,
                    },
                };
                if decl.name.text.is_empty() {
                    return err(diags, a.span, "ARG names can not be blank".into());
                }
                decls.push(decl);
            }
            Instruction::Arg(decls)
        }
        "add" | "copy" => {
            let copy = copy_args(node, &upper, &flags, diags)?;
            if kw == "add" {
                Instruction::Add(copy)
            } else {
                Instruction::Copy(copy)
            }
        }
        "onbuild" => {
            let Some(nested) = &node.nested else {
                return err(
                    diags,
                    node.span,
                    "ONBUILD requires at least one argument".into(),
                );
            };
            let inner_kw = nested.keyword.text.to_ascii_lowercase();
            match inner_kw.as_str() {
                "onbuild" => {
                    return err(
                        diags,
                        nested.keyword.span,
                        "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed".into(),
                    )
                }
                "from" | "maintainer" => {
                    return err(
                        diags,
                        nested.keyword.span,
                        format!(
                            "{} isn't allowed as an ONBUILD trigger",
                            inner_kw.to_uppercase()
                        ),
                    )
                }
                _ => {}
            }
            Instruction::Onbuild(Box::new(lower_node(nested, diags)?))
        }
        "healthcheck" => Instruction::Healthcheck(healthcheck(node, &flags, diags)?),
        _ => {
            return err(
                diags,
                node.keyword.span,
                format!("unknown instruction: {}", node.keyword.text.to_uppercase()),
            )
        }
    };
    Some(Spanned {
        node: inst,
        span: node.span,
    })
}

fn err<T>(diags: &mut Vec<Diagnostic>, span: Span, msg: String) -> Option<T> {
    diags.push(Diagnostic::error(span, msg));
    None
}

/// Part of a word (byte range of its text), with a span narrowed when the source text is the
/// word itself.
fn sub_word(w: &Word, from: usize, to: usize) -> Word {
    let text = w.text[from..to].to_string();
    let span = if w.span.end - w.span.start == w.text.len() {
        Span {
            start: w.span.start + from,
            end: w.span.start + to,
            line: w.span.line,
            column: w.span.column + w.text[..from].chars().count() as u32,
        }
    } else {
        w.span
    };
    Word { text, span }
}

fn command(node: &Node) -> ShellOrExec {
    match (node.form, node.args.first()) {
        (ArgForm::Json, _) | (_, None) => ShellOrExec::Exec(node.args.clone()),
        (_, Some(text)) => ShellOrExec::Shell(text.clone()),
    }
}

fn check_choice(w: &Word, what: &str, allowed: &[&str], diags: &mut Vec<Diagnostic>) {
    if !w.text.contains('$') && !allowed.contains(&w.text.as_str()) {
        diags.push(Diagnostic::error(
            w.span,
            format!(
                "{what} {:?} not supported (expected one of: {})",
                w.text,
                allowed.join(", ")
            ),
        ));
    }
}

fn check_stage_name(w: &Word, diags: &mut Vec<Diagnostic>) {
    if w.text.contains('$') {
        return;
    }
    let name = w.text.to_ascii_lowercase();
    let mut chars = name.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_lowercase())
        && chars.all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || "-_.".contains(c));
    if !ok {
        diags.push(Diagnostic::error(
            w.span,
            format!(
                "invalid name for build stage: {:?}, name can't start with a number or contain symbols",
                w.text
            ),
        ));
    }
}

fn copy_args(
    node: &Node,
    upper: &str,
    flags: &flags::Flags,
    diags: &mut Vec<Diagnostic>,
) -> Option<CopyArgs> {
    let json = node.form == ArgForm::Json;
    let in_heredoc = |a: &Word| {
        !json
            && node
                .heredocs
                .iter()
                .any(|h| a.span.start < h.span.end && h.span.start < a.span.end)
    };
    let operands = node.args.iter().filter(|a| !in_heredoc(a)).count() + node.heredocs.len();
    if operands < 2 {
        diags.push(Diagnostic::error(
            node.args.first().map_or(node.span, |a| a.span),
            format!(
                "{upper} requires at least two arguments, but only one was provided. \
                 Destination could not be determined."
            ),
        ));
        return None;
    }
    let last = node.args.last()?;
    if in_heredoc(last) {
        diags.push(Diagnostic::error(
            last.span,
            format!("{upper} destination can not be a heredoc"),
        ));
        return None;
    }
    let sources = node.args[..node.args.len() - 1]
        .iter()
        .filter(|a| !in_heredoc(a))
        .cloned()
        .collect();
    Some(CopyArgs {
        from: flags.str("from"),
        chown: flags.str("chown"),
        chmod: flags.str("chmod"),
        link: flags.bool("link").unwrap_or(false),
        parents: flags.bool("parents").unwrap_or(false),
        exclude: flags.strs("exclude"),
        checksum: flags.str("checksum"),
        keep_git_dir: flags.bool("keep-git-dir"),
        unpack: flags.bool("unpack"),
        sources,
        heredocs: if json {
            Vec::new()
        } else {
            node.heredocs.clone()
        },
        dest: last.clone(),
        json,
    })
}

fn healthcheck(
    node: &Node,
    flags: &flags::Flags,
    diags: &mut Vec<Diagnostic>,
) -> Option<Healthcheck> {
    let Some(typ) = node.args.first() else {
        diags.push(Diagnostic::error(
            node.span,
            "HEALTHCHECK requires at least one argument",
        ));
        return None;
    };
    match typ.text.to_ascii_uppercase().as_str() {
        "NONE" => {
            if let Some(extra) = node.args.get(1) {
                diags.push(Diagnostic::error(
                    extra.span,
                    "HEALTHCHECK NONE takes no arguments",
                ));
                return None;
            }
            Some(Healthcheck::None)
        }
        "CMD" => {
            let rest = &node.args[1..];
            let command = if node.json {
                ShellOrExec::Exec(rest.to_vec())
            } else if let Some(text) = rest.first() {
                ShellOrExec::Shell(text.clone())
            } else {
                diags.push(Diagnostic::error(
                    typ.span,
                    "Missing command after HEALTHCHECK CMD",
                ));
                return None;
            };
            let mut options = HealthOptions::default();
            for (name, slot) in [
                ("interval", &mut options.interval),
                ("timeout", &mut options.timeout),
                ("start-period", &mut options.start_period),
                ("start-interval", &mut options.start_interval),
            ] {
                if let Some(w) = flags.str(name) {
                    *slot = duration_flag(name, &w, diags);
                }
            }
            if let Some(w) = flags.str("retries") {
                match w.text.parse::<i64>() {
                    Ok(n) if n < 0 => diags.push(Diagnostic::error(
                        w.span,
                        format!("--retries cannot be negative ({n})"),
                    )),
                    Ok(n) if n <= i64::from(i32::MAX) => options.retries = Some(n as u32),
                    _ => diags.push(Diagnostic::error(
                        w.span,
                        format!("invalid value for --retries: {:?}", w.text),
                    )),
                }
            }
            Some(Healthcheck::Cmd { options, command })
        }
        other => {
            diags.push(Diagnostic::error(
                typ.span,
                format!("Unknown type {other:?} in HEALTHCHECK (try CMD)"),
            ));
            None
        }
    }
}

fn duration_flag(name: &str, w: &Word, diags: &mut Vec<Diagnostic>) -> Option<u64> {
    match go_duration::parse(&w.text) {
        None => {
            diags.push(Diagnostic::error(
                w.span,
                format!("invalid duration for --{name}: {:?}", w.text),
            ));
            None
        }
        Some(d) if d < 0 => {
            diags.push(Diagnostic::error(
                w.span,
                format!("Interval {name:?} cannot be negative"),
            ));
            None
        }
        Some(d) if d != 0 && d < 1_000_000 => {
            diags.push(Diagnostic::error(
                w.span,
                format!("Interval {name:?} cannot be less than 1ms"),
            ));
            None
        }
        Some(d) => Some(d as u64),
    }
}

#[cfg(test)]
#[path = "instructions_tests.rs"]
mod tests;
