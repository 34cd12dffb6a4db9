//! Hostile Dockerfiles through the real binary (#16, point 9): deep nesting, bytes that are not
//! UTF-8, and EXPOSE/STOPSIGNAL values Docker refuses each give a located `FILE:LINE:COL` error
//! and exit 1 — from `check`, `build` and `debug` alike — instead of a crash or a bad image.

mod common;

use std::fs;
use std::path::{Path, PathBuf};

use common::Strata;

/// A context directory holding `Dockerfile` with these bytes.
fn context(s: &Strata, name: &str, dockerfile: &[u8]) -> PathBuf {
    let dir = s.scratch(name);
    fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    dir
}

/// `strata check DIR`: (exit code, stdout + stderr).
fn check(s: &Strata, dir: &Path) -> (Option<i32>, String) {
    let out = s.run_cmd(s.command(&["check", dir.to_str().unwrap()]));
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.code(), text)
}

/// `strata build DIR` must fail; returns stderr. Planning fails before any base is needed.
fn build_fails(s: &Strata, dir: &Path) -> String {
    s.fails(&[
        "build",
        "--progress=plain",
        "--pull=never",
        "-t",
        "bad",
        dir.to_str().unwrap(),
    ])
}

/// Neither a Rust panic nor a stack overflow: a refusal.
fn assert_clean(text: &str) {
    for crash in ["overflowed its stack", "panicked", "fatal runtime error"] {
        assert!(!text.contains(crash), "{text}");
    }
}

fn nested(open: &str, n: usize, inner: &str) -> String {
    format!("{}{inner}{}", open.repeat(n), "}".repeat(n))
}

#[test]
fn deep_expansion_is_a_located_error_not_a_crash() {
    let s = Strata::new();
    let word = nested("${a:-", 8_000, "x");
    // The 129th `${` is at character 640 of the word.
    let err = s.fails(&["debug", "expand", &word]);
    assert_clean(&err);
    assert!(err.contains("column 641"), "{err}");
    assert!(err.contains("nested more than 128 deep"), "{err}");
    assert!(err.len() < 1_000, "the word is quoted cut short: {err}");

    // ENV (value at column 7) and FROM (image at column 6).
    let cases = [
        (
            format!("FROM busybox\nENV A={word}\n"),
            "Dockerfile:2:647: error: cannot expand",
        ),
        (
            format!("FROM {}\n", nested("${a:-", 8_000, "busybox")),
            "Dockerfile:1:646: error: cannot expand",
        ),
    ];
    for (i, (dockerfile, want)) in cases.iter().enumerate() {
        let dir = context(&s, &format!("deep{i}"), dockerfile.as_bytes());
        let (code, out) = check(&s, &dir);
        assert_clean(&out);
        assert_eq!(code, Some(1), "{out}");
        assert!(out.contains(want), "{out}");
        assert!(out.contains("nested more than 128 deep"), "{out}");
        let err = build_fails(&s, &dir);
        assert_clean(&err);
        assert!(err.contains(want), "{err}");
    }
}

#[test]
fn deep_onbuild_and_json_parse_without_overflow() {
    let s = Strata::new();
    let dir = context(
        &s,
        "onbuild",
        format!("FROM busybox\n{}RUN x\n", "ONBUILD ".repeat(8_000)).as_bytes(),
    );
    let (code, out) = check(&s, &dir);
    assert_clean(&out);
    assert_eq!(code, Some(1), "{out}");
    assert!(
        out.contains("Dockerfile:2:1025: error: ONBUILD nested more than 128 deep"),
        "{out}"
    );
    let err = build_fails(&s, &dir);
    assert!(err.contains("Dockerfile:2:1025"), "{err}");

    // 8,000 nested arrays are valid JSON holding no string: BuildKit's error.
    let json = format!("{}{}", "[".repeat(8_000), "]".repeat(8_000));
    let dir = context(&s, "json", format!("FROM busybox\nCMD {json}\n").as_bytes());
    let mut cmd = s.command(&["debug", "parse", "-f", "Dockerfile"]);
    cmd.current_dir(&dir);
    let out = s.run_cmd(cmd);
    let text = String::from_utf8_lossy(&out.stderr);
    assert_clean(&text);
    assert!(
        text.contains("Dockerfile:2:5: error: when using JSON array syntax"),
        "{text}"
    );
}

#[test]
fn a_dockerfile_that_is_not_utf8_names_file_line_and_byte() {
    let s = Strata::new();
    let dir = context(&s, "utf8", b"FROM busybox\nRUN echo \"caf\xc3\xa9 \xff\"\n");
    let want = "2:16: error: the Dockerfile is not valid UTF-8: byte 0xff at offset 29";
    let (code, out) = check(&s, &dir);
    assert_eq!(code, Some(1), "{out}");
    assert!(out.contains(&format!("/Dockerfile:{want}")), "{out}");
    let err = build_fails(&s, &dir);
    assert!(err.contains(&format!("/Dockerfile:{want}")), "{err}");
    // From stdin (`-f -`) the file is called Dockerfile.
    let mut cmd = s.command(&[
        "build",
        "--progress=plain",
        "-f",
        "-",
        dir.to_str().unwrap(),
    ]);
    cmd.stdin(std::process::Stdio::piped());
    let mut child = cmd
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    use std::io::Write;
    child
        .stdin
        .take()
        .unwrap()
        .write_all(b"FROM busybox\nRUN echo \"caf\xc3\xa9 \xff\"\n")
        .unwrap();
    let out = child.wait_with_output().unwrap();
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains(&format!("Dockerfile:{want}")), "{err}");
    let err = s.fails(&[
        "debug",
        "parse",
        "-f",
        dir.join("Dockerfile").to_str().unwrap(),
    ]);
    assert!(err.contains(want), "{err}");
}

#[test]
fn expose_and_stopsignal_are_checked_as_docker_does() {
    let s = Strata::new();
    // Accepted by both check and the plan.
    let good = "FROM busybox\nARG P=8000-8010\nEXPOSE 80 80/tcp 53/udp $P/tcp 132/sctp 9/UDP\n\
                STOPSIGNAL SIGTERM\nSTOPSIGNAL term\nSTOPSIGNAL 9\nSTOPSIGNAL SIGRTMIN+3\n";
    let dir = context(&s, "good", good.as_bytes());
    let (code, out) = check(&s, &dir);
    assert_eq!(code, Some(0), "{out}");
    s.import_busybox("busybox");
    s.ok(&[
        "build",
        "--progress=plain",
        "-t",
        "good",
        dir.to_str().unwrap(),
    ]);
    let inspect: serde_json::Value = serde_json::from_str(&s.ok(&["inspect", "good"])).unwrap();
    let config = &inspect[0]["Config"];
    let mut ports: Vec<&str> = config["ExposedPorts"]
        .as_object()
        .unwrap()
        .keys()
        .map(String::as_str)
        .collect();
    ports.sort();
    let mut want = vec!["132/sctp", "53/udp", "80/tcp", "9/udp"];
    let range: Vec<String> = (8000..=8010).map(|p| format!("{p}/tcp")).collect();
    want.extend(range.iter().map(String::as_str));
    want.sort();
    assert_eq!(ports, want);
    assert_eq!(config["StopSignal"], "SIGRTMIN+3");
    // (Dockerfile, located error)
    let cases = [
        (
            "FROM busybox\nEXPOSE 80/icmp\n",
            "Dockerfile:2:8: error: invalid proto: icmp",
        ),
        (
            "FROM busybox\nEXPOSE 80 0-70000\n",
            "Dockerfile:2:11: error: invalid containerPort: 0-70000",
        ),
        (
            "FROM busybox\nEXPOSE 90-80\n",
            "Dockerfile:2:8: error: invalid containerPort: 90-80",
        ),
        (
            "FROM busybox\nEXPOSE http\n",
            "Dockerfile:2:8: error: invalid containerPort: http",
        ),
        (
            "FROM busybox\nARG P=99999\nEXPOSE ${P}/udp\n",
            "Dockerfile:3:8: error: invalid containerPort: 99999",
        ),
        (
            "FROM busybox\nSTOPSIGNAL SIGFOO\n",
            "Dockerfile:2:12: error: invalid signal: SIGFOO",
        ),
        (
            "FROM busybox\nARG S=0\nSTOPSIGNAL $S\n",
            "Dockerfile:3:12: error: invalid signal: 0",
        ),
    ];
    for (i, (dockerfile, want)) in cases.iter().enumerate() {
        let dir = context(&s, &format!("bad{i}"), dockerfile.as_bytes());
        let (code, out) = check(&s, &dir);
        assert_eq!(code, Some(1), "{dockerfile}{out}");
        assert!(out.contains(want), "{dockerfile}{out}");
        let err = build_fails(&s, &dir);
        assert!(err.contains(want), "{dockerfile}{err}");
    }
}
