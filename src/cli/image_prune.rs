//! `strata image prune [-a] [-f]`: removes dangling images (every image no container uses with
//! `-a`) and what only they kept, as `docker image prune` does.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use super::ctr_common::confirm;
use super::format::{deleted_section, human_size, print, removal_lines};
use super::Settings;

#[derive(Debug, Args)]
pub struct ImagePruneArgs {
    /// Remove every image no container uses, not only dangling ones.
    #[arg(short = 'a', long)]
    pub all: bool,
    /// Do not prompt for confirmation.
    #[arg(short = 'f', long)]
    pub force: bool,
}

pub fn run(settings: &Settings, args: ImagePruneArgs) -> Result<ExitCode> {
    let warning = if args.all {
        "WARNING! This will remove all images without at least one container associated to them."
    } else {
        "WARNING! This will remove all dangling images."
    };
    if !args.force && !confirm(warning)? {
        return Ok(ExitCode::SUCCESS);
    }
    let report = crate::engine::images::prune(&settings.root, args.all)?;
    let mut out = deleted_section("Images", &removal_lines(&report.images));
    out.push_str(&format!(
        "Total reclaimed space: {}\n",
        human_size(report.reclaimed)
    ));
    print(&out);
    Ok(ExitCode::SUCCESS)
}
