//! What the sandbox's hardening costs: `run --rm busybox true` and the s3 build
//! (`../shared/bench/scenarios/s3-parallel`, four parallel RUN stages) with the seccomp filter
//! and per-sandbox cgroups (the default) and without them (`STRATA_BENCH_UNHARDENED=1`), in one
//! run, interleaved so drift hits both alike. The target (issue #16): at most 5% slower.
//!
//! `cargo bench --bench hardening` times 30 runs and 5 builds each; `cargo test --benches`
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
        (30, 5)
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

/// Medians of `n` alternating runs: (hardened, unhardened).
fn compare(n: usize, root: &Path, args: &[&str]) -> (Duration, Duration) {
    timed(root, args, false);
    timed(root, args, true);
    let (mut on, mut off) = (Vec::new(), Vec::new());
    for i in 0..n {
        // Alternate which goes first, so neither always runs on a warmer cache.
        if i % 2 == 0 {
            on.push(timed(root, args, false));
            off.push(timed(root, args, true));
        } else {
            off.push(timed(root, args, true));
            on.push(timed(root, args, false));
        }
    }
    let median = |mut v: Vec<Duration>| {
        v.sort();
        v[v.len() / 2]
    };
    (median(on), median(off))
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
    for (name, (on, off)) in rows {
        println!(
            "  {name:<40} hardened {:8.1} ms  unhardened {:8.1} ms  cost {:+.1}%",
            on.as_secs_f64() * 1000.0,
            off.as_secs_f64() * 1000.0,
            (on.as_secs_f64() / off.as_secs_f64() - 1.0) * 100.0
        );
    }
}
