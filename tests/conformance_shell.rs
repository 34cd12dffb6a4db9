//! Runs BuildKit's shell-lexer vectors (envVarTest, wordsTest) and our extra cases against
//! `syntax::expand`; prints `shell: N/M` and fails below 100%.

mod shared_dir;

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use strata::syntax::expand::{process_word, process_words};

const EXCLUSIONS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/shell/exclusions.txt");

#[derive(Default)]
struct Tally {
    passed: usize,
    total: usize,
    skipped_windows: usize,
    excluded: Vec<String>,
    failures: Vec<String>,
}

impl Tally {
    fn check(&mut self, ok: bool, what: impl FnOnce() -> String) {
        self.total += 1;
        if ok {
            self.passed += 1;
        } else {
            self.failures.push(what());
        }
    }
}

/// Vectors not run, keyed `file:line`, with the reason.
struct Exclusions {
    reasons: BTreeMap<String, String>,
    used: BTreeSet<String>,
}

impl Exclusions {
    fn load() -> Self {
        let text = std::fs::read_to_string(EXCLUSIONS).expect("read exclusions.txt");
        let reasons = text
            .lines()
            .map(str::trim)
            .filter(|l| !l.is_empty() && !l.starts_with('#'))
            .map(|l| {
                let (key, reason) = l.split_once(char::is_whitespace).unwrap_or((l, ""));
                (key.to_owned(), reason.trim().to_owned())
            })
            .collect();
        Exclusions {
            reasons,
            used: BTreeSet::new(),
        }
    }

    fn skip(&mut self, t: &mut Tally, file: &str, line: usize) -> bool {
        let key = format!("{file}:{line}");
        match self.reasons.get(&key) {
            Some(reason) => {
                t.excluded.push(format!("{key} ({reason})"));
                self.used.insert(key);
                true
            }
            None => false,
        }
    }
}

fn read(name: &str) -> String {
    std::fs::read_to_string(shared_dir::conformance("buildkit-shell").join(name))
        .unwrap_or_else(|e| panic!("read {name}: {e}"))
}

fn env_var_test(excl: &mut Exclusions) -> Tally {
    let mut t = Tally::default();
    let env = [
        ("PWD", "/home"),
        ("SHELL", "bash"),
        ("KOREAN", "한국어"),
        ("NULL", ""),
    ];
    for (i, line) in read("envVarTest").lines().enumerate() {
        if line.starts_with('#') || line.trim().is_empty() {
            continue;
        }
        let fields: Vec<&str> = line.split('|').map(str::trim).collect();
        assert_eq!(fields.len(), 3, "envVarTest:{}: malformed {line:?}", i + 1);
        let (platform, input, expected) = (fields[0], fields[1], fields[2]);
        match platform {
            "A" | "U" => {}
            "W" => {
                t.skipped_windows += 1;
                continue;
            }
            other => panic!("envVarTest:{}: unknown platform {other:?}", i + 1),
        }
        if excl.skip(&mut t, "envVarTest", i + 1) {
            continue;
        }
        let got = process_word(input, '\\', &env[..]).map(|e| e.value);
        let ok = match (&got, expected) {
            (Err(_), "error") => true,
            (Ok(v), exp) => exp != "error" && v == exp,
            _ => false,
        };
        t.check(ok, || {
            format!(
                "envVarTest:{}: {input:?} → {got:?}, want {expected:?}",
                i + 1
            )
        });
    }
    t
}

fn words_test(excl: &mut Exclusions) -> Tally {
    let mut t = Tally::default();
    let mut env: Vec<(String, String)> = Vec::new();
    for (i, line) in read("wordsTest").lines().enumerate() {
        if line.starts_with('#') {
            continue;
        }
        if let Some(rest) = line.strip_prefix("ENV") {
            let (k, v) = rest.trim_start().split_once('=').expect("ENV name=value");
            env.push((k.to_owned(), v.to_owned()));
            continue;
        }
        let (input, expected) = line.split_once('|').expect("input | expected");
        let (input, expected) = (input.trim(), expected.trim_start());
        if excl.skip(&mut t, "wordsTest", i + 1) {
            continue;
        }
        let want: Vec<String> = expected.split(',').map(str::to_owned).collect();
        let got = match process_words(input, '\\', &env) {
            Ok(words) => words,
            Err(_) => vec!["error".to_owned()],
        };
        t.check(got == want, || {
            format!("wordsTest:{}: {input:?} → {got:?}, want {want:?}", i + 1)
        });
    }
    t
}

fn names(v: Option<&serde_json::Value>) -> Option<BTreeSet<String>> {
    v.map(|v| {
        v.as_array()
            .expect("array of names")
            .iter()
            .map(|s| s.as_str().expect("name").to_owned())
            .collect()
    })
}

fn extra_cases(excl: &mut Exclusions) -> Tally {
    let mut t = Tally::default();
    for (i, line) in read("extra-cases.jsonl").lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let case: serde_json::Value = serde_json::from_str(line).expect("JSON line");
        assert_eq!(case["op"], "ProcessWord", "extra-cases.jsonl:{}", i + 1);
        if excl.skip(&mut t, "extra-cases.jsonl", i + 1) {
            continue;
        }
        let input = case["input"].as_str().expect("input");
        let env: BTreeMap<String, String> = case["env"]
            .as_object()
            .expect("env object")
            .iter()
            .map(|(k, v)| (k.clone(), v.as_str().expect("string value").to_owned()))
            .collect();
        let want_error = case.get("error").and_then(|v| v.as_bool()).unwrap_or(false);
        let got = process_word(input, '\\', &env);
        let mut why = String::new();
        match (&got, want_error) {
            (Err(_), true) => {}
            (Err(e), false) => write!(why, "unexpected error: {e}").unwrap(),
            (Ok(e), true) => write!(why, "expected an error, got {:?}", e.value).unwrap(),
            (Ok(e), false) => {
                let want = case["expected"].as_str().expect("expected");
                if e.value != want {
                    write!(why, "got {:?}, want {want:?}", e.value).unwrap();
                }
                if let Some(m) = names(case.get("matched")) {
                    if e.matched != m {
                        write!(why, " matched {:?}, want {m:?}", e.matched).unwrap();
                    }
                }
                if let Some(u) = names(case.get("unmatched")) {
                    if e.unmatched != u {
                        write!(why, " unmatched {:?}, want {u:?}", e.unmatched).unwrap();
                    }
                }
            }
        }
        t.check(why.is_empty(), || {
            format!("extra-cases.jsonl:{}: {input:?}: {why}", i + 1)
        });
    }
    t
}

#[test]
fn shell_conformance() {
    let mut excl = Exclusions::load();
    let files = [
        ("envVarTest", env_var_test(&mut excl)),
        ("wordsTest", words_test(&mut excl)),
        ("extra-cases.jsonl", extra_cases(&mut excl)),
    ];
    let (mut passed, mut total) = (0, 0);
    let mut failures = Vec::new();
    for (name, t) in &files {
        println!(
            "{name}: {}/{} (Windows-only lines skipped: {}, excluded: {})",
            t.passed,
            t.total,
            t.skipped_windows,
            t.excluded.len()
        );
        for e in &t.excluded {
            println!("  excluded {e}");
        }
        passed += t.passed;
        total += t.total;
        failures.extend(t.failures.iter().cloned());
    }
    println!("shell: {passed}/{total}");
    let stale: Vec<_> = excl
        .reasons
        .keys()
        .filter(|k| !excl.used.contains(*k))
        .collect();
    assert!(stale.is_empty(), "exclusions matching no vector: {stale:?}");
    assert!(
        total > 250,
        "only {total} vectors found; are the files in place?"
    );
    assert!(
        failures.is_empty(),
        "{} failing vectors:\n{}",
        failures.len(),
        failures.join("\n")
    );
}
