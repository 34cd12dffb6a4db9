//! The `docker container inspect` object of a container, as Docker 28 prints it: shared by
//! `strata inspect` and the Engine API's `GET /containers/{id}/json`.

use serde_json::{json, Value};

use crate::container::{Container, Status};
use crate::network::ports::{self, PortBinding};
use crate::network::Networks;

pub fn container_json(root: &std::path::Path, c: &Container) -> Value {
    let s = &c.state;
    let running = s.status == Status::Running;
    let bindings: Vec<PortBinding> = c.published_ports().to_vec();
    let networks = Networks::new(root);
    let mut nets = serde_json::Map::new();
    for e in &c.config.net.endpoints {
        let n = networks.find(&e.network_id).ok();
        let prefix = n.as_ref().map_or(0, |n| n.subnet.prefix_len());
        let gateway = n
            .as_ref()
            .map(|n| n.gateway.to_string())
            .unwrap_or_default();
        let mut aliases = e.aliases.clone();
        if n.as_ref().is_some_and(|n| n.dns) {
            aliases.push(c.short_id().to_string());
        }
        nets.insert(
            e.network.clone(),
            json!({
                "IPAMConfig": if e.static_ip { json!({"IPv4Address": e.ip.to_string()}) } else { Value::Null },
                "Links": Value::Null,
                "Aliases": aliases,
                "MacAddress": if running { e.mac.clone() } else { String::new() },
                "NetworkID": e.network_id,
                "EndpointID": if running { crate::network::record::endpoint_id(&c.id, &e.network_id) } else { String::new() },
                "Gateway": if running { gateway } else { String::new() },
                "IPAddress": if running { e.ip.to_string() } else { String::new() },
                "IPPrefixLen": if running { prefix } else { 0 },
                "IPv6Gateway": "",
                "GlobalIPv6Address": "",
                "GlobalIPv6PrefixLen": 0,
                "DNSNames": if n.as_ref().is_some_and(|n| n.dns) {
                    let mut names = vec![c.name.clone()];
                    names.extend(e.aliases.iter().cloned());
                    names.push(c.short_id().to_string());
                    json!(names)
                } else { Value::Null },
            }),
        );
    }
    let first = nets.values().next().cloned().unwrap_or(Value::Null);
    let port_bindings: serde_json::Map<String, Value> = c
        .config
        .net
        .publish
        .iter()
        .map(|p| {
            let host_port = match (p.host_port_start, p.host_port_end) {
                (0, _) => String::new(),
                (a, b) if a == b => a.to_string(),
                (a, b) => format!("{a}-{b}"),
            };
            (
                format!("{}/{}", p.container_port, p.protocol),
                json!([{"HostIp": p.host_ip, "HostPort": host_port}]),
            )
        })
        .collect();
    let path = c.config.argv.first().cloned().unwrap_or_default();
    let args: Vec<String> = c.config.argv.iter().skip(1).cloned().collect();
    let zero = "0001-01-01T00:00:00Z";
    json!({
        "Id": c.id,
        "Created": c.created,
        "Path": path,
        "Args": args,
        "State": {
            "Status": c.docker_status(),
            "Running": running,
            "Paused": s.paused && running,
            "Restarting": s.restarting,
            "OOMKilled": false,
            "Dead": false,
            "Pid": s.pid.map_or(0, |p| p.pid),
            "ExitCode": s.exit_code.unwrap_or(0),
            "Error": s.error.clone().unwrap_or_default(),
            "StartedAt": s.started_at.clone().unwrap_or_else(|| zero.into()),
            "FinishedAt": s.finished_at.clone().unwrap_or_else(|| zero.into()),
        },
        "Image": c.image_id.to_string(),
        "Name": format!("/{}", c.name),
        "RestartCount": s.restart_count,
        "HostConfig": {
            "NetworkMode": c.config.net.mode,
            "PortBindings": port_bindings,
            "AutoRemove": c.config.auto_remove,
            "RestartPolicy": c.config.restart,
            "Dns": c.config.net.dns,
            "DnsOptions": c.config.net.dns_options,
            "DnsSearch": c.config.net.dns_search,
            "ExtraHosts": c.config.net.extra_hosts,
            "ReadonlyRootfs": c.config.readonly_root,
        },
        "Config": {
            "Hostname": c.config.hostname,
            "User": c.config.user,
            "Tty": c.config.tty,
            "OpenStdin": c.config.interactive,
            "Env": c.config.env,
            "Cmd": args,
            "Image": c.image,
            "WorkingDir": c.config.cwd,
            "Entrypoint": [path],
            "StopSignal": c.config.stop_signal,
            "Labels": c.config.labels,
        },
        "NetworkSettings": {
            "Ports": ports::inspect_ports(&bindings, &[]),
            "IPAddress": first["IPAddress"].as_str().unwrap_or_default(),
            "Gateway": first["Gateway"].as_str().unwrap_or_default(),
            "MacAddress": first["MacAddress"].as_str().unwrap_or_default(),
            "Networks": nets,
        },
    })
}
