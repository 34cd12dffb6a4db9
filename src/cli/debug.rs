//! `strata debug parse [-f FILE]` and `strata debug expand [--env K=V]… WORD`.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{bail, Result};
use clap::Subcommand;

use super::Settings;

#[derive(Debug, Subcommand)]
pub enum DebugCommand {
    /// Print the parsed Dockerfile in BuildKit's dump format.
    Parse {
        /// The Dockerfile (default: ./Dockerfile).
        #[arg(short = 'f', long = "file", default_value = "Dockerfile")]
        file: PathBuf,
    },
    /// Print a word's expansion as the builder would do it.
    Expand {
        /// A variable visible to the expansion.
        #[arg(long = "env", value_name = "K=V")]
        env: Vec<String>,
        /// Split the result into words (ProcessWords) instead of one string (ProcessWord).
        #[arg(long)]
        words: bool,
        /// The escape character.
        #[arg(long, default_value_t = '\\')]
        escape: char,
        word: String,
    },
}

pub fn run(_settings: &Settings, _cmd: DebugCommand) -> Result<ExitCode> {
    bail!("strata debug is not wired up yet")
}
