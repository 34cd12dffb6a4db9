//! `strata push REF`: uploads the image REF names to its registry and prints
//! `<tag>: digest: sha256:… size: N` as Docker does.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use super::Settings;
use crate::engine;
use crate::engine::push::{pushed_name, PushEvent, PushRequest};
use crate::reference::Reference;
use crate::store::Store;

#[derive(Debug, Args)]
pub struct PushArgs {
    /// Allow plain HTTP to this registry (`host[:port]` or a CIDR); repeatable.
    #[arg(long = "insecure-registry", value_name = "HOST")]
    pub insecure: Vec<String>,
    /// `[HOST[:PORT]/]NAME[:TAG]` of an image in the store.
    pub reference: String,
}

pub fn run(settings: &Settings, args: PushArgs) -> Result<ExitCode> {
    let reference = Reference::parse(&args.reference)
        .with_context(|| format!("invalid reference {:?}", args.reference))?;
    let store = Store::open(&settings.root)?;
    push_one(&store, &reference, &args.insecure)?;
    Ok(ExitCode::SUCCESS)
}

/// Pushes the stored image `reference` to its registry and prints Docker's summary line
/// (`strata push`, `strata build --push`).
pub(super) fn push_one(store: &Store, reference: &Reference, insecure: &[String]) -> Result<()> {
    let req = PushRequest {
        reference: reference.clone(),
        insecure: insecure.to_vec(),
        credential: None,
    };
    let on = |e: PushEvent| {
        if let PushEvent::Warning(w) = e {
            eprintln!("warning: {w}");
        }
    };
    let pushed = engine::push::push(store.root(), &req, &on)?;
    println!(
        "{}: digest: {} size: {}",
        pushed_name(reference),
        pushed.digest,
        pushed.size
    );
    Ok(())
}
