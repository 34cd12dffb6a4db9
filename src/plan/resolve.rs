//! Which parts of each instruction the builder expands, and doing it: a typed instruction plus
//! the stage's variables in, the same instruction with expanded words out. Follows BuildKit:
//! FROM (image, `--platform`) sees only global ARGs; ADD/COPY paths and `--from --chown --chmod
//! --exclude --checksum`; ENV and LABEL keys and values; EXPOSE, USER, WORKDIR, VOLUME,
//! STOPSIGNAL; RUN `--mount` and `--network`. RUN, CMD, ENTRYPOINT, SHELL and HEALTHCHECK
//! commands, MAINTAINER and ONBUILD triggers are never expanded by the builder (the shell, or
//! the child image's build, does that).

use std::collections::BTreeSet;

use crate::plan::config_values::{check_stop_signal, exposed_ports};
use crate::plan::scope::{ScopeError, StageScope};
use crate::syntax::expand::{process_word, process_words_tracked, ExpandError, Vars};
use crate::syntax::{abbreviate, Diagnostic, Instruction, KeyValue, Span, Word};

/// An expanded instruction and the variable names its words used but found unset.
#[derive(Debug, Clone)]
pub struct Resolved {
    pub instruction: Instruction,
    pub unmatched: BTreeSet<String>,
}

/// Turns an expansion error inside `word` into a diagnostic pointing at the character at fault.
pub fn expand_diagnostic(word: &Word, err: &ExpandError) -> Diagnostic {
    let span = Span {
        column: word.span.column + err.offset() as u32,
        ..word.span
    };
    let shown = abbreviate(&word.text, 64);
    Diagnostic::error(span, format!("cannot expand {shown:?}: {err}"))
}

struct Expander<'v, V: Vars + ?Sized> {
    vars: &'v V,
    escape: char,
    unmatched: BTreeSet<String>,
}

impl<V: Vars + ?Sized> Expander<'_, V> {
    fn word(&mut self, w: &Word) -> Result<Word, Diagnostic> {
        let out =
            process_word(&w.text, self.escape, self.vars).map_err(|e| expand_diagnostic(w, &e))?;
        self.unmatched.extend(out.unmatched);
        Ok(Word {
            text: out.value,
            span: w.span,
        })
    }

    /// ProcessWords: one word in, the words its expansion splits into out, each with the
    /// span of the word it came from.
    fn split(&mut self, w: &Word) -> Result<Vec<Word>, Diagnostic> {
        let (out, words) = process_words_tracked(&w.text, self.escape, self.vars)
            .map_err(|e| expand_diagnostic(w, &e))?;
        self.unmatched.extend(out.unmatched);
        Ok(words
            .into_iter()
            .map(|text| Word { text, span: w.span })
            .collect())
    }

    fn opt(&mut self, w: &Option<Word>) -> Result<Option<Word>, Diagnostic> {
        w.as_ref().map(|w| self.word(w)).transpose()
    }

    fn all(&mut self, ws: &[Word]) -> Result<Vec<Word>, Diagnostic> {
        ws.iter().map(|w| self.word(w)).collect()
    }

    fn pairs(&mut self, kvs: &[KeyValue]) -> Result<Vec<KeyValue>, Diagnostic> {
        kvs.iter()
            .map(|kv| {
                Ok(KeyValue {
                    key: self.word(&kv.key)?,
                    value: self.word(&kv.value)?,
                })
            })
            .collect()
    }
}

/// Expands a FROM line's image and platform with the global variables.
pub fn resolve_from<V: Vars + ?Sized>(
    instr: &Instruction,
    vars: &V,
    escape: char,
) -> Result<Resolved, Diagnostic> {
    let mut ex = Expander {
        vars,
        escape,
        unmatched: BTreeSet::new(),
    };
    let instruction = match instr {
        Instruction::From {
            image,
            platform,
            alias,
        } => Instruction::From {
            image: ex.word(image)?,
            platform: ex.opt(platform)?,
            alias: alias.clone(),
        },
        other => other.clone(),
    };
    Ok(Resolved {
        instruction,
        unmatched: ex.unmatched,
    })
}

/// Expands one instruction of a stage and applies its effect on the stage's variables (ARG
/// declares, ENV sets). The variables seen are those from *before* the instruction.
pub fn resolve_in_stage(
    instr: &Instruction,
    scope: &mut StageScope,
) -> Result<Resolved, Diagnostic> {
    let escape = scope.escape();
    let mut ex = Expander {
        vars: scope.vars(),
        escape,
        unmatched: BTreeSet::new(),
    };
    let instruction = match instr {
        Instruction::Copy(c) | Instruction::Add(c) => {
            let mut c2 = c.clone();
            c2.from = ex.opt(&c.from)?;
            c2.chown = ex.opt(&c.chown)?;
            c2.chmod = ex.opt(&c.chmod)?;
            c2.checksum = ex.opt(&c.checksum)?;
            c2.exclude = ex.all(&c.exclude)?;
            c2.sources = ex.all(&c.sources)?;
            c2.dest = ex.word(&c.dest)?;
            if matches!(instr, Instruction::Copy(_)) {
                Instruction::Copy(c2)
            } else {
                Instruction::Add(c2)
            }
        }
        Instruction::Run(r) => {
            let mut r2 = r.clone();
            r2.mounts = ex.all(&r.mounts)?;
            r2.network = ex.opt(&r.network)?;
            Instruction::Run(r2)
        }
        Instruction::Label(kvs) => Instruction::Label(ex.pairs(kvs)?),
        Instruction::Env(kvs) => Instruction::Env(ex.pairs(kvs)?),
        Instruction::Expose(ws) => Instruction::Expose(expose(&mut ex, ws)?),
        Instruction::Volume(ws) => Instruction::Volume(ex.all(ws)?),
        Instruction::User(w) => Instruction::User(ex.word(w)?),
        Instruction::Workdir(w) => Instruction::Workdir(ex.word(w)?),
        Instruction::StopSignal(w) => {
            let w = ex.word(w)?;
            check_stop_signal(&w.text).map_err(|e| Diagnostic::error(w.span, e.to_string()))?;
            Instruction::StopSignal(w)
        }
        other => other.clone(),
    };
    let mut unmatched = ex.unmatched;
    match (&instruction, instr) {
        (Instruction::Env(kvs), _) => {
            // All pairs were expanded against the environment from before the instruction.
            for kv in kvs {
                scope.set_env(&kv.key.text, &kv.value.text);
            }
        }
        (Instruction::Arg(decls), _) => {
            for d in decls {
                let decl = scope
                    .declare_arg(&d.name.text, d.default.as_ref().map(|w| w.text.as_str()))
                    .map_err(|e| scope_diagnostic(d.default.as_ref().unwrap_or(&d.name), e))?;
                unmatched.extend(decl.unmatched);
            }
        }
        _ => {}
    }
    Ok(Resolved {
        instruction,
        unmatched,
    })
}

/// EXPOSE as BuildKit reads it: each word expanded and split (ProcessWords), then each port
/// spec checked and turned into the `ExposedPorts` keys it stands for.
fn expose<V: Vars + ?Sized>(
    ex: &mut Expander<'_, V>,
    words: &[Word],
) -> Result<Vec<Word>, Diagnostic> {
    let mut out = Vec::new();
    for w in words {
        for spec in ex.split(w)? {
            let keys = exposed_ports(&spec.text)
                .map_err(|e| Diagnostic::error(spec.span, e.to_string()))?;
            out.extend(keys.into_iter().map(|text| Word {
                text,
                span: spec.span,
            }));
        }
    }
    Ok(out)
}

/// Locates a scope error on the word it came from.
pub fn scope_diagnostic(word: &Word, err: ScopeError) -> Diagnostic {
    match err {
        ScopeError::Expand { source, .. } => expand_diagnostic(word, &source),
        other => Diagnostic::error(word.span, other.to_string()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::plan::platform::Platform;
    use crate::plan::scope::{BuildArgs, GlobalScope, PredefinedArgs};
    use crate::syntax::{lower, parse};

    fn scope(build_args: &[&str]) -> (GlobalScope, PredefinedArgs) {
        let p = Platform::parse("linux/amd64").unwrap();
        let pre = PredefinedArgs {
            target: p.clone(),
            build: p,
            target_stage: String::new(),
        };
        let ba = BuildArgs::from_flags(build_args.iter().copied())
            .unwrap()
            .resolve_with(|_| None);
        (GlobalScope::new(ba, &pre, '\\'), pre)
    }

    /// Runs a one-stage Dockerfile through the resolver and returns the dump-like text of each
    /// expanded instruction.
    fn resolve_all(src: &str, build_args: &[&str]) -> Vec<String> {
        let (ins, diags) = lower(&parse(src).unwrap());
        assert!(diags.is_empty(), "{diags:?}");
        let (global, _) = scope(build_args);
        let mut st = StageScope::new(&global, ["PATH=/bin"]);
        ins.iter()
            .skip(1)
            .map(|i| {
                let r = resolve_in_stage(&i.node, &mut st).unwrap();
                short(&r.instruction)
            })
            .collect()
    }

    fn short(i: &Instruction) -> String {
        match i {
            Instruction::Copy(c) | Instruction::Add(c) => format!(
                "{} from={:?} chown={:?} {:?} -> {}",
                i.name(),
                c.from.as_ref().map(|w| &w.text),
                c.chown.as_ref().map(|w| &w.text),
                c.sources.iter().map(|w| &w.text).collect::<Vec<_>>(),
                c.dest.text
            ),
            Instruction::Env(kvs) | Instruction::Label(kvs) => kvs
                .iter()
                .map(|kv| format!("{}={}", kv.key.text, kv.value.text))
                .collect::<Vec<_>>()
                .join(" "),
            Instruction::Run(r) => format!("RUN {:?} {:?}", r.mounts, r.command),
            Instruction::Workdir(w) | Instruction::User(w) | Instruction::StopSignal(w) => {
                w.text.clone()
            }
            Instruction::Expose(ws) | Instruction::Volume(ws) => ws
                .iter()
                .map(|w| w.text.as_str())
                .collect::<Vec<_>>()
                .join(","),
            other => other.name().to_string(),
        }
    }

    #[test]
    fn expands_what_buildkit_expands() {
        let got = resolve_all(
            "FROM x\n\
             ARG DIR=/srv\n\
             ENV NAME=app HOME_DIR=$DIR/$NAME\n\
             ENV NEXT=${NAME}-2\n\
             WORKDIR $DIR/${NAME:-none}\n\
             COPY --chown=${NAME}:${NAME} --from=$NAME src/${NAME}.txt $DIR/\n\
             LABEL \"$NAME.version\"=\"${NEXT}\"\n\
             EXPOSE ${PORT:-8080}/tcp\n\
             VOLUME [\"$DIR/data\"]\n\
             USER ${NAME}\n\
             STOPSIGNAL ${SIG:-SIGTERM}\n",
            &[],
        );
        assert_eq!(
            got,
            vec![
                "ARG".to_string(),
                // ENV pairs see only what was set before the instruction: NAME is not yet set.
                "NAME=app HOME_DIR=/srv/".into(),
                "NEXT=app-2".into(),
                "/srv/app".into(),
                "COPY from=Some(\"app\") chown=Some(\"app:app\") [\"src/app.txt\"] -> /srv/".into(),
                "app.version=app-2".into(),
                "8080/tcp".into(),
                "/srv/data".into(),
                "app".into(),
                "SIGTERM".into(),
            ]
        );
    }

    #[test]
    fn never_expands_commands() {
        let got = resolve_all(
            "FROM x\nENV A=1\nRUN --mount=type=cache,id=$A,target=/c echo $A\nCMD echo $A\n",
            &[],
        );
        assert!(got[1].contains("id=1"), "{}", got[1]);
        assert!(got[1].contains("echo $A"), "{}", got[1]);
        assert_eq!(got[2], "CMD");
    }

    #[test]
    fn build_arg_overrides_default_and_env_wins() {
        let got = resolve_all(
            "FROM x\nARG V=default\nWORKDIR /$V\nENV V=env\nWORKDIR /$V\n",
            &["V=cli"],
        );
        assert_eq!(got[1], "/cli");
        assert_eq!(got[3], "/env");
    }

    #[test]
    fn from_sees_global_args_only() {
        let (global, _) = scope(&[]);
        let (ins, _) = lower(&parse("FROM ${BASE:-busybox}:$TAG\n").unwrap());
        let r = resolve_from(&ins[0].node, global.vars(), '\\').unwrap();
        let Instruction::From { image, .. } = r.instruction else {
            panic!()
        };
        assert_eq!(image.text, "busybox:");
        assert_eq!(
            r.unmatched.into_iter().collect::<Vec<_>>(),
            vec!["BASE", "TAG"]
        );
    }

    #[test]
    fn expose_and_stopsignal_are_checked_after_expansion() {
        let got = resolve_all(
            "FROM x\nARG PORTS=\"80 53/UDP\"\nEXPOSE $PORTS 8000-8002/tcp $NONE\nSTOPSIGNAL ${S:-rtmin+3}\n",
            &[],
        );
        assert_eq!(got[1], "80/tcp,53/udp,8000/tcp,8001/tcp,8002/tcp");
        assert_eq!(got[2], "rtmin+3");
        // (Dockerfile, build args, line, column, message)
        let cases: &[(&str, &[&str], u32, u32, &str)] = &[
            (
                "FROM x\nEXPOSE 80 $P\n",
                &["P=70000"],
                2,
                11,
                "invalid containerPort: 70000",
            ),
            ("FROM x\nEXPOSE 80/icmp\n", &[], 2, 8, "invalid proto: icmp"),
            (
                "FROM x\nEXPOSE 9-8\n",
                &[],
                2,
                8,
                "invalid containerPort: 9-8",
            ),
            (
                "FROM x\nSTOPSIGNAL $S\n",
                &["S=SIGNOPE"],
                2,
                12,
                "invalid signal: SIGNOPE",
            ),
            ("FROM x\nSTOPSIGNAL 0\n", &[], 2, 12, "invalid signal: 0"),
        ];
        for (src, args, line, column, msg) in cases {
            let (ins, _) = lower(&parse(src).unwrap());
            let (global, _) = scope(args);
            let mut st = StageScope::new(&global, Vec::<String>::new());
            // Build args reach a stage through ARG; declare the ones the cases use.
            for a in args.iter() {
                let name = a.split('=').next().unwrap();
                st.declare_arg(name, None).unwrap();
            }
            let d = resolve_in_stage(&ins[1].node, &mut st).unwrap_err();
            assert_eq!(
                (d.span.line, d.span.column, d.message.as_str()),
                (*line, *column, *msg),
                "{src}"
            );
        }
    }

    #[test]
    fn expansion_errors_point_at_the_character() {
        let src = "FROM x\nWORKDIR /a/${V:?must be set}\n";
        let (ins, _) = lower(&parse(src).unwrap());
        let (global, _) = scope(&[]);
        let mut st = StageScope::new(&global, Vec::<String>::new());
        let d = resolve_in_stage(&ins[1].node, &mut st).unwrap_err();
        assert_eq!((d.span.line, d.span.column), (2, 12));
        assert!(d.message.contains("must be set"), "{}", d.message);
    }
}
