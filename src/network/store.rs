//! Networks on disk, under `<store root>/networks-v1/`:
//! ```text
//! lock              flock held for every change (creation, removal, address leases)
//! <id>.json         one `Network`, replaced atomically
//! leases/<id>.json  the network's leased addresses: address → container id
//! aardvark/         aardvark-dns's configuration (written by netavark)
//! ```
//! Subnets are host-wide, stores are not: every subnet a store takes is also claimed in
//! `/run/strata/subnets-v1/` (under that directory's own lock), so two stores on one host
//! never pick the same one. A claim whose network is gone from its store is stale and reused.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use ipnet::Ipv4Net;
use serde::{Deserialize, Serialize};

use super::error::NetworkError;
use super::ipam;
use super::record::{Network, DEFAULT_NETWORK, RESERVED_NAMES, SCHEMA};
use crate::store::lock::FileLock;
use crate::store::time::{format_rfc3339, now_unix};
use crate::util::atomic::write_atomic;

pub const NETWORKS_DIR: &str = "networks-v1";

/// What `network create` asks for.
#[derive(Debug, Clone, Default)]
pub struct CreateRequest {
    pub name: String,
    pub driver: Option<String>,
    pub subnet: Option<String>,
    pub gateway: Option<String>,
    pub internal: bool,
    /// `KEY=VALUE` as typed.
    pub labels: Vec<String>,
    pub attachable: bool,
    /// Driver options, recorded for inspect.
    pub options: BTreeMap<String, String>,
    pub ip_range: Option<String>,
    /// `NAME` → address, kept out of allocation.
    pub aux_addresses: BTreeMap<String, String>,
}

/// The networks of one store.
#[derive(Debug, Clone)]
pub struct Networks {
    dir: PathBuf,
    claims: PathBuf,
    root: PathBuf,
}

#[derive(Debug, Serialize, Deserialize)]
struct Claim {
    root: PathBuf,
    id: String,
}

impl Networks {
    /// `root` is the store root.
    pub fn new(root: &Path) -> Self {
        Networks {
            dir: root.join(NETWORKS_DIR),
            claims: claims_dir(),
            root: root.to_path_buf(),
        }
    }

    /// aardvark-dns's configuration directory for this store's networks.
    pub fn aardvark_dir(&self) -> PathBuf {
        self.dir.join("aardvark")
    }

    fn path(&self, id: &str) -> PathBuf {
        self.dir.join(format!("{id}.json"))
    }

    fn lease_path(&self, id: &str) -> PathBuf {
        self.dir.join("leases").join(format!("{id}.json"))
    }

    /// The lock every change of this store's networks holds.
    pub fn lock(&self) -> Result<FileLock, NetworkError> {
        fs::create_dir_all(self.dir.join("leases"))
            .map_err(NetworkError::io("create", &self.dir))?;
        Ok(FileLock::acquire(&self.dir.join("lock"), true)?)
    }

    fn load(&self, path: &Path) -> Result<Network, NetworkError> {
        let data = fs::read(path).map_err(NetworkError::io("read", path))?;
        serde_json::from_slice(&data).map_err(|source| NetworkError::Corrupt {
            path: path.to_path_buf(),
            source,
        })
    }

    fn save(&self, n: &Network) -> Result<(), NetworkError> {
        let path = self.path(&n.id);
        let data = serde_json::to_vec_pretty(n).expect("a network serialises");
        write_atomic(&path, &data).map_err(NetworkError::io("write", &path))
    }

    fn list_unlocked(&self) -> Result<Vec<Network>, NetworkError> {
        let mut out = Vec::new();
        let entries = match fs::read_dir(&self.dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(NetworkError::io("read", &self.dir)(e)),
        };
        for e in entries {
            let e = e.map_err(NetworkError::io("read", &self.dir))?;
            let name = e.file_name();
            let name = name.to_string_lossy();
            if name.ends_with(".json") && !name.starts_with('.') {
                out.push(self.load(&e.path())?);
            }
        }
        out.sort_by(|a, b| a.created.cmp(&b.created).then(a.name.cmp(&b.name)));
        Ok(out)
    }

    /// Every network, the default one included (made on first use).
    pub fn list(&self) -> Result<Vec<Network>, NetworkError> {
        let all = self.list_unlocked()?;
        if all.iter().any(|n| n.name == DEFAULT_NETWORK) {
            return Ok(all);
        }
        self.ensure_default()?;
        self.list_unlocked()
    }

    /// The default `bridge` network, made when the store has none yet.
    pub fn ensure_default(&self) -> Result<Network, NetworkError> {
        if let Some(n) = self
            .list_unlocked()?
            .into_iter()
            .find(|n| n.name == DEFAULT_NETWORK)
        {
            return Ok(n);
        }
        let _l = self.lock()?;
        if let Some(n) = self
            .list_unlocked()?
            .into_iter()
            .find(|n| n.name == DEFAULT_NETWORK)
        {
            return Ok(n);
        }
        self.create_locked(&CreateRequest {
            name: DEFAULT_NETWORK.into(),
            ..Default::default()
        })
    }

    /// A network by name, full id or unique id prefix (the default one included).
    pub fn find(&self, query: &str) -> Result<Network, NetworkError> {
        let all = self.list()?;
        if let Some(n) = all.iter().find(|n| n.name == query || n.id == query) {
            return Ok(n.clone());
        }
        let by_prefix: Vec<&Network> = all.iter().filter(|n| n.id.starts_with(query)).collect();
        match by_prefix.as_slice() {
            [one] => Ok((*one).clone()),
            _ => Err(NetworkError::NotFound(query.to_string())),
        }
    }

    /// `network create`.
    pub fn create(&self, req: &CreateRequest) -> Result<Network, NetworkError> {
        if RESERVED_NAMES.contains(&req.name.as_str()) {
            return Err(NetworkError::Predefined(req.name.clone()));
        }
        validate_name(&req.name)?;
        self.ensure_default()?;
        let _l = self.lock()?;
        self.create_locked(req)
    }

    fn create_locked(&self, req: &CreateRequest) -> Result<Network, NetworkError> {
        if let Some(d) = req.driver.as_deref().filter(|d| *d != "bridge") {
            return Err(NetworkError::Driver(d.to_string()));
        }
        let mut labels = BTreeMap::new();
        for l in &req.labels {
            let (k, v) = l.split_once('=').unwrap_or((l.as_str(), ""));
            if k.is_empty() {
                return Err(NetworkError::Label(l.clone()));
            }
            labels.insert(k.to_string(), v.to_string());
        }
        let existing = self.list_unlocked()?;
        if existing.iter().any(|n| n.name == req.name) {
            return Err(NetworkError::NameInUse(req.name.clone()));
        }
        let asked = match &req.subnet {
            Some(s) => Some(
                s.parse::<Ipv4Net>()
                    .map_err(|_| NetworkError::InvalidSubnet(s.clone()))?
                    .trunc(),
            ),
            None if req.gateway.is_some() => return Err(NetworkError::GatewayWithoutSubnet),
            None => None,
        };
        let id = crate::util::random_id();
        let _claims = self.lock_claims()?;
        let mut taken: Vec<Ipv4Net> = existing.iter().map(|n| n.subnet).collect();
        taken.extend(self.live_claims()?);
        // Bridges of networks whose store was deleted hold their subnets' routes forever
        // otherwise; this is the moment a subnet is needed, so they go now.
        if nix::unistd::geteuid().is_root() && !crate::util::userns::in_user_namespace() {
            let live = self.claimed_bridges_locked();
            super::firewall::reclaim_unclaimed_bridges(&live)?;
        }
        taken.extend(host_routes());
        let subnet = match asked {
            Some(s) => {
                if let Some(t) = taken.iter().find(|t| ipam::overlaps(&s, t)) {
                    return Err(NetworkError::SubnetOverlap {
                        subnet: s.to_string(),
                        other: t.to_string(),
                    });
                }
                s
            }
            None => ipam::pick_subnet(&taken).ok_or(NetworkError::PoolExhausted)?,
        };
        let gateway = match &req.gateway {
            Some(g) => {
                let bad = || NetworkError::InvalidGateway {
                    gateway: g.clone(),
                    subnet: subnet.to_string(),
                };
                let ip: Ipv4Addr = g.parse().map_err(|_| bad())?;
                if !subnet.contains(&ip) || ip == subnet.network() || ip == subnet.broadcast() {
                    return Err(bad());
                }
                ip
            }
            None => ipam::default_gateway(&subnet)
                .ok_or(NetworkError::InvalidSubnet(subnet.to_string()))?,
        };
        let ip_range = match &req.ip_range {
            Some(r) => {
                let bad = || NetworkError::InvalidRange {
                    range: r.clone(),
                    subnet: subnet.to_string(),
                };
                let range = r.parse::<Ipv4Net>().map_err(|_| bad())?.trunc();
                if !subnet.contains(&range) {
                    return Err(bad());
                }
                Some(range)
            }
            None => None,
        };
        let mut aux_addresses = BTreeMap::new();
        for (name, ip) in &req.aux_addresses {
            let addr = ip.parse::<Ipv4Addr>().ok().filter(|a| subnet.contains(a));
            let addr = addr.ok_or_else(|| NetworkError::InvalidAux {
                name: name.clone(),
                ip: ip.clone(),
                subnet: subnet.to_string(),
            })?;
            aux_addresses.insert(name.clone(), addr);
        }
        let n = Network {
            schema: SCHEMA,
            id,
            name: req.name.clone(),
            driver: "bridge".into(),
            subnet,
            gateway,
            internal: req.internal,
            dns: req.name != DEFAULT_NETWORK,
            labels,
            created: now_rfc3339(),
            attachable: req.attachable,
            options: req.options.clone(),
            ip_range,
            aux_addresses,
        };
        self.claim(&n)?;
        self.save(&n)?;
        Ok(n)
    }

    /// `network rm`: refused for the default network and while containers hold addresses.
    pub fn remove(&self, n: &Network) -> Result<(), NetworkError> {
        if n.is_default() {
            return Err(NetworkError::RemoveDefault(n.name.clone()));
        }
        let _l = self.lock()?;
        if !self.leases_unlocked(&n.id)?.is_empty() {
            return Err(NetworkError::ActiveEndpoints {
                name: n.name.clone(),
                id: n.id.clone(),
            });
        }
        let path = self.path(&n.id);
        fs::remove_file(&path).map_err(NetworkError::io("remove", &path))?;
        let _ = fs::remove_file(self.lease_path(&n.id));
        let _c = self.lock_claims()?;
        let _ = fs::remove_file(self.claims.join(claim_name(&n.subnet)));
        Ok(())
    }

    /// The addresses leased on network `id`: address → container id.
    pub fn leases(&self, id: &str) -> Result<BTreeMap<Ipv4Addr, String>, NetworkError> {
        self.leases_unlocked(id)
    }

    fn leases_unlocked(&self, id: &str) -> Result<BTreeMap<Ipv4Addr, String>, NetworkError> {
        let path = self.lease_path(id);
        match fs::read(&path) {
            Ok(data) => serde_json::from_slice(&data)
                .map_err(|source| NetworkError::Corrupt { path, source }),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(BTreeMap::new()),
            Err(e) => Err(NetworkError::io("read", &path)(e)),
        }
    }

    fn save_leases(&self, id: &str, l: &BTreeMap<Ipv4Addr, String>) -> Result<(), NetworkError> {
        let path = self.lease_path(id);
        let data = serde_json::to_vec_pretty(l).expect("leases serialise");
        write_atomic(&path, &data).map_err(NetworkError::io("write", &path))
    }

    /// Leases an address on `n` to `container`: `want` when given (it must be free), else the
    /// lowest free one. A container that already holds one keeps it.
    pub fn lease(
        &self,
        n: &Network,
        container: &str,
        want: Option<Ipv4Addr>,
    ) -> Result<Ipv4Addr, NetworkError> {
        let _l = self.lock()?;
        let mut leases = self.leases_unlocked(&n.id)?;
        if let Some((ip, _)) = leases.iter().find(|(_, c)| *c == container) {
            if want.is_none() || want == Some(*ip) {
                return Ok(*ip);
            }
        }
        let ip = match want {
            Some(ip) => {
                self.check_assignable(n, ip)?;
                if leases.get(&ip).is_some_and(|c| c != container) {
                    return Err(NetworkError::AddressInUse {
                        ip: ip.to_string(),
                        network: n.name.clone(),
                    });
                }
                ip
            }
            None => {
                let mut used: BTreeSet<Ipv4Addr> = leases.keys().copied().collect();
                used.extend(n.aux_addresses.values().copied());
                let pool = n.ip_range.as_ref().unwrap_or(&n.subnet);
                ipam::pick_ip(&n.subnet, pool, n.gateway, &used)
                    .ok_or_else(|| NetworkError::AddressesExhausted(n.name.clone()))?
            }
        };
        leases.retain(|_, c| c != container);
        leases.insert(ip, container.to_string());
        self.save_leases(&n.id, &leases)?;
        Ok(ip)
    }

    /// Refuses `ip` as an `--ip` on `n` when it is not one of its host addresses (the
    /// gateway, the network and broadcast addresses are not); whether it is free is only
    /// known when it is leased.
    pub fn check_assignable(&self, n: &Network, ip: Ipv4Addr) -> Result<(), NetworkError> {
        if ipam::assignable(&n.subnet, n.gateway, ip) {
            return Ok(());
        }
        Err(NetworkError::AddressOutside {
            ip: ip.to_string(),
            subnet: n.subnet.to_string(),
            network: n.name.clone(),
        })
    }

    /// Gives back `container`'s address on network `id` (nothing when it holds none).
    pub fn release(&self, id: &str, container: &str) -> Result<(), NetworkError> {
        let _l = self.lock()?;
        let mut leases = self.leases_unlocked(id)?;
        let before = leases.len();
        leases.retain(|_, c| c != container);
        if leases.len() != before {
            self.save_leases(id, &leases)?;
        }
        Ok(())
    }

    /// Drops the leases of containers `alive` does not know (left by a crash between lease
    /// and record, or mid-removal); returns the containers whose leases went.
    pub fn release_orphans(
        &self,
        alive: &dyn Fn(&str) -> bool,
    ) -> Result<Vec<String>, NetworkError> {
        let _l = self.lock()?;
        let mut dropped = Vec::new();
        for n in self.list_unlocked()? {
            let mut leases = self.leases_unlocked(&n.id)?;
            let before = leases.len();
            leases.retain(|_, c| {
                let keep = alive(c);
                if !keep {
                    dropped.push(c.clone());
                }
                keep
            });
            if leases.len() != before {
                self.save_leases(&n.id, &leases)?;
            }
        }
        dropped.sort();
        dropped.dedup();
        Ok(dropped)
    }

    fn lock_claims(&self) -> Result<FileLock, NetworkError> {
        fs::create_dir_all(&self.claims).map_err(NetworkError::io("create", &self.claims))?;
        Ok(FileLock::acquire(&self.claims.join("lock"), true)?)
    }

    /// Subnets claimed by networks that still exist in their stores.
    fn live_claims(&self) -> Result<Vec<Ipv4Net>, NetworkError> {
        let mut out = Vec::new();
        let Ok(entries) = fs::read_dir(&self.claims) else {
            return Ok(out);
        };
        for e in entries.flatten() {
            let path = e.path();
            let Ok(data) = fs::read(&path) else { continue };
            let Ok(claim) = serde_json::from_slice::<Claim>(&data) else {
                continue;
            };
            let alive = claim
                .root
                .join(NETWORKS_DIR)
                .join(format!("{}.json", claim.id))
                .exists();
            let subnet = e
                .file_name()
                .to_string_lossy()
                .replace('_', "/")
                .parse::<Ipv4Net>();
            match (alive, subnet) {
                (true, Ok(s)) => out.push(s),
                _ => {
                    let _ = fs::remove_file(&path);
                }
            }
        }
        Ok(out)
    }

    /// The bridges of every network any store on this host still has (from the claims).
    pub fn claimed_bridges(&self) -> Result<Vec<String>, NetworkError> {
        let _c = self.lock_claims()?;
        self.live_claims()?;
        Ok(self.claimed_bridges_locked())
    }

    /// `claimed_bridges` with the claims lock already held (and stale claims dropped).
    fn claimed_bridges_locked(&self) -> Vec<String> {
        let mut out = Vec::new();
        for e in fs::read_dir(&self.claims).into_iter().flatten().flatten() {
            if let Ok(claim) = fs::read(e.path())
                .map_err(|_| ())
                .and_then(|d| serde_json::from_slice::<Claim>(&d).map_err(|_| ()))
            {
                out.push(super::record::bridge_name(&claim.id));
            }
        }
        out
    }

    fn claim(&self, n: &Network) -> Result<(), NetworkError> {
        let path = self.claims.join(claim_name(&n.subnet));
        let claim = Claim {
            root: fs::canonicalize(&self.root).unwrap_or_else(|_| self.root.clone()),
            id: n.id.clone(),
        };
        let data = serde_json::to_vec(&claim).expect("a claim serialises");
        write_atomic(&path, &data).map_err(NetworkError::io("write", &path))
    }
}

fn claim_name(subnet: &Ipv4Net) -> String {
    subnet.to_string().replace('/', "_")
}

/// Where subnets are claimed host-wide: `/run/strata/…` for root, the user's runtime dir
/// otherwise (`STRATA_RUN_DIR` overrides both, e.g. for tests of the claims themselves).
pub fn run_dir() -> PathBuf {
    if let Some(d) = std::env::var_os("STRATA_RUN_DIR") {
        return PathBuf::from(d);
    }
    // Root of a user namespace strata entered (rootless) is still the user outside.
    if nix::unistd::geteuid().is_root() && !crate::util::userns::in_user_namespace() {
        return PathBuf::from("/run/strata");
    }
    match std::env::var_os("XDG_RUNTIME_DIR") {
        Some(d) => PathBuf::from(d).join("strata"),
        None => std::env::temp_dir().join(format!("strata-{}", outer_uid())),
    }
}

/// The host-wide lock around netavark and iptables changes: netavark 1.4 takes none of its
/// own, and two setups of one new network race on creating its chains.
pub fn host_lock() -> Result<FileLock, NetworkError> {
    let dir = run_dir();
    fs::create_dir_all(&dir).map_err(NetworkError::io("create", &dir))?;
    Ok(FileLock::acquire(&dir.join("network.lock"), true)?)
}

/// The user's id outside any user namespace strata entered (`uid_map`'s line for ours).
fn outer_uid() -> u32 {
    let inside = nix::unistd::geteuid().as_raw();
    std::fs::read_to_string("/proc/self/uid_map")
        .ok()
        .and_then(|map| {
            map.lines().find_map(|l| {
                let f: Vec<u32> = l
                    .split_whitespace()
                    .filter_map(|x| x.parse().ok())
                    .collect();
                (f.len() == 3 && inside >= f[0] && inside < f[0] + f[2])
                    .then(|| f[1] + inside - f[0])
            })
        })
        .unwrap_or(inside)
}

fn claims_dir() -> PathBuf {
    run_dir().join("subnets-v1")
}

fn host_routes() -> Vec<Ipv4Net> {
    fs::read_to_string("/proc/net/route")
        .map(|t| ipam::parse_routes(&t))
        .unwrap_or_default()
}

fn now_rfc3339() -> String {
    format_rfc3339(now_unix())
}

/// Docker's rule for network names, as for container names.
pub fn validate_name(name: &str) -> Result<(), NetworkError> {
    if crate::util::valid_name(name) {
        Ok(())
    } else {
        Err(NetworkError::InvalidName(name.to_string()))
    }
}
