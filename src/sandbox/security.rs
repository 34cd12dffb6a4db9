//! What a sandbox's processes may do, as data in the spec: capabilities, the seccomp policy,
//! no_new_privs, privileged mode and extra devices. Compiling the policy is pure and done by the
//! caller before any fork; the forked side only installs it (`user::switch_to`).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::devices::DEFAULT_CAPS;
use super::error::SandboxError;
use super::seccomp::{self, Profile};

use super::seccomp::CAP_LAST_CAP as LAST_CAP;

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(default)]
pub struct Security {
    /// Root's capabilities in the sandbox: bounding, permitted and effective set. Inheritable
    /// and ambient sets are always empty, whatever the caller had.
    pub caps: Vec<u32>,
    /// `--privileged`: every capability, no seccomp filter, no masked paths, devices allowed.
    pub privileged: bool,
    /// `--security-opt no-new-privileges`: setuid binaries and file capabilities grant nothing.
    pub no_new_privileges: bool,
    pub seccomp: SeccompPolicy,
    /// `--device`: host device nodes bound into the sandbox's `/dev`.
    pub devices: Vec<Device>,
    /// `--device-cgroup-rule`: more `devices.allow` lines (`c 1:3 rwm`), as given; checked
    /// at start (`device_rules::check_cgroup_rules`), as dockerd checks them.
    pub device_cgroup_rules: Vec<String>,
}

impl Default for Security {
    fn default() -> Self {
        Security {
            caps: DEFAULT_CAPS.to_vec(),
            privileged: false,
            no_new_privileges: false,
            seccomp: SeccompPolicy::Default,
            devices: Vec::new(),
            device_cgroup_rules: Vec::new(),
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub enum SeccompPolicy {
    /// Docker's default profile, with the rules the capability set enables.
    Default,
    /// `seccomp=unconfined`: no filter.
    Unconfined,
    /// A profile in Docker's JSON format (the file's text, so the spec is self-contained).
    Profile(String),
}

/// `--device HOST[:CONTAINER][:PERMISSIONS]`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Device {
    pub host: PathBuf,
    pub container: PathBuf,
    /// Some of `rwm`: `w` missing makes the node read-only in the sandbox.
    pub permissions: String,
}

impl Security {
    /// Every capability (`--privileged`).
    pub fn all_caps() -> Vec<u32> {
        (0..=LAST_CAP).collect()
    }

    /// The seccomp programs to install, compiled for this capability set; none when
    /// unconfined or privileged.
    ///
    /// The default profile's programs are kept per capability set for the life of the
    /// process: a build compiles it once for all its RUN steps, and `run` compiles it while
    /// the container's cgroup is being made, off the path to the sandbox's fork.
    pub fn filters(&self) -> Result<Vec<Vec<libc::sock_filter>>, SandboxError> {
        type Compiled = Vec<(Vec<u32>, Vec<Vec<libc::sock_filter>>)>;
        static DEFAULT_BY_CAPS: std::sync::Mutex<Compiled> = std::sync::Mutex::new(Vec::new());
        if bench_unhardened() {
            return Ok(Vec::new());
        }
        let invalid = |e| SandboxError::InvalidSpec(format!("seccomp profile: {e}"));
        match (&self.seccomp, self.privileged) {
            (_, true) | (SeccompPolicy::Unconfined, _) => Ok(Vec::new()),
            (SeccompPolicy::Profile(text), _) => {
                let profile = Profile::from_json(text).map_err(invalid)?;
                seccomp::compile(&profile, &self.caps).map_err(invalid)
            }
            (SeccompPolicy::Default, _) => {
                let mut known = DEFAULT_BY_CAPS.lock().unwrap_or_else(|p| p.into_inner());
                if let Some((_, programs)) = known.iter().find(|(caps, _)| *caps == self.caps) {
                    return Ok(programs.clone());
                }
                let programs = seccomp::compile_default(&self.caps).map_err(invalid)?;
                known.push((self.caps.clone(), programs.clone()));
                Ok(programs)
            }
        }
    }
}

impl Security {
    /// What the forked side applies, with the programs `filters` compiled before the fork.
    pub fn privileges<'a>(&'a self, seccomp: &'a [Vec<libc::sock_filter>]) -> Privileges<'a> {
        Privileges {
            caps: &self.caps,
            no_new_privs: self.no_new_privileges,
            seccomp,
        }
    }
}

/// `STRATA_BENCH_UNHARDENED=1`: no seccomp filter and no per-sandbox cgroup, for
/// `benches/hardening.rs` to measure what they cost. Never set outside that bench.
pub fn bench_unhardened() -> bool {
    std::env::var_os("STRATA_BENCH_UNHARDENED").is_some_and(|v| v == "1")
}

/// What the forked side applies when dropping privileges (borrowed, computed before the fork).
#[derive(Debug, Clone, Copy)]
pub struct Privileges<'a> {
    pub caps: &'a [u32],
    pub no_new_privs: bool,
    pub seccomp: &'a [Vec<libc::sock_filter>],
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn privileged_and_unconfined_compile_to_no_filter() {
        let mut s = Security {
            seccomp: SeccompPolicy::Unconfined,
            ..Security::default()
        };
        assert!(s.filters().unwrap().is_empty());
        s.seccomp = SeccompPolicy::Default;
        assert!(!s.filters().unwrap().is_empty());
        s.privileged = true;
        assert!(s.filters().unwrap().is_empty());
    }
}
