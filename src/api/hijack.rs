//! `POST /containers/{id}/attach?stream=1&stdout=&stderr=&stdin=`: the connection hijack
//! `docker run` and `docker attach` use. The reply is `101 Switching Protocols` (`Upgrade:
//! tcp`); the connection then carries the container's output (multiplexed, or raw with a
//! TTY) one way and, with `stdin=1` on a container made with `OpenStdin`, the client's input
//! the other. The output ends when the container's run ends; a client half-close ends only
//! the input (the container sees EOF on its stdin).

use std::io::Write as _;

use axum::body::{Body, Bytes};
use axum::extract::{self, Query, Request};
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::Response;
use hyper_util::rt::TokioIo;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::sync::mpsc;

use super::containers::{cblocking, Shared};
use super::error::ApiError;
use super::logs::{encode, stream_response, MULTIPLEXED, RAW};
use super::query::{bool_param, Params};
use crate::container::logfile::Stream;
use crate::engine::containers::attach;

const BUFFERED: usize = 64;

pub async fn attach(
    extract::State(s): Shared,
    extract::Path(id): extract::Path<String>,
    Query(p): Query<Params>,
    mut req: Request,
) -> Result<Response, ApiError> {
    let want_stdin = bool_param(&p, "stdin");
    let (stdout, stderr) = (bool_param(&p, "stdout"), bool_param(&p, "stderr"));
    let root = s.root.clone();
    // Found, and its output taken from now on, before the reply: the client starts the
    // container only once it has the reply.
    let (att, frames) = cblocking(move || {
        let att = attach::attach_before_start(&root, &id, want_stdin)?;
        let frames = att.output(&root)?;
        Ok((att, frames))
    })
    .await?;
    let tty = att.container.config.tty;
    let (tx, rx) = mpsc::channel::<Bytes>(BUFFERED);
    let closed = tx.clone();
    tokio::task::spawn_blocking(move || {
        for f in frames.until(move || closed.is_closed()) {
            let wanted = match f.stream {
                Stream::Stdout => stdout,
                Stream::Stderr => stderr,
            };
            if wanted && tx.blocking_send(encode(&f, tty, false)).is_err() {
                break;
            }
        }
    });
    let upgrade = req
        .headers()
        .get(header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"tcp"));
    if !upgrade {
        // An old client that reads the reply body as the stream.
        return Ok(stream_response(rx, tty));
    }
    let on_upgrade = hyper::upgrade::on(&mut req);
    let root = s.root.clone();
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let (mut reader, mut writer) = tokio::io::split(TokioIo::new(upgraded));
        let input = att.with_stdin.then(|| {
            tokio::spawn(async move {
                // The FIFO opens once the container runs: on the blocking pool.
                let (itx, irx) = std::sync::mpsc::channel::<Vec<u8>>();
                let feeder = tokio::task::spawn_blocking(move || {
                    let Ok(mut fifo) = att.stdin(&root) else {
                        return;
                    };
                    for chunk in irx {
                        if fifo.write_all(&chunk).is_err() {
                            return;
                        }
                    }
                    // The client half-closed: the container's stdin ends here.
                });
                let mut buf = vec![0u8; 32 * 1024];
                loop {
                    match reader.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => {
                            if itx.send(buf[..n].to_vec()).is_err() {
                                break;
                            }
                        }
                    }
                }
                drop(itx);
                let _ = feeder.await;
            })
        });
        let mut rx = rx;
        while let Some(chunk) = rx.recv().await {
            if writer.write_all(&chunk).await.is_err() {
                break;
            }
            let _ = writer.flush().await;
        }
        let _ = writer.shutdown().await;
        if let Some(i) = input {
            i.abort();
        }
    });
    let mut r = Response::new(Body::empty());
    *r.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = r.headers_mut();
    h.insert(header::CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(header::UPGRADE, HeaderValue::from_static("tcp"));
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(if tty { RAW } else { MULTIPLEXED }),
    );
    Ok(r)
}
