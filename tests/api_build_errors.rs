//! Which Dockerfile errors `POST /build` refuses with an HTTP status and which travel in its
//! stream, as dockerd's classic builder splits them: a Dockerfile that does not parse (or a
//! target it lacks) is a 400 before any output; what the builder finds while it dispatches
//! (an expansion, a stage reference) is a 200 whose last message is the error, so docker-py's
//! `images.build` raises `BuildError` and the docker CLI prints it without "Error response
//! from daemon". Everything is built from the offline busybox.

mod api_support;
mod common;

use std::fs;

use api_support::Service;
use common::Strata;
use serde_json::json;

/// `docker build CTX` with the classic builder.
fn classic_build(svc: &Service, ctx: &std::path::Path) -> std::process::Output {
    svc.docker_command()
        .env("DOCKER_BUILDKIT", "0")
        .arg("build")
        .arg(ctx)
        .output()
        .unwrap()
}

#[test]
fn dispatch_errors_in_the_stream_parse_errors_as_a_status() {
    let s = Strata::new();
    let svc = Service::start(&s, &["--time", "0"]);
    s.import_busybox("busybox");
    let r = svc.python_json(
        r#"
import docker, io, json
c = docker.from_env()
api = docker.APIClient(version="auto", **docker.utils.kwargs_from_env())
r = {}
def df(*lines): return io.BytesIO("\n".join(lines).encode())

# An expansion error: dockerd finds it dispatching WORKDIR, after its Step lines.
try:
    c.images.build(fileobj=df('FROM busybox', 'WORKDIR ${X:?must be set}'), tag='bad-expand')
    r['expand'] = 'built'
except docker.errors.BuildError as e:
    r['expand'] = ['BuildError', 'must be set' in e.msg, len(list(e.build_log)) > 0]
except docker.errors.APIError as e:
    r['expand'] = ['APIError', e.status_code, e.explanation]
out = list(api.build(fileobj=df('FROM ${NOPE}'), decode=True))
r['blank_last'] = sorted(out[-1].keys())
r['blank_message'] = 'should not be blank' in out[-1]['error']

# An unknown instruction: a 400, nothing streamed.
try:
    c.images.build(fileobj=df('FROM busybox', 'NOTADOCKERFILECOMMAND'))
    r['unknown'] = 'built'
except docker.errors.BuildError as e:
    r['unknown'] = ['BuildError', e.msg]
except docker.errors.APIError as e:
    r['unknown'] = ['APIError', e.status_code, 'unknown instruction' in e.explanation.lower()]
try:
    list(api.build(fileobj=df('FROM busybox AS a'), target='nosuchstage'))
    r['target'] = 'built'
except docker.errors.APIError as e:
    r['target'] = [e.status_code, 'nosuchstage' in e.explanation]
r['images'] = [t for i in c.images.list() for t in i.tags if t.startswith('bad-')]
print(json.dumps(r))
"#,
    );
    assert_eq!(r["expand"], json!(["BuildError", true, true]), "{r}");
    assert_eq!(r["blank_last"], json!(["error", "errorDetail"]), "{r}");
    assert_eq!(r["blank_message"], true, "{r}");
    assert_eq!(r["unknown"], json!(["APIError", 400, true]), "{r}");
    assert_eq!(r["target"], json!([400, true]), "{r}");
    assert_eq!(r["images"], json!([]), "{r}");

    // The docker CLI (classic builder): an in-stream error is printed as the build's own and
    // fails the command with 1; a refused request reads "Error response from daemon".
    let ctx = s.scratch("builderr-ctx");
    fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nWORKDIR ${X:?must be set}\n",
    )
    .unwrap();
    let out = classic_build(&svc, &ctx);
    let err = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("must be set"), "{err}");
    assert!(!err.contains("Error response from daemon"), "{err}");
    fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nNOTADOCKERFILECOMMAND\n",
    )
    .unwrap();
    let out = classic_build(&svc, &ctx);
    let err = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{err}");
    assert!(err.contains("Error response from daemon"), "{err}");
    assert!(err.to_lowercase().contains("unknown instruction"), "{err}");
}
