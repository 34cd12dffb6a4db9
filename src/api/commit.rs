//! `POST /commit?container=&repo=&tag=&comment=&author=&pause=&changes=`: a container's
//! changes as a new image; the body is an optional `Config` whose fields override the
//! image's (empty ones leave it as it is, as dockerd merges them). Reply `{"Id": …}`, 201.

use axum::body::Bytes;
use axum::extract::{self, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use serde_json::json;

use super::containers::{cblocking, Shared};
use super::error::ApiError;
use super::query::{json_body, repo_tag as reference, Params};
use crate::engine::containers::commit::{commit as commit_container, CommitRequest};
use crate::store::RuntimeConfig;

/// The body's config with empty fields taken as not given.
fn overrides(raw: &[u8]) -> Result<Option<RuntimeConfig>, ApiError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Ok(None);
    }
    let Some(mut c) = json_body::<Option<RuntimeConfig>>(raw)? else {
        return Ok(None);
    };
    for s in [&mut c.user, &mut c.working_dir, &mut c.stop_signal] {
        if s.as_deref() == Some("") {
            *s = None;
        }
    }
    for v in [&mut c.cmd, &mut c.entrypoint, &mut c.env, &mut c.shell] {
        if v.as_ref().is_some_and(Vec::is_empty) {
            *v = None;
        }
    }
    Ok(Some(c))
}

pub async fn commit(
    extract::State(s): Shared,
    Query(pairs): Query<Vec<(String, String)>>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    let changes: Vec<String> = pairs
        .iter()
        .filter(|(k, v)| k == "changes" && !v.trim().is_empty())
        .map(|(_, v)| v.clone())
        .collect();
    let p: Params = pairs.into_iter().collect();
    let Some(container) = p.get("container").filter(|c| !c.is_empty()).cloned() else {
        return Err(ApiError::bad_request("container is required"));
    };
    let req = CommitRequest {
        container,
        reference: reference(&p),
        author: p.get("author").filter(|a| !a.is_empty()).cloned(),
        message: p.get("comment").filter(|c| !c.is_empty()).cloned(),
        changes,
        overrides: overrides(&raw)?,
        // dockerd pauses unless told `pause=false`.
        pause: p.get("pause").is_none_or(|v| {
            !matches!(
                v.trim().to_ascii_lowercase().as_str(),
                "0" | "false" | "no" | "none"
            )
        }),
    };
    let root = s.root.clone();
    let img = cblocking(move || commit_container(&root, &req)).await?;
    Ok((
        StatusCode::CREATED,
        axum::Json(json!({ "Id": img.id.to_string() })),
    )
        .into_response())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn references() {
        let p = |pairs: &[(&str, &str)]| -> Params {
            pairs
                .iter()
                .map(|(k, v)| (k.to_string(), v.to_string()))
                .collect()
        };
        assert_eq!(reference(&p(&[])), None);
        assert_eq!(reference(&p(&[("repo", "a/b")])).as_deref(), Some("a/b"));
        assert_eq!(
            reference(&p(&[("repo", "a"), ("tag", "1")])).as_deref(),
            Some("a:1")
        );
    }

    #[test]
    fn bodies() {
        assert_eq!(overrides(b"").unwrap(), None);
        assert_eq!(overrides(b"null").unwrap(), None);
        let c = overrides(br#"{"Cmd":["sh"],"User":"","Env":[]}"#)
            .unwrap()
            .unwrap();
        assert_eq!(c.cmd, Some(vec!["sh".to_string()]));
        assert_eq!((c.user, c.env), (None, None));
        let e = overrides(b"{bad").unwrap_err();
        assert_eq!(e.status, StatusCode::BAD_REQUEST);
        assert!(e.message.starts_with("invalid JSON"), "{}", e.message);
    }
}
