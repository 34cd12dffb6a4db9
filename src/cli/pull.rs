//! `strata pull [--platform P] REF`: downloads an image into the store, printing what Docker
//! prints at the end of a pull.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use super::Settings;
use crate::distribution::{self, default_plain_http, ClientConfig, RegistryClient};
use crate::plan::platform::Platform;
use crate::reference::Reference;
use crate::store::Store;

#[derive(Debug, Args)]
pub struct PullArgs {
    /// The platform to pull from a multi-platform image (default: the host's).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,
    /// `[HOST[:PORT]/]NAME[:TAG|@DIGEST]`.
    pub reference: String,
}

/// A client for `registry` with the connection settings strata resolves for it.
pub(super) fn registry_client(registry: &str) -> Result<RegistryClient> {
    let cfg = ClientConfig {
        credential: None,
        extra_ca_files: Vec::new(),
        plain_http: default_plain_http(registry),
    };
    Ok(RegistryClient::new(registry, cfg)?)
}

pub fn run(settings: &Settings, args: PullArgs) -> Result<ExitCode> {
    let reference = Reference::parse(&args.reference)
        .with_context(|| format!("invalid reference {:?}", args.reference))?;
    let platform = match &args.platform {
        Some(p) => Platform::parse(p)?,
        None => Platform::host(),
    };
    let store = Store::open(&settings.root)?;
    let before = store.read_index()?.lookup(&reference).map(|e| e.manifest);
    let client = registry_client(reference.domain())?;
    let image = distribution::pull(&store, &client, &reference, &platform)
        .with_context(|| format!("pulling {}", reference.familiar_string()))?;
    println!("Digest: {}", image.manifest_digest);
    let status = if before == Some(image.manifest_digest) {
        "Image is up to date for"
    } else {
        "Downloaded newer image for"
    };
    println!("Status: {status} {}", reference.familiar_string());
    println!("{reference}");
    Ok(ExitCode::SUCCESS)
}
