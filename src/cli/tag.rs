//! `strata tag SOURCE TARGET`: gives the image SOURCE names another name.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use super::Settings;
use crate::reference::Reference;
use crate::store::Store;

#[derive(Debug, Args)]
pub struct TagArgs {
    /// An image reference or ID.
    pub source: String,
    /// The new name, `[HOST[:PORT]/]NAME[:TAG]`.
    pub target: String,
}

pub fn run(settings: &Settings, args: TagArgs) -> Result<ExitCode> {
    let target = Reference::parse(&args.target)
        .with_context(|| format!("invalid target reference {:?}", args.target))?;
    if target.digest().is_some() {
        anyhow::bail!(
            "refusing to create a tag with a digest reference: {:?}",
            args.target
        );
    }
    let store = Store::open(&settings.root)?;
    store.tag(&args.source, &target)?;
    Ok(ExitCode::SUCCESS)
}
