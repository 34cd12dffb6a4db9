//! `strata rename CONTAINER NEW_NAME`.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use super::Settings;
use crate::engine::containers::rename::rename;

#[derive(Debug, Args)]
pub struct RenameArgs {
    pub container: String,
    pub new_name: String,
}

pub fn run(settings: &Settings, args: RenameArgs) -> Result<ExitCode> {
    rename(&settings.root, &args.container, &args.new_name)?;
    Ok(ExitCode::SUCCESS)
}
