//! `strata volume create|ls|inspect|rm`: named volumes.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};

use super::format::{print, render_table, to_docker_json};
use super::Settings;
use crate::container::volume_store::{Volume, Volumes};
use crate::container::Containers;
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub enum VolumeCommand {
    /// Create a volume (a random name when none is given).
    Create(CreateArgs),
    /// List volumes.
    #[command(alias = "list")]
    Ls(LsArgs),
    /// Show volumes as JSON.
    Inspect(NamesArgs),
    /// Remove volumes not used by any container.
    #[command(alias = "remove")]
    Rm(NamesArgs),
}

#[derive(Debug, Args)]
pub struct CreateArgs {
    pub name: Option<String>,
}

#[derive(Debug, Args)]
pub struct LsArgs {
    /// Only names.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

#[derive(Debug, Args)]
pub struct NamesArgs {
    #[arg(required = true)]
    pub names: Vec<String>,
}

pub fn run(settings: &Settings, cmd: VolumeCommand) -> Result<ExitCode> {
    let store = Store::open(&settings.root)?;
    let vols = Volumes::new(store.root());
    match cmd {
        VolumeCommand::Create(a) => {
            let v = vols.create(a.name.as_deref())?;
            print(&format!("{}\n", v.name));
        }
        VolumeCommand::Ls(a) => {
            let all = vols.list()?;
            if a.quiet {
                print(
                    &all.iter()
                        .map(|v| format!("{}\n", v.name))
                        .collect::<String>(),
                );
            } else {
                let rows: Vec<Vec<String>> = all
                    .iter()
                    .map(|v| vec!["local".to_string(), v.name.clone()])
                    .collect();
                print(&render_table(&["DRIVER", "VOLUME NAME"], &rows));
            }
        }
        VolumeCommand::Inspect(a) => {
            let mut out = Vec::new();
            let mut failed = false;
            for n in &a.names {
                match vols.get(n) {
                    Ok(v) => out.push(docker_view(&v)),
                    Err(e) => {
                        eprintln!("error: {e}");
                        failed = true;
                    }
                }
            }
            print(&to_docker_json(&out));
            print("\n");
            if failed {
                return Ok(ExitCode::from(1));
            }
        }
        VolumeCommand::Rm(a) => {
            let containers = Containers::new(store.root());
            let exists = |id: &str| containers.dir(id).is_dir();
            let mut failed = false;
            for n in &a.names {
                match vols.remove(n, &exists) {
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
    }
    Ok(ExitCode::SUCCESS)
}

fn docker_view(v: &Volume) -> serde_json::Value {
    serde_json::json!({
        "CreatedAt": v.created_at,
        "Driver": "local",
        "Labels": {},
        "Mountpoint": v.mountpoint,
        "Name": v.name,
        "Options": {},
        "Scope": "local",
    })
}
