//! End-to-end `strata build` benchmark over the scenarios of `../shared/bench` (see its
//! README): cold build, no-op rebuild and one-file change, wall time of the release binary
//! (`CARGO_BIN_EXE_strata`, which `cargo bench` builds in release) from spawn to exit, next to
//! the README's BuildKit and buildah medians.
//!
//! `cargo bench --bench e2e [-- FILTER…]` runs the scenarios whose name contains a FILTER
//! (`s1`, `s2-bigctx`, …; all when none is given). Fixtures live under `target/bench-e2e/`:
//! a writable copy of the scenarios, their contexts (generated once by `gen-contexts.py`, then
//! reused), a template store holding only the `busybox` base (rebuilt on every invocation from
//! /bin/busybox), and the working store. Results are printed as a markdown table and written to
//! `target/bench-e2e/results.json`, with `/proc/loadavg` before and after.
//!
//! Phases: "cold" = a fresh copy of the base-only store (no build cache, no stat cache, no built
//! images; page cache warm), "no-op" = the same build again (after one untimed warm-up build),
//! "change" = a unique line appended to the file the README names, then the file restored
//! (bytes and mtime) after the timed build.
//!
//! Environment:
//! - `STRATA_BENCH_RUNS=N`: runs of the fast phases (default 5: every no-op, and all of s1);
//! - `STRATA_BENCH_SLOW_RUNS=N`: runs of the slow ones (default 3; s4 cold: 1);
//! - `STRATA_BENCH_NORUN=1`: s1 and s2 also with their RUN lines removed (`only`: just that);
//! - `STRATA_BENCH_DEBIAN_ROOTFS=PATH`: a debian rootfs (tarball or directory, from
//!   `make-bases.sh --debian`) imported as `debian`. s5-debian is skipped, with a note, unless
//!   the template store then has a `debian` image.
//!
//! Without `--bench` (as `cargo test --benches` runs it) this is a smoke run: s1, one run each,
//! written to `results-smoke.json` instead.

#[path = "e2e/report.rs"]
mod report;
#[path = "e2e/setup.rs"]
mod setup;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Instant, SystemTime};

use report::{Measurement, Phase};
use setup::Dirs;

/// A scenario: its directory, the phases the README lists, whether a RUN-less variant makes
/// sense, and the file the one-file change appends to.
struct Scenario {
    name: &'static str,
    phases: &'static [Phase],
    norun: bool,
    change_file: Option<&'static str>,
    /// Cold (and change) builds take seconds: fewer runs.
    slow: bool,
    context: Option<&'static str>,
}

const SCENARIOS: &[Scenario] = &[
    Scenario {
        name: "s1-small",
        phases: &[Phase::Cold, Phase::Noop, Phase::Change],
        norun: true,
        change_file: Some("src/pkg00/mod0000.txt"),
        slow: false,
        context: Some("s1"),
    },
    Scenario {
        name: "s2-bigctx",
        phases: &[Phase::Cold, Phase::Noop, Phase::Change],
        norun: true,
        change_file: Some("files/d00/e0/f00001.txt"),
        slow: true,
        context: Some("s2"),
    },
    Scenario {
        name: "s3-parallel",
        phases: &[Phase::Cold],
        norun: false,
        change_file: None,
        slow: true,
        context: None,
    },
    Scenario {
        name: "s4-biglayer",
        phases: &[Phase::Cold],
        norun: false,
        change_file: None,
        slow: true,
        context: None,
    },
    Scenario {
        name: "s5-debian",
        phases: &[Phase::Cold, Phase::Noop],
        norun: false,
        change_file: None,
        slow: true,
        context: None,
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
    let load_before = loadavg();
    eprintln!("e2e: strata = {}", strata.display());
    eprintln!("e2e: /proc/loadavg before: {load_before}");
    if let Err(e) = prepare(&dirs, &strata, &selected) {
        panic!("e2e: cannot prepare the fixtures: {e}");
    }

    let mut results = Vec::new();
    let mut notes = Vec::new();
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
                sc,
                dockerfile: dockerfile.as_deref(),
                variant: if strip { "no RUN" } else { "as is" },
                fast_runs,
                slow_runs,
            };
            run.all(&mut results);
        }
        setup::remove(&dirs.store()).expect("remove the working store");
    }

    let load_after = loadavg();
    eprintln!("e2e: /proc/loadavg after: {load_after}");
    let table = report::markdown(&results);
    if !bench_mode {
        println!("smoke run (no --bench): one run each, with the binary of this profile");
    }
    println!("{table}");
    println!("/proc/loadavg before: {load_before}; after: {load_after}");
    for n in &notes {
        println!("note: {n}");
    }
    let json = report::json(&results, &load_before, &load_after, &notes, bench_mode);
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
    setup::copy_scenarios(dirs)?;
    let contexts: Vec<&str> = selected.iter().filter_map(|s| s.context).collect();
    setup::gen_contexts(dirs, &contexts)?;
    setup::make_template_store(dirs, strata)
}

fn loadavg() -> String {
    fs::read_to_string("/proc/loadavg")
        .map(|s| s.trim().to_string())
        .unwrap_or_else(|e| format!("unreadable: {e}"))
}

struct ScenarioRun<'a> {
    dirs: &'a Dirs,
    strata: &'a Path,
    sc: &'a Scenario,
    dockerfile: Option<&'a Path>,
    variant: &'static str,
    fast_runs: usize,
    slow_runs: Option<usize>,
}

impl ScenarioRun<'_> {
    fn runs(&self, phase: Phase) -> usize {
        let slow = self.sc.slow && phase != Phase::Noop;
        if !slow {
            return self.fast_runs;
        }
        self.slow_runs
            .unwrap_or(if self.sc.name == "s4-biglayer" { 1 } else { 3 })
    }

    /// Every phase in order; a failed build ends the scenario (later phases need its cache).
    fn all(&self, results: &mut Vec<Measurement>) {
        eprintln!("e2e: {} ({})", self.sc.name, self.variant);
        for &phase in self.sc.phases {
            let mut m = Measurement::new(self.sc.name, self.variant, phase);
            let r = match phase {
                Phase::Cold => self.cold(&mut m),
                Phase::Noop => self.noop(&mut m),
                Phase::Change => self.change(&mut m),
            };
            if let Err(e) = &r {
                eprintln!("e2e: {} {}: {e}", self.sc.name, phase.name());
                m.error = Some(e.clone());
            }
            eprintln!("e2e:   {}", m.summary());
            results.push(m);
            if r.is_err() {
                break;
            }
        }
    }

    fn cold(&self, m: &mut Measurement) -> Result<(), String> {
        for _ in 0..self.runs(Phase::Cold) {
            setup::fresh_store(self.dirs)?;
            m.times.push(self.build()?);
        }
        Ok(())
    }

    fn noop(&self, m: &mut Measurement) -> Result<(), String> {
        // Warm-up: leaves the cache and stat cache as any later no-op build finds them.
        self.build()?;
        for _ in 0..self.runs(Phase::Noop) {
            m.times.push(self.build()?);
        }
        Ok(())
    }

    fn change(&self, m: &mut Measurement) -> Result<(), String> {
        let rel = self.sc.change_file.expect("change phase names a file");
        let path = self.dirs.context(self.sc.name).join(rel);
        let original = fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mtime = fs::metadata(&path)
            .and_then(|md| md.modified())
            .map_err(|e| e.to_string())?;
        for i in 0..self.runs(Phase::Change) {
            // Each change writes a new context layer (400 MB in s2): drop the untagged images
            // of earlier runs so the disk does not fill. The base stays (it is tagged), and
            // the changed COPY misses the cache either way.
            self.prune()?;
            // A line no earlier run wrote, so the COPY is never a cache hit of an earlier change.
            let nonce = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let mut changed = original.clone();
            changed.extend_from_slice(format!("bench change {i} {nonce}\n").as_bytes());
            fs::write(&path, &changed).map_err(|e| e.to_string())?;
            let t = self.build();
            restore(&path, &original, mtime)?;
            m.times.push(t?);
        }
        Ok(())
    }

    fn prune(&self) -> Result<(), String> {
        let out = Command::new(self.strata)
            .env("STRATA_ROOT", self.dirs.store())
            .args(["system", "prune", "-f"])
            .output()
            .map_err(|e| format!("spawn strata: {e}"))?;
        if !out.status.success() {
            return Err(format!(
                "strata system prune failed: {}",
                String::from_utf8_lossy(&out.stderr).trim_end()
            ));
        }
        Ok(())
    }

    /// One timed `strata build`, from spawn to exit.
    fn build(&self) -> Result<f64, String> {
        let ctx = self.dirs.context(self.sc.name);
        let mut cmd = Command::new(self.strata);
        cmd.env("STRATA_ROOT", self.dirs.store())
            .args(["build", "-q", "-t"])
            .arg(format!("bench/{}", self.sc.name));
        if let Some(f) = self.dockerfile {
            cmd.arg("-f").arg(f);
        }
        cmd.arg(&ctx);
        let t0 = Instant::now();
        let out = cmd.output().map_err(|e| format!("spawn strata: {e}"))?;
        let secs = t0.elapsed().as_secs_f64();
        if !out.status.success() {
            return Err(format!(
                "strata build failed ({}): {}",
                out.status,
                String::from_utf8_lossy(&out.stderr).trim_end()
            ));
        }
        Ok(secs)
    }
}

fn restore(path: &Path, bytes: &[u8], mtime: SystemTime) -> Result<(), String> {
    fs::write(path, bytes).map_err(|e| format!("restore {}: {e}", path.display()))?;
    fs::File::options()
        .write(true)
        .open(path)
        .and_then(|f| f.set_modified(mtime))
        .map_err(|e| format!("restore the mtime of {}: {e}", path.display()))
}
