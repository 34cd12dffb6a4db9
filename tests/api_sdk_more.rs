//! More of what docker-py's integration suite asks of a daemon, through `strata system service`
//! with the Python SDK (the test venv's `docker==7.1.0`): quick execs whose output must not be
//! lost behind the `101`, an exec that cannot start (126, as dockerd records), the `none` log
//! driver, and endpoint settings at create. Containers use `--network none` except where a
//! network is the point; nothing leaves the machine.

mod api_support;
mod common;

use api_support::{busybox_service as service, Service};

/// Runs `script`, after the prelude, with the SDK pointed at the service; its stdout.
fn python(svc: &Service, script: &str) -> String {
    svc.python_ok(&format!(
        "{}\nclient = docker.from_env()\n{script}",
        api_support::SDK_PRELUDE
    ))
}

const QUICK_EXECS: &str = r#"
c = api.create_container("busybox", "cat", stdin_open=True,
                         host_config=api.create_host_config(network_mode="none"))
api.start(c)
# docker-py reads an exec's stream from the bare socket under http.client's buffer: output
# sent right behind the 101 would be swallowed. A quick command's output is there at once.
outs = {}
for i in range(30):
    out = api.exec_start(api.exec_create(c, ["echo", "hello"]))
    outs[out] = outs.get(out, 0) + 1
print("outputs", outs)
# A command that cannot start: dockerd records 126 (not the 127 of a container's command).
e = api.exec_create(c, "no-such-command")
api.exec_start(e)
print("missing", api.exec_inspect(e)["ExitCode"])
ctr = client.containers.get(c["Id"])
print("exec_run", ctr.exec_run("no-such-command").exit_code)
api.remove_container(c, force=True)
"#;

#[test]
fn quick_exec_output_arrives_and_a_missing_command_is_126() {
    let (_s, svc) = service();
    let out = python(&svc, QUICK_EXECS);
    assert_eq!(
        out,
        "outputs {b'hello\\n': 30}\n\
         missing 126\n\
         exec_run 126\n"
    );
}

const LOG_DRIVER_NONE: &str = r#"
# containers.run reads no logs from a container that keeps none, and returns None.
out = client.containers.run("busybox", "echo hello", log_config=dict(type="none"),
                            network_mode="none", name="sdkm-nolog")
print("run", out)
ctr = client.containers.get("sdkm-nolog")
print("type", ctr.attrs["HostConfig"]["LogConfig"]["Type"])
try:
    ctr.logs()
    print("logs read")
except docker.errors.APIError as e:
    print("logs", e.status_code, e.explanation)
ctr.remove()
# Attached, the output still arrives: the driver is about what is kept, not what is streamed.
c = api.create_container("busybox", "echo streamed", host_config=api.create_host_config(
    network_mode="none", log_config=docker.types.LogConfig(type="none")))
s = api.attach_socket(c, {"stdout": 1, "stream": 1})
api.start(c)
from docker.utils.socket import next_frame_header, read_exactly
n = next_frame_header(s)[1]
print("attached", read_exactly(s, n))
s.close()
api.remove_container(c, force=True)
"#;

#[test]
fn log_driver_none_keeps_no_readable_logs() {
    let (_s, svc) = service();
    let out = python(&svc, LOG_DRIVER_NONE);
    assert_eq!(
        out,
        "run None\n\
         type none\n\
         logs 501 configured logging driver does not support reading\n\
         attached b'streamed\\n'\n"
    );
}

const ENDPOINTS_AT_CREATE: &str = r#"
from docker.types import IPAMConfig, IPAMPool
net = client.networks.create("sdkm-net", ipam=IPAMConfig(pool_configs=[IPAMPool(subnet="10.213.7.0/24")]))
other = client.networks.create("sdkm-other")
def endpoints(ctr):
    nets = ctr.attrs["NetworkSettings"]["Networks"]
    return {k: (v["Aliases"], v["DriverOpts"], (v["IPAMConfig"] or {}).get("IPv4Address")) for k, v in nets.items()}
# The entry for the container's network gives its aliases (no short ID in them since API
# 1.45: that is among DNSNames), driver options and address.
cfg = {"sdkm-net": client.api.create_endpoint_config(aliases=["hello"], driver_opt={"key1": "a"},
                                                     ipv4_address="10.213.7.23")}
a = client.containers.run("busybox", "sleep 30", network="sdkm-net", networking_config=cfg, detach=True)
print("own", endpoints(a))
print("dns names has the short id", a.id[:12] in a.attrs["NetworkSettings"]["Networks"]["sdkm-net"]["DNSNames"])
# An API 1.44 client still sees the short ID among the aliases, as dockerd shows it.
old = docker.APIClient(version="1.44", **kwargs_from_env())
print("1.44 aliases", old.inspect_container(a.id)["NetworkSettings"]["Networks"]["sdkm-net"]["Aliases"] == ["hello", a.id[:12]])
a.remove(force=True)
# Another entry names a network the container joins as well; one that does not exist is a
# 404 before anything is made.
both = dict(cfg)
both["sdkm-net"] = client.api.create_endpoint_config(aliases=["hello"])
both["sdkm-other"] = client.api.create_endpoint_config(aliases=["there"])
b = client.containers.run("busybox", "sleep 30", network="sdkm-net", networking_config=both, detach=True)
print("joined", sorted(endpoints(b)))
print("other aliases", endpoints(b)["sdkm-other"][0])
b.remove(force=True)
before = len(client.containers.list(all=True))
try:
    client.containers.run("busybox", "sleep 30", network="sdkm-net", detach=True,
                          networking_config={"sdkm-net": None, "sdkm-nowhere": None})
    print("unknown network accepted")
except docker.errors.NotFound as e:
    print("unknown", e.explanation, len(client.containers.list(all=True)) == before)
net.remove()
other.remove()
"#;

#[test]
fn endpoint_settings_at_create_follow_dockerd() {
    let (_s, svc) = service();
    let out = python(&svc, ENDPOINTS_AT_CREATE);
    assert_eq!(
        out,
        "own {'sdkm-net': (['hello'], {'key1': 'a'}, '10.213.7.23')}\n\
         dns names has the short id True\n\
         1.44 aliases True\n\
         joined ['sdkm-net', 'sdkm-other']\n\
         other aliases ['there']\n\
         unknown network sdkm-nowhere not found True\n"
    );
}

const PORT_LISTS: &str = r#"
import socket
def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    p = s.getsockname()[1]
    s.close()
    return p
p1, p2 = free_port(), free_port()
# One container port published on two host ports: both in HostConfig and in the settings.
ctr = client.containers.run("busybox", "sleep 30", detach=True, ports={"3000/tcp": [p1, p2]})
ctr.reload()
sent = ctr.attrs["HostConfig"]["PortBindings"]["3000/tcp"]
print("host config", sorted(b["HostPort"] for b in sent) == sorted([str(p1), str(p2)]))
live = ctr.ports["3000/tcp"]
print("settings", sorted(b["HostPort"] for b in live) == sorted([str(p1), str(p2)]))
ctr.remove(force=True)
"#;

#[test]
fn a_port_published_twice_keeps_both_bindings() {
    let (_s, svc) = service();
    let out = python(&svc, PORT_LISTS);
    assert_eq!(out, "host config True\nsettings True\n");
}

const LOAD_ERRORS: &str = r#"
# dockerd answers a load it cannot read with 200 and the error in the stream: docker-py's
# ImageLoadError, not an APIError.
try:
    client.images.load(b"abc")
    print("loaded")
except docker.errors.ImageLoadError as e:
    print("load error", "reading the archive" in str(e))
image = client.images.get("busybox")
loaded = client.images.load(b"".join(image.save()))
print("reloaded", [i.id for i in loaded] == [image.id])
"#;

#[test]
fn a_load_that_fails_reports_in_the_stream() {
    let (_s, svc) = service();
    let out = python(&svc, LOAD_ERRORS);
    assert_eq!(out, "load error True\nreloaded True\n");
}
