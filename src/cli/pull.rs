//! `strata pull [--platform P] REF`: downloads an image into the store, printing what Docker
//! prints at the end of a pull.

use std::process::ExitCode;

use anyhow::{Context, Result};
use clap::Args;

use super::Settings;
use crate::distribution::{
    self, credentials, default_plain_http, tls, BasicCredential, ClientConfig, RegistryClient,
};
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

/// A client for `registry` with the connection settings strata resolves for it: credentials
/// from Docker's config file (or its credential helpers; one that fails is a warning, and the
/// pull goes on anonymously), CAs from certs.d, and plain HTTP only for loopback or
/// `--insecure-registry` hosts that have no CA configured.
pub(super) fn registry_client(registry: &str, insecure: &[String]) -> Result<RegistryClient> {
    let credential = match credentials::lookup(registry) {
        Ok(c) => c.map(|c| BasicCredential {
            username: c.username,
            secret: c.secret,
        }),
        Err(e) => {
            eprintln!("warning: credentials for {registry}: {e}; continuing without them");
            None
        }
    };
    let extra_ca_files = tls::ca_files(registry);
    let plain_http = extra_ca_files.is_empty()
        && (default_plain_http(registry) || tls::plain_http_allowed(registry, insecure));
    let cfg = ClientConfig {
        credential,
        extra_ca_files,
        plain_http,
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
