//! Checking a registry credential (`strata login`, `POST /auth`): which `auths` key and host a
//! registry argument names, and whether the registry accepts the credential.

use super::EngineError;
use crate::distribution::credentials::{self, Credential, DOCKER_HUB_KEY};
use crate::distribution::verify::verify_login;

/// The `auths` key and the host to call for a registry argument (default: Docker Hub).
pub fn server_names(server: Option<&str>) -> (String, String) {
    let key = credentials::config_key(server.unwrap_or("docker.io"));
    let host = if key == DOCKER_HUB_KEY {
        "docker.io".to_string()
    } else {
        key.clone()
    };
    (key, host)
}

/// Succeeds when the registry `server` names accepts `cred` (plain HTTP only for the
/// `insecure` registries and loopback).
pub fn check_login(
    server: Option<&str>,
    cred: &Credential,
    insecure: &[String],
) -> Result<(), EngineError> {
    let (_, host) = server_names(server);
    verify_login(&host, cred, insecure)?;
    Ok(())
}
