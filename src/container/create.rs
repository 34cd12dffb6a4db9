//! Creating a container from an image and the `run` flags: the record is complete and valid
//! (command, bind sources, name) before anything is written, so a refused `run` leaves nothing.

use super::command;
use super::error::ContainerError;
use super::names;
use super::net::{self, NetOptions};
use super::record::{Container, LayerRef, MountSpec, RunConfig, State, SCHEMA};
use super::rootfs::check_mounts;
use super::store::{new_id, Containers};
use crate::store::image::Image;
use crate::store::time::format_rfc3339;
use crate::store::{digest_of, Store};

/// The `run`/`create` flags, as typed (mounts already parsed).
#[derive(Debug, Clone, Default)]
pub struct CreateOptions {
    pub name: Option<String>,
    /// Replaces the image's ENTRYPOINT (and drops its CMD); empty (or `[""]`) clears both.
    pub entrypoint: Option<Vec<String>>,
    pub command: Vec<String>,
    /// `--env-file` entries first, then `-e`, in order.
    pub env: Vec<String>,
    pub workdir: Option<String>,
    pub user: Option<String>,
    pub hostname: Option<String>,
    pub net: NetOptions,
    pub readonly_root: bool,
    pub mounts: Vec<MountSpec>,
    pub tty: bool,
    pub interactive: bool,
    pub stdin_once: bool,
    pub auto_remove: bool,
    pub init: bool,
    pub restart: super::restart::RestartPolicy,
    /// Over the image's STOPSIGNAL.
    pub stop_signal: Option<String>,
    /// Seconds `stop` waits by default before SIGKILL.
    pub stop_timeout: Option<u64>,
    /// Labels over the image's, in order (a later key wins).
    pub labels: Vec<(String, String)>,
    pub security: crate::sandbox::security::Security,
    /// Resource limits, already checked and defaulted (`resources::check_create`).
    pub resources: super::resources::Resources,
    /// Over the image's HEALTHCHECK (`health::merge`); `Test: ["NONE"]` disables it.
    pub healthcheck: Option<crate::store::config::Healthcheck>,
    pub group_add: Vec<String>,
    /// `VolumesFrom` as given (its mounts are in `mounts` already).
    pub volumes_from: Vec<String>,
    /// Docker's `HostConfig` as an API client sent it.
    pub host_config: Option<serde_json::Value>,
    /// `PidMode`, `Runtime`, `Isolation`, already checked (`host_options::check`).
    pub host: super::host_options::HostOptions,
}

/// Creates the container `image` (named by the user as `image_name`) with `opts`; bare
/// `-e KEY` entries take their value from `host_env`.
pub fn create(
    store: &Store,
    image: &Image,
    image_name: &str,
    opts: CreateOptions,
    host_env: impl Fn(&str) -> Option<String>,
) -> Result<Container, ContainerError> {
    let rc = &image.config.config;
    let id = new_id();
    let cs = Containers::new(store.root());
    let exposed: Vec<String> = rc
        .exposed_ports
        .as_ref()
        .map(|p| p.keys().cloned().collect())
        .unwrap_or_default();
    let (network, net_config) = net::plan(store.root(), &cs, &id, &opts.net, &exposed)?;
    build(
        store, image, image_name, opts, host_env, id, network, net_config,
    )
}

#[allow(clippy::too_many_arguments)]
fn build(
    store: &Store,
    image: &Image,
    image_name: &str,
    opts: CreateOptions,
    host_env: impl Fn(&str) -> Option<String>,
    id: String,
    network: crate::sandbox::NetworkMode,
    net_config: super::record::NetConfig,
) -> Result<Container, ContainerError> {
    let rc = &image.config.config;
    if let Some(h) = &opts.healthcheck {
        super::health::validate(h).map_err(ContainerError::BadHealthcheck)?;
    }
    let hostname = opts
        .hostname
        .clone()
        .unwrap_or_else(|| id[..12].to_string());
    let config = RunConfig {
        argv: command::argv(rc, opts.entrypoint.as_deref(), &opts.command)?,
        env: command::config_env(rc.env.as_deref().unwrap_or_default(), &opts.env, host_env),
        cwd: command::workdir(rc, opts.workdir.as_deref())?,
        user: command::user(rc, opts.user.as_deref()),
        hostname,
        network,
        net: net_config,
        readonly_root: opts.readonly_root,
        mounts: command::with_image_volumes(rc, opts.mounts),
        stop_signal: match opts.stop_signal.as_deref().filter(|s| !s.is_empty()) {
            Some(s) => {
                command::parse_signal(s)?;
                s.to_string()
            }
            None => command::stop_signal(rc)?,
        },
        stop_timeout: opts.stop_timeout,
        tty: opts.tty,
        interactive: opts.interactive,
        stdin_once: opts.stdin_once,
        auto_remove: opts.auto_remove,
        init: opts.init,
        restart: opts.restart,
        labels: labels(rc.labels.as_ref(), &opts.labels),
        entrypoint_len: command::entrypoint_and_cmd(rc, opts.entrypoint.as_deref())
            .0
            .len(),
        exposed: rc
            .exposed_ports
            .as_ref()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default(),
        image_volumes: rc
            .volumes
            .as_ref()
            .map(|m| m.keys().cloned().collect())
            .unwrap_or_default(),
        security: opts.security,
        resources: opts.resources,
        healthcheck: super::health::merge(rc.healthcheck.as_ref(), opts.healthcheck),
        shell: rc.shell.clone().unwrap_or_default(),
        group_add: opts.group_add,
        volumes_from: opts.volumes_from,
        host_config: opts.host_config,
        host: opts.host,
    };
    check_mounts(&config.mounts)?;
    let diff_ids = image.config.diff_ids()?;
    let layers = image
        .layers()
        .iter()
        .zip(diff_ids)
        .map(|(l, diff_id)| {
            Ok(LayerRef {
                digest: digest_of(l.digest())?,
                diff_id,
            })
        })
        .collect::<Result<Vec<_>, ContainerError>>()?;
    let given = opts.name.map(|n| n.trim_start_matches('/').to_string());
    if let Some(n) = &given {
        names::validate(n)?;
    }
    let cs = Containers::new(store.root());
    super::links::check(&cs, given.as_deref().unwrap_or_default(), &config.net.links)?;
    let mut c = Container {
        schema: SCHEMA,
        id: id.clone(),
        name: given.clone().unwrap_or_else(|| names::generate(&id, 0)),
        image: image_name.to_string(),
        image_id: image.id,
        manifest_digest: image.manifest_digest,
        layers,
        created: now_precise(),
        config,
        state: State::default(),
    };
    let mut attempt = 0;
    loop {
        match cs.create(&c) {
            Err(ContainerError::NameInUse { .. }) if given.is_none() && attempt < 1000 => {
                attempt += 1;
                c.name = names::generate(&id, attempt);
            }
            Ok(()) => {
                if let Err(e) = make_volumes(store, &c) {
                    let _ = cs.remove(&c.id);
                    return Err(e);
                }
                super::events::emit(store.root(), &c, "create", &[]);
                return Ok(c);
            }
            Err(e) => return Err(e),
        }
    }
}

/// The container's volumes exist from its creation, as Docker makes them (filled from the
/// image), so `cp` into a container never started lands in them.
fn make_volumes(store: &Store, c: &Container) -> Result<(), ContainerError> {
    for m in &c.config.mounts {
        if let MountSpec::Volume { name, target, .. } = m {
            super::volumes::resolve(store, c, name.as_deref(), target)?;
        }
    }
    Ok(())
}

/// The image's labels, then each given one over them.
fn labels(
    image: Option<&std::collections::BTreeMap<String, String>>,
    given: &[(String, String)],
) -> std::collections::BTreeMap<String, String> {
    let mut out = image.cloned().unwrap_or_default();
    out.extend(given.iter().cloned());
    out
}

/// Now as RFC 3339 with nanoseconds, so containers created within one second still sort.
pub fn now_precise() -> String {
    let d = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .unwrap_or_default();
    let s = format_rfc3339(d.as_secs() as i64);
    format!("{}.{:09}Z", &s[..19], d.subsec_nanos())
}
