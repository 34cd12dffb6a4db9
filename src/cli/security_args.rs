//! `--cap-add`, `--cap-drop` and `--privileged` (run, create and exec) and `--security-opt`,
//! `--device` (run and create), as typed; `sandbox::security_flags` resolves them.

use clap::Args;

use crate::sandbox::device_rules::cgroup_rule_valid;
use crate::sandbox::security_flags::SecurityFlags;

/// The capability flags `exec` takes too.
#[derive(Debug, Args, Default)]
pub struct CapArgs {
    /// Add Linux capabilities (`NET_ADMIN`, `CAP_SYS_TIME`, `ALL`).
    #[arg(long = "cap-add", value_name = "CAP")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities (`ALL` for every one).
    #[arg(long = "cap-drop", value_name = "CAP")]
    pub cap_drop: Vec<String>,
    /// Give extended privileges: every capability, no seccomp filter, devices allowed.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set, default_value = "false")]
    pub privileged: bool,
}

#[derive(Debug, Args, Default)]
pub struct SecurityArgs {
    #[command(flatten)]
    pub caps: CapArgs,
    /// Security options: `seccomp=unconfined`, `seccomp=PROFILE.json`, `no-new-privileges`.
    #[arg(long = "security-opt", value_name = "OPT")]
    pub security_opt: Vec<String>,
    /// Add a host device (`HOST[:CONTAINER][:rwm]`).
    #[arg(long = "device", value_name = "DEVICE")]
    pub device: Vec<String>,
    /// Add a rule to the cgroup's allowed devices list (`c 1:3 rwm`, `a *:* r`).
    #[arg(long = "device-cgroup-rule", value_name = "RULE")]
    pub device_cgroup_rule: Vec<String>,
}

impl CapArgs {
    pub fn flags(&self) -> SecurityFlags {
        SecurityFlags {
            cap_add: self.cap_add.clone(),
            cap_drop: self.cap_drop.clone(),
            privileged: self.privileged,
            ..SecurityFlags::default()
        }
    }
}

impl SecurityArgs {
    /// The flags; a malformed `--device-cgroup-rule` is refused in the docker CLI's words.
    pub fn flags(&self) -> anyhow::Result<SecurityFlags> {
        for rule in &self.device_cgroup_rule {
            if !cgroup_rule_valid(rule) {
                anyhow::bail!(
                    "invalid argument {rule:?} for \"--device-cgroup-rule\" flag: invalid device \
                     cgroup format '{rule}'"
                );
            }
        }
        Ok(SecurityFlags {
            security_opt: self.security_opt.clone(),
            device: self.device.clone(),
            device_cgroup_rules: self.device_cgroup_rule.clone(),
            ..self.caps.flags()
        })
    }
}
