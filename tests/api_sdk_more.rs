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
