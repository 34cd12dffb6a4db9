//! `strata stop [-t SECONDS] [-s SIGNAL] CONTAINER…`: the image's StopSignal (or `-s`), then SIGKILL after the
//! timeout (10 s by default, as Docker).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::Args;

use super::ctr_common::each_container;
use super::Settings;
use crate::container::lifecycle;

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Seconds to wait before killing the container.
    #[arg(
        short = 't',
        long = "timeout",
        visible_alias = "time",
        default_value_t = 10
    )]
    pub time: u64,
    /// The signal to send instead of the container's StopSignal.
    #[arg(short = 's', long = "signal")]
    pub signal: Option<String>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

pub fn run(settings: &Settings, args: StopArgs) -> Result<ExitCode> {
    each_container(settings, &args.containers, |store, c| {
        lifecycle::stop_with(
            store,
            c,
            Duration::from_secs(args.time),
            args.signal.as_deref(),
        )
    })
}
