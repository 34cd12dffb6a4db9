//! Containers and exec as docker-py's own integration tests drive them, through
//! `strata system service` with the Python SDK (the test venv's `docker==7.1.0`): a detached
//! run's logs followed while it prints, attach with `logs`/`stream`, detach keys on attach and
//! exec, an exec's framing chosen by its start, kill, wait and stats. Containers use
//! `--network none` except where the bridge is the point; nothing leaves the machine.

mod api_support;
mod common;

use api_support::{busybox_service as service, Service};

/// Runs `script`, after the prelude, with the SDK pointed at the service; its stdout.
fn python(svc: &Service, script: &str) -> String {
    svc.python_ok(&format!("{}{PRELUDE}{script}", api_support::SDK_PRELUDE))
}

/// What every script has after `SDK_PRELUDE`: a high-level client, and docker-py's own check
/// that a socket was detached (closed by the daemon).
const PRELUDE: &str = r#"
from docker.utils.socket import next_frame_header, read_exactly
client = docker.from_env()

def detached(sock, inputs):
    sock = getattr(sock, "_sock", sock)
    for i in inputs:
        sock.sendall(i)
        time.sleep(0.5)
    try:
        sock.sendall(b"make sure the socket is closed\n")
        data = sock.recv(128)
    except OSError:
        return "closed"
    return "closed" if data == b"" else repr(data)
"#;

const RUN_LOGS_WAIT: &str = r#"
ctr = client.containers.run(
    "busybox", ["sh", "-c", "for i in 1 2 3; do echo line $i; sleep 0.3; done; exit 5"],
    detach=True, network_mode="none", name="sdkc-follow")
start = time.monotonic()
seen = []
for chunk in ctr.logs(stream=True, follow=True):
    seen.append((chunk, time.monotonic() - start))
# Streamed as printed: the first line well before the last.
print("lines", b"".join(c for c, _ in seen))
print("streamed", seen[0][1] < seen[-1][1] - 0.3)
print("wait", ctr.wait())
raw = api.wait(ctr.id)
print("no Error key", "Error" not in raw)
print("tail", ctr.logs(tail=1))
ctr.remove()
# A log driver strata lacks is refused with dockerd's words, json-file accepted.
for kind in ["asdf-nope", "json-file"]:
    lc = docker.types.LogConfig(type=kind, config={})
    try:
        c = api.create_container("busybox", "true", host_config=api.create_host_config(log_config=lc))
        print("log driver", kind, "accepted")
        api.remove_container(c)
    except docker.errors.APIError as e:
        print("log driver", kind, e.status_code, e.explanation)
"#;

#[test]
fn detached_run_streams_its_logs_and_wait_gives_the_code() {
    let (_s, svc) = service();
    let out = python(&svc, RUN_LOGS_WAIT);
    assert_eq!(
        out,
        "lines b'line 1\\nline 2\\nline 3\\n'\n\
         streamed True\n\
         wait {'StatusCode': 5}\n\
         no Error key True\n\
         tail b'line 3\\n'\n\
         log driver asdf-nope 400 logger: no log driver named 'asdf-nope' is registered\n\
         log driver json-file accepted\n"
    );
}

const ATTACH: &str = r#"
# logs=1 stream=0 on an exited container: the output so far, then the end.
c = api.create_container("busybox", "echo hello", host_config=api.create_host_config(network_mode="none"))
api.start(c)
api.wait(c)
print("replay", api.attach(c, stream=False, logs=True))
# Attached before the start with logs and stream: the first frame is the whole line.
c = api.create_container("busybox", "printf 'hi there'", host_config=api.create_host_config(network_mode="none"))
s = api.attach_socket(c, {"stdout": 1, "stream": 1, "logs": 1})
api.start(c)
n = next_frame_header(s)[1]
print("frame", n, read_exactly(s, n))
s.close()
# Ctrl-P Ctrl-Q by default, or the keys asked for: the daemon closes the connection and
# the container runs on.
for name, params, keys in [("default", {}, [b"\x10", b"\x11"]),
                           ("ctrl-x", {"detachKeys": "ctrl-x"}, [b"\x18"])]:
    c = api.create_container("busybox", "cat", stdin_open=True, tty=True,
                             host_config=api.create_host_config(network_mode="none"))
    api.start(c)
    s = api.attach_socket(c, dict(stdin=True, stream=True, **params))
    print("attach detach", name, detached(s, keys), api.inspect_container(c)["State"]["Running"])
    api.remove_container(c, force=True)
"#;

#[test]
fn attach_replays_streams_and_detaches() {
    let (_s, svc) = service();
    let out = python(&svc, ATTACH);
    assert_eq!(
        out,
        "replay b'hello\\n'\n\
         frame 8 b'hi there'\n\
         attach detach default closed True\n\
         attach detach ctrl-x closed True\n"
    );
}

const EXEC: &str = r#"
c = api.create_container("busybox", "cat", stdin_open=True,
                         host_config=api.create_host_config(network_mode="none"))
api.start(c)
# A TTY exec started without Tty: framed all the same, as dockerd does.
e = api.exec_create(c, ["printf", "yay, interactive exec!"], tty=True)
s = api.exec_start(e, socket=True)
n = next_frame_header(s)[1]
print("frame", n, read_exactly(s, n))
s.close()
# docker-py sends `detachKeys` (Go's decoder matches it to `DetachKeys`).
for name, kw, keys in [("default", {}, [b"\x10", b"\x11"]),
                       ("ctrl-x", {"detach_keys": "ctrl-x"}, [b"\x18"])]:
    e = api.exec_create(c, "cat", stdin=True, tty=True, stdout=True, **kw)
    s = api.exec_start(e, tty=True, socket=True)
    print("exec detach", name, detached(s, keys), api.exec_inspect(e)["DetachKeys"])
print("demux", api.exec_start(api.exec_create(c, ["sh", "-c", "echo a; echo b >&2"]), demux=True))
api.remove_container(c, force=True)
"#;

#[test]
fn exec_framing_and_detach_keys() {
    let (_s, svc) = service();
    let out = python(&svc, EXEC);
    assert_eq!(
        out,
        "frame 22 b'yay, interactive exec!'\n\
         exec detach default closed \n\
         exec detach ctrl-x closed ctrl-x\n\
         demux (b'a\\n', b'b\\n')\n"
    );
}

const KILL_STATS: &str = r#"
import io, tarfile
# Config.Volumes makes an anonymous volume; the archive endpoints reach into it.
c = api.create_container("busybox", ["sh", "-c", "echo -n hello > /vol1/data.txt"],
                         volumes=["/vol1"], host_config=api.create_host_config(network_mode="none"))
api.start(c)
api.wait(c)
mounts = api.inspect_container(c)["Mounts"]
print("volume", [(m["Type"], m["Destination"]) for m in mounts])
strm, st = api.get_archive(c, "/vol1/data.txt")
print("get", st["name"], st["size"], len(b"".join(strm)) > 5)
buf = io.BytesIO()
with tarfile.open(mode="w", fileobj=buf) as t:
    ti = tarfile.TarInfo("more.txt")
    ti.size = 2
    t.addfile(ti, io.BytesIO(b"hi"))
print("put", api.put_archive(c, "/vol1", buf.getvalue()))
print("back", api.get_archive(c, "/vol1/more.txt")[1]["size"])
api.remove_container(c, v=True)
# A SIGKILL (by name, number or default) has taken effect when kill returns.
for sig in [None, "SIGKILL", 9, "KILL"]:
    c = api.create_container("busybox", ["sleep", "60"], host_config=api.create_host_config(network_mode="none"))
    api.start(c)
    api.kill(c, **({} if sig is None else {"signal": sig}))
    st = api.inspect_container(c)["State"]
    print("kill", sig, st["Running"], st["ExitCode"])
    api.remove_container(c)
# Traffic to the bridge's gateway shows in the interface's counters.
ctr = client.containers.run("busybox", ["sh", "-c",
    "ping -c 3 -i 0.2 $(ip route | awk '/default/ {print $3}') >/dev/null; echo pinged; sleep 60"],
    detach=True, name="sdkc-stats")
for line in ctr.logs(stream=True, follow=True):
    break
s = ctr.stats(stream=False)
eth0 = s["networks"]["eth0"]
print("keys", sorted(eth0))
print("counted", eth0["rx_packets"] >= 3, eth0["tx_packets"] >= 3, eth0["rx_bytes"] > 0)
ctr.remove(force=True)
"#;

#[test]
fn config_volumes_kill_and_stats_counters() {
    let (_s, svc) = service();
    let out = python(&svc, KILL_STATS);
    assert_eq!(
        out,
        "volume [('volume', '/vol1')]\n\
         get data.txt 5 True\n\
         put True\n\
         back 2\n\
         kill None False 137\n\
         kill SIGKILL False 137\n\
         kill 9 False 137\n\
         kill KILL False 137\n\
         keys ['rx_bytes', 'rx_dropped', 'rx_errors', 'rx_packets', 'tx_bytes', 'tx_dropped', 'tx_errors', 'tx_packets']\n\
         counted True True True\n"
    );
}
