//! `strata rmi`: untags, and removes an image from the index with its last tag, printing
//! Docker's `Untagged:` / `Deleted:` lines; an image a container uses is refused as Docker
//! refuses it (see `store::image_delete`). Blobs are reclaimed by `system prune`.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use super::format::print;
use super::Settings;
use crate::store::image::RemoveEvent;

#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Remove the image even if it is tagged several times or a stopped container uses it.
    #[arg(short = 'f', long)]
    pub force: bool,
    #[arg(required = true)]
    pub references: Vec<String>,
}

pub fn run(settings: &Settings, args: RmiArgs) -> Result<ExitCode> {
    let mut failed = false;
    for r in &args.references {
        match crate::engine::images::remove(&settings.root, r, args.force) {
            Ok(events) => {
                let mut out = String::new();
                for e in events {
                    match e {
                        RemoveEvent::Untagged(t) => {
                            out.push_str(&format!("Untagged: {}\n", t.familiar_string()))
                        }
                        RemoveEvent::Deleted(id) => out.push_str(&format!("Deleted: {id}\n")),
                    }
                }
                print(&out);
            }
            Err(e) => {
                // Like docker: report each failure and go on with the other references.
                eprintln!(
                    "Error response from daemon: {}",
                    super::render_error(&e.into())
                );
                failed = true;
            }
        }
    }
    Ok(if failed {
        ExitCode::FAILURE
    } else {
        ExitCode::SUCCESS
    })
}
