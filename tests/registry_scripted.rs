//! The client against a scripted registry and token server on 127.0.0.1, for what a real
//! registry will not do on demand: a 401 with a Bearer challenge, the token fetched with basic
//! auth and cached, the request sent again; a refused credential and a Basic challenge without
//! one end as "unauthorized" with the server's message, and no secret in any error; a registry
//! refusing chunked uploads gets one PUT instead.

mod registry_support;

use std::sync::atomic::{AtomicUsize, Ordering};

use strata::distribution::pull::fetch_manifest;
use strata::distribution::{BasicCredential, ClientConfig, RegistryClient, RegistryError};

use registry_support::scripted::{serve, Log};

fn api_error(code: &str, message: &str) -> String {
    format!(r#"{{"errors":[{{"code":"{code}","message":"{message}"}}]}}"#)
}

/// A registry with a token server at `/token` accepting `user:s3cret` and issuing `tok-123`.
fn bearer_registry() -> (u16, Log) {
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
    let lines: Vec<&str> = seen.iter().map(|r| r.line.as_str()).collect();
    let token_requests: Vec<&&str> = lines.iter().filter(|l| l.contains("/token")).collect();
    assert_eq!(token_requests.len(), 1, "{lines:#?}");
    assert!(
        token_requests[0]
            .starts_with("GET /token?service=test%20registry&scope=repository%3Aapp%3Apull "),
        "{lines:#?}"
    );
    // Unauthenticated, token, retried with the token; then straight with the cached token.
    assert_eq!(lines.len(), 4, "{lines:#?}");
    assert_eq!(seen[0].auth, None);
    assert_eq!(seen[2].auth.as_deref(), Some("Bearer tok-123"));
    assert_eq!(seen[3].auth.as_deref(), Some("Bearer tok-123"));
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

#[test]
fn refused_chunks_fall_back_to_one_put() {
    let dir = tempfile::tempdir().unwrap();
    let store = strata::store::Store::open(dir.path()).unwrap();
    let layer = vec![7u8; (8 << 20) + 1];
    let digest = store.write_blob(&layer).unwrap();
    let desc = strata::store::image::layer_descriptor(
        &digest,
        layer.len() as u64,
        "application/vnd.oci.image.layer.v1.tar",
    );
    let config =
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#;
    let local = strata::reference::Reference::parse("app:1").unwrap();
    store.commit_manifest(config, &[desc], &[local]).unwrap();

    let sessions = AtomicUsize::new(0);
    let (port, seen) = serve(move |line, _, _| {
        let method = line.split(' ').next().unwrap();
        match method {
            // A registry that cannot answer the existence check (its record of the blob torn
            // by a crash) still gets the blob: the check only saves an upload.
            "HEAD" => (500, vec![], api_error("UNKNOWN", "torn link file")),
            "POST" => {
                let n = sessions.fetch_add(1, Ordering::SeqCst);
                (202, vec![("Location", format!("/up/{n}"))], String::new())
            }
            "PATCH" => (405, vec![], api_error("UNSUPPORTED", "no chunks here")),
            "PUT" => (201, vec![], String::new()),
            _ => (500, vec![], String::new()),
        }
    });
    let remote = strata::reference::Reference::parse(&format!("127.0.0.1:{port}/app:1")).unwrap();
    let pushed = strata::distribution::push(&store, &client(port, None), "app:1", &remote).unwrap();
    assert_eq!(
        (pushed.uploaded, pushed.mounted, pushed.existing),
        (2, 0, 0)
    );

    let seen = seen.lock().unwrap().clone();
    let hex = digest.hex();
    let patch = seen
        .iter()
        .find(|r| r.line.starts_with("PATCH "))
        .expect("a chunk was tried");
    let session = patch.line.split(' ').nth(1).unwrap().to_string();
    let put = seen
        .iter()
        .find(|r| r.line.contains(&format!("digest=sha256%3A{hex}")))
        .expect("the layer was PUT");
    assert!(!put.line.contains(&format!("{session}?")), "{seen:#?}");
    assert_eq!(put.body_len, layer.len() as u64, "{seen:#?}");
    assert!(seen
        .iter()
        .any(|r| r.line.starts_with("PUT /v2/app/manifests/1 ")));
}
