//! `strata create [OPTIONS] IMAGE [COMMAND [ARG…]]`: makes a container as `run` would, without
//! starting it, and prints its ID (`start` runs it later).

use std::process::ExitCode;

use anyhow::Result;

use super::ctr_common::fail;
use super::run::RunArgs;
use super::Settings;
use crate::store::Store;

pub fn run(settings: &Settings, args: RunArgs) -> Result<ExitCode> {
    let store = match Store::open(&settings.root) {
        Ok(s) => s,
        Err(e) => return Ok(fail(125, &e.into())),
    };
    match super::run::create(&store, args) {
        Ok(c) => {
            println!("{}", c.id);
            Ok(ExitCode::SUCCESS)
        }
        Err(e) => Ok(fail(125, &e)),
    }
}
