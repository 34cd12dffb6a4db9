//! The `docker container inspect` object of a container, in Docker 28's shape and key order
//! (see `testdata/docker28/container_inspect.json`): shared by `strata inspect` and the Engine
//! API's `GET /containers/{id}/json`. Settings strata does not have (seccomp, AppArmor, the
//! block-I/O and cpuset limits) show Docker's values for "none".

use std::path::Path;

use serde_json::{json, Map, Value};

use crate::container::config_view::{exposed_ports, is_default_stop_signal};
use crate::container::record::MountSpec;
use crate::container::volume_store::{anonymous_name, Volumes};
use crate::container::{Container, Containers, Status};
use crate::digest::{chain_ids, Digest};
use crate::network::ports::{self, PortBinding};
use crate::network::{Network, Networks};
use crate::snapshot::Snapshots;

const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

pub fn container_json(root: &Path, c: &Container) -> Value {
    let cs = Containers::new(root);
    let s = &c.state;
    let running = s.status == Status::Running;
    let path = c.config.argv.first().cloned().unwrap_or_default();
    let args: Vec<String> = c.config.argv.iter().skip(1).cloned().collect();
    let (ep, cmd) = c
        .config
        .argv
        .split_at(c.config.entrypoint_len.min(c.config.argv.len()));
    let mut state = json!({
            "Status": c.docker_status(),
            "Running": running,
            "Paused": s.paused && running,
            "Restarting": s.restarting,
            "OOMKilled": s.oom_killed,
            "Dead": false,
            "Pid": s.pid.map_or(0, |p| p.pid),
            "ExitCode": s.exit_code.unwrap_or(0),
            "Error": s.error.clone().unwrap_or_default(),
            "StartedAt": s.started_at.clone().unwrap_or_else(|| ZERO_TIME.into()),
            "FinishedAt": s.finished_at.clone().unwrap_or_else(|| ZERO_TIME.into()),
    });
    // Docker shows `Health` only once a container with a healthcheck has started.
    if let Some(h) = &s.health {
        state["Health"] = json!(h);
    }
    json!({
        "Id": c.id,
        "Created": c.created,
        "Path": path,
        "Args": args,
        "State": state,
        "Image": c.image_id.to_string(),
        // The sandbox writes these per start in a directory of its own; there is no file to name.
        "ResolvConfPath": "",
        "HostnamePath": "",
        "HostsPath": "",
        "LogPath": cs.log_path(&c.id).display().to_string(),
        "Name": format!("/{}", c.name),
        "RestartCount": s.restart_count,
        "Driver": "overlay",
        "Platform": "linux",
        "MountLabel": "",
        "ProcessLabel": "",
        "AppArmorProfile": "",
        "ExecIDs": Value::Null,
        "HostConfig": host_config(c),
        "GraphDriver": graph_driver(root, &cs, c),
        "Mounts": mounts(root, c),
        "Config": config(c, ep, cmd),
        "NetworkSettings": network_settings(c, &|id| Networks::new(root).find(id).ok()),
    })
}

fn null_if_empty<T: serde::Serialize>(v: &[T]) -> Value {
    if v.is_empty() {
        Value::Null
    } else {
        json!(v)
    }
}

fn host_config(c: &Container) -> Value {
    let binds: Vec<String> = c
        .config
        .mounts
        .iter()
        .filter_map(|m| match m {
            MountSpec::Bind {
                source,
                target,
                readonly,
            } => Some(format!(
                "{}:{}{}",
                source.display(),
                target.display(),
                if *readonly { ":ro" } else { "" }
            )),
            MountSpec::Volume {
                name: Some(name),
                target,
                readonly,
            } => Some(format!(
                "{name}:{}{}",
                target.display(),
                if *readonly { ":ro" } else { "" }
            )),
            _ => None,
        })
        .collect();
    let tmpfs: Map<String, Value> = c
        .config
        .mounts
        .iter()
        .filter_map(|m| match m {
            MountSpec::Tmpfs { target, size_bytes } => Some((
                target.display().to_string(),
                json!(size_bytes.map(|b| format!("size={b}")).unwrap_or_default()),
            )),
            _ => None,
        })
        .collect();
    // One port may be published more than once (`-p 3001:3000 -p 3002:3000`): a list each.
    let mut port_bindings = Map::new();
    for p in &c.config.net.publish {
        let host_port = match (p.host_port_start, p.host_port_end) {
            (0, _) => String::new(),
            (a, b) if a == b => a.to_string(),
            (a, b) => format!("{a}-{b}"),
        };
        let key = format!("{}/{}", p.container_port, p.protocol);
        let list = port_bindings.entry(key).or_insert_with(|| json!([]));
        if let Some(l) = list.as_array_mut() {
            l.push(json!({"HostIp": p.host_ip, "HostPort": host_port}));
        }
    }
    let mut hc = json!({
        "Binds": null_if_empty(&binds),
        "ContainerIDFile": "",
        "LogConfig": {"Type": "json-file", "Config": {}},
        "NetworkMode": c.config.net.mode,
        "PortBindings": port_bindings,
        "RestartPolicy": c.config.restart,
        "AutoRemove": c.config.auto_remove,
        "VolumeDriver": "",
        "VolumesFrom": null_if_empty(&c.config.volumes_from),
        "ConsoleSize": [0, 0],
        "CapAdd": Value::Null,
        "CapDrop": Value::Null,
        "CgroupnsMode": "host",
        "Dns": c.config.net.dns,
        "DnsOptions": c.config.net.dns_options,
        "DnsSearch": c.config.net.dns_search,
        "ExtraHosts": null_if_empty(&c.config.net.extra_hosts),
        "GroupAdd": null_if_empty(&c.config.group_add),
        "IpcMode": "private",
        "Cgroup": "",
        "Links": null_if_empty(&c.config.net.links),
        "OomScoreAdj": 0,
        "PidMode": c.config.host.pid_mode,
        "Privileged": false,
        "PublishAllPorts": false,
        "ReadonlyRootfs": c.config.readonly_root,
        "SecurityOpt": Value::Null,
        "UTSMode": "",
        "UsernsMode": "",
    });
    let r = &c.config.resources;
    let ulimits: Vec<Value> = r
        .ulimits
        .iter()
        .map(|u| json!({"Name": u.name.name(), "Hard": u.hard, "Soft": u.soft}))
        .collect();
    let runtime = match c.config.host.runtime.as_str() {
        "" => crate::container::host_options::DEFAULT_RUNTIME,
        r => r,
    };
    // Two literals: one would exceed the json! macro's recursion limit.
    let resources = json!({
        "ShmSize": r.shm_bytes(),
        "Runtime": runtime,
        "Isolation": c.config.host.isolation,
        "CpuShares": r.cpu_shares,
        "Memory": r.memory,
        "NanoCpus": r.nano_cpus,
        "CgroupParent": "",
        "BlkioWeight": 0,
        "BlkioWeightDevice": [],
        "BlkioDeviceReadBps": [],
        "BlkioDeviceWriteBps": [],
        "BlkioDeviceReadIOps": [],
        "BlkioDeviceWriteIOps": [],
        "CpuPeriod": 0,
        "CpuQuota": 0,
        "CpuRealtimePeriod": 0,
        "CpuRealtimeRuntime": 0,
        "CpusetCpus": r.cpuset_cpus,
        "CpusetMems": r.cpuset_mems,
        "Devices": [],
        // Set by `inspect_security::fields`; here for its place in Docker's order.
        "DeviceCgroupRules": Value::Null,
        "DeviceRequests": Value::Null,
        "MemoryReservation": 0,
        "MemorySwap": r.memory_swap,
        "MemorySwappiness": Value::Null,
        "OomKillDisable": Value::Null,
        "PidsLimit": r.pids_limit,
        "Ulimits": ulimits,
        "CpuCount": 0,
        "CpuPercent": 0,
        "IOMaximumIOps": 0,
        "IOMaximumBandwidth": 0,
        "MaskedPaths": crate::sandbox::devices::MASKED_PATHS,
        "ReadonlyPaths": crate::sandbox::devices::READONLY_PATHS,
    });
    if let (Value::Object(hc), Value::Object(r)) = (&mut hc, resources) {
        hc.extend(r);
    }
    if !tmpfs.is_empty() {
        hc["Tmpfs"] = Value::Object(tmpfs);
    }
    if c.config.init {
        hc["Init"] = json!(true);
    }
    for (key, value) in super::inspect_security::fields(&c.config.security) {
        hc[key] = value;
    }
    if let (Value::Object(hc), Some(Value::Object(sent))) = (&mut hc, &c.config.host_config) {
        super::inspect_sent::echo_sent(hc, sent);
    }
    hc
}

fn graph_driver(root: &Path, cs: &Containers, c: &Container) -> Value {
    let snapshots = Snapshots::new(root);
    let diff_ids: Vec<Digest> = c.layers.iter().map(|l| l.diff_id).collect();
    let lower: Vec<String> = chain_ids(&diff_ids)
        .iter()
        .rev()
        .map(|chain| snapshots.dir(chain).display().to_string())
        .collect();
    json!({
        "Data": {
            "ID": c.id,
            "LowerDir": lower.join(":"),
            "MergedDir": "",
            "UpperDir": cs.upperdir(&c.id).display().to_string(),
            "WorkDir": cs.workdir(&c.id).display().to_string(),
        },
        "Name": "overlay",
    })
}

/// `Mounts`: each mount of `c` as Docker shows it in `inspect` and in the list's summaries
/// (no I/O: a volume's directory is named, not read).
pub fn mounts(root: &Path, c: &Container) -> Value {
    let volumes = Volumes::new(root);
    let list: Vec<Value> = c
        .config
        .mounts
        .iter()
        .map(|m| match m {
            MountSpec::Bind {
                source,
                target,
                readonly,
            } => json!({
                "Type": "bind",
                "Source": source.display().to_string(),
                "Destination": target.display().to_string(),
                "Mode": "",
                "RW": !readonly,
                "Propagation": "rprivate",
            }),
            MountSpec::Volume {
                name,
                target,
                readonly,
            } => {
                let name = name
                    .clone()
                    .unwrap_or_else(|| anonymous_name(&c.id, target));
                json!({
                    "Type": "volume",
                    "Name": name,
                    "Source": volumes.data_dir(&name).display().to_string(),
                    "Destination": target.display().to_string(),
                    "Driver": "local",
                    "Mode": "z",
                    "RW": !readonly,
                    "Propagation": "",
                })
            }
            MountSpec::Tmpfs { target, .. } => json!({
                "Type": "tmpfs",
                "Source": "",
                "Destination": target.display().to_string(),
                "Mode": "",
                "RW": true,
                "Propagation": "",
            }),
        })
        .collect();
    json!(list)
}

fn config(c: &Container, ep: &[String], cmd: &[String]) -> Value {
    let exposed: Map<String, Value> = exposed_ports(&c.config)
        .into_iter()
        .map(|p| (p, json!({})))
        .collect();
    let volumes: Map<String, Value> = c
        .config
        .image_volumes
        .iter()
        .map(|v| (v.clone(), json!({})))
        .collect();
    let mut cfg = json!({
        "Hostname": c.config.hostname,
        "Domainname": "",
        "User": c.config.user,
        "AttachStdin": false,
        "AttachStdout": false,
        "AttachStderr": false,
    });
    if !exposed.is_empty() {
        cfg["ExposedPorts"] = Value::Object(exposed);
    }
    let mut rest = json!({
        "Tty": c.config.tty,
        "OpenStdin": c.config.interactive,
        "StdinOnce": c.config.stdin_once,
        "Env": c.config.env,
        "Cmd": null_if_empty(cmd),
    });
    if let Some(h) = &c.config.healthcheck {
        rest["Healthcheck"] = json!(h);
    }
    let tail = json!({
        "Image": c.image,
        "Volumes": if volumes.is_empty() { Value::Null } else { Value::Object(volumes) },
        "WorkingDir": if c.config.cwd == "/" { String::new() } else { c.config.cwd.clone() },
        "Entrypoint": null_if_empty(ep),
        "OnBuild": Value::Null,
        "Labels": c.config.labels,
    });
    for part in [rest, tail] {
        if let (Value::Object(cfg), Value::Object(part)) = (&mut cfg, part) {
            cfg.extend(part);
        }
    }
    // Docker leaves StopSignal out unless the image or a flag set one.
    if !is_default_stop_signal(&c.config.stop_signal) {
        cfg["StopSignal"] = json!(c.config.stop_signal);
    }
    if let Some(t) = c.config.stop_timeout {
        cfg["StopTimeout"] = json!(t);
    }
    if !c.config.shell.is_empty() {
        cfg["Shell"] = json!(c.config.shell);
    }
    cfg
}

/// Finds a network record by ID (a list may read them all once instead of once each).
pub type FindNetwork<'a> = &'a dyn Fn(&str) -> Option<Network>;

fn network_settings(c: &Container, find: FindNetwork<'_>) -> Value {
    let running = c.state.status == Status::Running;
    let bindings: Vec<PortBinding> = c.published_ports().to_vec();
    let nets = endpoints(c, find);
    let first = nets.values().next().cloned().unwrap_or(Value::Null);
    let sandbox = c
        .state
        .net
        .as_ref()
        .filter(|_| running)
        .map(|n| n.netns.display().to_string())
        .unwrap_or_default();
    let top = |k: &str| first[k].as_str().unwrap_or_default().to_string();
    json!({
        "Bridge": "",
        "SandboxID": if sandbox.is_empty() { String::new() } else { c.id.clone() },
        "SandboxKey": sandbox,
        "Ports": ports::inspect_ports(&bindings, &[]),
        "HairpinMode": false,
        "LinkLocalIPv6Address": "",
        "LinkLocalIPv6PrefixLen": 0,
        "SecondaryIPAddresses": Value::Null,
        "SecondaryIPv6Addresses": Value::Null,
        "EndpointID": top("EndpointID"),
        "Gateway": top("Gateway"),
        "GlobalIPv6Address": "",
        "GlobalIPv6PrefixLen": 0,
        "IPAddress": top("IPAddress"),
        "IPPrefixLen": first["IPPrefixLen"].as_u64().unwrap_or(0),
        "IPv6Gateway": "",
        "MacAddress": top("MacAddress"),
        "Networks": nets,
    })
}

/// `NetworkSettings.Networks`: each network of `c` by name with its endpoint (addresses only
/// while it runs), or the built-in `host`/`none` network it uses, as Docker shows them in
/// `inspect` and in the list's summaries.
pub fn endpoints(c: &Container, find: FindNetwork<'_>) -> Map<String, Value> {
    let running = c.state.status == Status::Running;
    let mut nets = Map::new();
    if c.config.net.endpoints.is_empty() && matches!(c.config.net.mode.as_str(), "host" | "none") {
        let mode = c.config.net.mode.as_str();
        nets.insert(
            mode.to_string(),
            json!({
                "IPAMConfig": Value::Null,
                "Links": Value::Null,
                "Aliases": Value::Null,
                "MacAddress": "",
                "DriverOpts": Value::Null,
                "GwPriority": 0,
                "NetworkID": super::networks::builtin_id(mode),
                "EndpointID": "",
                "Gateway": "",
                "IPAddress": "",
                "IPPrefixLen": 0,
                "IPv6Gateway": "",
                "GlobalIPv6Address": "",
                "GlobalIPv6PrefixLen": 0,
                "DNSNames": Value::Null,
            }),
        );
    }
    for e in &c.config.net.endpoints {
        let n = find(&e.network_id);
        let prefix = n.as_ref().map_or(0, |n| n.subnet.prefix_len());
        let gateway = n
            .as_ref()
            .map(|n| n.gateway.to_string())
            .unwrap_or_default();
        let dns = n.as_ref().is_some_and(|n| n.dns);
        let live = |v: String| if running { v } else { String::new() };
        nets.insert(
            e.network.clone(),
            json!({
                "IPAMConfig": if e.static_ip { json!({"IPv4Address": e.ip.to_string()}) } else { Value::Null },
                "Links": Value::Null,
                "Aliases": null_if_empty(&e.aliases),
                "MacAddress": live(e.mac.clone()),
                "DriverOpts": if e.driver_opts.is_empty() { Value::Null } else { json!(e.driver_opts) },
                "GwPriority": 0,
                "NetworkID": e.network_id,
                "EndpointID": live(crate::network::record::endpoint_id(&c.id, &e.network_id)),
                "Gateway": live(gateway),
                "IPAddress": live(e.ip.to_string()),
                "IPPrefixLen": if running { prefix } else { 0 },
                "IPv6Gateway": "",
                "GlobalIPv6Address": "",
                "GlobalIPv6PrefixLen": 0,
                "DNSNames": if dns {
                    let mut names = vec![c.name.clone()];
                    names.extend(e.aliases.iter().cloned());
                    names.push(c.short_id().to_string());
                    json!(names)
                } else { Value::Null },
            }),
        );
    }
    nets
}
