//! Table tests for `lower`: each instruction's typed form, and one located error per class.

use super::*;
use crate::syntax::ast::Healthcheck;
use crate::syntax::error::Severity;
use crate::syntax::parse;

fn one(src: &str) -> Instruction {
    let df = parse(src).unwrap_or_else(|e| panic!("{src:?}: {e}"));
    let (insts, diags) = lower(&df);
    assert!(diags.is_empty(), "{src:?}: {diags:?}");
    assert_eq!(insts.len(), 1, "{src:?}");
    insts.into_iter().next().unwrap().node
}

fn texts(words: &[Word]) -> Vec<&str> {
    words.iter().map(|w| w.text.as_str()).collect()
}

fn shell_or_exec(c: &ShellOrExec) -> (bool, Vec<&str>) {
    match c {
        ShellOrExec::Shell(w) => (false, vec![w.text.as_str()]),
        ShellOrExec::Exec(ws) => (true, texts(ws)),
    }
}

#[test]
fn from() {
    let cases: &[(&str, &str, Option<&str>, Option<&str>)] = &[
        ("FROM alpine", "alpine", None, None),
        (
            "FROM --platform=$BUILDPLATFORM golang:1 AS build",
            "golang:1",
            Some("$BUILDPLATFORM"),
            Some("build"),
        ),
        ("from a as B", "a", None, Some("B")),
    ];
    for (src, image, platform, alias) in cases {
        let Instruction::From {
            image: i,
            platform: p,
            alias: a,
        } = one(src)
        else {
            panic!("{src}")
        };
        assert_eq!(i.text, *image);
        assert_eq!(p.as_ref().map(|w| w.text.as_str()), *platform);
        assert_eq!(a.as_ref().map(|w| w.text.as_str()), *alias);
    }
}

#[test]
fn run_cmd_entrypoint_shell() {
    let Instruction::Run(run) = one(
        "RUN --mount=type=cache,target=/a --mount=type=secret,id=x --network=none --security=insecure echo hi",
    ) else {
        panic!()
    };
    assert_eq!(
        texts(&run.mounts),
        ["type=cache,target=/a", "type=secret,id=x"]
    );
    assert_eq!(run.network.unwrap().text, "none");
    assert_eq!(run.security.unwrap().text, "insecure");
    assert_eq!(shell_or_exec(&run.command), (false, vec!["echo hi"]));

    let Instruction::Run(run) = one("RUN <<EOF\necho a\nEOF") else {
        panic!()
    };
    assert_eq!(run.heredocs.len(), 1);
    assert_eq!(run.heredocs[0].content, "echo a\n");

    let Instruction::Cmd(c) = one("CMD [\"a\", \"b c\"]") else {
        panic!()
    };
    assert_eq!(shell_or_exec(&c), (true, vec!["a", "b c"]));
    let Instruction::Entrypoint(c) = one("ENTRYPOINT exec  \"$@\"") else {
        panic!()
    };
    assert_eq!(shell_or_exec(&c), (false, vec!["exec  \"$@\""]));
    let Instruction::Cmd(c) = one("CMD") else {
        panic!()
    };
    assert_eq!(shell_or_exec(&c), (true, vec![]));
    let Instruction::Shell(s) = one("SHELL [\"powershell\", \"-Command\"]") else {
        panic!()
    };
    assert_eq!(texts(&s), ["powershell", "-Command"]);
}

#[test]
fn env_label_arg() {
    let kv = |i: &Instruction| -> Vec<(String, String)> {
        match i {
            Instruction::Env(v) | Instruction::Label(v) => v
                .iter()
                .map(|p| (p.key.text.clone(), p.value.text.clone()))
                .collect(),
            _ => panic!("{i:?}"),
        }
    };
    let cases: &[(&str, &[(&str, &str)])] = &[
        ("ENV A 1 2  3", &[("A", "1 2  3")]),
        (
            "ENV A=1 B=\"x y\" C=a\\ b",
            &[("A", "1"), ("B", "\"x y\""), ("C", "a\\ b")],
        ),
        ("LABEL a.b=\"c\" d=", &[("a.b", "\"c\""), ("d", "")]),
        ("LABEL maintainer \"x\"", &[("maintainer", "\"x\"")]),
    ];
    for (src, want) in cases {
        let got = kv(&one(src));
        let want: Vec<(String, String)> = want
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect();
        assert_eq!(got, want, "{src}");
    }
    let Instruction::Arg(decls) = one("ARG A B=2 C=\"x y\" D=") else {
        panic!()
    };
    let got: Vec<(&str, Option<&str>)> = decls
        .iter()
        .map(|d| {
            (
                d.name.text.as_str(),
                d.default.as_ref().map(|w| w.text.as_str()),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            ("A", None),
            ("B", Some("2")),
            ("C", Some("\"x y\"")),
            ("D", Some(""))
        ]
    );
    assert_eq!(decls[1].default.as_ref().unwrap().span.column, 9);
}

#[test]
fn copy_and_add() {
    let Instruction::Copy(c) = one(
        "COPY --from=build --chown=1:2 --chmod=755 --link --parents --exclude=*.md --exclude=x a b /dst/",
    ) else {
        panic!()
    };
    assert_eq!(c.from.unwrap().text, "build");
    assert_eq!(c.chown.unwrap().text, "1:2");
    assert_eq!(c.chmod.unwrap().text, "755");
    assert!(c.link && c.parents);
    assert_eq!(texts(&c.exclude), ["*.md", "x"]);
    assert_eq!(texts(&c.sources), ["a", "b"]);
    assert_eq!(c.dest.text, "/dst/");

    let Instruction::Add(a) = one(
        "ADD --checksum=sha256:abc --keep-git-dir=true --unpack=false --link=false https://x/y.tgz /z",
    ) else {
        panic!()
    };
    assert_eq!(a.checksum.unwrap().text, "sha256:abc");
    assert_eq!(
        (a.keep_git_dir, a.unpack, a.link),
        (Some(true), Some(false), false)
    );

    let Instruction::Copy(c) = one("COPY [\"a b\", \"/c d\"]") else {
        panic!()
    };
    assert!(c.json);
    assert_eq!(
        (texts(&c.sources), c.dest.text.as_str()),
        (vec!["a b"], "/c d")
    );

    let Instruction::Copy(c) = one("COPY <<one <<two x /dest\n1\none\n2\ntwo") else {
        panic!()
    };
    let docs: Vec<(&str, &str)> = c
        .heredocs
        .iter()
        .map(|h| (h.name.as_str(), h.content.as_str()))
        .collect();
    assert_eq!(docs, [("one", "1\n"), ("two", "2\n")]);
    assert_eq!(
        (texts(&c.sources), c.dest.text.as_str()),
        (vec!["x"], "/dest")
    );

    let Instruction::Copy(c) = one("COPY << EOF /d\nbody\nEOF") else {
        panic!()
    };
    assert!(c.sources.is_empty());
    assert_eq!(c.heredocs[0].name, "EOF");
}

#[test]
fn simple_ones() {
    assert!(matches!(one("USER app:app"), Instruction::User(w) if w.text == "app:app"));
    assert!(matches!(one("WORKDIR /a b"), Instruction::Workdir(w) if w.text == "/a b"));
    assert!(matches!(one("MAINTAINER me"), Instruction::Maintainer(w) if w.text == "me"));
    assert!(matches!(one("STOPSIGNAL SIGTERM"), Instruction::StopSignal(w) if w.text == "SIGTERM"));
    let Instruction::Expose(p) = one("EXPOSE 80/tcp 443 ${PORT}") else {
        panic!()
    };
    assert_eq!(texts(&p), ["80/tcp", "443", "${PORT}"]);
    let Instruction::Volume(v) = one("VOLUME [\"/a\", \"/b\"]") else {
        panic!()
    };
    assert_eq!(texts(&v), ["/a", "/b"]);
    let Instruction::Volume(v) = one("VOLUME /a /b") else {
        panic!()
    };
    assert_eq!(texts(&v), ["/a", "/b"]);
}

#[test]
fn onbuild_and_healthcheck() {
    let Instruction::Onbuild(inner) = one("ONBUILD COPY --from=x a b") else {
        panic!()
    };
    assert!(matches!(&inner.node, Instruction::Copy(c) if c.from.as_ref().unwrap().text == "x"));

    let Instruction::Healthcheck(h) = one(
        "HEALTHCHECK --interval=30s --timeout=1m30s --start-period=5s --start-interval=1s --retries=3 CMD curl -f http://x/",
    ) else {
        panic!()
    };
    let Healthcheck::Cmd { options, command } = h else {
        panic!()
    };
    assert_eq!(options.interval, Some(30_000_000_000));
    assert_eq!(options.timeout, Some(90_000_000_000));
    assert_eq!(options.start_period, Some(5_000_000_000));
    assert_eq!(options.start_interval, Some(1_000_000_000));
    assert_eq!(options.retries, Some(3));
    assert_eq!(shell_or_exec(&command), (false, vec!["curl -f http://x/"]));
    let Instruction::Healthcheck(h) = one("HEALTHCHECK CMD [\"a\", \"b\"]") else {
        panic!()
    };
    assert!(
        matches!(h, Healthcheck::Cmd { command: ShellOrExec::Exec(ref v), .. } if v.len() == 2)
    );
    assert!(matches!(
        one("healthcheck none"),
        Instruction::Healthcheck(Healthcheck::None)
    ));
}

/// One error per class: (source, line, column, message).
#[test]
fn located_errors() {
    let cases: &[(&str, u32, u32, &str)] = &[
        ("FROM a\nFOO bar", 2, 1, "unknown instruction: FOO"),
        ("FROM a\nCOPY --bogus a b", 2, 6, "unknown flag: bogus"),
        ("FROM a\nADD --from=x a b", 2, 5, "flag --from is not valid for ADD (only for COPY)"),
        ("FROM a\nUSER --chown=1 me", 2, 6, "flag --chown is not valid for USER (only for COPY, ADD)"),
        ("FROM a\nRUN --network=foo x", 2, 15, "network mode \"foo\" not supported (expected one of: default, none, host)"),
        ("FROM a\nRUN --security=x y", 2, 16, "security mode \"x\" not supported (expected one of: sandbox, insecure)"),
        ("FROM a\nCOPY --link=maybe a b", 2, 13, "expecting boolean value for flag link, not: maybe"),
        ("FROM a\nCOPY --from a b", 2, 6, "missing a value on flag: from"),
        ("FROM a\nCOPY a", 2, 6, "COPY requires at least two arguments, but only one was provided. Destination could not be determined."),
        ("FROM a\nCOPY <<EOF <<X\nx\nEOF\ny\nX", 2, 12, "COPY destination can not be a heredoc"),
        ("FROM a b c d", 1, 12, "FROM requires either one or three arguments"),
        ("FROM a b", 1, 1, "FROM requires either one or three arguments"),
        ("FROM a AS", 1, 1, "AS needs a stage name: FROM <image> AS <name>"),
        ("FROM a IS b", 1, 8, "second argument should be AS"),
        ("FROM a AS 1x", 1, 11, "invalid name for build stage: \"1x\", name can't start with a number or contain symbols"),
        ("FROM a\nRUN", 2, 1, "RUN requires at least one argument"),
        ("FROM a\nSHELL /bin/sh -c", 2, 7, "SHELL requires the arguments to be in JSON form"),
        ("FROM a\nUSER", 2, 1, "USER requires exactly one argument"),
        ("FROM a\nEXPOSE", 2, 1, "EXPOSE requires at least one argument"),
        ("FROM a\nENV", 2, 1, "ENV requires at least one argument"),
        ("FROM a\nENV =x", 2, 5, "ENV names can not be blank"),
        ("FROM a\nARG =x", 2, 5, "ARG names can not be blank"),
        ("FROM a\nVOLUME [\"\"]", 2, 9, "VOLUME specified can not be an empty string"),
        ("FROM a\nONBUILD", 2, 1, "ONBUILD requires at least one argument"),
        ("FROM a\nONBUILD ONBUILD RUN x", 2, 9, "Chaining ONBUILD via `ONBUILD ONBUILD` isn't allowed"),
        ("FROM a\nONBUILD FROM b", 2, 9, "FROM isn't allowed as an ONBUILD trigger"),
        ("FROM a\nHEALTHCHECK --interval=5 CMD x", 2, 24, "invalid duration for --interval: \"5\""),
        ("FROM a\nHEALTHCHECK --timeout=-1s CMD x", 2, 23, "Interval \"timeout\" cannot be negative"),
        ("FROM a\nHEALTHCHECK --interval=10us CMD x", 2, 24, "Interval \"interval\" cannot be less than 1ms"),
        ("FROM a\nHEALTHCHECK --retries=-1 CMD x", 2, 23, "--retries cannot be negative (-1)"),
        ("FROM a\nHEALTHCHECK --retries=x CMD x", 2, 23, "invalid value for --retries: \"x\""),
        ("FROM a\nHEALTHCHECK CMD", 2, 13, "Missing command after HEALTHCHECK CMD"),
        ("FROM a\nHEALTHCHECK NONE x", 2, 18, "HEALTHCHECK NONE takes no arguments"),
        ("FROM a\nHEALTHCHECK CONNECT x", 2, 13, "Unknown type \"CONNECT\" in HEALTHCHECK (try CMD)"),
    ];
    for (src, line, col, msg) in cases {
        let df = parse(src).unwrap_or_else(|e| panic!("{src:?}: {e}"));
        let (_, diags) = lower(&df);
        let errors: Vec<&Diagnostic> = diags
            .iter()
            .filter(|d| d.severity == Severity::Error)
            .collect();
        assert_eq!(errors.len(), 1, "{src:?}: {diags:?}");
        let d = errors[0];
        assert_eq!(
            (d.span.line, d.span.column, d.message.as_str()),
            (*line, *col, *msg),
            "{src:?}"
        );
    }
}

#[test]
fn warnings_pass_through_and_errors_drop_the_instruction() {
    let df = parse("FROM a\nRUN x \\\n\n  y\nFOO\nUSER me").unwrap();
    let (insts, diags) = lower(&df);
    let names: Vec<&str> = insts.iter().map(|i| i.node.name()).collect();
    assert_eq!(names, ["FROM", "RUN", "USER"]);
    let sev: Vec<Severity> = diags.iter().map(|d| d.severity).collect();
    assert_eq!(sev, [Severity::Warning, Severity::Error]);
}
