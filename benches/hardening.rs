//! What the sandbox's hardening costs: `run --rm busybox true` and the s3 build
//! (`../shared/bench/scenarios/s3-parallel`, four parallel RUN stages) with the seccomp filter
//! and per-sandbox cgroups (the default) and without them (`STRATA_BENCH_UNHARDENED=1`), in one
//! run, interleaved so drift hits both alike. The target (issue #16): at most 5% slower.
//!
//! `cargo bench --bench hardening` times 80 pairs of runs and 7 of builds; the cost printed
//! is the median of the per-pair ratios; `cargo test --benches`
//! does 2 and 1 as a smoke test.

#[path = "shared/busybox.rs"]
mod busybox;
#[path = "../tests/shared_dir/mod.rs"]
mod shared_dir;

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

const STRATA: &str = env!("CARGO_BIN_EXE_strata");

fn counts() -> (usize, usize) {
    if std::env::args().any(|a| a == "--bench") {
        (80, 7)
    } else {
        (2, 1)
    }
}

fn timed(root: &Path, args: &[&str], unhardened: bool) -> Duration {
    let mut c = Command::new(STRATA);
    c.arg("--root").arg(root).args(args);
    c.env("STRATA_DNS", "127.0.0.1");
    if unhardened {
        c.env("STRATA_BENCH_UNHARDENED", "1");
    }
    c.stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let t = Instant::now();
    let out = c.output().expect("strata");
    let took = t.elapsed();
    assert!(
        out.status.success(),
        "{args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    took
}

/// One comparison: the medians of each side, and the median of the per-pair ratios.
struct Compared {
    hardened: Duration,
    unhardened: Duration,
    /// hardened / unhardened of each back-to-back pair, median of them all: a pair's two
    /// runs see nearly the same machine, so load drifting over the whole run (other
    /// builds on a shared host) moves both sides of a pair alike and cancels in its ratio,
    /// where it would skew a ratio of the two overall medians.
    paired_ratio: f64,
}

/// `n` back-to-back pairs, alternating which side goes first so neither always runs on a
/// warmer cache.
fn compare(n: usize, root: &Path, args: &[&str]) -> Compared {
    timed(root, args, false);
    timed(root, args, true);
    let (mut on, mut off, mut ratios) = (Vec::new(), Vec::new(), Vec::new());
    for i in 0..n {
        let (hardened, unhardened) = if i % 2 == 0 {
            let h = timed(root, args, false);
            (h, timed(root, args, true))
        } else {
            let u = timed(root, args, true);
            (timed(root, args, false), u)
        };
        on.push(hardened);
        off.push(unhardened);
        ratios.push(hardened.as_secs_f64() / unhardened.as_secs_f64());
    }
    Compared {
        hardened: median(on),
        unhardened: median(off),
        paired_ratio: median(ratios),
    }
}

fn median<T: PartialOrd>(mut v: Vec<T>) -> T {
    v.sort_by(|a, b| a.partial_cmp(b).expect("durations and ratios are ordered"));
    v.swap_remove(v.len() / 2)
}

fn main() {
    let (runs, builds) = counts();
    let dir = tempfile::Builder::new()
        .prefix("strata-hardening-bench-")
        .tempdir()
        .unwrap();
    let root = dir.path().join("store");
    let rootfs = dir.path().join("rootfs");
    busybox::busybox_rootfs(&rootfs);
    let rootfs = rootfs.to_str().unwrap();
    timed(
        &root,
        &["import", "-c", r#"CMD ["sh"]"#, rootfs, "busybox"],
        false,
    );

    let s3 = shared_dir::root().join("bench/scenarios/s3-parallel");
    let s3 = s3.to_str().unwrap();
    let rows = [
        (
            "run --rm --network none busybox true",
            compare(
                runs,
                &root,
                &["run", "--rm", "--network", "none", "busybox", "true"],
            ),
        ),
        (
            "build --no-cache s3-parallel",
            compare(
                builds,
                &root,
                &["build", "--no-cache", "-q", "-t", "s3", s3],
            ),
        ),
    ];
    let load = std::fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "hardening cost, {runs} runs / {builds} builds each (load average: {})",
        load.trim()
    );
    for (name, c) in rows {
        println!(
            "  {name:<40} hardened {:8.1} ms  unhardened {:8.1} ms  cost {:+.1}% (median of paired ratios)",
            c.hardened.as_secs_f64() * 1000.0,
            c.unhardened.as_secs_f64() * 1000.0,
            (c.paired_ratio - 1.0) * 100.0
        );
    }
}
