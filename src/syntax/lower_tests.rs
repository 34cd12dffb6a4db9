//! Table tests for `parse`: dumps, heredocs, JSON, word splitting, warnings, directives, limits
//! and located errors (facts from BuildKit's parser tests, restated in EXTRA-CASES.md).

use super::*;
use crate::syntax::dump::{dump, dump_node};
use crate::syntax::error::Severity;

fn dump_of(src: &str) -> String {
    match parse(src) {
        Ok(df) => dump(&df),
        Err(e) => panic!("{src:?}: {e} at {:?}", e.span()),
    }
}

#[test]
fn dumps() {
    let cases: &[(&str, &str)] = &[
        // keywords, case, whitespace
        ("FROM ubuntu:14.04", "(from \"ubuntu:14.04\")\n"),
        ("  from   a  b \t", "(from \"a\" \"b\")\n"),
        ("FROM \"a b\"", "(from \"\\\"a\" \"b\\\"\")\n"),
        ("FROM", "(from)\n"),
        // flags
        (
            "COPY --from=build --chmod=755 a /b",
            "(copy [\"--from=build\" \"--chmod=755\"] \"a\" \"/b\")\n",
        ),
        ("COPY -- foo /tmp/", "(copy \"foo\" \"/tmp/\")\n"),
        (
            "COPY --doit=true -- foo /tmp/",
            "(copy [\"--doit=true\"] \"foo\" \"/tmp/\")\n",
        ),
        ("RUN --label=\"a b\" x", "(run [\"--label=a b\"] \"x\")\n"),
        ("RUN --x=\"\" y", "(run [\"--x=\"] \"y\")\n"),
        ("RUN --x='a\\'b' y", "(run [\"--x=a'b\"] \"y\")\n"),
        ("RUN --x=a\\ b y", "(run [\"--x=a b\"] \"y\")\n"),
        ("CMD --doit", "(cmd [\"--doit\"])\n"),
        ("RUN -x --y", "(run \"-x --y\")\n"),
        ("RUN \"--y\" z", "(run \"\\\"--y\\\" z\")\n"),
        // exec / shell forms
        ("CMD [\"a\", \"b\"]", "(cmd \"a\" \"b\")\n"),
        ("CMD []", "(cmd)\n"),
        ("CMD [\"\"]", "(cmd \"\")\n"),
        ("CMD ['a']", "(cmd \"['a']\")\n"),
        ("CMD [\"a\"", "(cmd \"[\\\"a\\\"\")\n"),
        ("CMD [\"a\"] x", "(cmd \"[\\\"a\\\"] x\")\n"),
        ("CMD \t[ \"a\" ,\t\"b\" ]\t", "(cmd \"a\" \"b\")\n"),
        (
            "RUN echo  'a b'   \"c\" \\x",
            "(run \"echo  'a b'   \\\"c\\\" \\\\x\")\n",
        ),
        ("CMD", "(cmd)\n"),
        (
            "SHELL [\"/bin/sh\", \"-c\"]",
            "(shell \"/bin/sh\" \"-c\")\n",
        ),
        ("VOLUME [\"/a\", \"/b\"]", "(volume \"/a\" \"/b\")\n"),
        ("VOLUME /a /b", "(volume \"/a\" \"/b\")\n"),
        ("ADD [\"a b\", \"c\"]", "(add \"a b\" \"c\")\n"),
        // text forms
        ("USER  me:grp ", "(user \"me:grp\")\n"),
        ("WORKDIR /a b", "(workdir \"/a b\")\n"),
        ("MAINTAINER Jane <j@x>", "(maintainer \"Jane <j@x>\")\n"),
        ("STOPSIGNAL SIGKILL", "(stopsignal \"SIGKILL\")\n"),
        ("USER", "(user)\n"),
        // ENV / LABEL
        ("ENV SCUBA 1 DUBA 3", "(env \"SCUBA\" \"1 DUBA 3\" \"\")\n"),
        (
            "ENV name=value name2=value2",
            "(env \"name\" \"value\" \"=\" \"name2\" \"value2\" \"=\")\n",
        ),
        (
            "ENV name=\"value value1\"",
            "(env \"name\" \"\\\"value value1\\\"\" \"=\")\n",
        ),
        (
            "ENV name=value\\ value2",
            "(env \"name\" \"value\\\\ value2\" \"=\")\n",
        ),
        ("ENV", "(env)\n"),
        (
            "LABEL a=\"b c\" d='e f'",
            "(label \"a\" \"\\\"b c\\\"\" \"=\" \"d\" \"'e f'\" \"=\")\n",
        ),
        ("LABEL \"a=b\"=c", "(label \"\\\"a\" \"b\\\"=c\" \"=\")\n"),
        ("ENV a b\\\u{b}", "(env \"a\" \"b\\\\\" \"\")\n"),
        ("ENV x=a\\\u{b}", "(env \"x\" \"a\" \"=\")\n"),
        // ARG
        (
            "ARG abc=\"123 456\" def",
            "(arg \"abc=\\\"123 456\\\"\" \"def\")\n",
        ),
        ("ARG a", "(arg \"a\")\n"),
        // HEALTHCHECK
        ("HEALTHCHECK CMD", "(healthcheck \"CMD\")\n"),
        ("HEALTHCHECK   CMD   a b", "(healthcheck \"CMD\" \"a b\")\n"),
        (
            "HEALTHCHECK --interval=5s CMD [\"a\",\"b\"]",
            "(healthcheck [\"--interval=5s\"] \"CMD\" \"a\" \"b\")\n",
        ),
        ("HEALTHCHECK NONE", "(healthcheck \"NONE\")\n"),
        ("HEALTHCHECK", "(healthcheck)\n"),
        // ONBUILD
        ("ONBUILD RUN echo test", "(onbuild (run \"echo test\"))\n"),
        (
            "ONBUILD COPY --from=x a b",
            "(onbuild (copy [\"--from=x\"] \"a\" \"b\"))\n",
        ),
        ("ONBUILD", "(onbuild)\n"),
        (
            "onbuild run [\"echo\",\"test\"]",
            "(onbuild (run \"echo\" \"test\"))\n",
        ),
        // unknown keywords keep one empty argument
        ("FOO bar baz", "(foo \"\")\n"),
        ("FOO --x bar", "(foo [\"--x\"] \"\")\n"),
        // continuations
        ("RUN echo hello\\\n  world", "(run \"echo hello  world\")\n"),
        (
            "RUN echo good\\\nbye\\\nfrog",
            "(run \"echo goodbyefrog\")\n",
        ),
        (
            "RUN echo hello  \\  \nworld",
            "(run \"echo hello  world\")\n",
        ),
        (
            "ENV C trailing\\\\backslash\\\\\nRUN x",
            "(env \"C\" \"trailing\\\\\\\\backslash\\\\\\\\\" \"\")\n(run \"x\")\n",
        ),
        (
            "RUN echo hi \\\n \\\n world \\\n\\\n good\\\n\\\nnight",
            "(run \"echo hi   world  goodnight\")\n",
        ),
        ("RUN a \\\n# comment\n  b", "(run \"a   b\")\n"),
        ("RUN something \\", "(run \"something\")\n"),
        (
            "RUN a\\\\\\\nRUN b",
            "(run \"a\\\\\\\\\\\\\")\n(run \"b\")\n",
        ),
        (
            "RUN --mount=type=cache,\\\ntarget=/x y",
            "(run [\"--mount=type=cache,target=/x\"] \"y\")\n",
        ),
        (
            "RUN --mount=type=cache,\\\n  target=/x y",
            "(run [\"--mount=type=cache,\"] \"target=/x y\")\n",
        ),
        // CRLF, BOM, comments, blank lines
        ("\u{feff}FROM a\r\nRUN b\r\n", "(from \"a\")\n(run \"b\")\n"),
        (
            "FROM a\r\r\n# c\n\n   \nRUN b # not a comment",
            "(from \"a\")\n(run \"b # not a comment\")\n",
        ),
        ("RUN a\rb", "(run \"a\\rb\")\n"),
        // escape directive
        (
            "# escape=`\nFROM a\nRUN a `\n  b\nRUN c \\",
            "(from \"a\")\n(run \"a   b\")\n(run \"c \\\\\")\n",
        ),
        (
            "# escape=`\nCOPY --x=a`\"b a b",
            "(copy [\"--x=a\\\"b\"] \"a\" \"b\")\n",
        ),
        (
            "#escape=`\n\nENV a=b`\" c=d",
            "(env \"a\" \"b`\\\"\" \"=\" \"c\" \"d\" \"=\")\n",
        ),
        (
            "# comment\n# escape=`\nRUN a `\nRUN b",
            "(run \"a `\")\n(run \"b\")\n",
        ),
        ("  # ESCAPE = `  \nRUN a`\nb", "(run \"ab\")\n"),
        // heredocs are not dumped
        (
            "RUN <<EOF\necho hi\nEOF\nRUN x",
            "(run \"<<EOF\")\n(run \"x\")\n",
        ),
        (
            "COPY <<a <<b /dest\n1\na\n2\nb\n",
            "(copy \"<<a\" \"<<b\" \"/dest\")\n",
        ),
        // non-ASCII and Go quoting
        (
            "LABEL a=♥ b=\u{a0}",
            "(label \"a\" \"♥\" \"=\" \"b\" \"\" \"=\")\n",
        ),
        ("FROM a\u{a0}b", "(from \"a\\u00a0b\")\n"),
        ("ENV x \u{1}", "(env \"x\" \"\\x01\" \"\")\n"),
    ];
    for (src, want) in cases {
        assert_eq!(dump_of(src), *want, "input {src:?}");
    }
}

#[test]
fn word_splitting() {
    // EXTRA-CASES §D, through ARG (which keeps each word verbatim).
    let cases: &[(&str, &[&str])] = &[
        ("foo", &["foo"]),
        ("foo bar", &["foo", "bar"]),
        ("foo\\ bar", &["foo\\ bar"]),
        ("foo=bar", &["foo=bar"]),
        ("foo bar 'abc xyz'", &["foo", "bar", "'abc xyz'"]),
        ("foo bar \"abc xyz\"", &["foo", "bar", "\"abc xyz\""]),
        ("àöû", &["àöû"]),
        ("föo bàr \"âbc xÿz\"", &["föo", "bàr", "\"âbc xÿz\""]),
        ("a\"b c\"d e", &["a\"b c\"d", "e"]),
        ("'a\\' b", &["'a\\'", "b"]),
        ("\"a\\\" b\"", &["\"a\\\" b\""]),
        ("\"unterminated x", &["\"unterminated x"]),
        ("a\\", &["a"]),
    ];
    for (text, want) in cases {
        let df = parse(&format!("ARG {text}")).unwrap();
        let got: Vec<&str> = df.nodes[0].args.iter().map(|a| a.text.as_str()).collect();
        assert_eq!(&got, want, "{text:?}");
    }
}

const HEREDOC_FILE: &str = "ENV NAME=me\n\nRUN ls\n\nUSER <<INVALID\nINVALID\n\nRUN <<EMPTY\nEMPTY\n\n\
RUN 3<<EMPTY2\nEMPTY2\n\nRUN \"<<NOHEREDOC\"\n\nRUN <<INDENT\n\tfoo\n\tbar\nINDENT\n\n\
RUN <<-UNINDENT\n\tbaz\n\tquux\nUNINDENT\n\nRUN <<-UNINDENT2\n\tbaz\n\tquux\n\tUNINDENT2\n\n\
RUN <<-EXPAND\n\texpand $NAME\nEXPAND\n\nRUN <<-'NOEXPAND'\n\tdon't expand $NAME\nNOEXPAND\n\n\
RUN <<COPY\necho hello world\necho foo bar\nCOPY\n\n\
RUN <<COMMENT\n# internal comment\necho hello world\necho foo bar # trailing comment\nCOMMENT\n\n\
RUN --mount=type=cache,target=/foo <<MOUNT\necho hello\nMOUNT\n\n\
COPY <<FILE1 <<FILE2 /dest\ncontent 1\nFILE1\ncontent 2\nFILE2\n\n\
COPY <<EOF /quotes\n\"foo\"\n'bar'\nEOF\n\nCOPY <<X <<Y /dest\nY\nX\nX\nY\n\n\
RUN <<COMPLEX python3\nprint('hello world')\nCOMPLEX\n\nCOPY <<file.txt /dest\nhello world\nfile.txt\n\n\
RUN <<eo'f'\necho foo\neof\n\nRUN <<eo\\'f\necho foo\neo'f\n\nRUN <<'e'o\\'f\necho foo\neo'f\n\n\
RUN <<'one two'\necho bar\none two\n\nRUN <<$EOF\n$EOF\n\nRUN <<  EOF\nEOF\n\nRUN <<  EOF  > foo\nEOF\n\n\
RUN [\"<<EOF\"]\n\nONBUILD RUN <<X\nx\nX\n";

#[test]
fn heredoc_facts() {
    type Doc<'a> = (&'a str, u32, bool, bool, &'a str); // name, fd, chomp, expand, content
    let want: &[&[Doc]] = &[
        &[],
        &[],
        &[],
        &[],
        &[("EMPTY", 0, false, true, "")],
        &[("EMPTY2", 3, false, true, "")],
        &[],
        &[("INDENT", 0, false, true, "\tfoo\n\tbar\n")],
        &[("UNINDENT", 0, true, true, "\tbaz\n\tquux\n")],
        &[("UNINDENT2", 0, true, true, "\tbaz\n\tquux\n")],
        &[("EXPAND", 0, true, true, "\texpand $NAME\n")],
        &[("NOEXPAND", 0, true, false, "\tdon't expand $NAME\n")],
        &[("COPY", 0, false, true, "echo hello world\necho foo bar\n")],
        &[(
            "COMMENT",
            0,
            false,
            true,
            "# internal comment\necho hello world\necho foo bar # trailing comment\n",
        )],
        &[("MOUNT", 0, false, true, "echo hello\n")],
        &[
            ("FILE1", 0, false, true, "content 1\n"),
            ("FILE2", 0, false, true, "content 2\n"),
        ],
        &[("EOF", 0, false, true, "\"foo\"\n'bar'\n")],
        &[("X", 0, false, true, "Y\n"), ("Y", 0, false, true, "X\n")],
        &[("COMPLEX", 0, false, true, "print('hello world')\n")],
        &[("file.txt", 0, false, true, "hello world\n")],
        &[("eof", 0, false, false, "echo foo\n")],
        &[("eo'f", 0, false, true, "echo foo\n")],
        &[("eo'f", 0, false, false, "echo foo\n")],
        &[("one two", 0, false, false, "echo bar\n")],
        &[("$EOF", 0, false, true, "")],
        &[("EOF", 0, false, true, "")],
        &[("EOF", 0, false, true, "")],
        &[],
        &[],
    ];
    let df = parse(HEREDOC_FILE).unwrap();
    let keywords: Vec<String> = df.nodes.iter().map(dump_node).collect();
    assert_eq!(df.nodes.len(), want.len(), "{keywords:#?}");
    // USER <<INVALID has none; its terminator line is parsed as an unknown instruction.
    assert_eq!(keywords[3], "invalid \"\"");
    for (i, (node, want)) in df.nodes.iter().zip(want).enumerate() {
        let got: Vec<Doc> = node
            .heredocs
            .iter()
            .map(|h| (h.name.as_str(), h.fd, h.chomp, h.expand, h.content.as_str()))
            .collect();
        assert_eq!(&got, want, "node {i}: {}", keywords[i]);
    }
    let onbuild = df.nodes.last().unwrap();
    let nested: Vec<&str> = onbuild
        .nested
        .as_ref()
        .unwrap()
        .heredocs
        .iter()
        .map(|h| h.content.as_str())
        .collect();
    assert_eq!(nested, ["x\n"]);
}

#[test]
fn heredoc_openers_on_lines() {
    let cases: &[(&str, &[&str])] = &[
        ("RUN <<EOF", &["EOF"]),
        ("RUN <<-EOF", &["EOF"]),
        ("RUN <<- EOF", &["EOF"]),
        ("RUN <<'EOF'", &["EOF"]),
        ("RUN <<\"EOF\"", &["EOF"]),
        ("RUN <<EO\"F\"", &["EOF"]),
        ("RUN 4<<EOF", &["EOF"]),
        ("RUN << -EOF", &["-EOF"]),
        ("RUN <<EOF <<EOF2", &["EOF", "EOF2"]),
        ("RUN '<<EOF'", &[]),
        ("RUN \"<<EOF\"", &[]),
        ("RUN <<", &[]),
        ("RUN <<-", &[]),
        ("RUN <EOF", &[]),
        ("RUN <<<EOF", &[]),
        ("RUN x<<EOF", &[]),
        ("RUN <<'EOF", &[]),
        ("RUN [\"<<'EOF'\"]", &[]),
        ("WORKDIR <<EOF", &[]),
    ];
    for (line, names) in cases {
        // Give every possible heredoc a body and terminator.
        let mut src = format!("{line}\n");
        for n in names.iter() {
            src.push_str(&format!("body\n{n}\n"));
        }
        let df = parse(&src).unwrap_or_else(|e| panic!("{line}: {e}"));
        let got: Vec<&str> = df.nodes[0]
            .heredocs
            .iter()
            .map(|h| h.name.as_str())
            .collect();
        assert_eq!(&got, names, "{line}");
    }
}

#[test]
fn json_facts() {
    let ok: &[(&str, &[&str])] = &[
        ("[]", &[]),
        ("[\"\"]", &[""]),
        ("[\"a\"]", &["a"]),
        ("[\"a\",\"b\"]", &["a", "b"]),
        ("[ \"a\", \"b\" ]", &["a", "b"]),
        ("[\t\"a\",\t\"b\"\t]", &["a", "b"]),
        ("\t[\"a\"]\t", &["a"]),
        (
            "[\"abc 123\", \"♥\", \"☃\", \"\\\" \\\\ \\/ \\b \\f \\n \\r \\t \\u0000\"]",
            &["abc 123", "♥", "☃", "\" \\ / \u{8} \u{c} \n \r \t \u{0}"],
        ),
    ];
    for (json, want) in ok {
        let df = parse(&format!("CMD {json}")).unwrap();
        let node = &df.nodes[0];
        assert_eq!(node.form, ArgForm::Json, "{json}");
        let got: Vec<&str> = node.args.iter().map(|a| a.text.as_str()).collect();
        assert_eq!(&got, want, "{json}");
    }
    let bad = [
        "[\"a\",42,\"b\"]",
        "[\"a\",123.456,\"b\"]",
        "[\"a\",{},\"b\"]",
        "[\"a\",{\"c\": \"d\"},\"b\"]",
        "[\"a\",[\"c\"],\"b\"]",
        "[\"a\",true,\"b\"]",
        "[\"a\",false,\"b\"]",
        "[\"a\",null,\"b\"]",
    ];
    for kw in ["RUN", "CMD", "ENTRYPOINT", "SHELL", "ADD", "COPY", "VOLUME"] {
        for json in bad {
            let err = parse(&format!("{kw} {json}")).unwrap_err();
            assert!(
                matches!(err, SyntaxError::JsonNotStrings { .. }),
                "{kw} {json}: {err}"
            );
            assert_eq!(
                (err.span().line, err.span().column),
                (1, kw.len() as u32 + 2)
            );
        }
    }
}

#[test]
fn empty_continuation_warnings() {
    let src = "\nFROM alpine:3.6\n\nRUN valid \\\n    continuation\n\nRUN something \\\n\n    following \\\n\n    more\n\n\
RUN another \\\n\n    thing\n\nRUN non-indented \\\n# this is a comment\n   after-comment\n\n\
RUN indented \\\n    # this is an indented comment\n    comment\n";
    let df = parse(src).unwrap();
    let got: Vec<(u32, &str)> = df
        .warnings
        .iter()
        .map(|w| (w.span.line, w.message.as_str()))
        .collect();
    assert_eq!(
        got,
        [
            (
                8,
                "Empty continuation line found in: RUN something     following     more"
            ),
            (
                14,
                "Empty continuation line found in: RUN another     thing"
            ),
        ]
    );
    assert!(df.warnings.iter().all(|w| w.severity == Severity::Warning));
    assert_eq!(df.nodes.len(), 6);
}

#[test]
fn directives() {
    type Case<'a> = (&'a str, &'a [(&'a str, &'a str)], char);
    let cases: &[Case] = &[
        (
            "# syntax=docker/dockerfile:1\nFROM a",
            &[("syntax", "docker/dockerfile:1")],
            '\\',
        ),
        ("#escape=`\nFROM a", &[("escape", "`")], '`'),
        ("# ESCAPE = \\ \nFROM a", &[("escape", "\\")], '\\'),
        (
            "# check=skip=all\n# syntax = x  \nFROM a",
            &[("check", "skip=all"), ("syntax", "x")],
            '\\',
        ),
        ("# foo=bar\n# escape=`\nFROM a", &[], '\\'),
        ("\n# escape=`\nFROM a", &[], '\\'),
        ("FROM a\n# escape=`\n", &[], '\\'),
        ("# escape=\nFROM a", &[], '\\'),
        ("\u{feff}# escape=`\nFROM a", &[("escape", "`")], '`'),
    ];
    for (src, want, esc) in cases {
        let df = parse(src).unwrap();
        let got: Vec<(&str, &str)> = df
            .directives
            .iter()
            .map(|d| (d.name.as_str(), d.value.as_str()))
            .collect();
        assert_eq!(&got, want, "{src:?}");
        assert_eq!(df.escape, *esc, "{src:?}");
    }
}

#[test]
fn line_length_limit() {
    let ok = format!("LABEL a={}\n", "x".repeat(65535 - 8));
    assert!(parse(&ok).is_ok());
    let long = format!("FROM a\nLABEL a={}\n", "x".repeat(65536 - 8));
    let err = parse(&long).unwrap_err();
    assert_eq!(
        err.to_string(),
        "dockerfile line greater than max allowed size of 65535"
    );
    assert_eq!((err.span().line, err.span().column), (2, 1));
}

#[test]
fn line_numbers_and_spans() {
    let src = "FROM a\n\nRUN x \\\n  # c\n\n  y\nCOPY <<EOF /d\nhi\nEOF\n  ENV \u{e9}=1 b=\"2\"";
    let df = parse(src).unwrap();
    let lines: Vec<(u32, u32)> = df
        .nodes
        .iter()
        .map(|n| (n.start_line, n.end_line))
        .collect();
    assert_eq!(lines, [(1, 1), (3, 6), (7, 9), (10, 10)]);
    let env = &df.nodes[3];
    assert_eq!((env.keyword.span.line, env.keyword.span.column), (10, 3));
    let cols: Vec<(&str, u32)> = env
        .args
        .iter()
        .map(|a| (a.text.as_str(), a.span.column))
        .collect();
    assert_eq!(
        cols,
        [
            ("é", 7),
            ("1", 9),
            ("=", 8),
            ("b", 11),
            ("\"2\"", 13),
            ("=", 12)
        ]
    );
    // A word continued over lines spans from its first to its last character.
    let run = &df.nodes[1];
    assert_eq!(run.args[0].text, "x   y");
    assert_eq!((run.args[0].span.line, run.args[0].span.column), (3, 5));
    assert_eq!(
        &src[run.args[0].span.start..run.args[0].span.end],
        "x \\\n  # c\n\n  y"
    );
}

/// One test per error class: exact line, column and message.
#[test]
fn errors_are_located() {
    let cases: &[(&str, u32, u32, &str)] = &[
        ("", 1, 1, "file with no instructions"),
        ("# only\n\n  \n", 4, 1, "file with no instructions"),
        ("FROM a\nRUN <<EOF\nbody\n", 2, 5, "unterminated heredoc"),
        (
            "# escape=x\nFROM a",
            1,
            10,
            "invalid ESCAPE 'x'. Must be ` or \\",
        ),
        (
            "# escape=\\\n# escape=`\nFROM a",
            2,
            1,
            "only one escape parser directive can be used",
        ),
        (
            "# syntax=a\n#SYNTAX=b\nFROM a",
            2,
            1,
            "only one syntax parser directive can be used",
        ),
        ("FROM a\nENV PATH", 2, 5, "ENV must have two arguments"),
        ("LABEL x   ", 1, 7, "LABEL must have two arguments"),
        (
            "FROM a\nENV a=b c",
            2,
            9,
            "Syntax error - can't find = in \"c\". Must be of the form: name=value",
        ),
        (
            "FROM a\nCMD [\"a\", 1]",
            2,
            5,
            "when using JSON array syntax, arrays must be comprised of strings only",
        ),
    ];
    for (src, line, col, msg) in cases {
        let err = parse(src).expect_err(src);
        assert_eq!(
            (err.span().line, err.span().column, err.to_string().as_str()),
            (*line, *col, *msg),
            "{src:?}"
        );
    }
}

/// Runs `f` on a thread with Rust's default 2 MiB stack: a grammar or driver that recursed once
/// per level of the input would overflow it (and abort the test binary) before 8,000 levels.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

/// `text` cut into physical lines of at most 50,000 bytes joined by continuations, so that a
/// logical line longer than BuildKit's 64 KiB line limit can be written.
fn continued(text: &str) -> String {
    let chunks: Vec<String> = text
        .as_bytes()
        .chunks(50_000)
        .map(|c| String::from_utf8(c.to_vec()).unwrap())
        .collect();
    chunks.join("\\\n")
}

#[test]
fn deep_nesting_neither_recurses_nor_overflows() {
    use crate::syntax::expand::MAX_NESTING;
    // An ONBUILD chain: up to the limit it parses (lowering then refuses the chain, as BuildKit
    // does); past it, the first ONBUILD too many is the located error. The dump is unchanged.
    let chain = |n: usize| format!("FROM a\n{}RUN x\n", "ONBUILD ".repeat(n));
    let n = MAX_NESTING;
    let dumped = on_small_stack(move || dump_of(&chain(n)));
    let want = format!(
        "(from \"a\")\n{}(run \"x\"){}\n",
        "(onbuild ".repeat(n),
        ")".repeat(n)
    );
    assert_eq!(dumped, want);
    for levels in [MAX_NESTING + 1, 8_000, 100_000] {
        let src = continued(&chain(levels));
        let err = on_small_stack(move || parse(&src).unwrap_err());
        assert_eq!(
            err.to_string(),
            "ONBUILD nested more than 128 deep",
            "{levels}"
        );
        assert_eq!(
            (err.span().line, err.span().column),
            (2, 8 * MAX_NESTING as u32 + 1),
            "{levels}"
        );
    }

    // Nested JSON arrays: valid JSON that is not all strings is BuildKit's error up to Go's
    // depth limit (10,000); deeper, Go's decoder refuses it and the line is shell-form text.
    for (levels, json_error) in [(8_000, true), (100_000, false)] {
        for kw in ["RUN", "CMD", "COPY", "HEALTHCHECK CMD"] {
            let text = format!("{}{}", "[".repeat(levels), "]".repeat(levels));
            let src = format!("FROM a\n{kw} {}\n", continued(&text));
            let got = on_small_stack(move || parse(&src).map(|df| df.nodes[1].clone()));
            match got {
                Err(SyntaxError::JsonNotStrings { span }) if json_error => {
                    assert_eq!((span.line, span.column), (2, kw.len() as u32 + 2));
                }
                Ok(node) if !json_error => {
                    // HEALTHCHECK's first argument is its type.
                    let want = if kw.starts_with("HEALTH") { 2 } else { 1 };
                    assert_eq!(node.args.len(), want, "{kw} x{levels}");
                    assert_eq!(node.args[want - 1].text.len(), 2 * levels, "{kw} x{levels}");
                }
                other => panic!("{kw} x{levels}: {:?}", other.map(|n| n.keyword)),
            }
        }
    }

    // Objects (8,000 deep with the arrays), and a `${…}` tower in ENV: the parser takes words
    // whole, so neither recurses.
    let objects = format!("{}1{}", "[{\"k\":".repeat(4_000), "}]".repeat(4_000));
    let src = format!("FROM a\nCMD {}\n", continued(&objects));
    let got = on_small_stack(move || parse(&src).map(|_| ()));
    assert!(
        matches!(got, Err(SyntaxError::JsonNotStrings { .. })),
        "{got:?}"
    );
    let word = format!("{}x{}", "${a:-".repeat(100_000), "}".repeat(100_000));
    let src = format!("FROM a\nENV A={}\n", continued(&word));
    let df = on_small_stack(move || parse(&src).unwrap());
    assert_eq!(df.nodes[1].args[1].text.len(), word.len());
}

#[test]
fn not_json_falls_back_to_the_form() {
    // (line, dump): text that opens with `[` but is not a JSON array.
    let cases: &[(&str, &str)] = &[
        ("RUN [ -f x ] && y", "(run \"[ -f x ] && y\")\n"),
        ("CMD [1 2]", "(cmd \"[1 2]\")\n"),
        ("CMD [\"a\"] x", "(cmd \"[\\\"a\\\"] x\")\n"),
        ("COPY [a b] c", "(copy \"[a\" \"b]\" \"c\")\n"),
        ("VOLUME [\t/a", "(volume \"[\" \"/a\")\n"),
        ("HEALTHCHECK CMD [x", "(healthcheck \"CMD\" \"[x\")\n"),
        ("ONBUILD RUN [x y]", "(onbuild (run \"[x y]\"))\n"),
    ];
    for (line, want) in cases {
        assert_eq!(dump_of(line), *want, "{line}");
    }
}
