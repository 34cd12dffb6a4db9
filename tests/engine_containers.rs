//! The container engine called as the Engine API will call it: typed requests, no clap, no
//! CLI. busybox is created from a `CreateRequest`, listed, inspected, renamed, run in the
//! foreground of this process (as `lifecycle::run` runs it), its log read as frames, waited
//! for and removed; refusals come back as typed errors of the right kind. The binary checks
//! that the CLI sees what the engine made.

mod common;

use common::Strata;
use strata::container::logfile::Stream;
use strata::container::restart::RestartPolicy;
use strata::container::Status;
use strata::engine::containers::list::{list, ListRequest};
use strata::engine::containers::logs::{logs, LogsRequest};
use strata::engine::containers::remove::{remove, RemoveRequest};
use strata::engine::containers::wait::{wait, WaitCondition};
use strata::engine::containers::{
    create, foreground, inspect, rename, CreateEvent, CreateRequest, ErrorKind, NetworkRequest,
};
use strata::sandbox::Canceller;
use strata::store::Store;

fn request(name: &str, script: &str) -> CreateRequest {
    CreateRequest {
        image: "busybox".into(),
        name: Some(name.into()),
        // Two elements: what only the API can ask for (`--entrypoint` takes one word).
        entrypoint: Some(vec!["sh".into(), "-c".into()]),
        cmd: vec![script.into()],
        env: vec!["GREETING=hello".into()],
        labels: vec![("tier".into(), "web".into())],
        network: NetworkRequest {
            mode: Some("none".into()),
            ..Default::default()
        },
        stop_signal: Some("SIGINT".into()),
        stop_timeout: Some(3),
        ..Default::default()
    }
}

#[test]
fn a_container_made_run_and_removed_through_the_engine() {
    let s = Strata::new();
    s.import_busybox("busybox");
    let store = Store::open(&s.root).unwrap();
    let mut events = Vec::new();
    let made = create::create(
        &store,
        request("web", "echo $GREETING; echo oops >&2; exit 3"),
        |_| None,
        &mut |e| events.push(e),
    )
    .unwrap();
    assert!(
        events
            .iter()
            .all(|e| !matches!(e, CreateEvent::Pulling { .. })),
        "{events:?}"
    );
    let c = made.container;
    assert_eq!(
        c.config.argv,
        ["sh", "-c", "echo $GREETING; echo oops >&2; exit 3"]
    );
    assert_eq!(c.config.entrypoint_len, 2);
    assert_eq!(c.config.labels.get("tier").map(String::as_str), Some("web"));
    assert_eq!(c.config.stop_signal, "SIGINT");
    assert_eq!(c.config.stop_timeout, Some(3));
    assert!(c.config.env.iter().any(|e| e == "GREETING=hello"));

    // The CLI sees what the engine made.
    let ps = s.ok(&["ps", "-a", "--format", "{{.Names}} {{.Labels}}"]);
    assert_eq!(ps.trim(), "web tier=web", "{ps}");

    let rows = list(
        &s.root,
        &ListRequest {
            all: true,
            filters: vec!["label=tier=web".into()],
            ..Default::default()
        },
    )
    .unwrap();
    assert_eq!(rows.len(), 1);
    assert_eq!(rows[0].container.id, c.id);
    let running = list(&s.root, &ListRequest::default()).unwrap();
    assert!(running.is_empty());

    let v = inspect::inspect(&s.root, &store, "web", false).unwrap();
    assert_eq!(v["Name"], "/web");
    assert_eq!(v["Config"]["StopSignal"], "SIGINT");
    assert_eq!(v["Config"]["StopTimeout"], 3);
    assert_eq!(v["Config"]["Entrypoint"], serde_json::json!(["sh", "-c"]));

    rename::rename(&s.root, "web", "api").unwrap();
    let code =
        foreground::run_foreground(Store::open(&s.root).unwrap(), &c, None, &Canceller::new())
            .unwrap();
    assert_eq!(code, 3);

    let out = wait(&s.root, "api", WaitCondition::NotRunning).unwrap();
    assert_eq!(out.status_code, 3);
    let frames: Vec<_> = logs(
        &s.root,
        "api",
        &LogsRequest {
            stdout: true,
            stderr: true,
            ..Default::default()
        },
    )
    .unwrap()
    .collect();
    // stdout and stderr are copied by two threads: their relative order is not kept (as in
    // Docker), each stream's own order is.
    let of = |stream: Stream| -> Vec<&[u8]> {
        frames
            .iter()
            .filter(|f| f.stream == stream)
            .map(|f| f.bytes.as_slice())
            .collect()
    };
    assert_eq!(of(Stream::Stdout), [&b"hello\n"[..]]);
    assert_eq!(of(Stream::Stderr), [&b"oops\n"[..]]);
    assert_eq!(frames.len(), 2);
    // A follow of a container that does not run ends with what there is.
    let followed = logs(
        &s.root,
        "api",
        &LogsRequest {
            stdout: true,
            follow: true,
            ..Default::default()
        },
    )
    .unwrap()
    .count();
    assert_eq!(followed, 1);

    let gone = remove(&store, "api", RemoveRequest::default()).unwrap();
    assert_eq!(gone.state.status, Status::Exited);
    let again = remove(&store, "api", RemoveRequest::default()).unwrap_err();
    assert_eq!(again.kind(), ErrorKind::NotFound, "{again}");
    assert_eq!(again.to_string(), "No such container: api");
}

#[test]
fn refusals_are_typed() {
    let s = Strata::new();
    s.import_busybox("busybox");
    let store = Store::open(&s.root).unwrap();
    let make = |req: CreateRequest| create::create(&store, req, |_| None, &mut |_| {});
    make(request("one", "true")).unwrap();

    let taken = make(request("one", "true")).unwrap_err();
    assert_eq!(taken.kind(), ErrorKind::Conflict, "{taken}");

    let both = make(CreateRequest {
        auto_remove: true,
        restart: RestartPolicy::parse("always").unwrap(),
        ..request("two", "true")
    })
    .unwrap_err();
    assert_eq!(both.kind(), ErrorKind::InvalidRequest);
    assert_eq!(both.to_string(), "Conflicting options: --restart and --rm");

    let bad_signal = make(CreateRequest {
        stop_signal: Some("SIGNOPE".into()),
        ..request("three", "true")
    })
    .unwrap_err();
    assert_eq!(bad_signal.kind(), ErrorKind::InvalidRequest, "{bad_signal}");

    // Nothing was left by the refusals.
    let all = list(
        &s.root,
        &ListRequest {
            all: true,
            ..Default::default()
        },
    )
    .unwrap();
    let names: Vec<&str> = all.iter().map(|r| r.container.name.as_str()).collect();
    assert_eq!(names, ["one"]);

    let missing = wait(&s.root, "nope", WaitCondition::Removed).unwrap_err();
    assert_eq!(missing.kind(), ErrorKind::NotFound);
    assert!("sometime".parse::<WaitCondition>().is_err());
}
