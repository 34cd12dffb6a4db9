//! `strata ps [-a] [-q] [--format json]`: running containers (all with `-a`), newest first,
//! in Docker's columns; a container whose supervising process was killed shows as exited.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use serde_json::{json, Value};

use super::format::{ellipsis, human_duration, human_size, print, render_rows};
use super::Settings;
use crate::container::filter::Filters;
use crate::container::record::MountSpec;
use crate::container::{Container, Containers, Status};
use crate::store::time::{format_go_utc, now_unix, parse_rfc3339};

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
    /// Show each container's size: its own writes (and the image's with them, "virtual").
    #[arg(short = 's', long)]
    pub size: bool,
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
            out.push_str(if args.no_trunc { &c.id } else { c.short_id() });
            out.push('\n');
        }
        print(&out);
        return Ok(ExitCode::SUCCESS);
    }
    let store = if args.size {
        Some(crate::store::Store::open(&settings.root)?)
    } else {
        None
    };
    let size_of = |c: &Container| {
        store.as_ref().map(|store| {
            let own = crate::container::diff::upper_size(
                &Containers::new(&settings.root).upperdir(&c.id),
            );
            let image = store
                .image(&c.manifest_digest)
                .map(|i| i.size())
                .unwrap_or(0);
            format!("{} (virtual {})", human_size(own), human_size(own + image))
        })
    };
    let rows: Vec<serde_json::Value> = list
        .iter()
        .map(|c| row(c, now, !args.no_trunc, size_of(c)))
        .collect();
    let format = match args.format.as_deref() {
        None | Some("table") if args.size => {
            "table {{.ID}}\t{{.Image}}\t{{.Command}}\t{{.RunningFor}}\t{{.Status}}\t{{.Ports}}\t{{.Names}}\t{{.Size}}"
        }
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
pub(super) fn row(c: &Container, now: i64, trunc: bool, size: Option<String>) -> serde_json::Value {
    let command = if trunc {
        ellipsis(&command(c), 20)
    } else {
        command(c)
    };
    json!({
        "Command": format!("\"{command}\""),
        "CreatedAt": parse_rfc3339(&c.created).map(format_go_utc).unwrap_or_default(),
        "ID": if trunc { c.short_id().to_string() } else { c.id.clone() },
        "Image": c.image,
        "Labels": c.config.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
        "LocalVolumes": local_volumes(c).to_string(),
        "Mounts": mount_names(c, trunc),
        "Names": c.name,
        "Networks": networks(c),
        "Platform": Value::Null,
        "Ports": ports(c),
        "RunningFor": ago(&c.created, now),
        "Size": size.unwrap_or_else(|| "0B".into()),
        "State": c.docker_status(),
        "Status": status(c, now),
    })
}

/// Docker's LocalVolumes: how many volumes (named or anonymous) the container mounts.
fn local_volumes(c: &Container) -> usize {
    c.config
        .mounts
        .iter()
        .filter(|m| matches!(m, MountSpec::Volume { .. }))
        .count()
}

/// Docker's MOUNTS column: each mount's volume name or bind source, cut to 15 characters
/// unless `--no-trunc`.
fn mount_names(c: &Container, trunc: bool) -> String {
    let names: Vec<String> =
        c.config
            .mounts
            .iter()
            .filter_map(|m| match m {
                MountSpec::Volume { name, target, .. } => Some(name.clone().unwrap_or_else(|| {
                    crate::container::volume_store::anonymous_name(&c.id, target)
                })),
                MountSpec::Bind { source, .. } => Some(source.display().to_string()),
                MountSpec::Tmpfs { .. } => None,
            })
            .map(|n| if trunc { ellipsis(&n, 15) } else { n })
            .collect();
    names.join(",")
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
