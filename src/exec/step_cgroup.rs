//! A RUN step's own cgroup, `strata/build-<random>` (on v1 in the `pids` hierarchy only, see
//! `STEP_CONTROLLERS_V1`): made before the step's sandbox starts (its helper joins it first,
//! so every process of the step is in it) and removed when the step ends, however it ends.
//! Without root or cgroups the step runs without one, as before.

use std::path::PathBuf;
use std::sync::OnceLock;

use crate::sandbox::cgroup::{Cgroup, Layout};

/// Owns the cgroup; dropping it removes it.
pub struct StepCgroup(Option<Cgroup>);

impl StepCgroup {
    pub fn create() -> StepCgroup {
        // Read once per process: a build makes one cgroup per RUN.
        static LAYOUT: OnceLock<Option<Layout>> = OnceLock::new();
        if !nix::unistd::geteuid().is_root() || crate::sandbox::security::bench_unhardened() {
            return StepCgroup(None);
        }
        let layout = LAYOUT.get_or_init(|| Layout::detect().ok().map(step_layout));
        let name = format!("strata/build-{}", &crate::util::random_id()[..16]);
        StepCgroup(layout.as_ref().and_then(|l| Cgroup::create(l, &name).ok()))
    }

    /// The `cgroup.procs` files the sandbox joins (`Spec::cgroup_procs`).
    pub fn procs(&self) -> Vec<PathBuf> {
        self.0.as_ref().map_or_else(Vec::new, |cg| {
            cg.paths()
                .into_iter()
                .map(|p| p.join("cgroup.procs"))
                .collect()
        })
    }
}

/// The v1 hierarchies a step gets a cgroup in: `pids` holds every process of the step, and a
/// RUN has no limit to set. Each more hierarchy costs a directory made and removed per step,
/// and a `cpu` group of its own changes how the scheduler weighs the step against the host's
/// other work (builds were measurably slower on a busy host with all six).
const STEP_CONTROLLERS_V1: &[&str] = &["pids"];

fn step_layout(layout: Layout) -> Layout {
    match layout {
        Layout::V1 { mut controllers } => {
            controllers.retain(|c, _| STEP_CONTROLLERS_V1.contains(&c.as_str()));
            Layout::V1 { controllers }
        }
        v2 => v2,
    }
}

impl Drop for StepCgroup {
    fn drop(&mut self) {
        if let Some(cg) = &self.0 {
            // The sandbox's PID 1 killed everything before it ended, so this only waits for
            // exiting processes; a failure leaves an empty cgroup, never a failed build.
            let _ = cg.remove();
        }
    }
}
