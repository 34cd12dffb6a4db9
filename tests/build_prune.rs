//! Build cache policy: `builder prune` (`--all`, `--keep-storage` least-recently-used first,
//! `--filter until=`) and the documented way to make one step always rerun (an ARG the user
//! bumps, declared right before it).

mod build_support;
mod common;

use std::fs;

use build_support::{rebuilt, Bench};

fn project(b: &Bench, dir: &str, seed: &str) -> std::path::PathBuf {
    let ctx = b.s.scratch(dir);
    // Each project's RUN writes 256 KiB of its own, so its layer is worth budgeting.
    fs::write(
        ctx.join("Dockerfile"),
        format!("FROM busybox\nRUN echo {seed} > /seed && head -c 262144 /dev/urandom > /blob\n"),
    )
    .unwrap();
    ctx
}

fn build(b: &Bench, ctx: &std::path::Path, tag: &str) -> serde_json::Value {
    let meta = b.s.scratch("meta").join(format!("{tag}.json"));
    b.s.ok(&[
        "build",
        "--progress=plain",
        "-t",
        tag,
        "--metadata-file",
        meta.to_str().unwrap(),
        ctx.to_str().unwrap(),
    ]);
    serde_json::from_str(&fs::read_to_string(meta).unwrap()).unwrap()
}

#[test]
fn prune_all_empties_the_cache_and_cache_mounts_but_keeps_images() {
    let b = Bench::new();
    b.dockerfile(
        "FROM busybox\nRUN --mount=type=cache,target=/c sh -c 'echo x >> /c/n; wc -l < /c/n > /count'\n",
    );
    b.build("p", &[]);
    assert!(rebuilt(&b.build("p", &[])).is_empty());
    let out = b.s.ok(&["builder", "prune", "--all", "-f"]);
    assert!(out.contains("Total reclaimed space"), "{out}");
    assert_eq!(b.cache_entries(), 0);
    // The image is untouched.
    b.s.ok(&["inspect", "p"]);
    // Nothing cached now, and the cache mount starts empty again.
    let meta = b.build("p", &[]);
    assert_eq!(rebuilt(&meta).len(), 1, "{meta}");
    let root = b.unpack("p");
    assert_eq!(fs::read_to_string(root.join("count")).unwrap().trim(), "1");
}

#[test]
fn keep_storage_drops_the_least_recently_used_cache_first() {
    let b = Bench::new();
    let x = project(&b, "x", "x");
    let y = project(&b, "y", "y");
    build(&b, &x, "x");
    build(&b, &y, "y");
    // Without images, their layers are only kept by the cache.
    b.s.ok(&["rmi", "x", "y"]);
    // Use x again: now y is the least recently used.
    assert!(rebuilt(&build(&b, &x, "x")).is_empty());
    b.s.ok(&["rmi", "x"]);
    // A budget for one of the two 256 KiB layers.
    b.s.ok(&["builder", "prune", "--keep-storage", "400KiB"]);
    assert!(
        rebuilt(&build(&b, &x, "x")).is_empty(),
        "x was used last: kept"
    );
    assert_eq!(
        rebuilt(&build(&b, &y, "y")).len(),
        1,
        "y was the oldest: pruned"
    );
}

#[test]
fn until_keeps_recent_cache_and_default_prune_keeps_hits() {
    let b = Bench::new();
    let x = project(&b, "x", "x");
    build(&b, &x, "x");
    b.s.ok(&["rmi", "x"]);
    b.s.ok(&["builder", "prune", "--all", "--filter", "until=1h"]);
    assert!(rebuilt(&build(&b, &x, "x")).is_empty(), "used a moment ago");
    b.s.ok(&["rmi", "x"]);
    // The default prune only removes what gives no hit (snapshots are re-made from layers).
    b.s.ok(&["builder", "prune"]);
    assert!(rebuilt(&build(&b, &x, "x")).is_empty());
    let err = b.s.fails(&["builder", "prune", "--filter", "until=soon"]);
    assert!(err.contains("invalid duration"), "{err}");
    let err = b.s.fails(&["builder", "prune", "--keep-storage", "lots"]);
    assert!(err.contains("--keep-storage"), "{err}");
}

#[test]
fn an_arg_bumped_by_the_user_reruns_only_the_steps_after_it() {
    let b = Bench::new();
    b.dockerfile(
        "FROM busybox\nRUN echo stable > /stable\nARG CACHEBUST=0\nRUN echo \"$CACHEBUST\" > /fresh\n",
    );
    b.build("bust", &["--build-arg", "CACHEBUST=1"]);
    let meta = b.build("bust", &["--build-arg", "CACHEBUST=2"]);
    // The ARG's own (config-only) entry has a new key too; of the RUN steps only the one
    // after it runs again.
    let again: Vec<String> = rebuilt(&meta)
        .into_iter()
        .filter(|l| l.contains("RUN"))
        .collect();
    assert_eq!(again.len(), 1, "{again:?}");
    assert!(again[0].contains("RUN echo \"$CACHEBUST\""), "{again:?}");
    assert_eq!(
        fs::read_to_string(b.unpack("bust").join("fresh")).unwrap(),
        "2\n"
    );
}
