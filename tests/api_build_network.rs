//! A build's `networkmode` (`docker build --network`, docker-py's `network_mode`,
//! `strata build --network`) naming a user network or `container:X`: every RUN gets an
//! endpoint of its own on the network (and reaches its containers by name through the
//! network's DNS) or joins the container's namespace, as dockerd's classic builder runs its
//! step containers. An unknown network or a container that is not running fails the RUN in
//! dockerd's words; a killed build's endpoint is reclaimed by `system prune`, a live one's
//! never. Everything talks only to the test's own bridges; busybox is imported offline.

mod api_support;
mod build_support;
mod common;

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Output, Stdio};
use std::time::{Duration, Instant};

use api_support::{busybox_service, Service, SDK_PRELUDE};
use build_support::processes_with;
use common::Strata;
use serde_json::json;

/// What every server here serves.
const PAGE: &str = "served-on-the-network";

/// A busybox httpd serving [`PAGE`] on port 80, as a container's command.
fn httpd_cmd() -> String {
    format!("mkdir /www && echo {PAGE} > /www/index.html && httpd -f -p 80 -h /www")
}

/// A RUN that fetches `url` into `/answer`, waiting for the server to come up.
fn fetching_dockerfile(url: &str) -> String {
    format!(
        "FROM busybox\nRUN for i in $(seq 100); do wget -q -O /answer {url} && exit 0; \
         sleep 0.2; done; exit 1\n"
    )
}

/// A context directory holding `dockerfile`.
fn context(s: &Strata, name: &str, dockerfile: &str) -> PathBuf {
    let dir = s.scratch(name);
    fs::write(dir.join("Dockerfile"), dockerfile).unwrap();
    dir
}

/// `docker build ARGS CTX` with the classic builder.
fn classic_build(svc: &Service, args: &[&str], ctx: &Path) -> Output {
    svc.docker_command()
        .env("DOCKER_BUILDKIT", "0")
        .arg("build")
        .args(args)
        .arg(ctx)
        .output()
        .unwrap()
}

fn text(out: &Output) -> String {
    format!(
        "{}\n--- stderr\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// The pinned namespaces (by id) whose owner record names the store at `root`.
fn namespaces_of(root: &Path) -> Vec<String> {
    let root = fs::canonicalize(root).unwrap_or_else(|_| root.to_path_buf());
    let dir = Path::new("/run/strata/netns");
    let mut out: Vec<String> = fs::read_dir(dir)
        .map(|d| d.flatten().map(|e| e.path()).collect::<Vec<_>>())
        .unwrap_or_default()
        .into_iter()
        .filter(|p| p.extension().is_some_and(|x| x == "owner"))
        .filter(|p| {
            fs::read(p)
                .ok()
                .and_then(|d| serde_json::from_slice::<serde_json::Value>(&d).ok())
                .is_some_and(|v| v["root"].as_str() == root.to_str())
        })
        .map(|p| p.file_stem().unwrap().to_string_lossy().into_owned())
        .collect();
    out.sort();
    out
}

#[test]
fn docker_build_runs_steps_on_a_network_or_in_a_containers_namespace() {
    let (s, svc) = busybox_service();
    svc.docker_ok(&["network", "create", "bnet-a"]);
    svc.docker_ok(&[
        "run",
        "-d",
        "--name",
        "bnet-srv",
        "--network",
        "bnet-a",
        "busybox",
        "sh",
        "-c",
        &httpd_cmd(),
    ]);
    let served = format!("{PAGE}\n");

    // On the network, the server answers by its container name (the network's DNS).
    let by_name = context(
        &s,
        "by-name",
        &fetching_dockerfile("http://bnet-srv/index.html"),
    );
    let out = classic_build(&svc, &["--network", "bnet-a", "-t", "bnet-img"], &by_name);
    assert!(out.status.success(), "{}", text(&out));
    let answer = svc.docker_ok(&["run", "--rm", "bnet-img", "cat", "/answer"]);
    assert_eq!(answer, served);
    // The network is not part of the cache key: the same RUN without it is a hit (a miss
    // could not resolve the name and would fail).
    let out = classic_build(&svc, &["-t", "bnet-img-again"], &by_name);
    assert!(out.status.success(), "{}", text(&out));
    assert!(
        String::from_utf8_lossy(&out.stdout).contains("Using cache"),
        "{}",
        text(&out)
    );

    // In the server's namespace, it is on 127.0.0.1.
    let local = context(
        &s,
        "local",
        &fetching_dockerfile("http://127.0.0.1/index.html"),
    );
    let out = classic_build(
        &svc,
        &["--network", "container:bnet-srv", "-t", "bnet-local"],
        &local,
    );
    assert!(out.status.success(), "{}", text(&out));
    let answer = svc.docker_ok(&["run", "--rm", "bnet-local", "cat", "/answer"]);
    assert_eq!(answer, served);

    // What cannot be joined fails the RUN in dockerd's words, in the build's stream (the CLI
    // prints it as the build's own error and exits 1), after the FROM step ran.
    svc.docker_ok(&["create", "--name", "bnet-idle", "busybox", "true"]);
    for (mode, want) in [
        ("bnet-nosuch", "network bnet-nosuch not found"),
        ("container:bnet-none", "No such container: bnet-none"),
        (
            "container:bnet-idle",
            "cannot join network of a non running container: bnet-idle",
        ),
    ] {
        let out = classic_build(&svc, &["--no-cache", "--network", mode], &local);
        let all = text(&out);
        assert_eq!(out.status.code(), Some(1), "{mode}: {all}");
        assert!(all.contains(want), "{mode}: {all}");
        assert!(!all.contains("Error response from daemon"), "{mode}: {all}");
        assert!(all.contains("Step 2/2 : RUN"), "{mode}: {all}");
    }

    // Every step's endpoint went with its step: only the server's namespace is left, and
    // once it is gone the network has no endpoint to keep it.
    assert_eq!(
        namespaces_of(&s.root).len(),
        1,
        "{:?}",
        namespaces_of(&s.root)
    );
    svc.docker_ok(&["rm", "-f", "bnet-srv", "bnet-idle"]);
    assert_eq!(namespaces_of(&s.root), Vec::<String>::new());
    svc.docker_ok(&["network", "rm", "bnet-a"]);
}

#[test]
fn docker_py_builds_with_network_mode() {
    let (_s, svc) = busybox_service();
    // docker-py's own test: a target pingable by an alias given at connect time.
    let r = svc.python_json(&format!(
        r#"{SDK_PRELUDE}
c = docker.from_env()
net = api.create_network("bnet-py")["Id"]
ctr = api.create_container("busybox", "top")
api.start(ctr)
api.connect_container_to_network(ctr, net, aliases=["pingtarget.docker"])
script = io.BytesIO(b"FROM busybox\nRUN ping -c1 pingtarget.docker\n")
r = {{}}
logs = list(api.build(fileobj=script, network_mode=net, tag="bnet-py-img", decode=True))
r["errors"] = [l for l in logs if "errorDetail" in l]
r["built"] = bool(api.inspect_image("bnet-py-img"))
script.seek(0)
logs = list(api.build(fileobj=script, network_mode="none", tag="bnet-py-none",
                      nocache=True, decode=True))
r["none_code"] = logs[-1].get("errorDetail", {{}}).get("code")
try:
    api.inspect_image("bnet-py-none")
    r["none_image"] = "exists"
except docker.errors.NotFound:
    r["none_image"] = "missing"
# The high-level client raises BuildError for a network that is not there.
try:
    c.images.build(fileobj=io.BytesIO(b"FROM busybox\nRUN true\n"), network_mode="bnet-gone")
    r["gone"] = "built"
except docker.errors.BuildError as e:
    r["gone"] = e.msg
api.remove_container(ctr, force=True)
api.remove_network(net)
print(json.dumps(r))
"#
    ));
    assert_eq!(r["errors"], json!([]), "{r}");
    assert_eq!(r["built"], true, "{r}");
    assert_eq!(r["none_code"], 1, "{r}");
    assert_eq!(r["none_image"], "missing", "{r}");
    assert_eq!(r["gone"], "network bnet-gone not found", "{r}");
}

/// A child process killed when the test ends, whichever way.
struct Killed(std::process::Child);

impl Drop for Killed {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn wait_for(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let t0 = Instant::now();
    while !done() {
        assert!(t0.elapsed() < timeout, "{what} never happened");
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn strata_build_network_and_a_killed_builds_endpoint_is_reclaimed() {
    let s = Strata::new();
    s.import_busybox("busybox");
    s.ok(&["network", "create", "bnet-c"]);
    s.ok(&[
        "run",
        "-d",
        "--name",
        "bnet-c-srv",
        "--network",
        "bnet-c",
        "busybox",
        "sh",
        "-c",
        &httpd_cmd(),
    ]);
    let ctx = context(
        &s,
        "ctx",
        &fetching_dockerfile("http://bnet-c-srv/index.html"),
    );
    s.ok(&[
        "build",
        "--network",
        "bnet-c",
        "-t",
        "bnet-c-img",
        ctx.to_str().unwrap(),
    ]);
    let answer = s.ok(&["run", "--rm", "bnet-c-img", "cat", "/answer"]);
    assert_eq!(answer, format!("{PAGE}\n"));
    s.ok(&["rm", "-f", "bnet-c-srv"]);
    assert_eq!(namespaces_of(&s.root), Vec::<String>::new());

    // A build killed while its RUN holds an endpoint.
    fs::write(ctx.join("Dockerfile"), "FROM busybox\nRUN sleep 7473\n").unwrap();
    let mut child = Killed(
        s.command(&["build", "--network", "bnet-c", ctx.to_str().unwrap()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap(),
    );
    wait_for("the RUN on the network", Duration::from_secs(60), || {
        !processes_with("sleep 7473").is_empty() && namespaces_of(&s.root).len() == 1
    });
    // Another store's prune meanwhile (this one's waits for the build) leaves the live
    // step's namespace alone, though no container of any store owns it.
    Strata::new().ok(&["system", "prune", "-f"]);
    assert_eq!(namespaces_of(&s.root).len(), 1);
    child.0.kill().unwrap();
    child.0.wait().unwrap();
    wait_for("the sandbox's end", Duration::from_secs(5), || {
        processes_with("sleep 7473").is_empty()
    });
    // What the killed build left: its namespace and its address on the network.
    let left = namespaces_of(&s.root);
    assert_eq!(left.len(), 1, "{left:?}");
    let err = s.fails(&["network", "rm", "bnet-c"]);
    assert!(err.contains("active endpoints"), "{err}");
    // `system prune` reclaims both, and then the unused network goes too.
    s.ok(&["system", "prune", "-f"]);
    assert_eq!(namespaces_of(&s.root), Vec::<String>::new());
    let lock = Path::new("/run/strata/netns").join(format!("{}.step", left[0]));
    assert!(!lock.exists(), "{}", lock.display());
    assert!(!s.ok(&["network", "ls"]).contains("bnet-c"));
}
