//! Registry search (`GET /images/search`, `docker search`): the v1 search endpoint of the
//! registry a term names (`GET /v1/search?q=…&n=…`), Docker Hub's index otherwise, and the
//! filters dockerd applies to what it answers (`is-official`, `is-automated`, `stars`).

use std::io::Read;

use serde::{Deserialize, Serialize};

use super::client::{ReqBody, Request};
use super::error::RegistryError;
use super::RegistryClient;

/// Where a term without a registry is searched (dockerd's `IndexName`).
pub const INDEX_NAME: &str = "docker.io";
/// Where Docker Hub serves its v1 search (not its v2 API host).
const HUB_SEARCH: &str = "https://index.docker.io";
/// Results asked for when the client gives no limit (dockerd's default).
pub const DEFAULT_LIMIT: u32 = 25;
/// A search answer larger than this is refused.
const MAX_ANSWER: u64 = 4 << 20;

/// One repository a registry found, as the v1 API and the Engine API both spell it.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SearchResult {
    #[serde(default)]
    pub star_count: i64,
    #[serde(default)]
    pub is_official: bool,
    #[serde(default)]
    pub name: String,
    #[serde(default)]
    pub is_automated: bool,
    #[serde(default)]
    pub description: String,
}

#[derive(Debug, Deserialize)]
struct SearchResults {
    #[serde(default)]
    results: Vec<SearchResult>,
}

/// The registry a term names and the term sent to it: the part before the first `/` when it
/// looks like a host (has a `.` or `:`, or is `localhost`), else Docker Hub with the whole
/// term (an official image's `library/` dropped, as Hub stores it).
pub fn split_term(term: &str) -> (&str, &str) {
    let (index, remote) = match term.split_once('/') {
        Some((host, rest)) if host.contains('.') || host.contains(':') || host == "localhost" => {
            (host, rest)
        }
        _ => (INDEX_NAME, term),
    };
    if index == INDEX_NAME {
        return (index, remote.strip_prefix("library/").unwrap_or(remote));
    }
    (index, remote)
}

/// The filters `GET /images/search` takes.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SearchFilters {
    pub is_official: Option<bool>,
    pub is_automated: Option<bool>,
    pub min_stars: Option<i64>,
}

impl SearchFilters {
    /// Keeps what every filter accepts, in the registry's order.
    pub fn apply(&self, results: Vec<SearchResult>) -> Vec<SearchResult> {
        results
            .into_iter()
            .filter(|r| self.is_official.is_none_or(|o| r.is_official == o))
            .filter(|r| self.is_automated.is_none_or(|a| r.is_automated == a))
            .filter(|r| self.min_stars.is_none_or(|s| r.star_count >= s))
            .collect()
    }
}

/// Asks `client`'s registry for `remote` (as [`split_term`] gave it), at most `limit` results.
/// Any answer but 200 is an `UnexpectedStatus`, as dockerd reports it.
pub fn search(
    client: &RegistryClient,
    remote: &str,
    limit: u32,
) -> Result<Vec<SearchResult>, RegistryError> {
    let what = format!("search for {remote:?}");
    let path = format!("/v1/search?q={}&n={limit}", url_encode(remote));
    let url = if client.registry() == INDEX_NAME {
        format!("{HUB_SEARCH}{path}")
    } else {
        client.url(&path)
    };
    let req = Request::new("GET", url, Vec::new(), what.clone())
        .header("X-Docker-Token", "true")
        .body(ReqBody::Empty);
    let resp = client.send(&req)?;
    let status = resp.status().as_u16();
    let mut body = Vec::new();
    resp.into_body()
        .into_reader()
        .take(MAX_ANSWER)
        .read_to_end(&mut body)
        .map_err(|e| client.body_error(&what, e))?;
    if status != 200 {
        return Err(RegistryError::UnexpectedStatus {
            registry: client.registry().to_string(),
            what,
            status,
            body: String::from_utf8_lossy(&body).chars().take(200).collect(),
        });
    }
    let parsed: SearchResults =
        serde_json::from_slice(&body).map_err(|e| RegistryError::BadResponse {
            registry: client.registry().to_string(),
            what,
            message: format!("error decoding registry search results: {e}"),
        })?;
    Ok(parsed.results)
}

/// A query value percent-encoded as Go's `url.QueryEscape` does (spaces as `+`).
fn url_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn terms() {
        for (term, want) in [
            ("busybox", ("docker.io", "busybox")),
            ("library/busybox", ("docker.io", "busybox")),
            ("someone/app", ("docker.io", "someone/app")),
            ("127.0.0.1:5000/app", ("127.0.0.1:5000", "app")),
            ("localhost/a/b", ("localhost", "a/b")),
            ("registry.example/x", ("registry.example", "x")),
            ("docker.io/library/busybox", ("docker.io", "busybox")),
        ] {
            assert_eq!(split_term(term), want, "{term}");
        }
    }

    #[test]
    fn filters() {
        let r = |name: &str, stars: i64, official: bool| SearchResult {
            name: name.into(),
            star_count: stars,
            is_official: official,
            ..Default::default()
        };
        let all = vec![r("a", 10, true), r("b", 2, false), r("c", 5, false)];
        let names = |f: SearchFilters| -> Vec<String> {
            f.apply(all.clone()).into_iter().map(|r| r.name).collect()
        };
        assert_eq!(names(SearchFilters::default()), ["a", "b", "c"]);
        let stars = SearchFilters {
            min_stars: Some(5),
            ..Default::default()
        };
        assert_eq!(names(stars), ["a", "c"]);
        let unofficial = SearchFilters {
            is_official: Some(false),
            ..Default::default()
        };
        assert_eq!(names(unofficial), ["b", "c"]);
        let automated = SearchFilters {
            is_automated: Some(true),
            ..Default::default()
        };
        assert!(names(automated).is_empty());
    }

    #[test]
    fn query_values() {
        assert_eq!(url_encode("a b/c:d"), "a+b%2Fc%3Ad");
        assert_eq!(url_encode("busy-box_1.0~"), "busy-box_1.0~");
    }
}
