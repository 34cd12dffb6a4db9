//! `GET /containers/{id}/logs`: the engine's log frames in Docker's framing. Without a TTY,
//! the multiplexed stream (an 8-byte header per frame: stream 1 or 2, three zero bytes, the
//! length as a big-endian u32); with one, the raw bytes. A follow runs on a blocking thread
//! and ends when the container stops or the client goes away.

use axum::body::{Body, Bytes};
use axum::extract::{self, Query};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use tokio::sync::mpsc;

use super::channel_body::ChannelBody;
use super::containers::{cblocking, Shared};
use super::error::ApiError;
use super::query::{bool_param, Params};
use crate::container::logfile::Stream;
use crate::engine::containers::logs::{self, now_ns, LogFrame, LogsRequest};

/// Frames buffered for a slow reader before the follower waits for it.
const BUFFERED: usize = 64;

pub const MULTIPLEXED: &str = "application/vnd.docker.multiplexed-stream";
pub const RAW: &str = "application/vnd.docker.raw-stream";

/// One frame as Docker's multiplexed stream carries it.
pub fn multiplexed(stream: Stream, payload: &[u8]) -> Vec<u8> {
    let mut out = Vec::with_capacity(payload.len() + 8);
    out.push(match stream {
        Stream::Stdout => 1,
        Stream::Stderr => 2,
    });
    out.extend_from_slice(&[0, 0, 0]);
    out.extend_from_slice(&(payload.len() as u32).to_be_bytes());
    out.extend_from_slice(payload);
    out
}

/// A frame's bytes on the wire: multiplexed unless the container has a TTY.
pub fn encode(f: &LogFrame, tty: bool, timestamps: bool) -> Bytes {
    let payload = f.render(timestamps, false);
    if tty {
        Bytes::from(payload)
    } else {
        Bytes::from(multiplexed(f.stream, &payload))
    }
}

/// A streamed response body fed by `rx`, with Docker's content type for the framing.
pub fn stream_response(rx: mpsc::Receiver<Bytes>, tty: bool) -> Response {
    let mut r = Response::new(Body::new(ChannelBody { rx }));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(if tty { RAW } else { MULTIPLEXED }),
    );
    r
}

pub async fn logs(
    extract::State(s): Shared,
    extract::Path(id): extract::Path<String>,
    Query(p): Query<Params>,
) -> Result<Response, ApiError> {
    let now = now_ns();
    let time = |k: &'static str| {
        logs::parse_log_time(
            k,
            p.get(k)
                .map(|v| v.as_str())
                .filter(|v| !v.is_empty() && *v != "0"),
            now,
        )
    };
    let req = LogsRequest {
        stdout: bool_param(&p, "stdout"),
        stderr: bool_param(&p, "stderr"),
        follow: bool_param(&p, "follow"),
        since: time("since")?,
        until: time("until")?,
        tail: logs::parse_tail(p.get("tail").map(|t| t.as_str()).filter(|t| !t.is_empty()))?,
    };
    if !req.stdout && !req.stderr {
        return Err(ApiError::bad_request(
            "Bad parameters: you must choose at least one stream",
        ));
    }
    let timestamps = bool_param(&p, "timestamps");
    let root = s.root.clone();
    // The container is found (or a 404 sent) before the stream starts.
    let frames = cblocking(move || logs::logs(&root, &id, &req)).await?;
    let tty = frames.container().config.tty;
    let (tx, rx) = mpsc::channel::<Bytes>(BUFFERED);
    let closed = tx.clone();
    tokio::task::spawn_blocking(move || {
        for f in frames.until(move || closed.is_closed()) {
            if tx.blocking_send(encode(&f, tty, timestamps)).is_err() {
                break;
            }
        }
    });
    Ok(stream_response(rx, tty))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn multiplexed_headers() {
        assert_eq!(
            multiplexed(Stream::Stdout, b"hi\n"),
            vec![1, 0, 0, 0, 0, 0, 0, 3, b'h', b'i', b'\n']
        );
        assert_eq!(
            multiplexed(Stream::Stderr, b"")[..8],
            [2, 0, 0, 0, 0, 0, 0, 0]
        );
    }
}
