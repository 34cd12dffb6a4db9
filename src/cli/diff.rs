//! `strata diff CONTAINER`: the files a container added (`A`), changed (`C`) and deleted
//! (`D`), as `docker diff` lists them.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use super::format::print;
use super::Settings;
use crate::engine::containers::changes::changes;

#[derive(Debug, Args)]
pub struct DiffArgs {
    pub container: String,
}

pub fn run(settings: &Settings, args: DiffArgs) -> Result<ExitCode> {
    let text: String = changes(&settings.root, &args.container)?
        .iter()
        .map(|c| format!("{} {}\n", c.kind, c.path))
        .collect();
    print(&text);
    Ok(ExitCode::SUCCESS)
}
