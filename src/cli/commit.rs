//! `strata commit CONTAINER [REPOSITORY[:TAG]]`: the container's changes as a new image; prints
//! its ID.

use std::path::PathBuf;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use super::format::print;
use super::Settings;
use crate::container::access::layers;
use crate::container::commit::{commit, CommitOptions, SANDBOX_MOUNTPOINTS};
use crate::container::Containers;
use crate::reference::Reference;
use crate::store::Store;

#[derive(Debug, Args)]
pub struct CommitArgs {
    /// Author (e.g. "Jane <jane@example.com>").
    #[arg(short = 'a', long)]
    pub author: Option<String>,
    /// Commit message (the history entry's comment).
    #[arg(short = 'm', long)]
    pub message: Option<String>,
    /// A Dockerfile instruction applied to the image config (CMD, ENV, LABEL, …).
    #[arg(short = 'c', long = "change")]
    pub changes: Vec<String>,
    /// Container ID, ID prefix or name.
    pub container: String,
    /// Name for the new image.
    pub reference: Option<String>,
}

pub fn run(settings: &Settings, args: CommitArgs) -> Result<ExitCode> {
    let tags = match &args.reference {
        Some(r) => {
            let t = Reference::parse(r).with_context(|| format!("invalid reference {r:?}"))?;
            if t.digest().is_some() {
                anyhow::bail!("refusing to create a tag with a digest reference: {r:?}");
            }
            vec![t]
        }
        None => Vec::new(),
    };
    let store = Store::open(&settings.root)?;
    let c = Containers::new(store.root()).find(&args.container)?;
    let (upper, lowers) = layers(&store, &c)?;
    let opts = CommitOptions {
        tags,
        author: args.author,
        message: args.message,
        changes: args.changes,
        created_by: c.config.argv.join(" "),
        mountpoints: SANDBOX_MOUNTPOINTS
            .iter()
            .map(PathBuf::from)
            .chain(c.config.mounts.iter().map(|m| m.target().clone()))
            .collect(),
        layer: Default::default(),
    };
    let img = commit(&store, &c.manifest_digest, &upper, &lowers, &opts)
        .with_context(|| format!("committing container {}", c.short_id()))?;
    print(&format!("{}\n", img.id));
    Ok(ExitCode::SUCCESS)
}
