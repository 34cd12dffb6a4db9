//! `strata commit CONTAINER [REPOSITORY[:TAG]]`: the container's changes as a new image; prints
//! its ID.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use super::format::print;
use super::Settings;
use crate::engine::containers::commit::{commit, CommitRequest};

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
    let req = CommitRequest {
        container: args.container,
        reference: args.reference,
        author: args.author,
        message: args.message,
        changes: args.changes,
        overrides: None,
        // As before the API existed: the CLI reads a running container's files unfrozen.
        pause: false,
    };
    let img = commit(&settings.root, &req)?;
    print(&format!("{}\n", img.id));
    Ok(ExitCode::SUCCESS)
}
