//! `strata top CONTAINER [ps OPTIONS]`: the container's processes as the host's `ps` shows
//! them (`-ef` unless options are given), as `docker top` prints them.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use super::format::{print, render_table};
use super::Settings;
use crate::engine::containers::top::top;

#[derive(Debug, Args)]
pub struct TopArgs {
    pub container: String,
    /// Options for `ps` (default `-ef`).
    #[arg(trailing_var_arg = true, allow_hyphen_values = true)]
    pub ps_args: Vec<String>,
}

pub fn run(settings: &Settings, args: TopArgs) -> Result<ExitCode> {
    let report = top(&settings.root, &args.container, &args.ps_args)?;
    let titles: Vec<&str> = report.titles.iter().map(String::as_str).collect();
    print(&render_table(&titles, &report.processes));
    Ok(ExitCode::SUCCESS)
}
