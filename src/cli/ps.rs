//! `strata ps [-a] [-q] [--format json]`: running containers (all with `-a`), newest first,
//! in Docker's columns; a container whose supervising process was killed shows as exited.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;
use serde_json::{json, Value};

use super::format::{ellipsis, human_duration, human_size, print, render_rows};
use super::Settings;
use crate::container::Container;
use crate::engine::containers::list::{self, ContainerSummary, ListRequest};
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
    let req = ListRequest {
        all: args.all,
        filters: args.filter.clone(),
        last: if args.latest { Some(1) } else { args.last },
        size: args.size && !args.quiet,
    };
    let list = list::list(&settings.root, &req)?;
    let now = now_unix();
    if args.quiet {
        let mut out = String::new();
        for s in &list {
            let c = &s.container;
            out.push_str(if args.no_trunc { &c.id } else { c.short_id() });
            out.push('\n');
        }
        print(&out);
        return Ok(ExitCode::SUCCESS);
    }
    let rows: Vec<serde_json::Value> = list
        .iter()
        .map(|s| row(&s.container, now, !args.no_trunc, size(s)))
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

/// Docker's SIZE column, when sizes were asked for.
fn size(s: &ContainerSummary) -> Option<String> {
    let (own, virt) = (s.size_rw?, s.size_root_fs?);
    Some(format!(
        "{} (virtual {})",
        human_size(own),
        human_size(virt)
    ))
}

/// One container as `docker ps --format` sees it (Docker's field names and value formats).
pub(super) fn row(c: &Container, now: i64, trunc: bool, size: Option<String>) -> serde_json::Value {
    let command = if trunc {
        ellipsis(&list::command(c), 20)
    } else {
        list::command(c)
    };
    let mounts: Vec<String> = list::mount_names(c)
        .into_iter()
        .map(|n| if trunc { ellipsis(&n, 15) } else { n })
        .collect();
    json!({
        "Command": format!("\"{command}\""),
        "CreatedAt": parse_rfc3339(&c.created).map(format_go_utc).unwrap_or_default(),
        "ID": if trunc { c.short_id().to_string() } else { c.id.clone() },
        "Image": c.image,
        "Labels": c.config.labels.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join(","),
        "LocalVolumes": list::local_volumes(c).to_string(),
        "Mounts": mounts.join(","),
        "Names": c.name,
        "Networks": list::networks(c).join(","),
        "Platform": Value::Null,
        "Ports": crate::network::ports::ps_column(c.published_ports(), &[]),
        "RunningFor": ago(&c.created, now),
        "Size": size.unwrap_or_else(|| "0B".into()),
        "State": c.docker_status(),
        "Status": list::status_text(c, now),
    })
}

fn ago(t: &str, now: i64) -> String {
    match parse_rfc3339(t) {
        Some(t) => format!("{} ago", human_duration(now - t)),
        None => "N/A".into(),
    }
}
