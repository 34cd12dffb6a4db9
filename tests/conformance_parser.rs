//! BuildKit parser conformance: the upstream `testfiles` dumps, the must-fail cases, the line
//! numbers of `testfile-line`, and the real-world corpus (must parse and lower without errors).

mod shared_dir;

use std::fs;
use std::path::{Path, PathBuf};

use strata::syntax::{self, Severity};

/// `case<TAB>reason` lines; a listed case is reported, never silently skipped.
fn exclusions() -> Vec<(String, String)> {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/testdata/parser/exclusions.txt"
    );
    let text = fs::read_to_string(path).expect("testdata/parser/exclusions.txt");
    text.lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (case, reason) = l.split_once(char::is_whitespace).unwrap_or((l, ""));
            (case.to_string(), reason.trim().to_string())
        })
        .collect()
}

fn dirs(path: &Path) -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(path)
        .unwrap_or_else(|e| panic!("{}: {e}", path.display()))
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

fn read(path: &Path) -> String {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    String::from_utf8(bytes).unwrap_or_else(|e| panic!("{}: not UTF-8: {e}", path.display()))
}

#[test]
fn buildkit_testfiles_dump_exactly() {
    let excluded = exclusions();
    let root = shared_dir::conformance("").join("buildkit-parser/testfiles");
    let cases = dirs(&root);
    let mut passed = 0;
    let mut failures = Vec::new();
    for dir in &cases {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        if let Some((_, why)) = excluded.iter().find(|(c, _)| *c == name) {
            println!("parser: excluded {name}: {why}");
            continue;
        }
        let src = read(&dir.join("Dockerfile"));
        let want = read(&dir.join("result"));
        match syntax::parse(&src) {
            Ok(df) => {
                let got = syntax::dump(&df);
                if got == want {
                    passed += 1;
                } else {
                    failures.push(format!(
                        "{name}: dump differs\n--- want\n{want}--- got\n{got}"
                    ));
                }
            }
            Err(e) => failures.push(format!("{name}: parse error {e} at {:?}", e.span())),
        }
    }
    println!("parser: {passed}/{}", cases.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(passed, cases.len(), "exclusions count as failures");
}

#[test]
fn buildkit_negative_cases_fail_with_location() {
    let root = shared_dir::conformance("").join("buildkit-parser/testfiles-negative");
    let cases = dirs(&root);
    let mut passed = 0;
    for dir in &cases {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let src = read(&dir.join("Dockerfile"));
        match syntax::parse(&src) {
            Ok(df) => panic!("{name}: parsed, dump:\n{}", syntax::dump(&df)),
            Err(e) => {
                let span = e.span();
                assert!(span.line >= 1 && span.column >= 1, "{name}: {span:?}");
                println!("negative {name}: {}:{}: {e}", span.line, span.column);
                passed += 1;
            }
        }
    }
    println!("parser-negative: {passed}/{}", cases.len());
    assert_eq!(passed, 4);
}

#[test]
fn buildkit_line_numbers() {
    let src = read(&shared_dir::conformance("").join("buildkit-parser/testfile-line/Dockerfile"));
    let df = syntax::parse(&src).expect("parses");
    let lines: Vec<(u32, u32)> = df
        .nodes
        .iter()
        .map(|n| (n.start_line, n.end_line))
        .collect();
    assert_eq!(lines, vec![(5, 5), (11, 12), (17, 31)]);
    assert_eq!(df.escape, '\\');
    assert_eq!(df.directive("escape").map(|d| d.value.as_str()), Some("\\"));
}

fn real_world_files() -> Vec<PathBuf> {
    let root = shared_dir::conformance("").join("real-world");
    let mut files = Vec::new();
    for dir in dirs(&root) {
        for e in fs::read_dir(&dir).unwrap() {
            let p = e.unwrap().path();
            if p.extension().is_some_and(|x| x == "Dockerfile") {
                files.push(p);
            }
        }
    }
    files.sort();
    files
}

#[test]
fn real_world_corpus_parses_and_lowers() {
    let files = real_world_files();
    let mut passed = 0;
    let mut failures = Vec::new();
    for path in &files {
        let src = read(path);
        match syntax::parse(&src) {
            Ok(df) => {
                let (_, diags) = syntax::lower(&df);
                let errors: Vec<String> = diags
                    .iter()
                    .filter(|d| d.severity == Severity::Error)
                    .map(|d| syntax::render(&path.display().to_string(), &src, d))
                    .collect();
                if errors.is_empty() {
                    passed += 1;
                } else {
                    failures.push(errors.join(""));
                }
            }
            Err(e) => failures.push(syntax::render(
                &path.display().to_string(),
                &src,
                &e.to_diagnostic(),
            )),
        }
    }
    println!("real-world: {passed}/{}", files.len());
    assert!(failures.is_empty(), "{}", failures.join("\n"));
    assert_eq!(files.len(), 116);
}

#[test]
fn debug_parse_cli_prints_dump_and_located_errors() {
    let bin = env!("CARGO_BIN_EXE_strata");
    let case = shared_dir::conformance("").join("buildkit-parser/testfiles/health");
    let out = std::process::Command::new(bin)
        .args(["--root", "/nonexistent-strata-root", "debug", "parse", "-f"])
        .arg(case.join("Dockerfile"))
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(
        String::from_utf8_lossy(&out.stdout),
        read(&case.join("result"))
    );

    let dir = tempfile::tempdir().unwrap();
    let bad = dir.path().join("Dockerfile");
    fs::write(&bad, "FROM a\nENV PATH\n").unwrap();
    let out = std::process::Command::new(bin)
        .args(["--root", "/nonexistent-strata-root", "debug", "parse", "-f"])
        .arg(&bad)
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(1));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(
        stderr.contains(":2:5: error: ENV must have two arguments\nENV PATH\n    ^\n"),
        "{stderr}"
    );
}
