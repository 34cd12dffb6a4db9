//! `strata save`.

use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Args;

use super::Settings;

#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Write to a file instead of stdout.
    #[arg(short = 'o', long = "output")]
    pub output: Option<std::path::PathBuf>,
    /// Archive format: docker (docker-archive) or oci (oci-archive).
    #[arg(long, default_value = "docker")]
    pub format: String,
    #[arg(required = true)]
    pub references: Vec<String>,
}

pub fn run(_settings: &Settings, _args: SaveArgs) -> Result<ExitCode> {
    bail!("strata save is not implemented yet")
}
