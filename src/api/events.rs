//! `GET /events?since=&until=&filters=`: the store's event log as a stream of JSON lines
//! (Docker's `EventMessage`, which `store::events::Event` is field for field). The log is
//! followed on a blocking thread that stops when the client goes away.

use std::sync::Arc;

use axum::body::{Body, Bytes};
use axum::extract::{self, Query};
use axum::http::{header, HeaderValue};
use axum::response::Response;
use tokio::sync::mpsc;

use super::channel_body::ChannelBody;
use super::error::ApiError;
use super::query::{filters, Params};
use super::State;
use crate::engine;
use crate::engine::events::now_ns;
use crate::engine::events::EventsRequest;
use crate::store::events::Event;

/// Lines buffered for a slow reader before the follower waits for it.
const BUFFERED: usize = 64;

pub async fn events(
    extract::State(s): extract::State<Arc<State>>,
    Query(p): Query<Params>,
) -> Result<Response, ApiError> {
    let req = EventsRequest {
        since: p.get("since").filter(|v| !v.is_empty()).cloned(),
        until: p.get("until").filter(|v| !v.is_empty()).cloned(),
        filters: filters(&p)?,
    };
    // A bad query is a 400 before the stream starts, not a stream cut short.
    let query = req.query(now_ns()).map_err(ApiError::from)?;
    let (tx, rx) = mpsc::channel::<Bytes>(BUFFERED);
    let root = s.root.clone();
    tokio::task::spawn_blocking(move || {
        let stop = || tx.is_closed();
        let mut emit = |e: &Event| {
            let Ok(mut line) = serde_json::to_vec(e) else {
                return true;
            };
            line.push(b'\n');
            tx.blocking_send(Bytes::from(line)).is_ok()
        };
        // Once streaming, a failure can only end the stream: the status is already sent.
        let _ = engine::events::follow(&root, &query, &stop, &mut emit);
    });
    let mut r = Response::new(Body::new(ChannelBody { rx }));
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Ok(r)
}
