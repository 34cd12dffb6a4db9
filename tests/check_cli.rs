//! `strata check`: the real-world corpus passes with no error, and each problem class prints as
//! `FILE:LINE:COL: severity: message`, the source line and a caret, or as JSON; exit 1 on errors.

mod common;
mod shared_dir;

use std::fs;
use std::path::{Path, PathBuf};

use common::Strata;
use strata::plan::check::{check, has_errors, CheckOptions};
use strata::syntax::render;

fn corpus_files() -> Vec<PathBuf> {
    let mut out: Vec<PathBuf> = walkdir::WalkDir::new(shared_dir::conformance("real-world"))
        .into_iter()
        .map(|e| e.expect("walk corpus").into_path())
        .filter(|p| p.to_string_lossy().ends_with(".Dockerfile"))
        .collect();
    out.sort();
    out
}

#[test]
fn real_world_corpus_passes_check_with_no_error() {
    let files = corpus_files();
    assert!(
        files.len() >= 100,
        "corpus not found under {}",
        shared_dir::conformance("real-world").display()
    );
    let mut failures = Vec::new();
    for f in &files {
        let src = fs::read_to_string(f).expect("read corpus file");
        let diags = check(&src, &CheckOptions::default());
        if has_errors(&diags) {
            let name = f.display().to_string();
            let text: String = diags.iter().map(|d| render(&name, &src, d)).collect();
            failures.push(text);
        }
    }
    println!(
        "real-world check: {}/{}",
        files.len() - failures.len(),
        files.len()
    );
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}

#[test]
fn corpus_through_the_binary() {
    // A few files of each kind (Windows backtick escape, heredocs, multi-stage with --mount).
    let s = Strata::new();
    for name in [
        "moby+buildkit/Dockerfile.Dockerfile",
        "docker+buildx/Dockerfile.Dockerfile",
        "microsoft+dotnet-framework-docker/src__runtime__4.8.1__windowsservercore-ltsc2025__Dockerfile.Dockerfile",
    ] {
        let path = shared_dir::conformance("real-world").join(name);
        if !path.exists() {
            // The list above must name real files: fail loudly rather than skip.
            panic!("{} is missing from the corpus", path.display());
        }
        s.ok(&["check", "-f", path.to_str().unwrap()]);
    }
}

fn write_dockerfile(dir: &Path, text: &str) {
    fs::create_dir_all(dir).unwrap();
    fs::write(dir.join("Dockerfile"), text).unwrap();
}

#[test]
fn errors_print_located_with_a_caret_and_exit_1() {
    let s = Strata::new();
    let ctx = s.scratch("ctx");
    write_dockerfile(
        &ctx,
        "FROM busybox AS base\nRUNN echo hi\nCOPY --from=later /a /b\nFROM busybox AS later\n",
    );
    let mut cmd = s.command(&["check"]);
    cmd.current_dir(&ctx);
    let out = s.run_cmd(cmd);
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    assert_eq!(
        stdout,
        "Dockerfile:2:1: error: unknown instruction: RUNN\n\
         RUNN echo hi\n\
         ^\n\
         Dockerfile:3:13: error: --from: stage \"later\" is defined later in the Dockerfile (stage 1); a stage can only use earlier stages\n\
         COPY --from=later /a /b\n            ^\n"
    );
}

#[test]
fn dir_and_file_arguments_name_the_file_as_given() {
    let s = Strata::new();
    let ctx = s.scratch("proj");
    write_dockerfile(&ctx, "FROM a\nCOPY --frm=x a b\n");
    let ctx_s = ctx.to_str().unwrap();
    let out = s.run_cmd(s.command(&["check", ctx_s]));
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8(out.stdout).unwrap();
    let want = format!("{ctx_s}/Dockerfile:2:6: error: unknown flag: frm");
    assert!(stdout.starts_with(&want), "{stdout}");

    let other = ctx.join("build.Dockerfile");
    fs::write(&other, "FROM a\nRUN ok\n").unwrap();
    assert_eq!(s.ok(&["check", "-f", other.to_str().unwrap(), ctx_s]), "");

    let missing = ctx.join("nope");
    let err = s.fails(&["check", "-f", missing.to_str().unwrap()]);
    assert!(err.contains(&missing.display().to_string()), "{err}");
}

#[test]
fn json_format_and_warnings_do_not_fail() {
    let s = Strata::new();
    let ctx = s.scratch("ctx");
    write_dockerfile(&ctx, "FROM alpine:$VERSION\nRUN true\n");
    let out = s.ok(&["check", "--format", "json", ctx.to_str().unwrap()]);
    let v: serde_json::Value = serde_json::from_str(&out).expect("json output");
    let file = format!("{}/Dockerfile", ctx.display());
    assert_eq!(
        v,
        serde_json::json!([{
            "file": file,
            "line": 1,
            "column": 6,
            "severity": "warning",
            "message": "FROM argument 'VERSION' is not declared: declare it with ARG before the first FROM"
        }])
    );
}

#[test]
fn build_args_reach_the_expansion() {
    let s = Strata::new();
    let ctx = s.scratch("ctx");
    write_dockerfile(&ctx, "FROM a\nARG NAME\nWORKDIR /${NAME:?set NAME}\n");
    let err_out = s.run_cmd(s.command(&["check", ctx.to_str().unwrap()]));
    assert_eq!(err_out.status.code(), Some(1));
    let text = String::from_utf8(err_out.stdout).unwrap();
    assert!(
        text.contains(":3:10: error:") && text.contains("set NAME"),
        "{text}"
    );
    s.ok(&["check", "--build-arg", "NAME=app", ctx.to_str().unwrap()]);
}

#[test]
fn parse_errors_are_located() {
    let s = Strata::new();
    let ctx = s.scratch("ctx");
    // (Dockerfile, expected first line of output)
    let cases = [
        (
            "FROM a\nRUN <<EOF\necho\n",
            "Dockerfile:2:5: error: unterminated heredoc",
        ),
        (
            "# escape=x\nFROM a\n",
            "Dockerfile:1:10: error: invalid ESCAPE 'x'. Must be ` or \\",
        ),
        (
            "FROM a\nENV PATH\n",
            "Dockerfile:2:5: error: ENV must have two arguments",
        ),
        (
            "FROM a\nRUN echo \\\n",
            "Dockerfile:2:10: error: line continuation ('\\') at the end of the file",
        ),
    ];
    for (text, want) in cases {
        write_dockerfile(&ctx, text);
        let mut cmd = s.command(&["check"]);
        cmd.current_dir(&ctx);
        let out = s.run_cmd(cmd);
        assert_eq!(out.status.code(), Some(1), "{text:?}");
        let stdout = String::from_utf8(out.stdout).unwrap();
        assert!(
            stdout.lines().next().unwrap_or("").starts_with(want),
            "{text:?}: got {stdout:?}, want {want:?}"
        );
    }
}

#[test]
fn debug_expand_prints_process_word_and_words() {
    let s = Strata::new();
    // (args, expected stdout)
    let cases: &[(&[&str], &str)] = &[
        (
            &["--env", "PWD=/home", r#"he${PWD:-x}"  $X""#],
            "he/home  \n",
        ),
        (
            &["--env", "V=abc  def", "--words", "x${V}y"],
            "xabc\ndefy\n",
        ),
        (&["--env", "F=a.tar.gz", "${F%%.*}-${F#*.}"], "a-tar.gz\n"),
        (&["--escape", "`", "a`$b"], "a$b\n"),
        (&["'$HOME'"], "$HOME\n"),
    ];
    for (args, want) in cases {
        let mut full = vec!["debug", "expand"];
        full.extend_from_slice(args);
        assert_eq!(&s.ok(&full), want, "{args:?}");
    }
    let err = s.fails(&["debug", "expand", "a${"]);
    assert!(
        err.contains("column 2") && err.contains("missing '}'"),
        "{err}"
    );
    let err = s.fails(&["debug", "expand", "--env", "NOEQUALS", "x"]);
    assert!(err.contains("NOEQUALS"), "{err}");
}
