//! The container record (`state.json`): what the container runs, over which layers, and how it
//! is doing. Plain serialisable data; `schema` is bumped when the format changes incompatibly.

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use super::liveness;
use crate::digest::Digest;
use crate::network::ports::{PortBinding, PortRequest};
use crate::sandbox::NetworkMode;

/// The `schema` written into every new `state.json`.
pub const SCHEMA: u32 = 1;

/// One container.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Container {
    pub schema: u32,
    /// 64 lowercase hex digits.
    pub id: String,
    pub name: String,
    /// The image as the user named it (`busybox`, `sha256:…`).
    pub image: String,
    /// The image ID (config digest) at creation.
    pub image_id: Digest,
    pub manifest_digest: Digest,
    /// The image's layers, base first. Kept here so the container still runs after `rmi`
    /// (the blobs and snapshots stay until a prune).
    pub layers: Vec<LayerRef>,
    /// RFC 3339.
    pub created: String,
    pub config: RunConfig,
    pub state: State,
}

/// One image layer: its blob and what it unpacks to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct LayerRef {
    pub digest: Digest,
    pub diff_id: Digest,
}

/// How the container runs: the image config with the flags applied (see `command`).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct RunConfig {
    /// Entrypoint + Cmd as Docker combines them; never empty.
    pub argv: Vec<String>,
    pub env: Vec<String>,
    /// Absolute path inside the container.
    pub cwd: String,
    /// Docker `USER` syntax; `""` means root.
    pub user: String,
    pub hostname: String,
    /// How the sandbox gets its network: `Join` of the container's pinned namespace for a
    /// bridge network (see `net`), or slirp4netns (`Default`, without root), host, none.
    pub network: NetworkMode,
    /// Networks, published ports and name resolution, as `run` was given them.
    #[serde(default)]
    pub net: NetConfig,
    pub readonly_root: bool,
    /// In the order given; image `Volumes` without a flag for their path come last.
    pub mounts: Vec<MountSpec>,
    /// A signal name as `StopSignal` takes it (`SIGTERM`, `TERM`, `15`).
    pub stop_signal: String,
    /// Seconds `stop` waits before SIGKILL when not told (Docker's `StopTimeout`); `None` is
    /// Docker's 10.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stop_timeout: Option<u64>,
    pub tty: bool,
    pub interactive: bool,
    /// Docker's `StdinOnce`: the container's stdin ends when the first attached client's
    /// input ends (`docker run -i` sets it), rather than staying open for the next one.
    #[serde(default)]
    pub stdin_once: bool,
    /// `--rm`: the container's state goes when it stops.
    pub auto_remove: bool,
    /// `--init`: a minimal init reaps zombies and forwards signals (the sandbox's PID 1
    /// always does both; recorded for `inspect`).
    pub init: bool,
    /// `--restart`, kept by the detached supervisor's keeper.
    #[serde(default)]
    pub restart: super::restart::RestartPolicy,
    /// The image's labels with `--label`/`--label-file` over them, as Docker merges them.
    #[serde(default)]
    pub labels: std::collections::BTreeMap<String, String>,
    /// How many leading words of `argv` are the entrypoint (Docker keeps Entrypoint and Cmd
    /// apart in `inspect`).
    #[serde(default)]
    pub entrypoint_len: usize,
    /// The image's exposed ports (`80/tcp`) and volumes, for `inspect`'s Config.
    #[serde(default)]
    pub exposed: Vec<String>,
    #[serde(default)]
    pub image_volumes: Vec<String>,
    /// Capabilities, seccomp, privileged mode and devices, as `run` was given them.
    #[serde(default)]
    pub security: crate::sandbox::security::Security,
    /// `--memory`, `--cpus`, `--pids-limit`, `--ulimit`, `--shm-size` and the rest, as the
    /// daemon records them (defaults applied); `update` changes the cgroup ones.
    #[serde(default)]
    pub resources: super::resources::Resources,
    /// The image's HEALTHCHECK with the create's settings over it (`health::merge`); probed
    /// while the container runs when its `Test` names a command.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub healthcheck: Option<crate::store::config::Healthcheck>,
    /// The image's SHELL, which a `CMD-SHELL` healthcheck runs through (`/bin/sh -c` if empty).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub shell: Vec<String>,
    /// Docker's `GroupAdd`: supplementary groups of every process, resolved at start.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub group_add: Vec<String>,
    /// Docker's `VolumesFrom` as given (their mounts are in `mounts` already).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub volumes_from: Vec<String>,
    /// Docker's `HostConfig` as an API client sent it: `inspect` echoes what strata keeps
    /// but does not act on (`None` for containers the CLI made).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub host_config: Option<serde_json::Value>,
    /// `PidMode`, `Runtime`, `Isolation` as create checked them.
    #[serde(default)]
    pub host: super::host_options::HostOptions,
}

/// Docker's defaults for a container that sets nothing: `/`, root, no network, SIGTERM.
impl Default for RunConfig {
    fn default() -> Self {
        RunConfig {
            argv: Vec::new(),
            env: Vec::new(),
            cwd: "/".into(),
            user: String::new(),
            hostname: String::new(),
            network: NetworkMode::None,
            net: NetConfig::default(),
            readonly_root: false,
            mounts: Vec::new(),
            stop_signal: "SIGTERM".into(),
            stop_timeout: None,
            tty: false,
            interactive: false,
            stdin_once: false,
            auto_remove: false,
            init: false,
            restart: Default::default(),
            labels: Default::default(),
            entrypoint_len: 0,
            exposed: Vec::new(),
            image_volumes: Vec::new(),
            security: Default::default(),
            resources: Default::default(),
            healthcheck: None,
            shell: Vec::new(),
            group_add: Vec::new(),
            volumes_from: Vec::new(),
            host_config: None,
            host: Default::default(),
        }
    }
}

/// A container's networking as asked for at creation.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct NetConfig {
    /// Docker's `HostConfig.NetworkMode`: `bridge`, `host`, `none`, `container:ID` or the
    /// network's name.
    pub mode: String,
    /// The bridge networks it is attached to, in order (`eth0` first).
    pub endpoints: Vec<Endpoint>,
    /// `container:ID`: the container whose network namespace it shares.
    pub container: Option<String>,
    /// `-p`/`-P`, host ports not yet picked.
    pub publish: Vec<PortRequest>,
    pub dns: Vec<String>,
    pub dns_search: Vec<String>,
    pub dns_options: Vec<String>,
    /// `--add-host` values as typed (`host-gateway` is resolved at start).
    pub extra_hosts: Vec<String>,
    /// Docker's legacy links, `CONTAINER[:ALIAS]` as given: the linked container's name and
    /// alias resolve to its address (and, on the default bridge, its env shows as
    /// `ALIAS_ENV_*`).
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub links: Vec<String>,
}

/// One network of a container: its address is leased for the container's whole life.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Endpoint {
    pub network_id: String,
    pub network: String,
    pub ip: std::net::Ipv4Addr,
    /// `--network-alias`es (the name and short id are added when names are registered).
    pub aliases: Vec<String>,
    /// Docker's `DriverOpts` as sent at create, for `inspect`.
    #[serde(default, skip_serializing_if = "std::collections::BTreeMap::is_empty")]
    pub driver_opts: std::collections::BTreeMap<String, String>,
    /// Given by `--ip`: kept as asked, for `inspect`.
    pub static_ip: bool,
    /// Set once the endpoint was wired up (from netavark's answer), or as asked for.
    #[serde(default)]
    pub mac: String,
    /// `mac` was given (Docker's `MacAddress`): the interface gets it at every start.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub static_mac: bool,
}

/// The live network of a running (or crashed) container: what `down` needs to undo it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetState {
    /// The pinned network namespace.
    pub netns: PathBuf,
    /// netavark's request, replayed for `teardown`.
    pub request: serde_json::Value,
    /// The host ports as bound.
    pub ports: Vec<PortBinding>,
}

/// An extra mount of a container, as the user gave it (resolved to a `sandbox::Mount` when
/// the container starts).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "type", rename_all = "lowercase")]
pub enum MountSpec {
    /// A host path (absolute; it must exist when the container is created).
    Bind {
        source: PathBuf,
        target: PathBuf,
        readonly: bool,
    },
    /// A named volume, or an anonymous one (`name: None`, e.g. an image `VOLUME`), resolved
    /// through `volumes::resolve`.
    Volume {
        name: Option<String>,
        target: PathBuf,
        readonly: bool,
    },
    Tmpfs {
        target: PathBuf,
        size_bytes: Option<u64>,
    },
}

impl MountSpec {
    pub fn target(&self) -> &PathBuf {
        match self {
            MountSpec::Bind { target, .. }
            | MountSpec::Volume { target, .. }
            | MountSpec::Tmpfs { target, .. } => target,
        }
    }
}

/// A process identified by pid *and* start time (clock ticks since boot, field 22 of
/// `/proc/PID/stat`), so a pid reused by another process is not mistaken for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub struct ProcRef {
    pub pid: i32,
    pub start: u64,
}

impl ProcRef {
    /// The calling process.
    pub fn current() -> Option<ProcRef> {
        Self::of(std::process::id() as i32)
    }

    /// `pid` as it runs now, if it does.
    pub fn of(pid: i32) -> Option<ProcRef> {
        liveness::start_time(pid).map(|start| ProcRef { pid, start })
    }

    pub fn alive(&self) -> bool {
        liveness::start_time(self.pid) == Some(self.start)
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Status {
    /// Made, never started (or `start` failed before the command ran).
    #[default]
    Created,
    Running,
    Exited,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::Created => "created",
            Status::Running => "running",
            Status::Exited => "exited",
        }
    }
}

/// How the container is doing. Written by the process that owns the sandbox (`monitor`); when
/// that process is gone while the state still says running, the container died with it
/// (its sandbox's PID 1 has SIGKILL as parent-death signal) — see `Container::reconcile`.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
pub struct State {
    pub status: Status,
    /// The process owning the sandbox: the foreground `strata run`, or the detached
    /// supervisor.
    pub monitor: Option<ProcRef>,
    /// The sandbox's PID 1 (host pid): `exec` joins its namespaces, `stop` signals it.
    pub pid: Option<ProcRef>,
    /// The command's exit code (128+N when killed by signal N) once exited.
    pub exit_code: Option<i32>,
    /// Why the container could not start or ended abnormally, for `ps`/`inspect`.
    pub error: Option<String>,
    pub started_at: Option<String>,
    pub finished_at: Option<String>,
    /// Set before a bridge network is wired up, cleared once it is torn down: when the
    /// monitor was killed, whoever finds it set on a stopped container tears it down.
    #[serde(default)]
    pub net: Option<NetState>,
    /// The published ports as bound by the current (or last) run.
    #[serde(default)]
    pub ports: Vec<PortBinding>,
    /// Restarts by the restart policy since the last `start`.
    #[serde(default)]
    pub restart_count: u32,
    /// Set by `stop`/`kill`: the restart policy leaves it stopped.
    #[serde(default)]
    pub manually_stopped: bool,
    /// Between an exit and the restart the policy asked for.
    #[serde(default)]
    pub restarting: bool,
    /// The process applying the restart policy (it outlives each run's monitor, so a killed
    /// monitor is restarted too).
    #[serde(default)]
    pub keeper: Option<ProcRef>,
    /// Frozen by `pause` (its cgroup's freezer).
    #[serde(default)]
    pub paused: bool,
    /// The OOM killer killed a process of the last run (its cgroup's `oom_kill` count).
    #[serde(default)]
    pub oom_killed: bool,
    /// Docker's `State.Health`: set at the first start of a container with a healthcheck,
    /// updated by its monitor's probes, kept (unhealthy) once it stops.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health: Option<super::health::Health>,
}

/// Exit code recorded when the process owning a running container vanished (it was killed):
/// the sandbox died by SIGKILL with it.
pub const LOST_EXIT_CODE: i32 = 128 + 9;

impl Container {
    /// The published ports while it runs (none otherwise), as `ps`, `port` and `inspect` show
    /// them.
    pub fn published_ports(&self) -> &[PortBinding] {
        if self.state.status == Status::Running {
            &self.state.ports
        } else {
            &[]
        }
    }

    /// Docker's `State.Status`: `created`, `running`, `paused`, `restarting` or `exited`.
    pub fn docker_status(&self) -> &'static str {
        match self.state.status {
            Status::Running if self.state.paused => "paused",
            Status::Exited if self.state.restarting => "restarting",
            s => s.as_str(),
        }
    }

    /// The first 12 hex digits, as `ps` shows them.
    pub fn short_id(&self) -> &str {
        &self.id[..12.min(self.id.len())]
    }

    /// Whether the recorded state says running and its monitor still lives.
    pub fn is_running(&self) -> bool {
        self.state.status == Status::Running && self.state.monitor.is_some_and(|m| m.alive())
    }

    /// Corrects a state that says running when its monitor is gone (killed strata): the
    /// container is exited with `LOST_EXIT_CODE`. Returns whether anything changed.
    pub fn reconcile(&mut self, now: &str) -> bool {
        if self.state.status != Status::Running || self.is_running() {
            return false;
        }
        self.state.status = Status::Exited;
        self.state.exit_code = Some(LOST_EXIT_CODE);
        self.state.error = Some("the process supervising the container was killed".into());
        self.state.finished_at = Some(now.to_string());
        self.state.monitor = None;
        self.state.pid = None;
        if let Some(h) = &mut self.state.health {
            h.stopped();
        }
        true
    }
}

/// A container record for unit tests elsewhere: `status`, finished at `finished_at`.
#[cfg(test)]
pub fn test_record(status: Status, finished_at: Option<&str>) -> Container {
    Container {
        schema: SCHEMA,
        id: "a".repeat(64),
        name: "c".into(),
        image: "img".into(),
        image_id: Digest::of(b"img"),
        manifest_digest: Digest::of(b"m"),
        layers: vec![],
        created: "2026-01-01T00:00:00Z".into(),
        config: Default::default(),
        state: State {
            status,
            finished_at: finished_at.map(String::from),
            ..State::default()
        },
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample() -> Container {
        Container {
            schema: SCHEMA,
            id: "ab".repeat(32),
            name: "web".into(),
            image: "busybox".into(),
            image_id: Digest::of(b"c"),
            manifest_digest: Digest::of(b"m"),
            layers: vec![LayerRef {
                digest: Digest::of(b"l"),
                diff_id: Digest::of(b"d"),
            }],
            created: "2026-01-01T00:00:00Z".into(),
            config: RunConfig {
                argv: vec!["sh".into()],
                env: vec!["A=1".into()],
                hostname: "abababababab".into(),
                mounts: vec![
                    MountSpec::Volume {
                        name: None,
                        target: "/data".into(),
                        readonly: false,
                    },
                    MountSpec::Tmpfs {
                        target: "/t".into(),
                        size_bytes: Some(1),
                    },
                ],
                ..Default::default()
            },
            state: State::default(),
        }
    }

    #[test]
    fn round_trips_through_json() {
        let c = sample();
        let json = serde_json::to_string(&c).unwrap();
        assert_eq!(serde_json::from_str::<Container>(&json).unwrap(), c);
        assert!(json.contains(r#""type":"volume""#), "{json}");
    }

    #[test]
    fn a_dead_monitor_makes_a_running_container_exited() {
        let mut c = sample();
        c.state.status = Status::Running;
        // A pid that cannot exist now (pid_max is at most 2^22).
        c.state.monitor = Some(ProcRef {
            pid: 1 << 23,
            start: 1,
        });
        assert!(!c.is_running());
        assert!(c.reconcile("now"));
        assert_eq!(c.state.status, Status::Exited);
        assert_eq!(c.state.exit_code, Some(LOST_EXIT_CODE));
        assert!(!c.reconcile("now"), "reconciling twice changes nothing");
    }

    #[test]
    fn a_live_monitor_keeps_it_running() {
        let mut c = sample();
        c.state.status = Status::Running;
        c.state.monitor = ProcRef::current();
        assert!(c.is_running());
        assert!(!c.reconcile("now"));
    }
}
