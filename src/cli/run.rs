//! `strata run [OPTIONS] IMAGE [COMMAND [ARG…]]`: creates a container and runs it in the
//! foreground (streams forwarded, its exit code ours) or detached (`-d`, its id printed).
//! strata's own failures exit 125; a command that cannot be executed 126 or 127.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use super::ctr_common::{fail, require_tty_input, show_create_event};
use super::Settings;
use crate::container::mount_spec::{parse_mount_flag, parse_volume_flag};
use crate::container::restart::RestartPolicy;
use crate::container::{self, Container};
use crate::engine::containers::foreground::run_foreground;
use crate::engine::containers::request::label_pair;
use crate::engine::containers::stdio::{forward_signals, resize, Pty, RawTerminal};
use crate::engine::containers::supervise::spawn_monitor;
use crate::engine::containers::{self as engine, CreateRequest, NetworkRequest};
use crate::sandbox::Canceller;
use crate::store::Store;

#[derive(Debug, Args)]
pub struct RunArgs {
    /// Remove the container when it exits.
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set, default_value = "false")]
    pub rm: bool,
    /// Run in the background and print the container ID.
    #[arg(short = 'd', long, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set, default_value = "false")]
    pub detach: bool,
    /// Keep stdin open and forward it.
    #[arg(short = 'i', long, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set, default_value = "false")]
    pub interactive: bool,
    /// Allocate a pseudo-TTY.
    #[arg(short = 't', long, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set, default_value = "false")]
    pub tty: bool,
    #[arg(long)]
    pub name: Option<String>,
    /// Set an environment variable (`KEY=VALUE`, or `KEY` to take the host's value).
    #[arg(short = 'e', long = "env", value_name = "KEY=VALUE")]
    pub env: Vec<String>,
    /// Read environment variables from a file.
    #[arg(long = "env-file", value_name = "FILE")]
    pub env_file: Vec<PathBuf>,
    /// Bind mount a host path (`SRC:DST[:ro]`) or mount a volume (`NAME:DST`, `DST`).
    #[arg(short = 'v', long = "volume", value_name = "SRC:DST[:ro]")]
    pub volume: Vec<String>,
    /// `type=bind|volume|tmpfs,source=…,target=…[,readonly]`.
    #[arg(long, value_name = "SPEC")]
    pub mount: Vec<String>,
    /// Working directory inside the container.
    #[arg(short = 'w', long = "workdir", value_name = "DIR")]
    pub workdir: Option<String>,
    /// `name|uid[:group|gid]`.
    #[arg(short = 'u', long)]
    pub user: Option<String>,
    /// Override the image's ENTRYPOINT.
    #[arg(long)]
    pub entrypoint: Option<String>,
    #[arg(long)]
    pub hostname: Option<String>,
    /// `bridge` (the default network), a network's name, `host`, `none` or `container:NAME`.
    #[arg(long, alias = "net", value_name = "NETWORK")]
    pub network: Option<String>,
    /// Publish a container's port to the host: `[IP:][HOSTPORT:]CONTAINERPORT[/PROTO]`.
    #[arg(short = 'p', long = "publish", value_name = "PORTS")]
    pub publish: Vec<String>,
    /// Publish every exposed port to a free host port.
    #[arg(short = 'P', long = "publish-all", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set, default_value = "false")]
    pub publish_all: bool,
    /// The container's IPv4 address on its network.
    #[arg(long, value_name = "ADDRESS")]
    pub ip: Option<String>,
    /// Another name the container answers to on its network.
    #[arg(long = "network-alias", alias = "net-alias", value_name = "ALIAS")]
    pub network_alias: Vec<String>,
    /// A DNS server for the container.
    #[arg(long, value_name = "IP")]
    pub dns: Vec<String>,
    /// A DNS search domain.
    #[arg(long = "dns-search", value_name = "DOMAIN")]
    pub dns_search: Vec<String>,
    /// A resolver option (`ndots:2`).
    #[arg(long = "dns-option", alias = "dns-opt", value_name = "OPTION")]
    pub dns_option: Vec<String>,
    /// A line for /etc/hosts: `NAME:IP` (or `NAME:host-gateway`).
    #[arg(long = "add-host", value_name = "NAME:IP")]
    pub add_host: Vec<String>,
    /// Another supplementary group (a name in the container's /etc/group, or an id).
    #[arg(long = "group-add", value_name = "GROUP")]
    pub group_add: Vec<String>,
    /// Mount the volumes and binds of another container: `CONTAINER[:ro|:rw]`.
    #[arg(long = "volumes-from", value_name = "CONTAINER")]
    pub volumes_from: Vec<String>,
    /// A legacy link to a running container: `NAME[:ALIAS]`.
    #[arg(long = "link", value_name = "NAME[:ALIAS]")]
    pub link: Vec<String>,
    /// Mount the container's root filesystem read-only.
    #[arg(long = "read-only", num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set, default_value = "false")]
    pub read_only: bool,
    /// Run an init that reaps zombies and forwards signals (strata's PID 1 always does).
    #[arg(long, num_args = 0..=1, require_equals = true, default_missing_value = "true", action = clap::ArgAction::Set, default_value = "false")]
    pub init: bool,
    /// Set a label (`KEY=VALUE`); repeatable.
    #[arg(short = 'l', long = "label", value_name = "KEY=VALUE")]
    pub label: Vec<String>,
    /// Read labels from a file of `KEY=VALUE` lines.
    #[arg(long = "label-file", value_name = "FILE")]
    pub label_file: Vec<PathBuf>,
    /// Restart policy: no, on-failure[:max-retries], always, unless-stopped.
    #[arg(long, value_name = "POLICY", default_value = "no", value_parser = parse_restart)]
    pub restart: RestartPolicy,
    #[command(flatten)]
    pub security: super::security_args::SecurityArgs,
    #[command(flatten)]
    pub resources: super::resource_args::ResourceArgs,
    #[command(flatten)]
    pub health: super::health_args::HealthArgs,
    #[command(flatten)]
    pub host: super::host_args::HostArgs,
    /// Which platform of a multi-platform image to run, `os/arch[/variant]` (a foreign one
    /// runs under binfmt_misc emulation); default: the host's.
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,
    /// IMAGE [COMMAND] [ARG...]: one list, so that flags end at the image as with Docker
    /// (`run IMAGE -c …` hands `-c` to the command, though `-c` is also `--cpu-shares`).
    #[arg(
        value_name = "IMAGE [COMMAND] [ARG...]",
        required = true,
        num_args = 1..,
        trailing_var_arg = true,
        allow_hyphen_values = true
    )]
    pub image_and_command: Vec<String>,
}

pub fn run(settings: &Settings, args: RunArgs) -> Result<ExitCode> {
    let detach = args.detach;
    if !detach {
        if let Some(code) = require_tty_input(args.interactive, args.tty) {
            return Ok(code);
        }
    }
    let store = match Store::open(&settings.root) {
        Ok(s) => s,
        Err(e) => return Ok(fail(125, &e.into())),
    };
    let c = match create(&store, args) {
        Ok(c) => c,
        Err(e) => return Ok(fail(125, &e)),
    };
    if detach {
        drop(store);
        return Ok(match spawn_monitor(&settings.root, &c.id) {
            Ok(()) => {
                println!("{}", c.id);
                ExitCode::SUCCESS
            }
            Err(e) => fail(e.exit_code(), &e.into()),
        });
    }
    Ok(attached(store, &c))
}

/// Creates the container the flags describe, printing the engine's warnings on the way.
pub fn create(store: &Store, args: RunArgs) -> Result<Container> {
    let req = create_request(args)?;
    let created = engine::create(
        store,
        req,
        |k| std::env::var(k).ok(),
        &mut show_create_event,
    )?;
    Ok(created.container)
}

/// The flags as the engine's request: `-v`/`--mount` parsed against our working directory,
/// env and label files read, limits parsed (the engine checks them against the host).
pub fn create_request(args: RunArgs) -> Result<CreateRequest> {
    engine::create::check_auto_remove(args.rm, &args.restart)?;
    let resources = args.resources.parse()?;
    let healthcheck = args.health.healthcheck()?;
    let host = args.host.request()?;
    let mac_address = args.host.mac()?;
    let cwd = std::env::current_dir().context("current directory")?;
    let mut mounts = Vec::new();
    for v in &args.volume {
        mounts.push(parse_volume_flag(v, &cwd)?);
    }
    for m in &args.mount {
        mounts.push(parse_mount_flag(m, &cwd)?);
    }
    let mut env = Vec::new();
    for f in &args.env_file {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("reading env file {}", f.display()))?;
        env.extend(container::command::parse_env_file(&text));
    }
    env.extend(args.env.iter().cloned());
    let mut labels = Vec::new();
    for f in &args.label_file {
        let text = std::fs::read_to_string(f)
            .with_context(|| format!("reading label file {}", f.display()))?;
        labels.extend(container::command::parse_env_file(&text));
    }
    labels.extend(args.label.iter().cloned());
    let platform = args
        .platform
        .as_deref()
        .map(crate::plan::platform::Platform::parse)
        .transpose()
        .map_err(|e| anyhow::anyhow!("--platform: {e}"))?;
    let Some((image, command)) = args.image_and_command.split_first() else {
        anyhow::bail!("\"run\" requires an image");
    };
    // A positional list that takes hyphens also takes a flag clap does not know.
    if image.starts_with('-') {
        anyhow::bail!("unknown flag: {image}");
    }
    Ok(CreateRequest {
        image: image.clone(),
        platform,
        name: args.name,
        entrypoint: args.entrypoint.map(|e| vec![e]),
        cmd: command.to_vec(),
        env,
        workdir: args.workdir,
        user: args.user,
        hostname: args.hostname,
        labels: labels.iter().map(|l| label_pair(l)).collect(),
        tty: args.tty,
        open_stdin: args.interactive,
        // As Docker's CLI: a client attached to the input for the whole run closes it.
        stdin_once: args.interactive && !args.detach,
        network: NetworkRequest {
            mode: args.network,
            ipv4_address: args.ip,
            aliases: args.network_alias,
            driver_opts: Default::default(),
            publish: args.publish,
            publish_all: args.publish_all,
            dns: args.dns,
            dns_search: args.dns_search,
            dns_options: args.dns_option,
            extra_hosts: args.add_host,
            mac_address,
            links: args.link,
            more_networks: Vec::new(),
        },
        group_add: args.group_add,
        volumes_from: args.volumes_from,
        host_config: None,
        host,
        mounts,
        readonly_rootfs: args.read_only,
        init: args.init,
        auto_remove: args.rm,
        restart: args.restart,
        stop_signal: None,
        stop_timeout: None,
        security: args.security.flags()?,
        resources,
        healthcheck,
    })
}

/// Runs a created container in the foreground; its exit code becomes ours.
pub fn attached(store: Store, c: &Container) -> ExitCode {
    let cancel = Canceller::new();
    let fwd = cancel.clone();
    let pty = if c.config.tty {
        match Pty::open() {
            Ok(p) => Some(p),
            Err(e) => return fail(125, &e.into()),
        }
    } else {
        None
    };
    let winch_master = pty.as_ref().and_then(|p| p.master.try_clone().ok());
    forward_signals(move |sig| match (&winch_master, sig) {
        (Some(m), nix::sys::signal::Signal::SIGWINCH) => {
            // The pty we hold first, then PID 1, which sizes the container's own terminal.
            resize(m);
            fwd.forward(sig);
        }
        _ => fwd.forward(sig),
    });
    let raw = (pty.is_some() && nix::unistd::isatty(std::io::stdin()).unwrap_or(false))
        .then(RawTerminal::enter);
    let result = run_foreground(store, c, pty, &cancel);
    drop(raw);
    match result {
        Ok(code) => ExitCode::from((code & 0xff) as u8),
        Err(e) => fail(e.exit_code(), &e.into()),
    }
}

fn parse_restart(s: &str) -> Result<RestartPolicy, String> {
    RestartPolicy::parse(s).map_err(|e| e.to_string())
}
