//! `strata container prune [-f] [--filter until=T|label=K[=V]]`: removes every stopped
//! container, as `docker container prune` does, and says how much space that gave back.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use super::ctr_common::confirm;
use super::format::{deleted_section, human_size, print};
use super::Settings;
use crate::engine::containers::remove::{prune, prune_filters};
use crate::store::Store;

#[derive(Debug, Args)]
pub struct ContainerPruneArgs {
    /// Do not prompt for confirmation.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// `until=TIME` (created before) or `label=KEY[=VALUE]` (`label!=…` for without).
    #[arg(long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
}

pub fn run(settings: &Settings, args: ContainerPruneArgs) -> Result<ExitCode> {
    let filters = prune_filters(&args.filter)?;
    if !args.force && !confirm("WARNING! This will remove all stopped containers.")? {
        return Ok(ExitCode::SUCCESS);
    }
    let store = Store::open(&settings.root)?;
    let report = prune(&store, &filters)?;
    let mut out = deleted_section("Containers", &report.removed);
    out.push_str(&format!(
        "Total reclaimed space: {}\n",
        human_size(report.space_reclaimed)
    ));
    print(&out);
    Ok(ExitCode::SUCCESS)
}
