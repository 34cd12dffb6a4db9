//! After a crash: pinned namespaces and leases nobody owns (a removed container's, a killed
//! build step's), networks still up for stopped containers, rules and bridges of gone networks
//! (`system prune`, `network prune`, `rm`).

use std::path::Path;

use crate::container::error::ContainerError;
use crate::container::store::Containers;
use crate::network::{firewall, netns, Network, Networks};

use super::{backend, bridges_available, down};

/// Next to each pinned namespace: which store's container it is and netavark's request, so
/// a strata of any store can undo it once that store or container is gone.
#[derive(serde::Serialize, serde::Deserialize)]
struct Owner {
    root: std::path::PathBuf,
    request: serde_json::Value,
}

pub(super) fn owner_path(netns: &Path) -> std::path::PathBuf {
    netns.with_extension("owner")
}

pub(super) fn write_owner(
    netns: &Path,
    root: &Path,
    request: &serde_json::Value,
) -> Result<(), ContainerError> {
    let path = owner_path(netns);
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir).map_err(ContainerError::io("create", dir))?;
    }
    let owner = Owner {
        root: std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf()),
        request: request.clone(),
    };
    let data = serde_json::to_vec(&owner).expect("an owner record serialises");
    crate::util::atomic::write_atomic(&path, &data).map_err(ContainerError::io("write", &path))
}

/// Tears down pinned namespaces whose container is gone: its store was deleted, or the
/// store no longer has it (removed by a strata that crashed mid-way). Returns how many.
fn reclaim_orphaned_namespaces(root: &Path, known: &dyn Fn(&str) -> bool) -> usize {
    let here = std::fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let Ok(entries) = std::fs::read_dir(netns::netns_dir()) else {
        return 0;
    };
    let mut n = 0;
    for e in entries.flatten() {
        let path = e.path();
        if path.extension().is_none_or(|x| x != "owner") {
            continue;
        }
        let ns = path.with_extension("");
        let id = ns
            .file_name()
            .map(|f| f.to_string_lossy().to_string())
            .unwrap_or_default();
        let Ok(owner) = std::fs::read(&path)
            .map_err(|_| ())
            .and_then(|d| serde_json::from_slice::<Owner>(&d).map_err(|_| ()))
        else {
            continue;
        };
        let gone = if owner.root == here {
            !known(&id)
        } else {
            !Containers::new(&owner.root).dir(&id).is_dir()
        };
        if !gone || netns_in_use(&ns) || super::step::step_in_use(&id) {
            continue;
        }
        if netns::is_pinned(&ns) {
            let _ = backend(&owner.root).teardown(&ns, &owner.request);
        }
        if netns::remove(&ns).is_ok() {
            let _ = std::fs::remove_file(&path);
            super::step::forget_step(&ns);
            n += 1;
        }
    }
    n
}

/// What `repair` found and fixed after a crash.
#[derive(Debug, Default, PartialEq, Eq)]
pub struct Repaired {
    /// Containers whose network was still up with no process to own it.
    pub torn_down: Vec<String>,
    /// Address leases of containers that no longer exist.
    pub leases: usize,
    /// Pinned namespaces of containers that no longer exist (in any store).
    pub namespaces: usize,
}

/// Undoes what crashed strata processes left: networks of stopped containers still up,
/// leases and pinned namespaces of containers that are gone (`system prune`).
pub fn repair(root: &Path, cs: &Containers) -> Result<Repaired, ContainerError> {
    let mut out = Repaired::default();
    let all = cs.list()?;
    for c in &all {
        if c.state.net.is_some() && !c.is_running() {
            down(root, cs, &c.id)?;
            out.torn_down.push(c.id.clone());
        }
    }
    let known: std::collections::BTreeSet<&str> = all.iter().map(|c| c.id.as_str()).collect();
    // A running build's step endpoints are nobody's container but still in use.
    let alive = |id: &str| known.contains(id) || super::step::step_in_use(id);
    let orphans = Networks::new(root).release_orphans(&alive)?;
    out.leases = orphans.len();
    out.namespaces = reclaim_orphaned_namespaces(root, &alive);
    Ok(out)
}

/// `network rm`: the record, its subnet claim and its isolation rule.
pub fn remove_network(root: &Path, n: &Network) -> Result<(), ContainerError> {
    Networks::new(root).remove(n)?;
    if bridges_available() {
        backend(root).remove_network(&n.id, &n.bridge())?;
    }
    Ok(())
}

/// Drops isolation rules and idle bridges of networks no store on this host has any more (a
/// network removed by a strata that crashed mid-way, a store deleted); returns how many.
pub fn prune_rules(root: &Path) -> Result<usize, ContainerError> {
    if !bridges_available() {
        return Ok(0);
    }
    let live = Networks::new(root).claimed_bridges()?;
    let mut n = 0;
    for b in firewall::bridges_with_rules() {
        if !live.contains(&b) {
            firewall::remove(&b)?;
            n += 1;
        }
    }
    // The native backend's rules, tagged by network.
    let gone: Vec<String> = crate::network::rules::network_owners(&crate::network::rules::saved()?)
        .into_iter()
        .filter(|o| !live.contains(&crate::network::record::bridge_name(&o["net:".len()..])))
        .collect();
    if !gone.is_empty() {
        let _host = crate::network::store::host_lock()?;
        n += gone.len();
        crate::network::rules::apply(&crate::network::rules::Batch {
            add: Vec::new(),
            remove: gone,
        })?;
    }
    // A bridge with nothing attached whose network no store has (its store was deleted).
    n += firewall::reclaim_unclaimed_bridges(&live)?;
    Ok(n)
}

/// Whether any process lives in the namespace pinned at `path`.
fn netns_in_use(path: &Path) -> bool {
    use std::os::unix::fs::MetadataExt;
    let Ok(target) = std::fs::metadata(path) else {
        return false;
    };
    let Ok(procs) = std::fs::read_dir("/proc") else {
        return false;
    };
    procs.flatten().any(|p| {
        std::fs::metadata(p.path().join("ns/net"))
            .is_ok_and(|m| m.ino() == target.ino() && m.dev() == target.dev())
    })
}
