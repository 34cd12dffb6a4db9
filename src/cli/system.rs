//! `strata system df` and `strata system prune`.

use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Subcommand;

use super::Settings;

#[derive(Debug, Subcommand)]
pub enum SystemCommand {
    /// Show disk usage of the store.
    Df,
    /// Remove unreferenced blobs, snapshots and temp files.
    Prune {
        /// Also remove untagged images.
        #[arg(short = 'a', long)]
        all: bool,
        /// Do not prompt for confirmation.
        #[arg(short = 'f', long)]
        force: bool,
    },
}

pub fn run(_settings: &Settings, _cmd: SystemCommand) -> Result<ExitCode> {
    bail!("strata system is not implemented yet")
}
