//! `strata pause CONTAINER…` / `strata unpause CONTAINER…`: freeze and thaw every process of
//! running containers (their cgroup's freezer); names are printed as given.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use super::ctr_common::fail;
use super::Settings;
use crate::engine::containers::pause as engine;

#[derive(Debug, Args)]
pub struct PauseArgs {
    #[arg(required = true)]
    pub containers: Vec<String>,
}

pub fn run(settings: &Settings, args: PauseArgs, pause: bool) -> Result<ExitCode> {
    let mut code = ExitCode::SUCCESS;
    for q in &args.containers {
        let done = if pause {
            engine::pause(&settings.root, q)
        } else {
            engine::unpause(&settings.root, q)
        };
        match done {
            Ok(_) => println!("{q}"),
            Err(e) => code = fail(1, &e.into()),
        }
    }
    Ok(code)
}
