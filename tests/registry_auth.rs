//! The client's auth flow against a scripted registry and token server on 127.0.0.1: a 401 with
//! a Bearer challenge, the token fetched with basic auth and cached, the request sent again; a
//! refused credential and a Basic challenge without one end as "unauthorized" with the server's
//! message, and no secret in any error.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::thread;

use strata::distribution::pull::fetch_manifest;
use strata::distribution::{BasicCredential, ClientConfig, RegistryClient, RegistryError};

/// One request the server saw: request line and Authorization header.
type Seen = Arc<Mutex<Vec<(String, Option<String>)>>>;

/// A server that answers each request (one per connection) with `respond(line, auth, port)`.
fn serve(
    respond: impl Fn(&str, Option<&str>, u16) -> (u16, Vec<(&'static str, String)>, String)
        + Send
        + 'static,
) -> (u16, Seen) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let seen: Seen = Arc::default();
    let log = Arc::clone(&seen);
    thread::spawn(move || {
        for conn in listener.incoming() {
            let Ok(mut conn) = conn else { return };
            let mut reader = BufReader::new(conn.try_clone().unwrap());
            let mut line = String::new();
            reader.read_line(&mut line).unwrap();
            let mut auth = None;
            loop {
                let mut h = String::new();
                if reader.read_line(&mut h).unwrap() == 0 || h.trim().is_empty() {
                    break;
                }
                if let Some((k, v)) = h.split_once(':') {
                    if k.eq_ignore_ascii_case("authorization") {
                        auth = Some(v.trim().to_string());
                    }
                }
            }
            let line = line.trim().to_string();
            let (status, headers, body) = respond(&line, auth.as_deref(), port);
            log.lock().unwrap().push((line, auth));
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

fn api_error(code: &str, message: &str) -> String {
    format!(r#"{{"errors":[{{"code":"{code}","message":"{message}"}}]}}"#)
}

/// A registry with a token server at `/token` accepting `user:s3cret` and issuing `tok-123`.
fn bearer_registry() -> (u16, Seen) {
    serve(|line, auth, port| {
        if line.starts_with("GET /token?") {
            // base64("user:s3cret")
            if auth == Some("Basic dXNlcjpzM2NyZXQ=") {
                return (200, vec![], r#"{"access_token":"tok-123"}"#.into());
            }
            return (
                401,
                vec![],
                api_error("UNAUTHORIZED", "bad credentials for user"),
            );
        }
        if auth == Some("Bearer tok-123") {
            return (
                404,
                vec![],
                api_error("MANIFEST_UNKNOWN", "manifest unknown"),
            );
        }
        let challenge = format!(
            r#"Bearer realm="http://127.0.0.1:{port}/token",service="test registry",scope="repository:app:pull""#
        );
        (
            401,
            vec![("WWW-Authenticate", challenge)],
            api_error("UNAUTHORIZED", "authentication required"),
        )
    })
}

fn client(port: u16, credential: Option<BasicCredential>) -> RegistryClient {
    RegistryClient::new(
        &format!("127.0.0.1:{port}"),
        ClientConfig {
            credential,
            extra_ca_files: vec![],
            plain_http: true,
        },
    )
    .unwrap()
}

fn cred(secret: &str) -> Option<BasicCredential> {
    Some(BasicCredential {
        username: "user".into(),
        secret: secret.into(),
    })
}

#[test]
fn bearer_token_is_fetched_once_and_the_request_retried() {
    let (port, seen) = bearer_registry();
    let c = client(port, cred("s3cret"));
    for _ in 0..2 {
        let err = fetch_manifest(&c, "app", "1", None).unwrap_err();
        assert!(
            matches!(err, RegistryError::ManifestUnknown { .. }),
            "{err}"
        );
    }
    let seen = seen.lock().unwrap().clone();
    let lines: Vec<&str> = seen.iter().map(|(l, _)| l.as_str()).collect();
    let token_requests: Vec<&&str> = lines.iter().filter(|l| l.contains("/token")).collect();
    assert_eq!(token_requests.len(), 1, "{lines:#?}");
    assert!(
        token_requests[0]
            .starts_with("GET /token?service=test%20registry&scope=repository%3Aapp%3Apull "),
        "{lines:#?}"
    );
    // Unauthenticated, token, retried with the token; then straight with the cached token.
    assert_eq!(lines.len(), 4, "{lines:#?}");
    assert_eq!(seen[0].1, None);
    assert_eq!(seen[2].1.as_deref(), Some("Bearer tok-123"));
    assert_eq!(seen[3].1.as_deref(), Some("Bearer tok-123"));
}

#[test]
fn refused_credentials_are_unauthorized_without_secrets() {
    let (port, _) = bearer_registry();
    let err = fetch_manifest(&client(port, cred("wrong-pass")), "app", "1", None).unwrap_err();
    assert!(matches!(err, RegistryError::Unauthorized { .. }), "{err}");
    let text = format!("{err} {err:?}");
    assert!(text.contains("bad credentials for user"), "{text}");
    assert!(
        !text.contains("wrong-pass") && !text.contains("dXNlcjp3cm9uZy1wYXNz"),
        "{text}"
    );

    let (port, seen) = serve(|_, auth, _| match auth {
        Some("Basic dXNlcjpzM2NyZXQ=") => (404, vec![], api_error("NAME_UNKNOWN", "no such repo")),
        _ => (
            401,
            vec![("WWW-Authenticate", r#"Basic realm="r""#.to_string())],
            api_error("UNAUTHORIZED", "login first"),
        ),
    });
    let err = fetch_manifest(&client(port, None), "app", "1", None).unwrap_err();
    assert!(
        err.to_string().contains("unauthorized: login first"),
        "{err}"
    );
    let err = fetch_manifest(&client(port, cred("s3cret")), "app", "1", None).unwrap_err();
    assert!(matches!(err, RegistryError::NameUnknown { .. }), "{err}");
    assert_eq!(seen.lock().unwrap().len(), 3);
}
