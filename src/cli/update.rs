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
use crate::container::resources::Host;
use crate::container::restart::RestartPolicy;
use crate::container::{cgroups, Containers};

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
        return Ok(fail(
            1,
            &anyhow::anyhow!("you must provide one or more flags when using this command"),
        ));
    }
    let limits = match args.limits.parse() {
        Ok(l) => l,
        Err(e) => return Ok(fail(125, &e)),
    };
    let host = Host::detect();
    let cs = Containers::new(&settings.root);
    let mut code = ExitCode::SUCCESS;
    for q in &args.containers {
        let done = cs.find(q).and_then(|c| {
            if c.config.auto_remove && args.restart.as_ref().is_some_and(|r| !r.is_none()) {
                return Err(crate::container::ContainerError::Filter(
                    "Restart policy cannot be updated because AutoRemove is enabled for the container"
                        .into(),
                ));
            }
            if args.limits.any() {
                for w in cgroups::update_limits(&cs, &c, &limits, &host)? {
                    eprintln!("WARNING: {w}");
                }
            }
            let c = cs.update(&c.id, |c| {
                if let Some(r) = &args.restart {
                    c.config.restart = r.clone();
                }
            })?;
            crate::container::events::emit(&settings.root, &c, "update", &[]);
            Ok(())
        });
        match done {
            Ok(()) => println!("{q}"),
            Err(e) => code = fail(1, &e.into()),
        }
    }
    Ok(code)
}
