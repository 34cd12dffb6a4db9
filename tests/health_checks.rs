//! Container healthchecks end to end: probes run in the container on their interval, their
//! results drive `State.Health` (status, failing streak, the last five results) with the
//! start period's rules, a probe past its timeout is killed and fails, the status shows in
//! `ps` and answers its `health` filter, `health_status` events are logged; an image's
//! HEALTHCHECK is inherited, overridden or disabled; a stop leaves the health unhealthy and a
//! start makes it starting again. Through the strata CLI, and through the Engine API with the
//! docker CLI and docker-py.

mod api_support;
mod common;
mod run_support;

use std::time::{Duration, Instant};

use api_support::{Project, Service};
use run_support::Env;
use serde_json::Value;

fn inspect(e: &Env, name: &str) -> Value {
    let out = e.s.ok(&["inspect", name]);
    let v: Value = serde_json::from_str(&out).unwrap_or_else(|err| panic!("{err}: {out}"));
    v[0].clone()
}

/// Polls `inspect` until `cond` holds of the container, for up to `secs`; its last answer.
fn wait_until(e: &Env, name: &str, secs: u64, what: &str, cond: impl Fn(&Value) -> bool) -> Value {
    let end = Instant::now() + Duration::from_secs(secs);
    loop {
        let v = inspect(e, name);
        if cond(&v) {
            return v;
        }
        if Instant::now() >= end {
            panic!(
                "{name}: timed out waiting for {what}; State:\n{:#}\n{}",
                v["State"],
                e.s.listing()
            );
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

fn wait_health(e: &Env, name: &str, status: &str) -> Value {
    wait_until(e, name, 30, status, |v| {
        v["State"]["Health"]["Status"] == status
    })
}

/// `run -d --name NAME --network none FLAGS… IMAGE sleep 300`.
fn run_detached(e: &Env, name: &str, flags: &[&str], image: &str) {
    let mut args = vec!["run", "-d", "--name", name, "--network", "none"];
    args.extend_from_slice(flags);
    args.extend_from_slice(&[image, "sleep", "300"]);
    e.s.ok(&args);
}

/// The STATUS column of `ps -a` for container `name`.
fn ps_status(e: &Env, name: &str) -> String {
    let out = e.s.ok(&["ps", "-a", "--format", "{{.Names}}\t{{.Status}}"]);
    out.lines()
        .find_map(|l| l.strip_prefix(&format!("{name}\t")).map(String::from))
        .unwrap_or_else(|| panic!("{name} not in ps:\n{out}"))
}

fn ps_names(e: &Env, filter: &str) -> Vec<String> {
    let out =
        e.s.ok(&["ps", "-a", "--filter", filter, "--format", "{{.Names}}"]);
    out.lines().map(String::from).collect()
}

/// The newest probe result of an `inspect` answer.
fn last_result(v: &Value) -> Value {
    let log = v["State"]["Health"]["Log"].as_array();
    log.and_then(|l| l.last())
        .cloned()
        .unwrap_or_else(|| panic!("no Log: {:#}", v["State"]))
}

fn log_codes(v: &Value) -> Vec<i64> {
    v["State"]["Health"]["Log"]
        .as_array()
        .map(|l| l.iter().map(|r| r["ExitCode"].as_i64().unwrap()).collect())
        .unwrap_or_default()
}

/// An image `hc` whose HEALTHCHECK runs through the image's SHELL (`sh -x`, so its trace
/// shows in the probe's output).
fn build_hc_image(e: &Env) {
    let ctx = e.s.scratch("hc-ctx");
    std::fs::write(
        ctx.join("Dockerfile"),
        "FROM busybox\nSHELL [\"/bin/sh\", \"-xc\"]\n\
         HEALTHCHECK --interval=200ms --retries=1 CMD echo probe-out\n",
    )
    .unwrap();
    e.s.ok(&["build", "-q", "-t", "hc", ctx.to_str().unwrap()]);
}

#[test]
fn probes_drive_health_status_ps_filters_and_events() {
    let e = Env::new();
    let since = api_support::unix_now().to_string();
    // Failing probes within the start period leave it starting; a success makes it healthy.
    run_detached(
        &e,
        "web",
        &[
            "--health-cmd",
            "cat /tmp/ok",
            "--health-interval",
            "200ms",
            "--health-start-period",
            "60s",
            "--health-start-interval",
            "100ms",
            "--health-retries",
            "2",
        ],
        "busybox",
    );
    let v = wait_until(&e, "web", 30, "three failed probes", |v| {
        log_codes(v).len() >= 3
    });
    let h = &v["State"]["Health"];
    assert_eq!(h["Status"], "starting", "{h:#}");
    assert_eq!(
        h["FailingStreak"], 0,
        "failures in the start period do not count: {h:#}"
    );
    assert!(log_codes(&v).iter().all(|c| *c == 1), "{h:#}");
    assert_eq!(
        v["Config"]["Healthcheck"],
        serde_json::json!({"Test": ["CMD-SHELL", "cat /tmp/ok"], "Interval": 200_000_000u64,
            "StartPeriod": 60_000_000_000u64, "StartInterval": 100_000_000u64, "Retries": 2})
    );
    assert!(ps_status(&e, "web").ends_with(" (health: starting)"));
    assert_eq!(ps_names(&e, "health=starting"), ["web"]);

    e.s.ok(&["exec", "web", "sh", "-c", "echo fine > /tmp/ok"]);
    let v = wait_health(&e, "web", "healthy");
    let h = &v["State"]["Health"];
    let last = last_result(&v);
    assert_eq!(
        (&last["ExitCode"], &last["Output"]),
        (&0.into(), &"fine\n".into())
    );
    assert!(last["Start"].as_str().unwrap() <= last["End"].as_str().unwrap());
    assert!(h["Log"].as_array().unwrap().len() <= 5, "{h:#}");
    assert!(ps_status(&e, "web").ends_with(" (healthy)"));
    assert_eq!(ps_names(&e, "health=healthy"), ["web"]);
    assert!(ps_names(&e, "health=unhealthy").is_empty());
    let fmt =
        e.s.ok(&["inspect", "--format", "{{.State.Health.Status}}", "web"]);
    assert_eq!(fmt.trim(), "healthy");

    // A success ended the start period: two failures in a row now make it unhealthy.
    e.s.ok(&["exec", "web", "rm", "/tmp/ok"]);
    let v = wait_health(&e, "web", "unhealthy");
    let h = &v["State"]["Health"];
    assert!(h["FailingStreak"].as_i64().unwrap() >= 2, "{h:#}");
    assert_eq!(log_codes(&v).last(), Some(&1));
    assert!(ps_status(&e, "web").ends_with(" (unhealthy)"));
    assert_eq!(ps_names(&e, "health=unhealthy"), ["web"]);
    wait_until(&e, "web", 30, "a full log", |v| log_codes(v).len() == 5);
    std::thread::sleep(Duration::from_millis(500));
    assert_eq!(
        log_codes(&inspect(&e, "web")).len(),
        5,
        "only the last five stay"
    );

    let until = (api_support::unix_now() + 1).to_string();
    let events = e.s.ok(&[
        "events",
        "--since",
        &since,
        "--until",
        &until,
        "--filter",
        "event=health_status",
        "--format",
        "{{.Action}} {{.Actor.Attributes.name}}",
    ]);
    assert_eq!(
        events.lines().collect::<Vec<_>>(),
        ["health_status: healthy web", "health_status: unhealthy web"],
        "{events}"
    );

    // Stopped, the health stays, unhealthy; started again it is starting with a clean streak
    // and the old log.
    e.s.ok(&["stop", "-t", "1", "web"]);
    let v = inspect(&e, "web");
    assert_eq!(v["State"]["Health"]["Status"], "unhealthy");
    assert_eq!(log_codes(&v).len(), 5);
    assert!(ps_status(&e, "web").starts_with("Exited"));
    assert_eq!(ps_names(&e, "health=unhealthy"), ["web"]);
    e.s.ok(&["start", "web"]);
    let v = inspect(&e, "web");
    assert_eq!(
        v["State"]["Health"]["Status"], "starting",
        "{:#}",
        v["State"]
    );
    assert_eq!(v["State"]["Health"]["FailingStreak"], 0);
    assert_eq!(log_codes(&v).len(), 5);
}

#[test]
fn image_healthcheck_is_inherited_overridden_and_disabled() {
    let e = Env::new();
    build_hc_image(&e);
    run_detached(&e, "inherit", &[], "hc");
    run_detached(&e, "off", &["--no-healthcheck"], "hc");
    run_detached(&e, "over", &["--health-cmd", "echo over; exit 3"], "hc");

    let v = wait_health(&e, "inherit", "healthy");
    assert_eq!(
        v["Config"]["Healthcheck"],
        serde_json::json!({"Test": ["CMD-SHELL", "echo probe-out"], "Interval": 200_000_000u64,
            "Retries": 1})
    );
    assert_eq!(v["Config"]["Shell"], serde_json::json!(["/bin/sh", "-xc"]));
    // The probe runs through the image's SHELL; stderr and stdout are both kept.
    let last = last_result(&v);
    assert_eq!(last["Output"], "+ echo probe-out\nprobe-out\n");

    // Only the command is replaced: the interval and retries still come from the image.
    let v = wait_health(&e, "over", "unhealthy");
    assert_eq!(
        v["Config"]["Healthcheck"],
        serde_json::json!({"Test": ["CMD-SHELL", "echo over; exit 3"], "Interval": 200_000_000u64,
            "Retries": 1})
    );
    let last = last_result(&v);
    assert_eq!(
        (&last["ExitCode"], &last["Output"]),
        (&3.into(), &"+ echo over\nover\n+ exit 3\n".into())
    );

    // Disabled: never probed, no Health at all, nothing after Up in ps.
    std::thread::sleep(Duration::from_millis(600));
    let v = inspect(&e, "off");
    // Docker's merge fills the zero fields from the image whatever the Test.
    assert_eq!(
        v["Config"]["Healthcheck"],
        serde_json::json!({"Test": ["NONE"], "Interval": 200_000_000u64, "Retries": 1})
    );
    assert!(v["State"].get("Health").is_none(), "{:#}", v["State"]);
    let status = ps_status(&e, "off");
    assert!(
        status.starts_with("Up ") && !status.contains('('),
        "{status}"
    );
    assert_eq!(ps_names(&e, "health=none"), ["off"]);
}

#[test]
fn a_probe_past_its_timeout_is_killed_and_fails() {
    let e = Env::new();
    run_detached(
        &e,
        "slow",
        &[
            "--health-cmd",
            "echo partial; sleep 30",
            "--health-timeout",
            "300ms",
            "--health-interval",
            "100ms",
            "--health-retries",
            "2",
        ],
        "busybox",
    );
    let v = wait_health(&e, "slow", "unhealthy");
    for r in v["State"]["Health"]["Log"].as_array().unwrap() {
        assert_eq!(r["ExitCode"], -1, "{r:#}");
        assert_eq!(
            r["Output"],
            "Health check exceeded timeout (300ms): partial\n"
        );
    }
    // Each timed-out probe was killed, its `sleep` with it: besides the one in flight (and
    // one killed a moment ago, not yet reaped) none is left. Unkilled, a new one would pile
    // up every 400 ms.
    std::thread::sleep(Duration::from_secs(2));
    let ps = e.s.ok(&["exec", "slow", "ps", "-o", "args"]);
    let sleeping = ps.lines().filter(|l| l.contains("sleep 30")).count();
    assert!(sleeping <= 2, "probes pile up:\n{ps}");
}

#[test]
fn bad_health_settings_are_refused_in_dockers_words() {
    let e = Env::new();
    let cases: &[(&[&str], &str)] = &[
        (
            &["--health-interval", "500us", "--health-cmd", "true"],
            "Interval in Healthcheck cannot be less than 1ms",
        ),
        (
            &["--health-timeout", "-1s"],
            "--health-timeout cannot be negative",
        ),
        (
            &["--no-healthcheck", "--health-cmd", "true"],
            "--no-healthcheck conflicts with --health-* options",
        ),
        (
            &["--health-retries", "many"],
            "invalid argument \"many\" for \"--health-retries\" flag",
        ),
    ];
    for (flags, want) in cases {
        let mut args = vec!["create"];
        args.extend_from_slice(flags);
        args.push("busybox");
        let (_, err) = e.code(&args, 125);
        assert!(err.contains(want), "{flags:?}: {err}");
    }
    assert!(
        e.container_dirs().is_empty(),
        "a refused create leaves nothing"
    );
    let (_, err) = e.code(&["ps", "--filter", "health=fine"], 1);
    assert!(
        err.contains("Unrecognised filter value for health: fine"),
        "{err}"
    );
}

#[test]
fn the_api_runs_healthchecks_for_docker_py_and_the_docker_cli() {
    let e = Env::new();
    build_hc_image(&e);
    let svc = Service::start(&e.s, &[]);
    let out = svc.python_ok(
        r#"
import time, docker
api = docker.from_env().api
MS = 1000000

def health(c):
    return api.inspect_container(c)['State'].get('Health')

def wait(c, status, seen=None):
    end = time.time() + 30
    while time.time() < end:
        h = health(c)
        if seen is not None and h:
            seen.add(h['Status'])
        if h and h['Status'] == status:
            return h
        time.sleep(0.05)
    raise AssertionError('%s never %s: %r' % (c, status, health(c)))

def make(name, hc, image='busybox'):
    c = api.create_container(image, 'sleep 300', name=name, healthcheck=hc,
                             host_config=api.create_host_config(network_mode='none'))
    return c['Id']

# A string test is a CMD-SHELL one.
shell = make('shell', dict(test='echo "hello world"'))
assert api.inspect_container(shell)['Config']['Healthcheck']['Test'] == \
    ['CMD-SHELL', 'echo "hello world"'], api.inspect_container(shell)['Config']
assert health(shell) is None, 'no Health before the first start'

ok = make('ok', dict(test=['CMD', 'true'], interval=200 * MS, timeout=1000 * MS, retries=1))
bad = make('bad', dict(test='false', interval=200 * MS, timeout=1000 * MS, retries=1))
# Fails twice within its start period, then passes: never unhealthy.
counter = make('counter', dict(
    test='echo x >> /counter; test $(wc -l < /counter) -ge 3',
    interval=200 * MS, timeout=1000 * MS, retries=1, start_period=20000 * MS,
    start_interval=100 * MS))
inherit = make('inherit', None, image='hc')
off = make('off', dict(test=['NONE']), image='hc')
for c in (ok, bad, counter, inherit, off):
    api.start(c)

wait(ok, 'healthy')
h = wait(bad, 'unhealthy')
assert h['FailingStreak'] >= 1 and h['Log'][-1]['ExitCode'] == 1, h
seen = set()
h = wait(counter, 'healthy', seen)
assert 'unhealthy' not in seen, seen
assert [r['ExitCode'] for r in h['Log']][:3] == [1, 1, 0], h
assert h['FailingStreak'] == 0, h
wait(inherit, 'healthy')
assert api.inspect_container(inherit)['Config']['Healthcheck']['Test'] == \
    ['CMD-SHELL', 'echo probe-out']
time.sleep(0.5)
assert health(off) is None, health(off)

def names(**filters):
    return sorted(c['Names'][0] for c in api.containers(filters=filters))
assert names(health='healthy') == ['/counter', '/inherit', '/ok'], names(health='healthy')
assert names(health='unhealthy') == ['/bad'], names(health='unhealthy')
assert names(health='none') == ['/off'], names(health='none')
status = api.containers(filters={'name': 'ok'})[0]['Status']
assert status.startswith('Up ') and status.endswith(' (healthy)'), status

# Paused, nothing vouches for it (Docker stops its probes); unpaused, a probe makes it
# healthy again.
api.pause(ok)
assert health(ok)['Status'] == 'unhealthy', health(ok)
assert api.containers(filters={'name': 'ok'})[0]['Status'].endswith(' (Paused)')
time.sleep(0.5)
assert health(ok)['Status'] == 'unhealthy', 'no probe while paused: %r' % health(ok)
api.unpause(ok)
wait(ok, 'healthy')
print('ok')
"#,
    );
    assert_eq!(out.trim(), "ok");

    // The docker CLI's flags reach the API's create body.
    svc.docker_ok(&[
        "run",
        "-d",
        "--name",
        "cli",
        "--network",
        "none",
        "--health-cmd",
        "exit 0",
        "--health-interval",
        "200ms",
        "busybox",
        "sleep",
        "300",
    ]);
    let end = Instant::now() + Duration::from_secs(30);
    loop {
        let status = svc.docker_ok(&["inspect", "--format", "{{.State.Health.Status}}", "cli"]);
        if status.trim() == "healthy" {
            break;
        }
        assert!(Instant::now() < end, "cli never healthy: {status}");
        std::thread::sleep(Duration::from_millis(50));
    }
    let ps = svc.docker_ok(&[
        "ps",
        "--filter",
        "health=unhealthy",
        "--format",
        "{{.Names}}",
    ]);
    assert_eq!(ps.trim(), "bad");
    let ps = svc.docker_ok(&["ps", "--filter", "name=cli", "--format", "{{.Status}}"]);
    assert!(ps.trim().ends_with("(healthy)"), "{ps}");
    let err = svc.docker_fails(&[
        "create",
        "--health-cmd",
        "true",
        "--health-start-period",
        "10us",
        "busybox",
    ]);
    assert!(
        err.contains("StartPeriod in Healthcheck cannot be less than 1ms"),
        "{err}"
    );
}

/// Compose waits for `condition: service_healthy` before it starts the dependent service.
const COMPOSE_FILE: &str = r#"version: "2.4"
services:
  db:
    image: busybox
    network_mode: none
    command: ["sh", "-c", "sleep 1; touch /tmp/ready; exec sleep 300"]
    healthcheck:
      test: ["CMD-SHELL", "test -e /tmp/ready"]
      interval: 200ms
      retries: 30
  app:
    image: busybox
    network_mode: none
    command: ["sleep", "300"]
    depends_on:
      db:
        condition: service_healthy
"#;

#[test]
fn compose_starts_a_dependent_once_its_dependency_is_healthy() {
    let e = Env::new();
    let svc = Service::start(&e.s, &[]);
    let dir = e.s.scratch("project");
    std::fs::write(dir.join("docker-compose.yml"), COMPOSE_FILE).unwrap();
    let p = Project {
        svc: &svc,
        dir,
        name: format!("hc{}", std::process::id()),
    };
    p.ok(&["up", "-d"]);
    let db = inspect(&e, &format!("{}_db_1", p.name));
    let app = inspect(&e, &format!("{}_app_1", p.name));
    // `up` returned only once db was healthy (its probe cannot pass in its first second),
    // and app started after db's first passing probe.
    assert_eq!(
        db["State"]["Health"]["Status"], "healthy",
        "{:#}",
        db["State"]
    );
    let passed = db["State"]["Health"]["Log"]
        .as_array()
        .unwrap()
        .iter()
        .find(|r| r["ExitCode"] == 0)
        .map(|r| r["End"].as_str().unwrap().to_string())
        .unwrap();
    let app_started = app["State"]["StartedAt"].as_str().unwrap();
    assert!(
        app_started > passed.as_str(),
        "app {app_started} before db passed {passed}"
    );
    assert_eq!(app["State"]["Status"], "running");
    p.ok(&["down", "-t", "0"]);
}

#[test]
fn a_foreground_run_probes_too() {
    let e = Env::new();
    let mut child =
        e.s.command(&[
            "run",
            "--name",
            "fg",
            "--network",
            "none",
            "--health-cmd",
            "true",
            "--health-interval",
            "100ms",
            "busybox",
            "sleep",
            "300",
        ])
        .spawn()
        .expect("spawn strata run");
    e.eventually(30, "fg created", || e.state_of("fg").is_some());
    let v = wait_until(&e, "fg", 30, "healthy", |v| {
        v["State"]["Health"]["Status"] == "healthy"
    });
    assert_eq!(last_result(&v)["ExitCode"], 0);
    e.s.ok(&["stop", "-t", "1", "fg"]);
    let status = child.wait().unwrap();
    assert_eq!(status.code(), Some(143), "SIGTERM ends sleep");
    assert_eq!(inspect(&e, "fg")["State"]["Health"]["Status"], "unhealthy");
}
