//! The `X-Registry-Auth` header: base64url of Docker's `AuthConfig` JSON, carrying a
//! username and password or an identity token for the registry an operation talks to.

use axum::http::HeaderMap;
use serde::Deserialize;

use super::error::ApiError;
use crate::distribution::base64;
use crate::distribution::BasicCredential;

/// Docker's `AuthConfig` as the header carries it (bollard's model lacks `identitytoken`).
#[derive(Debug, Default, Deserialize)]
struct AuthConfig {
    username: Option<String>,
    password: Option<String>,
    identitytoken: Option<String>,
}

/// The credential the header carries; `None` without one (or with an empty one, as the docker
/// CLI sends for a registry it has no login for).
pub fn credential(headers: &HeaderMap) -> Result<Option<BasicCredential>, ApiError> {
    let Some(v) = headers.get("x-registry-auth") else {
        return Ok(None);
    };
    let text = v
        .to_str()
        .map_err(|_| ApiError::bad_request("invalid X-Registry-Auth header"))?;
    parse(text)
}

/// Decodes one header value (URL-safe or standard alphabet, padded or not).
pub fn parse(text: &str) -> Result<Option<BasicCredential>, ApiError> {
    let text = text.trim();
    if text.is_empty() {
        return Ok(None);
    }
    let std_alphabet: String = text
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    let bad = || ApiError::bad_request("invalid X-Registry-Auth header");
    let json = base64::decode(&std_alphabet).ok_or_else(bad)?;
    let cfg: AuthConfig = serde_json::from_slice(&json).map_err(|_| bad())?;
    if let Some(token) = cfg.identitytoken.filter(|t| !t.is_empty()) {
        return Ok(Some(BasicCredential {
            username: "<token>".into(),
            secret: token,
        }));
    }
    let username = cfg.username.unwrap_or_default();
    let password = cfg.password.unwrap_or_default();
    if username.is_empty() && password.is_empty() {
        return Ok(None);
    }
    Ok(Some(BasicCredential {
        username,
        secret: password,
    }))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn headers() {
        let enc = |s: &str| {
            base64::encode(s.as_bytes())
                .replace('+', "-")
                .replace('/', "_")
        };
        let cases: Vec<(String, Option<(&str, &str)>)> = vec![
            (String::new(), None),
            (enc("{}"), None),
            (
                enc(r#"{"username":"u","password":"p?>","serveraddress":"r"}"#),
                Some(("u", "p?>")),
            ),
            (enc(r#"{"identitytoken":"tok"}"#), Some(("<token>", "tok"))),
        ];
        for (header, want) in cases {
            let got = parse(&header).unwrap();
            assert_eq!(
                got.as_ref()
                    .map(|c| (c.username.as_str(), c.secret.as_str())),
                want,
                "{header}"
            );
        }
        assert!(parse("!!!").is_err());
    }
}
