//! Golden `--dump-plan` output: each `testdata/plan/<case>/` holds a Dockerfile, an optional
//! `args.txt` (`--target NAME`, `--build-arg K=V`, `--platform P`, one per line) and the
//! expected `plan.json`. `UPDATE_GOLDEN=1 cargo test --test plan_golden` rewrites them.

use std::fs;
use std::path::{Path, PathBuf};

use strata::plan::graph::dump::dump_plan;
use strata::plan::graph::{plan, NoImages, PlanOptions};
use strata::plan::platform::Platform;
use strata::plan::scope::BuildArgs;

const CASES: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/testdata/plan");

fn cases() -> Vec<PathBuf> {
    let mut v: Vec<PathBuf> = fs::read_dir(CASES)
        .expect("testdata/plan")
        .map(|e| e.unwrap().path())
        .filter(|p| p.is_dir())
        .collect();
    v.sort();
    v
}

fn options(dir: &Path) -> PlanOptions {
    let mut target = None;
    let mut platform = Platform::parse("linux/amd64").unwrap();
    let mut args = Vec::new();
    if let Ok(text) = fs::read_to_string(dir.join("args.txt")) {
        for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
            let (flag, value) = line.split_once(' ').unwrap_or((line, ""));
            match flag {
                "--target" => target = Some(value.to_string()),
                "--build-arg" => args.push(value.to_string()),
                "--platform" => platform = Platform::parse(value).unwrap(),
                other => panic!("{}: unknown line {other:?}", dir.display()),
            }
        }
    }
    PlanOptions {
        build_args: BuildArgs::from_flags(&args).unwrap().resolve_with(|_| None),
        target,
        target_platform: platform.clone(),
        build_platform: Platform::parse("linux/amd64").unwrap(),
        // The goldens plan every RUN flag; entitlements are tested with the build command.
        entitlements: vec!["network.host".into(), "security.insecure".into()],
        prefix_platform: false,
    }
}

#[test]
fn plans_match_golden_files() {
    let update = std::env::var_os("UPDATE_GOLDEN").is_some();
    let cases = cases();
    assert!(cases.len() >= 6, "expected at least 6 cases in {CASES}");
    let mut failures = Vec::new();
    for dir in &cases {
        let name = dir.file_name().unwrap().to_string_lossy().to_string();
        let src = fs::read_to_string(dir.join("Dockerfile")).expect("Dockerfile");
        let graph = plan(&src, &options(dir), &NoImages)
            .unwrap_or_else(|e| panic!("{name}: planning failed: {e}"));
        let got = dump_plan(&graph);
        let golden = dir.join("plan.json");
        if update {
            fs::write(&golden, &got).unwrap();
            continue;
        }
        match fs::read_to_string(&golden) {
            Ok(want) if want == got => {}
            Ok(want) => failures.push(format!(
                "{name}: plan.json differs (UPDATE_GOLDEN=1 to accept)\n--- want\n{want}\n--- got\n{got}"
            )),
            Err(e) => failures.push(format!("{name}: {}: {e}", golden.display())),
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n\n"));
}

#[test]
fn dumps_are_deterministic_and_secret_free() {
    for dir in cases() {
        let src = fs::read_to_string(dir.join("Dockerfile")).unwrap();
        let a = dump_plan(&plan(&src, &options(&dir), &NoImages).unwrap());
        let b = dump_plan(&plan(&src, &options(&dir), &NoImages).unwrap());
        assert_eq!(a, b, "{}", dir.display());
        assert!(
            !a.contains("secret@proxy"),
            "{}: proxy leaked",
            dir.display()
        );
        let v: serde_json::Value = serde_json::from_str(&a).unwrap();
        assert_eq!(v["version"], 1);
    }
}
