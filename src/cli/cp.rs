//! `strata cp`: copies files between a container and the host (`CONTAINER:SRC HOSTDEST` or
//! `HOSTSRC CONTAINER:DEST`), with Docker's rules for files, directories and a trailing `/.`.

use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use super::Settings;
use crate::container::access::cp_fs;
use crate::container::cp::{copy, host_path, split_container_arg, Owner};
use crate::container::Containers;
use crate::store::Store;

#[derive(Debug, Args)]
pub struct CpArgs {
    /// Keep the source's owners when copying into the container (else root:root).
    #[arg(short = 'a', long)]
    pub archive: bool,
    /// Follow a symlink given as the source.
    #[arg(short = 'L', long)]
    pub follow_link: bool,
    /// CONTAINER:SRC_PATH or a host path.
    pub source: String,
    /// CONTAINER:DEST_PATH or a host path.
    pub dest: String,
}

pub fn run(settings: &Settings, args: CpArgs) -> Result<ExitCode> {
    let src = split_container_arg(&args.source);
    let dst = split_container_arg(&args.dest);
    let store = Store::open(&settings.root)?;
    let containers = Containers::new(store.root());
    match (src, dst) {
        (Some((name, path)), None) => {
            let c = containers.find(name)?;
            let cfs = cp_fs(&store, &c)?;
            let (host, dest) = host_path(Path::new(&args.dest)).context("current directory")?;
            // Files copied out belong to the caller, as Docker makes them.
            // SAFETY: geteuid/getegid cannot fail and touch no memory.
            let owner = unsafe { Owner::Set(libc::geteuid(), libc::getegid()) };
            copy(&cfs, &in_root(path), &host, &dest, args.follow_link, owner)?;
        }
        (None, Some((name, path))) => {
            let c = containers.find(name)?;
            let cfs = cp_fs(&store, &c)?;
            let (host, source) = host_path(Path::new(&args.source)).context("current directory")?;
            let owner = if args.archive {
                Owner::Keep
            } else {
                Owner::Set(0, 0)
            };
            copy(
                &host,
                &source,
                &cfs,
                &in_root(path),
                args.follow_link,
                owner,
            )?;
        }
        (Some(_), Some(_)) => anyhow::bail!("copying between containers is not supported"),
        (None, None) => anyhow::bail!(
            "must specify at least one container source (CONTAINER:PATH), got {:?} and {:?}",
            args.source,
            args.dest
        ),
    }
    Ok(ExitCode::SUCCESS)
}

/// A container path is taken from the container's `/` (a relative one too, as Docker does
/// for its working directory `/`).
fn in_root(path: &str) -> std::path::PathBuf {
    let mut s = String::from("/");
    s.push_str(path);
    s.into()
}
