//! End-to-end `strata build` benchmark over the scenarios of `../shared/bench` (see its
//! README): cold build, no-op rebuild and one-file change, wall time of the release binary
//! (`CARGO_BIN_EXE_strata`, which `cargo bench` builds in release) from spawn to exit and its
//! peak RSS, with buildah timed on the same Dockerfiles and contexts in the same run (when
//! buildah, skopeo and runc are installed), strata/buildah ratios and issue 5's targets.
//!
//! `cargo bench --bench e2e [-- FILTER…]` runs the scenarios whose name contains a FILTER
//! (`s1`, `s2-bigctx`, …; all when none is given). Fixtures live under `target/bench-e2e/`:
//! a writable copy of the scenarios, their contexts (generated once by `gen-contexts.py`, then
//! reused), a template store holding only the bases (rebuilt on every invocation from
//! /bin/busybox), the working store, buildah's own storage (`buildah/`, overlay driver, seeded
//! from the template store with `skopeo copy`) and a trash of replaced stores, emptied after the
//! last build (deleting right before a timed build slows it on this filesystem: see
//! `setup::discard`). Results are printed as a markdown table and written to
//! `target/bench-e2e/results.json`, with `/proc/loadavg` before and after.
//!
//! Phases, for each tool: "cold" = a fresh copy of the base-only store (no build cache, no
//! stat cache, no built images; page cache warm), "no-op" = the same build again (after one
//! untimed warm-up build), "change" = a unique line appended to the file the README names, then
//! the file restored (bytes and mtime) after the timed build. buildah runs `bud --layers
//! --pull=never --runtime=runc`, after all of strata's phases of the scenario.
//!
//! Environment:
//! - `STRATA_BENCH_RUNS=N`: runs of the fast phases (default 5: every no-op, and all of s1);
//! - `STRATA_BENCH_SLOW_RUNS=N`: runs of the slow ones (default 3; s4 cold: 1);
//! - `STRATA_BENCH_NORUN=1`: s1 and s2 also with their RUN lines removed (`only`: just that);
//! - `STRATA_BENCH_DEBIAN_ROOTFS=PATH`: a debian rootfs (a tarball from `make-bases.sh
//!   --debian`, or a debootstrap directory, read only) imported as `debian` when s5 is
//!   selected. s5-debian is skipped, with a note, unless the template store then has it;
//! - `STRATA_BENCH_BUILDAH=0`: do not time buildah (ratios then use the README's medians,
//!   marked "(README)").
//!
//! Without `--bench` (as `cargo test --benches` runs it) this is a smoke run: s1, one run each,
//! strata only, written to `results-smoke.json` instead.

#[path = "e2e/buildah.rs"]
mod buildah;
#[path = "e2e/measure.rs"]
mod measure;
#[path = "e2e/phases.rs"]
mod phases;
#[path = "e2e/report.rs"]
mod report;
#[path = "e2e/setup.rs"]
mod setup;
#[path = "../tests/shared_dir/mod.rs"]
mod shared_dir;

use std::fs;
use std::path::{Path, PathBuf};

use phases::ScenarioRun;
use report::Phase;
use setup::Dirs;

/// A scenario: its directory, the phases the README lists, whether a RUN-less variant makes
/// sense, and the file the one-file change appends to.
pub struct Scenario {
    pub name: &'static str,
    pub phases: &'static [Phase],
    norun: bool,
    pub change_file: Option<&'static str>,
    /// Cold (and change) builds take seconds: fewer runs.
    pub slow: bool,
    context: Option<&'static str>,
    /// The base image, as strata's index names it (seeded into buildah's storage).
    pub base: &'static str,
}

const BUSYBOX: &str = "docker.io/library/busybox:latest";

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "s1-small",
        phases: &[Phase::Cold, Phase::Noop, Phase::Change],
        norun: true,
        change_file: Some("src/pkg00/mod0000.txt"),
        slow: false,
        context: Some("s1"),
        base: BUSYBOX,
    },
    Scenario {
        name: "s2-bigctx",
        phases: &[Phase::Cold, Phase::Noop, Phase::Change],
        norun: true,
        change_file: Some("files/d00/e0/f00001.txt"),
        slow: true,
        context: Some("s2"),
        base: BUSYBOX,
    },
    Scenario {
        name: "s3-parallel",
        phases: &[Phase::Cold],
        norun: false,
        change_file: None,
        slow: true,
        context: None,
        base: BUSYBOX,
    },
    Scenario {
        name: "s4-biglayer",
        phases: &[Phase::Cold],
        norun: false,
        change_file: None,
        slow: true,
        context: None,
        base: BUSYBOX,
    },
    Scenario {
        name: "s5-debian",
        phases: &[Phase::Cold, Phase::Noop],
        norun: false,
        change_file: None,
        slow: true,
        context: None,
        base: "docker.io/library/debian:latest",
    },
];

fn env_runs(name: &str) -> Option<usize> {
    let v = std::env::var(name).ok()?;
    match v.parse::<usize>() {
        Ok(n) if n > 0 => Some(n),
        _ => panic!("{name}={v:?}: expected a positive number"),
    }
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let bench_mode = args.iter().any(|a| a == "--bench");
    let filters: Vec<&str> = args
        .iter()
        .filter(|a| !a.starts_with('-'))
        .map(String::as_str)
        .collect();
    let selected: Vec<&Scenario> = SCENARIOS
        .iter()
        .filter(|s| {
            if !bench_mode {
                return s.name == "s1-small";
            }
            filters.is_empty() || filters.iter().any(|f| s.name.contains(f))
        })
        .collect();
    let (fast_runs, slow_runs) = if bench_mode {
        (
            env_runs("STRATA_BENCH_RUNS").unwrap_or(5),
            env_runs("STRATA_BENCH_SLOW_RUNS"),
        )
    } else {
        (1, Some(1))
    };
    let norun = std::env::var("STRATA_BENCH_NORUN").unwrap_or_default();
    let variants: &[bool] = match norun.as_str() {
        "" | "0" => &[false],
        "only" => &[true],
        _ => &[false, true],
    };

    let strata = PathBuf::from(env!("CARGO_BIN_EXE_strata"));
    let dirs = Dirs::new();
    let load_before = measure::loadavg();
    eprintln!("e2e: strata = {}", strata.display());
    eprintln!("e2e: /proc/loadavg before: {load_before}");
    if let Err(e) = prepare(&dirs, &strata, &selected) {
        panic!("e2e: cannot prepare the fixtures: {e}");
    }

    let mut results = Vec::new();
    let mut notes = Vec::new();
    let buildah = buildah::for_run(
        bench_mode,
        "e2e",
        &dirs.work,
        &dirs.template_store(),
        &dirs.trash(),
        &mut notes,
    );
    for sc in &selected {
        if sc.name == "s5-debian" && !setup::has_image(&strata, &dirs.template_store(), "debian") {
            notes.push(
                "s5-debian skipped: no `debian` image in the template store \
                 (set STRATA_BENCH_DEBIAN_ROOTFS to a rootfs from make-bases.sh --debian)"
                    .to_string(),
            );
            continue;
        }
        for &strip in variants {
            if strip && !sc.norun {
                continue;
            }
            let dockerfile = if strip {
                Some(setup::norun_dockerfile(&dirs, sc.name).expect("norun Dockerfile"))
            } else {
                None
            };
            let run = ScenarioRun {
                dirs: &dirs,
                strata: &strata,
                buildah: buildah.as_ref(),
                sc,
                dockerfile: dockerfile.as_deref(),
                variant: if strip { "no RUN" } else { "as is" },
                fast_runs,
                slow_runs,
            };
            run.all(&mut results);
            if let Err(e) = run.clean_up() {
                panic!("e2e: {e}");
            }
        }
    }

    let load_after = measure::loadavg();
    eprintln!("e2e: /proc/loadavg after: {load_after}");
    if phases::TRASH_EMPTIED.load(std::sync::atomic::Ordering::Relaxed) {
        notes.push(format!(
            "the disk fell below {} GB free and the trash was emptied between timed builds: \
             the build after it paid for the deletion",
            setup::MIN_FREE_GB
        ));
    }
    if let Err(e) = setup::remove(&dirs.trash()) {
        eprintln!("e2e: {e}");
    }
    let table = report::markdown(&results);
    if !bench_mode {
        println!("smoke run (no --bench): one run each, with the binary of this profile");
    }
    println!("{table}");
    println!("/proc/loadavg before: {load_before}; after: {load_after}");
    if let Some(b) = &buildah {
        println!(
            "buildah: {}, storage driver {}, `bud --layers --pull=never --runtime=runc`",
            b.version,
            buildah::DRIVER
        );
    }
    for n in &notes {
        println!("note: {n}");
    }
    let json = report::json(
        &results,
        &load_before,
        &load_after,
        &notes,
        buildah.as_ref().map(|b| b.version.as_str()),
        bench_mode,
    );
    // A smoke run (debug binary, one run each) must not overwrite the benchmark's results.
    let out = dirs.work.join(if bench_mode {
        "results.json"
    } else {
        "results-smoke.json"
    });
    fs::write(&out, json).expect("write results.json");
    println!("results: {}", out.display());
    if results.iter().any(|r| r.error.is_some()) {
        std::process::exit(1);
    }
}

fn prepare(dirs: &Dirs, strata: &Path, selected: &[&Scenario]) -> Result<(), String> {
    fs::create_dir_all(&dirs.work).map_err(|e| e.to_string())?;
    // Left by an interrupted run: deleted before anything is timed (see `setup::discard`).
    setup::remove(&dirs.trash())?;
    setup::copy_scenarios(dirs)?;
    let contexts: Vec<&str> = selected.iter().filter_map(|s| s.context).collect();
    setup::gen_contexts(dirs, &contexts)?;
    let debian = selected.iter().any(|s| s.name == "s5-debian");
    setup::make_template_store(dirs, strata, debian)
}
