//! A registry client with the connection settings strata resolves for a registry, shared by
//! every operation that talks to one (`pull`, `run`/`create` of a missing image).

use crate::distribution::error::RegistryError;
use crate::distribution::{
    credentials, default_plain_http, tls, BasicCredential, ClientConfig, RegistryClient,
};

/// A client for `registry`: credentials from Docker's config file (or its credential
/// helpers; one that fails is reported to `warn`, and the client goes on anonymously), CAs
/// from certs.d, and plain HTTP only for loopback or `insecure` hosts that have no CA
/// configured.
pub fn registry_client(
    registry: &str,
    insecure: &[String],
    warn: &mut dyn FnMut(String),
) -> Result<RegistryClient, RegistryError> {
    let credential = match credentials::lookup(registry) {
        Ok(c) => c.map(|c| BasicCredential {
            username: c.username,
            secret: c.secret,
        }),
        Err(e) => {
            warn(format!(
                "credentials for {registry}: {e}; continuing without them"
            ));
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
    RegistryClient::new(registry, cfg)
}

/// A client for `registry` that authenticates with `credential` (one given with an API
/// request) instead of Docker's config file.
pub fn registry_client_as(
    registry: &str,
    insecure: &[String],
    credential: &BasicCredential,
) -> Result<RegistryClient, RegistryError> {
    let extra_ca_files = tls::ca_files(registry);
    let plain_http = extra_ca_files.is_empty()
        && (default_plain_http(registry) || tls::plain_http_allowed(registry, insecure));
    let cfg = ClientConfig {
        credential: Some(credential.clone()),
        extra_ca_files,
        plain_http,
    };
    RegistryClient::new(registry, cfg)
}

/// A client for `registry` as an API request asks: with the credential it carries, else
/// Docker's config file (a failing credential helper is reported to `warn`).
pub fn client_with(
    registry: &str,
    insecure: &[String],
    credential: Option<&BasicCredential>,
    warn: &mut dyn FnMut(String),
) -> Result<RegistryClient, RegistryError> {
    match credential {
        Some(c) => registry_client_as(registry, insecure, c),
        None => registry_client(registry, insecure, warn),
    }
}
