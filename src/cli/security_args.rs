//! `--cap-add`, `--cap-drop`, `--privileged`, `--security-opt` and `--device` of `run` and
//! `create`, resolved into the sandbox's `Security` (exec takes the capability flags only).

use anyhow::Result;
use clap::Args;

use crate::sandbox::security::{self, Security};

#[derive(Debug, Args, Default)]
pub struct SecurityArgs {
    /// Add Linux capabilities (`NET_ADMIN`, `CAP_SYS_TIME`, `ALL`).
    #[arg(long = "cap-add", value_name = "CAP")]
    pub cap_add: Vec<String>,
    /// Drop Linux capabilities (`ALL` for every one).
    #[arg(long = "cap-drop", value_name = "CAP")]
    pub cap_drop: Vec<String>,
    /// Give extended privileges: every capability, no seccomp filter, devices allowed.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set, default_value = "false")]
    pub privileged: bool,
    /// Security options: `seccomp=unconfined`, `seccomp=PROFILE.json`, `no-new-privileges`.
    #[arg(long = "security-opt", value_name = "OPT")]
    pub security_opt: Vec<String>,
    /// Add a host device (`HOST[:CONTAINER][:rwm]`).
    #[arg(long = "device", value_name = "DEVICE")]
    pub device: Vec<String>,
}

impl SecurityArgs {
    pub fn resolve(&self) -> Result<Security> {
        let mut sec = Security {
            caps: security::resolve_caps(&self.cap_add, &self.cap_drop)?,
            ..Security::default()
        };
        for opt in &self.security_opt {
            security::apply_opt(&mut sec, opt)?;
        }
        for d in &self.device {
            let dev = security::parse_device(d)?;
            if !dev.host.exists() {
                anyhow::bail!(
                    "error gathering device information while adding custom device {:?}: no such file or directory",
                    dev.host.display().to_string()
                );
            }
            sec.devices.push(dev);
        }
        if self.privileged {
            sec.privileged = true;
            sec.caps = Security::all_caps();
        }
        Ok(sec)
    }
}

/// Exec's flags over the container's own set: `--privileged` gives every capability and no
/// filter; `--cap-add`/`--cap-drop` change the container's set.
#[derive(Debug, Args, Default)]
pub struct ExecSecurityArgs {
    #[arg(long = "cap-add", value_name = "CAP")]
    pub cap_add: Vec<String>,
    #[arg(long = "cap-drop", value_name = "CAP")]
    pub cap_drop: Vec<String>,
    /// Give extended privileges to the command.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set, default_value = "false")]
    pub privileged: bool,
}

impl ExecSecurityArgs {
    pub fn apply(&self, container: &Security) -> Result<Security> {
        let mut sec = container.clone();
        if self.privileged {
            sec.privileged = true;
            sec.caps = Security::all_caps();
            return Ok(sec);
        }
        sec.caps = security::adjust_caps(&sec.caps, &self.cap_add, &self.cap_drop)?;
        Ok(sec)
    }
}
