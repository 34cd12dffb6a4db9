//! `strata wait CONTAINER…`: blocks until each container stops and prints its exit code.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use super::ctr_common::fail;
use super::Settings;
use crate::engine::containers::wait::{wait, WaitCondition};
use crate::store::Store;

#[derive(Debug, Args)]
pub struct WaitArgs {
    #[arg(required = true)]
    pub containers: Vec<String>,
}

pub fn run(settings: &Settings, args: WaitArgs) -> Result<ExitCode> {
    // Opened and closed: the store must exist (and be migrated) before anything waits on it.
    drop(Store::open(&settings.root)?);
    let mut code = ExitCode::SUCCESS;
    for q in &args.containers {
        match wait(&settings.root, q, WaitCondition::NotRunning) {
            Ok(exit) => println!("{}", exit.status_code),
            Err(e) => code = fail(1, &e.into()),
        }
    }
    Ok(code)
}
