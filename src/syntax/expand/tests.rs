//! Table tests for word expansion: one line per case.

use super::*;

fn env() -> Vec<(&'static str, &'static str)> {
    vec![
        ("PWD", "/home"),
        ("EMPTY", ""),
        ("K", "한국어"),
        ("SP", "a  b"),
        ("PATH", "/usr/local/bin:/usr/bin:/bin"),
        ("FILE", "archive.tar.gz"),
    ]
}

fn word(input: &str) -> Result<String, ExpandError> {
    process_word(input, '\\', &env()).map(|e| e.value)
}

#[test]
fn operators() {
    let cases: &[(&str, &str)] = &[
        ("$PWD", "/home"),
        ("${PWD}", "/home"),
        ("${PWD}x", "/homex"),
        ("${UNSET}", ""),
        ("${UNSET:-w}", "w"),
        ("${EMPTY:-w}", "w"),
        ("${PWD:-w}", "/home"),
        ("${UNSET-w}", "w"),
        ("${EMPTY-w}", ""),
        ("${UNSET:+w}", ""),
        ("${EMPTY:+w}", ""),
        ("${PWD:+w}", "w"),
        ("${UNSET+w}", ""),
        ("${EMPTY+w}", "w"),
        ("${PWD:?m}", "/home"),
        ("${EMPTY?m}", ""),
        ("${FILE#*.}", "tar.gz"),
        ("${FILE##*.}", "gz"),
        ("${FILE%.*}", "archive.tar"),
        ("${FILE%%.*}", "archive"),
        ("${FILE#nomatch}", "archive.tar.gz"),
        ("${PATH/:/;}", "/usr/local/bin;/usr/bin:/bin"),
        ("${PATH//:/;}", "/usr/local/bin;/usr/bin;/bin"),
        ("${PATH//\\//|}", "|usr|local|bin:|usr|bin:|bin"),
        ("${FILE/?r/X}", "Xchive.tar.gz"),
        ("${UNSET/a/b}", ""),
        ("${UNSET:-${PWD}}", "/home"),
        ("${UNSET:-a b}", "a b"),
        ("$1", ""),
        ("$10x", "x"),
        ("$@x", "x"),
        ("${#:-n}", "n"),
        ("$.", "$."),
        ("$", "$"),
        ("a$", "a$"),
    ];
    for &(input, want) in cases {
        assert_eq!(word(input).as_deref(), Ok(want), "input {input:?}");
    }
}

#[test]
fn quoting_and_escapes() {
    let cases: &[(&str, &str)] = &[
        ("'$PWD'", "$PWD"),
        ("\"$PWD\"", "/home"),
        ("\"a'b\"", "a'b"),
        ("'a\"b'", "a\"b"),
        ("\\$PWD", "$PWD"),
        ("\\\\$PWD", "\\/home"),
        ("a\\ b", "a b"),
        ("a\\", "a"),
        ("\"a\\\"b\"", "a\"b"),
        ("\"a\\$b\"", "a$b"),
        ("\"a\\\\b\"", "a\\b"),
        ("\"a\\tb\"", "a\\tb"),
        ("'a\\tb'", "a\\tb"),
        ("a\\tb", "atb"),
        ("\"\"", ""),
        ("'' x", " x"),
        ("\"${SP}\"", "a  b"),
        ("${SP}", "a  b"),
    ];
    for &(input, want) in cases {
        assert_eq!(word(input).as_deref(), Ok(want), "input {input:?}");
    }
}

#[test]
fn backtick_escape() {
    // Same rules with ` in place of \; a backslash is then an ordinary character.
    let cases: &[(&str, &str)] = &[
        ("`$PWD", "$PWD"),
        ("``$PWD", "`/home"),
        ("C:\\dir\\$PWD", "C:\\dir\\/home"),
        ("\"a`\"b\"", "a\"b"),
        ("\"a`xb\"", "a`xb"),
        ("\"a\\xb\"", "a\\xb"),
        ("a` b", "a b"),
        ("a`", "a"),
    ];
    for &(input, want) in cases {
        let got = process_word(input, '`', &env()).map(|e| e.value);
        assert_eq!(got.as_deref(), Ok(want), "input {input:?}");
    }
}

#[test]
fn unicode() {
    let cases: &[(&str, &str)] = &[
        ("안녕$K", "안녕한국어"),
        ("${K#?}", "국어"),
        ("${K%?}", "한국"),
        ("${K/국/-}", "한-어"),
        ("'한'\"국\"어", "한국어"),
        ("é\\ñ", "éñ"),
    ];
    for &(input, want) in cases {
        assert_eq!(word(input).as_deref(), Ok(want), "input {input:?}");
    }
    // A Unicode letter continues a variable name.
    let e = process_word("$K국", '\\', &env()).unwrap();
    assert_eq!(e.value, "");
    assert!(e.unmatched.contains("K국"));
}

#[test]
fn errors() {
    use ExpandError as E;
    let cases: &[(&str, ExpandError)] = &[
        ("ab'cd", E::UnterminatedSingleQuote { offset: 2 }),
        ("안'녕", E::UnterminatedSingleQuote { offset: 1 }),
        ("x\"ab\\\"", E::UnterminatedDoubleQuote { offset: 1 }),
        ("ab${PWD", E::MissingBrace { offset: 2 }),
        ("${", E::MissingBrace { offset: 0 }),
        ("${a:-b", E::MissingBrace { offset: 0 }),
        ("x${}", E::BadSubstitution { offset: 1 }),
        ("${{a}", E::BadSubstitution { offset: 0 }),
        ("${:-a}", E::BadSubstitution { offset: 0 }),
        (
            "${a:=b}",
            E::UnsupportedModifier {
                offset: 0,
                modifier: ":=".into(),
            },
        ),
        (
            "${a=b}",
            E::UnsupportedModifier {
                offset: 0,
                modifier: "=".into(),
            },
        ),
        (
            "${a:#b}",
            E::UnsupportedModifier {
                offset: 0,
                modifier: ":#".into(),
            },
        ),
        (
            "-${UNSET:?need it}",
            E::Required {
                offset: 1,
                name: "UNSET".into(),
                message: "need it".into(),
            },
        ),
        (
            "${UNSET?}",
            E::Required {
                offset: 0,
                name: "UNSET".into(),
                message: "is not allowed to be unset".into(),
            },
        ),
        (
            "${EMPTY:?}",
            E::Required {
                offset: 0,
                name: "EMPTY".into(),
                message: "is not allowed to be empty".into(),
            },
        ),
        ("${PWD/a}", E::MissingSlash { offset: 0 }),
        (
            "${PWD#\\a}",
            E::InvalidPattern {
                offset: 0,
                pattern: "\\a".into(),
                reason: "invalid escape '\\a'".into(),
            },
        ),
    ];
    for (input, want) in cases {
        assert_eq!(word(input).as_ref(), Err(want), "input {input:?}");
    }
    assert_eq!(
        E::Required {
            offset: 0,
            name: "V".into(),
            message: "msg".into()
        }
        .to_string(),
        "V: msg"
    );
    assert_eq!(
        E::MissingBrace { offset: 0 }.to_string(),
        "missing '}' in ${…}"
    );
    assert_eq!(
        E::UnsupportedModifier {
            offset: 0,
            modifier: ":=".into()
        }
        .to_string(),
        "bad substitution: unsupported modifier ':=' in ${…}"
    );
}

#[test]
fn matched_and_unmatched() {
    let e = process_word("$PWD ${EMPTY} ${NOPE:-$PWD} $1", '\\', &env()).unwrap();
    let set = |v: &[&str]| v.iter().map(|s| s.to_string()).collect::<BTreeSet<_>>();
    assert_eq!(e.matched, set(&["EMPTY", "PWD"]));
    assert_eq!(e.unmatched, set(&["1", "NOPE"]));
    // Quoted and escaped references are not lookups.
    let e = process_word("'$A' \\$B", '\\', &env()).unwrap();
    assert!(e.matched.is_empty() && e.unmatched.is_empty());
}

#[test]
fn words() {
    let cases: &[(&str, &[&str])] = &[
        ("a b  c", &["a", "b", "c"]),
        ("  a  ", &["a"]),
        ("", &[]),
        ("\"\"", &[]),
        ("a\\ b", &["a b"]),
        ("x${SP}y", &["xa", "by"]),
        ("x\"${SP}\"y", &["xa  by"]),
        ("'a  b' c", &["a  b", "c"]),
        ("cat << EOF", &["cat", "<< EOF"]),
        ("cat <<-\tEOF x", &["cat", "<<-\tEOF", "x"]),
        ("a <<EOF", &["a", "<<EOF"]),
        ("a < b", &["a", "<", "b"]),
    ];
    for &(input, want) in cases {
        let got = process_words(input, '\\', &env()).unwrap();
        assert_eq!(got, want, "input {input:?}");
    }
    assert!(process_words("a 'b", '\\', &env()).is_err());
}

#[test]
fn heredoc_body() {
    let cases: &[(&str, &str)] = &[
        ("echo \"$PWD\" '$PWD'\n", "echo \"/home\" '/home'\n"),
        ("\\$PWD \\\\ \\n", "$PWD \\ n"),
        ("${UNSET:-\"d\"}", "\"d\""),
        ("no expansion here \"'", "no expansion here \"'"),
        ("$UNSET.", "."),
    ];
    for &(input, want) in cases {
        let got = expand_heredoc_body(input, &env()).map(|e| e.value);
        assert_eq!(got.as_deref(), Ok(want), "input {input:?}");
    }
    assert!(expand_heredoc_body("${PWD", &env()).is_err());
}

#[test]
fn display() {
    let cases: &[(&str, &str)] = &[
        ("echo \"$PWD\" $NOPE", "echo \"/home\" $NOPE"),
        (
            "echo '${NOPE:-x}' ${NOPE:-x}",
            "echo '${NOPE:-x}' ${NOPE:-x}",
        ),
        ("echo ${NOPE//a/b}", "echo ${NOPE//a/b}"),
        ("echo a\\ b", "echo a b"),
        ("broken ${", "broken ${"),
    ];
    for &(input, want) in cases {
        assert_eq!(
            expand_for_display(input, '\\', &env()),
            want,
            "input {input:?}"
        );
    }
}

#[test]
fn var_sources() {
    let mut h = HashMap::new();
    h.insert("A".to_string(), "1".to_string());
    let mut b = BTreeMap::new();
    b.insert("A".to_string(), "2".to_string());
    let pairs = [("A", "3"), ("A", "4")];
    assert_eq!(process_word("$A", '\\', &h).unwrap().value, "1");
    assert_eq!(process_word("$A", '\\', &b).unwrap().value, "2");
    assert_eq!(process_word("$A", '\\', &pairs[..]).unwrap().value, "4");
    assert_eq!(process_word("$a", '\\', &pairs[..]).unwrap().value, "");
    assert_eq!(process_word("x$A", '\\', &NoVars).unwrap().value, "x");
}

/// `n` nested `${a<op>…}` around `x`.
fn nested(open: &str, n: usize) -> String {
    format!("{}x{}", open.repeat(n), "}".repeat(n))
}

/// Runs `f` on a thread with Rust's default 2 MiB stack: a lexer that recursed once per level
/// without a bound would overflow it (and abort the test binary) long before 8,000 levels.
fn on_small_stack<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    std::thread::Builder::new()
        .stack_size(2 * 1024 * 1024)
        .spawn(f)
        .unwrap()
        .join()
        .unwrap()
}

#[test]
fn nesting_is_bounded() {
    // (opening of each level, levels, expected value or the char offset of the refused `${`)
    let cases: &[(&str, usize, Result<&str, usize>)] = &[
        ("${a:-", 1, Ok("x")),
        ("${a:-", MAX_NESTING, Ok("x")),
        ("${a:-", MAX_NESTING + 1, Err(5 * MAX_NESTING)),
        ("${a:-", 8_000, Err(5 * MAX_NESTING)),
        ("${a:-", 100_000, Err(5 * MAX_NESTING)),
        ("${PWD:+", 8_000, Err(7 * MAX_NESTING)),
        ("${a#", 8_000, Err(4 * MAX_NESTING)),
        ("${a/", 8_000, Err(4 * MAX_NESTING)),
        ("\"${a:-", 8_000, Err(6 * MAX_NESTING + 1)),
    ];
    for &(open, n, want) in cases {
        let input = nested(open, n);
        let got = on_small_stack(move || word(&input));
        match want {
            Ok(v) => assert_eq!(got.as_deref(), Ok(v), "{open} x{n}"),
            Err(at) => assert_eq!(
                got,
                Err(ExpandError::TooDeep {
                    offset: at,
                    limit: MAX_NESTING
                }),
                "{open} x{n}"
            ),
        }
    }
    // Every entry point is bounded, not only ProcessWord.
    let deep = nested("${a:-", 100_000);
    on_small_stack(move || {
        assert!(process_words(&deep, '\\', &NoVars).is_err());
        assert!(expand_heredoc_body(&deep, &NoVars).is_err());
        assert_eq!(expand_for_display(&deep, '\\', &NoVars), deep);
    });
    let e = word(&nested("${a:-", MAX_NESTING + 1)).unwrap_err();
    assert_eq!(
        e.to_string(),
        "bad substitution: ${…} nested more than 128 deep"
    );
}
