//! `strata diff CONTAINER`: the files a container added (`A`), changed (`C`) and deleted
//! (`D`), as `docker diff` lists them.

use std::process::ExitCode;

use anyhow::Result;
use clap::Args;

use super::format::print;
use super::Settings;
use crate::container::{diff, Containers};
use crate::sandbox::RootFs;
use crate::store::Store;

#[derive(Debug, Args)]
pub struct DiffArgs {
    pub container: String,
}

pub fn run(settings: &Settings, args: DiffArgs) -> Result<ExitCode> {
    let store = Store::open(&settings.root)?;
    let cs = Containers::new(&settings.root);
    let c = cs.find(&args.container)?;
    let lowers = match crate::container::rootfs(&store, &c)? {
        RootFs::Overlay { lowerdirs, .. } => lowerdirs,
        RootFs::Dir(_) => Vec::new(),
    };
    let changes = diff::changes(&cs.upperdir(&c.id), &lowers)?;
    let text: String = changes
        .iter()
        .map(|c| format!("{} {}\n", c.kind, c.path))
        .collect();
    print(&text);
    Ok(ExitCode::SUCCESS)
}
