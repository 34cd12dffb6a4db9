//! `HttpFetcher` against a hand-written HTTP/1.1 server on 127.0.0.1: bodies and
//! `Last-Modified`, error statuses, redirects, dropped and refused connections, and the fetched
//! body flowing through `--checksum` verification and `apply_copy`. Nothing but loopback is
//! contacted.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::os::unix::fs::MetadataExt;
use std::sync::{Arc, Mutex};

use sha2::{Digest as _, Sha256};
use strata::exec::copy::{apply_copy, verify_checksum, Fetch, HttpFetcher};
use strata::plan::copy::{plan_copy, CopyError, CopyRequest, FsTree, NoExcludes, PlanContext};

const LAST_MODIFIED: &str = "Sun, 06 Nov 1994 08:49:37 GMT";
/// Larger than ureq's 10 MiB `read_to_vec` default, so a capped read would show.
const BIG: usize = 11 * 1024 * 1024;

fn small_body() -> Vec<u8> {
    b"hello from the test server\n".to_vec()
}

fn big_body() -> Vec<u8> {
    (0..BIG).map(|i| (i % 251) as u8).collect()
}

/// A server on a free loopback port; it records each request's path and User-Agent.
struct Server {
    base: String,
    seen: Arc<Mutex<Vec<(String, String)>>>,
}

fn serve() -> Server {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    let seen = Arc::new(Mutex::new(Vec::new()));
    let log = Arc::clone(&seen);
    // Runs until the test process exits.
    std::thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(conn) = conn else { continue };
            let log = Arc::clone(&log);
            std::thread::spawn(move || answer(conn, &log));
        }
    });
    Server { base, seen }
}

fn answer(conn: TcpStream, log: &Mutex<Vec<(String, String)>>) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut request_line = String::new();
    if reader.read_line(&mut request_line).is_err() {
        return;
    }
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_string();
    let mut user_agent = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap_or(0) == 0 || line == "\r\n" {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            if name.eq_ignore_ascii_case("user-agent") {
                user_agent = value.trim().to_string();
            }
        }
    }
    log.lock().unwrap().push((path.clone(), user_agent));

    let mut conn = conn;
    let (head, body): (String, Vec<u8>) = match path.as_str() {
        "/file" => (
            format!("HTTP/1.1 200 OK\r\nLast-Modified: {LAST_MODIFIED}\r\n"),
            small_body(),
        ),
        "/plain" => ("HTTP/1.1 200 OK\r\n".into(), b"no date".to_vec()),
        "/big" => ("HTTP/1.1 200 OK\r\n".into(), big_body()),
        "/missing" => ("HTTP/1.1 404 Not Found\r\n".into(), b"nope".to_vec()),
        "/broken" => (
            "HTTP/1.1 500 Internal Server Error\r\n".into(),
            b"oops".to_vec(),
        ),
        "/moved" => (
            "HTTP/1.1 301 Moved Permanently\r\nLocation: /file\r\n".into(),
            Vec::new(),
        ),
        "/loop" => (
            "HTTP/1.1 302 Found\r\nLocation: /loop\r\n".into(),
            Vec::new(),
        ),
        // Hang up without a byte of response.
        "/close" => return,
        _ => ("HTTP/1.1 400 Bad Request\r\n".into(), Vec::new()),
    };
    let head = format!(
        "{head}Content-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = conn.write_all(head.as_bytes());
    let _ = conn.write_all(&body);
}

fn fetch_err(url: &str) -> (String, String) {
    match HttpFetcher::new().fetch(url) {
        Err(CopyError::Fetch { url, message }) => (url, message),
        other => panic!("{url}: expected a fetch error, got {other:?}"),
    }
}

#[test]
fn body_and_last_modified() {
    let server = serve();
    let got = HttpFetcher::new()
        .fetch(&format!("{}/file", server.base))
        .unwrap();
    assert_eq!(got.body, small_body());
    assert_eq!(got.last_modified.as_deref(), Some(LAST_MODIFIED));

    let plain = HttpFetcher::new()
        .fetch(&format!("{}/plain", server.base))
        .unwrap();
    assert_eq!(plain.body, b"no date");
    assert_eq!(plain.last_modified, None);

    let seen = server.seen.lock().unwrap();
    assert_eq!(seen[0].0, "/file");
    assert_eq!(
        seen[0].1,
        format!("strata/{}", env!("CARGO_PKG_VERSION")),
        "User-Agent"
    );
}

#[test]
fn large_body_is_read_whole() {
    let server = serve();
    let got = HttpFetcher::new()
        .fetch(&format!("{}/big", server.base))
        .unwrap();
    assert_eq!(got.body.len(), BIG);
    assert!(got.body == big_body(), "big body differs");
}

#[test]
fn error_statuses_name_status_and_url() {
    let server = serve();
    for (path, status) in [
        ("/missing", "404 Not Found"),
        ("/broken", "500 Internal Server Error"),
    ] {
        let url = format!("{}{path}", server.base);
        let (err_url, message) = fetch_err(&url);
        assert_eq!(err_url, url);
        assert!(message.contains(status), "{path}: {message}");
        let shown = CopyError::Fetch {
            url: err_url,
            message,
        }
        .to_string();
        assert!(
            shown.contains(&url) && shown.contains(status),
            "{path}: {shown}"
        );
    }
}

#[test]
fn redirect_is_followed() {
    let server = serve();
    let got = HttpFetcher::new()
        .fetch(&format!("{}/moved", server.base))
        .unwrap();
    assert_eq!(got.body, small_body());
    assert_eq!(got.last_modified.as_deref(), Some(LAST_MODIFIED));
    let paths: Vec<String> = server
        .seen
        .lock()
        .unwrap()
        .iter()
        .map(|(p, _)| p.clone())
        .collect();
    assert_eq!(paths, ["/moved", "/file"]);
}

#[test]
fn redirect_loop_stops() {
    let server = serve();
    let (_, message) = fetch_err(&format!("{}/loop", server.base));
    assert!(message.contains("redirects"), "{message}");
    let hits = server.seen.lock().unwrap().len();
    assert!((10..=12).contains(&hits), "{hits} requests for a loop");
}

#[test]
fn closed_connection_is_an_error() {
    let server = serve();
    let (_, message) = fetch_err(&format!("{}/close", server.base));
    assert!(message.contains("connection closed"), "{message}");
}

#[test]
fn refused_connection_names_the_cause() {
    // A port that was just free: bind, note it, release it.
    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let (_, message) = fetch_err(&format!("http://127.0.0.1:{port}/x"));
    assert!(message.contains("connection refused"), "{message}");
}

#[test]
fn https_to_a_plain_server_fails_cleanly() {
    // Exercises the rustls/platform-verifier setup: a handshake against plain HTTP must come
    // back as an error, not a panic over a missing crypto provider or root store.
    let server = serve();
    let url = format!("{}/file", server.base).replace("http://", "https://");
    let (err_url, message) = fetch_err(&url);
    assert_eq!(err_url, url);
    assert!(!message.is_empty());
}

#[test]
fn fetched_body_meets_checksum() {
    let server = serve();
    let url = format!("{}/file", server.base);
    let got = HttpFetcher::new().fetch(&url).unwrap();
    let hex: String = Sha256::digest(small_body())
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect();
    verify_checksum(&url, &got.body, &format!("sha256:{hex}")).unwrap();
    let wrong = format!("sha256:{}", "0".repeat(64));
    match verify_checksum(&url, &got.body, &wrong) {
        Err(CopyError::ChecksumMismatch {
            url: u,
            expected,
            actual,
        }) => {
            assert_eq!(u, url);
            assert_eq!(expected, wrong);
            assert_eq!(actual, format!("sha256:{hex}"));
        }
        other => panic!("expected a checksum mismatch, got {other:?}"),
    }
}

/// `ADD [--checksum] http://127.0.0.1:…/file /dl/f` planned and applied with the real fetcher.
#[test]
fn add_url_through_apply_copy() {
    let server = serve();
    let url = format!("{}/file", server.base);
    let src = tempfile::tempdir().unwrap();
    let run = |checksum: Option<String>| {
        let rootfs = tempfile::tempdir().unwrap();
        let req = CopyRequest {
            sources: vec![url.clone()],
            dest: "/dl/f".into(),
            workdir: "/".into(),
            is_add: true,
            checksum,
            ..Default::default()
        };
        let tree = FsTree::new(src.path());
        let ctx = PlanContext {
            passwd: &[],
            groups: &[],
            exclude: &NoExcludes,
        };
        let items = plan_copy(&tree, &req, &ctx)?;
        let fetcher = HttpFetcher::new();
        apply_copy(&tree, rootfs.path(), &items, Some(&fetcher))?;
        Ok::<_, CopyError>(rootfs)
    };

    let rootfs = run(None).unwrap();
    let file = rootfs.path().join("dl/f");
    assert_eq!(std::fs::read(&file).unwrap(), small_body());
    // Last-Modified became the mtime (784111777 = Sun, 06 Nov 1994 08:49:37 GMT).
    assert_eq!(std::fs::metadata(&file).unwrap().mtime(), 784111777);

    let wrong = format!("sha256:{}", "a".repeat(64));
    match run(Some(wrong)) {
        Err(CopyError::ChecksumMismatch { url: u, .. }) => assert_eq!(u, url),
        Err(e) => panic!("expected a checksum mismatch, got {e}"),
        Ok(_) => panic!("a wrong checksum was accepted"),
    }
}
