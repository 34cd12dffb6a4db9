//! `strata rmi`.

use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Args;

use super::Settings;

#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Remove the image even if it is tagged several times.
    #[arg(short = 'f', long)]
    pub force: bool,
    #[arg(required = true)]
    pub references: Vec<String>,
}

pub fn run(_settings: &Settings, _args: RmiArgs) -> Result<ExitCode> {
    bail!("strata rmi is not implemented yet")
}
