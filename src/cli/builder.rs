//! `strata builder prune [-a] [--keep-storage SIZE] [--filter until=DURATION] [-f]`: build cache
//! garbage collection, with Docker's flags.

use std::process::ExitCode;
use std::time::{Duration, SystemTime};

use anyhow::{anyhow, bail, Result};
use clap::Subcommand;

use super::format::{human_size, print};
use super::Settings;
use crate::exec::mounts::{cache_mount_dirs, parse_size};
use crate::store::build_prune::BuildPruneOptions;
use crate::store::Store;

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
    let mut opts = BuildPruneOptions {
        all,
        keep_storage: keep_storage
            .as_deref()
            .map(|v| parse_size(v).map_err(|e| anyhow!("--keep-storage: {e}")))
            .transpose()?,
        ..Default::default()
    };
    for f in &filter {
        match f.split_once('=') {
            Some(("until", d)) => {
                let age = parse_duration(d)?;
                opts.unused_since = Some(SystemTime::now() - age);
            }
            _ => bail!("invalid --filter {f:?}: expected until=DURATION"),
        }
    }
    // Cache mounts hold what RUN steps chose to keep; only an explicit request removes them.
    if all || opts.keep_storage.is_some() {
        opts.extra = cache_mount_dirs(&settings.root);
    }
    opts.keep_manifests = crate::engine::system::container_manifests(&settings.root)?;
    let store = Store::open(&settings.root)?;
    let r = store.prune_build_cache(&opts)?;
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

/// Go-style durations as Docker takes them: `24h`, `90m`, `1h30m`, `45s`, `500ms`.
pub fn parse_duration(s: &str) -> Result<Duration> {
    let bad = || anyhow!("invalid duration {s:?}: expected e.g. 24h, 90m or 1h30m");
    let mut rest = s.trim();
    if rest.is_empty() {
        return Err(bad());
    }
    let mut total = 0f64;
    while !rest.is_empty() {
        let n_end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .ok_or_else(bad)?;
        let n: f64 = rest[..n_end].parse().map_err(|_| bad())?;
        rest = &rest[n_end..];
        let u_end = rest
            .find(|c: char| c.is_ascii_digit() || c == '.')
            .unwrap_or(rest.len());
        let secs = match &rest[..u_end] {
            "h" => 3600.0,
            "m" => 60.0,
            "s" => 1.0,
            "ms" => 1e-3,
            _ => return Err(bad()),
        };
        total += n * secs;
        rest = &rest[u_end..];
    }
    Ok(Duration::from_secs_f64(total))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn durations() {
        for (s, secs) in [
            ("24h", 86400.0),
            ("90m", 5400.0),
            ("1h30m", 5400.0),
            ("45s", 45.0),
        ] {
            assert_eq!(
                parse_duration(s).unwrap(),
                Duration::from_secs_f64(secs),
                "{s}"
            );
        }
        assert_eq!(parse_duration("500ms").unwrap(), Duration::from_millis(500));
        for bad in ["", "h", "10", "10d", "1h-3m"] {
            assert!(parse_duration(bad).is_err(), "{bad}");
        }
    }
}
