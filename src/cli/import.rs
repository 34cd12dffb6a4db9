//! `strata import`.

use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Args;

use super::Settings;

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A rootfs tarball (plain or compressed) or a directory.
    pub source: std::path::PathBuf,
    /// The reference to tag the image with.
    pub reference: Option<String>,
    /// Apply a Dockerfile instruction to the image config (CMD, ENTRYPOINT, ENV, …).
    #[arg(short = 'c', long = "change")]
    pub changes: Vec<String>,
}

pub fn run(_settings: &Settings, _args: ImportArgs) -> Result<ExitCode> {
    bail!("strata import is not implemented yet")
}
