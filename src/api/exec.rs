//! The exec endpoints: `POST /containers/{id}/exec` (create), `POST /exec/{id}/start` (run
//! it, hijacking the connection unless `Detach`), `POST /exec/{id}/resize`, `GET
//! /exec/{id}/json`, and `POST /containers/{id}/resize`. The records and the process are
//! `engine::containers::exec_instance`'s; this file only translates.

use std::fs::File;
use std::io::{Read, Write};
use std::os::fd::AsFd;

use nix::poll::{poll, PollFd, PollFlags, PollTimeout};

use axum::body::{Body, Bytes};
use axum::extract::{self, Query, Request};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::Json;
use bollard_stubs::models::{
    ExecConfig as ApiExecConfig, ExecInspectResponse, ExecStartConfig, ProcessConfig,
};
use tokio::sync::mpsc;

use super::containers::{cblocking, Shared};
use super::error::ApiError;
use super::hijack::{detach_keys, hijack, wants_upgrade, InputSink, BUFFERED, REPLAY_HOLD};
use super::logs::{multiplexed, stream_response};
use super::query::json_body as parse_body;
use super::query::Params;
use crate::container::logfile::Stream;
use crate::engine::containers::exec_instance::{self as ei, ExecConfig, ExecInstance};

fn console_size(v: Option<Vec<usize>>) -> Result<Option<[u16; 2]>, ApiError> {
    match v.as_deref() {
        None | Some([]) => Ok(None),
        Some(&[h, w]) => Ok(Some([
            h.min(u16::MAX as usize) as u16,
            w.min(u16::MAX as usize) as u16,
        ])),
        Some(_) => Err(ApiError::bad_request(
            "invalid ConsoleSize: expected [height, width]",
        )),
    }
}

/// A body that may be empty (some clients send none).
fn body_or_default<T: serde::de::DeserializeOwned + Default>(raw: &[u8]) -> Result<T, ApiError> {
    if raw.iter().all(u8::is_ascii_whitespace) {
        return Ok(T::default());
    }
    parse_body(raw)
}

/// `POST /containers/{id}/exec` → `201 {"Id": …}`.
pub async fn create(
    extract::State(s): Shared,
    extract::Path(id): extract::Path<String>,
    raw: Bytes,
) -> Result<Response, ApiError> {
    const FIELDS: &[&str] = &[
        "AttachStdin",
        "AttachStdout",
        "AttachStderr",
        "ConsoleSize",
        "DetachKeys",
        "Tty",
        "Env",
        "Cmd",
        "Privileged",
        "User",
        "WorkingDir",
    ];
    let b: ApiExecConfig = body_or_default(&super::query::canonical_keys(&raw, FIELDS))?;
    let config = ExecConfig {
        cmd: b.cmd.unwrap_or_default(),
        env: b.env.unwrap_or_default(),
        workdir: b.working_dir,
        user: b.user,
        tty: b.tty.unwrap_or(false),
        privileged: b.privileged.unwrap_or(false),
        attach_stdin: b.attach_stdin.unwrap_or(false),
        attach_stdout: b.attach_stdout.unwrap_or(false),
        attach_stderr: b.attach_stderr.unwrap_or(false),
        detach_keys: b.detach_keys.filter(|k| !k.is_empty()),
        console_size: console_size(b.console_size)?,
    };
    if let Some(keys) = &config.detach_keys {
        let keys = keys.clone();
        cblocking(move || crate::engine::containers::attach::parse_detach_keys(&keys)).await?;
    }
    let root = s.root.clone();
    let exec_id = cblocking(move || ei::create(&root, &id, config)).await?;
    // bollard's `IdResponse` spells the field `id`; Docker's is `Id`.
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({ "Id": exec_id })),
    )
        .into_response())
}

/// `POST /exec/{id}/start` with `{"Detach", "Tty", "ConsoleSize"}`: detached, `200` and the
/// process runs on; else the connection carries its streams until it ends.
pub async fn start(
    extract::State(s): Shared,
    extract::Path(id): extract::Path<String>,
    req: Request,
) -> Result<Response, ApiError> {
    let (parts, body) = req.into_parts();
    let raw = axum::body::to_bytes(body, 1 << 20)
        .await
        .map_err(|e| ApiError::bad_request(format!("reading the body: {e}")))?;
    let b: ExecStartConfig = body_or_default(&raw)?;
    let mut req = Request::from_parts(parts, Body::empty());
    let detach = b.detach.unwrap_or(false);
    let root = s.root.clone();
    let (launch, streams, config) = cblocking(move || {
        let config = ei::find(&root, &id)?.config;
        let (launch, streams) = ei::launch(&root, &id, !detach)?;
        Ok((launch, streams, config))
    })
    .await?;
    // Like dockerd, the start's `Tty` (not the exec's) says whether the streams are
    // multiplexed: a client that starts a TTY exec without it reads frames.
    let tty = b.tty.unwrap_or(false);
    let keys = detach_keys(config.detach_keys.as_deref())?;
    if detach {
        tokio::task::spawn_blocking(move || launch.run());
        return Ok(StatusCode::OK.into_response());
    }
    let (tx, rx) = mpsc::channel::<Bytes>(BUFFERED);
    let outputs: Vec<(File, Stream)> = [
        (streams.stdout, Stream::Stdout),
        (streams.stderr, Stream::Stderr),
    ]
    .into_iter()
    .filter_map(|(f, s)| Some((f?, s)))
    .collect();
    let out_tx = tx.clone();
    tokio::task::spawn_blocking(move || copy_out(outputs, tty, &out_tx));
    tokio::task::spawn_blocking(move || {
        let (_, message) = launch.run();
        // Docker's words for a command that could not start go to its stdout.
        if let Some(m) = message {
            let _ = tx.blocking_send(frame(Stream::Stdout, format!("{m}\r\n").as_bytes(), tty));
        }
    });
    if !wants_upgrade(&req) {
        return Ok(stream_response(rx, tty));
    }
    let input: Option<InputSink> = streams
        .stdin
        .map(|f| Box::new(move || Some(Box::new(f) as Box<dyn Write + Send>)) as InputSink);
    // The process starts before the upgrade: a quick one's output is ready at once.
    Ok(hijack(&mut req, rx, input, tty, keys, REPLAY_HOLD))
}

fn frame(stream: Stream, bytes: &[u8], tty: bool) -> Bytes {
    if tty {
        Bytes::copy_from_slice(bytes)
    } else {
        Bytes::from(multiplexed(stream, bytes))
    }
}

/// Copies the process's streams to the client as they come, from one thread so that what it
/// wrote to stdout before stderr arrives first (a terminal's reads end in EIO once the
/// process has ended).
fn copy_out(mut outputs: Vec<(File, Stream)>, tty: bool, tx: &mpsc::Sender<Bytes>) {
    let mut buf = vec![0u8; 32 * 1024];
    while !outputs.is_empty() {
        let ready: Vec<bool> = {
            let mut fds: Vec<PollFd> = outputs
                .iter()
                .map(|(f, _)| PollFd::new(f.as_fd(), PollFlags::POLLIN))
                .collect();
            match poll(&mut fds, PollTimeout::NONE) {
                Ok(_) => fds.iter().map(|p| p.any().unwrap_or(true)).collect(),
                Err(nix::errno::Errno::EINTR) => continue,
                Err(_) => return,
            }
        };
        let mut ended = Vec::new();
        // In order: stdout first.
        for (i, (f, stream)) in outputs.iter_mut().enumerate() {
            if !ready[i] {
                continue;
            }
            match f.read(&mut buf) {
                Ok(0) | Err(_) => ended.push(i),
                Ok(n) => {
                    if tx.blocking_send(frame(*stream, &buf[..n], tty)).is_err() {
                        return;
                    }
                }
            }
        }
        for i in ended.into_iter().rev() {
            outputs.remove(i);
        }
    }
}

fn size(p: &Params) -> Result<(u16, u16), ApiError> {
    let get = |k: &str| -> Result<u16, ApiError> {
        match p.get(k).map(|v| v.as_str()) {
            None | Some("") => Ok(0),
            Some(v) => v
                .parse()
                .map_err(|_| ApiError::bad_request(format!("invalid resize {k}: {v:?}"))),
        }
    };
    Ok((get("h")?, get("w")?))
}

/// `POST /exec/{id}/resize?h=&w=`.
pub async fn resize(
    extract::State(s): Shared,
    extract::Path(id): extract::Path<String>,
    Query(p): Query<Params>,
) -> Result<StatusCode, ApiError> {
    resize_with(s, id, p, ei::resize).await
}

/// `POST /containers/{id}/resize?h=&w=`.
pub async fn resize_container(
    extract::State(s): Shared,
    extract::Path(id): extract::Path<String>,
    Query(p): Query<Params>,
) -> Result<StatusCode, ApiError> {
    resize_with(s, id, p, ei::resize_container).await
}

/// Resizes the terminal `id` names (an exec's or a container's) to the query's `h`×`w`.
async fn resize_with<F>(
    s: std::sync::Arc<super::State>,
    id: String,
    p: Params,
    resize: F,
) -> Result<StatusCode, ApiError>
where
    F: FnOnce(&std::path::Path, &str, u16, u16) -> crate::engine::containers::Result<()>
        + Send
        + 'static,
{
    let (h, w) = size(&p)?;
    let root = s.root.clone();
    cblocking(move || resize(&root, &id, h, w)).await?;
    Ok(StatusCode::OK)
}

/// `GET /exec/{id}/json`.
pub async fn inspect(
    extract::State(s): Shared,
    extract::Path(id): extract::Path<String>,
) -> Result<Response, ApiError> {
    let root = s.root.clone();
    let e = cblocking(move || ei::find(&root, &id)).await?;
    Ok(Json(inspect_json(&e)).into_response())
}

fn inspect_json(e: &ExecInstance) -> serde_json::Value {
    let c = &e.config;
    let r = ExecInspectResponse {
        can_remove: Some(false),
        detach_keys: Some(c.detach_keys.clone().unwrap_or_default()),
        id: Some(e.id.clone()),
        running: Some(e.running),
        exit_code: e.exit_code.map(i64::from),
        process_config: Some(ProcessConfig {
            privileged: Some(c.privileged),
            user: Some(c.user.clone().unwrap_or_default()),
            tty: Some(c.tty),
            entrypoint: c.cmd.first().cloned(),
            arguments: Some(c.cmd.iter().skip(1).cloned().collect()),
        }),
        open_stdin: Some(c.attach_stdin),
        open_stderr: Some(c.attach_stderr),
        open_stdout: Some(c.attach_stdout),
        container_id: Some(e.container_id.clone()),
        pid: Some(i64::from(e.pid)),
    };
    let mut v = serde_json::to_value(r).expect("an exec inspection serialises");
    // Docker's is a pointer: null until the process has ended.
    if e.exit_code.is_none() {
        v["ExitCode"] = serde_json::Value::Null;
    }
    v
}
