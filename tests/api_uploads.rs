//! Uploads that claim 10 GiB and stop short, on every endpoint that takes a tar body: the
//! service streams them (its memory stays small while they arrive), stays up for others, and
//! keeps nothing of them in the store once the client has gone.

mod api_support;
mod common;

use std::io::Write;
use std::os::unix::net::UnixStream;
use std::time::{Duration, Instant};

use api_support::{rss_kb, Service};
use common::Strata;

const TEN_GIB: u64 = 10 << 30;
/// What is sent before the client gives up: more than the memory the service may use.
const SENT: usize = 160 << 20;

/// Entries of the store's temp area (`store::layout::TMP_DIR`).
fn tmp_entries(s: &Strata) -> Vec<String> {
    std::fs::read_dir(s.root.join("tmp"))
        .map(|d| {
            d.filter_map(Result::ok)
                .map(|e| e.file_name().to_string_lossy().into_owned())
                .collect()
        })
        .unwrap_or_default()
}

/// POSTs a tar declared as 10 GiB (one file of that size) to `path`, sends `SENT` bytes of
/// it and hangs up; returns the service's largest RSS seen meanwhile, in kB.
fn cut_upload(svc: &Service, path: &str) -> u64 {
    let mut conn = UnixStream::connect(&svc.sock).unwrap();
    conn.set_write_timeout(Some(Duration::from_secs(10)))
        .unwrap();
    write!(
        conn,
        "POST {path} HTTP/1.1\r\nHost: strata\r\nContent-Type: application/x-tar\r\n\
         Content-Length: {TEN_GIB}\r\n\r\n"
    )
    .unwrap();
    let mut header = tar::Header::new_gnu();
    header.set_path("big").unwrap();
    header.set_size(TEN_GIB - 1024);
    header.set_mode(0o644);
    header.set_cksum();
    conn.write_all(header.as_bytes()).unwrap();
    // Not all zeros: a run of zero blocks would read as the archive's end.
    let chunk: Vec<u8> = (0..1 << 20).map(|i: u32| (i % 251) as u8 | 1).collect();
    let pid = svc.child.id();
    let mut peak = rss_kb(pid);
    let mut sent = 0;
    for i in 0..SENT / chunk.len() {
        if conn.write_all(&chunk).is_err() {
            break;
        }
        sent += chunk.len();
        if i % 8 == 0 {
            peak = peak.max(rss_kb(pid));
        }
    }
    peak = peak.max(rss_kb(pid));
    // Refusing early would make the memory check say nothing: a valid tar is read as it comes.
    assert_eq!(
        sent, SENT,
        "{path}: the service stopped reading after {sent} bytes"
    );
    drop(conn);
    peak
}

fn assert_nothing_kept(s: &Strata, svc: &Service, what: &str) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while !tmp_entries(s).is_empty() && Instant::now() < deadline {
        std::thread::sleep(Duration::from_millis(100));
    }
    assert_eq!(
        tmp_entries(s),
        Vec::<String>::new(),
        "{what} left temp files"
    );
    assert_eq!(svc.curl(&[], "/_ping").status, 200, "after {what}");
    let images = svc.curl(&[], "/images/json?all=1").json();
    assert_eq!(images, serde_json::json!([]), "after {what}");
}

#[test]
fn ten_gib_uploads_cut_short_are_streamed_and_leave_nothing() {
    let s = Strata::new();
    let svc = Service::start(&s, &["--time", "0"]);
    for path in [
        "/v1.50/build?t=cut-build",
        "/v1.50/images/load",
        "/v1.50/images/create?fromSrc=-&repo=cut-import",
    ] {
        let peak = cut_upload(&svc, path);
        assert!(
            peak < 100 * 1024,
            "{path}: the service grew to {peak} kB while {} MiB arrived",
            SENT >> 20
        );
        assert_nothing_kept(&s, &svc, path);
    }
}

#[test]
fn bad_json_bodies_are_400s_naming_the_field_and_create_nothing() {
    let s = Strata::new();
    s.import_busybox("busybox");
    let svc = Service::start(&s, &["--time", "0"]);
    let post = |body: &str| svc.post_json("/v1.50/containers/create?name=badjson", body);
    let r = post("{\"Image\": \"busybox\",");
    assert_eq!(r.status, 400, "{r:?}");
    assert!(
        r.json()["message"]
            .as_str()
            .unwrap()
            .starts_with("invalid JSON"),
        "{r:?}"
    );
    let r = post("{\"Image\": \"busybox\", \"HostConfig\": {\"Memory\": \"lots\"}}");
    assert_eq!(r.status, 400, "{r:?}");
    let msg = r.json()["message"].as_str().unwrap().to_string();
    assert!(msg.contains("HostConfig.Memory"), "{msg}");
    let r = post("{\"Image\": 7}");
    assert_eq!(r.status, 400, "{r:?}");
    assert!(
        r.json()["message"].as_str().unwrap().contains("Image"),
        "{r:?}"
    );
    let listed = svc.curl(&[], "/containers/json?all=1").json();
    assert_eq!(listed, serde_json::json!([]));
    // The same name is free: nothing was half-created.
    let r = post("{\"Image\": \"busybox\", \"Cmd\": [\"true\"]}");
    assert_eq!(r.status, 201, "{r:?}");
}
