//! `strata images`.

use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Args;

use super::Settings;

#[derive(Debug, Args)]
pub struct ImagesArgs {
    /// Only show image IDs.
    #[arg(short = 'q', long)]
    pub quiet: bool,
    /// Show digests.
    #[arg(long)]
    pub digests: bool,
    /// Output format (table or json).
    #[arg(long)]
    pub format: Option<String>,
    /// Only images matching this reference.
    pub reference: Option<String>,
}

pub fn run(_settings: &Settings, _args: ImagesArgs) -> Result<ExitCode> {
    bail!("strata images is not implemented yet")
}
