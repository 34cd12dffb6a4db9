//! `strata build --explain`: each rebuilt step names why it missed the cache — the changed
//! file, the changed build arg, "parent changed" for the steps below, `--no-cache` — both on
//! stderr and in the `--metadata-file`.

mod build_support;
mod common;

use std::fs;

use build_support::Bench;
use serde_json::Value;

const DOCKERFILE: &str = r#"FROM busybox
ARG VERSION=1
COPY src/ /src/
RUN cat /src/* > /all.txt
RUN echo "v$VERSION" > /version
CMD ["cat", "/version"]
"#;

fn bench() -> Bench {
    let b = Bench::new();
    b.files(&[("src/a.txt", "a\n"), ("src/b.txt", "b\n")])
        .dockerfile(DOCKERFILE);
    b
}

/// `(label, reason lines)` of each explained step in the metadata.
fn explained(meta: &Value) -> Vec<(String, Vec<String>)> {
    meta["strata.explain"]
        .as_array()
        .expect("strata.explain in the metadata")
        .iter()
        .map(|e| {
            let reasons = e["reasons"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| {
                    let kind = r["reason"].as_str().unwrap().to_string();
                    match kind.as_str() {
                        "file" => format!(
                            "file {} {}",
                            r["path"].as_str().unwrap(),
                            r["change"].as_str().unwrap()
                        ),
                        "build_arg" => format!(
                            "build_arg {} {}->{}",
                            r["name"].as_str().unwrap(),
                            r["before"],
                            r["after"]
                        ),
                        "parent_changed" => {
                            format!("parent_changed {}", r["parent"].as_str().unwrap())
                        }
                        other => other.to_string(),
                    }
                })
                .collect();
            (e["label"].as_str().unwrap().to_string(), reasons)
        })
        .collect()
}

#[test]
fn a_changed_file_names_the_file_and_the_steps_below_say_parent_changed() {
    let b = bench();
    let (first, log) = b.build_logged("ex", &["--explain"]);
    // A first build has nothing to compare with.
    assert!(explained(&first)
        .iter()
        .all(|(_, r)| r == &vec!["first_build".to_string()]));
    assert!(
        log.contains("no earlier build of this step is recorded"),
        "{log}"
    );

    let (same, log) = b.build_logged("ex", &["--explain"]);
    assert!(explained(&same).is_empty(), "{same}");
    assert!(
        log.contains("explain: every step came from the cache"),
        "{log}"
    );

    fs::write(b.ctx.join("src/b.txt"), "b changed\n").unwrap();
    fs::write(b.ctx.join("src/c.txt"), "new\n").unwrap();
    let (meta, log) = b.build_logged("ex", &["--explain"]);
    let got = explained(&meta);
    assert_eq!(got.len(), 3, "{got:?}");
    assert!(got[0].0.contains("COPY src/ /src/"), "{got:?}");
    assert_eq!(
        got[0].1,
        ["file /src/b.txt content", "file /src/c.txt added"],
        "{got:?}"
    );
    assert!(got[1].0.contains("RUN cat"), "{got:?}");
    assert_eq!(got[1].1, ["parent_changed COPY src/ /src/"]);
    assert!(got[2].0.contains("RUN echo"), "{got:?}");
    assert_eq!(got[2].1, ["parent_changed RUN cat /src/* > /all.txt"]);
    // The same on stderr, after the progress output.
    assert!(log.contains("file /src/b.txt: content changed"), "{log}");
    assert!(log.contains("file /src/c.txt: added"), "{log}");
    assert!(log.contains("parent changed: COPY src/ /src/"), "{log}");

    fs::remove_file(b.ctx.join("src/a.txt")).unwrap();
    let meta = b.build("ex", &["--explain"]);
    assert_eq!(explained(&meta)[0].1, ["file /src/a.txt removed"]);
}

#[test]
fn a_changed_build_arg_is_named_and_no_cache_is_said() {
    let b = bench();
    b.build("ex", &[]);
    let (meta, log) = b.build_logged("ex", &["--explain", "--build-arg", "VERSION=2"]);
    let got = explained(&meta);
    // The COPY and the first RUN don't use VERSION: Docker keys a RUN only by the args it
    // sees in its environment, and an ARG's value reaches every RUN after it.
    let run_echo = got
        .iter()
        .find(|(l, _)| l.contains("RUN echo"))
        .unwrap_or_else(|| panic!("{got:?}"));
    assert!(
        run_echo
            .1
            .contains(&r#"build_arg VERSION "1"->"2""#.to_string()),
        "{got:?}"
    );
    assert!(
        log.contains(r#"build arg VERSION changed: "1" -> "2""#),
        "{log}"
    );

    let meta = b.build(
        "ex",
        &["--explain", "--no-cache", "--build-arg", "VERSION=2"],
    );
    let got = explained(&meta);
    assert!(!got.is_empty());
    assert!(
        got.iter().all(|(_, r)| r == &vec!["no_cache".to_string()]),
        "{got:?}"
    );
}

#[test]
fn without_explain_the_metadata_has_no_explanation_but_keys_are_still_recorded() {
    let b = bench();
    let meta = b.build("ex", &[]);
    assert!(meta.get("strata.explain").is_none());
    fs::write(b.ctx.join("src/a.txt"), "a2\n").unwrap();
    // The first build recorded its keys, so the second can explain against them.
    let meta = b.build("ex", &["--explain"]);
    assert_eq!(explained(&meta)[0].1, ["file /src/a.txt content"]);
}
