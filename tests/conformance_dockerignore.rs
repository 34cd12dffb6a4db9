//! Runs every moby/patternmatcher fact in `shared/conformance/patternmatcher/cases.jsonl`
//! against our matcher; fails below 100% of the cases not listed in
//! `testdata/dockerignore/exclusions.txt`.

mod shared_dir;

use strata::syntax::dockerignore::{MatchState, PatternMatcher};

const EXCLUSIONS: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/testdata/dockerignore/exclusions.txt"
);

#[derive(serde::Deserialize)]
struct Case {
    api: String,
    patterns: Vec<String>,
    path: String,
    expected: Option<bool>,
    error: Option<String>,
}

/// Walks the parent chain the way a directory-first walker would (the prefixes of Go's
/// `filepath.Dir(path)`), then asks about the path itself.
fn using_parent_results(pm: &PatternMatcher, path: &str) -> Result<bool, String> {
    let mut state = MatchState::default();
    let parent = match path.rfind('/') {
        Some(i) => strata::syntax::dockerignore::clean_path(&path[..=i]),
        None => ".".to_string(),
    };
    if parent != "." {
        let dirs: Vec<&str> = parent.split('/').collect();
        for i in 0..dirs.len() {
            let prefix = dirs[..=i].join("/");
            state = pm
                .matches_using_parent_result(&prefix, &state)
                .map_err(|e| e.to_string())?
                .1;
        }
    }
    pm.matches_using_parent_result(path, &state)
        .map(|(m, _)| m)
        .map_err(|e| e.to_string())
}

/// The outcome of one case: `Ok(bool)` or `Err(message)`; checks strategies against each other.
fn run(case: &Case) -> Result<Result<bool, String>, String> {
    let pm = match PatternMatcher::new(&case.patterns) {
        Ok(pm) => pm,
        Err(e) => return Ok(Err(e.to_string())),
    };
    match case.api.as_str() {
        "Matches" => Ok(pm.matches_legacy(&case.path).map_err(|e| e.to_string())),
        "MatchesOrParentMatches" => {
            let first = pm
                .matches_or_parent_matches(&case.path)
                .map_err(|e| e.to_string());
            // A deferred error must repeat identically; a result must be stable.
            let again = pm
                .matches_or_parent_matches(&case.path)
                .map_err(|e| e.to_string());
            if first != again {
                return Err(format!("second call differs: {first:?} then {again:?}"));
            }
            let walked = using_parent_results(&pm, &case.path);
            if walked != first {
                return Err(format!(
                    "parent-result walk says {walked:?}, direct says {first:?}"
                ));
            }
            Ok(first)
        }
        other => Err(format!("unknown api {other:?}")),
    }
}

#[test]
fn dockerignore_conformance() {
    let text = std::fs::read_to_string(shared_dir::conformance("patternmatcher/cases.jsonl"))
        .expect("read cases.jsonl");
    let exclusions_text = std::fs::read_to_string(EXCLUSIONS).expect("read exclusions.txt");
    // One excluded case per line: its 1-based line number in cases.jsonl, then the reason.
    let excluded: Vec<(usize, &str)> = exclusions_text
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| {
            let (n, why) = l.split_once(' ').unwrap_or((l, ""));
            (n.parse().expect("exclusion line starts with a number"), why)
        })
        .collect();
    println!("dockerignore exclusions: {}", excluded.len());
    for (n, why) in &excluded {
        println!("excluded: case line {n}: {why}");
    }

    let mut total = 0;
    let mut passed = 0;
    let mut failures = Vec::new();
    for (idx, line) in text.lines().enumerate() {
        if line.trim().is_empty() {
            continue;
        }
        let lineno = idx + 1;
        let case: Case = serde_json::from_str(line).expect("valid case line");
        if excluded.iter().any(|(n, _)| *n == lineno) {
            continue;
        }
        total += 1;
        let outcome = run(&case);
        let ok = match (&outcome, case.expected, &case.error) {
            (Ok(Ok(got)), Some(want), None) => *got == want,
            (Ok(Err(msg)), None, Some(want)) => match want.as_str() {
                "bad pattern" => msg.starts_with("syntax error in pattern"),
                _ => msg.starts_with("illegal exclusion pattern"),
            },
            _ => false,
        };
        if ok {
            passed += 1;
        } else {
            failures.push(format!("line {lineno}: {line}\n    got {outcome:?}"));
        }
    }
    println!("dockerignore: {passed}/{total}");
    for f in &failures {
        println!("FAIL {f}");
    }
    assert_eq!(text.lines().filter(|l| !l.trim().is_empty()).count(), 138);
    assert!(failures.is_empty(), "{} case(s) failed", failures.len());
}
