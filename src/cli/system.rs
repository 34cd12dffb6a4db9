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
use crate::store::gc::{PruneOptions, UsageRow};
use crate::store::time::now_unix;
use crate::store::Store;

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
    /// Remove untagged images, unreferenced blobs, unused snapshots and temp files.
    ///
    /// Refuses to run while another strata process uses the store; temp files are only ever
    /// removed here, never at start-up.
    Prune {
        /// Also remove tagged images (every image: none is used by a container).
        #[arg(short = 'a', long)]
        all: bool,
        /// Do not prompt for confirmation.
        #[arg(short = 'f', long)]
        force: bool,
    },
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

/// An empty container cgroup younger than this may belong to a container that is starting.
const ORPHAN_CGROUP_AGE: std::time::Duration = std::time::Duration::from_secs(30);

pub fn run(settings: &Settings, cmd: SystemCommand) -> Result<ExitCode> {
    match cmd {
        SystemCommand::Df(a) => print(&df(settings, &a)?),
        SystemCommand::Service(a) => return super::service::run(settings, a),
        // `Command::flatten` turns it into `Command::Info` before anything runs.
        SystemCommand::Info(a) => return super::info::run(settings, a),
        SystemCommand::Events(a) => return super::events::run(settings, a),
        SystemCommand::Prune { all, force } => {
            if !force && !confirm(all)? {
                return Ok(ExitCode::SUCCESS);
            }
            let store = Store::open(&settings.root)?;
            let report = store.prune(PruneOptions {
                all_images: all,
                keep_manifests: crate::engine::system::container_manifests(&settings.root)?,
            })?;
            let cs = crate::container::Containers::new(&settings.root);
            let repaired = crate::container::net::repair(&settings.root, &cs)?;
            let networks = crate::container::net::prune_networks(&settings.root)?;
            let rules = crate::container::net::prune_rules(&settings.root)?;
            let cgroups = crate::container::cgroups::reclaim_orphans(ORPHAN_CGROUP_AGE);
            let mut out = deleted_section("Networks", &networks);
            let fixed =
                repaired.torn_down.len() + repaired.leases + repaired.namespaces + rules + cgroups;
            if fixed > 0 {
                out.push_str(&format!(
                    "Repaired after a crash: {} container network(s) torn down, {} address \
                     lease(s), {} network namespace(s), {} firewall rule(s) or bridge(s), {} \
                     cgroup(s)\n\n",
                    repaired.torn_down.len(),
                    repaired.leases,
                    repaired.namespaces,
                    rules,
                    cgroups
                ));
            }
            out.push_str(&deleted_section("Images", &removal_lines(&report.images)));
            out.push_str(&deleted_section("build cache objects", &report.snapshots));
            out.push_str(&format!(
                "Total reclaimed space: {}\n",
                human_size(report.reclaimed)
            ));
            print(&out);
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

fn confirm(all: bool) -> Result<bool> {
    let what = if all {
        "  - all images\n"
    } else {
        "  - all dangling images\n"
    };
    super::ctr_common::confirm(&format!(
        "WARNING! This will remove:\n{what}  - all unused build cache\n  - all temporary files\n  \
         - all networks not used by at least one container"
    ))
}
