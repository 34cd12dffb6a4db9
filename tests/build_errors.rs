//! Bad input fails the build with a located error, a non-zero exit, and nothing recorded for
//! the failed step.

mod build_support;
mod common;

use std::fs;
use std::io::{Read, Write};
use std::net::TcpListener;

use build_support::Bench;

/// Cache entries whose description is `text` (the failed step must have none).
fn recorded(b: &Bench, text: &str) -> usize {
    let Ok(rd) = fs::read_dir(b.s.root.join("cache-v1")) else {
        return 0;
    };
    rd.filter(|e| {
        let body = fs::read_to_string(e.as_ref().unwrap().path()).unwrap();
        let v: serde_json::Value = serde_json::from_str(&body).unwrap();
        v["description"] == text
    })
    .count()
}

#[test]
fn a_missing_source_file_is_located_and_records_nothing() {
    let b = Bench::new();
    b.files(&[("present.txt", "x")]);
    b.dockerfile("FROM busybox\nCOPY present.txt /\nCOPY missing.txt /\n");
    let err = b.build_fails(&["-t", "x"]);
    assert!(err.contains("Dockerfile:3"), "{err}");
    assert!(
        err.contains("missing.txt") && err.contains("not found"),
        "{err}"
    );
    assert_eq!(recorded(&b, "COPY missing.txt /"), 0);
    assert_eq!(recorded(&b, "COPY present.txt /"), 1);
    let images = b.s.ok(&["images"]);
    assert!(
        !images.lines().any(|l| l.starts_with("x ")),
        "no image named x: {images}"
    );
}

#[test]
fn copy_from_a_stage_that_does_not_exist_is_an_error() {
    let b = Bench::new();
    // As in Docker, a --from that names no stage is an image; `--pull=never` keeps the test
    // off the network, so the missing image is reported at the COPY.
    b.dockerfile("FROM busybox AS one\nFROM busybox\nCOPY --from=nosuchstage /x /x\n");
    let err = b.build_fails(&["--pull=never", "-t", "x"]);
    assert!(err.contains("Dockerfile:3"), "{err}");
    assert!(
        err.contains("nosuchstage") && err.contains("not in the store"),
        "{err}"
    );
    // Pulled from a registry that is not there: the reference is named.
    let dead = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    b.dockerfile(&format!(
        "FROM busybox\nCOPY --from=127.0.0.1:{dead}/nosuchstage /x /x\n"
    ));
    let err = b.build_fails(&["-t", "x"]);
    assert!(
        err.contains(&format!("127.0.0.1:{dead}/nosuchstage")),
        "{err}"
    );
    assert!(err.contains("unreachable"), "{err}");
}

#[test]
fn a_stage_cycle_is_an_error() {
    let b = Bench::new();
    // A stage that copies from itself; a forward reference (the only other way to a cycle)
    // is refused outright, as the second case shows.
    b.dockerfile("FROM busybox AS a\nCOPY --from=a /y /y\n");
    let err = b.build_fails(&["-t", "x"]);
    assert!(err.contains("Dockerfile:2:13"), "{err}");
    assert!(err.contains("refers to itself"), "{err}");
    b.dockerfile(
        "FROM busybox AS a\nCOPY --from=b /x /x\nFROM busybox AS b\nCOPY --from=a /y /y\n",
    );
    let err = b.build_fails(&["-t", "x"]);
    assert!(err.contains("Dockerfile:2:13"), "{err}");
    assert!(err.contains("defined later"), "{err}");
}

#[test]
fn an_archive_member_escaping_the_destination_is_refused() {
    let b = Bench::new();
    // A tar whose member climbs out with `..`, made by hand (tar(1) strips such names).
    let mut tar = tar::Builder::new(Vec::new());
    let mut h = tar::Header::new_gnu();
    h.set_size(4);
    h.set_mode(0o644);
    h.set_entry_type(tar::EntryType::Regular);
    {
        let name = b"../../../../escaped";
        let gnu = h.as_gnu_mut().unwrap();
        gnu.name[..name.len()].copy_from_slice(name);
    }
    h.set_cksum();
    tar.append(&h, &b"evil"[..]).unwrap();
    fs::write(b.ctx.join("evil.tar"), tar.into_inner().unwrap()).unwrap();
    b.dockerfile("FROM busybox\nADD evil.tar /deep/dir/\n");
    let err = b.build_fails(&["-t", "x"]);
    assert!(err.contains("Dockerfile:2"), "{err}");
    assert!(err.contains("outside"), "{err}");
    assert_eq!(recorded(&b, "ADD evil.tar /deep/dir/"), 0);
}

/// Serves 404 for everything on a loopback port; returns the base URL.
fn not_found_server() -> String {
    let l = TcpListener::bind("127.0.0.1:0").unwrap();
    let url = format!("http://{}", l.local_addr().unwrap());
    std::thread::spawn(move || {
        for c in l.incoming() {
            let Ok(mut c) = c else { continue };
            let mut buf = [0u8; 4096];
            let _ = c.read(&mut buf);
            let _ = c.write_all(
                b"HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\nConnection: close\r\n\r\n",
            );
        }
    });
    url
}

#[test]
fn an_add_url_that_fails_is_located_and_records_nothing() {
    let b = Bench::new();
    let url = not_found_server();
    b.dockerfile(&format!("FROM busybox\nADD {url}/file.txt /file.txt\n"));
    let err = b.build_fails(&["-t", "x"]);
    assert!(err.contains("Dockerfile:2"), "{err}");
    assert!(err.contains("404"), "{err}");
    assert_eq!(recorded(&b, &format!("ADD {url}/file.txt /file.txt")), 0);
}

#[test]
fn a_failing_run_names_the_command_exit_code_and_output() {
    let b = Bench::new();
    b.dockerfile("FROM busybox\nRUN echo first line && echo oops >&2 && exit 42\n");
    let err = b.build_fails(&["-t", "x"]);
    assert!(err.contains("Dockerfile:2"), "{err}");
    assert!(err.contains("exit code: 42"), "{err}");
    assert!(err.contains("oops"), "{err}");
    assert_eq!(
        recorded(&b, "RUN echo first line && echo oops >&2 && exit 42"),
        0
    );
    // Nothing of the failed step is left mounted or in the store's tmp.
    let mounts = fs::read_to_string("/proc/self/mountinfo").unwrap();
    assert!(!mounts.contains(b.s.root.to_str().unwrap()), "{mounts}");
    let tmp: Vec<_> = fs::read_dir(b.s.root.join("tmp"))
        .map(|d| d.map(|e| e.unwrap().file_name()).collect())
        .unwrap_or_default();
    assert!(tmp.is_empty(), "{tmp:?}");
}

#[test]
fn a_missing_base_image_says_so() {
    let b = Bench::new();
    b.dockerfile("FROM nosuchimage:1.0\nRUN true\n");
    let err = b.build_fails(&["--pull=never", "-t", "x"]);
    assert!(err.contains("Dockerfile:1"), "{err}");
    assert!(
        err.contains("nosuchimage:1.0") && err.contains("not in the store"),
        "{err}"
    );
}
