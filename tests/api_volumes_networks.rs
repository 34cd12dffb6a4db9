//! The volume and network endpoints of `strata system service`, driven by the real docker
//! CLI, curl and the Python SDK over the test's own socket, in a temp store shared with the
//! `strata` CLI (what one front door makes, the other sees). Containers talk only over the
//! test's own bridges.

mod api_support;
mod common;

use std::path::PathBuf;
use std::time::{Duration, Instant};

use api_support::Service;
use common::Strata;

fn service() -> (Strata, Service) {
    let s = Strata::new();
    let svc = Service::start(&s, &["--time", "0"]);
    s.import_busybox("busybox");
    (s, svc)
}

fn lines(out: &str) -> Vec<&str> {
    let mut l: Vec<&str> = out.lines().collect();
    l.sort();
    l
}

#[test]
fn docker_volume_commands() {
    let (s, svc) = service();
    assert_eq!(
        svc.docker_ok(&["volume", "create", "--label", "env=prod", "vn-data"])
            .trim(),
        "vn-data"
    );
    let anon = svc.docker_ok(&["volume", "create"]);
    let anon = anon.trim();
    assert_eq!(anon.len(), 64, "{anon}");
    // Made by the strata CLI, seen through the API, and the reverse.
    s.ok(&["volume", "create", "vn-cli"]);
    assert_eq!(
        lines(&svc.docker_ok(&["volume", "ls", "-q"])),
        lines(&format!("{anon}\nvn-cli\nvn-data\n"))
    );
    assert_eq!(
        lines(&s.ok(&["volume", "ls", "-q"])),
        lines(&format!("{anon}\nvn-cli\nvn-data\n"))
    );
    assert_eq!(
        svc.docker_ok(&["volume", "ls", "-q", "--filter", "label=env=prod"]),
        "vn-data\n"
    );
    assert_eq!(
        svc.docker_ok(&["volume", "ls", "-q", "--filter", "name=cli"]),
        "vn-cli\n"
    );
    let v: serde_json::Value =
        serde_json::from_str(&svc.docker_ok(&["volume", "inspect", "vn-data"])).unwrap();
    assert_eq!(v[0]["Name"], "vn-data");
    assert_eq!(v[0]["Driver"], "local");
    assert_eq!(v[0]["Scope"], "local");
    assert_eq!(v[0]["Labels"]["env"], "prod");
    let mountpoint = PathBuf::from(v[0]["Mountpoint"].as_str().unwrap());
    assert_eq!(mountpoint, s.root.join("volumes-v1/vn-data/_data"));
    assert!(mountpoint.is_dir());

    // In use by a container: not dangling, and removing it is Docker's 409.
    let id = svc.docker_ok(&[
        "create",
        "--network",
        "none",
        "-v",
        "vn-data:/data",
        "busybox",
        "true",
    ]);
    let id = id.trim();
    assert_eq!(
        lines(&svc.docker_ok(&["volume", "ls", "-q", "--filter", "dangling=true"])),
        lines(&format!("{anon}\nvn-cli\n"))
    );
    let err = svc.docker_fails(&["volume", "rm", "vn-data"]);
    assert!(
        err.contains(&format!("remove vn-data: volume is in use - [{id}]")),
        "{err}"
    );
    let r = svc.curl(&["-X", "DELETE"], "/volumes/vn-data");
    assert_eq!(r.status, 409, "{r:?}");

    // Prune takes anonymous volumes only; `-a` every unused one.
    let out = svc.docker_ok(&["volume", "prune", "-f"]);
    assert!(
        out.contains(&format!("Deleted Volumes:\n{anon}\n")),
        "{out}"
    );
    let out = svc.docker_ok(&["volume", "prune", "-a", "-f"]);
    assert!(out.contains("Deleted Volumes:\nvn-cli\n"), "{out}");
    assert_eq!(s.ok(&["volume", "ls", "-q"]), "vn-data\n");

    svc.docker_ok(&["rm", id]);
    assert_eq!(svc.docker_ok(&["volume", "rm", "vn-data"]), "vn-data\n");
    let err = svc.docker_fails(&["volume", "rm", "vn-data"]);
    assert!(
        err.contains("Error response from daemon: get vn-data: no such volume"),
        "{err}"
    );
    assert_eq!(s.ok(&["volume", "ls", "-q"]), "");
}

#[test]
fn volume_endpoints_answer_as_dockerd() {
    let (_s, svc) = service();
    fn with(body: &str) -> Vec<&str> {
        vec![
            "-H",
            "Content-Type: application/json",
            "-X",
            "POST",
            "-d",
            body,
        ]
    }
    let r = svc.curl(
        &with(r#"{"Name":"vn-api","Labels":{"a":"1"}}"#),
        "/volumes/create",
    );
    assert_eq!(r.status, 201, "{r:?}");
    assert_eq!(r.json()["Name"], "vn-api");
    assert_eq!(r.json()["Labels"]["a"], "1");
    // Creating it again returns it as it is.
    let r = svc.curl(&with(r#"{"Name":"vn-api"}"#), "/volumes/create");
    assert_eq!(
        (r.status, r.json()["Labels"]["a"].as_str()),
        (201, Some("1"))
    );

    let r = svc.curl(&[], "/v1.41/volumes");
    assert_eq!(r.status, 200);
    let v = r.json();
    assert_eq!(v["Warnings"], serde_json::json!([]));
    assert_eq!(v["Volumes"].as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v["Volumes"][0]["Name"], "vn-api");
    let r = svc.curl(
        &["-G", "--data-urlencode", r#"filters={"label":["a=2"]}"#],
        "/volumes",
    );
    assert_eq!(r.json()["Volumes"], serde_json::json!([]));
    let r = svc.curl(
        &["-G", "--data-urlencode", r#"filters={"colour":["red"]}"#],
        "/volumes",
    );
    assert_eq!(r.status, 400, "{r:?}");

    for (body, status, message) in [
        (r#"{"Name":7}"#, 400, "invalid JSON for field Name"),
        ("{nope", 400, "invalid JSON"),
        (
            r#"{"Name":"x","Driver":"nfs"}"#,
            404,
            "error looking up volume plugin nfs: plugin \"nfs\" not found",
        ),
        (
            r#"{"Name":"a/b"}"#,
            400,
            "create a/b: \"a/b\" includes invalid characters for a local volume name",
        ),
    ] {
        let r = svc.curl(&with(body), "/volumes/create");
        assert_eq!(r.status, status, "{body}: {r:?}");
        let m = r.json()["message"].as_str().unwrap().to_string();
        assert!(m.starts_with(message), "{body}: {m}");
    }

    let r = svc.curl(&[], "/volumes/nope");
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["message"], "get nope: no such volume");
    assert_eq!(svc.curl(&["-X", "DELETE"], "/volumes/nope").status, 404);
    assert_eq!(
        svc.curl(&["-X", "DELETE"], "/volumes/nope?force=1").status,
        204
    );

    // A named volume goes only with `all=true`, and a label filter narrows it.
    let r = svc.curl(&["-X", "POST"], "/volumes/prune");
    assert_eq!(r.json()["VolumesDeleted"], serde_json::json!([]));
    let prune_all = |labels: &str| {
        let f = format!(r#"filters={{"all":["true"],"label":[{labels}]}}"#);
        svc.curl(
            &["-X", "POST", "-G", "--data-urlencode", &f],
            "/volumes/prune",
        )
    };
    assert_eq!(
        prune_all(r#""a=2""#).json()["VolumesDeleted"],
        serde_json::json!([])
    );
    let r = prune_all(r#""a=1""#);
    assert_eq!(r.status, 200, "{r:?}");
    assert_eq!(r.json()["VolumesDeleted"], serde_json::json!(["vn-api"]));
    assert_eq!(svc.curl(&[], "/volumes/vn-api").status, 404);
}

#[test]
fn docker_network_commands() {
    let (s, svc) = service();
    // A subnet of this test's own: subnets are claimed host-wide.
    let third = 100 + std::process::id() % 100;
    let subnet = format!("10.231.{third}.0/24");
    let gateway = format!("10.231.{third}.254");
    let id = svc.docker_ok(&[
        "network",
        "create",
        "--subnet",
        &subnet,
        "--gateway",
        &gateway,
        "--label",
        "team=web",
        "vn-front",
    ]);
    let id = id.trim();
    assert_eq!(id.len(), 64, "{id}");
    let err = svc.docker_fails(&["network", "create", "vn-front"]);
    assert!(
        err.contains("network with name vn-front already exists"),
        "{err}"
    );
    let r = svc.post_json("/networks/create", r#"{"Name":"vn-front"}"#);
    assert_eq!(r.status, 409, "{r:?}");
    let r = svc.curl(
        &["-X", "POST", "-d", r#"{"Name":"vn-six","EnableIPv6":true}"#],
        "/networks/create",
    );
    assert_eq!(r.status, 400, "{r:?}");
    // The strata CLI's network, seen through the API.
    s.ok(&["network", "create", "vn-back"]);

    let ls = svc.docker_ok(&[
        "network",
        "ls",
        "--format",
        "{{.Name}} {{.Driver}} {{.Scope}}",
    ]);
    assert_eq!(
        lines(&ls),
        vec![
            "bridge bridge local",
            "host host local",
            "none null local",
            "vn-back bridge local",
            "vn-front bridge local"
        ],
        "{ls}"
    );
    let q = |f: &str| svc.docker_ok(&["network", "ls", "--format", "{{.Name}}", "--filter", f]);
    assert_eq!(lines(&q("type=custom")), vec!["vn-back", "vn-front"]);
    assert_eq!(lines(&q("type=builtin")), vec!["bridge", "host", "none"]);
    assert_eq!(q("label=team=web"), "vn-front\n");
    assert_eq!(q(&format!("id={}", &id[..12])), "vn-front\n");
    assert_eq!(lines(&q("driver=null")), vec!["none"]);
    assert_eq!(lines(&q("dangling=true")), vec!["vn-back", "vn-front"]);
    assert_eq!(
        lines(&s.ok(&["network", "ls", "--format", "{{.Name}}"])),
        vec!["bridge", "host", "none", "vn-back", "vn-front"]
    );

    // Connect a container, see it in inspect, disconnect it.
    let c = svc.docker_ok(&["run", "-d", "--name", "vn-box", "busybox", "sleep", "60"]);
    let c = c.trim();
    svc.docker_ok(&[
        "network", "connect", "--alias", "web1", "vn-front", "vn-box",
    ]);
    let v: serde_json::Value =
        serde_json::from_str(&svc.docker_ok(&["network", "inspect", "vn-front"])).unwrap();
    let n = &v[0];
    assert_eq!(n["Id"], id);
    assert_eq!(n["Driver"], "bridge");
    assert_eq!(n["IPAM"]["Config"][0]["Subnet"], subnet.as_str());
    assert_eq!(n["IPAM"]["Config"][0]["Gateway"], gateway.as_str());
    assert_eq!(n["Labels"]["team"], "web");
    assert_eq!(n["Containers"][c]["Name"], "vn-box");
    let ip = n["Containers"][c]["IPv4Address"].as_str().unwrap();
    assert!(
        ip.starts_with(&format!("10.231.{third}.")) && ip.ends_with("/24"),
        "{ip}"
    );
    let aliases = svc.docker_ok(&[
        "inspect",
        "-f",
        "{{json (index .NetworkSettings.Networks \"vn-front\").Aliases}}",
        "vn-box",
    ]);
    assert!(aliases.contains("\"web1\""), "{aliases}");
    assert_eq!(q("dangling=true"), "vn-back\n");
    let err = svc.docker_fails(&["network", "rm", "vn-front"]);
    assert!(err.contains("has active endpoints"), "{err}");
    assert_eq!(
        svc.curl(&["-X", "DELETE"], "/networks/vn-front").status,
        403
    );
    svc.docker_ok(&["network", "disconnect", "vn-front", "vn-box"]);
    let v: serde_json::Value =
        serde_json::from_str(&svc.docker_ok(&["network", "inspect", "vn-front"])).unwrap();
    assert_eq!(v[0]["Containers"], serde_json::json!({}));
    let err = svc.docker_fails(&["network", "disconnect", "vn-front", "vn-box"]);
    assert!(
        err.contains("is not connected to network vn-front"),
        "{err}"
    );
    svc.docker_ok(&["rm", "-f", "vn-box"]);

    // The built-ins stay; Docker's 403 and 404.
    let err = svc.docker_fails(&["network", "rm", "bridge"]);
    assert!(
        err.contains("bridge is a pre-defined network and cannot be removed"),
        "{err}"
    );
    assert_eq!(svc.curl(&["-X", "DELETE"], "/networks/host").status, 403);
    let r = svc.curl(&[], "/networks/vn-nope");
    assert_eq!(r.status, 404);
    assert_eq!(r.json()["message"], "network vn-nope not found");

    assert_eq!(svc.docker_ok(&["network", "rm", "vn-back"]), "vn-back\n");
    let out = svc.docker_ok(&["network", "prune", "-f"]);
    assert_eq!(out, "Deleted Networks:\nvn-front\n\n");
    assert_eq!(
        lines(&s.ok(&["network", "ls", "--format", "{{.Name}}"])),
        vec!["bridge", "host", "none"]
    );
}

#[test]
fn network_alias_reaches_a_container() {
    let (_s, svc) = service();
    svc.docker_ok(&["network", "create", "vn-app"]);
    svc.docker_ok(&[
        "run",
        "-d",
        "--name",
        "vn-srv",
        "--network",
        "vn-app",
        "--network-alias",
        "vn-svc",
        "busybox",
        "sh",
        "-c",
        "mkdir /www && echo served-by-alias > /www/index.html && httpd -f -p 80 -h /www",
    ]);
    let fetch = |host: &str| -> String {
        let url = format!("http://{host}/index.html");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            let out = svc.docker(&[
                "run",
                "--rm",
                "--network",
                "vn-app",
                "busybox",
                "wget",
                "-q",
                "-O",
                "-",
                &url,
            ]);
            let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
            if out.status.success() || Instant::now() > deadline {
                assert!(
                    out.status.success(),
                    "wget {url}: {stdout}{}",
                    String::from_utf8_lossy(&out.stderr)
                );
                return stdout;
            }
            std::thread::sleep(Duration::from_millis(300));
        }
    };
    assert_eq!(fetch("vn-svc"), "served-by-alias\n");
    // An alias given at connect time resolves too.
    svc.docker_ok(&["network", "create", "vn-side"]);
    svc.docker_ok(&[
        "network",
        "connect",
        "--alias",
        "vn-side-web",
        "vn-side",
        "vn-srv",
    ]);
    let out = svc.docker_ok(&[
        "run",
        "--rm",
        "--network",
        "vn-side",
        "busybox",
        "wget",
        "-q",
        "-O",
        "-",
        "http://vn-side-web/index.html",
    ]);
    assert_eq!(out, "served-by-alias\n");
    svc.docker_ok(&["rm", "-f", "vn-srv"]);
    svc.docker_ok(&["network", "rm", "vn-app", "vn-side"]);
}

#[test]
fn python_sdk_volumes_and_networks() {
    let (s, svc) = service();
    // As with dockerd, a container is on a network's list only while it runs.
    let script = r#"
import docker
c = docker.from_env()
v = c.volumes.create("vn-py", labels={"k": "v"})
print(v.name, v.attrs["Labels"], [x.name for x in c.volumes.list(filters={"label": "k=v"})])
n = c.networks.create("vn-pynet", driver="bridge", labels={"a": "b"})
print(n.name, n.attrs["Driver"], [x.name for x in c.networks.list(names=["vn-pynet"])])
ctr = c.containers.create("busybox", "sleep 30", name="vn-pyc")
n.connect(ctr, aliases=["pyalias"])
n.reload()
print([x.name for x in n.containers])
ctr.start()
n.reload()
print([x.name for x in n.containers])
ctr.reload()
print(ctr.attrs["NetworkSettings"]["Networks"]["vn-pynet"]["Aliases"][0])
n.disconnect(ctr)
n.reload()
print(n.containers)
ctr.remove(force=True)
n.remove()
v.remove()
print(sorted(x.name for x in c.networks.list()), c.volumes.list())
try:
    c.volumes.get("vn-py")
except docker.errors.NotFound as e:
    print("gone:", e.explanation)
"#;
    let stdout = svc.python_ok(script);
    assert_eq!(
        stdout,
        "vn-py {'k': 'v'} ['vn-py']\nvn-pynet bridge ['vn-pynet']\n[]\n['vn-pyc']\npyalias\n[]\n\
         ['bridge', 'host', 'none'] []\ngone: get vn-py: no such volume\n"
    );
    assert_eq!(s.ok(&["volume", "ls", "-q"]), "");
    assert_eq!(s.ok(&["ps", "-aq"]), "");
}
