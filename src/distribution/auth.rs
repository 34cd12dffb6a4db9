//! Registry auth: `WWW-Authenticate` challenges (pure), the bearer-token flow, and a cache of the
//! `Authorization` header per (registry, repository scopes). Secrets never reach `Debug`,
//! errors or logs: they live in [`Secret`], whose `Debug` is redacted.

use std::collections::HashMap;
use std::fmt;
use std::io::Read;
use std::sync::Mutex;

/// A username and password (or identity token) for one registry.
// TODO(lead): unify with `credentials::Credential`.
#[derive(Clone, PartialEq, Eq)]
pub struct BasicCredential {
    pub username: String,
    pub secret: String,
}

impl fmt::Debug for BasicCredential {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("BasicCredential")
            .field("username", &self.username)
            .field("secret", &"<redacted>")
            .finish()
    }
}

impl BasicCredential {
    /// The `Authorization` value for HTTP basic auth.
    pub fn basic_header(&self) -> Secret {
        Secret(format!(
            "Basic {}",
            super::base64::encode(format!("{}:{}", self.username, self.secret).as_bytes())
        ))
    }
}

/// A header value or token that must not be shown.
#[derive(Clone, PartialEq, Eq)]
pub struct Secret(String);

impl Secret {
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for Secret {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("Secret(<redacted>)")
    }
}

/// What a registry's 401 asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Challenge {
    Bearer {
        realm: String,
        service: Option<String>,
        scope: Option<String>,
    },
    Basic {
        realm: Option<String>,
    },
}

/// Parses one `WWW-Authenticate` value (`Bearer realm="…",service="…",scope="…"` or
/// `Basic realm="…"`). Unknown schemes and a Bearer without realm give `None`.
pub fn parse_challenge(header: &str) -> Option<Challenge> {
    let header = header.trim();
    let (scheme, rest) = match header.find(char::is_whitespace) {
        Some(i) => (&header[..i], &header[i..]),
        None => (header, ""),
    };
    let params = parse_params(rest)?;
    let get = |k: &str| {
        params
            .iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.clone())
    };
    if scheme.eq_ignore_ascii_case("bearer") {
        Some(Challenge::Bearer {
            realm: get("realm")?,
            service: get("service"),
            scope: get("scope"),
        })
    } else if scheme.eq_ignore_ascii_case("basic") {
        Some(Challenge::Basic {
            realm: get("realm"),
        })
    } else {
        None
    }
}

/// `key=value, key="quoted, \"value\""` → pairs; `None` when a quote is never closed.
fn parse_params(s: &str) -> Option<Vec<(String, String)>> {
    let mut out = Vec::new();
    let mut chars = s.chars().peekable();
    loop {
        while chars.peek().is_some_and(|c| c.is_whitespace() || *c == ',') {
            chars.next();
        }
        let mut key = String::new();
        while let Some(&c) = chars.peek() {
            if c == '=' || c == ',' {
                break;
            }
            key.push(c);
            chars.next();
        }
        if key.is_empty() && chars.peek().is_none() {
            return Some(out);
        }
        let mut value = String::new();
        if chars.peek() == Some(&'=') {
            chars.next();
            if chars.peek() == Some(&'"') {
                chars.next();
                let mut closed = false;
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => value.extend(chars.next()),
                        '"' => {
                            closed = true;
                            break;
                        }
                        c => value.push(c),
                    }
                }
                if !closed {
                    return None;
                }
            } else {
                while let Some(&c) = chars.peek() {
                    if c == ',' {
                        break;
                    }
                    value.push(c);
                    chars.next();
                }
            }
        }
        out.push((key.trim().to_string(), value.trim().to_string()));
        if chars.peek().is_none() {
            return Some(out);
        }
    }
}

/// The token URL: realm with `service` and one `scope` parameter per scope.
pub fn token_url(realm: &str, service: Option<&str>, scopes: &[String]) -> String {
    let mut url = realm.to_string();
    let mut sep = if realm.contains('?') { '&' } else { '?' };
    if let Some(s) = service {
        url.push(sep);
        url.push_str("service=");
        url.push_str(&percent_encode(s));
        sep = '&';
    }
    for s in scopes {
        url.push(sep);
        url.push_str("scope=");
        url.push_str(&percent_encode(s));
        sep = '&';
    }
    url
}

/// The token from a token server's JSON answer (`token`, or OAuth's `access_token`).
pub fn parse_token_response(body: &[u8]) -> Option<Secret> {
    let v: serde_json::Value = serde_json::from_slice(body).ok()?;
    ["token", "access_token"]
        .iter()
        .filter_map(|k| v.get(k).and_then(|t| t.as_str()))
        .find(|t| !t.is_empty())
        .map(|t| Secret(format!("Bearer {t}")))
}

/// Runs the token flow for a Bearer challenge; an error is a message without secrets.
pub fn fetch_token(
    agent: &ureq::Agent,
    realm: &str,
    service: Option<&str>,
    scopes: &[String],
    credential: Option<&BasicCredential>,
) -> Result<Secret, String> {
    let url = token_url(realm, service, scopes);
    let mut req = agent.get(&url);
    if let Some(c) = credential {
        req = req.header("Authorization", c.basic_header().expose());
    }
    let resp = req
        .call()
        .map_err(|e| format!("token server {realm}: {e}"))?;
    let status = resp.status().as_u16();
    let mut body = Vec::new();
    resp.into_body()
        .into_reader()
        .take(1 << 20)
        .read_to_end(&mut body)
        .map_err(|e| format!("token server {realm}: {e}"))?;
    if status != 200 {
        return Err(format!(
            "token server {realm} answered {status}: {}",
            first_line(&body)
        ));
    }
    parse_token_response(&body).ok_or_else(|| format!("token server {realm}: no token in answer"))
}

/// The first line of a (text) body, cut short, for error messages.
pub fn first_line(body: &[u8]) -> String {
    let s = String::from_utf8_lossy(body);
    let line = s.lines().next().unwrap_or("").trim();
    line.chars().take(200).collect()
}

/// `Authorization` values per (registry, scopes), shared by the threads of one push or pull.
#[derive(Default)]
pub struct TokenCache {
    map: Mutex<HashMap<(String, Vec<String>), Secret>>,
}

impl fmt::Debug for TokenCache {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("TokenCache(<redacted>)")
    }
}

impl TokenCache {
    pub fn get(&self, registry: &str, scopes: &[String]) -> Option<Secret> {
        let map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.get(&(registry.to_string(), scopes.to_vec())).cloned()
    }
    pub fn put(&self, registry: &str, scopes: &[String], value: Secret) {
        let mut map = self.map.lock().unwrap_or_else(|e| e.into_inner());
        map.insert((registry.to_string(), scopes.to_vec()), value);
    }
}

/// `repository:NAME:ACTIONS`.
pub fn repo_scope(repository: &str, actions: &str) -> String {
    format!("repository:{repository}:{actions}")
}

/// Percent-encodes everything but RFC 3986 unreserved characters.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'.' | b'_' | b'~') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bearer(realm: &str, service: Option<&str>, scope: Option<&str>) -> Option<Challenge> {
        Some(Challenge::Bearer {
            realm: realm.into(),
            service: service.map(Into::into),
            scope: scope.map(Into::into),
        })
    }

    #[test]
    fn challenges() {
        for (header, want) in [
            (
                r#"Bearer realm="https://auth.docker.io/token",service="registry.docker.io",scope="repository:library/busybox:pull""#,
                bearer(
                    "https://auth.docker.io/token",
                    Some("registry.docker.io"),
                    Some("repository:library/busybox:pull"),
                ),
            ),
            (
                r#"bearer Realm="https://r/t", service="s""#,
                bearer("https://r/t", Some("s"), None),
            ),
            (
                r#"Bearer realm="https://r/t",scope="repository:a:pull,push""#,
                bearer("https://r/t", None, Some("repository:a:pull,push")),
            ),
            (
                r#"Bearer realm=https://r/t,service=s"#,
                bearer("https://r/t", Some("s"), None),
            ),
            (
                r#"Bearer realm="a \"quoted\" realm""#,
                bearer("a \"quoted\" realm", None, None),
            ),
            (
                r#"Basic realm="Registry Realm""#,
                Some(Challenge::Basic {
                    realm: Some("Registry Realm".into()),
                }),
            ),
            ("Basic", Some(Challenge::Basic { realm: None })),
            (r#"Bearer service="s""#, None),
            (r#"Bearer realm="unterminated"#, None),
            (r#"Negotiate abc"#, None),
            ("", None),
        ] {
            assert_eq!(parse_challenge(header), want, "{header}");
        }
    }

    #[test]
    fn token_urls_and_answers() {
        let scopes = vec![
            "repository:a/b:pull,push".to_string(),
            "repository:c:pull".to_string(),
        ];
        assert_eq!(
            token_url("https://auth/token", Some("reg io"), &scopes),
            "https://auth/token?service=reg%20io&scope=repository%3Aa%2Fb%3Apull%2Cpush&scope=repository%3Ac%3Apull"
        );
        assert_eq!(token_url("https://a/t?x=1", None, &[]), "https://a/t?x=1");
        assert_eq!(
            token_url("https://a/t?x=1", Some("s"), &[]),
            "https://a/t?x=1&service=s"
        );
        for (body, want) in [
            (r#"{"token":"abc"}"#, Some("Bearer abc")),
            (
                r#"{"access_token":"xyz","expires_in":60}"#,
                Some("Bearer xyz"),
            ),
            (r#"{"token":"","access_token":"xyz"}"#, Some("Bearer xyz")),
            (r#"{"nothing":1}"#, None),
            ("not json", None),
        ] {
            assert_eq!(
                parse_token_response(body.as_bytes())
                    .as_ref()
                    .map(Secret::expose),
                want,
                "{body}"
            );
        }
    }

    #[test]
    fn secrets_stay_hidden() {
        let c = BasicCredential {
            username: "user".into(),
            secret: "hunter2".into(),
        };
        assert_eq!(c.basic_header().expose(), "Basic dXNlcjpodW50ZXIy");
        assert!(!format!("{c:?}").contains("hunter2"));
        assert!(!format!("{:?}", c.basic_header()).contains("dXNlcjpodW50ZXIy"));
        let cache = TokenCache::default();
        cache.put("r", &["s".into()], c.basic_header());
        assert!(!format!("{cache:?}").contains("dXNl"));
        assert_eq!(cache.get("r", &["s".into()]), Some(c.basic_header()));
        assert_eq!(cache.get("r", &["t".into()]), None);
    }

    #[test]
    fn base64_matches_rfc4648() {
        for (i, o) in [
            ("", ""),
            ("f", "Zg=="),
            ("fo", "Zm8="),
            ("foo", "Zm9v"),
            ("foob", "Zm9vYg=="),
            ("fooba", "Zm9vYmE="),
            ("foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(super::super::base64::encode(i.as_bytes()), o);
        }
    }
}
