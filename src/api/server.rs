//! The server: a small tokio runtime, the accept loop, one hyper connection task per client,
//! Docker's headers on every response, and the idle timer (`--time`): the service exits when no
//! request has been in flight, and none has arrived, for that long. A request stays in flight
//! until its response body is fully sent (an `/events` stream included).

use std::convert::Infallible;
use std::os::unix::net::UnixListener;
use std::path::PathBuf;
use std::pin::Pin;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes, HttpBody};
use axum::http::{HeaderValue, Request, Response, Uri};
use axum::response::IntoResponse;
use axum::Router;
use hyper::body::{Frame, Incoming, SizeHint};
use hyper_util::rt::{TokioIo, TokioTimer};
use tower::ServiceExt;

use super::listen::{activated, bind_unix, ListenAddr, ListenError};
use super::router::{check_version, container_link_path, routes, split_version, ApiVersion};
use super::tls::{self, TlsError, TlsFiles};
use super::State;
use crate::container::host_info::VERSION;
use crate::engine::system::API_VERSION;
use tokio_rustls::TlsAcceptor;

/// Threads that parse HTTP; engine calls run on the blocking pool.
const WORKERS: usize = 2;
/// Engine calls running at once; more wait their turn in tokio's queue.
const MAX_BLOCKING: usize = 32;
/// How often the idle timer looks.
const IDLE_TICK: Duration = Duration::from_millis(200);

#[derive(Debug, Clone)]
pub struct ServeConfig {
    pub root: PathBuf,
    pub listen: ListenAddr,
    /// Mutual TLS for a `tcp://` address (required there, unused on a unix socket).
    pub tls: Option<TlsFiles>,
    /// Exit after this long with no request in flight (`None`: never).
    pub idle: Option<Duration>,
}

#[derive(Debug, thiserror::Error)]
pub enum ServeError {
    #[error(transparent)]
    Listen(#[from] ListenError),
    #[error("cannot start the server's runtime")]
    Runtime(#[source] std::io::Error),
    #[error(transparent)]
    Tls(#[from] TlsError),
    #[error("cannot listen on tcp://{addr}")]
    Bind {
        addr: String,
        #[source]
        source: std::io::Error,
    },
    #[error("cannot accept connections on {path}")]
    Socket {
        path: String,
        #[source]
        source: std::io::Error,
    },
}

/// Serves the Engine API until idle for `cfg.idle`, or until SIGINT/SIGTERM.
pub fn serve(cfg: ServeConfig) -> Result<(), ServeError> {
    // A client that hangs up mid-response must cost an EPIPE on that connection, not the
    // whole process.
    // SAFETY: SIG_IGN is a valid disposition; this changes no handler other code relies on.
    unsafe {
        libc::signal(libc::SIGPIPE, libc::SIG_IGN);
    }
    // Before any other thread exists: `activated` clears the LISTEN_* variables.
    let passed = activated()?;
    limit_malloc_arenas();
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(WORKERS)
        .max_blocking_threads(MAX_BLOCKING)
        .thread_keep_alive(Duration::from_secs(10))
        .thread_name("strata-api")
        .enable_all()
        .build()
        .map_err(ServeError::Runtime)?;
    let result = rt.block_on(run(cfg, passed));
    // An /events follower notices its client is gone within a poll; don't wait longer.
    rt.shutdown_timeout(Duration::from_secs(1));
    result
}

/// glibc gives each thread that allocates an arena of its own (up to 8 per core), and an arena
/// keeps what was freed in it: with requests served on many short-lived blocking threads, the
/// service's resident memory grew with every thread that had ever run (83 MB after 200
/// `docker create`s, 30 MB with one arena). Two arenas for two cores keep allocation from
/// contending while bounding that.
fn limit_malloc_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: mallopt only adjusts allocator tuning; called before the runtime's threads exist.
    unsafe {
        libc::mallopt(libc::M_ARENA_MAX, 2);
    }
}

/// Where connections come from: a unix socket, or TCP wrapped in TLS.
enum Listener {
    Unix(tokio::net::UnixListener),
    Tls(tokio::net::TcpListener, TlsAcceptor),
}

/// How long a TCP client may take over its TLS handshake.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

async fn listener(
    cfg: &ServeConfig,
    passed: Option<UnixListener>,
) -> Result<(Listener, String, Option<PathBuf>), ServeError> {
    let (std_listener, owned) = match passed {
        Some(l) => (l, None),
        None => match &cfg.listen {
            ListenAddr::Unix(p) => (bind_unix(p)?, Some(p.clone())),
            ListenAddr::Tcp(hp) => {
                let files = (cfg.tls.as_ref())
                    .ok_or_else(|| ListenError::TcpNeedsTls(format!("tcp://{hp}")))?;
                let acceptor = tls::acceptor(files)?;
                let addr = tls::with_default_port(hp);
                let tcp = tokio::net::TcpListener::bind(&addr).await;
                let tcp = tcp.map_err(|source| ServeError::Bind {
                    addr: addr.clone(),
                    source,
                })?;
                return Ok((Listener::Tls(tcp, acceptor), format!("tcp://{addr}"), None));
            }
        },
    };
    let name = owned
        .as_ref()
        .map_or("the activated socket".to_string(), |p| {
            p.display().to_string()
        });
    let socket_err = |source| ServeError::Socket {
        path: name.clone(),
        source,
    };
    std_listener.set_nonblocking(true).map_err(socket_err)?;
    let listener = tokio::net::UnixListener::from_std(std_listener).map_err(socket_err)?;
    Ok((Listener::Unix(listener), name, owned))
}

async fn run(cfg: ServeConfig, passed: Option<UnixListener>) -> Result<(), ServeError> {
    let (listener, _name, owned) = self::listener(&cfg, passed).await?;
    let router = routes(Arc::new(State {
        root: cfg.root.clone(),
        records: Default::default(),
    }));
    let tracker = Arc::new(Tracker::default());
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        .map_err(ServeError::Runtime)?;
    loop {
        let accepted = async {
            match &listener {
                Listener::Unix(l) => {
                    let (stream, _) = l.accept().await?;
                    tracker.touch();
                    tokio::spawn(connection(stream, router.clone(), tracker.clone()));
                }
                Listener::Tls(l, acceptor) => {
                    let (stream, _) = l.accept().await?;
                    tracker.touch();
                    let (acceptor, router, tracker) =
                        (acceptor.clone(), router.clone(), tracker.clone());
                    // The handshake on the connection's own task: a slow client delays
                    // nobody else.
                    tokio::spawn(async move {
                        let shake = acceptor.accept(stream);
                        if let Ok(Ok(tls)) = tokio::time::timeout(HANDSHAKE_TIMEOUT, shake).await {
                            connection(tls, router, tracker).await;
                        }
                    });
                }
            }
            Ok::<(), std::io::Error>(())
        };
        tokio::select! {
            r = accepted => if r.is_err() {
                // Out of fds and the like: pass, and let the clients retry.
                tokio::time::sleep(Duration::from_millis(50)).await;
            },
            () = idle(&tracker, cfg.idle) => break,
            _ = tokio::signal::ctrl_c() => break,
            _ = term.recv() => break,
        }
    }
    if let Some(p) = owned {
        let _ = std::fs::remove_file(p);
    }
    Ok(())
}

/// Serves one client's requests, one at a time as HTTP/1.1 does.
async fn connection<S>(stream: S, router: Router, tracker: Arc<Tracker>)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let svc = hyper::service::service_fn(move |req: Request<Incoming>| {
        let (router, tracker) = (router.clone(), tracker.clone());
        async move { Ok::<_, Infallible>(handle(req, router, tracker).await) }
    });
    let mut http = hyper::server::conn::http1::Builder::new();
    // Go's canonical header case (`Api-Version`, `Ostype`), as dockerd sends them.
    http.title_case_headers(true).timer(TokioTimer::new());
    let _ = http
        .serve_connection(TokioIo::new(stream), svc)
        .with_upgrades()
        .await;
}

/// Checks and strips the version prefix, routes, and adds Docker's headers.
async fn handle(req: Request<Incoming>, router: Router, tracker: Arc<Tracker>) -> Response<Body> {
    let guard = tracker.start();
    let (mut parts, body) = req.into_parts();
    let path = parts.uri.path().to_string();
    let (version, rest) = split_version(&path);
    let checked = version.map(check_version).transpose();
    let mut resp = match checked {
        Err(e) => e.into_response(),
        Ok(asked) => {
            // What the client asked for (the newest when it named none), for the few answers
            // whose shape depends on it.
            parts
                .extensions
                .insert(asked.unwrap_or_else(ApiVersion::current));
            let link = (parts.method == axum::http::Method::DELETE)
                .then(|| container_link_path(rest))
                .flatten();
            let rest = link.as_deref().unwrap_or(rest);
            if version.is_some() || link.is_some() {
                let pq = match parts.uri.query() {
                    Some(q) => format!("{rest}?{q}"),
                    None => rest.to_string(),
                };
                parts.uri = pq.parse::<Uri>().unwrap_or_else(|_| Uri::from_static("/"));
            }
            let req = Request::from_parts(parts, Body::new(body));
            match router.oneshot(req).await {
                Ok(r) => r,
                Err(never) => match never {},
            }
        }
    };
    let h = resp.headers_mut();
    h.insert("api-version", HeaderValue::from_static(API_VERSION));
    h.insert("docker-experimental", HeaderValue::from_static("false"));
    h.insert("ostype", HeaderValue::from_static("linux"));
    if let Ok(v) = HeaderValue::from_str(&format!("strata/{VERSION} (linux)")) {
        h.insert("server", v);
    }
    resp.map(|b| {
        Body::new(Tracked {
            inner: b,
            _guard: guard,
        })
    })
}

/// Requests in flight and when the last one started or ended.
struct Tracker {
    in_flight: AtomicUsize,
    last: Mutex<Instant>,
}

impl Default for Tracker {
    fn default() -> Self {
        Tracker {
            in_flight: AtomicUsize::new(0),
            last: Mutex::new(Instant::now()),
        }
    }
}

impl Tracker {
    fn touch(&self) {
        if let Ok(mut l) = self.last.lock() {
            *l = Instant::now();
        }
    }

    fn start(self: &Arc<Self>) -> InFlight {
        self.in_flight.fetch_add(1, Ordering::SeqCst);
        self.touch();
        InFlight(self.clone())
    }

    /// How long nothing has been in flight (zero while something is).
    fn idle_for(&self) -> Duration {
        if self.in_flight.load(Ordering::SeqCst) > 0 {
            return Duration::ZERO;
        }
        self.last.lock().map_or(Duration::ZERO, |l| l.elapsed())
    }
}

/// One request in flight, until its response body is dropped.
struct InFlight(Arc<Tracker>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.touch();
        self.0.in_flight.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Resolves once idle for `limit`; never without a limit.
async fn idle(tracker: &Tracker, limit: Option<Duration>) {
    let Some(limit) = limit else {
        return std::future::pending().await;
    };
    loop {
        if tracker.idle_for() >= limit {
            return;
        }
        tokio::time::sleep(IDLE_TICK).await;
    }
}

/// A response body that keeps its request in flight until it is sent.
struct Tracked {
    inner: Body,
    _guard: InFlight,
}

impl HttpBody for Tracked {
    type Data = Bytes;
    type Error = axum::Error;

    fn poll_frame(
        mut self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<Result<Frame<Bytes>, axum::Error>>> {
        Pin::new(&mut self.inner).poll_frame(cx)
    }

    fn is_end_stream(&self) -> bool {
        self.inner.is_end_stream()
    }

    fn size_hint(&self) -> SizeHint {
        self.inner.size_hint()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_request_in_flight_keeps_the_service_busy_until_its_body_is_gone() {
        let t = Arc::new(Tracker::default());
        let guard = t.start();
        std::thread::sleep(Duration::from_millis(20));
        assert_eq!(t.idle_for(), Duration::ZERO);
        let second = t.start();
        drop(guard);
        assert_eq!(t.idle_for(), Duration::ZERO, "one is still in flight");
        drop(second);
        std::thread::sleep(Duration::from_millis(20));
        let idle = t.idle_for();
        assert!(
            idle >= Duration::from_millis(20) && idle < Duration::from_secs(5),
            "{idle:?}"
        );
    }
}
