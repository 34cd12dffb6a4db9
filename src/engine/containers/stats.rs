//! `stats`: readings of a container's cgroup (CPU, memory, PIDs, block I/O) and network
//! namespace, taken one at a time; what `docker stats` and `strata stats` show is computed
//! from two of them. A container that is not running gives a reading without a sample.

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use super::archive::rfc3339_nanos;
use super::error::Result;
use crate::container::record::Status;
use crate::container::stats_view::{self, NetCounters, Sample};
use crate::container::{cgroups, Container, Containers};
use crate::sandbox::cgroup;

/// One reading of one container.
#[derive(Debug, Clone)]
pub struct Reading {
    /// When it was taken, RFC 3339 with nanoseconds.
    pub read: String,
    /// `None` when the container is not running (or its cgroup is gone).
    pub sample: Option<Sample>,
    pub online_cpus: u32,
    /// The host's memory, the limit shown for a container without one.
    pub host_memory: u64,
    /// Each interface of its network namespace (none on the host's network or none).
    pub networks: Vec<(String, NetCounters)>,
}

/// Takes readings of one container.
#[derive(Debug, Clone)]
pub struct StatsSource {
    root: PathBuf,
    pub container: Container,
}

impl StatsSource {
    /// The container `query` names.
    pub fn open(root: &Path, query: &str) -> Result<StatsSource> {
        let c = Containers::new(root).find(query)?;
        Ok(StatsSource {
            root: root.to_path_buf(),
            container: c,
        })
    }

    /// For a container already found (a listing).
    pub fn of(root: &Path, container: Container) -> StatsSource {
        StatsSource {
            root: root.to_path_buf(),
            container,
        }
    }

    /// A reading now; the container's record is refreshed first (it may have stopped).
    pub fn read(&mut self) -> Reading {
        if let Ok(c) = Containers::new(&self.root).get_reconciled(&self.container.id) {
            self.container = c;
        }
        let now = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .unwrap_or_default();
        let sample = (self.container.state.status == Status::Running)
            .then(|| cgroups::sample(&self.container).ok())
            .flatten();
        let c = &self.container;
        let own_network = !matches!(&c.config.net.mode[..], "host" | "none");
        let networks = match c.state.pid {
            Some(p) if own_network && sample.is_some() => {
                stats_view::net_counters(p.pid).unwrap_or_default()
            }
            _ => Vec::new(),
        };
        Reading {
            networks,
            read: rfc3339_nanos(now.as_secs() as i64, i64::from(now.subsec_nanos())),
            sample,
            online_cpus: cgroup::online_cpus(),
            host_memory: stats_view::host_memory().unwrap_or(0),
        }
    }
}
