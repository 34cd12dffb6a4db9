//! `GET /images/{name}/get`, `GET /images/get?names=…` (a docker-archive tar, streamed as it
//! is written) and `POST /images/load?quiet=` (the tar body spooled to a temp file in the
//! store first, so an upload cut short loads nothing).

use std::io::Write;
use std::path::PathBuf;
use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{self, Query};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use serde_json::json;
use tokio::sync::mpsc;

use super::channel_body::{ChannelBody, ChannelWriter};
use super::error::ApiError;
use super::{blocking, stream, upload, State};
use crate::engine;
use crate::engine::EngineError;
use crate::store::archive::{ArchiveError, SaveFormat};

/// Chunks buffered for a slow reader before the writer thread waits for it.
const BUFFERED: usize = 16;

/// `GET /images/get?names=a&names=b`.
pub async fn get_many(
    extract::State(s): extract::State<Arc<State>>,
    Query(pairs): Query<Vec<(String, String)>>,
) -> Result<Response, ApiError> {
    let names: Vec<String> = pairs
        .into_iter()
        .filter(|(k, _)| k == "names")
        .map(|(_, v)| v)
        .collect();
    save(s.root.clone(), names).await
}

/// Streams the archive of `names`; a missing image is a 404 before the first byte.
pub async fn save(root: PathBuf, names: Vec<String>) -> Result<Response, ApiError> {
    if names.is_empty() {
        return Err(ApiError::bad_request("no images to save: give names="));
    }
    let r = root.clone();
    let items = blocking(move || engine::archive::save_items(&r, &names)).await?;
    let (tx, rx) = mpsc::channel::<Bytes>(BUFFERED);
    tokio::task::spawn_blocking(move || {
        let mut w = std::io::BufWriter::with_capacity(256 * 1024, ChannelWriter { tx });
        // Once streaming, a failure can only cut the body short, which the client sees.
        if engine::archive::save(&root, &items, SaveFormat::Docker, &mut w).is_ok() {
            let _ = w.flush();
        }
    });
    let mut resp = Response::new(Body::new(ChannelBody { rx }));
    resp.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-tar"),
    );
    Ok(resp)
}

/// `POST /images/load?quiet=`: the body is spooled to a temp file in the store's temp area
/// (removed whatever happens), then loaded; the reply is Docker's `{"stream": …}` lines. As
/// dockerd's, a load that fails still answers 200, its error the stream's one message
/// (docker-py raises `ImageLoadError` from it).
pub async fn load(
    extract::State(s): extract::State<Arc<State>>,
    body: Body,
) -> Result<Response, ApiError> {
    let file = upload::spool(s.root.clone(), body, "api-load-").await?;
    let root = s.root.clone();
    stream::run(move |out| {
        let read_err = |e| EngineError::from(ArchiveError::Read(e));
        let loaded = file
            .as_file()
            .try_clone()
            .map_err(read_err)
            .and_then(|input| engine::archive::load(&root, Box::new(input)));
        drop(file);
        match loaded {
            Ok(loaded) => {
                for line in engine::archive::load_lines(&loaded) {
                    out.send(json!({ "stream": format!("{line}\n") }));
                }
            }
            Err(e) => {
                out.send(stream::error_message(&super::error::chain(&e)));
            }
        }
        Ok(())
    })
    .await
}
