//! `strata export CONTAINER [-o FILE]`: the container's whole filesystem as a tar.

use std::io::{IsTerminal, Write};
use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use super::Settings;
use crate::engine::containers::export::export;

#[derive(Debug, Args)]
pub struct ExportArgs {
    /// Write to FILE instead of standard output.
    #[arg(short = 'o', long = "output", value_name = "FILE")]
    pub output: Option<PathBuf>,
    /// Container ID, ID prefix or name.
    pub container: String,
}

pub fn run(settings: &Settings, args: ExportArgs) -> Result<ExitCode> {
    let write = export(&settings.root, &args.container)?;
    match &args.output {
        Some(path) => {
            // Written beside the target and renamed, so a failed export leaves no partial file.
            let dir = path
                .parent()
                .filter(|p| !p.as_os_str().is_empty())
                .unwrap_or(std::path::Path::new("."));
            let mut tmp = tempfile::Builder::new()
                .prefix(".strata-export-")
                .tempfile_in(dir)
                .with_context(|| format!("cannot create a file in {}", dir.display()))?;
            {
                let mut w = std::io::BufWriter::new(tmp.as_file_mut());
                write(&mut w)?;
                w.flush().context("writing the export")?;
            }
            tmp.as_file().sync_all().context("syncing the export")?;
            tmp.persist(path)
                .with_context(|| format!("cannot write {}", path.display()))?;
        }
        None => {
            let stdout = std::io::stdout();
            if stdout.is_terminal() {
                anyhow::bail!(
                    "cowardly refusing to save to a terminal. Use the -o flag or redirect"
                );
            }
            let mut w = std::io::BufWriter::new(stdout.lock());
            write(&mut w)?;
            w.flush().context("writing the export")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}
