//! Containers through the Engine API as Docker keeps them, driven by the Python SDK (the
//! test venv's `docker==7.1.0`) the way docker-py's own integration tests drive dockerd:
//! `inspect` echoes the `HostConfig` create was given, `GroupAdd`, `VolumesFrom`,
//! `MacAddress` and links act on the container, `Config.Env` is Docker's, a never-started
//! container's volumes take `put_archive`, and the list's summaries carry `HostConfig`,
//! `NetworkSettings` and `Mounts`. Each script asserts in Python and prints `ok` at its end;
//! containers use `--network none` except where a bridge is the point.

mod api_support;
mod common;

use api_support::{busybox_service as service, Service};

/// Runs `script` after the prelude; asserts it reached its end.
fn python(svc: &Service, script: &str) -> String {
    let prelude = api_support::SDK_PRELUDE;
    let out = svc.python_ok(&format!("{prelude}{PRELUDE}{script}\nprint('ok')\n"));
    assert!(
        out.trim_end().ends_with("ok"),
        "the script stopped early:\n{out}"
    );
    out
}

/// `run`: create, start and wait, the way docker-py's tests do.
const PRELUDE: &str = r#"
def run(cmd, **kw):
    """Creates, starts and waits for a container; its id and output."""
    c = api.create_container("busybox", cmd, **kw)
    api.start(c)
    code = api.wait(c)["StatusCode"]
    return c["Id"], code, api.logs(c).decode()
"#;

const HOST_CONFIG_ECHO: &str = r#"
lc = docker.types.LogConfig(type="json-file", config={"max-file": "100"})
hc = api.create_host_config(
    network_mode="none", pid_mode="host", isolation="default", cpuset_cpus="0",
    cpu_shares=512, device_cgroup_rules=["c 7:128 rwm"],
    init=True, log_config=lc, tmpfs={"/tmp1": "size=3M"}, group_add=[1000, "nogroup"],
    mem_swappiness=40, cpu_rt_period=1000, cpu_rt_runtime=500, runtime="runc")
c = api.create_container(
    "busybox", ["sh", "-c", "env; id -G; grep ' /tmp1 ' /proc/mounts"], host_config=hc,
    stop_timeout=25,
    environment={"Foo": None, "Other": "one", "Blank": ""})
i = api.inspect_container(c)
h = i["HostConfig"]
want = {
    "PidMode": "host", "Isolation": "default", "CpusetCpus": "0", "CpuShares": 512,
    "DeviceCgroupRules": ["c 7:128 rwm"], "Init": True,
    "LogConfig": {"Type": "json-file", "Config": {"max-file": "100"}},
    "Tmpfs": {"/tmp1": "size=3M"}, "GroupAdd": ["1000", "nogroup"], "MemorySwappiness": 40,
    "CpuRealtimePeriod": 1000, "CpuRealtimeRuntime": 500, "Runtime": "runc",
    "NetworkMode": "none",
}
for k, v in want.items():
    assert h.get(k) == v, (k, h.get(k), v)
assert i["Config"]["StopTimeout"] == 25, i["Config"]
env = i["Config"]["Env"]
for e in ["Foo", "Other=one", "Blank="]:
    assert e in env, env
assert not any(e.startswith("HOSTNAME=") for e in env), env

# What the process gets: a bare key unsets it, HOSTNAME is there; the groups and the tmpfs
# size are real.
api.start(c)
assert api.wait(c)["StatusCode"] == 0
out = api.logs(c).decode()
lines = out.splitlines()
assert "Other=one" in lines and "Blank=" in lines, out
assert not any(l == "Foo" or l.startswith("Foo=") for l in lines), out
assert any(l.startswith("HOSTNAME=") for l in lines), out
groups = [l for l in lines if l and l[0].isdigit()][0].split()
assert "1000" in groups and "65534" in groups, out
assert "size=3072k" in out, out

# An unset log driver is Docker's default one, its options kept; none at all is {}.
for kind, config, want in [("", {"max-file": "100"}, {"max-file": "100"}), ("json-file", None, {})]:
    lc = docker.types.LogConfig(type=kind, config=config)
    c2 = api.create_container("busybox", "true", host_config=api.create_host_config(log_config=lc))
    got = api.inspect_container(c2)["HostConfig"]["LogConfig"]
    assert got == {"Type": "json-file", "Config": want}, got

# AutoRemove is kept as asked, and an unknown group fails the start in dockerd's words.
c3 = api.create_container("busybox", ["true"], host_config=api.create_host_config(auto_remove=True))
assert api.inspect_container(c3)["HostConfig"]["AutoRemove"] is True
c4 = api.create_container("busybox", ["true"], host_config=api.create_host_config(
    network_mode="none", group_add=["nosuchgroup"]))
try:
    api.start(c4)
    raise AssertionError("started with an unknown group")
except docker.errors.APIError as e:
    assert "nosuchgroup" in str(e.explanation), e.explanation
"#;

#[test]
fn inspect_echoes_the_host_config_and_groups_and_env_are_real() {
    let (_s, svc) = service();
    python(&svc, HOST_CONFIG_ECHO);
}

const VOLUMES_FROM: &str = r#"
src = api.create_container(
    "busybox", ["sh", "-c", "echo hi > /vol1/f"], volumes=["/vol1", "/b"], name="fid-src",
    host_config=api.create_host_config(network_mode="none", binds={BIND: {"bind": "/b", "ro": False}}))
api.start(src)
assert api.wait(src)["StatusCode"] == 0
_, code, out = run(["sh", "-c", "cat /vol1/f /b/g; touch /vol1/x 2>/dev/null || echo read-only"],
    host_config=api.create_host_config(network_mode="none", volumes_from=["fid-src:ro"]))
assert code == 0 and out.split() == ["hi", "from-host", "read-only"], out
# Writable without a mode: the same volume, seen by the first container.
cid, code, out = run(["sh", "-c", "echo more > /vol1/g"],
    host_config=api.create_host_config(network_mode="none", volumes_from=["fid-src"]))
assert code == 0, out
i = api.inspect_container(cid)
assert i["HostConfig"]["VolumesFrom"] == ["fid-src"], i["HostConfig"]["VolumesFrom"]
vol = [m for m in i["Mounts"] if m["Destination"] == "/vol1"][0]
theirs = [m for m in api.inspect_container(src)["Mounts"] if m["Destination"] == "/vol1"][0]
assert vol["Name"] == theirs["Name"] and vol["RW"] is True, (vol, theirs)
strm, _ = api.get_archive(src, "/vol1/g")
assert b"more" in b"".join(strm)
try:
    api.create_container("busybox", "true", host_config=api.create_host_config(volumes_from=["nosuch"]))
    raise AssertionError("created with a missing VolumesFrom container")
except docker.errors.NotFound as e:
    assert "nosuch" in str(e.explanation), e.explanation
"#;

#[test]
fn volumes_from_shares_the_other_containers_volumes_and_binds() {
    let (s, svc) = service();
    let bind = s.scratch("bind");
    std::fs::write(bind.join("g"), "from-host\n").unwrap();
    let script = VOLUMES_FROM.replace("BIND", &format!("{:?}", bind.display().to_string()));
    python(&svc, &script);
}

const PUT_BEFORE_START: &str = r#"
data = b"Deaf To All But The Song"
c = api.create_container("busybox", ["sh", "-c", "cat /vol1/song; ls -p /vol1"],
    volumes=["/vol1"], host_config=api.create_host_config(network_mode="none"))
buf = io.BytesIO()
with tarfile.open(fileobj=buf, mode="w") as t:
    info = tarfile.TarInfo("song")
    info.size = len(data)
    t.addfile(info, io.BytesIO(data))
    d = tarfile.TarInfo("sub")
    d.type = tarfile.DIRTYPE
    t.addfile(d)
assert api.put_archive(c, "/vol1", buf.getvalue())
api.start(c)
assert api.wait(c)["StatusCode"] == 0
out = api.logs(c).decode()
assert out.startswith(data.decode()) and "sub/" in out, out
"#;

#[test]
fn put_archive_reaches_the_volumes_of_a_container_never_started() {
    let (_s, svc) = service();
    python(&svc, PUT_BEFORE_START);
}

const REMOVE_AND_RESTART_POLICY: &str = r#"
c = api.create_container("busybox", ["sleep", "60"], host_config=api.create_host_config(network_mode="none"))
api.start(c)
try:
    api.remove_container(c)
    raise AssertionError("removed a running container")
except docker.errors.APIError as e:
    assert e.status_code == 409, e
    assert "stop the container before removing or force remove" in e.explanation, e.explanation
api.remove_container(c, force=True)
c = api.create_container("busybox", ["sleep", "1"], host_config=api.create_host_config(
    restart_policy={"Name": "always", "MaximumRetryCount": 0}, network_mode="none"))
api.start(c)
api.wait(c)
try:
    api.remove_container(c)
    raise AssertionError("removed a container its restart policy keeps")
except docker.errors.APIError as e:
    assert e.status_code == 409 and "stop the container before" in e.explanation.lower(), e
api.remove_container(c, force=True)
"#;

#[test]
fn removing_a_running_or_restarting_container_is_refused_as_docker_does() {
    let (_s, svc) = service();
    python(&svc, REMOVE_AND_RESTART_POLICY);
}

const MAC_AND_LINKS: &str = r#"
mac = "02:42:ac:11:00:0a"
c = api.create_container("busybox", ["sh", "-c", "cat /sys/class/net/eth0/address; sleep 30"],
    mac_address=mac)
api.start(c)
assert api.inspect_container(c)["NetworkSettings"]["MacAddress"] == mac
deadline = time.time() + 10
while mac not in api.logs(c).decode() and time.time() < deadline:
    time.sleep(0.2)
assert mac in api.logs(c).decode(), api.logs(c)
api.kill(c)
try:
    api.create_container("busybox", "true", mac_address="nope")
    raise AssertionError("a bad MAC address was taken")
except docker.errors.APIError as e:
    assert e.status_code == 400 and "nope" in e.explanation, e

# Legacy links on the default bridge: the name and alias resolve, the env shows.
target = api.create_container("busybox", "cat", stdin_open=True, environment={"FOO": "1"})
api.start(target)
tname = api.inspect_container(target)["Name"][1:]
tip = api.inspect_container(target)["NetworkSettings"]["IPAddress"]
cid, code, out = run(["sh", "-c", "env; cat /etc/hosts; ping -c 1 -W 3 mylink1 >/dev/null && echo reached"],
    name="fid-linker",
    host_config=api.create_host_config(links={tname: "mylink1"}, network_mode="bridge"))
assert code == 0, out
assert "MYLINK1_NAME=/fid-linker/mylink1" in out and "MYLINK1_ENV_FOO=1" in out, out
assert any(l.split()[:1] == [tip] and "mylink1" in l.split() for l in out.splitlines()), out
assert "reached" in out, out
assert api.inspect_container(cid)["HostConfig"]["Links"], api.inspect_container(cid)["HostConfig"]

# On a user-defined network a link is a name the linked container answers to, no env.
net = api.create_network("fidnet")["Id"]
srv = api.create_container("busybox", ["sleep", "60"], name="fid-target",
    host_config=api.create_host_config(network_mode="fidnet"))
api.start(srv)
user, code, out = run(["sh", "-c", "env; ping -c 1 -W 3 tgt >/dev/null && echo reached"],
    host_config=api.create_host_config(links={"fid-target": "tgt"}, network_mode="fidnet"))
assert code == 0 and "reached" in out and "TGT_NAME" not in out, out

# A link to a container that is not running is refused at create, in dockerd's words.
api.kill(target)
try:
    api.create_container("busybox", "true", host_config=api.create_host_config(
        links={tname: "gone"}, network_mode="bridge"))
    raise AssertionError("linked to a stopped container")
except docker.errors.APIError as e:
    assert "Cannot link to a non running container" in e.explanation, e.explanation
for x in [c, target, cid, srv, user]:
    api.remove_container(x, force=True)
api.remove_network(net)
"#;

#[test]
fn mac_address_and_links_act_on_the_bridge() {
    let (_s, svc) = service();
    python(&svc, MAC_AND_LINKS);
}

const SUMMARIES: &str = r#"
net = api.create_network("fidsum")["Id"]
vol = api.create_volume("fidvol")["Name"]
a = api.create_container("busybox", ["sleep", "60"], name="fid-a", volumes=["/data"],
    host_config=api.create_host_config(network_mode="fidsum", binds={"fidvol": {"bind": "/data", "mode": "rw"}}))
api.start(a)
b = api.create_container("busybox", ["true"], name="fid-b",
    host_config=api.create_host_config(network_mode="none"))
rows = {r["Names"][0]: r for r in api.containers(all=True, size=True)}
ra, rb = rows["/fid-a"], rows["/fid-b"]
assert ra["HostConfig"]["NetworkMode"] == "fidsum", ra["HostConfig"]
n = ra["NetworkSettings"]["Networks"]["fidsum"]
ia = api.inspect_container(a)["NetworkSettings"]["Networks"]["fidsum"]
for k in ["IPAddress", "Gateway", "MacAddress", "NetworkID", "EndpointID"]:
    assert n[k] and n[k] == ia[k], (k, n, ia)
assert n["NetworkID"] == net
m = ra["Mounts"][0]
assert (m["Type"], m["Name"], m["Destination"], m["Driver"], m["RW"]) == \
    ("volume", "fidvol", "/data", "local", True), m
assert "SizeRw" in ra and "SizeRootFs" in ra and ra["SizeRootFs"] > 0, ra
assert list(rb["NetworkSettings"]["Networks"]) == ["none"], rb["NetworkSettings"]
assert rb["HostConfig"]["NetworkMode"] == "none" and rb["Mounts"] == [], rb
api.remove_container(a, force=True)
api.remove_network(net)
"#;

#[test]
fn the_list_carries_host_config_networks_and_mounts() {
    let (_s, svc) = service();
    python(&svc, SUMMARIES);
    // The docker CLI renders them from the summaries, as against dockerd.
    svc.docker_ok(&[
        "run",
        "-d",
        "--name",
        "fid-cli",
        "--network",
        "none",
        "-v",
        "clivol:/v",
        "busybox",
        "sleep",
        "30",
    ]);
    let out = svc.docker_ok(&["ps", "--format", "{{.Names}} {{.Networks}} {{.Mounts}}"]);
    assert!(out.lines().any(|l| l == "fid-cli none clivol"), "{out}");
    svc.docker_ok(&["rm", "-f", "fid-cli"]);
}

#[test]
fn a_container_disconnected_from_its_only_network_connects_again() {
    let (_s, svc) = service();
    svc.docker_ok(&["network", "create", "fidre"]);
    svc.docker_ok(&[
        "run",
        "-d",
        "--name",
        "fid-re",
        "--network",
        "fidre",
        "busybox",
        "sleep",
        "60",
    ]);
    svc.docker_ok(&["network", "disconnect", "fidre", "fid-re"]);
    svc.docker_ok(&["network", "connect", "fidre", "fid-re"]);
    let nets = svc.docker_ok(&[
        "inspect",
        "-f",
        "{{range $k, $v := .NetworkSettings.Networks}}{{$k}} {{$v.IPAddress}}{{end}}",
        "fid-re",
    ]);
    let parts: Vec<&str> = nets.split_whitespace().collect();
    assert_eq!(parts.first(), Some(&"fidre"), "{nets}");
    assert!(parts.get(1).is_some_and(|ip| ip.contains('.')), "{nets}");
    let addr = svc.docker_ok(&["exec", "fid-re", "ip", "-4", "addr", "show", "eth0"]);
    assert!(addr.contains(parts[1]), "{addr}");
    svc.docker_ok(&["rm", "-f", "fid-re"]);
}
