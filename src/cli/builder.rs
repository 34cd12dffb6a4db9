//! `strata builder prune [-a] [--keep-storage SIZE] [--filter until=DURATION] [-f]`: build cache
//! garbage collection, with Docker's flags.

use std::process::ExitCode;

use anyhow::{anyhow, bail, Result};
use clap::Subcommand;

use super::format::{human_size, print};
use super::Settings;
use crate::engine::build::prune::{parse_duration, prune, BuildPruneRequest};
use crate::exec::mounts::parse_size;

#[derive(Debug, Subcommand)]
pub enum BuilderCommand {
    /// Build an image from a Dockerfile (as `strata build`).
    Build(Box<super::build::BuildArgsCli>),
    /// Remove build cache: by default what can give no cache hit (entries whose layer is gone,
    /// snapshots no image uses, which are re-made from layers when needed).
    Prune {
        /// Remove all build cache: every cache entry with the layers only it keeps, and the
        /// contents of RUN cache mounts.
        #[arg(short = 'a', long)]
        all: bool,
        /// Keep at most this much build cache (`10GB`, `512MB`, `1.5g`; binary units, as
        /// Docker reads them), removing the least
        /// recently used first.
        #[arg(long = "keep-storage", value_name = "SIZE")]
        keep_storage: Option<String>,
        /// `until=DURATION` (`24h`, `90m`, `1h30m`): only cache unused for that long.
        #[arg(long = "filter", value_name = "until=DURATION")]
        filter: Vec<String>,
        /// Accepted for Docker compatibility: builder prune never prompts.
        #[arg(short = 'f', long)]
        force: bool,
    },
}

pub fn run(settings: &Settings, cmd: BuilderCommand) -> Result<ExitCode> {
    let (all, keep_storage, filter) = match cmd {
        BuilderCommand::Build(a) => return super::build::run(settings, *a),
        BuilderCommand::Prune {
            all,
            keep_storage,
            filter,
            force: _,
        } => (all, keep_storage, filter),
    };
    let mut req = BuildPruneRequest {
        all,
        keep_storage: keep_storage
            .as_deref()
            .map(|v| parse_size(v).map_err(|e| anyhow!("--keep-storage: {e}")))
            .transpose()?,
        until: None,
    };
    for f in &filter {
        match f.split_once('=') {
            Some(("until", d)) => req.until = Some(parse_duration(d)?),
            _ => bail!("invalid --filter {f:?}: expected until=DURATION"),
        }
    }
    let r = prune(&settings.root, &req)?;
    print(&format!(
        "Deleted build cache: {} entries, {} layer blobs, {} snapshots, {} cache mounts\n\
         Total reclaimed space: {}\n",
        r.entries,
        r.blobs,
        r.snapshots,
        r.extra,
        human_size(r.reclaimed)
    ));
    Ok(ExitCode::SUCCESS)
}
