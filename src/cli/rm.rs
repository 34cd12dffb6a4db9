//! `strata rm [-f] [-v] CONTAINER…`: removes containers (their state, upperdir and log);
//! `-f` kills a running one first.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use super::ctr_common::fail;
use super::Settings;
use crate::container::{lifecycle, Containers};
use crate::store::Store;

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Kill a running container before removing it.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Remove the container's anonymous volumes too.
    #[arg(short = 'v', long = "volumes")]
    pub volumes: bool,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

pub fn run(settings: &Settings, args: RmArgs) -> Result<ExitCode> {
    let store = Store::open(&settings.root)?;
    let cs = Containers::new(&settings.root);
    let mut code = ExitCode::SUCCESS;
    for q in &args.containers {
        let r = cs
            .find(q)
            .and_then(|c| lifecycle::remove(&store, &c, args.force, args.volumes));
        match r {
            Ok(()) => println!("{q}"),
            Err(e) => code = fail(1, &e.into()),
        }
    }
    Ok(code)
}
