//! The resource-limit flags of `run`/`create` (`ResourceArgs`) and of `update` (`LimitArgs`,
//! the cgroup ones only, as Docker's `update` has no `--ulimit` or `--shm-size`): held as
//! typed, then parsed into `Resources` (the engine applies the daemon's checks and defaults).

use anyhow::Result;
use clap::Args;

use crate::container::resources::{self, Flags, Resources};

/// The limits `update` can change too.
#[derive(Debug, Clone, Default, Args)]
pub struct LimitArgs {
    /// Memory limit (`512m`, `1g`; units b, k, m, g, t, p).
    #[arg(short = 'm', long, value_name = "bytes")]
    pub memory: Option<String>,
    /// Memory plus swap (`-1`: unlimited swap; twice --memory by default).
    #[arg(long = "memory-swap", value_name = "bytes", allow_hyphen_values = true)]
    pub memory_swap: Option<String>,
    /// Number of CPUs (`0.5`).
    #[arg(long, value_name = "decimal", allow_hyphen_values = true)]
    pub cpus: Option<String>,
    /// CPU shares (relative weight).
    #[arg(
        short = 'c',
        long = "cpu-shares",
        value_name = "int",
        allow_hyphen_values = true
    )]
    pub cpu_shares: Option<String>,
    /// Tune container pids limit (`-1` for unlimited).
    #[arg(long = "pids-limit", value_name = "int", allow_hyphen_values = true)]
    pub pids_limit: Option<String>,
    /// CPUs in which to allow execution (`0-3`, `0,1`).
    #[arg(long = "cpuset-cpus", value_name = "string")]
    pub cpuset_cpus: Option<String>,
    /// Memory nodes in which to allow execution (`0-3`, `0,1`).
    #[arg(long = "cpuset-mems", value_name = "string")]
    pub cpuset_mems: Option<String>,
}

/// `run`/`create`'s limits.
#[derive(Debug, Clone, Default, Args)]
pub struct ResourceArgs {
    #[command(flatten)]
    pub limits: LimitArgs,
    /// Ulimit options (`nofile=1024:2048`); repeatable.
    #[arg(long, value_name = "ulimit")]
    pub ulimit: Vec<String>,
    /// Size of /dev/shm (64m by default).
    #[arg(long = "shm-size", value_name = "bytes")]
    pub shm_size: Option<String>,
}

impl LimitArgs {
    fn flags<'a>(&'a self, ulimits: &'a [String], shm_size: Option<&'a str>) -> Flags<'a> {
        Flags {
            memory: self.memory.as_deref(),
            memory_swap: self.memory_swap.as_deref(),
            cpus: self.cpus.as_deref(),
            cpu_shares: self.cpu_shares.as_deref(),
            pids_limit: self.pids_limit.as_deref(),
            ulimits,
            shm_size,
            cpuset_cpus: self.cpuset_cpus.as_deref(),
            cpuset_mems: self.cpuset_mems.as_deref(),
        }
    }

    /// Whether any was given (Docker's `update` wants at least one flag).
    pub fn any(&self) -> bool {
        let l = self;
        [
            &l.memory,
            &l.memory_swap,
            &l.cpus,
            &l.cpu_shares,
            &l.pids_limit,
            &l.cpuset_cpus,
            &l.cpuset_mems,
        ]
        .iter()
        .any(|v| v.is_some())
    }

    /// The values given, parsed (`update` merges them into the container's).
    pub fn parse(&self) -> Result<Resources> {
        Ok(resources::parse(&self.flags(&[], None))?)
    }
}

impl ResourceArgs {
    /// The container's limits as given, parsed (the engine checks them against the host and
    /// defaults them as the daemon does at create).
    pub fn parse(&self) -> Result<Resources> {
        let flags = self.limits.flags(&self.ulimit, self.shm_size.as_deref());
        Ok(resources::parse(&flags)?)
    }
}
