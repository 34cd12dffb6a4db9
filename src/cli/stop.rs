//! `strata stop [-t SECONDS] [-s SIGNAL] CONTAINER…`: the image's StopSignal (or `-s`), then SIGKILL after the
//! timeout (10 s by default, as Docker).

use std::process::ExitCode;
use std::time::Duration;

use anyhow::Result;
use clap::Args;

use super::ctr_common::each_container;
use super::Settings;
use crate::engine::containers::stop::{self, StopRequest};

#[derive(Debug, Args)]
pub struct StopArgs {
    /// Seconds to wait before killing the container.
    /// (Default: the container's stop timeout, else 10.)
    #[arg(short = 't', long = "timeout", visible_alias = "time")]
    pub time: Option<u64>,
    /// The signal to send instead of the container's StopSignal.
    #[arg(short = 's', long = "signal")]
    pub signal: Option<String>,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

impl StopArgs {
    pub fn request(&self) -> StopRequest {
        StopRequest {
            timeout: self.time.map(Duration::from_secs),
            signal: self.signal.clone(),
        }
    }
}

pub fn run(settings: &Settings, args: StopArgs) -> Result<ExitCode> {
    let req = args.request();
    each_container(settings, &args.containers, |store, q| {
        stop::stop(store, q, &req)
    })
}
