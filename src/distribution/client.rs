//! `RegistryClient`: one registry's HTTP transport. Requests are prepared as data
//! ([`Request`]), sent with the cached `Authorization` for their scopes, and on a 401 sent once
//! more after the challenge's auth flow. Failures become [`RegistryError`]s in the user's terms.

use std::fs::File;
use std::io::{ErrorKind, Read, Seek, SeekFrom};
use std::net::IpAddr;
use std::path::{Path, PathBuf};
use std::time::Duration;

use ureq::http::{self, Response};
use ureq::tls::{Certificate, PemItem, RootCerts, TlsConfig};
use ureq::{Agent, Body, SendBody};

use super::auth::{
    fetch_token, first_line, parse_challenge, BasicCredential, Challenge, TokenCache,
};
use super::error::RegistryError;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
const STALL_TIMEOUT: Duration = Duration::from_secs(120);
const USER_AGENT: &str = concat!("strata/", env!("CARGO_PKG_VERSION"));
/// The system CA bundle on Debian-like systems, loaded next to extra CAs (ureq cannot add to
/// the platform verifier's roots).
const SYSTEM_BUNDLE: &str = "/etc/ssl/certs/ca-certificates.crt";

/// What the client needs from credentials and TLS settings, resolved by the caller.
#[derive(Debug, Clone, Default)]
pub struct ClientConfig {
    pub credential: Option<BasicCredential>,
    /// PEM files to trust in addition to the system roots.
    pub extra_ca_files: Vec<PathBuf>,
    /// Plain HTTP instead of HTTPS.
    pub plain_http: bool,
}

/// Whether Docker talks plain HTTP to `host` (`HOST[:PORT]`) without being told: loopback only.
pub fn default_plain_http(host: &str) -> bool {
    let name = match host.strip_prefix('[') {
        Some(rest) => rest.split(']').next().unwrap_or(rest),
        None if host.matches(':').count() > 1 => host,
        None => host.split(':').next().unwrap_or(host),
    };
    name.eq_ignore_ascii_case("localhost")
        || name.parse::<IpAddr>().is_ok_and(|ip| ip.is_loopback())
}

/// The host serving a registry's API (Docker Hub's name differs from its API host).
pub fn api_host(registry: &str) -> &str {
    match registry {
        "docker.io" | "index.docker.io" | "registry-1.docker.io" | "" => DOCKER_HUB_API,
        r if r.starts_with("https://index.docker.io") => DOCKER_HUB_API,
        other => other,
    }
}

/// Docker Hub's API host.
pub const DOCKER_HUB_API: &str = "registry-1.docker.io";

/// A request body that can be sent again after a 401.
#[derive(Debug, Clone, Copy)]
pub enum ReqBody<'a> {
    Empty,
    Bytes(&'a [u8]),
    /// `len` bytes of a file from `offset`.
    File {
        path: &'a Path,
        offset: u64,
        len: u64,
    },
}

/// A fully prepared request.
#[derive(Debug, Clone)]
pub struct Request<'a> {
    pub method: &'static str,
    pub url: String,
    pub headers: Vec<(&'static str, String)>,
    pub body: ReqBody<'a>,
    /// Token scopes (`repository:NAME:pull,push`).
    pub scopes: Vec<String>,
    /// What the request does, for errors: `manifest alpine:3`, `blob sha256:…`.
    pub what: String,
}

impl<'a> Request<'a> {
    pub fn new(method: &'static str, url: String, scopes: Vec<String>, what: String) -> Self {
        Request {
            method,
            url,
            headers: Vec::new(),
            body: ReqBody::Empty,
            scopes,
            what,
        }
    }
    pub fn header(mut self, name: &'static str, value: impl Into<String>) -> Self {
        self.headers.push((name, value.into()));
        self
    }
    pub fn body(mut self, body: ReqBody<'a>) -> Self {
        self.body = body;
        self
    }
}

/// The registry's JSON error, when the body has one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiError {
    pub code: String,
    pub message: String,
}

/// The first `{"errors":[{"code","message"}]}` entry of an error body.
pub fn parse_api_error(body: &[u8]) -> Option<ApiError> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    let e = v.get("errors")?.as_array()?.first()?;
    Some(ApiError {
        code: e.get("code")?.as_str()?.to_string(),
        message: e
            .get("message")
            .and_then(|m| m.as_str())
            .unwrap_or("")
            .to_string(),
    })
}

/// Talks to one registry.
#[derive(Debug)]
pub struct RegistryClient {
    registry: String,
    base: String,
    agent: Agent,
    credential: Option<BasicCredential>,
    tokens: TokenCache,
}

impl RegistryClient {
    /// A client for `registry_host` (`HOST[:PORT]` as references name it).
    pub fn new(registry_host: &str, cfg: ClientConfig) -> Result<Self, RegistryError> {
        let scheme = if cfg.plain_http { "http" } else { "https" };
        let roots = if cfg.extra_ca_files.is_empty() {
            RootCerts::PlatformVerifier
        } else {
            let mut certs = Vec::new();
            let system = Path::new(SYSTEM_BUNDLE);
            let files = system
                .is_file()
                .then(|| system.to_path_buf())
                .into_iter()
                .chain(cfg.extra_ca_files.iter().cloned());
            for path in files {
                let pem = std::fs::read(&path).map_err(|source| RegistryError::CaFile {
                    path: path.clone(),
                    source,
                })?;
                for item in ureq::tls::parse_pem(&pem).flatten() {
                    if let PemItem::Certificate(c) = item {
                        certs.push(c);
                    }
                }
            }
            RootCerts::new_with_certs(&certs.into_iter().collect::<Vec<Certificate<'static>>>())
        };
        let proxy = if default_plain_http(registry_host) {
            None
        } else {
            ureq::Proxy::try_from_env()
        };
        let agent = Agent::config_builder()
            .http_status_as_error(false)
            .user_agent(USER_AGENT)
            .proxy(proxy)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_recv_response(Some(STALL_TIMEOUT))
            .timeout_per_read(Some(STALL_TIMEOUT))
            .tls_config(TlsConfig::builder().root_certs(roots).build())
            .build()
            .new_agent();
        Ok(RegistryClient {
            registry: registry_host.to_string(),
            base: format!("{scheme}://{}", api_host(registry_host)),
            agent,
            credential: cfg.credential,
            tokens: TokenCache::default(),
        })
    }

    /// The registry as references name it.
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// The URL of an API path (`/v2/…`).
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// A `Location` header as an absolute URL.
    pub fn absolute(&self, location: &str) -> String {
        if location.starts_with("http://") || location.starts_with("https://") {
            location.to_string()
        } else if location.starts_with('/') {
            self.url(location)
        } else {
            format!("{}/{location}", self.base)
        }
    }

    /// Sends `req`, running the auth flow once on a 401. Any other status is the caller's.
    pub fn send(&self, req: &Request) -> Result<Response<Body>, RegistryError> {
        let cached = self.tokens.get(&self.registry, &req.scopes);
        let resp = self.send_once(req, cached.as_ref().map(|s| s.expose()))?;
        if resp.status() != 401 {
            return Ok(resp);
        }
        let challenge = resp
            .headers()
            .get_all("www-authenticate")
            .iter()
            .filter_map(|v| v.to_str().ok())
            .find_map(parse_challenge);
        let auth = match challenge {
            Some(Challenge::Bearer { realm, service, .. }) => fetch_token(
                &self.agent,
                &realm,
                service.as_deref(),
                &req.scopes,
                self.credential.as_ref(),
            )
            .map_err(|message| RegistryError::Unauthorized {
                registry: self.registry.clone(),
                message,
            })?,
            Some(Challenge::Basic { .. }) if self.credential.is_some() => self
                .credential
                .as_ref()
                .map(BasicCredential::basic_header)
                .expect("checked"),
            _ => return Err(self.status_error(resp, &req.what)),
        };
        self.tokens.put(&self.registry, &req.scopes, auth.clone());
        let resp = self.send_once(req, Some(auth.expose()))?;
        if resp.status() == 401 {
            return Err(self.status_error(resp, &req.what));
        }
        Ok(resp)
    }

    fn send_once(
        &self,
        req: &Request,
        auth: Option<&str>,
    ) -> Result<Response<Body>, RegistryError> {
        let mut b = http::Request::builder().method(req.method).uri(&req.url);
        for (k, v) in &req.headers {
            b = b.header(*k, v);
        }
        if let Some(a) = auth {
            b = b.header("Authorization", a);
        }
        let sends_body = matches!(req.method, "PUT" | "POST" | "PATCH");
        let result = match req.body {
            ReqBody::Empty => {
                if sends_body {
                    b = b.header("Content-Length", "0");
                }
                self.agent.run(self.built(b, SendBody::none(), req)?)
            }
            ReqBody::Bytes(data) => self.agent.run(self.built(b, data, req)?),
            ReqBody::File { path, offset, len } => {
                let mut f = File::open(path).map_err(|e| self.transfer(req, e.to_string()))?;
                f.seek(SeekFrom::Start(offset))
                    .map_err(|e| self.transfer(req, e.to_string()))?;
                let mut reader = f.take(len);
                b = b.header("Content-Length", len.to_string());
                self.agent
                    .run(self.built(b, SendBody::from_reader(&mut reader), req)?)
            }
        };
        result.map_err(|e| self.transport_error(req, e))
    }

    fn built<B>(
        &self,
        b: http::request::Builder,
        body: B,
        req: &Request,
    ) -> Result<http::Request<B>, RegistryError> {
        b.body(body).map_err(|e| RegistryError::BadResponse {
            registry: self.registry.clone(),
            what: format!("request for {}", req.what),
            message: e.to_string(),
        })
    }

    fn transfer(&self, req: &Request, message: String) -> RegistryError {
        RegistryError::Transfer {
            registry: self.registry.clone(),
            what: req.what.clone(),
            message,
        }
    }

    fn transport_error(&self, req: &Request, e: ureq::Error) -> RegistryError {
        let unreachable = |message: &str| RegistryError::Unreachable {
            registry: self.registry.clone(),
            message: message.to_string(),
        };
        let tls = |message: String| RegistryError::Tls {
            registry: self.registry.clone(),
            message,
        };
        match &e {
            ureq::Error::HostNotFound => unreachable("host not found"),
            ureq::Error::Tls(m) => tls(m.to_string()),
            ureq::Error::Rustls(r) => tls(r.to_string()),
            // rustls reports handshake failures through the socket as invalid data.
            ureq::Error::Io(io) if io.kind() == ErrorKind::InvalidData => tls(io.to_string()),
            ureq::Error::Io(io) => match io.kind() {
                ErrorKind::ConnectionRefused => unreachable("connection refused"),
                ErrorKind::HostUnreachable | ErrorKind::NetworkUnreachable => {
                    unreachable("network unreachable")
                }
                ErrorKind::ConnectionReset | ErrorKind::BrokenPipe => {
                    self.transfer(req, "connection reset by peer".into())
                }
                ErrorKind::UnexpectedEof => self.transfer(
                    req,
                    "connection closed before the response was complete".into(),
                ),
                _ => self.transfer(req, io.to_string()),
            },
            ureq::Error::Timeout(t) => self.transfer(req, format!("timed out ({t})")),
            _ => self.transfer(req, e.to_string()),
        }
    }

    /// A read error in the middle of a response body.
    pub fn body_error(&self, what: &str, e: std::io::Error) -> RegistryError {
        RegistryError::Transfer {
            registry: self.registry.clone(),
            what: what.to_string(),
            message: e.to_string(),
        }
    }

    /// The error for a response whose status the caller did not expect, from the registry's
    /// JSON error code when it gave one.
    pub fn status_error(&self, resp: Response<Body>, what: &str) -> RegistryError {
        let status = resp.status().as_u16();
        let mut body = Vec::new();
        let _ = resp
            .into_body()
            .into_reader()
            .take(64 * 1024)
            .read_to_end(&mut body);
        let api = parse_api_error(&body);
        let registry = self.registry.clone();
        let message = api
            .as_ref()
            .map(|a| a.message.clone())
            .filter(|m| !m.is_empty())
            .unwrap_or_else(|| first_line(&body));
        match (api.as_ref().map(|a| a.code.as_str()), status) {
            (Some("UNAUTHORIZED"), _) | (_, 401) => {
                RegistryError::Unauthorized { registry, message }
            }
            (Some("DENIED"), _) | (_, 403) => RegistryError::Denied { registry, message },
            (Some("NAME_UNKNOWN"), _) => RegistryError::NameUnknown {
                registry,
                what: what.to_string(),
                message,
            },
            (Some("MANIFEST_UNKNOWN"), _) => RegistryError::ManifestUnknown {
                registry,
                what: what.to_string(),
                message,
            },
            (Some("BLOB_UNKNOWN"), _) | (_, 404) => RegistryError::NotFound {
                registry,
                what: what.to_string(),
            },
            _ => RegistryError::UnexpectedStatus {
                registry,
                what: what.to_string(),
                status,
                body: message,
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn plain_http_only_for_loopback() {
        for (host, want) in [
            ("localhost", true),
            ("localhost:5000", true),
            ("127.0.0.1:5000", true),
            ("127.8.9.10", true),
            ("[::1]:5000", true),
            ("::1", true),
            ("docker.io", false),
            ("10.0.0.1:5000", false),
            ("localhost.example.com", false),
            ("myregistry:5000", false),
        ] {
            assert_eq!(default_plain_http(host), want, "{host}");
        }
    }

    #[test]
    fn api_errors_and_urls() {
        let body = br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown","detail":{"Tag":"x"}}]}"#;
        assert_eq!(
            parse_api_error(body),
            Some(ApiError {
                code: "MANIFEST_UNKNOWN".into(),
                message: "manifest unknown".into()
            })
        );
        assert_eq!(parse_api_error(b"<html>"), None);
        assert_eq!(parse_api_error(br#"{"errors":[]}"#), None);

        let c = RegistryClient::new(
            "127.0.0.1:5000",
            ClientConfig {
                plain_http: true,
                ..Default::default()
            },
        )
        .unwrap();
        assert_eq!(c.url("/v2/"), "http://127.0.0.1:5000/v2/");
        assert_eq!(
            c.absolute("/v2/a/blobs/uploads/u?x=1"),
            "http://127.0.0.1:5000/v2/a/blobs/uploads/u?x=1"
        );
        assert_eq!(c.absolute("https://other/x"), "https://other/x");
        let hub = RegistryClient::new("docker.io", ClientConfig::default()).unwrap();
        assert_eq!(hub.url("/v2/"), "https://registry-1.docker.io/v2/");
    }
}
