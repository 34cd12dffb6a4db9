//! `strata load [-i FILE]`: loads a docker-archive or oci-archive (plain or compressed) and
//! prints `Loaded image: REF` / `Loaded image ID: sha256:…` as docker does.

use std::fs::File;
use std::io::{self, IsTerminal, Read};
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Args;

use super::format::print;
use super::Settings;
use crate::engine;

#[derive(Debug, Args)]
pub struct LoadArgs {
    /// Read from a docker-archive or oci-archive file instead of stdin.
    #[arg(short = 'i', long = "input")]
    pub input: Option<std::path::PathBuf>,
    /// Suppress progress output (strata prints none; accepted for docker compatibility).
    #[arg(short = 'q', long)]
    pub quiet: bool,
}

pub fn run(settings: &Settings, args: LoadArgs) -> Result<ExitCode> {
    let (name, input): (String, Box<dyn Read + Send>) = match &args.input {
        Some(p) => (
            p.display().to_string(),
            Box::new(File::open(p).with_context(|| format!("cannot open {}", p.display()))?),
        ),
        None => {
            if io::stdin().is_terminal() {
                bail!("requested load from stdin, but stdin is a terminal: use -i FILE or a pipe");
            }
            ("stdin".into(), Box::new(io::stdin()))
        }
    };
    let loaded = engine::archive::load(&settings.root, input)
        .with_context(|| format!("cannot load {name}"))?;
    let mut out = String::new();
    for line in engine::archive::load_lines(&loaded) {
        out.push_str(&line);
        out.push('\n');
    }
    print(&out);
    Ok(ExitCode::SUCCESS)
}
