//! A container's networking over its life: `plan` at creation (network mode, checked
//! addresses and ports), `up` when it starts (leased addresses, pinned namespace, netavark,
//! the `/etc` files), `down` when it stops (or when a crash left it up), `release` when it is
//! removed. As with Docker, a container that is not running holds no address.
//!
//! `connect` wires endpoints into running containers; `repair` undoes what crashes left.

use std::net::Ipv4Addr;
use std::path::Path;

use super::error::ContainerError;
use super::record::{Container, Endpoint, NetConfig, NetState};
use super::store::Containers;
use crate::network::etc_files::{self, ExtraHost, HostsInput, ResolvInput};
use crate::network::hostports::{self, Reserved};
use crate::network::netavark::{self, Backend};
use crate::network::ports::{self, PortRequest};
use crate::network::record::DEFAULT_NETWORK;
use crate::network::{netns, Network, Networks};
use crate::sandbox::spec::EtcFiles;
use crate::sandbox::{Forward, NetworkMode};

mod connect;
mod repair;
mod step;

pub use connect::{connect, disconnect};
use repair::{owner_path, write_owner};
pub use repair::{prune_rules, remove_network, repair, Repaired};
pub use step::{container_namespace, step_endpoint, StepEndpoint};

/// The network flags of `run`/`create`, as typed.
#[derive(Debug, Clone, Default)]
pub struct NetOptions {
    /// `--network`: `bridge` (default), `host`, `none`, `container:X`, or a network.
    pub network: Option<String>,
    pub ip: Option<String>,
    pub aliases: Vec<String>,
    /// The endpoint's `DriverOpts`, kept for `inspect`.
    pub driver_opts: std::collections::BTreeMap<String, String>,
    /// `-p` values.
    pub publish: Vec<String>,
    /// `-P`.
    pub publish_all: bool,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
    pub extra_hosts: Vec<String>,
    /// The MAC address of the interface on the (first) bridge network.
    pub mac_address: Option<String>,
    /// Docker's legacy links, `CONTAINER[:ALIAS]`.
    pub links: Vec<String>,
}

/// Bridges need root; without it containers keep user-mode networking (slirp4netns).
pub fn bridges_available() -> bool {
    nix::unistd::geteuid().is_root() && !crate::util::userns::in_user_namespace()
}

/// Resolves the flags at creation: the sandbox's network mode and the recorded config. An
/// endpoint's address is its `--ip`, or unspecified until `up` leases one. `exposed`: the image's
/// ExposedPorts keys (for `-P`).
pub fn plan(
    root: &Path,
    cs: &Containers,
    id: &str,
    opts: &NetOptions,
    exposed: &[String],
) -> Result<(NetworkMode, NetConfig), ContainerError> {
    let mut publish: Vec<PortRequest> = Vec::new();
    for p in &opts.publish {
        publish.extend(ports::parse_publish(p).map_err(crate::network::NetworkError::from)?);
    }
    if opts.publish_all {
        publish.extend(ports::publish_all(exposed).map_err(crate::network::NetworkError::from)?);
    }
    etc_files::validate_dns(&opts.dns, &opts.dns_search, &opts.dns_options)
        .map_err(crate::network::NetworkError::from)?;
    for h in &opts.extra_hosts {
        // The gateway is only known at start; any address stands in for the check.
        etc_files::parse_add_host(h, Some("0.0.0.0"))
            .map_err(crate::network::NetworkError::from)?;
    }
    let mode = opts
        .network
        .clone()
        .unwrap_or_else(|| DEFAULT_NETWORK.to_string());
    let mut cfg = NetConfig {
        mode: mode.clone(),
        dns: opts.dns.clone(),
        dns_search: opts.dns_search.clone(),
        dns_options: opts.dns_options.clone(),
        extra_hosts: opts.extra_hosts.clone(),
        links: opts.links.clone(),
        ..Default::default()
    };
    let bridge_only = |what: &str| {
        ContainerError::NetworkConflict(format!(
            "{what} can only be used with a bridge network, not --network {mode}"
        ))
    };
    let sandbox_mode = match mode.as_str() {
        "host" | "none" => {
            if opts.ip.is_some() {
                return Err(bridge_only("--ip"));
            }
            if !opts.aliases.is_empty() {
                return Err(bridge_only("--network-alias"));
            }
            // Docker drops published ports on these modes (with a warning); so does strata.
            if mode == "host" {
                NetworkMode::Host
            } else {
                NetworkMode::None
            }
        }
        m if m.starts_with("container:") => {
            let other = cs.find(&m["container:".len()..])?;
            if !publish.is_empty() {
                return Err(ContainerError::NetworkConflict(
                    "conflicting options: port publishing and the container type network mode"
                        .into(),
                ));
            }
            if other.id == id {
                return Err(ContainerError::NetworkMode(mode.clone()));
            }
            cfg.mode = format!("container:{}", other.id);
            cfg.container = Some(other.id);
            NetworkMode::None
        }
        "slirp4netns" => slirp(&mut cfg, opts, publish, "slirp4netns")?,
        "default" | "bridge" if !bridges_available() => {
            slirp(&mut cfg, opts, publish, DEFAULT_NETWORK)?
        }
        _ => {
            if !bridges_available() {
                return Err(ContainerError::NetworkConflict(format!(
                    "network {mode}: bridge networks need root; without it containers use \
                     user-mode networking (--network bridge, host or none)"
                )));
            }
            let networks = Networks::new(root);
            let name = if mode == "default" {
                DEFAULT_NETWORK
            } else {
                mode.as_str()
            };
            let n = networks.find(name)?;
            if n.is_default() && !opts.aliases.is_empty() {
                return Err(ContainerError::NetworkConflict(
                    "network-scoped aliases are only supported for user-defined networks".into(),
                ));
            }
            let want = match &opts.ip {
                Some(ip) if n.is_default() => {
                    let _ = ip;
                    return Err(crate::network::NetworkError::StaticIpOnDefault.into());
                }
                Some(ip) => Some(ip.parse::<Ipv4Addr>().map_err(|_| {
                    ContainerError::NetworkConflict(format!("invalid IPv4 address {ip:?} for --ip"))
                })?),
                None => None,
            };
            // A fixed host port already taken is an error now, before anything exists.
            drop(hostports::reserve(&publish)?);
            // Addresses are leased at start and given back at stop, as Docker's endpoints
            // live only while the container runs; an --ip is only checked against the subnet.
            if let Some(ip) = want {
                networks.check_assignable(&n, ip)?;
            }
            let ip = want.unwrap_or(Ipv4Addr::UNSPECIFIED);
            cfg.mode = n.name.clone();
            cfg.endpoints.push(Endpoint {
                network_id: n.id.clone(),
                network: n.name.clone(),
                ip,
                aliases: opts.aliases.clone(),
                driver_opts: opts.driver_opts.clone(),
                static_ip: want.is_some(),
                mac: opts.mac_address.clone().unwrap_or_default(),
                static_mac: opts.mac_address.is_some(),
            });
            cfg.publish = publish;
            NetworkMode::Join(netns::path_for(id))
        }
    };
    Ok((sandbox_mode, cfg))
}

/// User-mode networking (slirp4netns): the default without root, `--network slirp4netns`
/// with it; published ports go through slirp4netns's own forwarding.
fn slirp(
    cfg: &mut NetConfig,
    opts: &NetOptions,
    publish: Vec<PortRequest>,
    mode: &str,
) -> Result<NetworkMode, ContainerError> {
    if opts.ip.is_some() || !opts.aliases.is_empty() {
        return Err(ContainerError::NetworkConflict(format!(
            "--ip and --network-alias need a bridge network, not user-mode networking \
             (--network {mode})"
        )));
    }
    drop(hostports::reserve(&publish)?);
    cfg.mode = mode.to_string();
    cfg.publish = publish;
    Ok(NetworkMode::Default)
}

/// What a started container's network holds: the host ports (released on drop) and the
/// sandbox settings.
#[derive(Debug)]
pub struct Up {
    pub reserved: Reserved,
    pub mode: NetworkMode,
    pub etc: Option<EtcFiles>,
    /// Ports slirp4netns forwards (user-mode networking only).
    pub forwards: Vec<Forward>,
}

pub(super) fn backend(root: &Path) -> Box<dyn Backend> {
    crate::network::backend(root)
}

/// The networks of `c`'s endpoints as they are now.
pub(super) fn endpoint_networks(
    root: &Path,
    c: &Container,
) -> Result<Vec<Network>, ContainerError> {
    let networks = Networks::new(root);
    c.config
        .net
        .endpoints
        .iter()
        .map(|e| Ok(networks.find(&e.network_id)?))
        .collect()
}

pub(super) fn names_of(c: &Container, e: &Endpoint) -> Vec<String> {
    let mut names = e.aliases.clone();
    names.push(c.short_id().to_string());
    names
}

/// Wires `c` up before its sandbox starts. Called by its monitor with the record saying
/// running; a network a crash left behind is torn down first.
pub fn up(root: &Path, cs: &Containers, c: &Container) -> Result<Up, ContainerError> {
    let host_resolv = std::fs::read_to_string("/etc/resolv.conf").unwrap_or_default();
    let net = &c.config.net;
    if let Some(other) = &net.container {
        return Ok(Up {
            reserved: Reserved::default(),
            mode: NetworkMode::Join(step::container_namespace(cs, other)?),
            etc: None,
            forwards: Vec::new(),
        });
    }
    if net.endpoints.is_empty() {
        let extra = extra_hosts(net, None)?;
        let etc = match &c.config.network {
            NetworkMode::Host => {
                let hosts = std::fs::read_to_string("/etc/hosts").unwrap_or_default();
                Some(EtcFiles {
                    hosts: etc_files::hosts_for_host_network(&hosts, &extra),
                    resolv_conf: resolv(net, &host_resolv, None),
                })
            }
            NetworkMode::None => Some(EtcFiles {
                hosts: etc_files::hosts(&HostsInput {
                    hostname: &c.config.hostname,
                    domainname: None,
                    addresses: &[],
                    aliases: &[],
                    extra: &extra,
                }),
                resolv_conf: resolv(net, &host_resolv, None),
            }),
            NetworkMode::Default => Some(EtcFiles {
                hosts: etc_files::hosts(&HostsInput {
                    hostname: &c.config.hostname,
                    domainname: None,
                    addresses: &[crate::sandbox::network::SLIRP_GUEST.to_string()],
                    aliases: &[],
                    extra: &extra,
                }),
                resolv_conf: resolv(
                    net,
                    &format!("nameserver {}\n", crate::sandbox::network::SLIRP_DNS),
                    None,
                ),
            }),
            NetworkMode::Join(_) => None,
        };
        let mut forwards = Vec::new();
        if c.config.network == NetworkMode::Default && !net.publish.is_empty() {
            // slirp4netns binds the host ports itself: free ones are picked here and let go.
            let picked = hostports::reserve(&net.publish)?;
            forwards = picked.bindings.iter().map(forward).collect();
            cs.update(&c.id, |c| c.state.ports = picked.bindings.clone())?;
        }
        return Ok(Up {
            reserved: Reserved::default(),
            mode: c.config.network.clone(),
            etc,
            forwards,
        });
    }
    if c.state.net.is_some() {
        down(root, cs, &c.id)?;
    }
    let networks = endpoint_networks(root, c)?;
    let reserved = hostports::reserve(&net.publish)?;
    let leased = lease_all(root, cs, c, &networks)?;
    let (c, net) = (&leased, &leased.config.net);
    let endpoints = all_endpoints(c, &networks);
    let request = netavark::request(&c.id, &c.name, &endpoints, &reserved.bindings);
    let path = netns::path_for(&c.id);
    // Recorded first: if this process dies from here on, the next one knows what to undo.
    cs.update(&c.id, |c| {
        c.state.net = Some(NetState {
            netns: path.clone(),
            request: request.clone(),
            ports: reserved.bindings.clone(),
        });
        c.state.ports = reserved.bindings.clone();
    })?;
    let wired = (|| -> Result<serde_json::Value, ContainerError> {
        write_owner(&path, root, &request)?;
        netns::create(&path)?;
        let backend = backend(root);
        for n in &networks {
            backend.prepare(&n.bridge())?;
        }
        Ok(backend.setup(&path, &request)?)
    })();
    let answer = match wired {
        Ok(a) => a,
        Err(e) => {
            let _ = down(root, cs, &c.id);
            return Err(e);
        }
    };
    let macs = netavark::macs(&answer);
    cs.update(&c.id, |c| {
        for e in &mut c.config.net.endpoints {
            if let Some((_, mac)) = macs.iter().find(|(n, _)| *n == e.network) {
                e.mac = mac.clone();
            }
        }
    })?;
    let first = &networks[0];
    let gateway = first.gateway.to_string();
    let mut extra = extra_hosts(net, Some(&gateway))?;
    extra.extend(super::links::hosts(root, c)?);
    let addresses = [net.endpoints[0].ip.to_string()];
    let hosts = etc_files::hosts(&HostsInput {
        hostname: &c.config.hostname,
        domainname: None,
        addresses: &addresses,
        aliases: &[],
        extra: &extra,
    });
    let dns_server = networks
        .iter()
        .find(|n| n.dns)
        .map(|n| n.gateway.to_string());
    Ok(Up {
        reserved,
        forwards: Vec::new(),
        mode: NetworkMode::Join(path),
        etc: Some(EtcFiles {
            hosts,
            resolv_conf: resolv(net, &host_resolv, dns_server.as_deref()),
        }),
    })
}

fn forward(b: &crate::network::ports::PortBinding) -> Forward {
    Forward {
        proto: b.protocol.to_string(),
        host_addr: if b.host_ip.is_empty() {
            "0.0.0.0".into()
        } else {
            b.host_ip.clone()
        },
        host_port: b.host_port,
        guest_port: b.container_port,
    }
}

fn extra_hosts(net: &NetConfig, gateway: Option<&str>) -> Result<Vec<ExtraHost>, ContainerError> {
    net.extra_hosts
        .iter()
        .map(|h| {
            etc_files::parse_add_host(h, gateway)
                .map_err(|e| crate::network::NetworkError::from(e).into())
        })
        .collect()
}

fn resolv(net: &NetConfig, host: &str, embedded: Option<&str>) -> String {
    let daemon = netavark::daemon_dns();
    etc_files::resolv_conf(&ResolvInput {
        host_resolv_conf: host,
        embedded_dns: embedded,
        dns: if net.dns.is_empty() {
            &daemon
        } else {
            &net.dns
        },
        dns_search: &net.dns_search,
        dns_options: &net.dns_options,
    })
}

/// Leases an address for each endpoint of `c` (its `--ip` when it has one) and records them;
/// the container as recorded then. On failure nothing stays leased.
fn lease_all(
    root: &Path,
    cs: &Containers,
    c: &Container,
    networks: &[Network],
) -> Result<Container, ContainerError> {
    let store = Networks::new(root);
    let mut ips = Vec::new();
    for (e, n) in c.config.net.endpoints.iter().zip(networks) {
        match store.lease(n, &c.id, e.static_ip.then_some(e.ip)) {
            Ok(ip) => ips.push(ip),
            Err(err) => {
                release(root, c)?;
                return Err(err.into());
            }
        }
    }
    cs.update(&c.id, |c| {
        for (e, ip) in c.config.net.endpoints.iter_mut().zip(&ips) {
            e.ip = *ip;
        }
    })
    .inspect_err(|_| drop(release(root, c)))
}

/// Tears down what `up` made for container `id`, if anything is recorded, and gives back its
/// addresses; clears the record.
pub fn down(root: &Path, cs: &Containers, id: &str) -> Result<(), ContainerError> {
    let c = cs.load(id)?;
    release(root, &c)?;
    let Some(state) = &c.state.net else {
        return Ok(());
    };
    let mut result = Ok(());
    if netns::is_pinned(&state.netns) {
        result = backend(root).teardown(&state.netns, &state.request);
    }
    netns::remove(&state.netns)?;
    let _ = std::fs::remove_file(owner_path(&state.netns));
    cs.update(id, |c| c.state.net = None)?;
    Ok(result?)
}

/// Every endpoint of `c` as netavark's request names it (`eth0` first).
pub(super) fn all_endpoints<'a>(
    c: &Container,
    networks: &'a [Network],
) -> Vec<netavark::Endpoint<'a>> {
    c.config
        .net
        .endpoints
        .iter()
        .zip(networks)
        .enumerate()
        .map(|(i, (e, n))| netavark::Endpoint {
            network: n,
            ip: e.ip,
            aliases: names_of(c, e),
            interface: format!("eth{i}"),
            mac: e.static_mac.then(|| e.mac.clone()),
        })
        .collect()
}

/// Gives back the addresses `c` leased (when it stops, or is removed).
pub fn release(root: &Path, c: &Container) -> Result<(), ContainerError> {
    let networks = Networks::new(root);
    for e in &c.config.net.endpoints {
        networks.release(&e.network_id, &c.id)?;
    }
    Ok(())
}
