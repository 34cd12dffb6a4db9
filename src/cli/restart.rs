//! `strata restart [-t SECONDS] CONTAINER…`: `stop` (if running), then `start` in the
//! background; names printed as given.

use std::process::ExitCode;

use anyhow::Result;

use super::ctr_common::fail;
use super::Settings;
use crate::engine::containers::stop::restart;

/// The same flags as `stop`: `restart` is a stop, then a start.
pub type RestartArgs = super::stop::StopArgs;

pub fn run(settings: &Settings, args: RestartArgs) -> Result<ExitCode> {
    let req = args.request();
    let mut code = ExitCode::SUCCESS;
    for q in &args.containers {
        match restart(&settings.root, q, &req) {
            Ok(_) => println!("{q}"),
            Err(e) => code = fail(1, &e.into()),
        }
    }
    Ok(code)
}
