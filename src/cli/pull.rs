//! `strata pull [--platform P | --all-platforms] REF`: downloads an image into the store,
//! printing what Docker prints at the end of a pull.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use super::Settings;
use crate::engine;
use crate::engine::pull::{PullEvent, PullRequest};
use crate::plan::platform::Platform;
use crate::reference::Reference;

#[derive(Debug, Args)]
pub struct PullArgs {
    /// The platform to pull from a multi-platform image (default: the host's).
    #[arg(long, value_name = "OS/ARCH[/VARIANT]")]
    pub platform: Option<String>,
    /// Pull every platform of a multi-platform image, kept as one index under the tag (as
    /// `ctr`/`nerdctl pull --all-platforms`).
    #[arg(long, conflicts_with = "platform")]
    pub all_platforms: bool,
    /// Allow plain HTTP to this registry (`host[:port]` or a CIDR); repeatable.
    #[arg(long = "insecure-registry", value_name = "HOST")]
    pub insecure: Vec<String>,
    /// `[HOST[:PORT]/]NAME[:TAG|@DIGEST]`.
    pub reference: String,
}

pub fn run(settings: &Settings, args: PullArgs) -> Result<ExitCode> {
    let reference = Reference::parse(&args.reference)
        .with_context(|| format!("invalid reference {:?}", args.reference))?;
    let platform = args.platform.as_deref().map(Platform::parse).transpose()?;
    let req = PullRequest {
        reference: reference.clone(),
        platform,
        all_platforms: args.all_platforms,
        insecure: args.insecure,
        credential: None,
    };
    let on = |e: PullEvent| {
        if let PullEvent::Warning(w) = e {
            eprintln!("warning: {w}");
        }
    };
    let pulled = engine::pull::pull(&settings.root, &req, &on)?;
    println!("Digest: {}", pulled.digest);
    let status = if pulled.changed {
        "Downloaded newer image for"
    } else {
        "Image is up to date for"
    };
    println!("Status: {status} {}", reference.familiar_string());
    println!("{reference}");
    Ok(ExitCode::SUCCESS)
}
