//! Connection hijacks: `POST /containers/{id}/attach` (`docker run`, `docker attach`) and the
//! session `exec.rs` serves for `POST /exec/{id}/start`. The reply is `101 Switching
//! Protocols` (`Upgrade: tcp`); the connection then carries output (multiplexed, or raw with a
//! TTY) one way and the client's input the other. The output ends when its channel closes; a
//! client half-close ends only the input (the process sees EOF on its stdin).

use std::io::{Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::Duration;

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

/// How long output ready at once (a replayed log, a quick exec's) waits behind the `101`:
/// Python's http.client reads the `101` through a buffer that would swallow output sent right
/// behind it, and docker-py then reads the bare socket.
pub const REPLAY_HOLD: Duration = Duration::from_millis(50);

/// Opens, on the blocking pool, where the client's input goes (`None`: nowhere after all).
pub type InputSink = Box<dyn FnOnce() -> Option<Box<dyn Write + Send>> + Send>;

/// Whether the client asked to hijack the connection (`Upgrade: tcp`); an old client reads
/// the reply body as the stream instead.
pub fn wants_upgrade(req: &Request) -> bool {
    req.headers()
        .get(header::UPGRADE)
        .is_some_and(|v| v.as_bytes().eq_ignore_ascii_case(b"tcp"))
}

/// The client's input as a reader, for `attach::copy_input` on the blocking pool.
struct Chunks {
    rx: std::sync::mpsc::Receiver<Vec<u8>>,
    left: Vec<u8>,
}

impl Read for Chunks {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        if self.left.is_empty() {
            match self.rx.recv() {
                Ok(chunk) => self.left = chunk,
                Err(_) => return Ok(0),
            }
        }
        let n = buf.len().min(self.left.len());
        buf[..n].copy_from_slice(&self.left[..n]);
        self.left.drain(..n);
        Ok(n)
    }
}

/// The detach sequence a client asked for (`detachKeys`, or the exec's own), or Docker's
/// default Ctrl-P Ctrl-Q when it gave none.
pub fn detach_keys(asked: Option<&str>) -> Result<Vec<u8>, ApiError> {
    let keys = asked
        .filter(|k| !k.is_empty())
        .unwrap_or(attach::DEFAULT_DETACH_KEYS);
    Ok(attach::parse_detach_keys(keys)?)
}

/// Serves the hijacked connection of `req` once it is upgraded: `output` to the client until
/// the channel closes (then the connection is shut), the client's input into `input` until it
/// half-closes. Input that ends with `detach_keys` detaches the client: like Docker, the
/// connection is closed at once and the process runs on. Output ready at once (a replayed
/// log) waits `hold` after the `101`. Returns the `101` reply to send.
pub fn hijack(
    req: &mut Request,
    mut output: mpsc::Receiver<Bytes>,
    input: Option<InputSink>,
    tty: bool,
    detach_keys: Vec<u8>,
    hold: Duration,
) -> Response {
    let on_upgrade = hyper::upgrade::on(req);
    tokio::spawn(async move {
        let Ok(upgraded) = on_upgrade.await else {
            return;
        };
        tokio::time::sleep(hold).await;
        let (mut reader, mut writer) = tokio::io::split(TokioIo::new(upgraded));
        let (detached_tx, mut detached_rx) = tokio::sync::oneshot::channel::<()>();
        let input = input.map(|open| {
            tokio::spawn(async move {
                let (itx, irx) = std::sync::mpsc::channel::<Vec<u8>>();
                let feeder = tokio::task::spawn_blocking(move || {
                    let Some(sink) = open() else { return };
                    let detached = AtomicBool::new(false);
                    let from = Chunks {
                        rx: irx,
                        left: Vec::new(),
                    };
                    attach::copy_input(from, sink, &detach_keys, &detached);
                    if detached.load(Ordering::SeqCst) {
                        let _ = detached_tx.send(());
                    }
                    // Else the client half-closed: dropping the sink ends the process's input.
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
        // Settled once the input ends: detached, or not (a oneshot is polled only until then).
        let mut input_over = false;
        loop {
            let chunk = tokio::select! {
                chunk = output.recv() => chunk,
                detached = &mut detached_rx, if !input_over => {
                    if detached.is_ok() {
                        break;
                    }
                    input_over = true;
                    continue;
                }
            };
            let Some(chunk) = chunk else { break };
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

/// `POST /containers/{id}/attach?stream=&logs=&stdout=&stderr=&stdin=&detachKeys=`. `logs=1`
/// replays the output so far, `stream=1` follows it until the run ends. With `stdin=1` on a
/// container made with `OpenStdin`, the client's input goes to the container's stdin.
pub async fn attach(
    extract::State(s): Shared,
    extract::Path(id): extract::Path<String>,
    Query(p): Query<Params>,
    mut req: Request,
) -> Result<Response, ApiError> {
    let want_stdin = bool_param(&p, "stdin");
    let (stdout, stderr) = (bool_param(&p, "stdout"), bool_param(&p, "stderr"));
    let (replay, follow) = (bool_param(&p, "logs"), bool_param(&p, "stream"));
    let keys = detach_keys(p.get("detachKeys").map(|k| k.as_str()))?;
    let root = s.root.clone();
    // Found, and its log opened, before the reply: the client starts the container only
    // once it has the reply, and a `--rm` one may be gone by the time we read.
    let (att, frames) = cblocking(move || {
        let att = attach::attach_before_start(&root, &id, want_stdin)?;
        let frames = att.output_with(&root, replay, follow)?;
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
    let hold = if replay { REPLAY_HOLD } else { Duration::ZERO };
    Ok(hijack(&mut req, rx, input, tty, keys, hold))
}
