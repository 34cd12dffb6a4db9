//! Checking a login before it is saved: `GET /v2/` on the registry, answering its challenge
//! with the credential (Basic directly, or a Bearer token fetched from the challenge's realm).
//!
//! HTTPS first, always verified (system roots plus certs.d); plain HTTP only when
//! [`tls::plain_http_allowed`] and the HTTPS attempt failed for a reason other than the
//! certificate, so a bad certificate is reported rather than silently bypassed.

use std::io::Read as _;
use std::time::Duration;

use serde_json::Value;
use ureq::http::header::{AUTHORIZATION, WWW_AUTHENTICATE};
use ureq::http::Response;
use ureq::tls::{RootCerts, TlsConfig};
use ureq::{Agent, Body};

use super::auth::{parse_challenge, percent_encode, Challenge};
use super::client::api_host;
#[cfg(test)]
use super::client::DOCKER_HUB_API;
use super::credentials::Credential;
use super::tls::{self, TlsError};

const TIMEOUT: Duration = Duration::from_secs(30);
const USER_AGENT: &str = concat!("strata/", env!("CARGO_PKG_VERSION"));
/// Where Docker Hub's API lives; `docker.io` itself serves no `/v2/`.
/// Cap on error bodies read, so a hostile server cannot make us buffer without bound.
const MAX_ERROR_BODY: u64 = 64 * 1024;

#[derive(Debug, thiserror::Error)]
pub enum VerifyError {
    /// The registry (or its token service) refused the credential; `message` is its own words.
    #[error("unauthorized: {message}")]
    Unauthorized { url: String, message: String },
    #[error("{url}: tls: failed to verify certificate: {message}")]
    Certificate { url: String, message: String },
    #[error("{url}: {message}")]
    Transport { url: String, message: String },
    #[error("{url}: unexpected status {status}: {message}")]
    Status {
        url: String,
        status: u16,
        message: String,
    },
    #[error("{url}: bad token response: {message}")]
    Token { url: String, message: String },
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// Succeeds when `registry` accepts `cred` (or needs no credential at all).
pub fn verify_login(
    registry: &str,
    cred: &Credential,
    insecure: &[String],
) -> Result<(), VerifyError> {
    let host = api_host(registry);
    let client = Client::new(host, tls::root_certs(host)?);
    let https = format!("https://{host}/v2/");
    match client.login(&https, cred) {
        Err(e @ VerifyError::Transport { .. }) if tls::plain_http_allowed(host, insecure) => {
            match client.login(&format!("http://{host}/v2/"), cred) {
                // Neither spoke: the HTTPS failure is the more telling one.
                Err(VerifyError::Transport { .. }) => Err(e),
                other => other,
            }
        }
        other => other,
    }
}

struct Client {
    agent: Agent,
}

impl Client {
    fn new(host: &str, roots: RootCerts) -> Client {
        let loopback = tls::plain_http_allowed(host, &[]);
        let agent = Agent::config_builder()
            .http_status_as_error(false)
            .user_agent(USER_AGENT)
            // Loopback never goes through a proxy, as Go's ProxyFromEnvironment decides.
            .proxy(if loopback {
                None
            } else {
                ureq::Proxy::try_from_env()
            })
            .timeout_global(Some(TIMEOUT))
            .tls_config(TlsConfig::builder().root_certs(roots).build())
            .build()
            .new_agent();
        Client { agent }
    }

    fn login(&self, url: &str, cred: &Credential) -> Result<(), VerifyError> {
        // Unauthenticated first, as Docker does, so the password only goes where it is asked for.
        let resp = self.get(url, None)?;
        if resp.status().is_success() {
            return Ok(());
        }
        if resp.status().as_u16() != 401 {
            return Err(status_error(url, resp));
        }
        let challenge = resp
            .headers()
            .get(WWW_AUTHENTICATE)
            .and_then(|v| v.to_str().ok())
            .and_then(parse_challenge);
        let authorization = match challenge {
            Some(Challenge::Bearer { realm, service, .. }) => {
                format!("Bearer {}", self.token(&realm, service.as_deref(), cred)?)
            }
            _ => cred.basic_auth(),
        };
        let resp = self.get(url, Some(&authorization))?;
        match resp.status().as_u16() {
            200..=299 => Ok(()),
            401 => Err(VerifyError::Unauthorized {
                url: url.to_string(),
                message: error_message(resp),
            }),
            _ => Err(status_error(url, resp)),
        }
    }

    /// A token from the challenge's realm, fetched with the credential as Basic auth.
    fn token(
        &self,
        realm: &str,
        service: Option<&str>,
        cred: &Credential,
    ) -> Result<String, VerifyError> {
        let mut query = Vec::new();
        if let Some(service) = service {
            query.push(format!("service={}", percent_encode(service)));
        }
        if !cred.username.is_empty() {
            query.push(format!("account={}", percent_encode(&cred.username)));
        }
        let sep = if realm.contains('?') { '&' } else { '?' };
        let url = if query.is_empty() {
            realm.to_string()
        } else {
            format!("{realm}{sep}{}", query.join("&"))
        };
        let resp = self.get(&url, Some(&cred.basic_auth()))?;
        match resp.status().as_u16() {
            200..=299 => {}
            401 | 403 => {
                return Err(VerifyError::Unauthorized {
                    message: error_message(resp),
                    url,
                })
            }
            _ => return Err(status_error(&url, resp)),
        }
        let body = read_limited(resp.into_body()).map_err(|message| VerifyError::Token {
            url: url.clone(),
            message,
        })?;
        let v: Value = serde_json::from_slice(&body).map_err(|e| VerifyError::Token {
            url: url.clone(),
            message: e.to_string(),
        })?;
        ["token", "access_token"]
            .iter()
            .find_map(|k| v.get(k).and_then(Value::as_str).filter(|t| !t.is_empty()))
            .map(str::to_string)
            .ok_or(VerifyError::Token {
                url,
                message: "no token in it".into(),
            })
    }

    fn get(&self, url: &str, authorization: Option<&str>) -> Result<Response<Body>, VerifyError> {
        let mut req = self.agent.get(url);
        if let Some(a) = authorization {
            req = req.header(AUTHORIZATION, a);
        }
        req.call().map_err(|e| transport_error(url, e))
    }
}

fn transport_error(url: &str, e: ureq::Error) -> VerifyError {
    let message = match &e {
        ureq::Error::Io(io) => io.to_string(),
        other => other.to_string(),
    };
    // rustls reports verification failures as `invalid peer certificate: <reason>`, whether
    // ureq hands the error over directly or wrapped in an io::Error.
    if let Some(reason) = message
        .split_once("invalid peer certificate: ")
        .map(|(_, r)| r)
    {
        return VerifyError::Certificate {
            url: url.to_string(),
            message: explain_certificate(reason),
        };
    }
    VerifyError::Transport {
        url: url.to_string(),
        message,
    }
}

/// rustls's terse reasons in the words Docker users know, the original kept for searching.
fn explain_certificate(reason: &str) -> String {
    let plain = if reason.starts_with("UnknownIssuer") {
        "certificate signed by unknown authority (add its CA to certs.d)"
    } else if reason.starts_with("Expired") {
        "certificate has expired"
    } else if reason.starts_with("NotValidYet") {
        "certificate is not valid yet"
    } else if reason.starts_with("NotValidForName") {
        "certificate is not valid for this host name"
    } else {
        return reason.to_string();
    };
    format!("{plain} [{reason}]")
}

fn status_error(url: &str, resp: Response<Body>) -> VerifyError {
    let status = resp.status().as_u16();
    VerifyError::Status {
        url: url.to_string(),
        status,
        message: error_message(resp),
    }
}

fn read_limited(body: Body) -> Result<Vec<u8>, String> {
    let mut buf = Vec::new();
    body.into_reader()
        .take(MAX_ERROR_BODY)
        .read_to_end(&mut buf)
        .map_err(|e| e.to_string())?;
    Ok(buf)
}

/// The registry's own explanation: the distribution spec's `errors[].message`, a token
/// service's `details`/`error`, else the body's text, else the status reason.
fn error_message(resp: Response<Body>) -> String {
    let reason = resp
        .status()
        .canonical_reason()
        .unwrap_or("")
        .to_ascii_lowercase();
    let body = read_limited(resp.into_body()).unwrap_or_default();
    message_from_body(&body).unwrap_or(reason)
}

fn message_from_body(body: &[u8]) -> Option<String> {
    if let Ok(v) = serde_json::from_slice::<Value>(body) {
        if let Some(errors) = v.get("errors").and_then(Value::as_array) {
            let msgs: Vec<&str> = errors
                .iter()
                .filter_map(|e| e.get("message").and_then(Value::as_str))
                .filter(|m| !m.is_empty())
                .collect();
            if !msgs.is_empty() {
                return Some(msgs.join("; "));
            }
        }
        for k in ["details", "error_description", "error", "message"] {
            if let Some(m) = v.get(k).and_then(Value::as_str).filter(|m| !m.is_empty()) {
                return Some(m.to_string());
            }
        }
    }
    let text = String::from_utf8_lossy(body);
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    Some(text.chars().take(200).collect())
}

#[cfg(test)]
#[path = "verify_tests.rs"]
mod server_tests;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn error_messages_come_from_the_body() {
        for (body, want) in [
            (
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required","detail":null}]}"#,
                Some("authentication required"),
            ),
            (
                r#"{"details":"incorrect username or password"}"#,
                Some("incorrect username or password"),
            ),
            (r#"{"errors":[]}"#, Some(r#"{"errors":[]}"#)),
            ("  plain words \n", Some("plain words")),
            ("", None),
        ] {
            assert_eq!(
                message_from_body(body.as_bytes()).as_deref(),
                want,
                "{body}"
            );
        }
    }

    #[test]
    fn hub_aliases_and_encoding() {
        for (reg, host) in [
            ("docker.io", DOCKER_HUB_API),
            ("index.docker.io", DOCKER_HUB_API),
            ("https://index.docker.io/v1/", DOCKER_HUB_API),
            ("127.0.0.1:5000", "127.0.0.1:5000"),
            ("ghcr.io", "ghcr.io"),
        ] {
            assert_eq!(api_host(reg), host, "{reg}");
        }
        assert_eq!(percent_encode("a b/c@d~_.-"), "a%20b%2Fc%40d~_.-");
    }
}
