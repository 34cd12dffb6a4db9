//! Network operations for both front doors: create, list with Docker's filters, inspect
//! with the containers attached, remove, prune, connect and disconnect, each recording
//! Docker's network event. Besides the store's bridge networks, Docker's two built-in ones,
//! `host` and `none`, are listed here: they are network modes, not store objects.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;
use std::path::Path;

use ipnet::Ipv4Net;

use super::EngineError;
use crate::container::{net, ContainerError, Containers};
use crate::network::record::{endpoint_id, DEFAULT_NETWORK};
use crate::network::{CreateRequest as StoreCreate, Network, NetworkError, Networks};
use crate::store::events::{now_ns, parse_time, record, EventType};
use crate::store::image_filter::{
    bool_value, filter_values, label_spec, labels_match, split_filters, FilterError,
};
use crate::store::time::parse_rfc3339;

/// Docker's built-in networks besides `bridge`: the name and its driver.
const BUILTINS: &[(&str, &str)] = &[("host", "host"), ("none", "null")];

/// The ID of the built-in network `name` (`host`, `none`): stable, and distinct from any
/// random id.
pub fn builtin_id(name: &str) -> String {
    crate::digest::Digest::of(format!("strata builtin network {name}").as_bytes())
        .hex()
        .to_string()
}

/// One network as the front doors show it: a bridge network of the store, or a built-in.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Entry {
    Bridge(Network),
    Builtin {
        name: &'static str,
        driver: &'static str,
        /// The default network's: Docker shows its daemon's start for all three.
        created: String,
    },
}

impl Entry {
    pub fn id(&self) -> String {
        match self {
            Entry::Bridge(n) => n.id.clone(),
            Entry::Builtin { name, .. } => builtin_id(name),
        }
    }

    pub fn name(&self) -> &str {
        match self {
            Entry::Bridge(n) => &n.name,
            Entry::Builtin { name, .. } => name,
        }
    }

    pub fn driver(&self) -> &str {
        match self {
            Entry::Bridge(n) => &n.driver,
            Entry::Builtin { driver, .. } => driver,
        }
    }

    pub fn created(&self) -> &str {
        match self {
            Entry::Bridge(n) => &n.created,
            Entry::Builtin { created, .. } => created,
        }
    }

    /// `bridge`, `host` and `none`: Docker's `type=builtin`.
    pub fn is_builtin(&self) -> bool {
        match self {
            Entry::Bridge(n) => n.is_default(),
            Entry::Builtin { .. } => true,
        }
    }

    pub fn internal(&self) -> bool {
        matches!(self, Entry::Bridge(n) if n.internal)
    }

    pub fn attachable(&self) -> bool {
        matches!(self, Entry::Bridge(n) if n.attachable)
    }

    pub fn labels(&self) -> BTreeMap<String, String> {
        match self {
            Entry::Bridge(n) => n.labels.clone(),
            Entry::Builtin { .. } => BTreeMap::new(),
        }
    }

    /// The options Docker shows: those given at create, and the default network's bridge.
    pub fn options(&self) -> BTreeMap<String, String> {
        match self {
            Entry::Bridge(n) => {
                let mut o = n.options.clone();
                if n.is_default() {
                    o.insert("com.docker.network.bridge.name".into(), n.bridge());
                    o.insert(
                        "com.docker.network.bridge.default_bridge".into(),
                        "true".into(),
                    );
                }
                o
            }
            Entry::Builtin { .. } => BTreeMap::new(),
        }
    }

    /// The subnet and gateway; the built-ins have none.
    /// The IP range and auxiliary addresses of a user-defined network's pool.
    pub fn pool_extras(&self) -> (Option<Ipv4Net>, BTreeMap<String, Ipv4Addr>) {
        match self {
            Entry::Bridge(n) => (n.ip_range, n.aux_addresses.clone()),
            Entry::Builtin { .. } => (None, BTreeMap::new()),
        }
    }

    pub fn ipam(&self) -> Option<(Ipv4Net, Ipv4Addr)> {
        match self {
            Entry::Bridge(n) => Some((n.subnet, n.gateway)),
            Entry::Builtin { .. } => None,
        }
    }
}

/// A container attached to a network, as `network inspect` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Attached {
    pub id: String,
    pub name: String,
    pub endpoint_id: String,
    pub mac: String,
    /// `ADDRESS/PREFIX` on a bridge network, empty on the built-ins.
    pub ipv4: String,
}

/// Every network: the store's (the default `bridge` made on first use), then `host`, `none`.
pub fn all(root: &Path) -> Result<Vec<Entry>, EngineError> {
    let mut out: Vec<Entry> = Networks::new(root)
        .list()?
        .into_iter()
        .map(Entry::Bridge)
        .collect();
    let created = out
        .iter()
        .find(|e| e.name() == DEFAULT_NETWORK)
        .map(|e| e.created().to_string())
        .unwrap_or_default();
    for (name, driver) in BUILTINS {
        out.push(Entry::Builtin {
            name,
            driver,
            created: created.clone(),
        });
    }
    Ok(out)
}

/// A network by name, full id or unique id prefix, as Docker looks them up.
pub fn find(root: &Path, query: &str) -> Result<Entry, EngineError> {
    let all = all(root)?;
    if let Some(e) = all.iter().find(|e| e.name() == query || e.id() == query) {
        return Ok(e.clone());
    }
    let by_prefix: Vec<&Entry> = all.iter().filter(|e| e.id().starts_with(query)).collect();
    match by_prefix.as_slice() {
        [one] if !query.is_empty() => Ok((*one).clone()),
        _ => Err(NetworkError::NotFound(query.to_string()).into()),
    }
}

/// The containers attached to `e`: by address lease on a bridge, by network mode on a
/// built-in.
pub fn attached(root: &Path, e: &Entry) -> Result<Vec<Attached>, EngineError> {
    let cs = Containers::new(root);
    let mut out = Vec::new();
    match e {
        Entry::Bridge(n) => {
            for (ip, id) in Networks::new(root).leases(&n.id)? {
                let Ok(c) = cs.load(&id) else { continue };
                let mac = c
                    .config
                    .net
                    .endpoints
                    .iter()
                    .find(|ep| ep.network_id == n.id)
                    .map(|ep| ep.mac.clone())
                    .unwrap_or_default();
                out.push(Attached {
                    endpoint_id: endpoint_id(&id, &n.id),
                    name: c.name,
                    mac,
                    ipv4: format!("{ip}/{}", n.subnet.prefix_len()),
                    id,
                });
            }
        }
        Entry::Builtin { name, .. } => {
            let id = e.id();
            for c in cs.list().map_err(EngineError::Containers)? {
                if c.config.net.mode == *name && c.is_running() {
                    out.push(Attached {
                        endpoint_id: endpoint_id(&c.id, &id),
                        id: c.id,
                        name: c.name,
                        mac: String::new(),
                        ipv4: String::new(),
                    });
                }
            }
        }
    }
    Ok(out)
}

/// The filter keys `network ls` takes.
const LIST_KEYS: &[&str] = &["dangling", "driver", "id", "label", "name", "scope", "type"];

/// `network ls --filter KEY=VALUE…`: the same key twice matches either value (`label`: every
/// one must match); different keys must all match.
pub fn list(root: &Path, filters: &[String]) -> Result<Vec<Entry>, EngineError> {
    let pairs = split_filters(filters, LIST_KEYS)?;
    let values = |key: &str| filter_values(&pairs, key);
    for t in values("type") {
        if t != "custom" && t != "builtin" {
            return Err(FilterError::Value {
                key: "type".into(),
                value: t.into(),
            }
            .into());
        }
    }
    let dangling = bool_value("dangling", &values("dangling"))?;
    let labels: Vec<_> = values("label").into_iter().map(label_spec).collect();
    let any = |key: &str, test: &dyn Fn(&str) -> bool| {
        let v = values(key);
        v.is_empty() || v.iter().any(|x| test(x))
    };
    let mut out = Vec::new();
    for e in all(root)? {
        // Docker matches names and ids as regular expressions; a plain one is a substring.
        let keep = any("name", &|v| e.name().contains(v))
            && any("id", &|v| e.id().contains(v))
            && any("driver", &|v| e.driver() == v)
            && any("scope", &|v| v == "local")
            && any("type", &|v| (v == "builtin") == e.is_builtin())
            && (labels.is_empty() || labels_match(&labels, &e.labels()));
        if !keep {
            continue;
        }
        if let Some(d) = dangling {
            // The built-ins are never dangling.
            let unused = !e.is_builtin() && attached(root, &e)?.is_empty();
            if unused != d {
                continue;
            }
        }
        out.push(e);
    }
    Ok(out)
}

/// One IPAM pool as `network create --subnet/--gateway/--ip-range` gives it.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pool {
    pub subnet: Option<String>,
    pub gateway: Option<String>,
    pub ip_range: Option<String>,
    /// IPAM's auxiliary addresses: `NAME` → address kept out of allocation.
    pub aux_addresses: BTreeMap<String, String>,
}

/// What `network create` asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct CreateRequest {
    pub name: String,
    /// `None`: `bridge`.
    pub driver: Option<String>,
    /// At most one IPv4 pool: strata's bridges carry one subnet.
    pub pools: Vec<Pool>,
    pub internal: bool,
    pub attachable: bool,
    pub enable_ipv6: bool,
    pub labels: BTreeMap<String, String>,
    pub options: BTreeMap<String, String>,
}

/// `network create`.
pub fn create(root: &Path, req: &CreateRequest) -> Result<Network, EngineError> {
    let unsupported = |what: &str| EngineError::NetworkUnsupported(what.to_string());
    if req.enable_ipv6 {
        return Err(unsupported("IPv6 (strata's bridge networks are IPv4 only)"));
    }
    if req.pools.len() > 1 {
        return Err(unsupported(
            "more than one IPAM pool (strata's bridge networks have one IPv4 subnet)",
        ));
    }
    let pool = req.pools.first().cloned().unwrap_or_default();
    if pool.subnet.as_deref().is_some_and(|s| s.contains(':')) {
        return Err(unsupported("an IPv6 subnet"));
    }
    if BUILTINS.iter().any(|(n, _)| *n == req.name) {
        return Err(NetworkError::Predefined(req.name.clone()).into());
    }
    let n = Networks::new(root).create(&StoreCreate {
        name: req.name.clone(),
        driver: req.driver.clone().filter(|d| !d.is_empty()),
        subnet: pool.subnet.filter(|s| !s.is_empty()),
        gateway: pool.gateway.filter(|s| !s.is_empty()),
        ip_range: pool.ip_range.filter(|s| !s.is_empty()),
        aux_addresses: pool.aux_addresses,
        internal: req.internal,
        labels: req.labels.iter().map(|(k, v)| format!("{k}={v}")).collect(),
        attachable: req.attachable,
        options: req.options.clone(),
    })?;
    event(root, "create", &n.id, &n.name, None);
    Ok(n)
}

/// `network rm NAME|ID`: refused for the built-ins and while containers are attached.
pub fn remove(root: &Path, query: &str) -> Result<Entry, EngineError> {
    let e = find(root, query)?;
    match &e {
        Entry::Bridge(n) => net::remove_network(root, n).map_err(network_container)?,
        Entry::Builtin { name, .. } => {
            return Err(NetworkError::RemoveDefault(name.to_string()).into())
        }
    }
    event(root, "destroy", &e.id(), e.name(), None);
    Ok(e)
}

/// `network prune`: every user-defined network with no container attached, narrowed by
/// Docker's prune filters (`until`, `label`, `label!`). Returns the names removed.
pub fn prune(root: &Path, filters: &[String]) -> Result<Vec<String>, EngineError> {
    let pairs = split_filters(filters, &["until", "label", "label!"])?;
    let mut until = None;
    let mut want = Vec::new();
    let mut unwanted = Vec::new();
    for (k, v) in &pairs {
        match k.as_str() {
            "until" => {
                let ns = parse_time(v, now_ns()).map_err(|source| EngineError::BadTime {
                    flag: "until",
                    source,
                })?;
                until = Some((ns / 1_000_000_000) as i64);
            }
            "label" => want.push(label_spec(v)),
            _ => unwanted.push(label_spec(v)),
        }
    }
    let networks = Networks::new(root);
    let mut removed = Vec::new();
    for n in networks.list()? {
        let old_enough = until.is_none_or(|u| parse_rfc3339(&n.created).is_some_and(|c| c < u));
        let labelled = labels_match(&want, &n.labels)
            && !unwanted
                .iter()
                .any(|s| labels_match(std::slice::from_ref(s), &n.labels));
        if n.is_default() || !old_enough || !labelled || !networks.leases(&n.id)?.is_empty() {
            continue;
        }
        match net::remove_network(root, &n) {
            Ok(()) => {}
            // Taken by a container since the check: not unused any more.
            Err(ContainerError::Network(NetworkError::ActiveEndpoints { .. })) => continue,
            Err(e) => return Err(network_container(e)),
        }
        event(root, "destroy", &n.id, &n.name, None);
        removed.push(n.name);
    }
    Ok(removed)
}

/// What `network connect` asks for.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ConnectRequest {
    pub network: String,
    pub container: String,
    pub aliases: Vec<String>,
    pub ipv4_address: Option<String>,
}

/// Before a create joins a container to `extra` networks besides its own: each must exist
/// (dockerd answers 404 before it makes the container).
pub fn check_extra(root: &Path, extra: &[ConnectRequest]) -> Result<(), EngineError> {
    for r in extra {
        find(root, &r.network)?;
    }
    Ok(())
}

/// `network connect`: wired at once when the container runs.
pub fn connect(root: &Path, req: &ConnectRequest) -> Result<(), EngineError> {
    let e = find(root, &req.network)?;
    if let Entry::Builtin { name, .. } = &e {
        return Err(host_mode_conflict(name));
    }
    let cs = Containers::new(root);
    let c = cs.find(&req.container).map_err(network_container)?;
    let ip = req.ipv4_address.as_deref().filter(|s| !s.is_empty());
    net::connect(root, &cs, &e.id(), &c.id, &req.aliases, ip).map_err(network_container)?;
    event(root, "connect", &e.id(), e.name(), Some(&c.id));
    Ok(())
}

/// `network disconnect [--force]`: `force` is Docker's for an endpoint whose container is
/// gone; strata drops such endpoints itself, so it changes nothing here.
pub fn disconnect(root: &Path, network: &str, container: &str) -> Result<(), EngineError> {
    let e = find(root, network)?;
    if let Entry::Builtin { name, .. } = &e {
        return Err(host_mode_conflict(name));
    }
    let cs = Containers::new(root);
    let c = cs.find(container).map_err(network_container)?;
    net::disconnect(root, &cs, &e.id(), &c.id).map_err(network_container)?;
    event(root, "disconnect", &e.id(), e.name(), Some(&c.id));
    Ok(())
}

fn host_mode_conflict(name: &str) -> EngineError {
    let what = if name == "host" {
        "container cannot be disconnected from host network or connected to host network"
    } else {
        "container cannot be disconnected from network none or connected to network none"
    };
    EngineError::NetworkContainer(ContainerError::NetworkConflict(what.into()))
}

/// A container operation's failure, with the network's own errors kept as such.
fn network_container(e: ContainerError) -> EngineError {
    match e {
        ContainerError::Network(n) => EngineError::Network(n),
        other => EngineError::NetworkContainer(other),
    }
}

/// Docker's network events: the network's name and type, and the container for (dis)connect.
fn event(root: &Path, action: &str, id: &str, name: &str, container: Option<&str>) {
    let mut attrs = vec![("name", name.to_string()), ("type", "bridge".to_string())];
    if let Some(c) = container {
        attrs.push(("container", c.to_string()));
    }
    record(root, EventType::Network, action, id, &attrs);
}
