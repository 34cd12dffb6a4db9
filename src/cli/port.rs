//! `strata port CTR [PORT[/PROTO]]`: a container's published ports, as `docker port` lists
//! them (`80/tcp -> 0.0.0.0:8080`), or the host addresses of one.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use super::format::print;
use super::Settings;
use crate::engine::containers::port::{port_bindings, port_lines};

#[derive(Debug, Args)]
pub struct PortArgs {
    pub container: String,
    /// `80` or `80/udp`.
    pub port: Option<String>,
}

pub fn run(settings: &Settings, args: PortArgs) -> Result<ExitCode> {
    let bindings = port_bindings(&settings.root, &args.container)?;
    let lines = match port_lines(&args.container, &bindings, args.port.as_deref()) {
        Ok(lines) => lines,
        Err(e) => {
            eprintln!("Error: {e}");
            return Ok(ExitCode::FAILURE);
        }
    };
    print(&lines.iter().map(|l| format!("{l}\n")).collect::<String>());
    Ok(ExitCode::SUCCESS)
}
