//! `strata check [-f FILE] [--format text|json] [DIR]`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::{Args, ValueEnum};

use super::Settings;

#[derive(Debug, Args)]
pub struct CheckArgs {
    /// Name of the Dockerfile (default: DIR/Dockerfile).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: Option<PathBuf>,
    /// Output format.
    #[arg(long, value_enum, default_value_t = Format::Text)]
    pub format: Format,
    /// Build arguments visible to the check (`K=V`, or `K` to take it from the environment).
    #[arg(long = "build-arg", value_name = "K[=V]")]
    pub build_args: Vec<String>,
    /// The build context directory.
    #[arg(default_value = ".")]
    pub dir: PathBuf,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum Format {
    Text,
    Json,
}

pub fn run(_settings: &Settings, _args: CheckArgs) -> Result<ExitCode> {
    bail!("strata check is not wired up yet")
}
