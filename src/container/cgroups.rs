//! A container's own cgroup, `strata/<id>` in every controller: made with its limits when it
//! starts (the sandbox joins it before the command runs), read for OOM kills and removed when
//! it ends. `update` changes its limits; `pause`, `stats` and `top` read and drive it.

use std::path::PathBuf;

use super::cgroup_limits;
use super::error::ContainerError;
use super::record::{Container, Status};
use super::resources::{self, Resources};
use super::stats_view::{self, Ident, NetBytes, Sample, StatsRow};
use super::store::Containers;
use crate::sandbox::cgroup::{self, Cgroup, Layout};

fn rel(id: &str) -> String {
    format!("strata/{id}")
}

/// The `cgroup.procs` files of the cgroup a container about to start is to join, without
/// making it (`make` does, meanwhile). Without root (or without cgroups here) a container
/// that asks for no limit runs without a cgroup, so without pause and stats: none; one that
/// asks for limits fails.
pub fn planned(id: &str, limits: &Resources) -> Result<Vec<PathBuf>, ContainerError> {
    let wanted = limits.limits_cgroup();
    if !wanted && crate::sandbox::security::bench_unhardened() {
        return Ok(Vec::new());
    }
    if !nix::unistd::geteuid().is_root() {
        if wanted {
            return Err(ContainerError::Limits {
                id: id.to_string(),
                detail: "resource limits need root (strata cannot manage cgroups here)".into(),
            });
        }
        return Ok(Vec::new());
    }
    match Layout::detect().and_then(|l| Cgroup::at(&l, &rel(id))) {
        Ok(cg) => Ok(procs_files(&cg)),
        Err(e) if wanted => Err(cgroup_err(id, e)),
        Err(_) => Ok(Vec::new()),
    }
}

/// Makes the cgroup `planned` named and sets its limits. `Ok(false)`: it could not be made
/// and the container, asking for no limit, runs without it.
pub fn make(id: &str, limits: &Resources) -> Result<bool, ContainerError> {
    let wanted = limits.limits_cgroup();
    let cg = match Layout::detect().and_then(|l| Cgroup::create(&l, &rel(id))) {
        Ok(cg) => cg,
        Err(e) if wanted => return Err(cgroup_err(id, e)),
        Err(_) => return Ok(false),
    };
    if wanted {
        cg.set(&limit_writes(&cg, limits, None))
            .map_err(|e| cgroup_err(id, e))?;
    }
    Ok(true)
}

fn procs_files(cg: &Cgroup) -> Vec<PathBuf> {
    cg.paths()
        .into_iter()
        .map(|p| p.join("cgroup.procs"))
        .collect()
}

fn cgroup_err(id: &str, e: cgroup::CgroupError) -> ContainerError {
    ContainerError::Cgroup {
        id: id.to_string(),
        source: Box::new(e),
    }
}

/// The writes that put `limits` in force in `cg`, whose memory limit is `current` now.
fn limit_writes(cg: &Cgroup, limits: &Resources, current: Option<u64>) -> Vec<cgroup::Write> {
    let swap = if cg.is_v2() {
        cg.has_file("memory", "memory.swap.max")
    } else {
        cg.has_file("memory", "memory.memsw.limit_in_bytes")
    };
    let target = cgroup_limits::Target {
        v2: cg.is_v2(),
        swap,
        current_memory: current,
    };
    cgroup_limits::writes(limits, target)
}

/// Whether the OOM killer killed a process of the container (read before `remove`).
pub fn oom_killed(id: &str) -> bool {
    Layout::detect()
        .and_then(|l| Cgroup::open(&l, &rel(id)))
        .and_then(|cg| cg.oom_kills())
        .is_ok_and(|n| n > 0)
}

/// Removes the container's cgroup once nothing runs in it (also after a killed monitor left
/// it behind).
pub fn remove(id: &str) {
    if let Ok(cg) = Layout::detect().and_then(|l| Cgroup::open(&l, &rel(id))) {
        // A container sharing a pid namespace (`--pid host`) whose init was killed leaves its
        // command running: nothing of it outlives the container, as with runc.
        if cg.pids().is_ok_and(|p| !p.is_empty()) {
            let _ = cg.kill_all();
        }
        let _ = cg.remove();
    }
}

/// `system prune`: removes container cgroups (`strata/<64 hex>`) that no process is in and
/// that are older than `min_age`, left by a monitor killed before its container was removed,
/// perhaps with a store that no longer exists. The age spares a container that is starting
/// (its cgroup is made just before the sandbox joins it). Returns how many went.
pub fn reclaim_orphans(min_age: std::time::Duration) -> usize {
    Layout::detect().map_or(0, |layout| {
        cgroup::remove_idle_children(&layout, "strata", is_container_id, min_age)
    })
}

fn is_container_id(name: &str) -> bool {
    name.len() == 64 && name.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// `update`: merges `new` into the container's limits as Docker does, writes them into the
/// cgroup of a running container, then records them. Returns the warnings to print.
pub fn update_limits(
    cs: &Containers,
    c: &Container,
    new: &Resources,
    host: &resources::Host,
) -> Result<Vec<String>, ContainerError> {
    let fail = |detail: String| ContainerError::Update {
        id: c.id.clone(),
        detail,
    };
    let (merged, warnings) =
        resources::merge_update(&c.config.resources, new, host).map_err(|e| fail(e.to_string()))?;
    let c = cs.get_reconciled(&c.id)?;
    if c.state.status == Status::Running && merged.limits_cgroup() {
        let cg = open(&c)?;
        let current = cg.memory_limit().map_err(|e| fail(e.to_string()))?;
        cg.set(&limit_writes(&cg, &merged, current))
            .map_err(|e| fail(e.to_string()))?;
    }
    cs.update(&c.id, |c| c.config.resources = merged.clone())?;
    Ok(warnings)
}

fn open(c: &Container) -> Result<Cgroup, ContainerError> {
    Layout::detect()
        .and_then(|l| Cgroup::open(&l, &rel(&c.id)))
        .map_err(|e| ContainerError::Cgroup {
            id: c.id.clone(),
            source: Box::new(e),
        })
}

fn running(cs: &Containers, query: &str) -> Result<Container, ContainerError> {
    let c = cs.find(query)?;
    let c = cs.get_reconciled(&c.id)?;
    if c.state.status != Status::Running {
        return Err(ContainerError::NotRunning { id: c.id });
    }
    Ok(c)
}

/// `pause`: freezes every process of the container (Docker's cgroup freezer).
pub fn pause(cs: &Containers, query: &str) -> Result<Container, ContainerError> {
    let c = running(cs, query)?;
    if c.state.paused {
        return Err(ContainerError::Paused { id: c.id });
    }
    let cg = open(&c)?;
    cg.freeze().map_err(|e| ContainerError::Cgroup {
        id: c.id.clone(),
        source: Box::new(e),
    })?;
    let c = cs.update(&c.id, |c| {
        c.state.paused = true;
        // As Docker, whose health monitor stops for a paused container and leaves it
        // unhealthy until a probe after the unpause says otherwise.
        if let Some(h) = &mut c.state.health {
            h.stopped();
        }
    })?;
    super::events::emit(cs.store_root(), &c, "pause", &[]);
    Ok(c)
}

/// `unpause`.
pub fn unpause(cs: &Containers, query: &str) -> Result<Container, ContainerError> {
    let c = running(cs, query)?;
    if !c.state.paused {
        return Err(ContainerError::NotPaused { id: c.id });
    }
    thaw(&c)?;
    let c = cs.update(&c.id, |c| c.state.paused = false)?;
    super::events::emit(cs.store_root(), &c, "unpause", &[]);
    Ok(c)
}

/// Thaws a paused container's processes (before a signal must reach them); a no-op otherwise.
pub fn thaw(c: &Container) -> Result<(), ContainerError> {
    if !c.state.paused {
        return Ok(());
    }
    open(c)?.thaw().map_err(|e| ContainerError::Cgroup {
        id: c.id.clone(),
        source: Box::new(e),
    })
}

/// `top [ps OPTIONS]`: the host's `ps` output, rows of the container's processes only.
pub fn top(
    cs: &Containers,
    query: &str,
    ps_args: &[String],
) -> Result<stats_view::TopTable, ContainerError> {
    let c = running(cs, query)?;
    let cg = open(&c)?;
    let mut pids = cg.pids().map_err(|e| ContainerError::Cgroup {
        id: c.id.clone(),
        source: Box::new(e),
    })?;
    let own = strata_processes(&c);
    pids.retain(|p| !own.contains(p));
    stats_view::top(ps_args, &pids).map_err(|e| ContainerError::Top {
        id: c.id.clone(),
        detail: e.to_string(),
    })
}

/// strata's own processes in the container's cgroup, which Docker would not show: the
/// sandbox's helper (it joins first, outside the container) and PID 1, strata's init that
/// runs the command as its child.
fn strata_processes(c: &Container) -> Vec<i32> {
    let Some(init) = c.state.pid else {
        return Vec::new();
    };
    let mut own = vec![init.pid];
    own.extend(parent_of(init.pid));
    own
}

fn parent_of(pid: i32) -> Option<i32> {
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    let after = &stat[stat.rfind(')')? + 2..];
    after.split_whitespace().nth(1)?.parse().ok()
}

/// One reading of a running container for `stats`.
pub fn sample(c: &Container) -> Result<Sample, ContainerError> {
    let cg = open(c)?;
    let err = |e| ContainerError::Cgroup {
        id: c.id.clone(),
        source: Box::new(e),
    };
    let mut stats = cg.stats().map_err(err)?;
    let in_cgroup = cg.pids().unwrap_or_default();
    let own = strata_processes(c);
    let hidden = in_cgroup.iter().filter(|p| own.contains(p)).count() as u64;
    stats.pids_current = stats.pids_current.saturating_sub(hidden);
    let system = cgroup::system_cpu_ns().map_err(err)?;
    // Docker shows no network traffic for a container on the host's network.
    let net = match (&c.config.net.mode[..], c.state.pid) {
        ("host", _) | (_, None) => NetBytes::default(),
        (_, Some(p)) => stats_view::net_bytes(p.pid).unwrap_or_default(),
    };
    Ok(Sample {
        cgroup: stats,
        system_cpu_ns: system,
        net,
    })
}

/// A `stats` row from two readings of `c`.
pub fn stats_row(
    c: &Container,
    shown_as: &str,
    prev: &Sample,
    cur: &Sample,
    trunc: bool,
) -> StatsRow {
    let who = Ident {
        container: shown_as,
        id: &c.id,
        name: &c.name,
    };
    let host_memory = stats_view::host_memory().unwrap_or(0);
    StatsRow::new(&who, prev, cur, cgroup::online_cpus(), host_memory, trunc)
}
