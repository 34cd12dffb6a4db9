//! `strata port CTR [PORT[/PROTO]]`: a container's published ports, as `docker port` lists
//! them (`80/tcp -> 0.0.0.0:8080`), or the host addresses of one.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use super::format::print;
use super::Settings;
use crate::container::Containers;
use crate::network::ports;

#[derive(Debug, Args)]
pub struct PortArgs {
    pub container: String,
    /// `80` or `80/udp`.
    pub port: Option<String>,
}

pub fn run(settings: &Settings, args: PortArgs) -> Result<ExitCode> {
    let cs = Containers::new(&settings.root);
    let c = cs.get_reconciled(&cs.find(&args.container)?.id)?;
    let bindings = c.published_ports().to_vec();
    let lines = match &args.port {
        None => ports::port_lines(&bindings),
        Some(p) => match ports::port_filter(&bindings, p) {
            Ok(lines) => lines,
            Err(e) => {
                eprintln!("Error: {e} for {}", args.container);
                return Ok(ExitCode::FAILURE);
            }
        },
    };
    print(&lines.iter().map(|l| format!("{l}\n")).collect::<String>());
    Ok(ExitCode::SUCCESS)
}
