//! `strata ps [-a] [-q] [--format json]`: running containers (all with `-a`), newest first,
//! in Docker's columns; a container whose supervising process was killed shows as exited.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use serde_json::json;

use super::format::{ellipsis, human_duration, print, render_rows};
use super::Settings;
use crate::container::filter::Filters;
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
    /// `table` (default), `json` (one object per line), or a Go template
    /// (`'{{.Names}}\t{{.Status}}'`, `'table {{.ID}}\t{{.Ports}}'`).
    #[arg(long)]
    pub format: Option<String>,
    /// Full IDs and commands.
    #[arg(long = "no-trunc")]
    pub no_trunc: bool,
    /// `id=`, `name=`, `label=`, `status=`, `exited=`, `ancestor=`, `before=`, `since=`,
    /// `volume=`, `network=`; the same key twice matches either.
    #[arg(short = 'f', long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
    /// The N last created containers (all states).
    #[arg(short = 'n', long = "last", value_name = "N")]
    pub last: Option<usize>,
    /// The last created container (all states).
    #[arg(short = 'l', long)]
    pub latest: bool,
}

pub fn run(settings: &Settings, args: PsArgs) -> Result<ExitCode> {
    let all = Containers::new(&settings.root).list()?;
    let filters = Filters::parse(&args.filter)?;
    // As Docker: a status filter, -n or -l look at every container, not only running ones.
    let every = args.all
        || args.latest
        || args.last.is_some()
        || !filters.values("status").is_empty()
        || !filters.values("exited").is_empty();
    let created_of = |q: &str| {
        all.iter()
            .find(|c| c.name == q || c.id.starts_with(q))
            .map(|c| c.created.clone())
    };
    let mut list: Vec<&Container> = all
        .iter()
        .filter(|c| every || c.state.status == Status::Running)
        .filter(|c| filters.matches(c, &created_of))
        .collect();
    list.reverse();
    let keep = if args.latest { Some(1) } else { args.last };
    if let Some(n) = keep {
        list.truncate(n);
    }
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
    let rows: Vec<serde_json::Value> = list.iter().map(|c| row(c, now, !args.no_trunc)).collect();
    let format = match args.format.as_deref() {
        None | Some("table") => {
            "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}"
        }
        Some("{{json .}}") => "json",
        Some(f) => f,
    };
    print(&render_rows(format, &rows, HEADERS)?);
    Ok(ExitCode::SUCCESS)
}

/// Docker's column titles for `--format 'table …'`.
const HEADERS: &[(&str, &str)] = &[
    ("ID", "CONTAINER ID"),
    ("Image", "IMAGE"),
    ("Command", "COMMAND"),
    ("CreatedAt", "CREATED AT"),
    ("RunningFor", "CREATED"),
    ("Status", "STATUS"),
    ("State", "STATE"),
    ("Ports", "PORTS"),
    ("Names", "NAMES"),
    ("Networks", "NETWORKS"),
    ("Labels", "LABELS"),
    ("Mounts", "MOUNTS"),
    ("Size", "SIZE"),
];

/// One container as `docker ps --format` sees it (Docker's field names and value formats).
pub(super) fn row(c: &Container, now: i64, trunc: bool) -> serde_json::Value {
    let command = if trunc {
        ellipsis(&command(c), 20)
    } else {
        command(c)
    };
    json!({
        "Command": format!("\"{command}\""),
        "CreatedAt": c.created,
        "ExitCode": c.state.exit_code,
        "ID": if trunc { c.short_id().to_string() } else { c.id.clone() },
        "Image": c.image,
        "Labels": "",
        "Mounts": c.config.mounts.iter().map(|m| m.target().display().to_string()).collect::<Vec<_>>().join(","),
        "Names": c.name,
        "Networks": networks(c),
        "Pid": c.state.pid.map(|p| p.pid),
        "Ports": ports(c),
        "RunningFor": ago(&c.created, now),
        "Size": "",
        "State": c.docker_status(),
        "Status": status(c, now),
    })
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
            "Up {}{}",
            human_duration(since(&c.state.started_at).unwrap_or(0)),
            if c.state.paused { " (Paused)" } else { "" }
        ),
        Status::Exited if c.state.restarting => format!(
            "Restarting ({}) {} ago",
            c.state.exit_code.unwrap_or(0),
            human_duration(since(&c.state.finished_at).unwrap_or(0))
        ),
        Status::Exited => format!(
            "Exited ({}) {} ago",
            c.state.exit_code.unwrap_or(0),
            human_duration(since(&c.state.finished_at).unwrap_or(0))
        ),
        Status::Created => "Created".into(),
    }
}
