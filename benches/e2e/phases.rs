//! The phases of one scenario, run for strata and then for buildah (when timed) on the same
//! Dockerfile and context: cold (each tool's cache and built images gone, bases kept), no-op
//! (after one untimed warm-up build) and one-file change (the file restored, bytes and mtime,
//! after each timed build).

use std::fs;
use std::path::Path;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::SystemTime;

use crate::buildah::Buildah;
use crate::measure::{self, Timed};
use crate::report::{Measurement, Phase};
use crate::setup::{self, Dirs};
use crate::Scenario;

/// Set when the disk ran low and the trash had to be emptied between timed builds.
pub static TRASH_EMPTIED: AtomicBool = AtomicBool::new(false);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Tool {
    Strata,
    Buildah,
}

pub struct ScenarioRun<'a> {
    pub dirs: &'a Dirs,
    pub strata: &'a Path,
    pub buildah: Option<&'a Buildah>,
    pub sc: &'a Scenario,
    pub dockerfile: Option<&'a Path>,
    pub variant: &'static str,
    pub fast_runs: usize,
    pub slow_runs: Option<usize>,
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

    /// Every phase in order, strata's first and then buildah's; a failed build ends that
    /// tool's scenario (its later phases need the cache). The tools do not alternate phase by
    /// phase: buildah deletes its 20,000-file working container after every s2 build, and on
    /// this filesystem a deletion slows the file creations of the builds of the next minutes
    /// (see `setup::discard`), so strata's s2 change builds would pay for buildah's no-op ones.
    pub fn all(&self, results: &mut Vec<Measurement>) {
        eprintln!("e2e: {} ({})", self.sc.name, self.variant);
        let mut ms: Vec<Measurement> = self
            .sc
            .phases
            .iter()
            .map(|&p| Measurement::new(self.sc.name, self.variant, p))
            .collect();
        let mut failed = false;
        for m in &mut ms {
            if failed {
                m.error = Some("not run: an earlier phase failed".into());
                continue;
            }
            let mut runs = Vec::new();
            if let Err(e) = self.phase(Tool::Strata, m.phase, &mut runs) {
                eprintln!("e2e: {} {} strata: {e}", self.sc.name, m.phase.name());
                m.error = Some(e);
                failed = true;
            }
            m.times = runs.iter().map(|t| t.secs).collect();
            m.rss_kib = runs.iter().map(|t| t.max_rss_kib).collect();
            eprintln!("e2e:   {}", m.summary());
        }
        let mut failed = self.buildah.is_none();
        for m in &mut ms {
            if failed {
                continue;
            }
            let mut runs = Vec::new();
            if let Err(e) = self.phase(Tool::Buildah, m.phase, &mut runs) {
                eprintln!("e2e: {} {} buildah: {e}", self.sc.name, m.phase.name());
                m.buildah_error = Some(e);
                failed = true;
            }
            m.buildah = runs.iter().map(|t| t.secs).collect();
            m.buildah_rss_kib = runs.iter().map(|t| t.max_rss_kib).collect();
            eprintln!("e2e:   {}", m.summary());
        }
        results.extend(ms);
    }

    /// Moves both tools' working storage into the trash once the scenario is done.
    pub fn clean_up(&self) -> Result<(), String> {
        setup::discard(&self.dirs.trash(), &self.dirs.store())?;
        match self.buildah {
            Some(b) => b.remove(),
            None => Ok(()),
        }
    }

    fn phase(&self, tool: Tool, phase: Phase, out: &mut Vec<Timed>) -> Result<(), String> {
        match phase {
            Phase::Cold => {
                for _ in 0..self.runs(phase) {
                    self.reset(tool)?;
                    out.push(self.build(tool)?);
                }
            }
            Phase::Noop => {
                // Warm-up: leaves the cache as any later no-op build finds it.
                self.build(tool)?;
                for _ in 0..self.runs(phase) {
                    out.push(self.build(tool)?);
                }
            }
            Phase::Change => self.change(tool, out)?,
        }
        Ok(())
    }

    fn change(&self, tool: Tool, out: &mut Vec<Timed>) -> Result<(), String> {
        let rel = self.sc.change_file.expect("change phase names a file");
        let path = self.dirs.context(self.sc.name).join(rel);
        let original = fs::read(&path).map_err(|e| format!("{}: {e}", path.display()))?;
        let mtime = fs::metadata(&path)
            .and_then(|md| md.modified())
            .map_err(|e| e.to_string())?;
        for i in 0..self.runs(Phase::Change) {
            // The images of earlier changes are not pruned: a prune deletes a 20,000-file
            // snapshot right before the timed build, which this filesystem makes the build pay
            // for (see `setup::discard`). Each s2 change leaves ~0.8 GB per tool until the end.
            // A line no earlier run wrote, so the COPY is never a cache hit of an earlier change.
            let nonce = SystemTime::now()
                .duration_since(SystemTime::UNIX_EPOCH)
                .map(|d| d.as_nanos())
                .unwrap_or(0);
            let mut changed = original.clone();
            changed.extend_from_slice(format!("bench change {i} {nonce}\n").as_bytes());
            fs::write(&path, &changed).map_err(|e| e.to_string())?;
            let t = self.build(tool);
            restore(&path, &original, mtime)?;
            out.push(t?);
        }
        Ok(())
    }

    fn buildah(&self) -> &Buildah {
        self.buildah
            .expect("buildah phases run only when buildah is timed")
    }

    /// The tool's cold state: no build cache, no built images, the bases kept.
    fn reset(&self, tool: Tool) -> Result<(), String> {
        if setup::ensure_space(self.dirs)? {
            eprintln!("e2e: WARNING: disk low, the trash was emptied mid-run");
            TRASH_EMPTIED.store(true, Ordering::Relaxed);
        }
        match tool {
            Tool::Strata => setup::fresh_store(self.dirs),
            Tool::Buildah => self.buildah().fresh(&[self.sc.base]),
        }
    }

    /// One timed build, from spawn to exit, with its peak RSS.
    fn build(&self, tool: Tool) -> Result<Timed, String> {
        let ctx = self.dirs.context(self.sc.name);
        let tag = format!("bench/{}", self.sc.name);
        if tool == Tool::Buildah {
            let b = self.buildah();
            let mut cmd = b.build(&ctx, self.dockerfile, &tag);
            return measure::run(&mut cmd, "buildah bud", &b.log());
        }
        let mut cmd = Command::new(self.strata);
        cmd.env("STRATA_ROOT", self.dirs.store())
            .args(["build", "-q", "-t", &tag]);
        if let Some(f) = self.dockerfile {
            cmd.arg("-f").arg(f);
        }
        cmd.arg(&ctx);
        let log = self.dirs.work.join("strata-stderr.log");
        measure::run(&mut cmd, "strata build", &log)
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
