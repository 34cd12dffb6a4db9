//! `strata inspect`.

use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Args;

use super::Settings;

#[derive(Debug, Args)]
pub struct InspectArgs {
    #[arg(required = true)]
    pub references: Vec<String>,
}

pub fn run(_settings: &Settings, _args: InspectArgs) -> Result<ExitCode> {
    bail!("strata inspect is not implemented yet")
}
