//! `strata system service`: the real binary serving the Engine API on a unix socket in a temp
//! store, driven by the real docker CLI (Docker 28, API 1.50) and by curl. Nothing leaves
//! loopback: every request goes over the test's own socket.

mod api_support;
mod common;
mod registry_tls_support;

use std::os::unix::net::UnixStream;
use std::path::Path;
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use api_support::{rss_kb, unix_now, Service};
use common::Strata;

#[test]
fn docker_cli_version_and_info() {
    let s = Strata::new();
    let svc = Service::start(&s, &["--time", "0"]);
    let v = svc.docker_ok(&[
        "version",
        "--format",
        "{{.Server.Platform.Name}} {{.Server.Version}} {{.Server.APIVersion}} {{.Server.MinAPIVersion}}",
    ]);
    assert_eq!(
        v.trim(),
        format!("strata {} 1.50 1.24", env!("CARGO_PKG_VERSION"))
    );
    let text = svc.docker_ok(&["version"]);
    assert!(text.contains("Server: strata"), "{text}");
    assert!(
        text.contains("API version:      1.50 (minimum version 1.24)"),
        "{text}"
    );

    s.import_busybox("busybox");
    let info = svc.docker_ok(&[
        "info",
        "--format",
        "{{.Images}} {{.Containers}} {{.DockerRootDir}} {{.OSType}} {{.ServerVersion}} {{.CgroupDriver}}",
    ]);
    assert_eq!(
        info.trim(),
        format!(
            "1 0 {} linux {} cgroupfs",
            s.root.display(),
            env!("CARGO_PKG_VERSION")
        )
    );
    let text = svc.docker_ok(&["info"]);
    for want in [
        " Images: 1\n",
        " Swarm: inactive\n",
        &format!(" Docker Root Dir: {}\n", s.root.display()),
    ] {
        assert!(text.contains(want), "{want:?} not in:\n{text}");
    }
    // The same facts as `strata info`: one engine, two front doors.
    let ours = s.ok(&[
        "info",
        "--format",
        "{{.NCPU}} {{.MemTotal}} {{.KernelVersion}}",
    ]);
    let theirs = svc.docker_ok(&[
        "info",
        "--format",
        "{{.NCPU}} {{.MemTotal}} {{.KernelVersion}}",
    ]);
    assert_eq!(ours, theirs);
}

#[test]
fn docker_cli_images_inspect_tag_rmi_df() {
    let s = Strata::new();
    let svc = Service::start(&s, &["--time", "0"]);
    let id = s.import_busybox("busybox");
    let listed = svc.docker_ok(&["images", "--format", "{{.Repository}}:{{.Tag}} {{.ID}}"]);
    assert_eq!(listed, format!("busybox:latest {}\n", &id[7..19]));
    let table = svc.docker_ok(&["images"]);
    assert!(
        table.starts_with("REPOSITORY   TAG       IMAGE ID"),
        "{table}"
    );
    assert_eq!(
        svc.docker_ok(&["image", "inspect", "-f", "{{.Id}}", "busybox"]),
        format!("{id}\n")
    );
    assert_eq!(
        svc.docker_ok(&[
            "image",
            "inspect",
            "-f",
            "{{json .Config.Cmd}} {{.Os}}",
            "busybox"
        ]),
        "[\"sh\"] linux\n"
    );

    // A name with a registry port and slashes, made through the API, seen by the CLI.
    svc.docker_ok(&["tag", "busybox", "localhost:5000/a/b:1"]);
    let ours = s.ok(&["images", "--format", "{{.Repository}}:{{.Tag}}"]);
    assert_eq!(ours, "busybox:latest\nlocalhost:5000/a/b:1\n");
    assert_eq!(
        svc.docker_ok(&["image", "inspect", "-f", "{{.Id}}", "localhost:5000/a/b:1"]),
        format!("{id}\n")
    );
    let filtered = svc.docker_ok(&[
        "images",
        "--filter",
        "reference=localhost:5000/*/*",
        "--format",
        "{{.Repository}}:{{.Tag}}",
    ]);
    assert_eq!(filtered, "localhost:5000/a/b:1\n");
    let history = svc.docker_ok(&["history", "--format", "{{.ID}} {{.Comment}}", "busybox"]);
    assert!(history.starts_with(&id[7..19]), "{history}");

    assert_eq!(
        svc.docker_ok(&["rmi", "localhost:5000/a/b:1"]),
        "Untagged: localhost:5000/a/b:1\n"
    );
    let err = svc.docker_fails(&["rmi", "nope"]);
    assert!(
        err.contains("Error response from daemon: No such image: nope:latest"),
        "{err}"
    );
    let err = svc.docker_fails(&["image", "inspect", "nope:2"]);
    assert!(err.contains("No such image: nope:2"), "{err}");

    let df = svc.docker_ok(&["system", "df"]);
    let images_line = df
        .lines()
        .find(|l| l.starts_with("Images"))
        .unwrap_or_else(|| panic!("no Images row:\n{df}"));
    let cols: Vec<&str> = images_line.split_whitespace().collect();
    assert_eq!(&cols[1..3], ["1", "0"], "{df}");
    assert!(df.contains("Containers      0"), "{df}");

    // As dockerd: the tag, the digest reference the tag implied, then the image.
    let out = svc.docker_ok(&["rmi", "busybox"]);
    let lines: Vec<&str> = out.lines().collect();
    assert_eq!(lines.len(), 3, "{out}");
    assert_eq!(lines[0], "Untagged: busybox:latest");
    assert!(lines[1].starts_with("Untagged: busybox@sha256:"), "{out}");
    assert_eq!(lines[2], format!("Deleted: {id}"));
    assert_eq!(s.ok(&["images", "-q"]), "");
}

#[test]
fn docker_cli_events_show_strata_actions() {
    let s = Strata::new();
    let svc = Service::start(&s, &["--time", "0"]);
    let id = s.import_busybox("busybox");
    let since = unix_now() - 1;
    s.ok(&["tag", "busybox", "evt:1"]);
    let until = unix_now() + 1;
    let out = svc.docker_ok(&[
        "events",
        "--since",
        &since.to_string(),
        "--until",
        &until.to_string(),
        "--filter",
        "type=image",
        "--format",
        "{{.Type}} {{.Action}} {{.Actor.ID}} {{.Actor.Attributes.name}}",
    ]);
    assert!(
        out.lines().any(|l| l == format!("image tag {id} evt:1")),
        "{out}"
    );
    let err = svc.docker_fails(&[
        "events", "--since", "1", "--until", "2", "--filter", "bogus=1",
    ]);
    assert!(err.contains("invalid filter 'bogus'"), "{err}");
}

#[test]
fn curl_sees_dockers_shapes() {
    let s = Strata::new();
    let svc = Service::start(&s, &["--time", "0"]);

    let ping = svc.curl(&[], "/_ping");
    assert_eq!((ping.status, ping.body.as_str()), (200, "OK"));
    for (k, v) in [
        ("Api-Version", "1.50"),
        ("Builder-Version", "1"),
        ("Ostype", "linux"),
        ("Docker-Experimental", "false"),
        ("Cache-Control", "no-cache, no-store, must-revalidate"),
        ("Pragma", "no-cache"),
    ] {
        // Go's canonical case, as dockerd sends it.
        assert_eq!(
            ping.headers.get(k).map(String::as_str),
            Some(v),
            "{k}: {ping:?}"
        );
    }
    let server = ping.header("Server").unwrap();
    assert!(
        server.starts_with(&format!("strata/{}", env!("CARGO_PKG_VERSION"))),
        "{server}"
    );
    let head = svc.curl(&["-I"], "/_ping");
    assert_eq!(head.status, 200);
    assert_eq!(head.header("Api-Version"), Some("1.50"));
    assert_eq!(head.body, "");

    let v = svc.curl(&[], "/v1.41/version");
    assert_eq!(v.status, 200);
    assert_eq!(v.header("Api-Version"), Some("1.50"));
    assert_eq!(v.header("Content-Type"), Some("application/json"));
    let j = v.json();
    assert_eq!(j["ApiVersion"], "1.50");
    assert_eq!(j["MinAPIVersion"], "1.24");
    assert_eq!(j["Version"], env!("CARGO_PKG_VERSION"));
    assert_eq!(j["Os"], "linux");
    assert_eq!(svc.curl(&[], "/version").json(), j);

    let missing = svc.curl(&[], "/v1.50/no/such/endpoint");
    assert_eq!(missing.status, 404);
    assert_eq!(
        missing.json(),
        serde_json::json!({"message": "page not found"})
    );
    assert_eq!(missing.header("Ostype"), Some("linux"));

    let old = svc.curl(&[], "/v1.12/version");
    assert_eq!(old.status, 400);
    assert_eq!(
        old.json()["message"],
        "client version 1.12 is too old. Minimum supported API version is 1.24, please upgrade \
         your client to a newer version"
    );
    let new = svc.curl(&[], "/v1.99/info");
    assert_eq!(new.status, 400);
    assert_eq!(
        new.json()["message"],
        "client version 1.99 is too new. Maximum supported API version is 1.50"
    );

    let bad = svc.curl(
        &[
            "-X",
            "POST",
            "-H",
            "Content-Type: application/json",
            "-d",
            "{\"username\":",
        ],
        "/auth",
    );
    assert_eq!(bad.status, 400);
    let msg = bad.json()["message"].as_str().unwrap().to_string();
    assert!(
        msg.starts_with("invalid JSON in the request body: "),
        "{msg}"
    );

    let swarm = svc.curl(&[], "/v1.50/swarm");
    assert_eq!(swarm.status, 503);
    assert_eq!(
        swarm.json()["message"],
        "This node is not a swarm manager. Use \"docker swarm init\" or \"docker swarm join\" to \
         connect this node to swarm and try again."
    );
    assert_eq!(svc.curl(&[], "/services/abc").status, 503);
    assert_eq!(svc.curl(&[], "/plugins").json(), serde_json::json!([]));

    let id = s.import_busybox("localhost:5000/a/b:1");
    let inspect = svc.curl(&[], "/v1.50/images/localhost:5000/a/b:1/json");
    assert_eq!(inspect.status, 200, "{inspect:?}");
    assert_eq!(inspect.json()["Id"], id.as_str());
    assert_eq!(
        inspect.json()["RepoTags"],
        serde_json::json!(["localhost:5000/a/b:1"])
    );
    let list = svc.curl(
        &[],
        "/images/json?filters=%7B%22dangling%22%3A%5B%22false%22%5D%7D",
    );
    assert_eq!(list.json()[0]["Id"], id.as_str());
    assert_eq!(
        list.json()[0]["RepoTags"],
        serde_json::json!(["localhost:5000/a/b:1"])
    );
    let bad_filter = svc.curl(&[], "/images/json?filters=%7Bnope");
    assert_eq!(bad_filter.status, 400);
    let history = svc.curl(&[], "/images/localhost:5000/a/b:1/history");
    assert_eq!(history.json()[0]["Id"], id.as_str());

    let no_repo = svc.curl(&["-X", "POST"], "/images/localhost:5000/a/b:1/tag?repo=");
    assert_eq!(no_repo.status, 400);
    let tagged = svc.curl(
        &["-X", "POST"],
        "/images/localhost:5000/a/b:1/tag?repo=c%2Fd&tag=2",
    );
    assert_eq!(tagged.status, 201, "{tagged:?}");
    let nope = svc.curl(&[], "/images/nope/json");
    assert_eq!(nope.status, 404);
    assert_eq!(nope.json()["message"], "No such image: nope:latest");
    let removed = svc.curl(&["-X", "DELETE"], "/images/c/d:2?force=0&noprune=0");
    assert_eq!(removed.json(), serde_json::json!([{"Untagged": "c/d:2"}]));
    let pruned = svc.curl(&["-X", "POST"], "/images/prune");
    assert_eq!(pruned.status, 200);
    assert_eq!(pruned.json()["ImagesDeleted"], serde_json::json!([]));
}

#[test]
fn many_clients_while_one_stays_silent() {
    let s = Strata::new();
    let svc = Service::start(&s, &["--time", "0"]);
    // Connected, sending nothing: must not hold up anyone else.
    let _silent = UnixStream::connect(&svc.sock).unwrap();
    let clients: Vec<Child> = (0..50)
        .map(|_| {
            Command::new("curl")
                .args(["-s", "--max-time", "20", "--unix-socket"])
                .arg(&svc.sock)
                .arg("http://strata/v1.50/version")
                .stdout(Stdio::piped())
                .spawn()
                .expect("curl")
        })
        .collect();
    for c in clients {
        let out = c.wait_with_output().unwrap();
        assert!(out.status.success(), "{}", out.status);
        let j: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        assert_eq!(j["ApiVersion"], "1.50");
    }
    let rss = rss_kb(svc.child.id());
    assert!(rss < 100 * 1024, "the service uses {rss} kB");
}

#[test]
fn exits_when_idle_and_removes_its_socket() {
    let s = Strata::new();
    let mut svc = Service::start(&s, &["--time", "1"]);
    assert_eq!(svc.curl(&[], "/_ping").status, 200);
    let deadline = Instant::now() + Duration::from_secs(10);
    let status = loop {
        if let Some(st) = svc.child.try_wait().unwrap() {
            break st;
        }
        assert!(
            Instant::now() < deadline,
            "still running 10 s after its last request"
        );
        std::thread::sleep(Duration::from_millis(100));
    };
    assert!(status.success(), "{status}: {}", svc.output());
    assert!(!svc.sock.exists());
}

#[test]
fn tcp_without_tls_is_refused() {
    let s = Strata::new();
    let err = s.fails(&["system", "service", "tcp://127.0.0.1:2375"]);
    assert!(
        err.contains("tcp://127.0.0.1:2375") && err.contains("needs mutual TLS"),
        "{err}"
    );
    // Half the TLS flags is no TLS.
    let err = s.fails(&["system", "service", "--tlsverify", "tcp://127.0.0.1:2375"]);
    assert!(err.contains("--tlscacert FILE"), "{err}");
}

#[test]
fn a_stale_socket_file_is_replaced() {
    let s = Strata::new();
    let dir = s.scratch("svc");
    // A socket nobody listens on any more, as a killed service leaves it.
    drop(std::os::unix::net::UnixListener::bind(dir.join("s.sock")).unwrap());
    let svc = Service::start(&s, &["--time", "0"]);
    assert_eq!(svc.curl(&[], "/_ping").body, "OK");
}

#[test]
fn socket_activation_serves_the_passed_socket() {
    let s = Strata::new();
    let sock = s.scratch("svc").join("activated.sock");
    // systemd-socket-activate listens, and starts strata with the socket as fd 3 (LISTEN_PID,
    // LISTEN_FDS) on the first connection, as strata.socket does.
    let mut c = Command::new("systemd-socket-activate");
    c.arg("-l")
        .arg(&sock)
        .args(["-E", "STRATA_DNS=127.0.0.1", common::STRATA, "--root"])
        .arg(&s.root)
        .args([
            "system",
            "service",
            "--time",
            "0",
            "unix:///nonexistent/never-bound.sock",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped());
    let child = c
        .spawn()
        .expect("systemd-socket-activate (Debian's systemd)");
    let mut svc = Service {
        child,
        sock: sock.clone(),
        docker_config: s.scratch("docker-config"),
    };
    svc.wait_for_socket();
    let v = svc.curl(&[], "/v1.50/version");
    assert_eq!(v.status, 200, "{v:?}");
    assert_eq!(v.json()["ApiVersion"], "1.50");
    assert!(!Path::new("/nonexistent/never-bound.sock").exists());
    assert_eq!(
        svc.docker_ok(&["version", "--format", "{{.Server.APIVersion}}"]),
        "1.50\n"
    );
}

#[test]
fn docker_login_is_checked_against_the_registry() {
    let reg = registry_tls_support::TlsRegistry::start();
    let host = reg.host();
    let s = Strata::new();
    // The service (not the docker CLI) talks to the registry: it trusts the CA via certs.d.
    let certs_d = s.scratch("certs.d");
    std::fs::create_dir_all(certs_d.join(&host)).unwrap();
    std::fs::copy(&reg.ca_cert, certs_d.join(&host).join("ca.crt")).unwrap();
    let svc = Service::start_with_env(&s, &["--time", "0"], &[("STRATA_CERTS_D", &certs_d)]);
    let user = registry_tls_support::USER;
    let args = ["login", "-u", user, "--password-stdin", host.as_str()];
    let out = svc.docker_stdin(&args, &format!("{}\n", registry_tls_support::PASSWORD));
    assert!(
        out.status.success(),
        "{}\n{}",
        String::from_utf8_lossy(&out.stderr),
        reg.log()
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains("Login Succeeded"));

    let out = svc.docker_stdin(&args, "wrong-password\n");
    assert!(!out.status.success());
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(err.contains("unauthorized"), "{err}");
    let reply = svc.curl(
        &[
            "-X",
            "POST",
            "-d",
            &format!(r#"{{"username":"{user}","password":"no","serveraddress":"{host}"}}"#),
        ],
        "/v1.50/auth",
    );
    assert_eq!(reply.status, 401, "{reply:?}");
    let ok = svc.curl(
        &[
            "-X",
            "POST",
            "-d",
            &format!(
                r#"{{"username":"{user}","password":"{}","serveraddress":"{host}"}}"#,
                registry_tls_support::PASSWORD
            ),
        ],
        "/v1.50/auth",
    );
    assert_eq!(
        ok.json(),
        serde_json::json!({"Status": "Login Succeeded", "IdentityToken": ""})
    );
}

#[test]
fn followed_events_arrive_live_and_hold_no_one_up() {
    use std::io::BufRead as _;
    let s = Strata::new();
    let svc = Service::start(&s, &["--time", "0"]);
    let id = s.import_busybox("busybox");
    // No `until`: the stream follows the log until the client goes away.
    let mut follower = Command::new("curl")
        .args(["-sN", "--max-time", "30", "--unix-socket"])
        .arg(&svc.sock)
        .arg("http://strata/v1.50/events?filters=%7B%22type%22%3A%5B%22image%22%5D%7D")
        .stdout(Stdio::piped())
        .spawn()
        .expect("curl");
    let stdout = follower.stdout.take().unwrap();
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in std::io::BufReader::new(stdout)
            .lines()
            .map_while(Result::ok)
        {
            if tx.send(line).is_err() {
                break;
            }
        }
    });
    // Others are served while the stream is open.
    for _ in 0..5 {
        assert_eq!(svc.curl(&[], "/_ping").body, "OK");
    }
    // Until the follower's request is in, a tag would come before it; retry a few times.
    let mut got = None;
    for n in 0..20 {
        s.ok(&["tag", "busybox", &format!("live:{n}")]);
        if let Ok(line) = rx.recv_timeout(Duration::from_millis(500)) {
            got = Some(line);
            break;
        }
    }
    let _ = follower.kill();
    let _ = follower.wait();
    let line = got.expect("no event arrived on the followed stream");
    let e: serde_json::Value = serde_json::from_str(&line).unwrap();
    assert_eq!(e["Type"], "image");
    assert_eq!(e["Action"], "tag");
    assert_eq!(e["Actor"]["ID"], id.as_str());
    assert!(e["timeNano"].as_i64().unwrap() > 0);
}

#[test]
fn python_sdk_drives_the_images() {
    let s = Strata::new();
    let svc = Service::start(&s, &["--time", "0"]);
    let id = s.import_busybox("busybox");
    let script = r#"
import docker
c = docker.from_env()
assert c.ping()
print(c.version()["ApiVersion"], c.info()["Images"])
print([i.tags for i in c.images.list()])
img = c.images.get("busybox")
print(img.id, img.attrs["Config"]["Cmd"], img.history()[0]["Id"] == img.id)
img.tag("sdk/tagged", "v1")
print(sorted(c.images.get("sdk/tagged:v1").tags))
c.images.remove("sdk/tagged:v1")
try:
    c.images.get("sdk/tagged:v1")
except docker.errors.ImageNotFound as e:
    print("gone:", e.explanation)
print(c.df()["LayersSize"] > 0, c.images.prune()["SpaceReclaimed"])
"#;
    let stdout = svc.python_ok(script);
    assert_eq!(
        stdout,
        format!(
            "1.50 1\n[['busybox:latest']]\n{id} ['sh'] True\n['busybox:latest', \
             'sdk/tagged:v1']\ngone: No such image: sdk/tagged:v1\nTrue 0\n"
        )
    );
}
