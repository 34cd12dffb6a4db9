//! Multi-platform builds (issue 18): a small Dockerfile with one RUN, built cold for
//! `linux/amd64,linux/arm64` (the arm64 RUN emulated by qemu-user through binfmt_misc) by strata
//! and by `buildah build --platform linux/amd64,linux/arm64 --manifest NAME` in the same run,
//! plus strata's single-platform `linux/amd64` build of the same Dockerfile, to see what the
//! second platform costs the native one.
//!
//! `cargo bench --bench platforms`. Every build starts cold: a fresh copy of a store holding
//! only the base (strata), fresh containers-storage seeded with the same base (buildah; see
//! `e2e/buildah.rs`). The three builds of one round run back to back, their order rotated
//! every round so that neither tool always follows the other. Wall time is from spawn to exit,
//! CPU time is user+system of the process and the children it reaped (see `e2e/measure.rs`).
//!
//! The base `busybox` is a two-platform index made offline: Debian's busybox-static for amd64
//! and the arm64 one `.ci/test.sh` unpacks at /var/cache/strata-test/busybox-arm64, each
//! imported (`import --platform linux/arm64` for the latter), then tagged together as one index
//! by a step-less `--platform linux/amd64,linux/arm64` build of `FROM bb-$TARGETARCH`. buildah
//! gets the same two images and a manifest list `busybox` over them (`buildah manifest create`
//! and `add`: Debian's skopeo cannot copy an index into containers-storage).
//!
//! The native part: strata reports each step's start and end (`--progress rawjson`); the
//! native part of a build is the time from spawn to the end of its last `linux/amd64` step
//! (in the single-platform build, its last step), so it holds what the amd64 image waits for
//! (context, base, its RUN) and not the export of the index, which needs both platforms.
//! The amd64 RUN step's own duration is reported too.
//!
//! Environment: `STRATA_BENCH_RUNS=N` rounds (default 5); `STRATA_BENCH_BUILDAH=0` leaves
//! buildah out. Without buildah, skopeo or runc installed it says so and prints no ratio.
//! Without `--bench` (as `cargo test --benches` runs it) this is a smoke run: one round, strata
//! only, failing unless both strata builds succeed and report their amd64 steps.
//! Results go to `target/bench-platforms/results.json` (`results-smoke.json` for a smoke run).

#[allow(dead_code)]
#[path = "e2e/buildah.rs"]
mod buildah;
#[allow(dead_code)]
#[path = "shared/busybox.rs"]
mod busybox;
#[path = "e2e/measure.rs"]
mod measure;
#[allow(dead_code)]
#[path = "e2e/setup.rs"]
mod setup;
#[path = "../tests/shared_dir/mod.rs"]
mod shared_dir;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::SystemTime;

use serde_json::Value;
use setup::Dirs;

const PLATFORMS: &str = "linux/amd64,linux/arm64";
const ARM64_BUSYBOX: &str = "/var/cache/strata-test/busybox-arm64/bin/busybox";
const BASE: &str = "docker.io/library/busybox:latest";
/// The single-platform images the index `BASE` is made of.
const MEMBERS: [&str; 2] = [
    "docker.io/library/bb-amd64:latest",
    "docker.io/library/bb-arm64:latest",
];
const DOCKERFILE: &str = "FROM busybox\nRUN uname -m > /arch\n";

/// One strata build's timings: the process, and what its progress says about the amd64 part.
#[derive(Debug, Clone, Copy)]
struct StrataRun {
    run: measure::Timed,
    /// Spawn to the end of the last linux/amd64 step.
    native_secs: f64,
    /// The amd64 RUN step alone.
    native_run_secs: f64,
    /// The arm64 RUN step alone (two-platform builds).
    emulated_run_secs: Option<f64>,
}

#[derive(Default)]
struct Samples {
    two: Vec<StrataRun>,
    single: Vec<StrataRun>,
    buildah: Vec<measure::Timed>,
}

fn main() {
    let bench_mode = std::env::args().any(|a| a == "--bench");
    let runs = if bench_mode {
        match std::env::var("STRATA_BENCH_RUNS") {
            Ok(v) => v
                .parse::<usize>()
                .ok()
                .filter(|n| *n > 0)
                .unwrap_or_else(|| panic!("STRATA_BENCH_RUNS={v:?}: expected a positive number")),
            Err(_) => 5,
        }
    } else {
        1
    };
    let strata = PathBuf::from(env!("CARGO_BIN_EXE_strata"));
    let dirs = Dirs {
        shared: shared_dir::root().join("bench"),
        work: Path::new(env!("CARGO_MANIFEST_DIR")).join("target/bench-platforms"),
    };
    let load_before = measure::loadavg();
    eprintln!("platforms: strata = {}", strata.display());
    eprintln!("platforms: /proc/loadavg before: {load_before}");
    let ctx = prepare(&dirs, &strata).unwrap_or_else(|e| panic!("platforms: fixtures: {e}"));

    let mut notes = Vec::new();
    let buildah = buildah::for_run(
        bench_mode,
        "platforms",
        &dirs.work,
        &dirs.template_store(),
        &dirs.trash(),
        &mut notes,
    );

    let mut s = Samples::default();
    for round in 0..runs {
        for which in 0..3 {
            match (round + which) % 3 {
                0 => s.two.push(strata_build(&dirs, &strata, &ctx, PLATFORMS)),
                1 => s
                    .single
                    .push(strata_build(&dirs, &strata, &ctx, "linux/amd64")),
                _ => {
                    if let Some(b) = &buildah {
                        s.buildah.push(buildah_build(&dirs, b, &ctx));
                    }
                }
            }
        }
        eprintln!("platforms: round {}/{runs} done", round + 1);
    }
    if let Some(b) = &buildah {
        let _ = b.remove();
    }
    let _ = setup::remove(&dirs.trash());
    let load_after = measure::loadavg();

    let report = Report::of(&s);
    if !bench_mode {
        println!("smoke run (no --bench): one round, strata only, this profile's binary");
    }
    println!("{}", report.markdown(runs));
    println!("/proc/loadavg before: {load_before}; after: {load_after}");
    if let Some(b) = &buildah {
        println!(
            "buildah: {}, storage driver {}, `build --platform {PLATFORMS} --manifest NAME \
             --pull=never --runtime=runc --network=host`",
            b.version,
            buildah::DRIVER
        );
    }
    for n in &notes {
        println!("note: {n}");
    }
    let json = serde_json::json!({
        "runs": runs,
        "bench_mode": bench_mode,
        "loadavg_before": load_before,
        "loadavg_after": load_after,
        "buildah": buildah.as_ref().map(|b| b.version.clone()),
        "notes": notes,
        "strata_two_platforms": s.two.iter().map(strata_json).collect::<Vec<_>>(),
        "strata_amd64_only": s.single.iter().map(strata_json).collect::<Vec<_>>(),
        "buildah_two_platforms": s.buildah.iter().map(|t| serde_json::json!({
            "secs": t.secs, "cpu_secs": t.cpu_secs, "max_rss_kib": t.max_rss_kib,
        })).collect::<Vec<_>>(),
        "medians": report.json(),
    });
    let out = dirs.work.join(if bench_mode {
        "results.json"
    } else {
        "results-smoke.json"
    });
    fs::write(&out, serde_json::to_string_pretty(&json).unwrap()).expect("write the results");
    println!("results: {}", out.display());
}

/// The template store (the two-platform `busybox` base) and the build context.
fn prepare(dirs: &Dirs, strata: &Path) -> Result<PathBuf, String> {
    if !Path::new(ARM64_BUSYBOX).exists() {
        return Err(format!(
            "{ARM64_BUSYBOX} is missing: .ci/test.sh unpacks Debian's busybox-static:arm64 there"
        ));
    }
    fs::create_dir_all(&dirs.work).map_err(|e| e.to_string())?;
    setup::remove(&dirs.trash())?;
    let store = dirs.template_store();
    setup::discard(&dirs.trash(), &store)?;
    for (arch, bin, platform) in [
        ("amd64", "/bin/busybox", None),
        ("arm64", ARM64_BUSYBOX, Some("linux/arm64")),
    ] {
        let rootfs = dirs.work.join(format!("rootfs-{arch}"));
        setup::discard(&dirs.trash(), &rootfs)?;
        busybox::busybox_rootfs_from(&rootfs, Path::new(bin));
        setup::import(
            strata,
            &store,
            &rootfs,
            &format!("bb-{arch}"),
            true,
            platform,
        )?;
    }
    let base_ctx = dirs.work.join("base-context");
    fs::create_dir_all(&base_ctx).map_err(|e| e.to_string())?;
    fs::write(
        base_ctx.join("Dockerfile"),
        "ARG TARGETARCH\nFROM bb-$TARGETARCH\n",
    )
    .map_err(|e| e.to_string())?;
    let out = Command::new(strata)
        .env("STRATA_ROOT", &store)
        .args(["build", "-q", "--platform", PLATFORMS, "-t", BASE])
        .arg(&base_ctx)
        .output()
        .map_err(|e| format!("strata build of the base: {e}"))?;
    if !out.status.success() {
        return Err(format!(
            "strata build of the two-platform base: {}",
            String::from_utf8_lossy(&out.stderr)
        ));
    }
    let ctx = dirs.work.join("context");
    fs::create_dir_all(&ctx).map_err(|e| e.to_string())?;
    fs::write(ctx.join("Dockerfile"), DOCKERFILE).map_err(|e| e.to_string())?;
    Ok(ctx)
}

/// One cold strata build for `platforms`, its progress as rawjson in the log.
fn strata_build(dirs: &Dirs, strata: &Path, ctx: &Path, platforms: &str) -> StrataRun {
    setup::fresh_store(dirs).unwrap_or_else(|e| panic!("platforms: {e}"));
    let log = dirs.work.join("strata-stderr.log");
    let mut cmd = Command::new(strata);
    cmd.env("STRATA_ROOT", dirs.store())
        .args(["build", "--progress", "rawjson", "--platform", platforms])
        .args(["-t", "bench-mp"])
        .arg(ctx);
    let spawned = SystemTime::now();
    let what = format!("strata build --platform {platforms}");
    let run = measure::run(&mut cmd, &what, &log).unwrap_or_else(|e| panic!("platforms: {e}"));
    let text = fs::read_to_string(&log).unwrap_or_default();
    let steps = steps_of(&text);
    let two = platforms.contains(',');
    let native = |s: &&Step| !two || s.name.starts_with("[linux/amd64 ");
    let last_native = steps
        .iter()
        .filter(native)
        .map(|s| s.completed)
        .max_by(f64::total_cmp)
        .unwrap_or_else(|| panic!("platforms: {what}: no amd64 step in its progress:\n{text}"));
    let run_of = |arch: &str| {
        steps
            .iter()
            .find(|s| s.name.contains("RUN uname") && (!two || s.name.starts_with(arch)))
            .map(|s| s.completed - s.started)
    };
    let native_run_secs = run_of("[linux/amd64 ")
        .unwrap_or_else(|| panic!("platforms: {what}: no amd64 RUN step:\n{text}"));
    let spawned = unix_secs(spawned);
    StrataRun {
        run,
        native_secs: last_native - spawned,
        native_run_secs,
        emulated_run_secs: if two { run_of("[linux/arm64 ") } else { None },
    }
}

fn buildah_build(dirs: &Dirs, b: &buildah::Buildah, ctx: &Path) -> measure::Timed {
    b.fresh_manifest_list(BASE, &MEMBERS)
        .unwrap_or_else(|e| panic!("platforms: buildah storage: {e}"));
    let mut cmd = b.build_platforms(ctx, PLATFORMS, "bench-mp");
    let t = measure::run(&mut cmd, "buildah build --manifest", &b.log());
    let _ = setup::ensure_space(dirs);
    t.unwrap_or_else(|e| panic!("platforms: {e}"))
}

/// A step of strata's build as its rawjson progress reports it (times in Unix seconds).
struct Step {
    name: String,
    started: f64,
    completed: f64,
}

/// The steps that ran (not cached ones, which have no start), from rawjson lines.
fn steps_of(rawjson: &str) -> Vec<Step> {
    let mut started: Vec<(String, f64)> = Vec::new();
    let mut out = Vec::new();
    for line in rawjson.lines() {
        let Ok(v) = serde_json::from_str::<Value>(line) else {
            continue;
        };
        for vx in v["vertexes"].as_array().into_iter().flatten() {
            let (Some(digest), Some(name)) = (vx["digest"].as_str(), vx["name"].as_str()) else {
                continue;
            };
            if let Some(t) = vx["started"].as_str().and_then(parse_rfc3339) {
                started.push((digest.to_string(), t));
            }
            if let Some(end) = vx["completed"].as_str().and_then(parse_rfc3339) {
                if let Some((_, begin)) = started.iter().find(|(d, _)| d == digest) {
                    out.push(Step {
                        name: name.to_string(),
                        started: *begin,
                        completed: end,
                    });
                }
            }
        }
    }
    out
}

/// `2026-12-07T21:56:01.123456789Z` as Unix seconds (UTC only, as strata writes them).
fn parse_rfc3339(s: &str) -> Option<f64> {
    let s = s.strip_suffix('Z')?;
    let (date, time) = s.split_once('T')?;
    let mut d = date.splitn(3, '-').map(|x| x.parse::<i64>().ok());
    let (y, m, day) = (d.next()??, d.next()??, d.next()??);
    let (hms, frac) = time.split_once('.').unwrap_or((time, "0"));
    let mut t = hms.splitn(3, ':').map(|x| x.parse::<i64>().ok());
    let (h, mi, sec) = (t.next()??, t.next()??, t.next()??);
    let frac: f64 = format!("0.{frac}").parse().ok()?;
    // Days from the civil date (Hinnant's algorithm, eras of 400 years).
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * (m + if m > 2 { -3 } else { 9 }) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    Some((days * 86_400 + h * 3600 + mi * 60 + sec) as f64 + frac)
}

fn unix_secs(t: SystemTime) -> f64 {
    t.duration_since(SystemTime::UNIX_EPOCH)
        .map(|d| d.as_secs_f64())
        .unwrap_or(0.0)
}

fn median(v: Vec<f64>) -> Option<f64> {
    measure::stats(&v).map(|(median, _, _)| median)
}

/// The medians the table and the JSON show.
struct Report {
    two_wall: Option<f64>,
    two_cpu: Option<f64>,
    two_native: Option<f64>,
    two_native_run: Option<f64>,
    two_emulated_run: Option<f64>,
    single_wall: Option<f64>,
    single_cpu: Option<f64>,
    single_native: Option<f64>,
    single_native_run: Option<f64>,
    buildah_wall: Option<f64>,
    buildah_cpu: Option<f64>,
}

impl Report {
    fn of(s: &Samples) -> Report {
        let m = |v: &[StrataRun], f: fn(&StrataRun) -> f64| median(v.iter().map(f).collect());
        Report {
            two_wall: m(&s.two, |r| r.run.secs),
            two_cpu: m(&s.two, |r| r.run.cpu_secs),
            two_native: m(&s.two, |r| r.native_secs),
            two_native_run: m(&s.two, |r| r.native_run_secs),
            two_emulated_run: median(s.two.iter().filter_map(|r| r.emulated_run_secs).collect()),
            single_wall: m(&s.single, |r| r.run.secs),
            single_cpu: m(&s.single, |r| r.run.cpu_secs),
            single_native: m(&s.single, |r| r.native_secs),
            single_native_run: m(&s.single, |r| r.native_run_secs),
            buildah_wall: median(s.buildah.iter().map(|t| t.secs).collect()),
            buildah_cpu: median(s.buildah.iter().map(|t| t.cpu_secs).collect()),
        }
    }

    fn markdown(&self, runs: usize) -> String {
        let f = |x: Option<f64>| x.map_or("-".to_string(), |v| format!("{v:.3}"));
        let ratio = |a: Option<f64>, b: Option<f64>| match (a, b) {
            (Some(a), Some(b)) if b > 0.0 => format!("{:.2}x", a / b),
            _ => "-".into(),
        };
        let mut t = format!(
            "medians of {runs} cold build(s), seconds\n\n\
             | build | wall | cpu | native part | amd64 RUN | arm64 RUN |\n\
             |---|---|---|---|---|---|\n"
        );
        t += &format!(
            "| strata {PLATFORMS} | {} | {} | {} | {} | {} |\n",
            f(self.two_wall),
            f(self.two_cpu),
            f(self.two_native),
            f(self.two_native_run),
            f(self.two_emulated_run)
        );
        t += &format!(
            "| strata linux/amd64 | {} | {} | {} | {} | - |\n",
            f(self.single_wall),
            f(self.single_cpu),
            f(self.single_native),
            f(self.single_native_run)
        );
        t += &format!(
            "| buildah {PLATFORMS} | {} | {} | - | - | - |\n\n",
            f(self.buildah_wall),
            f(self.buildah_cpu)
        );
        t += &format!(
            "strata/buildah, two platforms: wall {}, cpu {} (target <= 0.5x)\n",
            ratio(self.two_wall, self.buildah_wall),
            ratio(self.two_cpu, self.buildah_cpu)
        );
        t += &format!(
            "native part, two-platform / amd64-only build: {} (target <= 1.0x); amd64 RUN step {}",
            ratio(self.two_native, self.single_native),
            ratio(self.two_native_run, self.single_native_run)
        );
        t
    }

    fn json(&self) -> Value {
        serde_json::json!({
            "strata_two_platforms": {
                "wall": self.two_wall, "cpu": self.two_cpu, "native_part": self.two_native,
                "amd64_run": self.two_native_run, "arm64_run": self.two_emulated_run,
            },
            "strata_amd64_only": {
                "wall": self.single_wall, "cpu": self.single_cpu,
                "native_part": self.single_native, "amd64_run": self.single_native_run,
            },
            "buildah_two_platforms": { "wall": self.buildah_wall, "cpu": self.buildah_cpu },
        })
    }
}

fn strata_json(r: &StrataRun) -> Value {
    serde_json::json!({
        "secs": r.run.secs,
        "cpu_secs": r.run.cpu_secs,
        "max_rss_kib": r.run.max_rss_kib,
        "native_part_secs": r.native_secs,
        "amd64_run_secs": r.native_run_secs,
        "arm64_run_secs": r.emulated_run_secs,
    })
}
