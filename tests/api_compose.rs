//! Debian's `docker-compose` (1.29) against `strata system service`: a two-service project
//! (a web server serving a file from a named volume on a published loopback port, and a
//! client that fetches it by service name) goes up, shows in `ps` and `logs`, runs `exec`,
//! and `down -v` leaves no container, network or volume behind.

mod api_support;
mod common;

use std::process::Command;
use std::time::{Duration, Instant};

use api_support::{Project, Service};
use common::Strata;

const COMPOSE_FILE: &str = r#"version: "3.7"
services:
  web:
    image: busybox
    command: ["sh", "-c", "echo served-from-volume > /www/index.html && exec httpd -f -p 80 -h /www"]
    volumes:
      - site:/www
    ports:
      - "127.0.0.1:PORT:80"
  client:
    image: busybox
    command: ["sh", "-c", "for i in $$(seq 1 30); do wget -q -O - http://web/index.html && break; sleep 1; done; exec sleep 300"]
    depends_on:
      - web
volumes:
  site:
"#;

/// A loopback port nobody listens on right now.
fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

fn curl_loopback(port: u16) -> Option<String> {
    let out = Command::new("curl")
        .args(["-s", "--max-time", "5"])
        .arg(format!("http://127.0.0.1:{port}/index.html"))
        .output()
        .expect("run curl");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

#[test]
fn compose_up_ps_logs_down() {
    let s = Strata::new();
    let svc = Service::start(&s, &["--time", "0"]);
    s.import_busybox("busybox");
    let port = free_port();
    let dir = s.scratch("project");
    std::fs::write(
        dir.join("docker-compose.yml"),
        COMPOSE_FILE.replace("PORT", &port.to_string()),
    )
    .unwrap();
    let p = Project {
        svc: &svc,
        dir,
        name: format!("vncompose{}", std::process::id()),
    };
    let name = p.name.clone();

    p.ok(&["up", "-d"]);
    let ps = p.ok(&["ps"]);
    for service in ["web", "client"] {
        let line = ps
            .lines()
            .find(|l| l.starts_with(&format!("{name}_{service}_1 ")))
            .unwrap_or_else(|| panic!("no {service} in:\n{ps}"));
        assert!(line.contains(" Up "), "{line}");
    }
    assert!(ps.contains(&format!("127.0.0.1:{port}->80/tcp")), "{ps}");
    // Compose's objects are the store's: the strata CLI sees them.
    assert_eq!(s.ok(&["volume", "ls", "-q"]), format!("{name}_site\n"));
    let nets = s.ok(&["network", "ls", "--format", "{{.Name}}"]);
    assert!(
        nets.lines().any(|l| l == format!("{name}_default")),
        "{nets}"
    );

    // The client found the web server by its service name, through the project network.
    let deadline = Instant::now() + Duration::from_secs(40);
    let logs = loop {
        let logs = p.ok(&["logs", "--no-color", "client"]);
        if logs.contains("served-from-volume") || Instant::now() > deadline {
            break logs;
        }
        std::thread::sleep(Duration::from_millis(500));
    };
    assert!(logs.contains("client_1  | served-from-volume"), "{logs}");
    // The published port, from the host.
    let deadline = Instant::now() + Duration::from_secs(20);
    let body = loop {
        match curl_loopback(port) {
            Some(b) => break b,
            None if Instant::now() < deadline => std::thread::sleep(Duration::from_millis(300)),
            None => panic!("nothing on 127.0.0.1:{port}"),
        }
    };
    assert_eq!(body, "served-from-volume\n");
    // The file is in the named volume, on the host.
    let file = s
        .root
        .join(format!("volumes-v1/{name}_site/_data/index.html"));
    assert_eq!(
        std::fs::read_to_string(&file).unwrap(),
        "served-from-volume\n"
    );

    // `exec` in the running web service (no tty: compose's -T), through the exec endpoints:
    // it sees the volume's file, and its exit code comes back.
    let out = p.ok(&["exec", "-T", "web", "cat", "/www/index.html"]);
    assert_eq!(out, "served-from-volume\n");
    let out = p.compose(&["exec", "-T", "web", "sh", "-c", "exit 4"]);
    assert_eq!(out.status.code(), Some(4), "{out:?}");

    // A second `up` finds everything as it is (the network's config included).
    let out = p.compose(&["up", "-d"]);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{err}");
    assert!(err.contains("is up-to-date"), "{err}");

    p.ok(&["down", "-v"]);
    assert_eq!(s.ok(&["ps", "-aq"]), "");
    assert_eq!(s.ok(&["volume", "ls", "-q"]), "");
    assert_eq!(
        s.ok(&["network", "ls", "--format", "{{.Name}}"]),
        "bridge\nhost\nnone\n"
    );
    assert!(curl_loopback(port).is_none(), "port {port} still answers");
}
