//! `network connect`/`disconnect`: an endpoint added to or taken from a container, wired
//! into its namespace at once when it runs.

use std::net::Ipv4Addr;
use std::path::Path;

use crate::container::error::ContainerError;
use crate::container::record::{Endpoint, NetState};
use crate::container::store::Containers;
use crate::network::netavark;
use crate::network::Networks;

use super::{all_endpoints, backend, endpoint_networks, names_of};

/// `network connect [--alias A]… [--ip IP] NET CTR`: leases an address and, when the
/// container runs on bridges, wires the new endpoint into its namespace at once (with `mac`,
/// the API's `EndpointConfig.MacAddress`, kept for every start).
pub fn connect(
    root: &Path,
    cs: &Containers,
    network: &str,
    container: &str,
    aliases: &[String],
    ip: Option<&str>,
    mac: Option<&str>,
) -> Result<(), ContainerError> {
    let networks = Networks::new(root);
    let n = networks.find(network)?;
    let c = cs.find(container)?;
    // One disconnected from all its bridges keeps its own namespace (`Join`): it may join
    // again. Host, none and another container's namespace cannot.
    let own_namespace = matches!(c.config.network, crate::sandbox::NetworkMode::Join(_));
    if c.config.net.endpoints.is_empty() && !own_namespace {
        return Err(ContainerError::NetworkConflict(format!(
            "container {} uses network mode {:?}: only containers on bridge networks can be \
             connected to another network",
            c.name, c.config.net.mode
        )));
    }
    if c.config.net.endpoints.iter().any(|e| e.network_id == n.id) {
        return Err(ContainerError::NetworkConflict(format!(
            "endpoint with name {} already exists in network {}",
            c.name, n.name
        )));
    }
    if n.is_default() && !aliases.is_empty() {
        return Err(ContainerError::NetworkConflict(
            "network-scoped aliases are only supported for user-defined networks".into(),
        ));
    }
    let want = match ip {
        Some(ip) => Some(ip.parse::<Ipv4Addr>().map_err(|_| {
            ContainerError::NetworkConflict(format!("invalid IPv4 address {ip:?} for --ip"))
        })?),
        None => None,
    };
    if let Some(ip) = want {
        networks.check_assignable(&n, ip)?;
    }
    let mut endpoint = Endpoint {
        network_id: n.id.clone(),
        network: n.name.clone(),
        // Leased below when the container runs, else at its next start.
        ip: want.unwrap_or(Ipv4Addr::UNSPECIFIED),
        aliases: aliases.to_vec(),
        driver_opts: Default::default(),
        static_ip: want.is_some(),
        mac: mac.unwrap_or_default().to_string(),
        static_mac: mac.is_some(),
    };
    let _l = cs.lock(&c.id)?;
    let mut c = cs.get_reconciled_locked(&c.id)?;
    if c.config.net.endpoints.is_empty() {
        c.config.net.mode = n.name.clone();
    }
    if let (true, Some(state)) = (c.is_running(), c.state.net.clone()) {
        let lease = networks.lease(&n, &c.id, want)?;
        endpoint.ip = lease;
        c.config.net.endpoints.push(endpoint.clone());
        let index = c.config.net.endpoints.len() - 1;
        let one = [netavark::Endpoint {
            network: &n,
            ip: lease,
            aliases: names_of(&c, &endpoint),
            interface: format!("eth{index}"),
            mac: mac.map(str::to_string),
        }];
        let request = netavark::request(&c.id, &c.name, &one, &[]);
        let backend = backend(root);
        backend.prepare(&n.bridge())?;
        let wired = backend.setup(&state.netns, &request);
        let answer = match wired {
            Ok(a) => a,
            Err(e) => {
                drop(networks.release(&n.id, &c.id));
                return Err(e.into());
            }
        };
        if let Some((_, mac)) = netavark::macs(&answer).into_iter().next() {
            c.config.net.endpoints[index].mac = mac;
        }
        let all = endpoint_networks(root, &c)?;
        let endpoints = all_endpoints(&c, &all);
        c.state.net = Some(NetState {
            request: netavark::request(&c.id, &c.name, &endpoints, &state.ports),
            ..state
        });
    } else {
        c.config.net.endpoints.push(endpoint);
    }
    cs.save(&c)
}

/// `network disconnect NET CTR`: undoes `connect` (or the network given at `run`).
pub fn disconnect(
    root: &Path,
    cs: &Containers,
    network: &str,
    container: &str,
) -> Result<(), ContainerError> {
    let networks = Networks::new(root);
    let n = networks.find(network)?;
    let c = cs.find(container)?;
    let _l = cs.lock(&c.id)?;
    let mut c = cs.get_reconciled_locked(&c.id)?;
    let Some(index) = c
        .config
        .net
        .endpoints
        .iter()
        .position(|e| e.network_id == n.id)
    else {
        return Err(ContainerError::NetworkConflict(format!(
            "container {} is not connected to network {}",
            c.name, n.name
        )));
    };
    if let (true, Some(state)) = (c.is_running(), c.state.net.clone()) {
        let all = endpoint_networks(root, &c)?;
        let endpoints = all_endpoints(&c, &all);
        // The published ports ride on the first network: they go with it.
        let ports = if index == 0 { &state.ports[..] } else { &[] };
        let request = netavark::request(&c.id, &c.name, &endpoints[index..=index], ports);
        backend(root).teardown(&state.netns, &request)?;
        let rest: Vec<netavark::Endpoint<'_>> = endpoints
            .iter()
            .enumerate()
            .filter(|(i, _)| *i != index)
            .map(|(_, e)| e.clone())
            .collect();
        let ports = if index == 0 {
            Vec::new()
        } else {
            state.ports.clone()
        };
        c.state.net = Some(NetState {
            request: netavark::request(&c.id, &c.name, &rest, &ports),
            ports,
            ..state
        });
    }
    c.config.net.endpoints.remove(index);
    if c.config.net.endpoints.is_empty() {
        // Docker leaves a container with no network in its own empty namespace.
        c.config.net.mode = "none".into();
    }
    cs.save(&c)?;
    networks.release(&n.id, &c.id)?;
    Ok(())
}
