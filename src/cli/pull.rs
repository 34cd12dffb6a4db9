//! `strata pull [--platform P] REF`: downloads an image into the store, printing what Docker
//! prints at the end of a pull.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use super::Settings;
use crate::distribution::{self, RegistryClient};
use crate::plan::platform::Platform;
use crate::reference::Reference;
use crate::store::Store;

#[derive(Debug, Args)]
pub struct PullArgs {
    /// The platform to pull from a multi-platform image (default: the host's).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,
    /// Allow plain HTTP to this registry (`host[:port]` or a CIDR); repeatable.
    #[arg(long = "insecure-registry", value_name = "HOST")]
    pub insecure: Vec<String>,
    /// `[HOST[:PORT]/]NAME[:TAG|@DIGEST]`.
    pub reference: String,
}

/// A client for `registry` (see `engine::registry`); a credential helper that fails is a
/// warning on stderr.
pub(super) fn registry_client(registry: &str, insecure: &[String]) -> Result<RegistryClient> {
    Ok(crate::engine::registry::registry_client(
        registry,
        insecure,
        &mut |w| eprintln!("warning: {w}"),
    )?)
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
    let client = registry_client(reference.domain(), &args.insecure)?;
    let image = distribution::pull(&store, &client, &reference, &platform)
        .with_context(|| format!("pulling {}", reference.familiar_string()))?;
    crate::store::events::image_event(
        store.root(),
        "pull",
        &reference.familiar_string(),
        &reference.familiar_string(),
    );
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
