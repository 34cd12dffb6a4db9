//! `strata history`.

use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Args;

use super::Settings;

#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// Do not truncate output.
    #[arg(long)]
    pub no_trunc: bool,
    /// Only show image IDs.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    pub reference: String,
}

pub fn run(_settings: &Settings, _args: HistoryArgs) -> Result<ExitCode> {
    bail!("strata history is not implemented yet")
}
