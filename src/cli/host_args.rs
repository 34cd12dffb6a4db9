//! `run`/`create`'s flags for how the container is run (`--pid`, `--runtime`, `--isolation`,
//! `--storage-opt`) and `--mac-address`, as typed; checked as the docker CLI checks them
//! before it asks the daemon, the rest left to the engine.

use anyhow::{bail, Result};
use clap::Args;

use crate::container::host_options::{check_pid_flag, HostRequest};

#[derive(Debug, Args, Default)]
pub struct HostArgs {
    /// PID namespace to use: `host`, or `container:NAME|ID` (another container's).
    #[arg(long, value_name = "MODE")]
    pub pid: Option<String>,
    /// Runtime to use for this container (`runc`: strata itself).
    #[arg(long, value_name = "NAME")]
    pub runtime: Option<String>,
    /// Container isolation technology (`default`, the only one on Linux).
    #[arg(long, value_name = "KIND")]
    pub isolation: Option<String>,
    /// Storage driver options (`size=…` is refused: no project quotas).
    #[arg(long = "storage-opt", value_name = "KEY=VALUE")]
    pub storage_opt: Vec<String>,
    /// Container MAC address on its network (`92:d0:c6:0a:29:33`).
    #[arg(long = "mac-address", value_name = "MAC")]
    pub mac_address: Option<String>,
}

impl HostArgs {
    /// The settings for the engine; a malformed `--pid` or `--storage-opt` is refused in the
    /// docker CLI's words.
    pub fn request(&self) -> Result<HostRequest> {
        if let Some(p) = &self.pid {
            check_pid_flag(p).map_err(anyhow::Error::msg)?;
        }
        let mut storage_opt = std::collections::BTreeMap::new();
        for o in &self.storage_opt {
            let Some((k, v)) = o.split_once('=') else {
                bail!("invalid storage option");
            };
            storage_opt.insert(k.to_string(), v.to_string());
        }
        Ok(HostRequest {
            pid_mode: self.pid.clone(),
            runtime: self.runtime.clone(),
            isolation: self.isolation.clone(),
            storage_opt,
        })
    }

    /// `--mac-address`, checked and in the canonical form.
    pub fn mac(&self) -> Result<Option<String>> {
        match self.mac_address.as_deref().filter(|m| !m.is_empty()) {
            None => Ok(None),
            Some(m) => match crate::network::netlink::canonical_mac(m) {
                Some(mac) => Ok(Some(mac)),
                None => bail!("{m} is not a valid mac address"),
            },
        }
    }
}
