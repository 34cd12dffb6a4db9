//! `strata rm [-f] [-v] CONTAINER…`: removes containers (their state, upperdir and log);
//! `-f` kills a running one first. `rm --link /PARENT/ALIAS` removes a link instead.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use super::ctr_common::each_container;
use super::Settings;
use crate::engine::containers::remove::{remove, remove_link, RemoveRequest};

#[derive(Debug, Args)]
pub struct RmArgs {
    /// Kill a running container before removing it.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// Remove the container's anonymous volumes too.
    #[arg(short = 'v', long = "volumes")]
    pub volumes: bool,
    /// Remove the link `/PARENT/ALIAS` from its parent, not a container.
    #[arg(short = 'l', long)]
    pub link: bool,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

pub fn run(settings: &Settings, args: RmArgs) -> Result<ExitCode> {
    let req = RemoveRequest {
        force: args.force,
        volumes: args.volumes,
    };
    if args.link {
        return each_container(settings, &args.containers, remove_link);
    }
    each_container(settings, &args.containers, |store, q| remove(store, q, req))
}
