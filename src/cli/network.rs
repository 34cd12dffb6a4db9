//! `strata network create|ls|inspect|rm|prune|connect|disconnect`: networks as Docker's CLI
//! shows them. The work is in `network::Networks` and `container::net`.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::format::{print, render_inspect, render_rows, to_docker_json};
use super::Settings;
use crate::container::{net, Containers};
use crate::network::{CreateRequest, Network, Networks};

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
    let networks = Networks::new(root);
    let cs = Containers::new(root);
    match cmd {
        NetworkCommand::Create(a) => {
            let n = networks.create(&CreateRequest {
                name: a.name,
                driver: Some(a.driver),
                subnet: a.subnet,
                gateway: a.gateway,
                internal: a.internal,
                labels: a.labels,
            })?;
            network_event(root, "create", &n.id, &n.name, None);
            print(&format!("{}\n", n.id));
        }
        NetworkCommand::Ls(a) => {
            let mut all = networks.list()?;
            for f in &a.filter {
                all.retain(|n| matches_filter(n, f));
            }
            print(&render_ls(&all, &a)?);
        }
        NetworkCommand::Inspect(a) => {
            let mut out = Vec::new();
            let mut failed = false;
            for q in &a.names {
                match networks.find(q) {
                    Ok(n) => out.push(inspect_json(&networks, &cs, &n)?),
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
                match networks.find(q).map_err(anyhow::Error::from).and_then(|n| {
                    net::remove_network(root, &n)?;
                    Ok(n)
                }) {
                    Ok(n) => {
                        network_event(root, "destroy", &n.id, &n.name, None);
                        print(&format!("{q}\n"));
                    }
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
            let removed = net::prune_networks(root)?;
            if !removed.is_empty() {
                let names: String = removed.iter().map(|n| format!("{n}\n")).collect();
                print(&format!("Deleted Networks:\n{names}"));
            }
        }
        NetworkCommand::Connect(a) => {
            net::connect(
                root,
                &cs,
                &a.network,
                &a.container,
                &a.aliases,
                a.ip.as_deref(),
            )?;
            if let (Ok(n), Ok(c)) = (networks.find(&a.network), cs.find(&a.container)) {
                network_event(root, "connect", &n.id, &n.name, Some(&c.id));
            }
        }
        NetworkCommand::Disconnect(a) => {
            let _ = a.force;
            net::disconnect(root, &cs, &a.network, &a.container)?;
            if let (Ok(n), Ok(c)) = (networks.find(&a.network), cs.find(&a.container)) {
                network_event(root, "disconnect", &n.id, &n.name, Some(&c.id));
            }
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn matches_filter(n: &Network, f: &str) -> bool {
    let (k, v) = f.split_once('=').unwrap_or((f, ""));
    match k {
        "name" => n.name.contains(v),
        "id" => n.id.starts_with(v),
        "driver" => n.driver == v,
        "label" => match v.split_once('=') {
            Some((lk, lv)) => n.labels.get(lk).is_some_and(|x| x == lv),
            None => n.labels.contains_key(v),
        },
        "type" => (v == "builtin") == n.is_default(),
        "scope" => v == "local",
        _ => false,
    }
}

/// `{{.Field}}` of `network ls`, as Docker names them.
fn field(n: &Network, name: &str, trunc: bool) -> String {
    match name {
        "ID" if trunc => n.short_id().to_string(),
        "ID" => n.id.clone(),
        "Name" => n.name.clone(),
        "Driver" => n.driver.clone(),
        "Scope" => "local".into(),
        "IPv4" => "true".into(),
        "IPv6" => "false".into(),
        "Internal" => n.internal.to_string(),
        "CreatedAt" => n.created.clone(),
        "Labels" => n
            .labels
            .iter()
            .map(|(k, v)| format!("{k}={v}"))
            .collect::<Vec<_>>()
            .join(","),
        _ => String::new(),
    }
}

/// A row of `network ls` with Docker's field names, for `--format`.
fn row(n: &Network, trunc: bool) -> Value {
    json!({
        "CreatedAt": n.created, "Driver": n.driver, "ID": field(n, "ID", trunc),
        "IPv4": "true", "IPv6": "false", "Internal": n.internal.to_string(),
        "Labels": field(n, "Labels", trunc), "Name": n.name, "Scope": "local",
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

fn render_ls(all: &[Network], a: &LsArgs) -> Result<String> {
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

/// The `docker network inspect` object of one network.
pub fn inspect_json(networks: &Networks, cs: &Containers, n: &Network) -> Result<Value> {
    let mut containers = serde_json::Map::new();
    for (ip, id) in networks.leases(&n.id)? {
        let Ok(c) = cs.load(&id) else { continue };
        let mac = c
            .config
            .net
            .endpoints
            .iter()
            .find(|e| e.network_id == n.id)
            .map(|e| e.mac.clone())
            .unwrap_or_default();
        containers.insert(
            id.clone(),
            json!({
                "Name": c.name,
                "EndpointID": endpoint_id(&id, &n.id),
                "MacAddress": mac,
                "IPv4Address": format!("{ip}/{}", n.subnet.prefix_len()),
                "IPv6Address": "",
            }),
        );
    }
    Ok(json!({
        "Name": n.name,
        "Id": n.id,
        "Created": n.created,
        "Scope": "local",
        "Driver": n.driver,
        "EnableIPv4": true,
        "EnableIPv6": false,
        "IPAM": {
            "Driver": "default",
            "Options": {},
            "Config": [{"Subnet": n.subnet.to_string(), "Gateway": n.gateway.to_string()}],
        },
        "Internal": n.internal,
        "Attachable": false,
        "Ingress": false,
        "ConfigFrom": {"Network": ""},
        "ConfigOnly": false,
        "Containers": containers,
        "Options": {"com.docker.network.bridge.name": n.bridge()},
        "Labels": n.labels,
    }))
}

/// A stable endpoint id: Docker's is random per connection; strata derives one from the pair.
pub fn endpoint_id(container: &str, network: &str) -> String {
    crate::digest::Digest::of(format!("{container}\n{network}").as_bytes()).hex()
}

/// Docker's network events: the network's name and type, and the container for (dis)connect.
fn network_event(
    root: &std::path::Path,
    action: &str,
    id: &str,
    name: &str,
    container: Option<&str>,
) {
    let mut attrs = vec![("name", name.to_string()), ("type", "bridge".to_string())];
    if let Some(c) = container {
        attrs.push(("container", c.to_string()));
    }
    crate::store::events::record(
        root,
        crate::store::events::EventType::Network,
        action,
        id,
        &attrs,
    );
}
