//! `strata import FILE|DIR|- [REF]`: a rootfs tarball (plain, gzip or zstd) or a directory
//! becomes a one-layer image (see `engine::import`).

use std::io;
use std::process::ExitCode;

use anyhow::{anyhow, Result};
use clap::Args;

use super::args::CompressionArg;
use super::format::print;
use super::Settings;
use crate::engine::import::{file_source, import, ImportRequest, ImportSource};
use crate::plan::platform::Platform;

#[derive(Debug, Args)]
pub struct ImportArgs {
    /// A rootfs tarball (plain or compressed), a directory, or `-` for stdin.
    pub source: std::path::PathBuf,
    /// The reference to tag the image with.
    pub reference: Option<String>,
    /// Apply a Dockerfile instruction to the image config (CMD, ENTRYPOINT, ENV, …).
    #[arg(short = 'c', long = "change")]
    pub changes: Vec<String>,
    /// Commit message for the imported image (the history comment).
    #[arg(short = 'm', long = "message")]
    pub message: Option<String>,
    /// The platform the rootfs is for, `os/arch[/variant]` (default: the host's): a base for
    /// building or running a foreign platform under emulation.
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,
    /// Layer compression.
    #[arg(long, value_enum, default_value_t = CompressionArg::Gzip)]
    pub compression: CompressionArg,
    /// Compression level (gzip 0-9, default 5; zstd 1-22, default 3).
    #[arg(long, value_name = "N")]
    pub compression_level: Option<i32>,
}

pub fn run(settings: &Settings, args: ImportArgs) -> Result<ExitCode> {
    let src = &args.source;
    let source = if src.as_os_str() == "-" {
        ImportSource::Tar(Box::new(io::stdin()))
    } else {
        file_source(src)?
    };
    let req = ImportRequest {
        source,
        // Docker's CLI sends a file as the request body, so its comment is `Imported from -`;
        // naming the local path would make the image depend on where its input lay.
        source_name: "-".to_string(),
        reference: args.reference,
        changes: args.changes,
        message: args.message,
        platform: match &args.platform {
            Some(p) => Some(Platform::parse(p).map_err(|e| anyhow!("--platform: {e}"))?),
            None => None,
        },
        compression: args.compression.with_level(args.compression_level),
    };
    let img = import(&settings.root, req)?;
    print(&format!("{}\n", img.id));
    Ok(ExitCode::SUCCESS)
}
