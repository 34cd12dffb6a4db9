//! `strata cp`: copies files between a container and the host (`CONTAINER:SRC HOSTDEST` or
//! `HOSTSRC CONTAINER:DEST`), with Docker's rules for files, directories and a trailing `/.`;
//! `-` as the host side is a tar stream on stdout or stdin.

use std::io::Write;
use std::path::Path;
use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use super::Settings;
use crate::container::access::cp_fs;
use crate::container::cp::{copy, host_path, split_container_arg, Owner};
use crate::container::Containers;
use crate::engine::containers::archive::{self, in_root};
use crate::engine::containers::Error as EngineErr;
use crate::store::Store;

#[derive(Debug, Args)]
pub struct CpArgs {
    /// Keep the source's owners when copying into the container (else root:root).
    #[arg(short = 'a', long)]
    pub archive: bool,
    /// Follow a symlink given as the source.
    #[arg(short = 'L', long)]
    pub follow_link: bool,
    /// CONTAINER:SRC_PATH, a host path, or `-` (a tar stream on stdin).
    pub source: String,
    /// CONTAINER:DEST_PATH, a host path, or `-` (a tar stream on stdout).
    pub dest: String,
}

pub fn run(settings: &Settings, args: CpArgs) -> Result<ExitCode> {
    let src = split_container_arg(&args.source);
    let dst = split_container_arg(&args.dest);
    let store = Store::open(&settings.root)?;
    let containers = Containers::new(store.root());
    match (src, dst) {
        (Some((name, path)), None) if args.dest == "-" => {
            let (_, write) = archive::get(&settings.root, name, path)?;
            let stdout = std::io::stdout();
            let mut w = std::io::BufWriter::new(stdout.lock());
            write(&mut w)?;
            w.flush().context("writing the archive")?;
        }
        (None, Some((name, path))) if args.source == "-" => {
            let put = archive::put(
                &settings.root,
                name,
                path,
                &mut std::io::stdin().lock(),
                // As the docker CLI's `cp -`: a directory and a file never replace each other.
                archive::PutOptions {
                    copy_uid_gid: true,
                    no_overwrite_dir_non_dir: true,
                },
            );
            if let Err(EngineErr::ExtractNotDir(_)) = put {
                anyhow::bail!("destination \"{name}:{path}\" must be a directory");
            }
            put.context("unpacking the archive from stdin")?;
        }
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
