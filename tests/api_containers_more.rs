//! The remaining container and image endpoints of `strata system service` (archive, export,
//! changes, stats, update, commit, import), driven by the real docker CLI and by curl over the
//! test's own socket, in a temp store shared with the `strata` CLI. Containers use
//! `--network none`: nothing leaves loopback.

mod api_support;
mod common;

use std::fs;
use std::path::Path;

use api_support::Service;
use common::{tool, Strata};

fn service() -> (Strata, Service) {
    let s = Strata::new();
    let svc = Service::start(&s, &["--time", "0"]);
    s.import_busybox("busybox");
    (s, svc)
}

fn run_sleeping(svc: &Service, name: &str, extra: &[&str]) {
    let mut args = vec!["run", "-d", "--network", "none", "--name", name];
    args.extend_from_slice(extra);
    args.extend_from_slice(&["busybox", "sleep", "120"]);
    svc.docker_ok(&args);
}

/// What a container of `image` running `cmd` prints: run detached, waited for, its logs read
/// and removed (a foreground `docker run` of a short-lived container can lose its output under
/// load, an issue of the attach endpoint, not of what these tests check).
fn output_of(svc: &Service, name: &str, image: &str, cmd: &[&str]) -> String {
    let mut args = vec!["run", "-d", "--network", "none", "--name", name, image];
    args.extend_from_slice(cmd);
    svc.docker_ok(&args);
    assert_eq!(svc.docker_ok(&["wait", name]).trim(), "0");
    let out = svc.docker_ok(&["logs", name]);
    svc.docker_ok(&["rm", name]);
    out
}

fn p(path: &Path) -> &str {
    path.to_str().expect("a UTF-8 path")
}

#[test]
fn cp_both_ways_through_the_archive_endpoints() {
    let (s, svc) = service();
    run_sleeping(&svc, "cpm1", &[]);
    let host = s.scratch("host");
    fs::write(host.join("in.txt"), "from the host\n").unwrap();
    fs::create_dir_all(host.join("tree/sub")).unwrap();
    fs::write(host.join("tree/sub/leaf"), "leaf\n").unwrap();

    // Host → container: a file into a directory, a directory under a new name.
    svc.docker_ok(&["cp", p(&host.join("in.txt")), "cpm1:/tmp/"]);
    svc.docker_ok(&["cp", p(&host.join("tree")), "cpm1:/tmp/copied"]);
    // (strata's own exec: the same store, and exec through the API is another endpoint's)
    let got = s.ok(&[
        "exec",
        "cpm1",
        "sh",
        "-c",
        "cat /tmp/in.txt /tmp/copied/sub/leaf; stat -c %u:%g /tmp/in.txt",
    ]);
    assert_eq!(got, "from the host\nleaf\n0:0\n");

    // Container → host: a file the container wrote, and a directory.
    s.ok(&["exec", "cpm1", "sh", "-c", "echo made inside > /tmp/made"]);
    svc.docker_ok(&["cp", "cpm1:/tmp/made", p(&host.join("made"))]);
    assert_eq!(
        fs::read_to_string(host.join("made")).unwrap(),
        "made inside\n"
    );
    svc.docker_ok(&["cp", "cpm1:/tmp/copied", p(&host.join("back"))]);
    assert_eq!(
        fs::read_to_string(host.join("back/sub/leaf")).unwrap(),
        "leaf\n"
    );

    // The stat header, as HEAD gives it: base64 of Docker's PathStat.
    let r = svc.curl(&["-I"], "/containers/cpm1/archive?path=/tmp/made");
    assert_eq!(r.status, 200, "{r:?}");
    let raw = r
        .header("X-Docker-Container-Path-Stat")
        .expect("the stat header");
    let json = tool("sh", &["-c", &format!("echo {raw} | base64 -d")]);
    let st: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert_eq!(st["name"], "made", "{st}");
    assert_eq!(st["size"], 12, "{st}");
    assert_eq!(st["mode"], 0o644, "{st}");
    let r = svc.curl(&["-I"], "/containers/cpm1/archive?path=/tmp");
    let raw = r.header("X-Docker-Container-Path-Stat").unwrap();
    let json = tool("sh", &["-c", &format!("echo {raw} | base64 -d")]);
    let st: serde_json::Value = serde_json::from_str(&json).unwrap();
    // Go's os.ModeDir and ModeSticky over the permission bits.
    assert_eq!(
        st["mode"].as_u64().unwrap(),
        (1u64 << 31) | (1 << 20) | 0o777,
        "{st}"
    );

    // A missing path: Docker's 404 and message, through the CLI and plain HTTP.
    let err = svc.docker_fails(&["cp", "cpm1:/nope", p(&host.join("x"))]);
    assert!(
        err.contains("Could not find the file /nope in container cpm1"),
        "{err}"
    );
    assert!(!host.join("x").exists());
    let r = svc.curl(&[], "/containers/cpm1/archive?path=/nope");
    assert_eq!(r.status, 404, "{r:?}");
    assert_eq!(
        r.json()["message"],
        "Could not find the file /nope in container cpm1"
    );
    let r = svc.curl(&[], "/containers/nosuch-cpm/archive?path=/");
    assert_eq!(r.status, 404, "{r:?}");
    assert_eq!(r.json()["message"], "No such container: nosuch-cpm");
    svc.docker_ok(&["rm", "-f", "cpm1"]);
}

/// A tar holding one regular file under `name` as written (no checks on `..`).
fn raw_tar(name: &[u8], data: &[u8]) -> Vec<u8> {
    let mut h = tar::Header::new_old();
    h.as_old_mut().name[..name.len()].copy_from_slice(name);
    h.set_size(data.len() as u64);
    h.set_mode(0o644);
    h.set_uid(0);
    h.set_gid(0);
    h.set_mtime(1_700_000_000);
    h.set_entry_type(tar::EntryType::Regular);
    h.set_cksum();
    let mut out = h.as_bytes().to_vec();
    out.extend_from_slice(data);
    out.resize(512 + data.len().div_ceil(512) * 512, 0);
    out.extend_from_slice(&[0; 1024]);
    out
}

#[test]
fn archive_uploads_never_leave_the_rootfs() {
    let (s, svc) = service();
    run_sleeping(&svc, "cpesc1", &[]);
    let host = s.scratch("up");
    let marker = "escaped-cpesc1";

    // An entry climbing out with `..`: refused, nothing written anywhere.
    let bad = host.join("bad.tar");
    fs::write(&bad, raw_tar(format!("../../{marker}").as_bytes(), b"x\n")).unwrap();
    let upload = |file: &Path, path: &str| {
        let query = format!("/containers/cpesc1/archive?path={path}&noOverwriteDirNonDir=true");
        svc.put_tar(file, &query)
    };
    let r = upload(&bad, "/tmp");
    assert_eq!(r.status, 400, "{r:?}");
    // A destination path climbing out stops at the container's root.
    let good = host.join("good.tar");
    fs::write(&good, raw_tar(marker.as_bytes(), b"inside\n")).unwrap();
    let r = upload(&good, "../../../..");
    assert_eq!(r.status, 200, "{r:?}");
    let got = s.ok(&["exec", "cpesc1", "cat", &format!("/{marker}")]);
    assert_eq!(got, "inside\n");
    // Nowhere outside: not in the store, its parent, the scratch dirs or the host's /.
    let found = tool(
        "sh",
        &[
            "-c",
            &format!(
                "find {} / -xdev -maxdepth 3 -name {marker} -not -path '*/upper/*' \
                 -not -path '/proc/*' 2>/dev/null || true",
                s.root.parent().unwrap().display()
            ),
        ],
    );
    assert_eq!(found.trim(), "", "written outside the container: {found}");
    // An extraction point that is a file.
    let r = upload(&good, &format!("/{marker}"));
    assert_eq!(r.status, 400, "{r:?}");
    assert_eq!(r.json()["message"], "extraction point is not a directory");
    svc.docker_ok(&["rm", "-f", "cpesc1"]);
}

#[test]
fn export_diff_commit_and_import() {
    let (s, svc) = service();
    svc.docker_ok(&[
        "run",
        "--network",
        "none",
        "--name",
        "exm1",
        "busybox",
        "sh",
        "-c",
        "echo added > /added-exm1; echo more >> /etc/passwd; rm /etc/group",
    ]);
    // docker diff: Docker's kinds, in path order.
    let diff = svc.docker_ok(&["diff", "exm1"]);
    let lines: Vec<&str> = diff.lines().collect();
    for want in ["A /added-exm1", "C /etc", "C /etc/passwd", "D /etc/group"] {
        assert!(lines.contains(&want), "{want} missing from:\n{diff}");
    }
    let r = svc.curl(&[], "/containers/exm1/changes");
    assert_eq!(r.status, 200);
    let v = r.json();
    assert!(
        v.as_array()
            .unwrap()
            .iter()
            .any(|c| c["Path"] == "/added-exm1" && c["Kind"] == 1),
        "{v}"
    );

    // docker export | tar t
    let out = s.scratch("out");
    let tarball = out.join("exm1.tar");
    svc.docker_ok(&["export", "-o", p(&tarball), "exm1"]);
    let listing = tool("tar", &["-tf", p(&tarball)]);
    let names: Vec<&str> = listing.lines().collect();
    for want in ["added-exm1", "bin/busybox", "etc/passwd"] {
        assert!(names.contains(&want), "{want} missing from:\n{listing}");
    }
    assert!(!names.contains(&"etc/group"), "{listing}");

    // docker commit, then a run of the new image sees the change; strata lists it.
    let id = svc.docker_ok(&[
        "commit",
        "-c",
        "ENV FROM_COMMIT=yes",
        "-m",
        "a message",
        "exm1",
        "ctrmisc-committed:1",
    ]);
    assert!(id.trim().starts_with("sha256:"), "{id}");
    let got = output_of(
        &svc,
        "exm1-run",
        "ctrmisc-committed:1",
        &[
            "sh",
            "-c",
            "cat /added-exm1; echo $FROM_COMMIT; test -e /etc/group || echo no-group",
        ],
    );
    assert_eq!(got, "added\nyes\nno-group\n");
    let images = s.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(
        images.lines().any(|l| l == "ctrmisc-committed:1"),
        "{images}"
    );
    let history = svc.docker_ok(&["history", "--format", "{{.Comment}}", "ctrmisc-committed:1"]);
    assert_eq!(history.lines().next(), Some("a message"), "{history}");

    // docker import of the exported tar, then a run of it.
    let id = svc.docker_ok(&[
        "import",
        "-c",
        "CMD [\"cat\", \"/added-exm1\"]",
        p(&tarball),
        "ctrmisc-imported:1",
    ]);
    assert!(id.trim().starts_with("sha256:"), "{id}");
    let got = output_of(&svc, "exm1-imp", "ctrmisc-imported:1", &[]);
    assert_eq!(got, "added\n");
    let images = s.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert!(
        images.lines().any(|l| l == "ctrmisc-imported:1"),
        "{images}"
    );
    svc.docker_ok(&["rm", "exm1"]);
}

#[test]
fn stats_and_update() {
    let (s, svc) = service();
    run_sleeping(&svc, "stm1", &["--memory", "32m"]);
    let out = svc.docker_ok(&[
        "stats",
        "--no-stream",
        "--format",
        "{{.Name}}|{{.MemUsage}}|{{.PIDs}}",
        "stm1",
    ]);
    let fields: Vec<&str> = out.trim().split('|').collect();
    assert_eq!(fields.len(), 3, "{out}");
    assert_eq!(fields[0], "stm1", "{out}");
    let (used, limit) = fields[1].split_once(" / ").expect("usage / limit");
    assert!(
        !used.starts_with("0B") && used.ends_with("B"),
        "no memory in use: {out}"
    );
    assert_eq!(limit, "32MiB", "{out}");
    assert_ne!(fields[2], "0", "{out}");

    // The one-shot object, as curl sees it.
    let r = svc.curl(&[], "/containers/stm1/stats?stream=false&one-shot=true");
    assert_eq!(r.status, 200, "{r:?}");
    let v = r.json();
    assert!(v["memory_stats"]["usage"].as_u64().unwrap() > 0, "{v}");
    assert!(
        v["cpu_stats"]["cpu_usage"]["total_usage"].as_u64().unwrap() > 0,
        "{v}"
    );
    assert!(v["cpu_stats"]["online_cpus"].as_u64().unwrap() > 0, "{v}");
    assert_eq!(v["name"], "/stm1");

    // docker update: the limit is recorded and shows in inspect (and in strata's).
    svc.docker_ok(&["update", "--memory", "64m", "--memory-swap", "128m", "stm1"]);
    let got = svc.docker_ok(&[
        "inspect",
        "-f",
        "{{.HostConfig.Memory}} {{.HostConfig.MemorySwap}}",
        "stm1",
    ]);
    assert_eq!(got.trim(), "67108864 134217728");
    let ours = s.ok(&["inspect", "-f", "{{.HostConfig.Memory}}", "stm1"]);
    assert_eq!(ours.trim(), "67108864");
    let out = svc.docker_ok(&["stats", "--no-stream", "--format", "{{.MemUsage}}", "stm1"]);
    assert!(out.trim().ends_with("/ 64MiB"), "{out}");
    svc.docker_ok(&["update", "--restart", "on-failure:3", "stm1"]);
    let got = svc.docker_ok(&[
        "inspect",
        "-f",
        "{{.HostConfig.RestartPolicy.Name}}:{{.HostConfig.RestartPolicy.MaximumRetryCount}}",
        "stm1",
    ]);
    assert_eq!(got.trim(), "on-failure:3");
    svc.docker_ok(&["rm", "-f", "stm1"]);
}

#[test]
fn malformed_bodies_are_docker_400s() {
    let (_s, svc) = service();
    svc.docker_ok(&["create", "--network", "none", "--name", "badjs1", "busybox"]);
    let post = |path: &str, body: &str| {
        svc.curl(
            &[
                "-X",
                "POST",
                "-H",
                "Content-Type: application/json",
                "--data-binary",
                body,
            ],
            path,
        )
    };
    for (path, body) in [
        ("/commit?container=badjs1", "{not json"),
        ("/containers/badjs1/update", "{not json"),
        ("/containers/badjs1/update", r#"{"Memory":"lots"}"#),
    ] {
        let r = post(path, body);
        assert_eq!(r.status, 400, "{path} {body}: {r:?}");
        let msg = r.json()["message"].as_str().unwrap().to_string();
        assert!(msg.starts_with("invalid JSON"), "{path} {body}: {msg}");
    }
    // The service stays up and the container unchanged.
    let r = post("/containers/badjs1/update", r#"{"PidsLimit":50}"#);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json()["Warnings"], serde_json::json!([]));
    let got = svc.docker_ok(&["inspect", "-f", "{{.HostConfig.PidsLimit}}", "badjs1"]);
    assert_eq!(got.trim(), "50");
    let r = post("/commit?container=nosuch-badjs", "");
    assert_eq!(r.status, 404, "{r:?}");
    svc.docker_ok(&["rm", "badjs1"]);
}

/// Serves `body` once over HTTP on a loopback port of its own; returns the URL.
fn serve_once(body: Vec<u8>) -> String {
    use std::io::{BufRead, BufReader, Write};
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        let Ok((conn, _)) = listener.accept() else {
            return;
        };
        let mut reader = BufReader::new(conn.try_clone().unwrap());
        let mut line = String::new();
        while reader.read_line(&mut line).is_ok_and(|n| n > 0) && line != "\r\n" {
            line.clear();
        }
        let mut conn = conn;
        let head = format!(
            "HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            body.len()
        );
        let _ = conn.write_all(head.as_bytes());
        let _ = conn.write_all(&body);
    });
    format!("http://127.0.0.1:{port}/rootfs.tar")
}

#[test]
fn import_from_the_body_and_from_a_loopback_url() {
    let (s, svc) = service();
    let rootfs = s.scratch("busybox-rootfs");
    let tarball = s.scratch("tars").join("rootfs.tar");
    tool("tar", &["-cf", p(&tarball), "-C", p(&rootfs), "."]);

    // The body, with curl: Docker's stream ends with the image ID as a status.
    let r = svc.curl(
        &[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/x-tar",
            // No `100 Continue` interim reply: the test reads one response.
            "-H",
            "Expect:",
            "--data-binary",
            &format!("@{}", tarball.display()),
        ],
        "/images/create?fromSrc=-&repo=ctrmisc-body&tag=1&changes=CMD%20%5B%22echo%22%2C%22body%22%5D&message=by%20curl",
    );
    assert_eq!(r.status, 200, "{r:?}");
    let last: serde_json::Value =
        serde_json::from_str(r.body.lines().last().unwrap_or_default()).unwrap();
    assert!(
        last["status"].as_str().unwrap().starts_with("sha256:"),
        "{r:?}"
    );
    let got = output_of(&svc, "imp-body", "ctrmisc-body:1", &[]);
    assert_eq!(got, "body\n");
    let history = svc.docker_ok(&["history", "--format", "{{.Comment}}", "ctrmisc-body:1"]);
    assert_eq!(history.trim(), "by curl");

    // A URL on loopback.
    let url = serve_once(fs::read(&tarball).unwrap());
    let r = svc.curl(
        &["-X", "POST"],
        &format!("/images/create?fromSrc={url}&repo=ctrmisc-url&tag=1"),
    );
    assert_eq!(r.status, 200, "{r:?}");
    let got = output_of(&svc, "imp-url", "ctrmisc-url:1", &["echo", "from the url"]);
    assert_eq!(got, "from the url\n");
    // Anything further is refused before a byte is sent.
    let r = svc.curl(
        &["-X", "POST"],
        "/images/create?fromSrc=http://192.0.2.1/x.tar&repo=ctrmisc-far",
    );
    assert_eq!(r.status, 400, "{r:?}");

    // A truncated upload imports nothing.
    let data = fs::read(&tarball).unwrap();
    let cut = s.scratch("tars").join("cut.tar");
    fs::write(&cut, &data[..data.len() / 2 + 100]).unwrap();
    let r = svc.curl(
        &[
            "-X",
            "POST",
            "-H",
            "Expect:",
            "--data-binary",
            &format!("@{}", cut.display()),
        ],
        "/images/create?fromSrc=-&repo=ctrmisc-cut",
    );
    assert!(r.status >= 400, "{r:?}");
    let images = s.ok(&["images", "--format", "{{.Repository}}"]);
    assert!(!images.contains("ctrmisc-cut"), "{images}");
    assert!(!images.contains("ctrmisc-far"), "{images}");
}
