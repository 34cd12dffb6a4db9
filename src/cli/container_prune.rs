//! `strata container prune [-f] [--filter until=T|label=K[=V]]`: removes every stopped
//! container, as `docker container prune` does, and says how much space that gave back.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use super::ctr_common::confirm;
use super::format::{deleted_section, human_size, print};
use super::Settings;
use crate::container::{lifecycle, Containers, Status};
use crate::store::events::{now_ns, parse_time};
use crate::store::Store;

#[derive(Debug, Args)]
pub struct ContainerPruneArgs {
    /// Do not prompt for confirmation.
    #[arg(short = 'f', long)]
    pub force: bool,
    /// `until=TIME` (created before) or `label=KEY[=VALUE]` (`label!=…` for without).
    #[arg(long = "filter", value_name = "FILTER")]
    pub filter: Vec<String>,
}

pub fn run(settings: &Settings, args: ContainerPruneArgs) -> Result<ExitCode> {
    let mut until = None;
    let mut labels: Vec<(bool, String)> = Vec::new();
    for f in &args.filter {
        match f.split_once('=') {
            Some(("until", t)) => {
                until =
                    Some(parse_time(t, now_ns()).with_context(|| format!("invalid filter {f:?}"))?)
            }
            Some(("label", l)) => labels.push((true, l.to_string())),
            Some(("label!", l)) => labels.push((false, l.to_string())),
            _ => anyhow::bail!("invalid filter {f:?}: expected until=TIME or label=KEY[=VALUE]"),
        }
    }
    if !args.force && !confirm("WARNING! This will remove all stopped containers.")? {
        return Ok(ExitCode::SUCCESS);
    }
    let store = Store::open(&settings.root)?;
    let cs = Containers::new(&settings.root);
    let mut removed = Vec::new();
    let mut reclaimed = 0u64;
    for c in cs.list()? {
        if c.state.status == Status::Running || c.state.restarting {
            continue;
        }
        let created = crate::container::logfile::parse_time_ns(&c.created).unwrap_or(0);
        if until.is_some_and(|u| created >= u) {
            continue;
        }
        let has = |l: &str| match l.split_once('=') {
            Some((k, v)) => c.config.labels.get(k).is_some_and(|have| have == v),
            None => c.config.labels.contains_key(l),
        };
        if !labels.iter().all(|(want, l)| has(l) == *want) {
            continue;
        }
        let size = crate::container::diff::upper_size(&cs.upperdir(&c.id));
        if lifecycle::remove(&store, &c, false, false).is_ok() {
            reclaimed += size;
            removed.push(c.id);
        }
    }
    let mut out = deleted_section("Containers", &removed);
    out.push_str(&format!(
        "Total reclaimed space: {}\n",
        human_size(reclaimed)
    ));
    print(&out);
    Ok(ExitCode::SUCCESS)
}
