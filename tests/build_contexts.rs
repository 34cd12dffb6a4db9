//! Build contexts as Docker takes them, through the binary: a Dockerfile on stdin (empty
//! context), `-f -` with a directory, tar/tar.gz/tar.xz on stdin, a local tarball, an http
//! tarball and Dockerfile, and a git repository served by `git daemon` on loopback
//! (`#ref:subdir`). `.dockerignore` applies to each; bad sources are refused before anything
//! is built.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Output, Stdio};

use common::Strata;

/// A context directory: a Dockerfile copying everything to /ctx, two files, one ignored.
fn context(s: &Strata) -> std::path::PathBuf {
    let dir = s.scratch("ctx");
    std::fs::create_dir_all(dir.join("sub")).unwrap();
    std::fs::write(dir.join("Dockerfile"), "FROM busybox\nCOPY . /ctx/\n").unwrap();
    std::fs::write(dir.join("hello.txt"), "hello\n").unwrap();
    std::fs::write(dir.join("sub/Dockerfile"), "FROM busybox\nCOPY . /sub/\n").unwrap();
    std::fs::write(dir.join("secret.txt"), "no\n").unwrap();
    std::fs::write(dir.join(".dockerignore"), "secret.txt\n").unwrap();
    dir
}

fn with_stdin(s: &Strata, args: &[&str], stdin: &[u8]) -> Output {
    let mut c = s.command(args);
    c.stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = c.spawn().unwrap();
    let mut input = child.stdin.take().unwrap();
    let data = stdin.to_vec();
    let w = std::thread::spawn(move || {
        let _ = input.write_all(&data);
    });
    let out = child.wait_with_output().unwrap();
    w.join().unwrap();
    out
}

fn ok_stdin(s: &Strata, args: &[&str], stdin: &[u8]) -> String {
    let out = with_stdin(s, args, stdin);
    s.expect(&out, true, args);
    String::from_utf8_lossy(&out.stdout).into_owned()
}

/// The files under `dir` in the image, as `find` lists them inside a container.
fn files(s: &Strata, image: &str, dir: &str) -> Vec<String> {
    let out = s.ok(&["run", "--rm", image, "find", dir, "-type", "f"]);
    let mut v: Vec<String> = out.lines().map(String::from).collect();
    v.sort();
    v
}

fn tar_of(dir: &Path, flag: &str) -> Vec<u8> {
    let out = Command::new("tar")
        .args([flag, "-f", "-", "-C"])
        .arg(dir)
        .arg(".")
        .output()
        .unwrap();
    assert!(out.status.success());
    out.stdout
}

#[test]
fn stdin_dockerfile_and_dockerfile_from_stdin() {
    let s = Strata::new();
    s.import_busybox("busybox");
    let ctx = context(&s);
    // `build -`: the Dockerfile on stdin, an empty context.
    ok_stdin(
        &s,
        &["build", "-q", "-t", "a", "-"],
        b"FROM busybox\nRUN echo made > /made\n",
    );
    assert_eq!(s.ok(&["run", "--rm", "a", "cat", "/made"]), "made\n");
    let out = with_stdin(
        &s,
        &["build", "-t", "b", "-"],
        b"FROM busybox\nCOPY hello.txt /\n",
    );
    assert!(!out.status.success(), "an empty context has no hello.txt");
    // `-f -` with a directory context.
    let c = ctx.display().to_string();
    ok_stdin(
        &s,
        &["build", "-q", "-t", "c", "-f", "-", &c],
        b"FROM busybox\nCOPY . /in/\n",
    );
    assert_eq!(
        files(&s, "c", "/in"),
        [
            "/in/.dockerignore",
            "/in/Dockerfile",
            "/in/hello.txt",
            "/in/sub/Dockerfile"
        ]
    );
    let out = with_stdin(&s, &["build", "-f", "-", "-"], b"FROM busybox\n");
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stderr)
        .contains("can't use stdin for both build context and dockerfile"));
}

#[test]
fn tar_contexts_on_stdin_and_from_a_file() {
    let s = Strata::new();
    s.import_busybox("busybox");
    let ctx = context(&s);
    let want = [
        "/ctx/.dockerignore",
        "/ctx/Dockerfile",
        "/ctx/hello.txt",
        "/ctx/sub/Dockerfile",
    ];
    for (flag, name) in [("-c", "plain"), ("-cz", "gz"), ("-cJ", "xz")] {
        ok_stdin(&s, &["build", "-q", "-t", name, "-"], &tar_of(&ctx, flag));
        assert_eq!(files(&s, name, "/ctx"), want, "{name}");
    }
    let tarball = s.scratch("tarballs").join("ctx.tar.gz");
    std::fs::write(&tarball, tar_of(&ctx, "-cz")).unwrap();
    // -f names a file inside a tarball's context.
    s.ok(&[
        "build",
        "-q",
        "-t",
        "file",
        "-f",
        "sub/Dockerfile",
        tarball.to_str().unwrap(),
    ]);
    assert_eq!(
        files(&s, "file", "/sub"),
        [
            "/sub/.dockerignore",
            "/sub/Dockerfile",
            "/sub/hello.txt",
            "/sub/sub/Dockerfile"
        ]
    );
}

#[test]
fn escaping_or_missing_sources_are_refused_before_building() {
    let s = Strata::new();
    s.import_busybox("busybox");
    // A tar whose entry climbs out of the context, written by hand (tar(1) refuses to).
    let mut header = [0u8; 512];
    let name = b"../escaped";
    header[..name.len()].copy_from_slice(name);
    header[100..108].copy_from_slice(b"0000644\0");
    header[108..116].copy_from_slice(b"0000000\0");
    header[116..124].copy_from_slice(b"0000000\0");
    header[124..136].copy_from_slice(b"00000000002\0");
    header[136..148].copy_from_slice(b"00000000000\0");
    header[156] = b'0';
    header[257..263].copy_from_slice(b"ustar\0");
    header[263..265].copy_from_slice(b"00");
    header[148..156].copy_from_slice(b"        ");
    let sum: u32 = header.iter().map(|b| *b as u32).sum();
    header[148..156].copy_from_slice(format!("{sum:06o}\0 ").as_bytes());
    let mut tar = header.to_vec();
    tar.extend_from_slice(b"x\n");
    tar.resize(512 * 2, 0);
    tar.extend_from_slice(&[0u8; 1024]);
    let out = with_stdin(&s, &["build", "-t", "esc", "-"], &tar);
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("../escaped"), "{err}");
    assert!(!s.scratch("").parent().unwrap().join("escaped").exists());
    assert!(s.ok(&["images", "-q", "esc"]).is_empty());

    let missing = s.fails(&["build", "-t", "m", "/nonexistent/ctx.tar"]);
    assert!(missing.contains("/nonexistent/ctx.tar"), "{missing}");
}

/// An HTTP server on loopback: `/ctx.tar.gz` (a context), `/Dockerfile` (text), 404 otherwise.
fn serve(tarball: Vec<u8>) -> String {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    std::thread::spawn(move || {
        for conn in listener.incoming().flatten() {
            answer(conn, &tarball);
        }
    });
    base
}

fn answer(mut conn: TcpStream, tarball: &[u8]) {
    let mut reader = BufReader::new(conn.try_clone().unwrap());
    let mut line = String::new();
    let _ = reader.read_line(&mut line);
    let path = line.split_whitespace().nth(1).unwrap_or("").to_string();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).unwrap_or(0) == 0 || h == "\r\n" {
            break;
        }
    }
    let (status, body): (&str, Vec<u8>) = match path.as_str() {
        "/ctx.tar.gz" => ("200 OK", tarball.to_vec()),
        "/Dockerfile" => ("200 OK", b"FROM busybox\nRUN echo remote > /r\n".to_vec()),
        _ => ("404 Not Found", b"nope".to_vec()),
    };
    let _ = write!(
        conn,
        "HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
        body.len()
    );
    let _ = conn.write_all(&body);
}

#[test]
fn http_tarball_and_dockerfile_urls() {
    let s = Strata::new();
    s.import_busybox("busybox");
    let ctx = context(&s);
    let base = serve(tar_of(&ctx, "-cz"));
    s.ok(&["build", "-q", "-t", "h1", &format!("{base}/ctx.tar.gz")]);
    assert_eq!(
        files(&s, "h1", "/ctx"),
        [
            "/ctx/.dockerignore",
            "/ctx/Dockerfile",
            "/ctx/hello.txt",
            "/ctx/sub/Dockerfile"
        ]
    );
    s.ok(&["build", "-q", "-t", "h2", &format!("{base}/Dockerfile")]);
    assert_eq!(s.ok(&["run", "--rm", "h2", "cat", "/r"]), "remote\n");
    let url = format!("{base}/missing.tar");
    let err = s.fails(&["build", "-t", "h3", &url]);
    assert!(err.contains(&url) && err.contains("404"), "{err}");
}

/// Kills the git daemon when the test ends.
struct Daemon(std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn git(dir: &Path, args: &[&str]) {
    let out = Command::new("git")
        .args(["-c", "user.name=t", "-c", "user.email=t@example.invalid"])
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

#[test]
fn git_repository_at_a_ref_and_subdir() {
    let s = Strata::new();
    s.import_busybox("busybox");
    let base = s.scratch("repos");
    let repo = base.join("app");
    std::fs::create_dir_all(repo.join("docker")).unwrap();
    std::fs::write(
        repo.join("docker/Dockerfile"),
        "FROM busybox\nCOPY . /app/\n",
    )
    .unwrap();
    std::fs::write(repo.join("docker/v.txt"), "one\n").unwrap();
    std::fs::write(repo.join("docker/.dockerignore"), "ignored\n").unwrap();
    std::fs::write(repo.join("docker/ignored"), "x\n").unwrap();
    git(&repo, &["init", "-q", "-b", "main"]);
    git(&repo, &["add", "."]);
    git(&repo, &["commit", "-q", "-m", "one"]);
    git(&repo, &["tag", "v1"]);
    std::fs::write(repo.join("docker/v.txt"), "two\n").unwrap();
    git(&repo, &["commit", "-q", "-am", "two"]);

    let port = TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let exec_path = String::from_utf8(
        Command::new("git")
            .arg("--exec-path")
            .output()
            .unwrap()
            .stdout,
    )
    .unwrap();
    let _daemon = Daemon(
        Command::new(Path::new(exec_path.trim()).join("git-daemon"))
            .args([
                "--reuseaddr",
                "--export-all",
                "--listen=127.0.0.1",
                &format!("--port={port}"),
                &format!("--base-path={}", base.display()),
            ])
            .arg(&base)
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    let url = |frag: &str| format!("git://127.0.0.1:{port}/app{frag}");
    // The daemon takes a moment to listen.
    let mut built = false;
    for _ in 0..50 {
        if s.command(&["build", "-q", "-t", "g1", &url("#v1:docker")])
            .output()
            .unwrap()
            .status
            .success()
        {
            built = true;
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        built,
        "{}",
        s.fails(&["build", "-t", "g1", &url("#v1:docker")])
    );
    assert_eq!(
        files(&s, "g1", "/app"),
        ["/app/.dockerignore", "/app/Dockerfile", "/app/v.txt"]
    );
    assert_eq!(s.ok(&["run", "--rm", "g1", "cat", "/app/v.txt"]), "one\n");
    s.ok(&["build", "-q", "-t", "g2", &url("#:docker")]);
    assert_eq!(s.ok(&["run", "--rm", "g2", "cat", "/app/v.txt"]), "two\n");
    let err = s.fails(&["build", "-t", "g3", &url("#nosuchref:docker")]);
    assert!(err.contains("nosuchref"), "{err}");
    // Nothing of the clones is left in the store's temp area.
    let tmp = s.root.join("tmp");
    let left: Vec<_> = std::fs::read_dir(&tmp)
        .map(|rd| rd.flatten().map(|e| e.file_name()).collect())
        .unwrap_or_default();
    assert!(
        left.iter()
            .all(|n| !n.to_string_lossy().starts_with("context-")),
        "{left:?}"
    );
}

#[test]
fn host_network_and_insecure_runs_need_an_entitlement() {
    let s = Strata::new();
    s.import_busybox("busybox");
    for (flag, entitlement) in [
        ("--network=host", "network.host"),
        ("--security=insecure", "security.insecure"),
    ] {
        let df = format!("FROM busybox\nRUN {flag} true\n");
        let out = with_stdin(&s, &["build", "-t", "ent", "-"], df.as_bytes());
        assert_eq!(out.status.code(), Some(1), "{flag}");
        let err = String::from_utf8_lossy(&out.stderr);
        assert!(err.contains("Dockerfile:2:"), "{err}");
        assert!(err.contains(&format!("--allow {entitlement}")), "{err}");
        assert!(s.ok(&["images", "-q", "ent"]).is_empty());
    }
    let df = b"FROM busybox\nRUN --network=host true\n";
    ok_stdin(
        &s,
        &["build", "-q", "--allow", "network.host", "-t", "ent", "-"],
        df,
    );
    let err = s.fails(&["build", "--allow", "everything", "-"]);
    assert!(err.contains("network.host or security.insecure"), "{err}");
}
