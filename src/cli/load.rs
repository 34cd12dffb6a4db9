//! `strata load`.

use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Args;

use super::Settings;

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Read from a docker-archive or oci-archive file instead of stdin.
    #[arg(short = 'i', long = "input")]
    pub input: Option<std::path::PathBuf>,
    /// Print only the loaded image IDs.
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

pub fn run(_settings: &Settings, _args: LoadArgs) -> Result<ExitCode> {
    bail!("strata load is not implemented yet")
}
