//! `strata system df` and `strata system prune`.

use std::process::ExitCode;

use anyhow::Result;
use clap::Subcommand;

use super::format::{human_size, print, render_table};
use super::Settings;
use crate::store::gc::{PruneOptions, UsageRow};
use crate::store::image::RemoveEvent;
use crate::store::Store;

#[derive(Debug, Subcommand)]
pub enum SystemCommand {
    /// Show disk usage of the store.
    Df,
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

pub fn run(settings: &Settings, cmd: SystemCommand) -> Result<ExitCode> {
    let store = Store::open(&settings.root)?;
    match cmd {
        SystemCommand::Df => {
            let du = store.disk_usage()?;
            let row = |name: &str, r: &UsageRow| {
                let pct = (r.reclaimable * 100)
                    .checked_div(r.size)
                    .map(|p| format!(" ({p}%)"))
                    .unwrap_or_default();
                vec![
                    name.to_string(),
                    r.total.to_string(),
                    r.active.to_string(),
                    human_size(r.size),
                    format!("{}{pct}", human_size(r.reclaimable)),
                ]
            };
            print(&render_table(
                &["TYPE", "TOTAL", "ACTIVE", "SIZE", "RECLAIMABLE"],
                &[
                    row("Images", &du.images),
                    row("Build Cache", &du.snapshots),
                    row("Temporary files", &du.tmp),
                ],
            ));
        }
        SystemCommand::Prune { all, force } => {
            if !force && !confirm(all)? {
                return Ok(ExitCode::SUCCESS);
            }
            let report = store.prune(PruneOptions {
                all_images: all,
                keep_manifests: super::ctr_common::container_images(&settings.root)?,
            })?;
            let cs = crate::container::Containers::new(&settings.root);
            let repaired = crate::container::net::repair(&settings.root, &cs)?;
            let networks = crate::container::net::prune_networks(&settings.root)?;
            let rules = crate::container::net::prune_rules(&settings.root)?;
            let mut out = String::new();
            if !networks.is_empty() {
                out.push_str("Deleted Networks:\n");
                for n in &networks {
                    out.push_str(n);
                    out.push('\n');
                }
                out.push('\n');
            }
            let fixed = repaired.torn_down.len() + repaired.leases + repaired.namespaces + rules;
            if fixed > 0 {
                out.push_str(&format!(
                    "Repaired after a crash: {} container network(s) torn down, {} address \
                     lease(s), {} network namespace(s), {} firewall rule(s) or bridge(s)\n\n",
                    repaired.torn_down.len(),
                    repaired.leases,
                    repaired.namespaces,
                    rules
                ));
            }
            if !report.images.is_empty() {
                out.push_str("Deleted Images:\n");
                for e in &report.images {
                    match e {
                        RemoveEvent::Untagged(t) => {
                            out.push_str(&format!("untagged: {}\n", t.familiar_string()))
                        }
                        RemoveEvent::Deleted(id) => out.push_str(&format!("deleted: {id}\n")),
                    }
                }
                out.push('\n');
            }
            if !report.snapshots.is_empty() {
                out.push_str("Deleted build cache objects:\n");
                for s in &report.snapshots {
                    out.push_str(s);
                    out.push('\n');
                }
                out.push('\n');
            }
            out.push_str(&format!(
                "Total reclaimed space: {}\n",
                human_size(report.reclaimed)
            ));
            print(&out);
        }
    }
    Ok(ExitCode::SUCCESS)
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
