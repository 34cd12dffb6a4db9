//! A RUN step's own cgroup, `strata/build-<random>` (on v1 in the `pids` hierarchy only, see
//! `STEP_CONTROLLERS_V1`): made before the step's sandbox starts (its helper joins it first,
//! so every process of the step is in it) and removed when the step ends, however it ends.
//! Without root or cgroups the step runs without one, as before.

use std::path::PathBuf;
use std::sync::OnceLock;

use crate::sandbox::cgroup::{self, Cgroup, Layout};

/// Owns the cgroup; dropping it removes it.
pub struct StepCgroup(Option<Cgroup>);

impl StepCgroup {
    pub fn create() -> StepCgroup {
        // Read once per process: a build makes one cgroup per RUN.
        static LAYOUT: OnceLock<Option<Layout>> = OnceLock::new();
        if !nix::unistd::geteuid().is_root() || crate::sandbox::security::bench_unhardened() {
            return StepCgroup(None);
        }
        let layout = LAYOUT.get_or_init(|| {
            let layout = Layout::detect().ok().map(step_layout)?;
            // Once per process: the groups of steps a killed strata was running.
            cgroup::remove_idle_children(&layout, "strata", is_step_group, ORPHAN_AGE);
            Some(layout)
        });
        let name = format!("strata/{STEP_PREFIX}{}", &crate::util::random_id()[..16]);
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

const STEP_PREFIX: &str = "build-";

/// How old an empty step group must be for a later build to take it for a killed one's.
const ORPHAN_AGE: std::time::Duration = std::time::Duration::from_secs(30);

fn is_step_group(name: &str) -> bool {
    name.strip_prefix(STEP_PREFIX).is_some_and(|hex| {
        hex.len() == 16 && hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
    })
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_step_group_names_are_taken() {
        for (name, taken) in [
            ("build-0123456789abcdef", true),
            ("build-0123456789abcde", false),
            ("build-0123456789abcdeg", false),
            ("build-0123456789ABCDEF", false),
            ("0123456789abcdef", false),
            (&"a".repeat(64), false),
        ] {
            assert_eq!(is_step_group(name), taken, "{name}");
        }
    }
}
