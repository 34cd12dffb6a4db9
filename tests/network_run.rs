//! Containers on real bridges (root): published ports reached from the host with curl, names
//! that resolve on user-defined networks and nowhere else, isolation between networks,
//! `network connect`/`disconnect`, `--internal`, the default network's gateway, Docker's
//! `/etc` files, and nothing left behind (veths, firewall rules, leases, DNS entries,
//! namespaces) by `stop`, `rm`, `rm -f` or a SIGKILLed supervisor.
//!
//! Traffic goes only to 127.0.0.1, to the bridges' gateway addresses and to the containers'
//! own addresses; names that are not containers' go to 127.0.0.1 (`STRATA_DNS`, set by the
//! harness), never to this machine's resolver.

mod common;
mod run_support;

use std::collections::BTreeSet;
use std::io::Write;
use std::net::{TcpListener, UdpSocket};
use std::process::Command;
use std::time::Duration;

use run_support::Env;
use serde_json::Value;

/// The web server every test uses: busybox httpd serving one file on port 80.
const WEB: &str =
    "mkdir -p /www && echo hello-web > /www/index.html && exec httpd -f -p 80 -h /www";

fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port()
}

/// `curl` from the host (a client nobody here wrote); `None` when it fails.
fn curl(url: &str) -> Option<String> {
    let out = Command::new("curl")
        .args(["-s", "-f", "-m", "5", url])
        .output()
        .expect("curl");
    out.status
        .success()
        .then(|| String::from_utf8_lossy(&out.stdout).into_owned())
}

/// Retries `curl` while the server starts.
fn curl_eventually(url: &str) -> String {
    for _ in 0..100 {
        if let Some(body) = curl(url) {
            return body;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
    panic!("{url} never answered");
}

fn inspect(e: &Env, what: &str) -> Value {
    let v: Value = serde_json::from_str(&e.s.ok(&["inspect", what])).unwrap();
    v[0].clone()
}

fn network_inspect(e: &Env, name: &str) -> Value {
    let v: Value = serde_json::from_str(&e.s.ok(&["network", "inspect", name])).unwrap();
    v[0].clone()
}

fn ip_of(e: &Env, ctr: &str, net: &str) -> String {
    inspect(e, ctr)["NetworkSettings"]["Networks"][net]["IPAddress"]
        .as_str()
        .unwrap()
        .to_string()
}

/// `sh -c script` in a running container; (exit code, stdout).
fn exec(e: &Env, ctr: &str, script: &str) -> (i32, String) {
    let out = e.output(&["exec", ctr, "sh", "-c", script], b"");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stdout).into_owned(),
    )
}

/// Whether `ctr` gets the web page of `host` (a name or address) within 2 s.
fn reaches(e: &Env, ctr: &str, host: &str) -> bool {
    let (code, out) = exec(
        e,
        ctr,
        &format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {host} 80"),
    );
    code == 0 && out.contains("hello-web")
}

fn run_d(e: &Env, args: &[&str]) -> String {
    let mut all = vec!["run", "-d"];
    all.extend_from_slice(args);
    e.s.ok(&all).trim().to_string()
}

/// A container named `name` on network `net` that only sleeps.
fn sleeper(e: &Env, name: &str, net: &str) -> String {
    run_d(
        e,
        &["--name", name, "--network", net, "busybox", "sleep", "300"],
    )
}

/// Host interfaces (veths and bridges) attached to `bridge`.
fn ports_of_bridge(bridge: &str) -> Vec<String> {
    // `ip` fails when the bridge itself is gone (its last endpoint took it along): none.
    let out = Command::new("ip")
        .args(["-o", "link", "show", "master", bridge])
        .output()
        .unwrap();
    String::from_utf8_lossy(&out.stdout)
        .lines()
        .map(String::from)
        .collect()
}

/// SIGKILLs the supervisor of container `id` (as a crash would) and waits for the record to
/// say it stopped.
fn kill_supervisor(e: &Env, id: &str) {
    let state_path = e.s.root.join("containers").join(id).join("state.json");
    let state: Value = serde_json::from_slice(&std::fs::read(&state_path).unwrap()).unwrap();
    let monitor = state["state"]["monitor"]["pid"].as_i64().unwrap() as i32;
    nix::sys::signal::kill(
        nix::unistd::Pid::from_raw(monitor),
        nix::sys::signal::Signal::SIGKILL,
    )
    .unwrap();
    e.eventually(10, "the container to die with its supervisor", || {
        e.ps().iter().all(|(_, s, _)| s != "running")
    });
}

fn iptables_save() -> String {
    common::tool("iptables-save", &[])
}

#[test]
fn published_port_serves_the_host_through_loopback_and_the_gateway() {
    let e = Env::new();
    let port = free_port();
    let id = run_d(
        &e,
        &[
            "--name",
            "web",
            "-p",
            &format!("{port}:80"),
            "busybox",
            "sh",
            "-c",
            WEB,
        ],
    );
    assert_eq!(
        curl_eventually(&format!("http://127.0.0.1:{port}/")),
        "hello-web\n"
    );
    // Another of the host's addresses: the default bridge's own gateway.
    let gw = network_inspect(&e, "bridge")["IPAM"]["Config"][0]["Gateway"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(
        curl(&format!("http://{gw}:{port}/")).as_deref(),
        Some("hello-web\n")
    );
    assert_eq!(
        e.s.ok(&["port", "web"]),
        format!("80/tcp -> 0.0.0.0:{port}\n")
    );
    assert_eq!(e.s.ok(&["port", "web", "80"]), format!("0.0.0.0:{port}\n"));
    let err = e.s.fails(&["port", "web", "81"]);
    assert!(
        err.contains("No public port '81/tcp' published for web"),
        "{err}"
    );
    let ps = e.s.ok(&["ps"]);
    assert!(ps.contains(&format!("0.0.0.0:{port}->80/tcp")), "{ps}");
    let v = inspect(&e, "web");
    assert_eq!(v["Id"], id);
    assert_eq!(
        v["NetworkSettings"]["Ports"]["80/tcp"][0]["HostPort"],
        port.to_string()
    );
    assert_eq!(v["HostConfig"]["NetworkMode"], "bridge");
    e.s.ok(&["rm", "-f", "web"]);
    assert_eq!(curl(&format!("http://127.0.0.1:{port}/")), None);
}

#[test]
fn free_ports_on_one_address_and_publish_all() {
    let e = Env::new();
    e.image_with("exposed", &["EXPOSE 80", r#"CMD ["sh"]"#]);
    run_d(
        &e,
        &[
            "--name",
            "one",
            "-p",
            "127.0.0.1::80",
            "busybox",
            "sh",
            "-c",
            WEB,
        ],
    );
    let line = e.s.ok(&["port", "one", "80/tcp"]);
    let addr = line.trim();
    assert!(addr.starts_with("127.0.0.1:"), "{line}");
    let port: u16 = addr["127.0.0.1:".len()..].parse().unwrap();
    assert_ne!(port, 0);
    assert_eq!(
        curl_eventually(&format!("http://127.0.0.1:{port}/")),
        "hello-web\n"
    );
    // Bound to 127.0.0.1 only: the gateway address does not forward it.
    let gw = network_inspect(&e, "bridge")["IPAM"]["Config"][0]["Gateway"]
        .as_str()
        .unwrap()
        .to_string();
    assert_eq!(curl(&format!("http://{gw}:{port}/")), None);

    run_d(&e, &["--name", "all", "-P", "exposed", "sh", "-c", WEB]);
    let line = e.s.ok(&["port", "all"]);
    let port: u16 = line
        .trim()
        .strip_prefix("80/tcp -> 0.0.0.0:")
        .unwrap_or_else(|| panic!("{line}"))
        .parse()
        .unwrap();
    assert_eq!(
        curl_eventually(&format!("http://127.0.0.1:{port}/")),
        "hello-web\n"
    );
    e.s.ok(&["rm", "-f", "one", "all"]);
}

#[test]
fn a_udp_port_reaches_the_container() {
    let e = Env::new();
    let port = {
        let s = UdpSocket::bind("127.0.0.1:0").unwrap();
        s.local_addr().unwrap().port()
    };
    run_d(
        &e,
        &[
            "--name",
            "udp",
            "-p",
            &format!("{port}:9999/udp"),
            "busybox",
            "sh",
            "-c",
            "sleep 300",
        ],
    );
    // busybox has no UDP server: the container's own UDP counters tell that datagrams for
    // a port nothing listens on arrived (NoPorts, the second field of /proc/net/snmp's Udp).
    let no_ports = || -> u64 {
        let (_, out) = exec(&e, "udp", "grep '^Udp: [0-9]' /proc/net/snmp");
        out.split_whitespace()
            .nth(2)
            .unwrap_or("0")
            .parse()
            .unwrap()
    };
    assert_eq!(no_ports(), 0);
    let sock = UdpSocket::bind("0.0.0.0:0").unwrap();
    e.eventually(10, "the datagrams to arrive", || {
        sock.send_to(b"ping-udp\n", ("127.0.0.1", port)).unwrap();
        std::thread::sleep(Duration::from_millis(100));
        no_ports() > 0
    });
    assert_eq!(
        e.s.ok(&["port", "udp"]),
        format!("9999/udp -> 0.0.0.0:{port}\n")
    );
    e.s.ok(&["rm", "-f", "udp"]);
}

#[test]
fn a_port_in_use_is_refused_before_anything_is_created() {
    let e = Env::new();
    let taken = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    for detach in [true, false] {
        let mut args = vec!["run"];
        if detach {
            args.push("-d");
        }
        let p = format!("{port}:80");
        args.extend(["-p", &p, "busybox", "true"]);
        let (_, err) = e.code(&args, 125);
        assert!(
            err.contains(&format!("0.0.0.0:{port}")) && err.contains("port is already allocated"),
            "{err}"
        );
    }
    assert_eq!(e.s.ok(&["ps", "-a", "-q"]), "");
    let bridge = network_inspect(&e, "bridge");
    assert_eq!(bridge["Containers"], serde_json::json!({}));
    // Bad specs are errors too.
    for bad in ["80:", "0:0", "70000:80", "80/sctp", "8000-8002:80-81"] {
        let (_, err) = e.code(&["run", "-p", bad, "busybox", "true"], 125);
        assert!(!err.is_empty(), "{bad}");
    }
}

#[test]
fn names_resolve_on_a_user_network_and_networks_are_isolated() {
    let e = Env::new();
    e.s.ok(&["network", "create", "app"]);
    e.s.ok(&["network", "create", "other"]);
    let db = run_d(
        &e,
        &[
            "--name",
            "db",
            "--network",
            "app",
            "--network-alias",
            "database",
            "busybox",
            "sh",
            "-c",
            WEB,
        ],
    );
    sleeper(&e, "cli", "app");
    sleeper(&e, "out", "other");
    let db_ip = ip_of(&e, "db", "app");
    e.eventually(10, "db's web server", || reaches(&e, "cli", &db_ip));
    for name in ["db", "database", &db[..12]] {
        assert!(reaches(&e, "cli", name), "cli reaches {name}");
        let (_, out) = exec(&e, "cli", &format!("nslookup {name}"));
        assert!(out.contains(&db_ip), "{name}: {out}");
    }
    // Another network: neither the address nor the name.
    assert!(!reaches(&e, "out", &db_ip));
    let (code, out) = exec(&e, "out", "nslookup db");
    assert!(code != 0 || !out.contains(&db_ip), "{out}");

    e.s.ok(&["network", "connect", "app", "out"]);
    assert!(reaches(&e, "out", &db_ip));
    assert!(reaches(&e, "out", "db"));
    let net = network_inspect(&e, "app");
    assert_eq!(net["Containers"].as_object().unwrap().len(), 3, "{net}");
    e.s.ok(&["network", "disconnect", "app", "out"]);
    assert!(!reaches(&e, "out", &db_ip));
    assert_eq!(
        network_inspect(&e, "app")["Containers"]
            .as_object()
            .unwrap()
            .len(),
        2
    );

    // The default network resolves no names, as Docker's.
    run_d(&e, &["--name", "plain", "busybox", "sleep", "300"]);
    let (_, out) = exec(&e, "plain", "nslookup db");
    assert!(!out.contains(&db_ip), "{out}");

    let err = e.s.fails(&["network", "rm", "app"]);
    assert!(err.contains("has active endpoints"), "{err}");
    e.s.ok(&["rm", "-f", "db", "cli", "out", "plain"]);
    e.s.ok(&["network", "rm", "app", "other"]);
}

#[test]
fn an_internal_network_has_no_route_out() {
    let e = Env::new();
    e.s.ok(&["network", "create", "--internal", "sealed"]);
    e.s.ok(&["network", "create", "open"]);
    sleeper(&e, "in", "sealed");
    run_d(
        &e,
        &[
            "--name",
            "peer",
            "--network",
            "sealed",
            "busybox",
            "sh",
            "-c",
            WEB,
        ],
    );
    run_d(
        &e,
        &[
            "--name",
            "far",
            "--network",
            "open",
            "busybox",
            "sh",
            "-c",
            WEB,
        ],
    );
    let (_, routes) = exec(&e, "in", "ip route");
    assert!(!routes.contains("default"), "{routes}");
    let peer = ip_of(&e, "peer", "sealed");
    e.eventually(10, "the peer on the internal network", || {
        reaches(&e, "in", &peer)
    });
    assert!(!reaches(&e, "in", &ip_of(&e, "far", "open")));
    let v = network_inspect(&e, "sealed");
    assert_eq!(v["Internal"], true);
    e.s.ok(&["rm", "-f", "in", "peer", "far"]);
}

#[test]
fn the_default_network_reaches_its_gateway_but_not_the_host_loopback() {
    let e = Env::new();
    run_d(&e, &["--name", "cc", "busybox", "sleep", "300"]);
    let gw = network_inspect(&e, "bridge")["IPAM"]["Config"][0]["Gateway"]
        .as_str()
        .unwrap()
        .to_string();
    let on_gw = TcpListener::bind((gw.as_str(), 0)).unwrap();
    let gw_port = on_gw.local_addr().unwrap().port();
    let server = std::thread::spawn(move || {
        let (mut s, _) = on_gw.accept().unwrap();
        s.write_all(b"hello from the gateway\n").unwrap();
    });
    let (_, out) = exec(&e, "cc", &format!("nc -w 3 {gw} {gw_port} </dev/null"));
    server.join().unwrap();
    assert_eq!(out, "hello from the gateway\n");

    let local = TcpListener::bind("127.0.0.1:0").unwrap();
    local.set_nonblocking(true).unwrap();
    let port = local.local_addr().unwrap().port();
    for target in ["127.0.0.1", gw.as_str()] {
        let (code, _) = exec(&e, "cc", &format!("nc -w 2 {target} {port} </dev/null"));
        assert_ne!(code, 0, "{target}:{port} reached");
    }
    assert!(local.accept().is_err(), "the container reached 127.0.0.1");
    e.s.ok(&["rm", "-f", "cc"]);
}

#[test]
fn etc_files_are_written_as_docker_writes_them() {
    let e = Env::new();
    e.s.ok(&["network", "create", "app"]);
    let gw = network_inspect(&e, "app")["IPAM"]["Config"][0]["Gateway"]
        .as_str()
        .unwrap()
        .to_string();
    run_d(
        &e,
        &[
            "--name",
            "etc",
            "--network",
            "app",
            "--hostname",
            "box",
            "--add-host",
            "db.local:10.1.2.3",
            "--add-host",
            "gw:host-gateway",
            "--dns-search",
            "example.test",
            "--dns-option",
            "timeout:2",
            "busybox",
            "sleep",
            "300",
        ],
    );
    let ip = ip_of(&e, "etc", "app");
    let (_, hosts) = exec(&e, "etc", "cat /etc/hosts");
    assert!(hosts.starts_with("127.0.0.1\tlocalhost\n"), "{hosts}");
    assert!(hosts.contains("10.1.2.3\tdb.local\n"), "{hosts}");
    assert!(hosts.contains(&format!("{gw}\tgw\n")), "{hosts}");
    assert!(hosts.ends_with(&format!("{ip}\tbox\n")), "{hosts}");
    let (_, resolv) = exec(&e, "etc", "cat /etc/resolv.conf");
    assert!(resolv.contains("search example.test\n"), "{resolv}");
    assert!(resolv.contains(&format!("nameserver {gw}\n")), "{resolv}");
    assert!(
        resolv.contains("ndots:0") && resolv.contains("timeout:2"),
        "{resolv}"
    );
    assert_eq!(exec(&e, "etc", "cat /etc/hostname").1, "box\n");

    // --dns on the default network: the servers as given.
    let (out, _) = e.code(
        &[
            "run",
            "--rm",
            "--dns",
            "192.0.2.53",
            "busybox",
            "cat",
            "/etc/resolv.conf",
        ],
        0,
    );
    assert!(out.contains("nameserver 192.0.2.53\n"), "{out}");
    let (_, err) = e.code(
        &["run", "--rm", "--dns", "not-an-ip", "busybox", "true"],
        125,
    );
    assert!(err.contains("not-an-ip"), "{err}");
    e.s.ok(&["rm", "-f", "etc"]);
}

#[test]
fn static_ips_container_mode_and_a_restart_keeps_the_address() {
    let e = Env::new();
    e.s.ok(&["network", "create", "--subnet", "10.89.200.0/24", "fixed"]);
    run_d(
        &e,
        &[
            "--name",
            "srv",
            "--network",
            "fixed",
            "--ip",
            "10.89.200.50",
            "busybox",
            "sh",
            "-c",
            WEB,
        ],
    );
    assert_eq!(ip_of(&e, "srv", "fixed"), "10.89.200.50");
    let (_, err) = e.code(
        &[
            "run",
            "-d",
            "--network",
            "fixed",
            "--ip",
            "10.89.200.50",
            "busybox",
            "true",
        ],
        125,
    );
    assert!(err.contains("Address already in use"), "{err}");
    // container:NAME shares the namespace: 127.0.0.1 is the other container's.
    e.eventually(10, "the web server", || {
        let out = e.output(
            &[
                "run",
                "--rm",
                "--network",
                "container:srv",
                "busybox",
                "wget",
                "-q",
                "-O-",
                "http://127.0.0.1/",
            ],
            b"",
        );
        String::from_utf8_lossy(&out.stdout) == "hello-web\n"
    });
    e.s.ok(&["stop", "-t", "1", "srv"]);
    e.s.ok(&["start", "srv"]);
    assert_eq!(ip_of(&e, "srv", "fixed"), "10.89.200.50");
    sleeper(&e, "probe", "fixed");
    e.eventually(10, "the restarted web server", || {
        reaches(&e, "probe", "10.89.200.50")
    });
    e.s.ok(&["rm", "-f", "srv", "probe"]);
    let err =
        e.s.fails(&["network", "create", "--subnet", "10.89.200.0/25", "clash"]);
    assert!(err.contains("overlaps"), "{err}");
    let err = e.s.fails(&["network", "rm", "bridge"]);
    assert!(err.contains("pre-defined network"), "{err}");
    let err = e.s.fails(&["network", "create", "fixed"]);
    assert!(err.contains("already exists"), "{err}");
}

#[test]
fn concurrent_runs_get_distinct_addresses() {
    let e = Env::new();
    e.s.ok(&["network", "create", "app"]);
    let handles: Vec<_> = (0..8)
        .map(|i| {
            let mut c = e.s.command(&[
                "run",
                "-d",
                "--name",
                &format!("c{i}"),
                "--network",
                "app",
                "busybox",
                "sleep",
                "300",
            ]);
            std::thread::spawn(move || c.output().unwrap())
        })
        .collect();
    for h in handles {
        let out = h.join().unwrap();
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    }
    let ips: BTreeSet<String> = (0..8).map(|i| ip_of(&e, &format!("c{i}"), "app")).collect();
    assert_eq!(ips.len(), 8, "{ips:?}");
    let names: Vec<String> = (0..8).map(|i| format!("c{i}")).collect();
    let mut args = vec!["rm", "-f"];
    args.extend(names.iter().map(String::as_str));
    e.s.ok(&args);
}

#[test]
fn only_running_containers_hold_addresses() {
    let e = Env::new();
    // A /29: five addresses for containers (.2 to .6), far fewer than the containers made.
    let third = 100 + std::process::id() % 100;
    e.s.ok(&[
        "network",
        "create",
        "--subnet",
        &format!("10.232.{third}.0/29"),
        "tiny",
    ]);
    let names: Vec<String> = (0..8).map(|i| format!("t{i}")).collect();
    for n in &names {
        e.s.ok(&[
            "create",
            "--name",
            n,
            "--network",
            "tiny",
            "busybox",
            "sleep",
            "300",
        ]);
    }
    assert_eq!(ip_of(&e, "t0", "tiny"), "");
    for n in &names[..5] {
        e.s.ok(&["start", n]);
    }
    let err = e.s.fails(&["start", "t5"]);
    assert!(
        err.contains("no available IPv4 address on network tiny"),
        "{err}"
    );
    let attached = |net: &str| {
        network_inspect(&e, net)["Containers"]
            .as_object()
            .map_or(0, |m| m.len())
    };
    assert_eq!(attached("tiny"), 5);
    e.s.ok(&["stop", "-t", "1", "t0"]);
    assert_eq!(ip_of(&e, "t0", "tiny"), "");
    assert_eq!(attached("tiny"), 4);
    e.s.ok(&["start", "t5"]);
    let ips: BTreeSet<String> = names[1..6].iter().map(|n| ip_of(&e, n, "tiny")).collect();
    assert_eq!(ips.len(), 5, "{ips:?}");
    assert!(ips.iter().all(|ip| ip.starts_with("10.232.")), "{ips:?}");
    // Connecting a stopped container leases nothing until it starts.
    e.s.ok(&["network", "create", "other"]);
    e.s.ok(&["network", "connect", "other", "t6"]);
    assert_eq!(attached("other"), 0);
    e.s.ok(&["network", "disconnect", "tiny", "t6"]);
    e.s.ok(&["start", "t6"]);
    assert_eq!(attached("other"), 1);
    assert!(ip_of(&e, "t6", "other").starts_with("10."));
    let mut args = vec!["rm", "-f"];
    args.extend(names.iter().map(String::as_str));
    e.s.ok(&args);
    e.s.ok(&["network", "rm", "tiny", "other"]);
}

/// Everything a container's network leaves on the host, for before/after comparisons.
#[derive(Debug, PartialEq)]
struct Traces {
    veths: usize,
    rules_naming_ip: usize,
    leases: usize,
    dns_entries: usize,
    netns: bool,
}

fn traces(e: &Env, id: &str, net: &str, bridge: &str, ip: &str) -> Traces {
    let v = network_inspect(e, net);
    let aardvark = e.s.root.join("networks-v1/aardvark/aardvark-dns").join(net);
    Traces {
        veths: ports_of_bridge(bridge).len(),
        rules_naming_ip: iptables_save()
            .lines()
            .filter(|l| l.contains(&format!("{ip}:")) || l.contains(&format!("{ip}/32")))
            .count(),
        leases: v["Containers"].as_object().map_or(0, |m| m.len()),
        dns_entries: std::fs::read_to_string(aardvark)
            .unwrap_or_default()
            .lines()
            .filter(|l| l.starts_with(id))
            .count(),
        netns: std::path::Path::new("/run/strata/netns").join(id).exists(),
    }
}

#[test]
fn stop_rm_and_a_killed_supervisor_leave_nothing_behind() {
    let e = Env::new();
    e.s.ok(&["network", "create", "app"]);
    let bridge = network_inspect(&e, "app")["Options"]["com.docker.network.bridge.name"]
        .as_str()
        .unwrap()
        .to_string();
    let none = Traces {
        veths: 0,
        rules_naming_ip: 0,
        leases: 0,
        dns_entries: 0,
        netns: false,
    };
    for how in ["stop+rm", "rm -f", "kill+rm"] {
        let port = free_port();
        let id = run_d(
            &e,
            &[
                "--network",
                "app",
                "-p",
                &format!("{port}:80"),
                "busybox",
                "sh",
                "-c",
                WEB,
            ],
        );
        let ip = inspect(&e, &id)["NetworkSettings"]["Networks"]["app"]["IPAddress"]
            .as_str()
            .unwrap()
            .to_string();
        let up = traces(&e, &id, "app", &bridge, &ip);
        assert_eq!(
            (up.veths, up.leases, up.dns_entries, up.netns),
            (1, 1, 1, true),
            "{how}: {up:?}"
        );
        assert!(up.rules_naming_ip > 0, "{how}: {up:?}");
        match how {
            "stop+rm" => {
                e.s.ok(&["stop", "-t", "1", &id]);
                let stopped = traces(&e, &id, "app", &bridge, &ip);
                assert_eq!((stopped.veths, stopped.netns), (0, false), "{stopped:?}");
                // As Docker's endpoints, the address lives only while the container runs.
                assert_eq!(stopped.leases, 0, "a stopped container holds no address");
                e.s.ok(&["rm", &id]);
            }
            "rm -f" => {
                e.s.ok(&["rm", "-f", &id]);
            }
            _ => {
                kill_supervisor(&e, &id);
                // Still wired: only the record knows, and `rm` undoes it.
                let left = traces(&e, &id, "app", &bridge, &ip);
                assert!(left.netns && left.rules_naming_ip > 0, "{left:?}");
                e.s.ok(&["rm", &id]);
            }
        }
        assert_eq!(traces(&e, &id, "app", &bridge, &ip), none, "{how}");
        assert_eq!(curl(&format!("http://127.0.0.1:{port}/")), None, "{how}");
    }
    e.s.ok(&["network", "rm", "app"]);
    assert!(
        !iptables_save().contains(&bridge),
        "isolation rule of a removed network"
    );
}

#[test]
fn system_prune_repairs_a_crashed_container_network() {
    let e = Env::new();
    e.s.ok(&["network", "create", "app"]);
    let id = run_d(&e, &["--network", "app", "busybox", "sleep", "300"]);
    kill_supervisor(&e, &id);
    assert!(std::path::Path::new("/run/strata/netns").join(&id).exists());
    let out = e.s.ok(&["system", "prune", "-f"]);
    assert!(out.contains("1 container network(s) torn down"), "{out}");
    assert!(!std::path::Path::new("/run/strata/netns").join(&id).exists());
    // Then, as Docker's prune does, the stopped container goes and its network with it.
    assert!(
        out.contains(&format!(
            "Deleted Containers:\n{id}\n\nDeleted Networks:\napp\n"
        )),
        "{out}"
    );

    // A store deleted while its container's network was up: any store's prune reclaims it.
    let other = Env::new();
    let id = run_d(&other, &["busybox", "sleep", "300"]);
    let ns = std::path::Path::new("/run/strata/netns").join(&id);
    kill_supervisor(&other, &id);
    std::fs::remove_dir_all(&other.s.root).unwrap();
    assert!(ns.exists());
    let out = e.s.ok(&["system", "prune", "-f"]);
    assert!(out.contains("1 network namespace(s)"), "{out}");
    assert!(!ns.exists());
}

#[test]
fn network_ls_filters_and_formats() {
    let e = Env::new();
    let id =
        e.s.ok(&["network", "create", "--label", "team=web", "front"]);
    let id = id.trim();
    assert_eq!(id.len(), 64);
    let ls = e.s.ok(&["network", "ls"]);
    assert!(
        ls.starts_with("NETWORK ID     NAME      DRIVER    SCOPE\n"),
        "{ls}"
    );
    assert!(
        ls.contains(&format!("{}   front     bridge    local", &id[..12])),
        "{ls}"
    );
    assert!(ls.contains("   bridge    bridge    local"), "{ls}");
    assert_eq!(
        e.s.ok(&[
            "network",
            "ls",
            "--filter",
            "label=team=web",
            "--format",
            "{{.Name}} {{.Driver}}"
        ]),
        "front bridge\n"
    );
    assert_eq!(
        e.s.ok(&[
            "network",
            "ls",
            "-q",
            "--no-trunc",
            "--filter",
            "name=front"
        ]),
        format!("{id}\n")
    );
    let v = network_inspect(&e, "front");
    assert_eq!(v["Labels"]["team"], "web");
    assert_eq!(v["Driver"], "bridge");
    let subnet = v["IPAM"]["Config"][0]["Subnet"]
        .as_str()
        .unwrap()
        .to_string();
    assert!(subnet.ends_with("/24"), "{subnet}");
    let err = e.s.fails(&["network", "inspect", "nope"]);
    assert!(err.contains("network nope not found"), "{err}");
    let err = e.s.fails(&["network", "create", "host"]);
    assert!(err.contains("pre-defined"), "{err}");
    e.s.ok(&["network", "rm", "front"]);
}

#[test]
fn user_mode_networking_publishes_ports_through_slirp4netns() {
    // The path containers without root take (there it is the default); as root it is
    // `--network slirp4netns`.
    let e = Env::new();
    let port = free_port();
    run_d(
        &e,
        &[
            "--name",
            "slirp",
            "--network",
            "slirp4netns",
            "-p",
            &format!("{port}:80"),
            "-p",
            "127.0.0.1::81",
            "busybox",
            "sh",
            "-c",
            "mkdir -p /www && echo hello-web > /www/index.html && httpd -p 81 -h /www && \
             exec httpd -f -p 80 -h /www",
        ],
    );
    assert_eq!(
        curl_eventually(&format!("http://127.0.0.1:{port}/")),
        "hello-web\n"
    );
    let line = e.s.ok(&["port", "slirp", "81"]);
    let free: u16 = line
        .trim()
        .strip_prefix("127.0.0.1:")
        .unwrap()
        .parse()
        .unwrap();
    assert_eq!(
        curl_eventually(&format!("http://127.0.0.1:{free}/")),
        "hello-web\n"
    );
    let ps = e.s.ok(&["ps"]);
    assert!(ps.contains(&format!("0.0.0.0:{port}->80/tcp")), "{ps}");
    assert_eq!(
        inspect(&e, "slirp")["HostConfig"]["NetworkMode"],
        "slirp4netns"
    );
    // The port is slirp4netns's while the container runs: a second one is refused.
    let (_, err) = e.code(
        &[
            "run",
            "-d",
            "--network",
            "slirp4netns",
            "-p",
            &format!("{port}:80"),
            "busybox",
            "true",
        ],
        125,
    );
    assert!(err.contains("port is already allocated"), "{err}");
    e.s.ok(&["rm", "-f", "slirp"]);
    assert_eq!(curl(&format!("http://127.0.0.1:{port}/")), None);
    let err = e.s.fails(&[
        "run",
        "--network",
        "slirp4netns",
        "--ip",
        "10.0.2.9",
        "busybox",
        "true",
    ]);
    assert!(err.contains("need a bridge network"), "{err}");
}

/// A DNS server on the host's 127.0.0.1:53 (where `STRATA_DNS` points) that answers every A
/// query with `answer`; returns how many queries it got when `stop` is set.
fn fake_resolver(
    answer: [u8; 4],
    stop: std::sync::Arc<std::sync::atomic::AtomicBool>,
) -> std::thread::JoinHandle<usize> {
    let sock = UdpSocket::bind("127.0.0.1:53").expect("127.0.0.1:53 free for the fake resolver");
    sock.set_read_timeout(Some(Duration::from_millis(100)))
        .unwrap();
    std::thread::spawn(move || {
        let mut served = 0;
        let mut buf = [0u8; 512];
        while !stop.load(std::sync::atomic::Ordering::SeqCst) {
            let Ok((n, from)) = sock.recv_from(&mut buf) else {
                continue;
            };
            if n < 12 {
                continue;
            }
            // The question ends after its name's zero byte and QTYPE/QCLASS.
            let mut end = 12;
            while end < n && buf[end] != 0 {
                end += buf[end] as usize + 1;
            }
            end += 5;
            if end > n {
                continue;
            }
            let qtype = u16::from_be_bytes([buf[end - 4], buf[end - 3]]);
            let mut reply = buf[..end].to_vec();
            reply[2] = 0x81; // a response, recursion desired
            reply[3] = 0x80; // recursion available, no error
            reply[6..12].copy_from_slice(&[0, 0, 0, 0, 0, 0]);
            if qtype == 1 {
                reply[7] = 1;
                reply.extend_from_slice(&[0xc0, 0x0c, 0, 1, 0, 1, 0, 0, 0, 60, 0, 4]);
                reply.extend_from_slice(&answer);
            }
            let _ = sock.send_to(&reply, from);
            served += 1;
        }
        served
    })
}

#[test]
fn other_names_go_to_the_hosts_resolvers() {
    let e = Env::new();
    e.s.ok(&["network", "create", "app"]);
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    // 192.0.2.0/24 is documentation space: only written in the answer, never contacted.
    let resolver = fake_resolver([192, 0, 2, 77], stop.clone());
    sleeper(&e, "asker", "app");
    sleeper(&e, "known", "app");
    let (_, out) = exec(&e, "asker", "nslookup -type=a outside.example");
    assert!(out.contains("192.0.2.77"), "{out}");
    // Containers' names are answered by the network's own resolver, not forwarded.
    let (_, out) = exec(&e, "asker", "nslookup -type=a known");
    assert!(out.contains(&ip_of(&e, "known", "app")), "{out}");
    assert!(!out.contains("192.0.2.77"), "{out}");
    stop.store(true, std::sync::atomic::Ordering::SeqCst);
    assert!(resolver.join().unwrap() >= 1);
    e.s.ok(&["rm", "-f", "asker", "known"]);
}

#[test]
fn port_ranges_publish_one_port_each() {
    let e = Env::new();
    let base = free_port();
    // Two consecutive free ports.
    let (a, b) = (base, base + 1);
    if TcpListener::bind(("0.0.0.0", b)).is_err() {
        panic!("port {b} is in use; rerun");
    }
    run_d(
        &e,
        &[
            "--name",
            "ranged",
            "-p",
            &format!("{a}-{b}:80-81"),
            "busybox",
            "sh",
            "-c",
            "mkdir -p /www && echo hello-web > /www/index.html && httpd -p 81 -h /www && \
             exec httpd -f -p 80 -h /www",
        ],
    );
    assert_eq!(
        e.s.ok(&["port", "ranged"]),
        format!("80/tcp -> 0.0.0.0:{a}\n81/tcp -> 0.0.0.0:{b}\n")
    );
    for p in [a, b] {
        assert_eq!(
            curl_eventually(&format!("http://127.0.0.1:{p}/")),
            "hello-web\n"
        );
    }
    let ps = e.s.ok(&["ps"]);
    assert!(ps.contains(&format!("0.0.0.0:{a}-{b}->80-81/tcp")), "{ps}");
    e.s.ok(&["rm", "-f", "ranged"]);
}

#[test]
fn the_netavark_backend_publishes_resolves_and_cleans_up() {
    let e = Env::new();
    let nv = |args: &[&str]| -> String {
        let out =
            e.s.command(args)
                .env("STRATA_NETWORK_BACKEND", "netavark")
                .output()
                .unwrap();
        assert!(
            out.status.success(),
            "{}",
            e.s.report("netavark backend", args, &out)
        );
        String::from_utf8_lossy(&out.stdout).into_owned()
    };
    nv(&["network", "create", "nvnet"]);
    let port = free_port();
    let p = format!("{port}:80");
    nv(&[
        "run",
        "-d",
        "--name",
        "nvweb",
        "--network",
        "nvnet",
        "-p",
        &p,
        "busybox",
        "sh",
        "-c",
        WEB,
    ]);
    nv(&[
        "run",
        "-d",
        "--name",
        "nvcli",
        "--network",
        "nvnet",
        "busybox",
        "sleep",
        "300",
    ]);
    assert_eq!(
        curl_eventually(&format!("http://127.0.0.1:{port}/")),
        "hello-web\n"
    );
    let web_ip = ip_of(&e, "nvweb", "nvnet");
    let (_, out) = exec(&e, "nvcli", "nslookup -type=a nvweb");
    assert!(out.contains(&web_ip), "{out}");
    assert!(reaches(&e, "nvcli", "nvweb"));
    let bridge = network_inspect(&e, "nvnet")["Options"]["com.docker.network.bridge.name"]
        .as_str()
        .unwrap()
        .to_string();
    nv(&["rm", "-f", "nvweb", "nvcli"]);
    assert_eq!(ports_of_bridge(&bridge).len(), 0);
    assert!(!iptables_save().contains(&format!("{web_ip}:80")));
    assert_eq!(curl(&format!("http://127.0.0.1:{port}/")), None);
    nv(&["network", "rm", "nvnet"]);
    assert!(!iptables_save().contains(&bridge));
}
