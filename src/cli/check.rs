//! `strata check [-f FILE] [--format text|json] [DIR]`.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::{anyhow, Context, Result};
use clap::{Args, ValueEnum};

use super::Settings;
use crate::plan::check::{check, has_errors, CheckOptions};
use crate::plan::scope::BuildArgs;
use crate::syntax::render;

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

pub fn run(_settings: &Settings, args: CheckArgs) -> Result<ExitCode> {
    // Docker reads `-f` relative to the working directory, and defaults to DIR/Dockerfile.
    let path = args
        .file
        .clone()
        .unwrap_or_else(|| args.dir.join("Dockerfile"));
    let shown = if args.file.is_none() && args.dir == Path::new(".") {
        "Dockerfile".to_string()
    } else {
        path.display().to_string()
    };
    let bytes = std::fs::read(&path)
        .with_context(|| format!("cannot read the Dockerfile {}", path.display()))?;
    let source = match crate::syntax::source::decode_or_render(&shown, bytes) {
        Ok(s) => s,
        Err(rendered) => {
            eprint!("{rendered}");
            return Ok(ExitCode::from(1));
        }
    };
    let build_args = BuildArgs::from_flags(args.build_args.iter().map(String::as_str))
        .map_err(|e| anyhow!("{e}"))?
        .resolve_from_process_env();
    let opts = CheckOptions {
        build_args,
        ..CheckOptions::default()
    };
    let diags = check(&source, &opts);
    match args.format {
        Format::Text => {
            let mut out = std::io::stdout().lock();
            for d in &diags {
                write!(out, "{}", render(&shown, &source, d))?;
            }
        }
        Format::Json => {
            let records: Vec<_> = diags.iter().map(|d| d.record(&shown)).collect();
            println!("{}", serde_json::to_string_pretty(&records)?);
        }
    }
    Ok(if has_errors(&diags) {
        ExitCode::from(1)
    } else {
        ExitCode::SUCCESS
    })
}
