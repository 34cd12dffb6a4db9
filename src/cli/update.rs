//! `strata update [OPTIONS] CONTAINER…`: changes a container's restart policy (the keeper reads
//! it at the next exit) and its cgroup limits (`--memory`, `--memory-swap`, `--cpus`,
//! `--cpu-shares`, `--pids-limit`: written into a running container's cgroup, then recorded).
//! Names are printed as given.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use super::ctr_common::fail;
use super::resource_args::LimitArgs;
use super::Settings;
use crate::container::restart::RestartPolicy;
use crate::engine::containers::update::{update, UpdateRequest};
use crate::engine::containers::{self as engine};

#[derive(Debug, Args)]
pub struct UpdateArgs {
    /// Restart policy: no, on-failure[:max-retries], always, unless-stopped.
    #[arg(long, value_name = "POLICY", value_parser = parse_restart)]
    pub restart: Option<RestartPolicy>,
    #[command(flatten)]
    pub limits: LimitArgs,
    #[arg(required = true)]
    pub containers: Vec<String>,
}

fn parse_restart(s: &str) -> Result<RestartPolicy, String> {
    RestartPolicy::parse(s).map_err(|e| e.to_string())
}

pub fn run(settings: &Settings, args: UpdateArgs) -> Result<ExitCode> {
    if args.restart.is_none() && !args.limits.any() {
        return Ok(fail(1, &engine::Error::UpdateNothing.into()));
    }
    let resources = if args.limits.any() {
        match args.limits.parse() {
            Ok(l) => Some(l),
            Err(e) => return Ok(fail(125, &e)),
        }
    } else {
        None
    };
    let req = UpdateRequest {
        restart: args.restart,
        resources,
    };
    let mut code = ExitCode::SUCCESS;
    for q in &args.containers {
        match update(&settings.root, q, &req) {
            Ok(report) => {
                for w in &report.warnings {
                    eprintln!("WARNING: {w}");
                }
                println!("{q}");
            }
            Err(e) => code = fail(1, &e.into()),
        }
    }
    Ok(code)
}
