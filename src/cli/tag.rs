//! `strata tag SOURCE TARGET`: gives the image SOURCE names another name.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use super::Settings;

#[derive(Debug, Args)]
pub struct TagArgs {
    /// An image reference or ID.
    pub source: String,
    /// The new name, `[HOST[:PORT]/]NAME[:TAG]`.
    pub target: String,
}

pub fn run(settings: &Settings, args: TagArgs) -> Result<ExitCode> {
    crate::engine::images::tag(&settings.root, &args.source, &args.target)?;
    Ok(ExitCode::SUCCESS)
}
