//! `POST /images/create?fromSrc=-&repo=&tag=&changes=&message=&platform=`: the request body, a
//! rootfs tarball, imported as a one-layer image while it arrives (or, with `fromSrc=URL`, a
//! tarball fetched from a loopback host); the reply is Docker's stream ending in
//! `{"status": "<image ID>"}`. An upload cut short imports nothing.

use axum::body::Body;
use axum::response::Response;
use serde_json::json;

use super::channel_body::pump;
use super::error::ApiError;
use super::query::{repo_tag as reference, Params};
use super::stream;
use crate::engine::import::{import, ImportRequest, ImportSource};
use crate::plan::platform::Platform;
use crate::snapshot::Compression;

pub async fn import_body(
    root: std::path::PathBuf,
    p: Params,
    changes: Vec<String>,
    body: Body,
) -> Result<Response, ApiError> {
    let from = p.get("fromSrc").cloned().unwrap_or_default();
    let (source, source_name) = if from == "-" {
        (ImportSource::Tar(Box::new(pump(body))), "-".to_string())
    } else if from.starts_with("http://") || from.starts_with("https://") {
        (ImportSource::Url(from.clone()), from)
    } else {
        return Err(ApiError::bad_request(format!(
            "fromSrc must be - (the request body) or an http(s) URL, not {from:?}"
        )));
    };
    let platform = match p.get("platform").filter(|v| !v.is_empty()) {
        Some(v) => Some(Platform::parse(v).map_err(|e| ApiError::bad_request(e.to_string()))?),
        None => None,
    };
    let req = ImportRequest {
        source,
        source_name,
        reference: reference(&p),
        changes,
        message: p.get("message").filter(|m| !m.is_empty()).cloned(),
        platform,
        compression: Compression::default(),
    };
    stream::run(move |out| {
        let img = import(&root, req)?;
        out.send(json!({ "status": img.id.to_string() }));
        Ok(())
    })
    .await
}
