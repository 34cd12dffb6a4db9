//! strata's own bridge backend: links, addresses and routes over rtnetlink (`netlink`), the
//! firewall in one iptables transaction per change (`rules`), names through aardvark-dns
//! (`aardvark`). It takes the same request as netavark (`netavark::request`), so the two are
//! interchangeable behind `Backend`; it exists because netavark 1.4 (Debian 12) spends one
//! iptables process and one nftables commit per rule: 60 ms to set a container up and 260 ms
//! to tear it down, more than a whole `docker run`.
//!
//! A network's bridge and rules stay while the network exists, as Docker's do; a container's
//! veth, published-port rules and name come and go with it.

use std::fs::File;
use std::net::Ipv4Addr;
use std::os::fd::AsFd;
use std::path::Path;

use ipnet::Ipv4Net;
use serde_json::{json, Value};

use super::aardvark::{self, Aardvark};
use super::error::NetworkError;
use super::netavark::Backend;
use super::netlink;
use super::ports::{PortBinding, Proto};
use super::rules::{self, Batch};
use super::store::host_lock;

pub struct Native {
    pub aardvark: Aardvark,
}

/// One network of a request, as the backend needs it.
#[derive(Debug, Clone, PartialEq)]
pub struct Attach {
    pub network: String,
    pub network_id: String,
    pub bridge: String,
    pub subnet: Ipv4Net,
    pub gateway: Ipv4Addr,
    pub internal: bool,
    pub dns: bool,
    pub ip: Ipv4Addr,
    pub interface: String,
    pub names: Vec<String>,
    /// netavark's `static_mac`, parsed.
    pub mac: Option<[u8; 6]>,
}

/// What a request asks for: the container, its networks (in interface order) and ports.
#[derive(Debug, Clone, PartialEq)]
pub struct Parsed {
    pub container_id: String,
    pub attach: Vec<Attach>,
    pub ports: Vec<PortBinding>,
}

fn bad(what: &str) -> NetworkError {
    NetworkError::ToolOutput(format!("network request without {what}"))
}

/// Reads a request made by `netavark::request` (pure).
pub fn parse(request: &Value) -> Result<Parsed, NetworkError> {
    let container_id = request["container_id"]
        .as_str()
        .ok_or_else(|| bad("container_id"))?
        .to_string();
    let name = request["container_name"].as_str().unwrap_or_default();
    let mut attach = Vec::new();
    for (net, opts) in request["networks"]
        .as_object()
        .ok_or_else(|| bad("networks"))?
    {
        let info = &request["network_info"][net];
        let subnet = &info["subnets"][0];
        let parse_ip = |v: &Value, what: &str| -> Result<Ipv4Addr, NetworkError> {
            v.as_str()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad(what))
        };
        let mut names = vec![name.to_string()];
        names.extend(
            opts["aliases"]
                .as_array()
                .into_iter()
                .flatten()
                .filter_map(|a| a.as_str().map(str::to_string)),
        );
        attach.push(Attach {
            network: net.clone(),
            network_id: info["id"].as_str().ok_or_else(|| bad("network id"))?.into(),
            bridge: info["network_interface"]
                .as_str()
                .ok_or_else(|| bad("bridge"))?
                .into(),
            subnet: subnet["subnet"]
                .as_str()
                .and_then(|s| s.parse().ok())
                .ok_or_else(|| bad("subnet"))?,
            gateway: parse_ip(&subnet["gateway"], "gateway")?,
            internal: info["internal"].as_bool().unwrap_or(false),
            dns: info["dns_enabled"].as_bool().unwrap_or(false),
            ip: parse_ip(&opts["static_ips"][0], "address")?,
            interface: opts["interface_name"]
                .as_str()
                .ok_or_else(|| bad("interface"))?
                .into(),
            names,
            mac: match opts["static_mac"].as_str() {
                Some(m) => Some(netlink::parse_mac(m).ok_or_else(|| bad("static_mac"))?),
                None => None,
            },
        });
    }
    attach.sort_by(|a, b| a.interface.cmp(&b.interface));
    let mut ports = Vec::new();
    for p in request["port_mappings"].as_array().into_iter().flatten() {
        let proto = match p["protocol"].as_str() {
            Some("udp") => Proto::Udp,
            _ => Proto::Tcp,
        };
        ports.push(PortBinding {
            host_ip: p["host_ip"].as_str().unwrap_or_default().to_string(),
            host_port: p["host_port"].as_u64().unwrap_or(0) as u16,
            container_port: p["container_port"].as_u64().unwrap_or(0) as u16,
            protocol: proto,
        });
    }
    Ok(Parsed {
        container_id,
        attach,
        ports,
    })
}

/// The host end of a container's veth on a network: the same name at setup and teardown.
pub fn veth_name(container_id: &str, network_id: &str) -> String {
    let h = blake3::hash(format!("{container_id}/{network_id}").as_bytes());
    format!("veth{}", &h.to_hex()[..8])
}

fn sysctl(path: &str, value: &str) -> Result<(), NetworkError> {
    let p = Path::new(path);
    if std::fs::read_to_string(p).is_ok_and(|v| v.trim() == value) {
        return Ok(());
    }
    std::fs::write(p, value).map_err(NetworkError::io("write", p))
}

/// The bridge of `a`, with its address, up and ready for localhost port forwarding.
fn ensure_bridge(a: &Attach) -> Result<(), NetworkError> {
    netlink::create_bridge(&a.bridge)?;
    netlink::add_address(&a.bridge, a.gateway, a.subnet.prefix_len())?;
    netlink::set_up(&a.bridge)?;
    sysctl(
        &format!("/proc/sys/net/ipv4/conf/{}/route_localnet", a.bridge),
        "1",
    )
}

impl Native {
    fn dns_update(&self, p: &Parsed, a: &Attach, up: bool) -> Result<(), NetworkError> {
        if !a.dns {
            return Ok(());
        }
        let line = aardvark::entry_line(&p.container_id, &a.ip.to_string(), &a.names);
        self.aardvark.update(
            &a.network,
            &a.gateway.to_string(),
            &p.container_id,
            up.then_some(line.as_str()),
        )
    }
}

impl Backend for Native {
    fn setup(&self, netns: &Path, request: &Value) -> Result<Value, NetworkError> {
        let p = parse(request)?;
        let _host = host_lock()?;
        sysctl("/proc/sys/net/ipv4/ip_forward", "1")?;
        let ns = File::open(netns).map_err(NetworkError::io("open", netns))?;
        let mut batch = Batch {
            add: rules::base_rules(),
            remove: Vec::new(),
        };
        let mut answer = serde_json::Map::new();
        for (i, a) in p.attach.iter().enumerate() {
            ensure_bridge(a)?;
            let host = veth_name(&p.container_id, &a.network_id);
            // A leftover of a crash under the same name would make the creation fail.
            netlink::delete_link(&host)?;
            netlink::create_veth(&host, &a.interface, ns.as_fd())?;
            netlink::set_master(&host, &a.bridge)?;
            netlink::set_up(&host)?;
            let default_route = i == 0 && !a.internal;
            let mac = netlink::in_netns(ns.as_fd(), || {
                if let Some(mac) = &a.mac {
                    netlink::set_mac_address(&a.interface, mac)?;
                }
                netlink::add_address(&a.interface, a.ip, a.subnet.prefix_len())?;
                netlink::set_up(&a.interface)?;
                netlink::set_up("lo")?;
                if default_route {
                    netlink::add_default_route(a.gateway)?;
                }
                netlink::mac_address(&a.interface)
            })?;
            answer.insert(
                a.network.clone(),
                json!({"interfaces": {a.interface.clone(): {"mac_address": mac}}}),
            );
            batch.add.extend(rules::network_rules(
                &a.network_id,
                &a.bridge,
                &a.subnet,
                a.internal,
            ));
            if i == 0 {
                batch.add.extend(rules::container_rules(
                    &p.container_id,
                    &a.bridge,
                    a.ip,
                    &p.ports,
                ));
            }
            self.dns_update(&p, a, true)?;
        }
        rules::apply(&batch)?;
        Ok(Value::Object(answer))
    }

    fn teardown(&self, _netns: &Path, request: &Value) -> Result<(), NetworkError> {
        let p = parse(request)?;
        let _host = host_lock()?;
        let mut first_error = None;
        for a in &p.attach {
            if let Err(e) = netlink::delete_link(&veth_name(&p.container_id, &a.network_id)) {
                first_error.get_or_insert(e.into());
            }
            if let Err(e) = self.dns_update(&p, a, false) {
                first_error.get_or_insert(e);
            }
        }
        if !p.ports.is_empty() {
            rules::apply(&Batch {
                add: Vec::new(),
                remove: vec![rules::container_owner(&p.container_id)],
            })?;
        }
        match first_error {
            Some(e) => Err(e),
            None => Ok(()),
        }
    }

    /// Drops what one network holds on the host: its rules and its bridge.
    fn remove_network(&self, id: &str, bridge: &str) -> Result<(), NetworkError> {
        let _host = host_lock()?;
        rules::apply(&Batch {
            add: Vec::new(),
            remove: vec![rules::network_owner(id)],
        })?;
        Ok(netlink::delete_link(bridge)?)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::netavark::{request, Endpoint};
    use crate::network::record::{Network, SCHEMA};

    #[test]
    fn parses_what_netavark_request_builds() {
        let n = Network {
            schema: SCHEMA,
            id: "ab".repeat(32),
            name: "app".into(),
            driver: "bridge".into(),
            subnet: "10.89.7.0/24".parse().unwrap(),
            gateway: "10.89.7.1".parse().unwrap(),
            internal: true,
            dns: true,
            labels: Default::default(),
            created: String::new(),
            attachable: false,
            options: Default::default(),
            ip_range: None,
            aux_addresses: Default::default(),
        };
        let e = Endpoint {
            network: &n,
            ip: "10.89.7.9".parse().unwrap(),
            aliases: vec!["db".into()],
            interface: "eth0".into(),
            mac: Some("02:42:ac:11:00:0a".into()),
        };
        let ports = [PortBinding {
            host_ip: "127.0.0.1".into(),
            host_port: 5353,
            container_port: 53,
            protocol: Proto::Udp,
        }];
        let p = parse(&request("c".repeat(64).as_str(), "web", &[e], &ports)).unwrap();
        assert_eq!(p.container_id, "c".repeat(64));
        assert_eq!(p.ports, ports);
        let a = &p.attach[0];
        assert_eq!(
            (a.bridge.as_str(), a.interface.as_str(), a.ip.to_string()),
            ("strata-abababab", "eth0", "10.89.7.9".to_string())
        );
        assert!(a.internal && a.dns);
        assert_eq!(a.mac, Some([0x02, 0x42, 0xac, 0x11, 0x00, 0x0a]));
        assert_eq!(a.names, vec!["web".to_string(), "db".to_string()]);
        assert!(parse(&json!({})).is_err());
    }

    #[test]
    fn veth_names_are_stable_and_fit() {
        let a = veth_name("c1", "n1");
        assert_eq!(a, veth_name("c1", "n1"));
        assert_ne!(a, veth_name("c1", "n2"));
        assert_eq!(a.len(), 12);
    }
}
