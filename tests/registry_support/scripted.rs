//! A scripted HTTP server on 127.0.0.1 standing in for a registry (or its token server) whose
//! answers a test decides request by request; it records what it was sent.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::thread;

/// One request the server saw.
#[derive(Debug, Clone)]
pub struct Seen {
    /// `GET /v2/… HTTP/1.1`.
    pub line: String,
    pub auth: Option<String>,
    pub body_len: u64,
}

pub type Log = Arc<Mutex<Vec<Seen>>>;

/// What a handler answers: status, extra headers, body.
pub type Answer = (u16, Vec<(&'static str, String)>, String);

/// Serves one request per connection, answered by `respond(request line, Authorization, port)`.
pub fn serve(respond: impl Fn(&str, Option<&str>, u16) -> Answer + Send + 'static) -> (u16, Log) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Log = Arc::default();
    let log = Arc::clone(&seen);
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            if reader.read_line(&mut line).is_err() {
                continue;
            }
            let (mut auth, mut len) = (None, 0u64);
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap_or(0) == 0 || h.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    if k.eq_ignore_ascii_case("authorization") {
                        auth = Some(v.trim().to_string());
                    } else if k.eq_ignore_ascii_case("content-length") {
                        len = v.trim().parse().unwrap_or(0);
                    }
                }
            }
            // Read the whole body so the client sees the answer, not a reset.
            let body_len =
                std::io::copy(&mut (&mut reader).take(len), &mut std::io::sink()).unwrap_or(0);
            let line = line.trim().to_string();
            let (status, headers, body) = respond(&line, auth.as_deref(), port);
            log.lock().unwrap().push(Seen {
                line,
                auth,
                body_len,
            });
            let mut out = format!(
                "HTTP/1.1 {status} X\r\nConnection: close\r\nContent-Type: application/json\r\nContent-Length: {}\r\n",
                body.len()
            );
            for (k, v) in headers {
                out.push_str(&format!("{k}: {v}\r\n"));
            }
            out.push_str("\r\n");
            out.push_str(&body);
            let _ = conn.write_all(out.as_bytes());
        }
    });
    (port, seen)
}
