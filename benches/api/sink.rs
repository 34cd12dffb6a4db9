//! The client's floor: a stand-in Engine API on a unix socket that answers at once, so the
//! same docker client timed against it shows what the client alone costs. It answers `/_ping`,
//! drains a `POST /build` body (the whole context, as the client uploads it) and says it built,
//! and answers `GET /containers/json` with a listing recorded from the real service, so `ps -a`
//! renders the same 200 rows. No real server can answer faster than this one, so a ratio
//! against it bounds what any server could reach with this client.

use std::io::{BufRead, BufReader, Read, Write};
use std::os::unix::net::{UnixListener, UnixStream};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread;

/// The sink's socket; the listener thread lives as long as the bench process.
pub struct Sink {
    pub sock: PathBuf,
}

/// Starts the sink on `dir/sink.sock`; `containers` is the body `GET /containers/json` gets.
pub fn start(dir: &Path, containers: Vec<u8>) -> Sink {
    let sock = dir.join("sink.sock");
    let _ = std::fs::remove_file(&sock);
    let listener = UnixListener::bind(&sock).expect("bind the sink socket");
    let containers = Arc::new(containers);
    thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            let containers = Arc::clone(&containers);
            thread::spawn(move || {
                let _ = serve(conn, &containers);
            });
        }
    });
    Sink { sock }
}

/// Answers the requests of one connection (the client keeps it alive) until it closes.
fn serve(conn: UnixStream, containers: &[u8]) -> std::io::Result<()> {
    let mut out = conn.try_clone()?;
    let mut r = BufReader::with_capacity(1 << 20, conn);
    loop {
        let mut line = String::new();
        if r.read_line(&mut line)? == 0 {
            return Ok(());
        }
        let mut words = line.split_whitespace();
        let method = words.next().unwrap_or_default().to_string();
        let target = words.next().unwrap_or_default().to_string();
        let (mut chunked, mut length) = (false, 0u64);
        loop {
            let mut h = String::new();
            if r.read_line(&mut h)? == 0 {
                return Ok(());
            }
            let h = h.trim_end();
            if h.is_empty() {
                break;
            }
            let (k, v) = h.split_once(':').unwrap_or((h, ""));
            match k.trim().to_ascii_lowercase().as_str() {
                "transfer-encoding" => chunked = v.trim().eq_ignore_ascii_case("chunked"),
                "content-length" => length = v.trim().parse().unwrap_or(0),
                _ => {}
            }
        }
        let drained = if chunked {
            drain_chunked(&mut r)?
        } else {
            std::io::copy(&mut (&mut r).take(length), &mut std::io::sink())?
        };
        let path = target.split('?').next().unwrap_or_default();
        let (kind, body): (&str, Vec<u8>) = if path.ends_with("/_ping") {
            ("text/plain", b"OK".to_vec())
        } else if path.ends_with("/build") {
            let id = "0".repeat(64);
            let text = format!(
                "{{\"stream\":\"drained {drained} bytes\\n\"}}\r\n\
                 {{\"aux\":{{\"ID\":\"sha256:{id}\"}}}}\r\n\
                 {{\"stream\":\"Successfully built {}\\n\"}}\r\n",
                &id[..12]
            );
            ("application/json", text.into_bytes())
        } else if path.ends_with("/containers/json") {
            ("application/json", containers.to_vec())
        } else {
            (
                "application/json",
                b"{\"message\":\"page not found\"}".to_vec(),
            )
        };
        let status = if kind == "application/json" && body.starts_with(b"{\"message\"") {
            "404 Not Found"
        } else {
            "200 OK"
        };
        let head = format!(
            "HTTP/1.1 {status}\r\nApi-Version: 1.41\r\nOstype: linux\r\n\
             Content-Type: {kind}\r\nContent-Length: {}\r\n\r\n",
            body.len()
        );
        out.write_all(head.as_bytes())?;
        if method != "HEAD" {
            out.write_all(&body)?;
        }
    }
}

/// Reads a chunked body to its end, discarding it; returns how many bytes it held.
fn drain_chunked(r: &mut impl BufRead) -> std::io::Result<u64> {
    let mut total = 0;
    loop {
        let mut size = String::new();
        r.read_line(&mut size)?;
        let hex = size.trim().split(';').next().unwrap_or_default();
        let n = u64::from_str_radix(hex, 16).map_err(std::io::Error::other)?;
        if n == 0 {
            // Trailers, if any, end with an empty line.
            loop {
                let mut t = String::new();
                if r.read_line(&mut t)? == 0 || t.trim().is_empty() {
                    return Ok(total);
                }
            }
        }
        total += std::io::copy(&mut r.take(n), &mut std::io::sink())?;
        let mut crlf = String::new();
        r.read_line(&mut crlf)?;
    }
}
