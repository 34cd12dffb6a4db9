//! A container's files: `HEAD/GET/PUT /containers/{id}/archive?path=` (what `docker cp` uses:
//! the path's stat in `X-Docker-Container-Path-Stat`, its tar, or a tar extracted into it),
//! `GET /containers/{id}/export` and `GET /containers/{id}/changes`. Archives are streamed as
//! the engine writes them, uploads read as they arrive.

use std::io::Write;

use axum::body::{Body, Bytes};
use axum::extract::{self, Query};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Json;
use bollard_stubs::models::{ChangeType, FilesystemChange};
use tokio::sync::mpsc;

use super::channel_body::{pump, ChannelBody, ChannelWriter};
use super::containers::{cblocking, Shared};
use super::error::ApiError;
use super::query::{bool_param, Params};
use crate::distribution::base64;
use crate::engine::containers::archive::{self, PathStat, PutOptions};
use crate::engine::containers::{self as ec};

/// Chunks buffered for a slow reader before the writer thread waits for it.
const BUFFERED: usize = 16;
pub const PATH_STAT_HEADER: &str = "X-Docker-Container-Path-Stat";

type Id = extract::Path<String>;

fn path_param(p: &Params) -> Result<String, ApiError> {
    match p.get("path") {
        Some(v) if !v.is_empty() => Ok(v.clone()),
        _ => Err(ApiError::bad_request("path cannot be empty")),
    }
}

fn stat_header(st: &PathStat) -> Result<HeaderValue, ApiError> {
    let json = serde_json::to_vec(st).map_err(|e| ApiError::internal(e.to_string()))?;
    HeaderValue::from_str(&base64::encode(&json)).map_err(|e| ApiError::internal(e.to_string()))
}

/// A tar body written by `write` on the blocking pool; once streaming, a failure can only cut
/// the body short, which the client sees.
fn tar_stream<F>(write: F) -> Response
where
    F: FnOnce(&mut dyn Write) -> ec::Result<u64> + Send + 'static,
{
    let (tx, rx) = mpsc::channel::<Bytes>(BUFFERED);
    tokio::task::spawn_blocking(move || {
        let mut w = std::io::BufWriter::with_capacity(256 * 1024, ChannelWriter { tx });
        if write(&mut w).is_ok() {
            let _ = w.flush();
        }
    });
    let mut r = Response::new(Body::new(ChannelBody { rx }));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/x-tar"),
    );
    r
}

/// `HEAD /containers/{id}/archive?path=`: the stat only.
pub async fn head_archive(
    extract::State(s): Shared,
    extract::Path(id): Id,
    Query(p): Query<Params>,
) -> Result<Response, ApiError> {
    let path = path_param(&p)?;
    let root = s.root.clone();
    let st = cblocking(move || archive::stat(&root, &id, &path)).await?;
    let mut r = StatusCode::OK.into_response();
    r.headers_mut().insert(PATH_STAT_HEADER, stat_header(&st)?);
    Ok(r)
}

/// `GET /containers/{id}/archive?path=`: the stat and the path's tar.
pub async fn get_archive(
    extract::State(s): Shared,
    extract::Path(id): Id,
    Query(p): Query<Params>,
) -> Result<Response, ApiError> {
    let path = path_param(&p)?;
    let root = s.root.clone();
    let (st, write) = cblocking(move || archive::get(&root, &id, &path)).await?;
    let mut r = tar_stream(write);
    r.headers_mut().insert(PATH_STAT_HEADER, stat_header(&st)?);
    Ok(r)
}

/// `PUT /containers/{id}/archive?path=&noOverwriteDirNonDir=&copyUIDGID=`: the tar body
/// extracted into the directory `path`. A non-directory replaces a directory and the reverse
/// unless `noOverwriteDirNonDir` (the docker CLI sets it; docker-py's `put_archive` does not).
pub async fn put_archive(
    extract::State(s): Shared,
    extract::Path(id): Id,
    Query(p): Query<Params>,
    body: Body,
) -> Result<StatusCode, ApiError> {
    let path = path_param(&p)?;
    let opts = PutOptions {
        copy_uid_gid: bool_param(&p, "copyUIDGID"),
        no_overwrite_dir_non_dir: bool_param(&p, "noOverwriteDirNonDir"),
    };
    let mut input = pump(body);
    let root = s.root.clone();
    cblocking(move || archive::put(&root, &id, &path, &mut input, opts)).await?;
    Ok(StatusCode::OK)
}

/// `GET /containers/{id}/export`.
pub async fn export(
    extract::State(s): Shared,
    extract::Path(id): Id,
) -> Result<Response, ApiError> {
    let root = s.root.clone();
    let write = cblocking(move || ec::export::export(&root, &id)).await?;
    Ok(tar_stream(write))
}

/// `GET /containers/{id}/changes` → `[{"Path", "Kind"}]` (0 changed, 1 added, 2 deleted);
/// `null` when nothing changed, as dockerd answers.
pub async fn changes(
    extract::State(s): Shared,
    extract::Path(id): Id,
) -> Result<Json<Option<Vec<FilesystemChange>>>, ApiError> {
    let root = s.root.clone();
    let list = cblocking(move || ec::changes::changes(&root, &id)).await?;
    if list.is_empty() {
        return Ok(Json(None));
    }
    Ok(Json(Some(
        list.into_iter()
            .map(|c| FilesystemChange {
                path: c.path,
                kind: match c.kind {
                    'A' => ChangeType::_1,
                    'D' => ChangeType::_2,
                    _ => ChangeType::_0,
                },
            })
            .collect(),
    )))
}
