//! `strata save [-o FILE] [--format docker|oci] IMAGE…`: writes a docker-archive (default) or an
//! oci-archive. A file is written under a temp name and renamed, so a failed save leaves none.

use std::io::{self, BufWriter, IsTerminal, Write};
use std::path::Path;
use std::process::ExitCode;

use anyhow::{bail, Context, Result};
use clap::Args;

use super::Settings;
use crate::engine;
use crate::store::archive::{self, SaveFormat, SaveItem};
use crate::store::Store;

#[derive(Debug, Args)]
pub struct SaveArgs {
    /// Write to a file instead of stdout.
    #[arg(short = 'o', long = "output")]
    pub output: Option<std::path::PathBuf>,
    /// Archive format: docker (docker-archive) or oci (oci-archive).
    #[arg(long, default_value = "docker")]
    pub format: String,
    /// Images by reference or ID.
    #[arg(required = true)]
    pub references: Vec<String>,
}

pub fn run(settings: &Settings, args: SaveArgs) -> Result<ExitCode> {
    let format = match args.format.as_str() {
        "docker" | "docker-archive" => SaveFormat::Docker,
        "oci" | "oci-archive" => SaveFormat::Oci,
        other => bail!("unknown --format {other:?}: use docker or oci"),
    };
    let items = engine::archive::save_items(&settings.root, &args.references)?;
    let store = Store::open(&settings.root)?;
    match &args.output {
        Some(path) => save_to_file(&store, &items, format, path)?,
        None => {
            if io::stdout().is_terminal() {
                bail!("cowardly refusing to save to a terminal: use -o FILE or redirect stdout");
            }
            let mut out = BufWriter::new(io::stdout().lock());
            archive::save(&store, &items, format, &mut out)?;
            out.flush().context("cannot write to stdout")?;
        }
    }
    Ok(ExitCode::SUCCESS)
}

fn save_to_file(store: &Store, items: &[SaveItem], format: SaveFormat, path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => ".".into(),
    };
    let tmp = tempfile::Builder::new()
        .prefix(".strata-save-")
        .tempfile_in(&dir)
        .with_context(|| format!("cannot create a file in {}", dir.display()))?;
    let mut out = BufWriter::new(tmp);
    archive::save(store, items, format, &mut out)
        .with_context(|| format!("cannot save to {}", path.display()))?;
    let tmp = out
        .into_inner()
        .map_err(|e| e.into_error())
        .with_context(|| format!("cannot write {}", path.display()))?;
    tmp.persist(path)
        .map_err(|e| e.error)
        .with_context(|| format!("cannot write {}", path.display()))?;
    Ok(())
}
