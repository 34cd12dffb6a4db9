//! `POST /images/create?fromImage=&tag=&platform=`: a pull (or, with `fromSrc`, an import), streamed as Docker's progress
//! messages. A missing repository or tag is found before the first message, so it is a 404.

use std::sync::Arc;

use axum::body::Body;
use axum::extract::{self, Query};
use axum::http::HeaderMap;
use axum::response::Response;
use serde_json::json;

use super::error::ApiError;
use super::query::Params;
use super::{import, registry_auth, stream, State};
use crate::engine;
use crate::engine::pull::{PullEvent, PullRequest};
use crate::plan::platform::Platform;
use crate::reference::Reference;

/// `fromImage` with `tag` (a tag or a digest) as one reference.
pub fn reference(from: &str, tag: Option<&str>) -> Result<Reference, ApiError> {
    let joined = match tag.filter(|t| !t.is_empty()) {
        Some(t) if t.contains(':') => format!("{from}@{t}"),
        Some(t) => format!("{from}:{t}"),
        None => from.to_string(),
    };
    Reference::parse(&joined)
        .map_err(|e| ApiError::bad_request(format!("invalid reference format: {e}")))
}

/// `fromImage` pulls; `fromSrc` imports (see `import`).
pub async fn create(
    extract::State(s): extract::State<Arc<State>>,
    Query(pairs): Query<Vec<(String, String)>>,
    headers: HeaderMap,
    body: Body,
) -> Result<Response, ApiError> {
    let changes: Vec<String> = pairs
        .iter()
        .filter(|(k, v)| k == "changes" && !v.trim().is_empty())
        .map(|(_, v)| v.clone())
        .collect();
    let p: Params = pairs.into_iter().collect();
    if p.get("fromSrc").is_some_and(|v| !v.is_empty()) {
        return import::import_body(s.root.clone(), p, changes, body).await;
    }
    let Some(from) = p.get("fromImage").filter(|v| !v.is_empty()) else {
        return Err(ApiError::bad_request("fromImage or fromSrc is required"));
    };
    let reference = reference(from, p.get("tag").map(String::as_str))?;
    let platform = match p.get("platform").filter(|v| !v.is_empty()) {
        Some(v) => Some(Platform::parse(v).map_err(|e| ApiError::bad_request(e.to_string()))?),
        None => None,
    };
    let req = PullRequest {
        reference: reference.clone(),
        platform,
        all_platforms: false,
        insecure: Vec::new(),
        credential: registry_auth::credential(&headers)?,
    };
    let root = s.root.clone();
    stream::run(move |out| {
        let tag = reference
            .tag()
            .map(str::to_string)
            .or_else(|| reference.digest().map(|d| d.to_string()))
            .unwrap_or_default();
        let on = |e: PullEvent| {
            let _ = match e {
                PullEvent::Started => out.send(json!({
                    "status": format!("Pulling from {}", reference.path()),
                    "id": tag,
                })),
                PullEvent::Exists(d) => out.status_id("Already exists", &d.short()),
                PullEvent::Waiting(d) => out.status_id("Pulling fs layer", &d.short()),
                PullEvent::Downloading(d) => out.status_id("Downloading", &d.short()),
                PullEvent::Downloaded(d) => {
                    out.status_id("Download complete", &d.short())
                        && out.status_id("Pull complete", &d.short())
                }
                PullEvent::Warning(w) => out.status(format!("Warning: {w}")),
            };
        };
        let pulled = engine::pull::pull(&root, &req, &on)?;
        let name = reference.familiar_string();
        out.status(format!("Digest: {}", pulled.image.manifest_digest));
        out.status(if pulled.changed {
            format!("Status: Downloaded newer image for {name}")
        } else {
            format!("Status: Image is up to date for {name}")
        });
        Ok(())
    })
    .await
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        for (from, tag, want) in [
            ("busybox", None, "busybox:latest"),
            ("busybox", Some("1"), "busybox:1"),
            ("127.0.0.1:5000/x", Some("1"), "127.0.0.1:5000/x:1"),
            ("busybox:2", Some(""), "busybox:2"),
            (
                "busybox",
                Some("sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"),
                "busybox@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
            ),
        ] {
            assert_eq!(reference(from, tag).unwrap().familiar_string(), want);
        }
        assert!(reference("Bad", None).is_err());
    }
}
