//! `strata ps [-a] [-q] [--format json]`: running containers (all with `-a`), newest first,
//! in Docker's columns; a container whose supervising process was killed shows as exited.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use serde_json::json;

use super::format::{ellipsis, human_duration, print, render_table};
use super::Settings;
use crate::container::{Container, Containers, Status};
use crate::store::time::{now_unix, parse_rfc3339};

#[derive(Debug, Args)]
pub struct PsArgs {
    /// Show all containers (default: running only).
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Only IDs.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// `table` (default) or `json` (one object per line).
    #[arg(long)]
    pub format: Option<String>,
}

pub fn run(settings: &Settings, args: PsArgs) -> Result<ExitCode> {
    let mut list = Containers::new(&settings.root).list()?;
    list.retain(|c| args.all || c.state.status == Status::Running);
    list.reverse();
    let now = now_unix();
    if args.quiet {
        let mut out = String::new();
        for c in &list {
            out.push_str(c.short_id());
            out.push('\n');
        }
        print(&out);
        return Ok(ExitCode::SUCCESS);
    }
    match args.format.as_deref() {
        None | Some("table") => {
            let rows: Vec<Vec<String>> = list
                .iter()
                .map(|c| {
                    vec![
                        c.short_id().to_string(),
                        c.image.clone(),
                        format!("\"{}\"", ellipsis(&command(c), 20)),
                        ago(&c.created, now),
                        status(c, now),
                        ports(c),
                        c.name.clone(),
                    ]
                })
                .collect();
            print(&render_table(
                &[
                    "CONTAINER ID",
                    "IMAGE",
                    "COMMAND",
                    "CREATED",
                    "STATUS",
                    "PORTS",
                    "NAMES",
                ],
                &rows,
            ));
        }
        Some("json") | Some("{{json .}}") => {
            let mut out = String::new();
            for c in &list {
                let v = json!({
                    "Command": format!("\"{}\"", command(c)),
                    "CreatedAt": c.created,
                    "ExitCode": c.state.exit_code,
                    "ID": c.id,
                    "Image": c.image,
                    "Names": c.name,
                    "Pid": c.state.pid.map(|p| p.pid),
                    "Ports": ports(c),
                    "Networks": networks(c),
                    "RunningFor": ago(&c.created, now),
                    "State": c.state.status.as_str(),
                    "Status": status(c, now),
                });
                out.push_str(&v.to_string());
                out.push('\n');
            }
            print(&out);
        }
        Some(other) => anyhow::bail!("unsupported format {other:?}: use table or json"),
    }
    Ok(ExitCode::SUCCESS)
}

/// The PORTS column: the published ports of a running container, as bound.
fn ports(c: &Container) -> String {
    crate::network::ports::ps_column(c.published_ports(), &[])
}

/// The NETWORKS column: the container's networks, or its network mode.
fn networks(c: &Container) -> String {
    let net = &c.config.net;
    if net.endpoints.is_empty() {
        return net.mode.clone();
    }
    let names: Vec<&str> = net.endpoints.iter().map(|e| e.network.as_str()).collect();
    names.join(",")
}

fn command(c: &Container) -> String {
    c.config.argv.join(" ")
}

fn ago(t: &str, now: i64) -> String {
    match parse_rfc3339(t) {
        Some(t) => format!("{} ago", human_duration(now - t)),
        None => "N/A".into(),
    }
}

/// Docker's STATUS column: `Up 3 seconds`, `Exited (0) 2 minutes ago`, `Created`.
fn status(c: &Container, now: i64) -> String {
    let since = |t: &Option<String>| t.as_deref().and_then(parse_rfc3339).map(|t| now - t);
    match c.state.status {
        Status::Running => format!(
            "Up {}",
            human_duration(since(&c.state.started_at).unwrap_or(0))
        ),
        Status::Exited => format!(
            "Exited ({}) {} ago",
            c.state.exit_code.unwrap_or(0),
            human_duration(since(&c.state.finished_at).unwrap_or(0))
        ),
        Status::Created => "Created".into(),
    }
}
