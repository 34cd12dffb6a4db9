//! The bridge backend: podman's netavark (bridges, veths, NAT, port forwarding) and
//! aardvark-dns (names), driven through netavark's JSON interface. `request` builds the JSON
//! (pure, tested as data); `Backend` is the seam, `Netavark` runs the real tool.

use std::io::Write;
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};

use serde_json::{json, Value};

use super::error::NetworkError;
use super::ports::PortBinding;
use super::record::Network;

/// One network a container joins.
#[derive(Debug, Clone)]
pub struct Endpoint<'a> {
    pub network: &'a Network,
    pub ip: Ipv4Addr,
    /// Names it answers to besides the container's name (aliases, the short id).
    pub aliases: Vec<String>,
    /// `eth0`, `eth1`, … inside the container.
    pub interface: String,
    /// The interface's MAC address when one was asked for.
    pub mac: Option<String>,
}

/// netavark's network options for `setup`/`teardown` of `endpoints`, with the published
/// ports (forwarded only by the first network, as the ports belong to the container once).
pub fn request(
    container_id: &str,
    container_name: &str,
    endpoints: &[Endpoint<'_>],
    ports: &[PortBinding],
) -> Value {
    let mut networks = serde_json::Map::new();
    let mut info = serde_json::Map::new();
    for e in endpoints {
        let n = e.network;
        let mut opts = json!({
            "static_ips": [e.ip.to_string()],
            "aliases": if n.dns { e.aliases.clone() } else { Vec::new() },
            "interface_name": e.interface,
        });
        if let Some(mac) = &e.mac {
            opts["static_mac"] = json!(mac);
        }
        networks.insert(n.name.clone(), opts);
        info.insert(
            n.name.clone(),
            json!({
                "name": n.name,
                "id": n.id,
                "driver": "bridge",
                "network_interface": n.bridge(),
                "subnets": [{"subnet": n.subnet.to_string(), "gateway": n.gateway.to_string()}],
                "ipv6_enabled": false,
                "internal": n.internal,
                "dns_enabled": n.dns,
                "ipam_options": {"driver": "host-local"},
            }),
        );
    }
    let mappings: Vec<Value> = ports
        .iter()
        .map(|p| {
            json!({
                "host_ip": p.host_ip,
                "container_port": p.container_port,
                "host_port": p.host_port,
                "range": 1,
                "protocol": p.protocol.to_string(),
            })
        })
        .collect();
    json!({
        "container_id": container_id,
        "container_name": container_name,
        "port_mappings": mappings,
        "networks": networks,
        "network_info": info,
    })
}

/// The MAC address of each interface netavark configured, from its `setup` answer.
pub fn macs(answer: &Value) -> Vec<(String, String)> {
    let mut out = Vec::new();
    if let Some(nets) = answer.as_object() {
        for (net, status) in nets {
            if let Some(ifs) = status["interfaces"].as_object() {
                for i in ifs.values() {
                    if let Some(mac) = i["mac_address"].as_str() {
                        out.push((net.clone(), mac.to_string()));
                    }
                }
            }
        }
    }
    out
}

/// The privileged side of bridge networking.
pub trait Backend {
    /// Wires the namespace at `netns` into the request's networks; returns netavark's answer.
    fn setup(&self, netns: &Path, request: &Value) -> Result<Value, NetworkError>;
    /// Undoes `setup` for the request's networks (veths, rules, DNS entries, and the bridge
    /// when its last endpoint goes).
    fn teardown(&self, netns: &Path, request: &Value) -> Result<(), NetworkError>;
    /// Before a container joins the network of `bridge`.
    fn prepare(&self, _bridge: &str) -> Result<(), NetworkError> {
        Ok(())
    }
    /// What the network `id` holds on the host goes (`network rm`).
    fn remove_network(&self, id: &str, bridge: &str) -> Result<(), NetworkError>;
}

/// The real netavark.
pub struct Netavark {
    pub binary: PathBuf,
    pub aardvark: PathBuf,
    /// aardvark-dns's configuration directory (one aardvark per store).
    pub config: PathBuf,
    /// Upstream resolvers for names that are not containers' (`STRATA_DNS`); `None` = the
    /// host's /etc/resolv.conf, which aardvark-dns reads itself.
    pub upstream: Option<Vec<String>>,
}

/// `STRATA_DNS=IP[,IP…]`: the DNS servers of every container that has no `--dns` of its own,
/// and the upstream of the embedded DNS: what `dockerd --dns` is to Docker.
pub fn daemon_dns() -> Vec<String> {
    std::env::var("STRATA_DNS")
        .map(|v| {
            v.split(',')
                .map(|s| s.trim().to_string())
                .filter(|s| !s.is_empty())
                .collect()
        })
        .unwrap_or_default()
}

/// Where Debian (and podman's packages) install the tools; `STRATA_NETAVARK` overrides.
pub fn find_tool(name: &str, env: &str) -> PathBuf {
    if let Some(p) = std::env::var_os(env) {
        return PathBuf::from(p);
    }
    for dir in [
        "/usr/libexec/podman",
        "/usr/lib/podman",
        "/usr/local/libexec/podman",
    ] {
        let p = Path::new(dir).join(name);
        if p.exists() {
            return p;
        }
    }
    PathBuf::from(name)
}

impl Netavark {
    pub fn new(config: PathBuf) -> Self {
        let upstream = Some(daemon_dns()).filter(|d| !d.is_empty());
        Netavark {
            binary: find_tool("netavark", "STRATA_NETAVARK"),
            aardvark: find_tool("aardvark-dns", "STRATA_AARDVARK"),
            config,
            upstream,
        }
    }

    fn run(&self, verb: &str, netns: &Path, request: &Value) -> Result<Vec<u8>, NetworkError> {
        std::fs::create_dir_all(&self.config).map_err(NetworkError::io("create", &self.config))?;
        let mut cmd = Command::new(&self.binary);
        cmd.arg("--config")
            .arg(&self.config)
            .arg("--aardvark-binary")
            .arg(&self.aardvark)
            .arg(verb)
            .arg(netns)
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        // netavark starts aardvark-dns, which must get its SIGHUPs.
        crate::util::unblock_signals_in(&mut cmd);
        if let Some(servers) = &self.upstream {
            let conf = self.config.join("resolv.conf");
            let text: String = servers
                .iter()
                .map(|s| format!("nameserver {s}\n"))
                .collect();
            crate::util::atomic::write_atomic(&conf, text.as_bytes())
                .map_err(NetworkError::io("write", &conf))?;
            private_resolv_conf(&mut cmd, conf);
        }
        let tool = || self.binary.display().to_string();
        let _host = super::store::host_lock()?;
        let mut child = cmd.spawn().map_err(|source| NetworkError::ToolMissing {
            tool: tool(),
            source,
        })?;
        if let Some(mut stdin) = child.stdin.take() {
            let _ = stdin.write_all(request.to_string().as_bytes());
        }
        let out = child
            .wait_with_output()
            .map_err(NetworkError::io("wait for", &self.binary))?;
        if !out.status.success() {
            return Err(NetworkError::Tool {
                tool: format!("netavark {verb}"),
                status: out.status.to_string(),
                stderr: error_text(&out.stdout, &out.stderr),
            });
        }
        Ok(out.stdout)
    }
}

/// netavark's error: JSON `{"error": …}` on stdout, or plain stderr.
fn error_text(stdout: &[u8], stderr: &[u8]) -> String {
    if let Ok(v) = serde_json::from_slice::<Value>(stdout) {
        if let Some(e) = v["error"].as_str() {
            return e.to_string();
        }
    }
    let err = String::from_utf8_lossy(stderr);
    let lines: Vec<&str> = err
        .lines()
        .filter(|l| !l.contains("failed to connect to syslog"))
        .collect();
    lines.join("; ")
}

/// aardvark-dns, started by netavark, forwards other names to the servers in the
/// `/etc/resolv.conf` it sees: netavark runs in a mount namespace of its own where that file
/// is `conf`, so the host's file is never touched.
pub(crate) fn private_resolv_conf(cmd: &mut Command, conf: PathBuf) {
    use std::os::unix::process::CommandExt;
    let conf = std::ffi::CString::new(conf.as_os_str().as_encoded_bytes()).unwrap_or_default();
    // SAFETY: only unshare and mount, both async-signal-safe syscalls, run after fork.
    unsafe {
        cmd.pre_exec(move || {
            let none = std::ptr::null::<libc::c_char>();
            if libc::unshare(libc::CLONE_NEWNS) != 0
                || libc::mount(
                    none,
                    c"/".as_ptr(),
                    none,
                    libc::MS_REC | libc::MS_SLAVE,
                    std::ptr::null(),
                ) != 0
                || libc::mount(
                    conf.as_ptr(),
                    c"/etc/resolv.conf".as_ptr(),
                    none,
                    libc::MS_BIND,
                    std::ptr::null(),
                ) != 0
            {
                return Err(std::io::Error::last_os_error());
            }
            Ok(())
        });
    }
}

impl Backend for Netavark {
    fn setup(&self, netns: &Path, request: &Value) -> Result<Value, NetworkError> {
        let out = self.run("setup", netns, request)?;
        serde_json::from_slice(&out).map_err(|e| NetworkError::ToolOutput(e.to_string()))
    }

    fn teardown(&self, netns: &Path, request: &Value) -> Result<(), NetworkError> {
        self.run("teardown", netns, request)?;
        // The last endpoint took its bridge along: its isolation rule goes too (`prepare`
        // makes it again), so rules never pile up for networks whose stores are gone.
        for b in bridges_in(request) {
            if !super::firewall::link_exists(&b) {
                super::firewall::remove(&b)?;
            }
        }
        Ok(())
    }

    fn prepare(&self, bridge: &str) -> Result<(), NetworkError> {
        super::firewall::ensure(bridge)
    }

    fn remove_network(&self, _id: &str, bridge: &str) -> Result<(), NetworkError> {
        super::firewall::remove(bridge)
    }
}

/// The bridges a request names.
pub fn bridges_in(request: &Value) -> Vec<String> {
    request["network_info"]
        .as_object()
        .map(|m| {
            m.values()
                .filter_map(|n| n["network_interface"].as_str().map(str::to_string))
                .collect()
        })
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::network::ports::Proto;
    use crate::network::record::SCHEMA;

    fn net(name: &str, dns: bool) -> Network {
        Network {
            schema: SCHEMA,
            id: "ef".repeat(32),
            name: name.into(),
            driver: "bridge".into(),
            subnet: "10.89.7.0/24".parse().unwrap(),
            gateway: "10.89.7.1".parse().unwrap(),
            internal: false,
            dns,
            labels: Default::default(),
            created: String::new(),
            attachable: false,
            options: Default::default(),
            ip_range: None,
            aux_addresses: Default::default(),
        }
    }

    #[test]
    fn request_names_networks_ports_and_aliases() {
        let app = net("app", true);
        let e = Endpoint {
            network: &app,
            ip: "10.89.7.2".parse().unwrap(),
            aliases: vec!["db".into(), "0123456789ab".into()],
            interface: "eth0".into(),
            mac: None,
        };
        let ports = [PortBinding {
            host_ip: String::new(),
            host_port: 8080,
            container_port: 80,
            protocol: Proto::Tcp,
        }];
        let r = request("c1", "web", &[e], &ports);
        assert_eq!(r["networks"]["app"]["static_ips"][0], "10.89.7.2");
        assert_eq!(r["networks"]["app"]["aliases"][0], "db");
        assert_eq!(
            r["network_info"]["app"]["network_interface"],
            "strata-efefefef"
        );
        assert_eq!(r["network_info"]["app"]["dns_enabled"], true);
        assert_eq!(
            r["network_info"]["app"]["subnets"][0]["gateway"],
            "10.89.7.1"
        );
        assert_eq!(r["port_mappings"][0]["host_port"], 8080);
        assert_eq!(r["port_mappings"][0]["protocol"], "tcp");
    }

    #[test]
    fn the_default_network_gets_no_names() {
        let b = net("bridge", false);
        let e = Endpoint {
            network: &b,
            ip: "10.89.7.3".parse().unwrap(),
            aliases: vec!["x".into()],
            interface: "eth0".into(),
            mac: None,
        };
        let r = request("c1", "web", &[e], &[]);
        assert_eq!(r["networks"]["bridge"]["aliases"], json!([]));
    }

    #[test]
    fn macs_and_errors_from_answers() {
        let a = json!({"app": {"interfaces": {"eth0": {"mac_address": "aa:bb"}}}});
        assert_eq!(macs(&a), vec![("app".to_string(), "aa:bb".to_string())]);
        assert_eq!(error_text(br#"{"error":"boom"}"#, b""), "boom");
        assert_eq!(
            error_text(b"", b"failed to connect to syslog: x\nreal error\n"),
            "real error"
        );
    }
}
