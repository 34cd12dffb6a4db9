//! The `X-Registry-Auth` header: base64url of Docker's `AuthConfig` JSON, carrying a
//! username and password or an identity token for the registry an operation talks to; and
//! `X-Registry-Config` (a build's): the same, as a map from registry to `AuthConfig`.

use std::collections::HashMap;

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
    let bad = || ApiError::bad_request("invalid X-Registry-Auth header");
    let Some(json) = decode(text).ok_or_else(bad)? else {
        return Ok(None);
    };
    let cfg: AuthConfig = serde_json::from_slice(&json).map_err(|_| bad())?;
    Ok(credential_of(cfg))
}

/// The JSON a header carries; `Some(None)` for an empty header, `None` for bad base64.
fn decode(text: &str) -> Option<Option<Vec<u8>>> {
    let text = text.trim();
    if text.is_empty() {
        return Some(None);
    }
    let std_alphabet: String = text
        .chars()
        .map(|c| match c {
            '-' => '+',
            '_' => '/',
            c => c,
        })
        .collect();
    base64::decode(&std_alphabet).map(Some)
}

/// `X-Registry-Config`: the credentials a build may use, by registry host as references
/// name it (`docker.io` for Docker Hub's `https://index.docker.io/v1/`).
pub fn config(headers: &HeaderMap) -> Result<HashMap<String, BasicCredential>, ApiError> {
    let Some(v) = headers.get("x-registry-config") else {
        return Ok(HashMap::new());
    };
    let bad = || ApiError::bad_request("invalid X-Registry-Config header");
    let text = v.to_str().map_err(|_| bad())?;
    parse_config(text).ok_or_else(bad)
}

fn parse_config(text: &str) -> Option<HashMap<String, BasicCredential>> {
    let Some(json) = decode(text)? else {
        return Some(HashMap::new());
    };
    let map: HashMap<String, AuthConfig> = serde_json::from_slice(&json).ok()?;
    Some(
        map.into_iter()
            .filter_map(|(k, cfg)| Some((registry_host(&k), credential_of(cfg)?)))
            .collect(),
    )
}

/// A config key (`https://index.docker.io/v1/`, `localhost:5000`, `http://r:5000/v2/`) as
/// the host a reference names.
fn registry_host(key: &str) -> String {
    let rest = key
        .strip_prefix("https://")
        .or_else(|| key.strip_prefix("http://"))
        .unwrap_or(key);
    let host = rest.split('/').next().unwrap_or(rest);
    match host {
        "index.docker.io" | "registry-1.docker.io" => "docker.io".to_string(),
        h => h.to_string(),
    }
}

fn credential_of(cfg: AuthConfig) -> Option<BasicCredential> {
    if let Some(token) = cfg.identitytoken.filter(|t| !t.is_empty()) {
        return Some(BasicCredential {
            username: "<token>".into(),
            secret: token,
        });
    }
    let username = cfg.username.unwrap_or_default();
    let password = cfg.password.unwrap_or_default();
    if username.is_empty() && password.is_empty() {
        return None;
    }
    Some(BasicCredential {
        username,
        secret: password,
    })
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

    #[test]
    fn configs() {
        let enc = |s: &str| base64::encode(s.as_bytes());
        let got = parse_config(&enc(
            r#"{"https://index.docker.io/v1/":{"username":"a","password":"b"},
                "localhost:5000":{"username":"c","password":"d"},
                "http://r:5001/v2/":{"identitytoken":"t"},
                "empty":{}}"#,
        ))
        .unwrap();
        let mut pairs: Vec<(&str, &str, &str)> = got
            .iter()
            .map(|(k, c)| (k.as_str(), c.username.as_str(), c.secret.as_str()))
            .collect();
        pairs.sort();
        assert_eq!(
            pairs,
            [
                ("docker.io", "a", "b"),
                ("localhost:5000", "c", "d"),
                ("r:5001", "<token>", "t")
            ]
        );
        assert!(parse_config("").unwrap().is_empty());
        assert!(parse_config(&enc("[]")).is_none());
    }
}
