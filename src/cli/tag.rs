//! `strata tag`.

use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Args;

use super::Settings;

#[derive(Debug, Args)]
pub struct TagArgs {
    pub source: String,
    pub target: String,
}

pub fn run(_settings: &Settings, _args: TagArgs) -> Result<ExitCode> {
    bail!("strata tag is not implemented yet")
}
