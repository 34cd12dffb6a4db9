//! The HTTP(S) client behind `ADD <url>`: [`HttpFetcher`] implements [`Fetch`] with a blocking
//! `ureq` agent (rustls, the system's root certificates), turning every failure into a
//! [`CopyError::Fetch`] that names the status or the connection problem.

use std::io::{ErrorKind, Read as _};
use std::time::Duration;

use ureq::http::{header::LAST_MODIFIED, Uri};
use ureq::tls::{RootCerts, TlsConfig};
use ureq::Agent;

use super::fetch::{Fetch, Fetched};
use crate::plan::copy::CopyError;

const CONNECT_TIMEOUT: Duration = Duration::from_secs(30);
/// How long a server may stay silent (before its headers, or mid-body) before we give up.
const STALL_TIMEOUT: Duration = Duration::from_secs(120);
/// A whole download, redirects included; generous because ADD fetches toolchains and images.
const TOTAL_TIMEOUT: Duration = Duration::from_secs(60 * 60);
const MAX_REDIRECTS: u32 = 10;
const USER_AGENT: &str = concat!("strata/", env!("CARGO_PKG_VERSION"));

/// Downloads ADD's URLs. Proxies come from `ALL_PROXY`/`HTTPS_PROXY`/`HTTP_PROXY` (first one
/// set, for every scheme) minus `NO_PROXY`, as ureq reads them; loopback hosts always go direct,
/// as Go's `ProxyFromEnvironment` (and so BuildKit) does.
#[derive(Debug, Clone)]
pub struct HttpFetcher {
    /// Honours the proxy environment.
    agent: Agent,
    /// Never proxied, for loopback hosts.
    direct: Agent,
}

impl HttpFetcher {
    pub fn new() -> HttpFetcher {
        let agent = Self::config(ureq::Proxy::try_from_env());
        let direct = Self::config(None);
        HttpFetcher { agent, direct }
    }

    fn config(proxy: Option<ureq::Proxy>) -> Agent {
        Agent::config_builder()
            // Error statuses come back as responses so the message can carry the reason.
            .http_status_as_error(false)
            .max_redirects(MAX_REDIRECTS)
            .user_agent(USER_AGENT)
            .proxy(proxy)
            .timeout_connect(Some(CONNECT_TIMEOUT))
            .timeout_recv_response(Some(STALL_TIMEOUT))
            .timeout_per_read(Some(STALL_TIMEOUT))
            .timeout_global(Some(TOTAL_TIMEOUT))
            .tls_config(
                TlsConfig::builder()
                    // The distribution's CA bundle (SSL_CERT_FILE/SSL_CERT_DIR respected), not
                    // a list compiled into the binary.
                    .root_certs(RootCerts::PlatformVerifier)
                    .build(),
            )
            .build()
            .new_agent()
    }
}

impl Default for HttpFetcher {
    fn default() -> Self {
        Self::new()
    }
}

impl Fetch for HttpFetcher {
    fn fetch(&self, url: &str) -> Result<Fetched, CopyError> {
        let fail = |message: String| CopyError::Fetch {
            url: url.to_string(),
            message,
        };
        let agent = if is_loopback_url(url) {
            &self.direct
        } else {
            &self.agent
        };
        let response = agent.get(url).call().map_err(|e| fail(describe(e)))?;
        let status = response.status();
        if !status.is_success() {
            return Err(fail(
                format!(
                    "bad response status {} {}",
                    status.as_u16(),
                    status.canonical_reason().unwrap_or("")
                )
                .trim_end()
                .to_string(),
            ));
        }
        let last_modified = response
            .headers()
            .get(LAST_MODIFIED)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string);
        // `read_to_end` on the reader, not `Body::read_to_vec`, which stops at 10 MiB.
        let mut body = Vec::new();
        response
            .into_body()
            .into_reader()
            .read_to_end(&mut body)
            .map_err(|e| fail(format!("reading the body: {}", describe(e.into()))))?;
        Ok(Fetched {
            body,
            last_modified,
        })
    }
}

/// Whether `url` names `localhost` or a loopback address, which a proxy must not see.
fn is_loopback_url(url: &str) -> bool {
    let Ok(uri) = url.parse::<Uri>() else {
        return false;
    };
    let Some(host) = uri.host() else {
        return false;
    };
    let host = host.trim_start_matches('[').trim_end_matches(']');
    host.eq_ignore_ascii_case("localhost")
        || host
            .parse::<std::net::IpAddr>()
            .is_ok_and(|ip| ip.is_loopback())
}

/// A short lowercase cause, in the words curl and Go would use.
fn describe(err: ureq::Error) -> String {
    match err {
        ureq::Error::HostNotFound => "DNS lookup failed: host not found".to_string(),
        ureq::Error::Io(e) => match e.kind() {
            ErrorKind::ConnectionRefused => "connection refused".to_string(),
            ErrorKind::ConnectionReset => "connection reset by peer".to_string(),
            ErrorKind::UnexpectedEof => "connection closed before the response was complete".into(),
            ErrorKind::TimedOut => "timed out".to_string(),
            _ => e.to_string(),
        },
        ureq::Error::Timeout(t) => format!("timed out ({t})"),
        ureq::Error::TooManyRedirects => format!("stopped after {MAX_REDIRECTS} redirects"),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loopback_urls() {
        for (url, want) in [
            ("http://127.0.0.1:8080/x", true),
            ("http://127.1.2.3/x", true),
            ("http://localhost/x", true),
            ("https://LOCALHOST:443/x", true),
            ("http://[::1]:80/x", true),
            ("https://example.com/x", false),
            ("http://10.0.0.1/x", false),
            ("http://localhost.example.com/x", false),
            ("not a url", false),
        ] {
            assert_eq!(is_loopback_url(url), want, "{url}");
        }
    }

    #[test]
    fn causes() {
        let io = |k: ErrorKind| ureq::Error::Io(std::io::Error::from(k));
        assert_eq!(
            describe(io(ErrorKind::ConnectionRefused)),
            "connection refused"
        );
        assert_eq!(
            describe(io(ErrorKind::ConnectionReset)),
            "connection reset by peer"
        );
        assert_eq!(
            describe(ureq::Error::HostNotFound),
            "DNS lookup failed: host not found"
        );
        assert_eq!(
            describe(ureq::Error::TooManyRedirects),
            "stopped after 10 redirects"
        );
    }
}
