//! `strata system df` and `strata system prune`.

use std::process::ExitCode;

use anyhow::Result;
use clap::{Args, Subcommand};
use serde_json::{json, Value};

use super::format::{
    deleted_section, human_size, print, removal_lines, render_rows, render_table, since,
};
use super::Settings;
use crate::engine::system::DiskUsage;
use crate::engine::system_prune::{self, SystemPruneReport, SystemPruneRequest};
use crate::store::gc::UsageRow;
use crate::store::time::now_unix;

#[derive(Debug, Subcommand)]
pub enum SystemCommand {
    /// Show disk usage of the store.
    Df(DfArgs),
    /// Show system-wide information (as `strata info`).
    Info(super::info::InfoArgs),
    /// Show the store's events (as `strata events`).
    Events(super::events::EventsArgs),
    /// Serve the Docker Engine API on a unix socket, so the docker CLI, docker-compose and
    /// the Docker SDKs drive strata (`DOCKER_HOST=unix:///run/strata/strata.sock`).
    Service(super::service::ServiceArgs),
    /// Remove stopped containers, unused networks, dangling images (every unused one with
    /// `-a`), unused snapshots and temp files; unused anonymous volumes with `--volumes`.
    ///
    /// Refuses to run while another strata process uses the store; temp files are only ever
    /// removed here, never at start-up.
    Prune(PruneArgs),
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    /// Remove every image no container uses, not only dangling ones.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Do not prompt for confirmation.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Prune unused anonymous volumes too.
    #[arg(long)]
    pub volumes: bool,
    /// `until=TIME`, `label=KEY[=VALUE]` or `label!=KEY[=VALUE]`.
    #[arg(long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
}

#[derive(Debug, Args)]
pub struct DfArgs {
    /// `table`, `json`, or a Go template of `{{.Type}}`, `{{.TotalCount}}`, `{{.Active}}`,
    /// `{{.Size}}`, `{{.Reclaimable}}`.
    #[arg(long)]
    pub format: Option<String>,
    /// Show each image, container and volume.
    #[arg(short = 'v', long)]
    pub verbose: bool,
}

/// Docker's column titles for `system df --format 'table …'`.
const DF_HEADERS: &[(&str, &str)] = &[
    ("Type", "TYPE"),
    ("TotalCount", "TOTAL"),
    ("Active", "ACTIVE"),
    ("Size", "SIZE"),
    ("Reclaimable", "RECLAIMABLE"),
];

pub fn run(settings: &Settings, cmd: SystemCommand) -> Result<ExitCode> {
    match cmd {
        SystemCommand::Df(a) => print(&df(settings, &a)?),
        SystemCommand::Service(a) => return super::service::run(settings, a),
        // `Command::flatten` turns it into `Command::Info` before anything runs.
        SystemCommand::Info(a) => return super::info::run(settings, a),
        SystemCommand::Events(a) => return super::events::run(settings, a),
        SystemCommand::Prune(a) => {
            let req = SystemPruneRequest {
                all: a.all,
                volumes: a.volumes,
                filters: a.filter,
            };
            system_prune::check(&req)?;
            if !a.force && !confirm(&req)? {
                return Ok(ExitCode::SUCCESS);
            }
            print(&prune_report(&system_prune::prune(&settings.root, &req)?));
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `system df`: one row per kind of object (Docker's Images, Containers, Local Volumes, Build
/// Cache, and strata's temporary files); `-v` lists each image, container and volume.
fn df(settings: &Settings, a: &DfArgs) -> Result<String> {
    let du = crate::engine::system::disk_usage(&settings.root)?;
    let rows = [
        ("Images", &du.image_usage),
        ("Containers", &du.container_usage),
        ("Local Volumes", &du.volume_usage),
        ("Build Cache", &du.build_cache),
        ("Temporary files", &du.tmp),
    ];
    let objects: Vec<Value> = rows.iter().map(|(t, r)| df_row(t, r)).collect();
    let format = match a.format.as_deref() {
        None | Some("table") if a.verbose => return Ok(df_verbose(&du)),
        None | Some("table") => {
            "table {{.Type}}\t{{.TotalCount}}\t{{.Active}}\t{{.Size}}\t{{.Reclaimable}}"
        }
        Some(f) => f,
    };
    Ok(render_rows(format, &objects, DF_HEADERS)?)
}

/// One row of `system df` with Docker's field names (all strings, as Docker formats them).
fn df_row(kind: &str, r: &UsageRow) -> Value {
    let pct = (r.reclaimable * 100)
        .checked_div(r.size)
        .map(|p| format!(" ({p}%)"))
        .unwrap_or_default();
    json!({
        "Active": r.active.to_string(),
        "Reclaimable": format!("{}{pct}", human_size(r.reclaimable)),
        "Size": human_size(r.size),
        "TotalCount": r.total.to_string(),
        "Type": kind,
    })
}

/// `system df -v`: Docker's per-object tables (the build cache as its total only: strata's
/// cache entries are unpacked layers, not BuildKit records).
fn df_verbose(du: &DiskUsage) -> String {
    let (images, containers, volumes) = (&du.images, &du.containers, &du.volumes);
    let now = now_unix();
    let mut image_rows = Vec::new();
    for (img, share) in images.iter().zip(du.image_shares()) {
        let (shared, users) = (share.shared, share.containers);
        let names: Vec<(String, String)> = if img.tags.is_empty() {
            vec![("<none>".into(), "<none>".into())]
        } else {
            img.tags
                .iter()
                .map(|t| (t.familiar(), t.tag().unwrap_or("<none>").to_string()))
                .collect()
        };
        for (repo, tag) in names {
            image_rows.push(vec![
                repo,
                tag,
                img.id.short(),
                since(img.config.created.as_deref(), now),
                human_size(img.size()),
                human_size(shared),
                human_size(img.size() - shared),
                users.to_string(),
            ]);
        }
    }
    let container_rows: Vec<Vec<String>> = containers
        .iter()
        .map(|c| {
            let row = super::ps::row(&c.container, now, true, None);
            let volumes = c
                .container
                .config
                .mounts
                .iter()
                .filter(|m| matches!(m, crate::container::MountSpec::Volume { .. }))
                .count();
            let cell = |k: &str| row[k].as_str().unwrap_or_default().to_string();
            vec![
                cell("ID"),
                cell("Image"),
                cell("Command"),
                volumes.to_string(),
                human_size(c.size_rw),
                cell("RunningFor"),
                cell("Status"),
                cell("Names"),
            ]
        })
        .collect();
    let volume_rows: Vec<Vec<String>> = volumes
        .iter()
        .map(|v| {
            vec![
                v.volume.name.clone(),
                v.links.to_string(),
                human_size(v.size),
            ]
        })
        .collect();
    let mut out = String::from("Images space usage:\n\n");
    out.push_str(&render_table(
        &[
            "REPOSITORY",
            "TAG",
            "IMAGE ID",
            "CREATED",
            "SIZE",
            "SHARED SIZE",
            "UNIQUE SIZE",
            "CONTAINERS",
        ],
        &image_rows,
    ));
    out.push_str("\nContainers space usage:\n\n");
    out.push_str(&render_table(
        &[
            "CONTAINER ID",
            "IMAGE",
            "COMMAND",
            "LOCAL VOLUMES",
            "SIZE",
            "CREATED",
            "STATUS",
            "NAMES",
        ],
        &container_rows,
    ));
    out.push_str("\nLocal Volumes space usage:\n\n");
    out.push_str(&render_table(
        &["VOLUME NAME", "LINKS", "SIZE"],
        &volume_rows,
    ));
    out.push_str(&format!(
        "\nBuild cache usage: {}\n",
        human_size(du.build_cache.size)
    ));
    out
}

/// Docker's warning, with the filters it will apply.
fn confirm(req: &SystemPruneRequest) -> Result<bool> {
    let mut warnings = vec![
        "all stopped containers",
        "all networks not used by at least one container",
    ];
    if req.volumes {
        warnings.push("all anonymous volumes not used by at least one container");
    }
    warnings.extend(if req.all {
        [
            "all images without at least one container associated to them",
            "all build cache",
        ]
    } else {
        ["all dangling images", "unused build cache"]
    });
    warnings.push("all temporary files");
    let mut text = String::from("WARNING! This will remove:");
    for w in warnings {
        text.push_str(&format!("\n  - {w}"));
    }
    if !req.filters.is_empty() {
        text.push_str("\n\n  Items to be pruned will be filtered with:");
        for f in &req.filters {
            text.push_str(&format!("\n  - {f}"));
        }
    }
    super::ctr_common::confirm(&text)
}

/// Docker's sections in Docker's order, then what strata repaired after a crash.
fn prune_report(r: &SystemPruneReport) -> String {
    let mut out = deleted_section("Containers", &r.containers.removed);
    out.push_str(&deleted_section("Networks", &r.networks));
    if let Some(v) = &r.volumes {
        out.push_str(&deleted_section("Volumes", &v.names));
    }
    out.push_str(&deleted_section("Images", &removal_lines(&r.images.images)));
    out.push_str(&deleted_section("build cache objects", &r.images.snapshots));
    let f = r.repairs;
    if f.any() {
        out.push_str(&format!(
            "Repaired after a crash: {} container network(s) torn down, {} address lease(s), \
             {} network namespace(s), {} firewall rule(s) or bridge(s), {} cgroup(s)\n\n",
            f.networks_torn_down, f.leases, f.namespaces, f.rules, f.cgroups
        ));
    }
    out.push_str(&format!(
        "Total reclaimed space: {}\n",
        human_size(r.reclaimed())
    ));
    out
}
