//! `POST /containers/create?name=&platform=`: Docker's body (`Config` fields at the top level,
//! `HostConfig`, `NetworkingConfig`) parsed strictly (a wrong type names its field) and
//! translated into the engine's `CreateRequest`. Unknown fields are ignored, as dockerd does.

use std::collections::BTreeMap;
use std::path::Path;

use axum::body::Bytes;
use axum::extract::{self, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use bollard_stubs::models::ContainerCreateResponse;
use serde::Deserialize;

use super::containers::{cblocking, Shared};
use super::create_endpoints::{self, NetworkingConfig};
use super::error::ApiError;
use super::networks::canonical_mac;
use super::query::{json_body, Params};
use crate::container::host_options::HostRequest;
use crate::container::mount_spec::{parse_mount_flag, parse_volume_flag};
use crate::container::resources::{parse_ulimit, Resources};
use crate::container::restart::RestartPolicy;
use crate::engine::containers::logs::UNREADABLE_LOG_DRIVERS;
use crate::engine::containers::{self as ec, CreateRequest, MoreNetwork, NetworkRequest};
use crate::plan::platform::Platform;
use crate::sandbox::security_flags::SecurityFlags;
use crate::store::Store;

/// The parts of Docker's create body strata honours.
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct Body {
    image: Option<String>,
    cmd: Option<Vec<String>>,
    entrypoint: Option<Vec<String>>,
    env: Option<Vec<String>>,
    working_dir: Option<String>,
    user: Option<String>,
    hostname: Option<String>,
    labels: Option<BTreeMap<String, String>>,
    tty: bool,
    open_stdin: bool,
    stdin_once: bool,
    stop_signal: Option<String>,
    stop_timeout: Option<i64>,
    /// Deprecated since API 1.44 for `EndpointsConfig.*.MacAddress`; still the MAC of the
    /// container's interface on its first network.
    mac_address: Option<String>,
    exposed_ports: Option<BTreeMap<String, serde_json::Value>>,
    volumes: Option<BTreeMap<String, serde_json::Value>>,
    healthcheck: Option<HealthcheckObj>,
    host_config: Option<HostConfig>,
    networking_config: Option<NetworkingConfig>,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct HostConfig {
    binds: Option<Vec<String>>,
    mounts: Option<Vec<MountObj>>,
    port_bindings: Option<BTreeMap<String, Option<Vec<PortBindingObj>>>>,
    publish_all_ports: bool,
    network_mode: Option<String>,
    restart_policy: Option<RestartObj>,
    auto_remove: bool,
    privileged: bool,
    cap_add: Option<Vec<String>>,
    cap_drop: Option<Vec<String>>,
    memory: i64,
    memory_swap: i64,
    nano_cpus: i64,
    cpu_shares: i64,
    pids_limit: Option<i64>,
    ulimits: Option<Vec<UlimitObj>>,
    shm_size: i64,
    tmpfs: Option<BTreeMap<String, String>>,
    extra_hosts: Option<Vec<String>>,
    dns: Option<Vec<String>>,
    dns_search: Option<Vec<String>>,
    dns_options: Option<Vec<String>>,
    readonly_rootfs: bool,
    init: Option<bool>,
    security_opt: Option<Vec<String>>,
    log_config: Option<LogConfigObj>,
    group_add: Option<Vec<String>>,
    volumes_from: Option<Vec<String>>,
    links: Option<Vec<String>>,
    pid_mode: Option<String>,
    runtime: Option<String>,
    isolation: Option<String>,
    storage_opt: Option<BTreeMap<String, String>>,
    cpuset_cpus: Option<String>,
    cpuset_mems: Option<String>,
    device_cgroup_rules: Option<Vec<String>>,
}

/// `Config.Healthcheck`; clients send `null` for the durations they leave to the image
/// (docker-py does), which is 0, "inherit".
#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct HealthcheckObj {
    test: Option<Vec<String>>,
    interval: Option<i64>,
    timeout: Option<i64>,
    start_period: Option<i64>,
    start_interval: Option<i64>,
    retries: Option<i64>,
}

impl HealthcheckObj {
    fn into_config(self) -> crate::store::config::Healthcheck {
        crate::store::config::Healthcheck {
            test: self.test,
            interval: self.interval.unwrap_or(0),
            timeout: self.timeout.unwrap_or(0),
            start_period: self.start_period.unwrap_or(0),
            start_interval: self.start_interval.unwrap_or(0),
            retries: self.retries.unwrap_or(0),
        }
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct LogConfigObj {
    #[serde(rename = "Type")]
    kind: String,
}

/// The log drivers dockerd ships: strata keeps json-file logs only (and takes `none`), and
/// says so for the others rather than log in a way the client did not ask for.
const DOCKER_LOG_DRIVERS: &[&str] = &[
    "local",
    "syslog",
    "journald",
    "gelf",
    "fluentd",
    "awslogs",
    "splunk",
    "etwlogs",
    "gcplogs",
    "logentries",
];

/// `HostConfig.LogConfig.Type`: empty (the default), `json-file`, or `none` (whose `logs`
/// are refused as dockerd's); any other is refused as dockerd refuses a driver it does not
/// have.
fn check_log_driver(kind: &str) -> Result<(), ApiError> {
    match kind {
        "" | "json-file" => Ok(()),
        k if UNREADABLE_LOG_DRIVERS.contains(&k) => Ok(()),
        k if DOCKER_LOG_DRIVERS.contains(&k) => Err(ApiError::bad_request(format!(
            "logger: log driver '{k}' is not supported by strata (json-file only)"
        ))),
        k => Err(ApiError::bad_request(format!(
            "logger: no log driver named '{k}' is registered"
        ))),
    }
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct MountObj {
    #[serde(rename = "Type")]
    kind: String,
    source: String,
    target: String,
    read_only: bool,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct PortBindingObj {
    host_ip: String,
    host_port: String,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct RestartObj {
    name: String,
    maximum_retry_count: i64,
}

#[derive(Debug, Default, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
struct UlimitObj {
    name: String,
    soft: i64,
    hard: i64,
}

/// The body parsed; a JSON or type error names the field at fault.
pub fn parse_body(raw: &[u8]) -> Result<Body, ApiError> {
    json_body(raw)
}

/// `HostConfig` exactly as the client sent it (the body parsed already, so it is valid
/// JSON), kept in the record for `inspect` to echo what strata stores but does not act on.
fn sent_host_config(raw: &[u8]) -> Option<serde_json::Value> {
    let mut v: serde_json::Value = serde_json::from_slice(raw).ok()?;
    match v.get_mut("HostConfig").map(serde_json::Value::take) {
        Some(hc @ serde_json::Value::Object(_)) => Some(hc),
        _ => None,
    }
}

/// `80/tcp` + `[{HostIp, HostPort}]` → `-p` specs.
fn publish_specs(port: &str, bindings: &[PortBindingObj]) -> Vec<String> {
    if bindings.is_empty() {
        return vec![port.to_string()];
    }
    bindings
        .iter()
        .map(|b| match (b.host_ip.as_str(), b.host_port.as_str()) {
            ("", "") => port.to_string(),
            ("", hp) => format!("{hp}:{port}"),
            (ip, hp) => format!("{ip}:{hp}:{port}"),
        })
        .collect()
}

/// The body as the engine's request (`name` from the query string).
pub fn to_request(body: Body, name: Option<String>) -> Result<CreateRequest, ApiError> {
    let bad = |field: &str, e: String| ApiError::bad_request(format!("{field}: {e}"));
    let image = body.image.filter(|i| !i.is_empty()).ok_or_else(|| {
        ApiError::bad_request("config cannot be empty in order to create a container")
    })?;
    let h = body.host_config.unwrap_or_default();
    if let Some(l) = &h.log_config {
        check_log_driver(&l.kind)?;
    }
    let cwd = Path::new("/");
    let mut mounts = Vec::new();
    for b in h.binds.unwrap_or_default() {
        mounts
            .push(parse_volume_flag(&b, cwd).map_err(|e| bad("HostConfig.Binds", e.to_string()))?);
    }
    for m in h.mounts.unwrap_or_default() {
        let mut spec = format!("type={},target={}", m.kind, m.target);
        if !m.source.is_empty() {
            spec.push_str(&format!(",source={}", m.source));
        }
        if m.read_only {
            spec.push_str(",readonly");
        }
        mounts.push(
            parse_mount_flag(&spec, cwd).map_err(|e| bad("HostConfig.Mounts", e.to_string()))?,
        );
    }
    for (target, options) in h.tmpfs.unwrap_or_default() {
        let mut spec = format!("type=tmpfs,target={target}");
        // `size=` is the one option strata's tmpfs mounts take; the rest are echoed only.
        if let Some(size) = options.split(',').find_map(|o| o.strip_prefix("size=")) {
            spec.push_str(&format!(",tmpfs-size={size}"));
        }
        mounts.push(
            parse_mount_flag(&spec, cwd).map_err(|e| bad("HostConfig.Tmpfs", e.to_string()))?,
        );
    }
    // `Config.Volumes`: an anonymous volume at each path no bind or mount already covers,
    // as `-v PATH` makes one.
    for target in body.volumes.unwrap_or_default().into_keys() {
        let spec = parse_volume_flag(&target, cwd).map_err(|e| bad("Volumes", e.to_string()))?;
        if !mounts.iter().any(|m| m.target() == spec.target()) {
            mounts.push(spec);
        }
    }
    let mut publish = Vec::new();
    for (port, bindings) in h.port_bindings.unwrap_or_default() {
        publish.extend(publish_specs(&port, &bindings.unwrap_or_default()));
    }
    let _ = body.exposed_ports;
    let restart = match h.restart_policy {
        Some(r) if !r.name.is_empty() && r.name != "no" => {
            let s = if r.name == "on-failure" && r.maximum_retry_count > 0 {
                format!("on-failure:{}", r.maximum_retry_count)
            } else {
                r.name
            };
            RestartPolicy::parse(&s).map_err(|e| bad("HostConfig.RestartPolicy", e.to_string()))?
        }
        _ => RestartPolicy::default(),
    };
    let mut ulimits = Vec::new();
    for u in h.ulimits.unwrap_or_default() {
        let s = format!("{}={}:{}", u.name, u.soft, u.hard);
        ulimits.push(parse_ulimit(&s).map_err(|e| bad("HostConfig.Ulimits", e))?);
    }
    let network_mode = h.network_mode.filter(|m| !m.is_empty() && m != "default");
    let endpoints = create_endpoints::split(body.networking_config, network_mode.as_deref());
    let own = endpoints.own;
    let mac_address = canonical_mac(own.mac_address.clone().or(body.mac_address))?;
    let more_networks = endpoints
        .extra
        .into_iter()
        .map(|m| {
            Ok(MoreNetwork {
                mac_address: canonical_mac(m.mac_address)?,
                ..m
            })
        })
        .collect::<Result<Vec<_>, ApiError>>()?;
    let stop_timeout = match body.stop_timeout {
        Some(t) if t >= 0 => Some(t as u64),
        _ => None,
    };
    Ok(CreateRequest {
        image,
        platform: None,
        name: name.filter(|n| !n.is_empty()),
        entrypoint: body.entrypoint,
        cmd: body.cmd.unwrap_or_default(),
        env: body.env.unwrap_or_default(),
        workdir: body.working_dir.filter(|s| !s.is_empty()),
        user: body.user.filter(|s| !s.is_empty()),
        hostname: body.hostname.filter(|s| !s.is_empty()),
        labels: body.labels.unwrap_or_default().into_iter().collect(),
        tty: body.tty,
        open_stdin: body.open_stdin,
        stdin_once: body.stdin_once,
        network: NetworkRequest {
            mode: network_mode,
            ipv4_address: own.ipv4_address(),
            aliases: own.aliases.unwrap_or_default(),
            driver_opts: own.driver_opts.unwrap_or_default(),
            publish,
            publish_all: h.publish_all_ports,
            dns: h.dns.unwrap_or_default(),
            dns_search: h.dns_search.unwrap_or_default(),
            dns_options: h.dns_options.unwrap_or_default(),
            extra_hosts: h.extra_hosts.unwrap_or_default(),
            mac_address,
            links: h.links.unwrap_or_default(),
            more_networks,
        },
        group_add: h.group_add.unwrap_or_default(),
        volumes_from: h.volumes_from.unwrap_or_default(),
        host_config: None,
        host: HostRequest {
            pid_mode: h.pid_mode,
            runtime: h.runtime,
            isolation: h.isolation,
            storage_opt: h.storage_opt.unwrap_or_default(),
        },
        mounts,
        readonly_rootfs: h.readonly_rootfs,
        init: h.init.unwrap_or(false),
        auto_remove: h.auto_remove,
        restart,
        stop_signal: body.stop_signal.filter(|s| !s.is_empty()),
        stop_timeout,
        healthcheck: body.healthcheck.map(HealthcheckObj::into_config),
        security: SecurityFlags {
            cap_add: h.cap_add.unwrap_or_default(),
            cap_drop: h.cap_drop.unwrap_or_default(),
            privileged: h.privileged,
            security_opt: h.security_opt.unwrap_or_default(),
            device_cgroup_rules: h.device_cgroup_rules.unwrap_or_default(),
            ..SecurityFlags::default()
        },
        resources: Resources {
            memory: h.memory,
            memory_swap: h.memory_swap,
            nano_cpus: h.nano_cpus,
            cpu_shares: h.cpu_shares,
            pids_limit: h.pids_limit.filter(|p| *p != 0),
            ulimits,
            shm_size: h.shm_size,
            cpuset_cpus: h.cpuset_cpus.unwrap_or_default(),
            cpuset_mems: h.cpuset_mems.unwrap_or_default(),
        },
    })
}

/// `POST /containers/create?name=&platform=` → 201 `{"Id", "Warnings"}`. `platform` picks a
/// multi-platform image's manifest (a foreign one runs emulated), or must be a single image's.
pub async fn create(
    extract::State(s): Shared,
    Query(p): Query<Params>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let mut req = to_request(parse_body(&raw)?, p.get("name").cloned())?;
    req.platform = platform_param(&p)?;
    req.host_config = sent_host_config(&raw);
    let root = s.root.clone();
    let created = cblocking(move || {
        // The API never pulls on create: the client pulls on a 404, as with dockerd.
        let store = Store::open(&root)?;
        store.resolve_platform(&req.image, req.platform.as_ref())?;
        ec::create(&store, req, |_| None, &mut |_| {})
    })
    .await?;
    Ok((
        StatusCode::CREATED,
        Json(ContainerCreateResponse {
            id: created.container.id,
            warnings: created.warnings,
        }),
    )
        .into_response())
}

/// The `platform` query parameter (`os/arch[/variant]`); empty or absent means the host's.
fn platform_param(p: &Params) -> Result<Option<Platform>, ApiError> {
    match p.get("platform").map(String::as_str) {
        None | Some("") => Ok(None),
        Some(spec) => Platform::parse(spec)
            .map(Some)
            .map_err(|e| ApiError::bad_request(format!("platform: {e}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn healthcheck_nulls_inherit() {
        let raw = br#"{"Image":"busybox","Healthcheck":{"Test":["CMD-SHELL","true"],
            "Interval":200000000,"Timeout":null,"StartPeriod":null,"Retries":2}}"#;
        let req = to_request(parse_body(raw).unwrap(), None).unwrap();
        let h = req.healthcheck.unwrap();
        assert_eq!(h.test, Some(vec!["CMD-SHELL".to_string(), "true".into()]));
        assert_eq!(
            (h.interval, h.timeout, h.start_period, h.retries),
            (200_000_000, 0, 0, 2)
        );
        let req = to_request(parse_body(br#"{"Image":"busybox"}"#).unwrap(), None).unwrap();
        assert!(req.healthcheck.is_none());
        let e = parse_body(br#"{"Image":"b","Healthcheck":{"Interval":"1s"}}"#).unwrap_err();
        assert!(e.message.contains("Healthcheck.Interval"), "{}", e.message);
    }
}
