//! Networks for build steps: the short-lived endpoint a RUN of a build with
//! `networkmode=NET` gets on that network (as each of dockerd's classic builder's step
//! containers does), and the namespace of a running container for `networkmode=container:X`.
//!
//! A step endpoint is wired like a container's (a pinned namespace with an owner record, an
//! address leased under a random id, a DNS entry) and undone when its guard drops. While it
//! lives, its holder keeps an exclusive `flock` on `<netns>.step`: a killed build frees the
//! lock, and `repair` (`system prune`) then reclaims the namespace and the lease like those of
//! a removed container, never those of a live build.

use std::path::{Path, PathBuf};

use super::repair::{owner_path, write_owner};
use super::{backend, bridges_available, resolv};
use crate::container::error::ContainerError;
use crate::container::record::{NetConfig, Status};
use crate::container::store::Containers;
use crate::network::etc_files::{self, HostsInput};
use crate::network::{netavark, netns, Networks};
use crate::sandbox::spec::EtcFiles;
use crate::sandbox::NetworkMode;
use crate::store::lock::FileLock;

/// The lock a live step endpoint holds, beside its pinned namespace.
fn step_lock_path(netns: &Path) -> PathBuf {
    netns.with_extension("step")
}

/// Whether `id` names the endpoint of a build step that is still running (its holder's lock
/// is taken). Ids of containers have no such lock.
pub(super) fn step_in_use(id: &str) -> bool {
    let lock = step_lock_path(&netns::path_for(id));
    lock.exists() && matches!(FileLock::try_acquire(&lock, true), Ok(None))
}

/// Removes the lock file of a step endpoint that is gone (after its namespace and lease).
pub(super) fn forget_step(netns: &Path) {
    let _ = std::fs::remove_file(step_lock_path(netns));
}

/// One RUN step's endpoint on a bridge network; torn down, with its address released, on drop.
pub struct StepEndpoint {
    root: PathBuf,
    id: String,
    network_id: String,
    netns: PathBuf,
    request: serde_json::Value,
    etc: EtcFiles,
    /// Held until everything above is undone.
    _lock: FileLock,
}

impl StepEndpoint {
    /// The sandbox's network: the endpoint's pinned namespace.
    pub fn mode(&self) -> NetworkMode {
        NetworkMode::Join(self.netns.clone())
    }

    /// `/etc/hosts` naming the step's address, and `/etc/resolv.conf` pointing at the
    /// network's DNS (names of containers on it resolve) when it has one.
    pub fn etc(&self) -> &EtcFiles {
        &self.etc
    }
}

impl Drop for StepEndpoint {
    fn drop(&mut self) {
        if netns::is_pinned(&self.netns) {
            let _ = backend(&self.root).teardown(&self.netns, &self.request);
        }
        let _ = netns::remove(&self.netns);
        let _ = std::fs::remove_file(owner_path(&self.netns));
        let _ = Networks::new(&self.root).release(&self.network_id, &self.id);
        forget_step(&self.netns);
    }
}

/// Wires a fresh endpoint on `network` (a name or an id) for one step whose hostname is
/// `hostname`. Whatever was made is undone when this fails.
pub fn step_endpoint(
    root: &Path,
    network: &str,
    hostname: &str,
) -> Result<StepEndpoint, ContainerError> {
    let networks = Networks::new(root);
    let n = networks.find(network)?;
    if !bridges_available() {
        return Err(ContainerError::NetworkConflict(format!(
            "network {network}: bridge networks need root; without it RUN steps use user-mode \
             networking (networkmode default, host or none)"
        )));
    }
    let id = crate::util::random_id();
    let netns = netns::path_for(&id);
    if let Some(dir) = netns.parent() {
        std::fs::create_dir_all(dir).map_err(ContainerError::io("create", dir))?;
    }
    // Taken before anything exists, so no `repair` can take the endpoint for a dead one's.
    let lock = FileLock::acquire(&step_lock_path(&netns), true)?;
    let ip = match networks.lease(&n, &id, None) {
        Ok(ip) => ip,
        Err(e) => {
            forget_step(&netns);
            return Err(e.into());
        }
    };
    let short = id[..12].to_string();
    let endpoint = netavark::Endpoint {
        network: &n,
        ip,
        aliases: vec![short.clone()],
        interface: "eth0".into(),
        mac: None,
    };
    let request = netavark::request(&id, &short, &[endpoint], &[]);
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let dns = n.dns.then(|| n.gateway.to_string());
    let etc = EtcFiles {
        hosts: etc_files::hosts(&HostsInput {
            hostname,
            domainname: None,
            addresses: &[ip.to_string()],
            aliases: &[],
            extra: &[],
        }),
        resolv_conf: resolv(&NetConfig::default(), &host_resolv, dns.as_deref()),
    };
    // From here on the guard undoes whatever part was made.
    let ep = StepEndpoint {
        root: root.to_path_buf(),
        id,
        network_id: n.id.clone(),
        netns,
        request,
        etc,
        _lock: lock,
    };
    write_owner(&ep.netns, root, &ep.request)?;
    netns::create(&ep.netns)?;
    let backend = backend(root);
    backend.prepare(&n.bridge())?;
    backend.setup(&ep.netns, &ep.request)?;
    Ok(ep)
}

/// The network namespace of the running container `name` (a name or an id), for a step
/// that joins it (`networkmode=container:X`), in dockerd's words when it cannot.
pub fn container_namespace(cs: &Containers, name: &str) -> Result<PathBuf, ContainerError> {
    let c = cs.find(name)?;
    let c = cs.get_reconciled(&c.id)?;
    match (c.state.status, c.state.pid) {
        (Status::Running, Some(p)) if p.alive() => Ok(format!("/proc/{}/ns/net", p.pid).into()),
        _ => Err(ContainerError::NetworkContainerNotRunning {
            name: name.to_string(),
        }),
    }
}
