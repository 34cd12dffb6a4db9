//! `strata network create|ls|inspect|rm|prune|connect|disconnect`: networks as Docker's CLI
//! shows them. The operations are `engine::networks`.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::format::{print, render_inspect, render_rows, to_docker_json};
use super::Settings;
use crate::engine::networks::{self, Entry};

#[derive(Debug, Subcommand)]
pub enum NetworkCommand {
    /// Create a network.
    Create(CreateArgs),
    /// List networks.
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Show networks as JSON (`-f` a Go template).
    Inspect(InspectArgs),
    /// Remove networks.
    #[command(alias = "remove")]
    Rm(NamesArgs),
    /// Remove every user-defined network no container uses.
    Prune(PruneArgs),
    /// Connect a container to a network.
    Connect(ConnectArgs),
    /// Disconnect a container from a network.
    Disconnect(DisconnectArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    #[arg(short = 'd', long, default_value = "bridge")]
    pub driver: String,
    /// An IPv4 subnet in CIDR form (default: a free /24 of 10.89.0.0/16).
    #[arg(long)]
    pub subnet: Option<String>,
    /// The subnet's gateway (default: its first address).
    #[arg(long)]
    pub gateway: Option<String>,
    /// No outbound route: containers reach only each other.
    #[arg(long)]
    pub internal: bool,
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    pub name: String,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only IDs.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// `name=…`, `id=…`, `driver=…`, `label=KEY[=VALUE]`, `type=builtin|custom`.
    #[arg(short = 'f', long = "filter")]
    pub filter: Vec<String>,
    /// `table`, `json`, or a template of `{{.ID}}`, `{{.Name}}`, `{{.Driver}}`, `{{.Scope}}`…
    #[arg(long)]
    pub format: Option<String>,
    /// Full IDs.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A Go template applied to each network (`'{{.IPAM.Config}}'`).
    #[arg(short = 'f', long)]
    pub format: Option<String>,
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct NamesArgs {
    #[arg(required = true)]
    pub names: Vec<String>,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Do not ask for confirmation.
    #[arg(short = 'f', long)]
    pub force: bool,
}

#[derive(Debug, Args)]
pub struct ConnectArgs {
    #[arg(long = "alias")]
    pub aliases: Vec<String>,
    #[arg(long)]
    pub ip: Option<String>,
    pub network: String,
    pub container: String,
}

#[derive(Debug, Args)]
pub struct DisconnectArgs {
    /// Accepted for Docker's sake; disconnecting never needs force.
    #[arg(short = 'f', long)]
    pub force: bool,
    pub network: String,
    pub container: String,
}

pub fn run(settings: &Settings, cmd: NetworkCommand) -> Result<ExitCode> {
    let root = &settings.root;
    match cmd {
        NetworkCommand::Create(a) => {
            let n = networks::create(
                root,
                &networks::CreateRequest {
                    name: a.name,
                    driver: Some(a.driver),
                    pools: vec![networks::Pool {
                        subnet: a.subnet,
                        gateway: a.gateway,
                        ip_range: None,
                        aux_addresses: Default::default(),
                    }],
                    internal: a.internal,
                    labels: labels_map(&a.labels),
                    ..Default::default()
                },
            )?;
            print(&format!("{}\n", n.id));
        }
        NetworkCommand::Ls(a) => {
            let all = networks::list(root, &a.filter)?;
            print(&render_ls(&all, &a)?);
        }
        NetworkCommand::Inspect(a) => {
            let mut out = Vec::new();
            let mut failed = false;
            for q in &a.names {
                match networks::find(root, q) {
                    Ok(n) => out.push(inspect_json(root, &n)?),
                    Err(e) => {
                        eprintln!("Error: {e}");
                        failed = true;
                    }
                }
            }
            match &a.format {
                Some(f) => print(&render_inspect(f, &out)?),
                None => {
                    print(&to_docker_json(&out));
                    print("\n");
                }
            }
            if failed {
                return Ok(ExitCode::FAILURE);
            }
        }
        NetworkCommand::Rm(a) => {
            let mut failed = false;
            for q in &a.names {
                match networks::remove(root, q) {
                    Ok(_) => print(&format!("{q}\n")),
                    Err(e) => {
                        eprintln!("Error response from daemon: {e}");
                        failed = true;
                    }
                }
            }
            if failed {
                return Ok(ExitCode::FAILURE);
            }
        }
        NetworkCommand::Prune(a) => {
            if !a.force && !super::ctr_common::confirm(
                "WARNING! This will remove all custom networks not used by at least one container.",
            )? {
                return Ok(ExitCode::SUCCESS);
            }
            let removed = networks::prune(root, &[])?;
            if !removed.is_empty() {
                let names: String = removed.iter().map(|n| format!("{n}\n")).collect();
                print(&format!("Deleted Networks:\n{names}"));
            }
        }
        NetworkCommand::Connect(a) => {
            networks::connect(
                root,
                &networks::ConnectRequest {
                    network: a.network,
                    container: a.container,
                    aliases: a.aliases,
                    ipv4_address: a.ip,
                    mac_address: None,
                },
            )?;
        }
        NetworkCommand::Disconnect(a) => {
            let _ = a.force;
            networks::disconnect(root, &a.network, &a.container)?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `--label KEY=VALUE` (or `KEY`) as a map; a label without a key is refused at create.
fn labels_map(labels: &[String]) -> BTreeMap<String, String> {
    crate::engine::volumes::labels_map(labels)
}

/// `{{.Field}}` of `network ls`, as Docker names them.
fn field(n: &Entry, name: &str, trunc: bool) -> String {
    match name {
        "ID" if trunc => n.id()[..12].to_string(),
        "ID" => n.id(),
        "Name" => n.name().to_string(),
        "Driver" => n.driver().to_string(),
        "Scope" => "local".into(),
        "IPv4" => "true".into(),
        "IPv6" => "false".into(),
        "Internal" => n.internal().to_string(),
        "CreatedAt" => n.created().to_string(),
        "Labels" => n
            .labels()
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(","),
        _ => String::new(),
    }
}

/// A row of `network ls` with Docker's field names, for `--format`.
fn row(n: &Entry, trunc: bool) -> Value {
    json!({
        "CreatedAt": n.created(), "Driver": n.driver(), "ID": field(n, "ID", trunc),
        "IPv4": "true", "IPv6": "false", "Internal": n.internal().to_string(),
        "Labels": field(n, "Labels", trunc), "Name": n.name(), "Scope": "local",
    })
}

const HEADERS: &[(&str, &str)] = &[
    ("ID", "NETWORK ID"),
    ("Name", "NAME"),
    ("Driver", "DRIVER"),
    ("Scope", "SCOPE"),
    ("IPv4", "IPV4"),
    ("IPv6", "IPV6"),
    ("Internal", "INTERNAL"),
    ("Labels", "LABELS"),
    ("CreatedAt", "CREATED AT"),
];

fn render_ls(all: &[Entry], a: &LsArgs) -> Result<String> {
    let trunc = !a.no_trunc;
    if a.quiet {
        return Ok(all
            .iter()
            .map(|n| format!("{}\n", field(n, "ID", trunc)))
            .collect());
    }
    let format = match a.format.as_deref() {
        None | Some("table") => "table {{.ID}}\t{{.Name}}\t{{.Driver}}\t{{.Scope}}",
        Some(f) => f,
    };
    let rows: Vec<Value> = all.iter().map(|n| row(n, trunc)).collect();
    Ok(render_rows(format, &rows, HEADERS)?)
}

/// The `docker network inspect` object of one network. Unlike Docker's, a bridge network's
/// options always name its Linux bridge, so a user can find it.
pub fn inspect_json(root: &Path, n: &Entry) -> Result<Value> {
    let mut containers = serde_json::Map::new();
    for a in networks::attached(root, n)? {
        containers.insert(
            a.id.clone(),
            json!({
                "Name": a.name,
                "EndpointID": a.endpoint_id,
                "MacAddress": a.mac,
                "IPv4Address": a.ipv4,
                "IPv6Address": "",
            }),
        );
    }
    let mut options = n.options();
    if let Entry::Bridge(b) = n {
        options.insert("com.docker.network.bridge.name".into(), b.bridge());
    }
    let config = match n.ipam() {
        Some((subnet, gateway)) => {
            json!([{"Subnet": subnet.to_string(), "Gateway": gateway.to_string()}])
        }
        None => json!([]),
    };
    Ok(json!({
        "Name": n.name(),
        "Id": n.id(),
        "Created": n.created(),
        "Scope": "local",
        "Driver": n.driver(),
        "EnableIPv4": true,
        "EnableIPv6": false,
        "IPAM": {
            "Driver": "default",
            "Options": {},
            "Config": config,
        },
        "Internal": n.internal(),
        "Attachable": n.attachable(),
        "Ingress": false,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": false,
        "Containers": containers,
        "Options": options,
        "Labels": n.labels(),
    }))
}
