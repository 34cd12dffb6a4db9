//! `strata start [-a [-i]] CONTAINER…` / `start --all [--filter F]…`: starts stopped containers
//! in the background (each under its own supervisor, as `run -d` does) and prints their names
//! as given; with `-a` runs one in the foreground, its output on ours and its exit code ours.
//! `start --all --filter restart-policy=always` is what the systemd unit runs at boot.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use super::ctr_common::fail;
use super::Settings;
use crate::engine::containers::start;
use crate::store::Store;

#[derive(Debug, Args)]
pub struct StartArgs {
    /// Attach to the container's output and forward signals; its exit code is ours.
    #[arg(short = 'a', long)]
    pub attach: bool,
    /// Attach the container's stdin.
    #[arg(short = 'i', long)]
    pub interactive: bool,
    /// Every container the filters select (strata's, for restarting them after a reboot).
    #[arg(long, conflicts_with_all = ["attach", "containers"])]
    pub all: bool,
    /// With `--all`: `KEY=VALUE` as `ps --filter` takes it.
    #[arg(long = "filter", value_name = "FILTER", requires = "all")]
    pub filter: Vec<String>,
    #[arg(required_unless_present = "all")]
    pub containers: Vec<String>,
}

pub fn run(settings: &Settings, args: StartArgs) -> Result<ExitCode> {
    if args.attach || args.interactive {
        return attached(settings, &args);
    }
    let names = if args.all {
        start::stopped_matching(&settings.root, &args.filter)?
    } else {
        args.containers.clone()
    };
    let mut code = ExitCode::SUCCESS;
    for q in &names {
        match start::start(&settings.root, q) {
            Ok(_) => println!("{q}"),
            Err(e) => code = fail(1, &e.into()),
        }
    }
    Ok(code)
}

/// `start -a`: Docker streams one container's output to us; strata runs it in the foreground
/// as `run` does (so `-i` forwards stdin as well).
fn attached(settings: &Settings, args: &StartArgs) -> Result<ExitCode> {
    if args.containers.len() != 1 {
        return Ok(fail(
            1,
            &anyhow::anyhow!("you cannot start and attach multiple containers at once"),
        ));
    }
    let c = match start::for_foreground_start(&settings.root, &args.containers[0]) {
        Ok(c) => c,
        Err(e) => return Ok(fail(1, &e.into())),
    };
    if let Some(code) =
        super::ctr_common::require_tty_input(args.interactive && c.config.interactive, c.config.tty)
    {
        return Ok(code);
    }
    let store = match Store::open(&settings.root) {
        Ok(s) => s,
        Err(e) => return Ok(fail(125, &e.into())),
    };
    Ok(super::run::attached(store, &c))
}
