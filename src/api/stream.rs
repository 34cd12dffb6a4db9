//! Streamed JSON-message replies (pull, push, load, build): a blocking engine call sends
//! Docker's JSON messages, one per line, through a channel the response body drains. The
//! status is decided by the first message: an error before any progress is an ordinary error
//! reply (a 404 for a missing image); after that, errors travel in the stream as
//! `{"errorDetail":{"message":…},"error":…}`, as dockerd sends them.

use std::convert::Infallible;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};

use axum::body::{Body, Bytes, HttpBody};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use hyper::body::Frame;
use serde_json::{json, Value};
use tokio::sync::{mpsc, oneshot};

use super::error::ApiError;
use crate::engine::EngineError;
use crate::exec::Interrupt;

/// Messages buffered for a slow reader before the engine thread waits for it.
const BUFFERED: usize = 64;

/// What the engine thread sends: a message, or the error that ends the operation.
enum Item {
    Message(Value),
    Failed(ApiError),
}

/// The engine thread's end of the stream.
pub struct Sender {
    tx: mpsc::Sender<Item>,
}

impl Sender {
    /// Sends one message; false once the client has gone away.
    pub fn send(&self, v: Value) -> bool {
        self.tx.blocking_send(Item::Message(v)).is_ok()
    }

    pub fn status(&self, status: impl Into<String>) -> bool {
        self.send(json!({ "status": status.into() }))
    }

    pub fn status_id(&self, status: &str, id: &str) -> bool {
        self.send(json!({ "status": status, "id": id }))
    }
}

/// Docker's in-stream error message.
pub fn error_message(message: &str) -> Value {
    json!({ "errorDetail": { "message": message }, "error": message })
}

/// Runs `op` on the blocking pool with a `Sender`, and replies with its messages as a
/// stream of JSON lines; an error before the first message is the reply itself.
pub async fn run<F>(op: F) -> Result<Response, ApiError>
where
    F: FnOnce(&Sender) -> Result<(), EngineError> + Send + 'static,
{
    run_cancellable(move |out, _| op(out)).await
}

/// As [`run`], and the `Interrupt` given to `op` is triggered once the response body is
/// dropped: a client that hangs up stops the operation even while it sends nothing.
pub async fn run_cancellable<F>(op: F) -> Result<Response, ApiError>
where
    F: FnOnce(&Sender, &Interrupt) -> Result<(), EngineError> + Send + 'static,
{
    let (tx, mut rx) = mpsc::channel::<Item>(BUFFERED);
    let interrupt = Arc::new(Interrupt::new());
    let (gone_tx, gone_rx) = oneshot::channel::<()>();
    let watched = interrupt.clone();
    tokio::spawn(async move {
        // Nothing is ever sent: the body's end of the channel only ever drops.
        let _ = gone_rx.await;
        watched.trigger();
    });
    tokio::task::spawn_blocking(move || {
        let sender = Sender { tx };
        if let Err(e) = op(&sender, &interrupt) {
            let _ = sender.tx.blocking_send(Item::Failed(ApiError::from(e)));
        }
    });
    let first = match rx.recv().await {
        Some(Item::Failed(e)) => return Err(e),
        Some(Item::Message(v)) => Some(v),
        None => None,
    };
    let mut r = Response::new(Body::new(Lines {
        first,
        rx,
        _gone: gone_tx,
    }));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(r)
}

/// The response body: the first message, then whatever the engine thread sends.
struct Lines {
    first: Option<Value>,
    rx: mpsc::Receiver<Item>,
    /// Dropped with the body, which tells the operation's watcher the client is gone.
    _gone: oneshot::Sender<()>,
}

fn line(v: &Value) -> Frame<Bytes> {
    let mut bytes = serde_json::to_vec(v).unwrap_or_default();
    bytes.push(b'\n');
    Frame::data(Bytes::from(bytes))
}

impl HttpBody for Lines {
    type Data = Bytes;
    type Error = Infallible;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, Infallible>>> {
        if let Some(v) = self.first.take() {
            return Poll::Ready(Some(Ok(line(&v))));
        }
        self.rx.poll_recv(cx).map(|item| {
            item.map(|i| match i {
                Item::Message(v) => Ok(line(&v)),
                Item::Failed(e) => Ok(line(&error_message(&e.message))),
            })
        })
    }
}
