//! Request bodies spooled to an owned temp file in the store's temp area before an engine
//! call reads them (image archives, build contexts): an upload cut short fails here and its
//! file goes with it, so nothing half-received ever reaches the store.

use std::io::{Seek, SeekFrom, Write};
use std::path::PathBuf;

use axum::body::{Body, Bytes};
use http_body_util::BodyExt;
use tokio::sync::mpsc;

use super::blocking;
use super::error::ApiError;
use crate::store::{Store, StoreError};
use crate::util::owned_tmp::OwnedFile;

/// Chunks buffered for the writer thread.
const BUFFERED: usize = 16;

/// A body that ended before its declared length, or broke off.
fn cut_short(e: impl std::fmt::Display) -> ApiError {
    ApiError::bad_request(format!("reading the request body: {e}"))
}

/// Writes all of `body` into a new `<prefix>*` file under the store's temp area, rewound to
/// its start. The file is removed when the result is dropped, and at once on any failure.
pub async fn spool(root: PathBuf, body: Body, prefix: &'static str) -> Result<OwnedFile, ApiError> {
    let file = blocking(move || {
        let store = Store::open(&root)?;
        let tmp = store.tmp_dir();
        std::fs::create_dir_all(&tmp).map_err(StoreError::io("cannot create", tmp.clone()))?;
        Ok(OwnedFile::new_in(&tmp, prefix)
            .map_err(StoreError::io("cannot create a temp file in", tmp))?)
    })
    .await?;
    let (tx, mut rx) = mpsc::channel::<Bytes>(BUFFERED);
    let writer = tokio::task::spawn_blocking(move || -> std::io::Result<OwnedFile> {
        let mut file = file;
        while let Some(chunk) = rx.blocking_recv() {
            file.write_all(&chunk)?;
        }
        Ok(file)
    });
    let mut body = body;
    let mut failed = None;
    while let Some(frame) = body.frame().await {
        match frame {
            Ok(frame) => {
                if let Ok(data) = frame.into_data() {
                    if tx.send(data).await.is_err() {
                        break;
                    }
                }
            }
            Err(e) => {
                failed = Some(cut_short(e));
                break;
            }
        }
    }
    drop(tx);
    // Joined even after a failure, so the file is gone before the reply is.
    let written = writer
        .await
        .map_err(|e| ApiError::internal(format!("the upload failed: {e}")))?;
    if let Some(e) = failed {
        return Err(e);
    }
    let file = written.map_err(|e| ApiError::internal(format!("cannot spool the upload: {e}")))?;
    let mut handle = file.as_file();
    handle
        .seek(SeekFrom::Start(0))
        .map_err(|e| ApiError::internal(format!("cannot spool the upload: {e}")))?;
    Ok(file)
}
