//! The Bearer flow end to end against a fake registry + token service on 127.0.0.1 (plain HTTP,
//! so the HTTPS attempt fails first and the loopback fallback is exercised too).

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::{Arc, Mutex};

use super::*;

const TOKEN: &str = "good-token";

/// One request as the fake saw it: path and Authorization header.
type Seen = Arc<Mutex<Vec<(String, String)>>>;

fn serve(listener: TcpListener, seen: Seen) {
    let port = listener.local_addr().unwrap().port();
    for stream in listener.incoming() {
        let Ok(stream) = stream else { return };
        let mut first = [0u8; 1];
        // A TLS ClientHello (0x16) gets the connection closed, as a plain-HTTP server would.
        if stream.peek(&mut first).is_err() || first[0] == 0x16 {
            continue;
        }
        handle(stream, port, &seen);
    }
}

fn handle(stream: TcpStream, port: u16, seen: &Seen) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    let mut request_line = String::new();
    reader.read_line(&mut request_line).unwrap();
    let path = request_line
        .split_whitespace()
        .nth(1)
        .unwrap_or("")
        .to_string();
    let mut auth = String::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).unwrap() == 0 || line == "\r\n" {
            break;
        }
        if let Some((k, v)) = line.split_once(':') {
            if k.eq_ignore_ascii_case("authorization") {
                auth = v.trim().to_string();
            }
        }
    }
    seen.lock().unwrap().push((path.clone(), auth.clone()));
    let good_basic = Credential::password("alice", "right").basic_auth();
    let (status, extra, body) = if path == "/v2/" {
        if auth == format!("Bearer {TOKEN}") {
            ("200 OK", String::new(), "{}".to_string())
        } else {
            (
                "401 Unauthorized",
                format!(
                    "WWW-Authenticate: Bearer realm=\"http://127.0.0.1:{port}/token\",service=\"fake registry\"\r\n"
                ),
                r#"{"errors":[{"code":"UNAUTHORIZED","message":"authentication required"}]}"#
                    .to_string(),
            )
        }
    } else if path == "/token?service=fake%20registry&account=alice" && auth == good_basic {
        ("200 OK", String::new(), format!(r#"{{"token":"{TOKEN}"}}"#))
    } else {
        (
            "401 Unauthorized",
            String::new(),
            r#"{"details":"incorrect username or password"}"#.to_string(),
        )
    };
    let mut stream = stream;
    let _ = write!(
        stream,
        "HTTP/1.1 {status}\r\n{extra}Content-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
}

fn fake_registry() -> (String, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let host = format!("127.0.0.1:{}", listener.local_addr().unwrap().port());
    let seen: Seen = Arc::default();
    let s = seen.clone();
    std::thread::spawn(move || serve(listener, s));
    (host, seen)
}

#[test]
fn bearer_token_flow_accepts_the_right_password() {
    let (host, seen) = fake_registry();
    verify_login(&host, &Credential::password("alice", "right"), &[]).unwrap();
    let seen = seen.lock().unwrap().clone();
    let paths: Vec<&str> = seen.iter().map(|(p, _)| p.as_str()).collect();
    assert_eq!(
        paths,
        [
            "/v2/",
            "/token?service=fake%20registry&account=alice",
            "/v2/"
        ]
    );
    // The password goes only to the token service; the registry sees the token.
    assert_eq!(seen[0].1, "");
    assert!(seen[1].1.starts_with("Basic "));
    assert_eq!(seen[2].1, format!("Bearer {TOKEN}"));
}

#[test]
fn bearer_token_flow_reports_the_token_services_words() {
    let (host, _) = fake_registry();
    let err = verify_login(&host, &Credential::password("alice", "wrong"), &[]).unwrap_err();
    assert_eq!(
        err.to_string(),
        "unauthorized: incorrect username or password"
    );
    assert!(matches!(err, VerifyError::Unauthorized { .. }));
}
