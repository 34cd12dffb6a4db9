//! `strata kill [-s SIGNAL] CONTAINER…`: a signal (SIGKILL unless given) to running
//! containers; their names are printed as given.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use super::ctr_common::each_container;
use super::Settings;
use crate::engine::containers::stop;

#[derive(Debug, Args)]
pub struct KillArgs {
    /// `KILL`, `SIGTERM`, `15`, …
    #[arg(short = 's', long = "signal", default_value = "KILL")]
    pub signal: String,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

pub fn run(settings: &Settings, args: KillArgs) -> Result<ExitCode> {
    each_container(settings, &args.containers, |store, q| {
        stop::kill(store, q, &args.signal)
    })
}
