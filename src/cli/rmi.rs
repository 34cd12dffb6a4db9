//! `strata rmi`: untags, and removes an image from the index with its last tag, printing
//! Docker's `Untagged:` / `Deleted:` lines; an image a container uses is refused as Docker
//! refuses it (see `store::image_delete`). Blobs are reclaimed by `system prune`.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use super::format::print;
use super::Settings;
use crate::store::image::RemoveEvent;
use crate::store::image_delete::ImageUser;
use crate::store::Store;

#[derive(Debug, Args)]
pub struct RmiArgs {
    /// Remove the image even if it is tagged several times or a stopped container uses it.
    #[arg(short = 'f', long)]
    pub force: bool,
    #[arg(required = true)]
    pub references: Vec<String>,
}

pub fn run(settings: &Settings, args: RmiArgs) -> Result<ExitCode> {
    let store = Store::open(&settings.root)?;
    let users: Vec<ImageUser> = crate::container::Containers::new(&settings.root)
        .list()
        .context("cannot list the containers")?
        .into_iter()
        .map(|c| ImageUser {
            running: c.is_running(),
            container: c.id,
            image: c.image_id,
        })
        .collect();
    let mut failed = false;
    for r in &args.references {
        match store.remove_image(r, args.force, &users) {
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
