//! `strata container-supervise ID` (hidden): the monitor of a detached container, started by
//! `run -d`, `start` and `restart` through `engine::containers::supervise::spawn_monitor`,
//! which holds what it does.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use super::Settings;
use crate::engine::containers::supervise::{ready_pipe, supervise};

#[derive(Debug, Args)]
pub struct SuperviseArgs {
    /// The descriptor to report readiness on.
    #[arg(long = "ready-fd")]
    pub ready_fd: Option<i32>,
    /// Run the container once, whatever its restart policy (the keeper's monitor).
    #[arg(long)]
    pub once: bool,
    pub id: String,
}

pub fn run(settings: &Settings, args: SuperviseArgs) -> Result<ExitCode> {
    let ready = args.ready_fd.map(ready_pipe);
    Ok(
        match supervise(&settings.root, &args.id, args.once, ready) {
            Ok(()) => ExitCode::SUCCESS,
            // Told to the starter on the ready pipe already; nobody reads our stderr.
            Err(_) => ExitCode::from(125),
        },
    )
}
