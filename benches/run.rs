//! `strata run --rm busybox true`, start to exit, next to `runc run` (and `crun run` when
//! installed) on the same image unpacked by umoci into an OCI bundle whose process is `true`.
//! Both get a fresh network namespace with nothing in it (`--network none` for strata; the
//! bundle's own network namespace for runc); strata's default user-mode network is timed too.
//! Prints median and p90 per runner, the ratio to runc, and the load average.
//!
//! `cargo bench --bench run` times 30 runs each; `cargo test --benches` runs 3 as a smoke test.

#[path = "shared/busybox.rs"]
mod busybox;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use busybox::busybox_rootfs;

const STRATA: &str = env!("CARGO_BIN_EXE_strata");

fn iterations() -> usize {
    let default = if std::env::args().any(|a| a == "--bench") {
        30
    } else {
        3
    };
    std::env::var("STRATA_BENCH_RUNS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(default)
}

fn check(cmd: &mut Command) {
    let out = cmd.output().unwrap_or_else(|e| panic!("{cmd:?}: {e}"));
    assert!(
        out.status.success(),
        "{cmd:?}: {}\n{}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Wall time of each of `n` runs of `make()` (after one untimed warm-up run).
fn time_runs(n: usize, mut make: impl FnMut(usize) -> Command) -> Vec<Duration> {
    let run = |mut c: Command| {
        c.stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        let t = Instant::now();
        let out = c.output().unwrap_or_else(|e| panic!("{c:?}: {e}"));
        let took = t.elapsed();
        assert!(
            out.status.success(),
            "{c:?}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        took
    };
    run(make(usize::MAX));
    (0..n).map(|i| run(make(i))).collect()
}

fn stats(mut v: Vec<Duration>) -> (Duration, Duration) {
    v.sort();
    let median = v[v.len() / 2];
    let p90 = v[((v.len() * 9) / 10).min(v.len() - 1)];
    (median, p90)
}

fn ms(d: Duration) -> f64 {
    d.as_secs_f64() * 1000.0
}

fn main() {
    let n = iterations();
    let dir = tempfile::Builder::new()
        .prefix("strata-run-bench-")
        .tempdir()
        .unwrap();
    let root = dir.path().join("store");
    let rootfs = dir.path().join("rootfs");
    busybox_rootfs(&rootfs);
    check(
        Command::new(STRATA)
            .arg("--root")
            .arg(&root)
            .args(["import", "-c", r#"CMD ["sh"]"#])
            .arg(&rootfs)
            .arg("busybox"),
    );

    let strata = |network: &'static str| {
        let root = root.clone();
        move |_| {
            let mut c = Command::new(STRATA);
            c.arg("--root").arg(&root).args([
                "run",
                "--rm",
                "--network",
                network,
                "busybox",
                "true",
            ]);
            c
        }
    };
    let mut rows: Vec<(String, (Duration, Duration))> = Vec::new();
    rows.push((
        "strata run --rm --network none busybox true".into(),
        stats(time_runs(n, strata("none"))),
    ));
    rows.push((
        "strata run --rm busybox true (slirp4netns)".into(),
        stats(time_runs(n, strata("bridge"))),
    ));

    // The same image as an OCI bundle for runc/crun.
    let bundle = dir.path().join("bundle");
    let image = format!(
        "{}:docker.io/library/busybox:latest",
        root.join("oci").display()
    );
    check(
        Command::new("umoci")
            .args(["unpack", "--image", &image])
            .arg(&bundle),
    );
    let cfg_path = bundle.join("config.json");
    let mut cfg: serde_json::Value = serde_json::from_slice(&fs::read(&cfg_path).unwrap()).unwrap();
    cfg["process"]["args"] = serde_json::json!(["true"]);
    cfg["process"]["terminal"] = serde_json::json!(false);
    fs::write(&cfg_path, serde_json::to_vec_pretty(&cfg).unwrap()).unwrap();
    let runc_baseline = ["runc", "crun"]
        .iter()
        .filter_map(|rt| which(rt).map(|p| (*rt, p)))
        .map(|(name, path)| {
            let state = dir.path().join(format!("{name}-state"));
            let bundle = bundle.clone();
            let t = stats(time_runs(n, |i| {
                let mut c = Command::new(&path);
                c.arg("--root")
                    .arg(&state)
                    .args(["run", "--bundle"])
                    .arg(&bundle);
                c.arg(format!("bench-{}", if i == usize::MAX { 0 } else { i + 1 }));
                c
            }));
            rows.push((format!("{name} run (umoci bundle, true)"), t));
            (name, t)
        })
        .collect::<Vec<_>>();

    let load = fs::read_to_string("/proc/loadavg").unwrap_or_default();
    println!(
        "run start-to-exit, {n} runs each (load average: {})",
        load.trim()
    );
    let base = runc_baseline
        .iter()
        .find(|(n, _)| *n == "runc")
        .map(|(_, t)| t.0);
    for (name, (median, p90)) in &rows {
        let ratio = base
            .map(|b| format!("  {:.2}x runc", median.as_secs_f64() / b.as_secs_f64()))
            .unwrap_or_default();
        println!(
            "  {name:<48} median {:7.1} ms  p90 {:7.1} ms{ratio}",
            ms(*median),
            ms(*p90)
        );
    }
}

fn which(name: &str) -> Option<PathBuf> {
    std::env::var_os("PATH")?
        .to_str()?
        .split(':')
        .map(|d| Path::new(d).join(name))
        .find(|p| p.is_file())
}
