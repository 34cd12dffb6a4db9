//! Container endpoints: list, inspect, the lifecycle (start, stop, kill, restart, wait,
//! remove, rename, pause, unpause), top and prune. Each handler only translates: query and
//! path into an `engine::containers` call on the blocking pool, its result into Docker's JSON.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use std::future::Future;

use axum::body::{Body, Bytes};
use axum::extract::{self, Query};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::{Extension, Json};
use bollard_stubs::models::{
    ContainerPruneResponse, ContainerSummary, ContainerSummaryHostConfig,
    ContainerSummaryNetworkSettings, ContainerSummaryStateEnum, ContainerTopResponse,
    ContainerWaitExitError, ContainerWaitResponse, PortSummary, PortSummaryTypeEnum,
};

use super::error::ApiError;
use super::query::{bool_param, filters, Params};
use super::router::ApiVersion;
use super::State;
use crate::engine::container_inspect;
use crate::engine::containers::list::{self, ListRequest};
use crate::engine::containers::remove::RemoveRequest;
use crate::engine::containers::start::Started;
use crate::engine::containers::stop::StopRequest;
use crate::engine::containers::wait::WaitCondition;
use crate::engine::containers::{self as ec};
use crate::network::ports::Proto;
use crate::store::time::{now_unix, parse_rfc3339};
use crate::store::Store;

pub type Shared = extract::State<Arc<State>>;
type Id = extract::Path<String>;

/// Runs a synchronous container operation on the blocking pool.
pub async fn cblocking<T, F>(f: F) -> Result<T, ApiError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, ec::Error> + Send + 'static,
{
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| ApiError::internal(format!("the operation failed: {e}")))?
        .map_err(ApiError::from)
}

/// Runs `op` on the store's root on the blocking pool; `204 No Content` when it succeeds
/// (Docker's answer to every container action without a body).
async fn no_content<T, F>(s: &State, op: F) -> Result<StatusCode, ApiError>
where
    T: Send + 'static,
    F: FnOnce(&std::path::Path) -> Result<T, ec::Error> + Send + 'static,
{
    let root = s.root.clone();
    cblocking(move || op(&root)).await?;
    Ok(StatusCode::NO_CONTENT)
}

fn state_enum(s: &str) -> ContainerSummaryStateEnum {
    use ContainerSummaryStateEnum as S;
    match s {
        "created" => S::CREATED,
        "running" => S::RUNNING,
        "paused" => S::PAUSED,
        "restarting" => S::RESTARTING,
        "exited" => S::EXITED,
        "removing" => S::REMOVING,
        "dead" => S::DEAD,
        _ => S::EMPTY,
    }
}

/// What a summary shows besides the record: now, the store (for volume paths) and its
/// networks, read once for the whole list.
struct ListContext<'a> {
    now: i64,
    root: &'a std::path::Path,
    networks: HashMap<String, crate::network::Network>,
}

fn summary(s: &list::ContainerSummary, cx: &ListContext<'_>) -> ContainerSummary {
    let c = &s.container;
    let now = cx.now;
    let find = |id: &str| cx.networks.get(id).cloned();
    let networks = container_inspect::endpoints(c, &find)
        .into_iter()
        .filter_map(|(name, v)| Some((name, serde_json::from_value(v).ok()?)))
        .collect();
    let mounts = serde_json::from_value(container_inspect::mounts(cx.root, c)).ok();
    let labels: HashMap<String, String> = c.config.labels.clone().into_iter().collect();
    ContainerSummary {
        id: Some(c.id.clone()),
        names: Some(vec![format!("/{}", c.name)]),
        image: Some(c.image.clone()),
        image_id: Some(c.image_id.to_string()),
        command: Some(list::command(c)),
        created: parse_rfc3339(&c.created),
        ports: Some(
            s.ports()
                .iter()
                .map(|p| PortSummary {
                    ip: Some(if p.host_ip.is_empty() {
                        "0.0.0.0".into()
                    } else {
                        p.host_ip.clone()
                    }),
                    private_port: p.container_port,
                    public_port: Some(p.host_port),
                    typ: Some(match p.protocol {
                        Proto::Tcp => PortSummaryTypeEnum::TCP,
                        Proto::Udp => PortSummaryTypeEnum::UDP,
                    }),
                })
                .collect(),
        ),
        size_rw: s.size_rw.map(|n| i64::try_from(n).unwrap_or(i64::MAX)),
        size_root_fs: s.size_root_fs.map(|n| i64::try_from(n).unwrap_or(i64::MAX)),
        labels: Some(labels),
        state: Some(state_enum(c.docker_status())),
        status: Some(list::status_text(c, now)),
        host_config: Some(ContainerSummaryHostConfig {
            network_mode: Some(c.config.net.mode.clone()),
            annotations: None,
        }),
        network_settings: Some(ContainerSummaryNetworkSettings {
            networks: Some(networks),
        }),
        mounts,
        ..ContainerSummary::default()
    }
}

/// `GET /containers/json?all=&limit=&size=&filters=`.
pub async fn list(
    extract::State(s): Shared,
    Query(p): Query<Params>,
) -> Result<Json<Vec<ContainerSummary>>, ApiError> {
    let last = match p.get("limit").map(|l| l.trim()).filter(|l| !l.is_empty()) {
        None => None,
        Some(l) => match l.parse::<i64>() {
            Ok(n) if n > 0 => Some(n as usize),
            Ok(_) => None,
            Err(_) => return Err(ApiError::bad_request(format!("invalid limit {l:?}"))),
        },
    };
    let req = ListRequest {
        all: bool_param(&p, "all"),
        filters: filters(&p)?,
        last,
        size: bool_param(&p, "size"),
    };
    let state = s.clone();
    let (rows, networks) = cblocking(move || {
        let rows = list::list_with(&state.root, Some(&state.records), &req)?;
        let networks = if rows
            .iter()
            .any(|r| !r.container.config.net.endpoints.is_empty())
        {
            crate::network::Networks::new(&state.root)
                .list()
                .map_err(crate::container::ContainerError::from)?
        } else {
            Vec::new()
        };
        Ok((rows, networks))
    })
    .await?;
    let cx = ListContext {
        now: now_unix(),
        root: &s.root,
        networks: networks.into_iter().map(|n| (n.id.clone(), n)).collect(),
    };
    Ok(Json(rows.iter().map(|r| summary(r, &cx)).collect()))
}

/// `GET /containers/{id}/json?size=`: the engine's inspect object as built.
pub async fn inspect(
    extract::State(s): Shared,
    extract::Path(id): Id,
    Query(p): Query<Params>,
    version: Option<Extension<ApiVersion>>,
) -> Result<Response, ApiError> {
    let size = bool_param(&p, "size");
    let root = s.root.clone();
    let mut v = cblocking(move || {
        let store = Store::open(&root)?;
        ec::inspect::inspect(&root, &store, &id, size)
    })
    .await?;
    let asked = version.map_or_else(ApiVersion::current, |Extension(v)| v);
    if asked < SHORT_ID_NOT_AN_ALIAS {
        short_id_in_aliases(&mut v);
    }
    Ok(Json(v).into_response())
}

/// From API 1.45 dockerd shows the short ID among `DNSNames` only; before, also among the
/// `Aliases` of each network with DNS.
const SHORT_ID_NOT_AN_ALIAS: ApiVersion = ApiVersion(1, 45);

fn short_id_in_aliases(v: &mut serde_json::Value) {
    let short: String = v["Id"]
        .as_str()
        .unwrap_or_default()
        .chars()
        .take(12)
        .collect();
    let Some(nets) = v["NetworkSettings"]["Networks"].as_object_mut() else {
        return;
    };
    for n in nets.values_mut() {
        if n["DNSNames"].is_null() {
            continue;
        }
        match n["Aliases"].as_array_mut() {
            Some(a) => a.push(short.clone().into()),
            None => n["Aliases"] = serde_json::json!([short]),
        }
    }
}

/// `POST /containers/{id}/start`: 204, or 304 when it runs already.
pub async fn start(
    extract::State(s): Shared,
    extract::Path(id): Id,
) -> Result<StatusCode, ApiError> {
    let root = s.root.clone();
    let (_, started) = cblocking(move || ec::start::start(&root, &id)).await?;
    Ok(match started {
        Started::Started => StatusCode::NO_CONTENT,
        Started::AlreadyRunning => StatusCode::NOT_MODIFIED,
    })
}

fn stop_request(p: &Params) -> Result<StopRequest, ApiError> {
    let timeout = match p.get("t").map(|t| t.trim()).filter(|t| !t.is_empty()) {
        None => None,
        Some(t) => {
            let n: i64 = t
                .parse()
                .map_err(|_| ApiError::bad_request(format!("invalid value for t: {t:?}")))?;
            // Docker: a negative timeout waits forever; strata waits a day.
            Some(Duration::from_secs(if n < 0 { 86_400 } else { n as u64 }))
        }
    };
    Ok(StopRequest {
        timeout,
        signal: p.get("signal").filter(|s| !s.is_empty()).cloned(),
    })
}

/// `POST /containers/{id}/stop?t=&signal=`: 204, or 304 when it was not running.
pub async fn stop(
    extract::State(s): Shared,
    extract::Path(id): Id,
    Query(p): Query<Params>,
) -> Result<StatusCode, ApiError> {
    let req = stop_request(&p)?;
    let root = s.root.clone();
    let (_, was_running) = cblocking(move || {
        let store = Store::open(&root)?;
        ec::stop::stop(&store, &id, &req)
    })
    .await?;
    Ok(if was_running {
        StatusCode::NO_CONTENT
    } else {
        StatusCode::NOT_MODIFIED
    })
}

/// `POST /containers/{id}/kill?signal=` (Docker's default `KILL`).
pub async fn kill(
    extract::State(s): Shared,
    extract::Path(id): Id,
    Query(p): Query<Params>,
) -> Result<StatusCode, ApiError> {
    let signal = p
        .get("signal")
        .filter(|s| !s.is_empty())
        .cloned()
        .unwrap_or_else(|| "KILL".into());
    let root = s.root.clone();
    cblocking(move || {
        let store = Store::open(&root)?;
        ec::stop::kill(&store, &id, &signal)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /containers/{id}/restart?t=&signal=`.
pub async fn restart(
    extract::State(s): Shared,
    extract::Path(id): Id,
    Query(p): Query<Params>,
) -> Result<StatusCode, ApiError> {
    let req = stop_request(&p)?;
    no_content(&s, move |root| ec::stop::restart(root, &id, &req)).await
}

/// `POST /containers/{id}/wait?condition=` → `{"StatusCode": N, "Error": null}`.
pub async fn wait(
    extract::State(s): Shared,
    extract::Path(id): Id,
    Query(p): Query<Params>,
) -> Result<Response, ApiError> {
    let condition: WaitCondition = p
        .get("condition")
        .map_or("", |c| c.as_str())
        .parse()
        .map_err(ApiError::from)?;
    let root = s.root.clone();
    let waiter = cblocking(move || ec::wait::begin(&root, &id)).await?;
    // dockerd sends the headers at once and the status when the condition is met: the
    // docker CLI starts the container only once the headers of its wait have arrived.
    let (tx, rx) = tokio::sync::oneshot::channel::<Bytes>();
    tokio::task::spawn_blocking(move || {
        let body = match waiter.until(condition, || !tx.is_closed()) {
            Ok(out) => wait_body(out),
            Err(e) => {
                let message = crate::engine::containers::error::one_line(&e);
                serde_json::json!({ "StatusCode": -1, "Error": { "Message": message } })
            }
        };
        let _ = tx.send(Bytes::from(body.to_string() + "\n"));
    });
    let mut r = Response::new(Body::new(Deferred(Some(rx))));
    r.headers_mut().insert(
        axum::http::header::CONTENT_TYPE,
        axum::http::HeaderValue::from_static("application/json"),
    );
    Ok(r)
}

fn wait_body(out: ec::wait::WaitOutcome) -> serde_json::Value {
    let resp = ContainerWaitResponse {
        status_code: i64::from(out.status_code),
        error: out
            .error
            .map(|m| ContainerWaitExitError { message: Some(m) }),
    };
    // Like dockerd's `WaitResponse` (`Error,omitempty`): no `Error` when there is none.
    serde_json::to_value(resp).unwrap_or_default()
}

/// A body whose one chunk comes later (the headers go out at once).
struct Deferred(Option<tokio::sync::oneshot::Receiver<Bytes>>);

impl axum::body::HttpBody for Deferred {
    type Data = Bytes;
    type Error = std::convert::Infallible;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<hyper::body::Frame<Bytes>, Self::Error>>> {
        use std::task::Poll;
        let Some(rx) = self.0.as_mut() else {
            return Poll::Ready(None);
        };
        match std::pin::Pin::new(rx).poll(cx) {
            Poll::Pending => Poll::Pending,
            Poll::Ready(got) => {
                self.0 = None;
                Poll::Ready(got.ok().map(|b| Ok(hyper::body::Frame::data(b))))
            }
        }
    }
}

/// `DELETE /containers/{id}?force=&v=`.
pub async fn remove(
    extract::State(s): Shared,
    extract::Path(id): Id,
    Query(p): Query<Params>,
) -> Result<StatusCode, ApiError> {
    let req = RemoveRequest {
        force: bool_param(&p, "force"),
        volumes: bool_param(&p, "v"),
    };
    let link = bool_param(&p, "link");
    let root = s.root.clone();
    cblocking(move || {
        let store = Store::open(&root)?;
        if link {
            return ec::remove::remove_link(&store, &id);
        }
        ec::remove::remove(&store, &id, req).map(drop)
    })
    .await?;
    Ok(StatusCode::NO_CONTENT)
}

/// `POST /containers/{id}/rename?name=`.
pub async fn rename(
    extract::State(s): Shared,
    extract::Path(id): Id,
    Query(p): Query<Params>,
) -> Result<StatusCode, ApiError> {
    let name = p.get("name").cloned().unwrap_or_default();
    no_content(&s, move |root| ec::rename::rename(root, &id, &name)).await
}

/// `POST /containers/{id}/pause`.
pub async fn pause(
    extract::State(s): Shared,
    extract::Path(id): Id,
) -> Result<StatusCode, ApiError> {
    no_content(&s, move |root| ec::pause::pause(root, &id)).await
}

/// `POST /containers/{id}/unpause`.
pub async fn unpause(
    extract::State(s): Shared,
    extract::Path(id): Id,
) -> Result<StatusCode, ApiError> {
    no_content(&s, move |root| ec::pause::unpause(root, &id)).await
}

/// `GET /containers/{id}/top?ps_args=`.
pub async fn top(
    extract::State(s): Shared,
    extract::Path(id): Id,
    Query(p): Query<Params>,
) -> Result<Json<ContainerTopResponse>, ApiError> {
    let args: Vec<String> = p
        .get("ps_args")
        .map(|a| a.split_whitespace().map(String::from).collect())
        .unwrap_or_default();
    let root = s.root.clone();
    let r = cblocking(move || ec::top::top(&root, &id, &args)).await?;
    Ok(Json(ContainerTopResponse {
        titles: Some(r.titles),
        processes: Some(r.processes),
    }))
}

/// `POST /containers/prune?filters=`.
pub async fn prune(
    extract::State(s): Shared,
    Query(p): Query<Params>,
) -> Result<Json<ContainerPruneResponse>, ApiError> {
    let specs = filters(&p)?;
    let root = s.root.clone();
    let r = cblocking(move || {
        let f = ec::remove::prune_filters(&specs)?;
        let store = Store::open(&root)?;
        ec::remove::prune(&store, &f)
    })
    .await?;
    Ok(Json(ContainerPruneResponse {
        containers_deleted: Some(r.removed),
        space_reclaimed: Some(i64::try_from(r.space_reclaimed).unwrap_or(i64::MAX)),
    }))
}
