//! A CI runner that starts empty, with and without a remote build cache (issue #8): the same
//! scenario (s2 by default: `COPY . /data` of 20,000 files, ~400 MB, then a RUN) built cold
//! into a fresh store (busybox only) without cache, then with `--cache-from` a loopback
//! registry that an earlier build filled with `--cache-to type=registry,mode=max`. Prints the
//! times, the export cost, and the blobs and bytes the cached build downloaded.
//!
//! `cargo bench --bench ci_cache` (`STRATA_BENCH_SCENARIO=s1-small` for s1,
//! `STRATA_BENCH_RUNS=N` for medians of N). Fixtures (contexts, base store) are the e2e
//! bench's, under `target/bench-e2e/`, made on first use; the stores and the registry live
//! under `target/bench-ci-cache/`.

#[allow(dead_code)]
#[path = "e2e/setup.rs"]
mod setup;
#[path = "../tests/shared_dir/mod.rs"]
mod shared_dir;

#[path = "shared/registry.rs"]
mod loopback_registry;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Instant;

use loopback_registry::Registry;

const STRATA: &str = env!("CARGO_BIN_EXE_strata");

/// Runs a build into `store`; returns its time and stderr.
fn build(store: &Path, ctx: &Path, extra: &[&str]) -> (f64, String) {
    let mut c = Command::new(STRATA);
    c.arg("--root")
        .arg(store)
        .args(["build", "--progress=plain", "-t", "ci"])
        .args(extra)
        .arg(ctx)
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let t = Instant::now();
    let out = c.output().unwrap_or_else(|e| panic!("{c:?}: {e}"));
    let secs = t.elapsed().as_secs_f64();
    let err = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "{c:?}:\n{err}");
    (secs, err)
}

/// A store holding only the base images, as a fresh runner has.
fn fresh_store(template: &Path, store: &Path) {
    let _ = fs::remove_dir_all(store);
    let ok = Command::new("cp")
        .arg("-a")
        .arg(template)
        .arg(store)
        .status()
        .is_ok_and(|s| s.success());
    assert!(ok, "cp -a {} {}", template.display(), store.display());
}

/// (blobs, bytes) from the build's `cache: downloaded N blob(s), B bytes` line.
fn downloaded(stderr: &str) -> (u64, u64) {
    let line = stderr
        .lines()
        .find(|l| l.starts_with("cache: downloaded "))
        .unwrap_or_else(|| panic!("no download line in:\n{stderr}"));
    let nums: Vec<u64> = line
        .split(|c: char| !c.is_ascii_digit())
        .filter_map(|w| w.parse().ok())
        .collect();
    (nums[0], nums[1])
}

fn median(mut v: Vec<f64>) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}

fn dir_size(p: &Path) -> u64 {
    let out = Command::new("du").args(["-sb"]).arg(p).output();
    out.ok()
        .and_then(|o| {
            String::from_utf8_lossy(&o.stdout)
                .split_whitespace()
                .next()
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

fn main() {
    if !std::env::args().any(|a| a == "--bench") {
        eprintln!("ci_cache bench: smoke run skipped (run with cargo bench)");
        return;
    }
    let scenario = std::env::var("STRATA_BENCH_SCENARIO").unwrap_or_else(|_| "s2-bigctx".into());
    let short = &scenario[..2];
    let runs: usize = std::env::var("STRATA_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1);
    let dirs = setup::Dirs::new();
    setup::copy_scenarios(&dirs).unwrap();
    setup::gen_contexts(&dirs, &[short]).unwrap();
    if !dirs.template_store().join("oci").is_dir() {
        setup::make_template_store(&dirs, Path::new(STRATA), false).unwrap();
    }
    let ctx = dirs.context(&scenario);
    let work: PathBuf = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-ci-cache");
    fs::create_dir_all(&work).unwrap();
    let store = work.join("store");
    let load = fs::read_to_string("/proc/loadavg").unwrap_or_default();

    let (mut plain, mut export, mut cached) = (Vec::new(), Vec::new(), Vec::new());
    let mut got = (0, 0);
    let mut pushed = 0;
    for _ in 0..runs {
        fresh_store(&dirs.template_store(), &store);
        plain.push(build(&store, &ctx, &[]).0);

        let reg = Registry::start(&work.join("registry"));
        let cache = format!("type=registry,ref=127.0.0.1:{}/ci/cache:main", reg.port);
        fresh_store(&dirs.template_store(), &store);
        let (t, err) = build(&store, &ctx, &["--cache-to", &format!("{cache},mode=max")]);
        assert!(err.contains("cache: exported"), "{err}");
        export.push(t);
        pushed = dir_size(&work.join("registry/data"));

        fresh_store(&dirs.template_store(), &store);
        let (t, err) = build(&store, &ctx, &["--cache-from", &cache]);
        assert!(
            !err.contains("warning:"),
            "the cache was not used cleanly:\n{err}"
        );
        cached.push(t);
        got = downloaded(&err);
        drop(reg);
    }
    let (plain, export, cached) = (median(plain), median(export), median(cached));
    println!(
        "ci_cache bench, {scenario}, {runs} run(s), load before: {}",
        load.trim()
    );
    println!("| cold build on an empty runner | time | downloaded |");
    println!("|---|---:|---:|");
    println!("| no cache | {plain:.2} s | — |");
    println!(
        "| `--cache-from` the registry | {cached:.2} s | {} blobs, {:.1} MB |",
        got.0,
        got.1 as f64 / 1e6
    );
    println!(
        "| (the seeding build with `--cache-to …,mode=max`) | {export:.2} s | registry holds {:.1} MB |",
        pushed as f64 / 1e6
    );
    println!("speed-up: {:.2}×", plain / cached);
    let _ = fs::remove_dir_all(&store);
    let _ = fs::remove_dir_all(work.join("registry"));
}
