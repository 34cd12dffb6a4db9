//! Cache behaviour of real builds: what a rebuild reuses and what it redoes, read from the
//! `--metadata-file` step list (each step's `cached` flag) and the image digest.

mod build_support;
mod common;

use std::fs;
use std::time::{Duration, SystemTime};

use build_support::{digest, rebuilt, steps, Bench};

const DOCKERFILE: &str = r#"FROM busybox AS deps
COPY lib/ /lib-src/
RUN cat /lib-src/* > /lib.txt && echo built > /deps-marker

FROM busybox AS final
WORKDIR /app
COPY static/ ./static/
COPY --from=deps /lib.txt ./lib.txt
COPY src/ ./src/
RUN ls -R . > /app/listing
CMD ["cat", "/app/listing"]
"#;

fn bench() -> Bench {
    let b = Bench::new();
    b.files(&[
        ("lib/a.txt", "a\n"),
        ("lib/b.txt", "b\n"),
        ("static/index.html", "<p>hi</p>\n"),
        ("src/main.sh", "echo main\n"),
        ("src/util.sh", "echo util\n"),
    ]);
    b.dockerfile(DOCKERFILE);
    b
}

#[test]
fn a_second_build_is_fully_cached_and_reproduces_the_digest() {
    let b = bench();
    let first = b.build("app", &[]);
    assert!(!rebuilt(&first).is_empty());
    let second = b.build("app", &[]);
    assert!(rebuilt(&second).is_empty(), "{:?}", steps(&second));
    assert_eq!(digest(&first), digest(&second));

    // Touching every file (mtime only, as a fresh checkout does) busts nothing.
    let later = SystemTime::now() + Duration::from_secs(3600);
    for e in walk(&b.ctx) {
        let f = fs::File::options().write(true).open(&e).unwrap();
        f.set_modified(later).unwrap();
    }
    let third = b.build("app", &[]);
    assert!(rebuilt(&third).is_empty(), "{:?}", steps(&third));
    assert_eq!(digest(&first), digest(&third));

    // --no-cache redoes every step; --no-cache-filter only the named stage's.
    let all = b.build("app", &["--no-cache"]);
    assert_eq!(
        rebuilt(&all).len(),
        steps(&all).len() - 2,
        "all but the two FROMs: {:?}",
        steps(&all)
    );
    let only = b.build("app", &["--no-cache-filter", "deps"]);
    let r = rebuilt(&only);
    assert!(r.iter().all(|l| l.starts_with("[deps")), "{r:?}");
    assert_eq!(r.len(), 2, "{r:?}");
}

#[test]
fn one_changed_byte_busts_exactly_the_steps_from_the_first_copy_that_selects_it() {
    let b = bench();
    b.build("app", &[]);
    fs::write(b.ctx.join("src/util.sh"), "echo UTIL\n").unwrap();
    let m = b.build("app", &[]);
    assert_eq!(
        rebuilt(&m),
        vec![
            "[final 5/6] COPY src/ ./src/".to_string(),
            "[final 6/6] RUN ls -R . > /app/listing".to_string(),
            "[final] CMD [\"cat\", \"/app/listing\"]".to_string(),
        ],
        "{:?}",
        steps(&m)
    );
}

#[test]
fn copy_from_is_busted_only_when_the_copied_files_change() {
    let b = bench();
    b.build("app", &[]);
    // The deps stage changes, but /lib.txt it produces stays the same: only that stage reruns.
    b.dockerfile(&DOCKERFILE.replace("echo built", "echo rebuilt"));
    let m = b.build("app", &[]);
    assert_eq!(
        rebuilt(&m),
        vec!["[deps 3/3] RUN cat /lib-src/* > /lib.txt && echo rebuilt > /deps-marker".to_string()],
        "{:?}",
        steps(&m)
    );
    // Now the copied file changes: the COPY --from and everything after it rerun.
    fs::write(b.ctx.join("lib/b.txt"), "B\n").unwrap();
    let m = b.build("app", &[]);
    let r = rebuilt(&m);
    assert!(
        r.contains(&"[final 4/6] COPY --from=deps /lib.txt ./lib.txt".to_string()),
        "{r:?}"
    );
    assert!(!r.iter().any(|l| l.contains("COPY static/")), "{r:?}");
}

#[test]
fn renaming_a_stage_busts_nothing() {
    let b = bench();
    b.build("app", &[]);
    b.dockerfile(
        &DOCKERFILE
            .replace("AS deps", "AS libs")
            .replace("--from=deps", "--from=libs"),
    );
    let layers = |b: &Bench| b.config("app")["rootfs"]["diff_ids"].clone();
    let before = layers(&b);
    let m = b.build("app", &[]);
    assert!(rebuilt(&m).is_empty(), "{:?}", steps(&m));
    // The same layers; the digest may differ only because history records the COPY's text
    // (`--from=libs`), as BuildKit's does.
    assert_eq!(layers(&b), before);
}

fn walk(dir: &std::path::Path) -> Vec<std::path::PathBuf> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir).unwrap() {
        let p = e.unwrap().path();
        if p.is_dir() {
            out.extend(walk(&p));
        } else {
            out.push(p);
        }
    }
    out
}
