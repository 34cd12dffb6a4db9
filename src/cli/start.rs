//! `strata start CONTAINER…`: starts stopped containers in the background (each under its own
//! supervisor, as `run -d` does) and prints their names as given.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use super::ctr_common::{fail, start_detached};
use super::Settings;
use crate::container::{Containers, Status};

#[derive(Debug, Args)]
pub struct StartArgs {
    #[arg(required = true)]
    pub containers: Vec<String>,
}

pub fn run(settings: &Settings, args: StartArgs) -> Result<ExitCode> {
    let cs = Containers::new(&settings.root);
    let mut code = ExitCode::SUCCESS;
    for q in &args.containers {
        let c = match cs.find(q) {
            Ok(c) => c,
            Err(e) => {
                code = fail(1, &e.into());
                continue;
            }
        };
        if c.state.status == Status::Running {
            println!("{q}");
            continue;
        }
        match start_detached(&settings.root, &c.id) {
            Ok(()) => println!("{q}"),
            Err((_, msg)) => code = fail(1, &anyhow::anyhow!(msg)),
        }
    }
    Ok(code)
}
