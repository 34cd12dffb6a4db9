//! Connection hijacks: `POST /containers/{id}/attach` (`docker run`, `docker attach`) and the
//! session `exec.rs` serves for `POST /exec/{id}/start`. The reply is `101 Switching
//! Protocols` (`Upgrade: tcp`); the connection then carries output (multiplexed, or raw with a
//! TTY) one way and the client's input the other. The output ends when its channel closes; a
//! client half-close ends only the input (the process sees EOF on its stdin).

use std::io::Write;

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

pub const BUFFERED: usize = 64;

/// Opens, on the blocking pool, where the client's input goes (`None`: nowhere after all).
pub type InputSink = Box<dyn FnOnce() -> Option<Box<dyn Write + Send>> + Send>;

/// Whether the client asked to hijack the connection (`Upgrade: tcp`); an old client reads
/// the reply body as the stream instead.
pub fn wants_upgrade(req: &Request) -> bool {
    req.headers()
        .get(header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"tcp"))
}

/// Serves the hijacked connection of `req` once it is upgraded: `output` to the client until
/// the channel closes (then the connection is shut), the client's input into `input` until it
/// half-closes. Returns the `101` reply to send.
pub fn hijack(
    req: &mut Request,
    mut output: mpsc::Receiver<Bytes>,
    input: Option<InputSink>,
    tty: bool,
) -> Response {
    let on_upgrade = hyper::upgrade::on(req);
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        let (mut reader, mut writer) = tokio::io::split(TokioIo::new(upgraded));
        let input = input.map(|open| {
            tokio::spawn(async move {
                let (itx, irx) = std::sync::mpsc::channel::<Vec<u8>>();
                let feeder = tokio::task::spawn_blocking(move || {
                    let Some(mut sink) = open() else { return };
                    for chunk in irx {
                        if sink.write_all(&chunk).is_err() {
                            return;
                        }
                    }
                    // The client half-closed: dropping the sink ends the process's input.
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
        while let Some(chunk) = output.recv().await {
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
    r
}

/// `POST /containers/{id}/attach?stream=1&stdout=&stderr=&stdin=`. With `stdin=1` on a
/// container made with `OpenStdin`, the client's input goes to the container's stdin.
pub async fn attach(
    extract::State(s): Shared,
    extract::Path(id): extract::Path<String>,
    Query(p): Query<Params>,
    mut req: Request,
) -> Result<Response, ApiError> {
    let want_stdin = bool_param(&p, "stdin");
    let (stdout, stderr) = (bool_param(&p, "stdout"), bool_param(&p, "stderr"));
    let root = s.root.clone();
    // Found, and its log opened, before the reply: the client starts the container only
    // once it has the reply, and a `--rm` one may be gone by the time we read.
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
    if !wants_upgrade(&req) {
        return Ok(stream_response(rx, tty));
    }
    let root = s.root.clone();
    let input: Option<InputSink> = att.with_stdin.then(|| {
        Box::new(move || {
            // The FIFO opens once the container runs.
            att.stdin(&root)
                .ok()
                .map(|f| Box::new(f) as Box<dyn Write + Send>)
        }) as InputSink
    });
    Ok(hijack(&mut req, rx, input, tty))
}
