//! `strata logout [REGISTRY]`: forgets the saved credential for a registry (default: Docker Hub).

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use crate::distribution::credentials;

#[derive(Debug, Args)]
pub struct LogoutArgs {
    /// The registry, `host[:port]` (default: Docker Hub).
    pub server: Option<String>,
}

pub fn run(args: LogoutArgs) -> Result<ExitCode> {
    let (key, _) = crate::engine::auth::server_names(args.server.as_deref());
    if credentials::erase(&key).context("removing the credential")? {
        println!("Removing login credentials for {key}");
    } else {
        println!("Not logged in to {key}");
    }
    Ok(ExitCode::SUCCESS)
}
