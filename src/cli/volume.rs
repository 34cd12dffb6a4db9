//! `strata volume create|ls|inspect|rm|prune`: named and anonymous volumes as Docker's CLI
//! shows them. The operations are `engine::volumes`.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::format::{human_size, print, render_inspect, render_rows, to_docker_json};
use super::Settings;
use crate::container::volume_filter::DRIVER;
use crate::container::volume_store::{Volume, VolumeError, Volumes};
use crate::engine::volumes;
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub enum VolumeCommand {
    /// Create a volume (a random name, and anonymous, when none is given).
    Create(CreateArgs),
    /// List volumes.
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Show volumes as JSON (`-f` a Go template).
    Inspect(InspectArgs),
    /// Remove volumes not used by any container.
    #[command(alias = "remove")]
    Rm(NamesArgs),
    /// Remove anonymous volumes (all with `-a`) not used by any container.
    Prune(PruneArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    /// The volume driver; strata has only `local`.
    #[arg(short = 'd', long, default_value = DRIVER)]
    pub driver: String,
    /// Set metadata on the volume.
    #[arg(long = "label", value_name = "KEY=VALUE")]
    pub labels: Vec<String>,
    /// A driver option: `type`, `device`, `o` (a tmpfs: `-o type=tmpfs -o device=tmpfs -o
    /// o=size=1m`), mounted when a container using the volume starts.
    #[arg(short = 'o', long = "opt", value_name = "KEY=VALUE")]
    pub opts: Vec<String>,
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only names.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// `dangling=true|false`, `name=…`, `driver=local`, `label=KEY[=VALUE]`.
    #[arg(short = 'f', long = "filter", value_name = "KEY=VALUE")]
    pub filter: Vec<String>,
    /// `table`, `json`, or a Go template of `{{.Name}}`, `{{.Driver}}`, `{{.Mountpoint}}`…
    #[arg(long)]
    pub format: Option<String>,
}

#[derive(Debug, Args)]
pub struct InspectArgs {
    /// A Go template applied to each volume (`'{{.Mountpoint}}'`).
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
    /// Remove all unused volumes, not only anonymous ones.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Do not prompt for confirmation.
    #[arg(short = 'f', long)]
    pub force: bool,
}

/// Docker's column titles for `volume ls --format 'table …'`.
const HEADERS: &[(&str, &str)] = &[
    ("Driver", "DRIVER"),
    ("Name", "VOLUME NAME"),
    ("Labels", "LABELS"),
    ("Mountpoint", "MOUNTPOINT"),
    ("Scope", "SCOPE"),
    ("Links", "LINKS"),
    ("Size", "SIZE"),
    ("Group", "GROUP"),
    ("Availability", "AVAILABILITY"),
    ("Status", "STATUS"),
];

pub fn run(settings: &Settings, cmd: VolumeCommand) -> Result<ExitCode> {
    let store = Store::open(&settings.root)?;
    let root = store.root();
    match cmd {
        VolumeCommand::Create(a) => {
            let v = volumes::create(
                root,
                &volumes::CreateRequest {
                    name: a.name,
                    driver: Some(a.driver),
                    labels: volumes::labels_map(&a.labels),
                    driver_opts: volumes::labels_map(&a.opts),
                },
            )?;
            print(&format!("{}\n", v.name));
        }
        VolumeCommand::Ls(a) => {
            let all = volumes::list(root, &a.filter)?;
            if a.quiet {
                print(
                    &all.iter()
                        .map(|v| format!("{}\n", v.name))
                        .collect::<String>(),
                );
                return Ok(ExitCode::SUCCESS);
            }
            let format = match a.format.as_deref() {
                None | Some("table") => "table {{.Driver}}\t{{.Name}}",
                Some(f) => f,
            };
            let rows: Vec<Value> = all.iter().map(ls_row).collect();
            print(&render_rows(format, &rows, HEADERS)?);
        }
        VolumeCommand::Inspect(a) => {
            let mut out = Vec::new();
            let mut failed = false;
            for n in &a.names {
                match Volumes::new(root).get(n) {
                    Ok(v) => out.push(inspect_json(&v)),
                    Err(e) => {
                        eprintln!("{}", not_found_message(&e));
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
                return Ok(ExitCode::from(1));
            }
        }
        VolumeCommand::Rm(a) => {
            let mut failed = false;
            for n in &a.names {
                match volumes::remove(root, n, false) {
                    Ok(()) => print(&format!("{n}\n")),
                    Err(e) => {
                        eprintln!("error: {e}");
                        failed = true;
                    }
                }
            }
            if failed {
                return Ok(ExitCode::from(1));
            }
        }
        VolumeCommand::Prune(a) => {
            let what = if a.all {
                "all local volumes"
            } else {
                "anonymous local volumes"
            };
            if !a.force
                && !super::ctr_common::confirm(&format!(
                    "WARNING! This will remove {what} not used by at least one container."
                ))?
            {
                return Ok(ExitCode::SUCCESS);
            }
            let pruned = volumes::prune(
                root,
                &volumes::PruneRequest {
                    all: a.all,
                    filters: Vec::new(),
                },
            )?;
            let mut out = super::format::deleted_section("Volumes", &pruned.names);
            out.push_str(&format!(
                "Total reclaimed space: {}\n",
                human_size(pruned.reclaimed)
            ));
            print(&out);
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// A row of `volume ls` with Docker's field names, for `--format`.
fn ls_row(v: &Volume) -> Value {
    let labels: Vec<String> = v
        .docker_labels()
        .iter()
        .map(|(k, val)| format!("{k}={val}"))
        .collect();
    json!({
        "Availability": "N/A",
        "Driver": DRIVER,
        "Group": "N/A",
        "Labels": labels.join(","),
        "Links": "N/A",
        "Mountpoint": v.mountpoint,
        "Name": v.name,
        "Scope": "local",
        "Size": "N/A",
        "Status": "N/A",
    })
}

/// The `docker volume inspect` object of one volume.
pub fn inspect_json(v: &Volume) -> Value {
    json!({
        "CreatedAt": v.created_at,
        "Driver": DRIVER,
        // Docker 28 prints null, not {}, for a volume made without labels or options.
        "Labels": Some(v.docker_labels()).filter(|l| !l.is_empty()).map_or(Value::Null, |l| json!(l)),
        "Mountpoint": v.mountpoint,
        "Name": v.name,
        "Options": Some(&v.options).filter(|o| !o.is_empty()).map_or(Value::Null, |o| json!(o)),
        "Scope": "local",
    })
}

/// What Docker's daemon answers for a volume it cannot get.
pub fn not_found_message(e: &VolumeError) -> String {
    match e {
        VolumeError::NotFound(name) => {
            format!("Error response from daemon: get {name}: no such volume")
        }
        other => format!("Error response from daemon: {other}"),
    }
}
