//! `strata wait CONTAINER…`: blocks until each container stops and prints its exit code.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use super::ctr_common::fail;
use super::Settings;
use crate::container::{lifecycle, Containers};
use crate::store::Store;

#[derive(Debug, Args)]
pub struct WaitArgs {
    #[arg(required = true)]
    pub containers: Vec<String>,
}

pub fn run(settings: &Settings, args: WaitArgs) -> Result<ExitCode> {
    let store = Store::open(&settings.root)?;
    let cs = Containers::new(&settings.root);
    drop(store);
    let mut code = ExitCode::SUCCESS;
    for q in &args.containers {
        match cs.find(q).and_then(|c| lifecycle::wait(&cs, &c.id)) {
            Ok(exit) => println!("{exit}"),
            Err(e) => code = fail(1, &e.into()),
        }
    }
    Ok(code)
}
